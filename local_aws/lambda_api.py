"""The Lambda control plane of one execution environment: the state behind the Runtime API
and the Extensions API.

It is kept apart from HTTP (``lambda_api_http``) and from processes (``emulator``) so that
every rule the service enforces lives in one place, under one lock: handler threads block
here on their long polls, and the emulator waits here for each phase to end. Behaviour
follows the AWS documentation; where the documentation is silent (error types, which misuse
gets which status), AWS's own runtime interface emulator is the reference.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .lambda_api_model import (
    INVOKE,
    RUNTIME,
    SHUTDOWN,
    ApiError,
    DeliveredEvent,
    ExtensionInfo,
    Failure,
    Invocation,
    Outcome,
    ReportedError,
    decode_body,
    forbidden,
)

# Lambda's limit on a synchronous response; a bigger one gets 413 and the caller an error.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024

# Phases of the environment, in order.
INIT, IDLE, INVOKING, SHUTTING_DOWN, CLOSED = "init", "idle", "invoke", "shutdown", "closed"


@dataclass
class _Extension:
    name: str
    identifier: str
    events: frozenset[str]
    external: bool
    registered_at: float
    first_next_at: float | None = None
    waiting: bool = False  # blocked in event/next
    pending: dict[str, Any] | None = None  # event it has not picked up yet
    error: ReportedError | None = None

    def idle(self) -> bool:
        """Done with the current phase: back in event/next with nothing left to pick up."""
        return self.waiting and self.pending is None

    def info(self) -> ExtensionInfo:
        return ExtensionInfo(
            self.name,
            self.identifier,
            tuple(sorted(self.events)),
            self.external,
            self.registered_at,
            self.first_next_at,
            self.error,
        )


@dataclass
class _Runtime:
    ready_at: float | None = None  # first invocation/next
    waiting: bool = False
    pending: Invocation | None = None  # not picked up yet
    current: Invocation | None = None  # picked up, not answered yet
    outcome: Outcome | None = None  # the answer to the latest invocation
    init_error: ReportedError | None = None


class LambdaApi:
    """The shared state behind one lock (a condition variable), so that handler threads and
    the emulator interleave safely. The predicates (``all_external_registered``,
    ``init_complete``, ``invocation_complete``) are meant for ``wait_until``, which evaluates
    them under that lock."""

    def __init__(
        self,
        function_name: str,
        function_version: str,
        handler: str,
        account_id: str,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.handler = handler
        self.account_id = account_id
        self._cond = threading.Condition()
        self._phase = INIT
        self._external_names: frozenset[str] = frozenset()
        self._extensions: dict[str, _Extension] = {}  # by identifier
        self._runtime = _Runtime()
        self._failure: Failure | None = None
        self._delivered: list[DeliveredEvent] = []

    # ----- what the emulator drives and observes -------------------------------------------

    def expect_external(self, names: frozenset[str]) -> None:
        """Names of the executables launched from ``extensions/``: only they may subscribe
        to SHUTDOWN, and init waits until each has registered."""
        with self._cond:
            self._external_names = names

    def wait_until(self, condition: Callable[[], bool], deadline: float) -> bool:
        """Block until ``condition()`` holds (True) or a failure, a shutdown or ``deadline``
        (monotonic) comes first (False)."""
        with self._cond:
            while not condition():
                remaining = deadline - time.monotonic()
                if self._failure or self._phase in (SHUTTING_DOWN, CLOSED) or remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def all_external_registered(self) -> bool:
        registered = {e.name for e in self._extensions.values() if e.external}
        return self._external_names <= registered

    def init_complete(self) -> bool:
        """Init ends when the runtime and every registered extension have called next."""
        extensions_ready = all(e.idle() for e in self._extensions.values())
        return self._runtime.ready_at is not None and extensions_ready

    def missing_for_init(self) -> list[str]:
        """Who init is still waiting for, to make a timeout message useful."""
        with self._cond:
            registered = {e.name for e in self._extensions.values()}
            missing = [f"{n} (register)" for n in sorted(self._external_names - registered)]
            missing += [f"{e.name} (event/next)" for e in self._extensions.values() if not e.idle()]
            if self._runtime.ready_at is None:
                missing.append(f"{RUNTIME} (invocation/next)")
            return missing

    def mark_idle(self) -> None:
        with self._cond:
            self._phase = IDLE

    def start_invocation(self, invocation: Invocation) -> None:
        """Hand the invocation to the runtime and INVOKE to every subscribed extension."""
        with self._cond:
            self._phase = INVOKING
            self._runtime.pending = invocation
            self._runtime.outcome = None
            for ext in self._extensions.values():
                if INVOKE in ext.events:
                    ext.pending = invocation.extension_event()
            self._cond.notify_all()

    def invocation_complete(self) -> bool:
        """The invoke phase ends when the runtime has answered and it and every extension
        are back in next (as in Lambda, calling next is how each signals it is done)."""
        rt = self._runtime
        extensions_done = all(e.idle() for e in self._extensions.values())
        return rt.outcome is not None and rt.waiting and extensions_done

    def finish_invocation(self) -> Outcome | None:
        with self._cond:
            if self._phase == INVOKING:
                self._phase = IDLE
            return self._runtime.outcome

    def note_runtime_exit(self, returncode: int) -> None:
        """Outside shutdown a runtime that ends fails the current (or the next) phase."""
        with self._cond:
            self._fail(Failure(RUNTIME, "Runtime.ExitError", f"runtime exited with {returncode}"))

    def note_extension_exit(self, name: str, returncode: int) -> None:
        """Outside shutdown an extension that ends fails the current (or the next) phase."""
        with self._cond:
            message = f"extension {name} exited with {returncode}"
            self._fail(Failure(name, "Extension.Crash", message))

    def begin_shutdown(self) -> None:
        """From now on exits are expected and not failures; blocked waiters wake up."""
        with self._cond:
            self._phase = SHUTTING_DOWN
            self._cond.notify_all()

    def send_shutdown(self, reason: str, deadline_ms: int) -> list[str]:
        """Queue SHUTDOWN for each external extension that subscribed and is still healthy."""
        event = {"eventType": SHUTDOWN, "shutdownReason": reason, "deadlineMs": deadline_ms}
        with self._cond:
            targets = [
                e for e in self._extensions.values() if SHUTDOWN in e.events and e.error is None
            ]
            for ext in targets:
                ext.pending = dict(event)
            self._cond.notify_all()
            return [e.name for e in targets]

    def close(self) -> None:
        """Release every blocked long poll (they answer 500: the container is going away)."""
        with self._cond:
            self._phase = CLOSED
            self._cond.notify_all()

    @property
    def failure(self) -> Failure | None:
        with self._cond:
            return self._failure

    @property
    def runtime_ready_at(self) -> float | None:
        with self._cond:
            return self._runtime.ready_at

    def extensions(self) -> list[ExtensionInfo]:
        with self._cond:
            return [e.info() for e in self._extensions.values()]

    def delivered(self) -> list[DeliveredEvent]:
        with self._cond:
            return list(self._delivered)

    # ----- Extensions API ------------------------------------------------------------------

    def register(self, name: str, accept_feature: str, body: bytes) -> tuple[dict[str, str], Any]:
        if not name:
            raise forbidden("Extension.InvalidExtensionName", "Empty extension name")
        events = _parse_events(body)
        with self._cond:
            external = name in self._external_names
            # Internal extensions live in the runtime process, which stops them itself.
            allowed = {INVOKE, SHUTDOWN} if external else {INVOKE}
            for event in events:
                if event not in allowed:
                    kind = "external" if external else "internal"
                    message = f"{event}: not a valid event for an {kind} extension"
                    raise forbidden("Extension.InvalidEventType", message)
            if any(e.name == name for e in self._extensions.values()):
                raise forbidden("Extension.InvalidExtensionState", f"{name} is already registered")
            if not external and self._runtime.ready_at is not None:
                # Registration closes when the runtime first asks for an invocation.
                message = "Extension registration closed already"
                raise forbidden("Extension.RegistrationClosed", message)
            identifier = str(uuid.uuid4())
            ext = _Extension(name, identifier, frozenset(events), external, time.monotonic())
            self._extensions[identifier] = ext
            self._cond.notify_all()
        response: dict[str, Any] = {
            "functionName": self.function_name,
            "functionVersion": self.function_version,
            "handler": self.handler,
        }
        if "accountId" in accept_feature:
            response["accountId"] = self.account_id
        return {"Lambda-Extension-Identifier": identifier}, response

    def extension_next(self, identifier: str | None) -> tuple[dict[str, str], Any]:
        with self._cond:
            ext = self._lookup(identifier)
            if ext.error is not None:
                message = f"{ext.name} reported {ext.error.kind}/error; no further calls succeed"
                raise forbidden("Extension.InvalidExtensionState", message)
            if ext.waiting:
                message = f"{ext.name} is already in event/next"
                raise forbidden("Extension.InvalidExtensionState", message)
            ext.waiting = True
            if ext.first_next_at is None:
                ext.first_next_at = time.monotonic()
            self._cond.notify_all()
            while ext.pending is None and self._phase != CLOSED:
                self._cond.wait()
            if ext.pending is None:
                raise ApiError(500, "InternalServerError", "Execution environment is gone")
            event, ext.pending, ext.waiting = ext.pending, None, False
            headers = {
                "Lambda-Extension-Event-Identifier": str(uuid.uuid4()),
                "Lambda-Extension-Identifier": ext.identifier,
            }
            self._delivered.append(DeliveredEvent(ext.name, headers, event, time.monotonic()))
            self._cond.notify_all()
            return headers, event

    def extension_error(
        self, kind: str, identifier: str | None, error_type: str, body: bytes
    ) -> dict[str, str]:
        with self._cond:
            ext = self._lookup(identifier)
            if not error_type:
                message = "Lambda-Extension-Function-Error-Type not found"
                raise forbidden("Extension.MissingHeader", message)
            if ext.error is not None:
                message = f"{ext.name} already reported an error"
                raise forbidden("Extension.InvalidExtensionState", message)
            if kind == "init" and self._phase != INIT:
                message = "init/error is accepted during init only"
                raise forbidden("Extension.InvalidExtensionState", message)
            ext.error = ReportedError(kind, error_type, decode_body(body), time.monotonic())
            self._fail(Failure(ext.name, error_type, ext.error.message, ext.error.body))
            return {"Lambda-Extension-Identifier": ext.identifier}

    # ----- Runtime API ---------------------------------------------------------------------

    def runtime_next(self) -> tuple[dict[str, str], bytes]:
        with self._cond:
            rt = self._runtime
            if rt.init_error is not None:
                raise forbidden("InvalidStateTransition", "the runtime reported init/error")
            if rt.waiting or rt.current is not None:
                message = "the current invocation has no answer yet"
                raise forbidden("InvalidStateTransition", message)
            rt.waiting = True
            if rt.ready_at is None:
                rt.ready_at = time.monotonic()
            self._cond.notify_all()
            while rt.pending is None and self._phase != CLOSED:
                self._cond.wait()
            if rt.pending is None:
                raise ApiError(500, "InternalServerError", "Execution environment is gone")
            invocation, rt.pending, rt.waiting = rt.pending, None, False
            rt.current = invocation
            headers = invocation.runtime_headers()
            body = decode_body(invocation.payload)
            self._delivered.append(DeliveredEvent(RUNTIME, headers, body, time.monotonic()))
            return headers, invocation.payload

    def runtime_result(self, request_id: str, kind: str, error_type: str, body: bytes) -> None:
        """Record the answer (``kind`` "success" or "error") to the current invocation."""
        with self._cond:
            rt = self._runtime
            if rt.current is None or rt.current.request_id != request_id:
                raise ApiError(400, "InvalidRequestID", "Invalid request ID")
            rt.current = None
            if kind == "success" and len(body) > MAX_RESPONSE_BYTES:
                message = (
                    f"Response payload size ({len(body)} bytes) exceeded maximum allowed "
                    f"payload size ({MAX_RESPONSE_BYTES} bytes)."
                )
                error = {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}
                payload = json.dumps(error).encode()
                rt.outcome = Outcome("error", payload, error["errorType"], time.monotonic())
                self._cond.notify_all()
                raise ApiError(413, "RequestEntityTooLarge", message)
            rt.outcome = Outcome(kind, body, error_type or None, time.monotonic())
            self._cond.notify_all()

    def runtime_init_error(self, error_type: str, body: bytes) -> None:
        with self._cond:
            rt = self._runtime
            if rt.ready_at is not None or rt.init_error is not None:
                message = "init/error is accepted during init only"
                raise forbidden("InvalidStateTransition", message)
            rt.init_error = ReportedError("init", error_type, decode_body(body), time.monotonic())
            self._fail(Failure(RUNTIME, error_type, rt.init_error.message, rt.init_error.body))

    # ----- helpers (called with the lock held) ---------------------------------------------

    def _lookup(self, identifier: str | None) -> _Extension:
        if not identifier:
            message = "Missing Lambda-Extension-Identifier header"
            raise forbidden("Extension.MissingExtensionIdentifier", message)
        try:
            key = str(uuid.UUID(identifier))
        except ValueError:
            message = "Invalid Lambda-Extension-Identifier"
            raise forbidden("Extension.InvalidExtensionIdentifier", message) from None
        ext = self._extensions.get(key)
        if ext is None:
            message = f"Unknown extension {identifier}"
            raise forbidden("Extension.UnknownExtensionIdentifier", message)
        return ext

    def _fail(self, failure: Failure) -> None:
        # The first failure is the cause; later ones are its consequences. During shutdown
        # processes are meant to stop, so nothing fails any more.
        if self._failure is None and self._phase in (INIT, IDLE, INVOKING):
            self._failure = failure
        self._cond.notify_all()


def _parse_events(body: bytes) -> list[str]:
    try:
        request: Mapping[str, Any] = json.loads(body or b"null")
        events = request.get("events", [])
    except (ValueError, AttributeError):
        raise forbidden("InvalidRequestFormat", "the body must be a JSON object") from None
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise forbidden("InvalidRequestFormat", "events must be a list of strings")
    return events
