"""The function's side of the circuit-breaker extension (standard library only).

The layer puts this module in ``python/``, which Lambda adds to the function's ``sys.path``
(``/opt/python``), so a function just does::

    from circuit_breaker_client import CircuitBreakerClient, CircuitOpenError

    breaker = CircuitBreakerClient()  # once, at module level: keeps one loopback connection

    try:
        with breaker.guard("payments") as call:  # checks; CircuitOpenError if not allowed
            response = call_payments()
            call.status = response.status  # optional: 5xx count as failures, 4xx do not
    except CircuitOpenError:
        answer = fallback()

    @breaker.protect("payments", fallback=lambda order: {"queued": order})
    def pay(order): ...

The guard times the block and reports its outcome when it ends: an exception counts as a
failure (and goes on up) unless it carries an HTTP status that is not a failure; a clean exit
counts as a success unless ``call.status`` is a failure status or ``call.fail(reason)`` was
called. What counts (``failure_exceptions``, ``failure_statuses``) is set per client or per
guard. ``check``, ``report_success`` and ``report_failure`` are the low-level calls underneath.

In HALF_OPEN, an allowed ``check`` holds one of the few fleet-wide trial calls: report its
outcome (the guard always does), or the trial stays taken until its lease expires.

Nothing here raises on the extension's account: when the extension cannot be reached or
answers something unusable, ``check`` answers from ``CIRCUIT_BREAKER_UNKNOWN_STATE`` (CLOSED
unless set to OPEN) with ``reachable=False``, and the reports return False. The only
exceptions the guard raises are ``CircuitOpenError`` and the block's own.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import wraps
from types import TracebackType
from typing import Any, Callable, Iterable, Optional, TypeVar, Union
from urllib.parse import quote

DEFAULT_PORT = 4243
# Longer than the slowest DynamoDB work the extension does for one lookup (a reload plus a
# half-open trial write, 0.75 s each at most): when the table hangs the extension still answers,
# with the last known state flagged stale, instead of the client guessing the unknown default.
DEFAULT_TIMEOUT_S = 2.0
TOKEN_HEADER = "X-Circuit-Breaker-Token"
STATES = frozenset({"CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "FORCED_CLOSED"})
ALLOWING_STATES = frozenset({"CLOSED", "FORCED_CLOSED"})
# What counts as a failure unless the client or the guard says otherwise: any exception (a
# timeout, a refused connection, ...) except one carrying an HTTP status outside these; and a
# clean exit with an HTTP status inside them. So 5xx are failures and 4xx are not.
DEFAULT_FAILURE_EXCEPTIONS: tuple[type[BaseException], ...] = (Exception,)
DEFAULT_FAILURE_STATUSES: tuple[range, ...] = (range(500, 600),)

Statuses = Iterable[Union[int, range]]
F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger("circuit_breaker_client")


@dataclass(frozen=True)
class CircuitStatus:
    id: str
    state: str  # CLOSED, OPEN, HALF_OPEN, FORCED_OPEN or FORCED_CLOSED
    allowed: bool  # whether the call may go out now
    stale: bool  # the extension could not confirm the state recently
    age_ms: Optional[int]  # since the extension last read the state; None if it never could
    reachable: bool  # False: the extension gave no usable answer, the rest is the unknown-state default


class CircuitOpenError(Exception):
    """The circuit does not allow the call now (OPEN, FORCED_OPEN, or HALF_OPEN with no trial free)."""

    def __init__(self, circuit: CircuitStatus) -> None:
        super().__init__(f"circuit {circuit.id!r} is {circuit.state}: call not allowed")
        self.circuit_id = circuit.id
        self.circuit = circuit


class Call:
    """One guarded call, as the ``with`` block sees it and as it ended.

    Set ``status`` to the HTTP status the service answered, or call ``fail(reason)``, to judge a
    block that ends without an exception. After the block: ``failed``, ``error``,
    ``latency_ms`` and ``reported`` (whether the extension took the report).
    """

    def __init__(self, circuit: CircuitStatus) -> None:
        self.circuit = circuit
        self.status: Optional[int] = None
        self.failed = False
        self.error: Optional[str] = None
        self.latency_ms: Optional[float] = None
        self.reported = False
        self._forced: Optional[str] = None

    def fail(self, reason: str) -> None:
        """Count this call as a failure however the block ends (a timeout the block caught, say)."""
        self._forced = str(reason)


class _Guard:
    """The context manager ``CircuitBreakerClient.guard`` returns."""

    def __init__(self, client: CircuitBreakerClient, circuit_id: str, exceptions: tuple[type[BaseException], ...], statuses: tuple[range, ...]) -> None:
        self._client = client
        self._circuit_id = circuit_id
        self._exceptions = exceptions
        self._statuses = statuses
        self._call: Optional[Call] = None
        self._started = 0.0

    def __enter__(self) -> Call:
        circuit = self._client.check(self._circuit_id)
        if not circuit.allowed:
            raise CircuitOpenError(circuit)
        self._call = Call(circuit)
        self._started = time.monotonic()
        return self._call

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]) -> bool:
        call = self._call
        assert call is not None
        call.latency_ms = (time.monotonic() - self._started) * 1000
        call.error = _judge(call, error, self._exceptions, self._statuses)
        call.failed = call.error is not None
        if call.failed:
            call.reported = self._client.report_failure(self._circuit_id, call.latency_ms, call.error)
        else:
            call.reported = self._client.report_success(self._circuit_id, call.latency_ms)
        return False  # the block's own exception, if any, goes on


class CircuitBreakerClient:
    def __init__(
        self,
        port: Optional[int] = None,
        token: Optional[str] = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        failure_exceptions: tuple[type[BaseException], ...] = DEFAULT_FAILURE_EXCEPTIONS,
        failure_statuses: Statuses = DEFAULT_FAILURE_STATUSES,
    ) -> None:
        self._failure_exceptions = tuple(failure_exceptions)
        self._failure_statuses = _ranges(failure_statuses)
        self._port = port if port is not None else int(os.environ.get("CIRCUIT_BREAKER_PORT", DEFAULT_PORT))
        self._token = token if token is not None else os.environ.get("AWS_SESSION_TOKEN")
        self._timeout_s = timeout_s
        unknown = os.environ.get("CIRCUIT_BREAKER_UNKNOWN_STATE", "CLOSED").strip().upper()
        self._unknown_state = "OPEN" if unknown == "OPEN" else "CLOSED"
        self._connection: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()  # one request at a time on the one connection
        self._reachable = True  # last seen; a change is logged once, not on every call

    def check(self, circuit_id: str) -> CircuitStatus:
        """The circuit's state and whether to make the call; never raises."""
        answer = self._request("GET", _path(circuit_id), None)
        status = _status(circuit_id, answer)
        if status is None:
            self._note_reachable(False, f"no usable answer for circuit {circuit_id!r}: {answer!r}")
            return CircuitStatus(
                circuit_id, self._unknown_state, self._unknown_state in ALLOWING_STATES, True, None, False
            )
        self._note_reachable(True, "")
        return status

    def report_success(self, circuit_id: str, latency_ms: float = 0.0) -> bool:
        """Report a call that answered; whether the extension took the report. Never raises."""
        return self._report(circuit_id, "success", {"latency_ms": latency_ms})

    def report_failure(self, circuit_id: str, latency_ms: float = 0.0, error: Optional[str] = None) -> bool:
        """Report a call that failed or timed out; whether the extension took the report. Never raises."""
        body: dict[str, Any] = {"latency_ms": latency_ms}
        if error is not None:
            body["error"] = str(error)
        return self._report(circuit_id, "failure", body)

    def guard(
        self,
        circuit_id: str,
        failure_exceptions: Optional[tuple[type[BaseException], ...]] = None,
        failure_statuses: Optional[Statuses] = None,
    ) -> _Guard:
        """``with breaker.guard(id) as call:`` checks the circuit (``CircuitOpenError`` when the
        call is not allowed), times the block and reports how it ended; the block's exceptions
        go on up. ``failure_exceptions`` and ``failure_statuses`` override the client's."""
        exceptions = self._failure_exceptions if failure_exceptions is None else tuple(failure_exceptions)
        statuses = self._failure_statuses if failure_statuses is None else _ranges(failure_statuses)
        return _Guard(self, circuit_id, exceptions, statuses)

    def protect(self, circuit_id: str, fallback: Optional[Callable[..., Any]] = None, **judging: Any) -> Callable[[F], F]:
        """Decorator: run the function under ``guard(circuit_id, **judging)``.

        A returned value with an integer ``status`` (or ``status_code``) is judged like
        ``call.status``. With ``fallback``, it is called with the function's arguments, and its
        answer returned, when the circuit does not allow the call and when the call fails;
        without, ``CircuitOpenError`` and the function's exceptions go on up.
        """

        def decorate(function: F) -> F:
            @wraps(function)
            def protected(*args: Any, **kwargs: Any) -> Any:
                call: Optional[Call] = None
                try:
                    with self.guard(circuit_id, **judging) as call:
                        answer = function(*args, **kwargs)
                        call.status = _status_of(answer)
                except CircuitOpenError:
                    if fallback is None:
                        raise
                    return fallback(*args, **kwargs)
                except BaseException:
                    if fallback is None or call is None or not call.failed:
                        raise
                    return fallback(*args, **kwargs)
                if fallback is not None and call is not None and call.failed:
                    return fallback(*args, **kwargs)
                return answer

            return protected  # type: ignore[return-value]

        return decorate

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _report(self, circuit_id: str, outcome: str, body: dict[str, Any]) -> bool:
        answer = self._request("POST", f"{_path(circuit_id)}/{outcome}", body)
        taken = answer is not None and answer[0] in (200, 202)  # 202: queued for a later write
        self._note_reachable(taken, f"report on circuit {circuit_id!r} not taken: {answer!r}")
        return taken

    def _request(self, method: str, path: str, body: Optional[dict[str, Any]]) -> Optional[tuple[int, Any]]:
        """(status, parsed JSON or None), or None when the extension could not be reached."""
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        if self._token:
            headers[TOKEN_HEADER] = self._token
        with self._lock:
            for _ in range(2):
                reused = self._connection is not None
                if self._connection is None:
                    self._connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=self._timeout_s)
                try:
                    self._connection.request(method, path, body=payload, headers=headers)
                    response = self._connection.getresponse()
                    data = response.read()
                except ConnectionError:
                    # The extension closes idle connections: a kept one may be gone. The request
                    # was then never read, so it is safe to send once more on a new connection.
                    self._drop()
                    if reused:
                        continue
                    return None
                except (OSError, http.client.HTTPException):
                    self._drop()  # timed out or garbled: the connection's state is unknown
                    return None
                if response.will_close:
                    self._drop()
                try:
                    return response.status, json.loads(data)
                except ValueError:
                    return response.status, None
            return None

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _note_reachable(self, reachable: bool, why: str) -> None:
        if reachable != self._reachable:
            self._reachable = reachable
            if reachable:
                logger.warning("circuit-breaker extension answers again")
            else:
                logger.warning("circuit-breaker extension unusable, using the unknown-state default: %s", why)


def _ranges(statuses: Statuses) -> tuple[range, ...]:
    return tuple(status if isinstance(status, range) else range(status, status + 1) for status in statuses)


def _status_of(value: Any) -> Optional[int]:
    """The HTTP status a response or an HTTP error carries (urllib, http.client, requests), if any."""
    candidates = [getattr(value, "status", None), getattr(value, "status_code", None), getattr(value, "code", None)]
    response = getattr(value, "response", None)
    if response is not None:
        candidates += [getattr(response, "status", None), getattr(response, "status_code", None)]
    for candidate in candidates:
        if isinstance(candidate, int) and not isinstance(candidate, bool) and 100 <= candidate <= 599:
            return candidate
    return None


def _judge(call: Call, error: Optional[BaseException], exceptions: tuple[type[BaseException], ...], statuses: tuple[range, ...]) -> Optional[str]:
    """Why the guarded call counts as a failure, or None when it counts as a success."""
    if call._forced is not None:
        return call._forced
    status = call.status if error is None else _status_of(error)
    if status is not None:
        return f"HTTP {status}" if any(status in failing for failing in statuses) else None
    if error is not None and isinstance(error, exceptions):
        return f"{type(error).__name__}: {error}"[:200]
    return None


def _path(circuit_id: str) -> str:
    return "/circuits/" + quote(circuit_id, safe="")


def _status(circuit_id: str, answer: Optional[tuple[int, Any]]) -> Optional[CircuitStatus]:
    """The extension's answer as a status, or None if it is not a well-formed 200 for this circuit."""
    if answer is None or answer[0] != 200 or not isinstance(answer[1], dict):
        return None
    data = answer[1]
    age = data.get("age_ms")
    well_formed = (
        data.get("id") == circuit_id
        and data.get("state") in STATES
        and isinstance(data.get("allowed"), bool)
        and isinstance(data.get("stale"), bool)
        and (age is None or (isinstance(age, int) and not isinstance(age, bool)))
    )
    if not well_formed:
        return None
    return CircuitStatus(circuit_id, data["state"], data["allowed"], data["stale"], age, True)
