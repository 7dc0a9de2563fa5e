"""The extension's life, in the order the Lambda Extensions API defines it.

1. Bind the HTTP server (before registering, so the function never finds it missing).
2. Register for INVOKE and SHUTDOWN. Lambda starts the function's runtime only once every
   extension has registered, so up to here only light standard-library modules are loaded
   (see ``endpoint``): everything else is imported after registering.
3. Read the configuration, load boto3 and the circuits (this overlaps the runtime's own
   start). A problem found so far is reported with ``init/error`` and the process exits
   non-zero: Lambda then fails the init phase with that error type and message. A table that
   cannot be read is not such a problem: the cache serves the unknown-state default until it can.
4. Loop on ``event/next``: INVOKE refreshes the cache ahead of expiry and retries queued
   reports; SHUTDOWN flushes queued reports within the event's deadline and exits 0. Anything
   unexpected from here on is reported with ``exit/error``.

The process ends with ``os._exit`` once the log is flushed (``run``): the interpreter's own
teardown (module and thread finalisation, boto3's included) takes 100-200 ms, longer than the
margin left before SHUTDOWN's deadline, at which Lambda kills the process.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping

from .endpoint import ConfigError, compat_mode, read_endpoint
from .extensions_api import ExtensionsApi, ExtensionsApiError
from .http_api import ApiServer
from .logs import log

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before registering
if TYPE_CHECKING:
    from typing import NoReturn

    from .service import CircuitService

EXTENSION_NAME = "circuit-breaker"
EVENTS = ("INVOKE", "SHUTDOWN")
SHUTDOWN_MARGIN_MS = 50  # stop flushing this long before the deadline, to exit in time
SHUTDOWN_BUDGET_S = 0.45  # when the SHUTDOWN event carries no deadline


class InitFailure(Exception):
    """A start-up problem reported as ``init/error`` with ``error_type`` (``Extension.<Reason>``)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def run(environ: Mapping[str, str] = os.environ) -> NoReturn:
    """``main``, then end the process at once, with its exit code (what ``__main__`` runs)."""
    _end_process(main(environ))


def main(environ: Mapping[str, str] = os.environ) -> int:
    started = time.monotonic()
    log("start", pid=os.getpid(), python=sys.version.split()[0])
    address = environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        log("fatal", error="AWS_LAMBDA_RUNTIME_API is not set: the extension only runs under Lambda")
        return 1
    api = ExtensionsApi(address)
    server: ApiServer | None = None
    early: ConfigError | InitFailure | None = None  # reported once registered: init/error needs the identifier
    try:
        server = _bind(*read_endpoint(environ), legacy_without_token=compat_mode(environ))
    except (ConfigError, InitFailure) as problem:
        early = problem
    try:
        api.register(EXTENSION_NAME, EVENTS)
    except ExtensionsApiError as error:
        log("fatal", error=f"cannot register: {error}")
        return 1
    log("registered", ms=_ms_since(started))
    try:
        service = _start_service(environ, server, early)
    except InitFailure as failure:
        return _fail(api.init_error, failure.error_type, failure.message)
    log("ready", ms=_ms_since(started), circuits=sorted(service.circuit_ids))
    try:
        _loop(api, service)
    except Exception as error:
        return _fail(api.exit_error, "Extension.Unexpected", repr(error))
    return 0


def _bind(port: int, token: str | None, legacy_without_token: bool) -> ApiServer:
    """The HTTP server, bound and serving (until boto3 is loaded, ``/health`` only)."""
    try:
        server = ApiServer(port, token, legacy_without_token)
    except OSError as error:
        raise InitFailure("Extension.PortUnavailable", f"cannot listen on 127.0.0.1:{port}: {error}") from None
    server.start()
    return server


def _start_service(
    environ: Mapping[str, str], server: ApiServer | None, early: ConfigError | InitFailure | None
) -> CircuitService:
    """Configuration, boto3, the first load of the circuits; the server then serves them."""
    # Imported only now, after registering: dataclasses, the state machine and boto3 are slow to load.
    from .config import MAX_ON_DEMAND, load_config
    from .sdk import SdkUnavailable, connect
    from .service import CircuitService

    problems = [str(early)] if isinstance(early, ConfigError) else []
    try:
        config = load_config(environ)
    except ConfigError as error:
        problems.append(str(error))
    if problems:
        raise InitFailure("Extension.ConfigInvalid", "; ".join(problems))
    if early is not None:
        raise early
    assert server is not None  # bound, since nothing went wrong before registering
    try:
        sdk = connect(config.table)
    except SdkUnavailable as error:
        raise InitFailure("Extension.SdkUnavailable", str(error)) from None
    except Exception as error:
        raise InitFailure("Extension.SdkInitFailed", f"cannot create the DynamoDB client: {error!r}") from None
    service = CircuitService(
        config.circuits,
        sdk.store,
        sdk.unavailable,
        cache_ttl_s=config.cache_ttl_s,
        unknown_state=config.unknown_state,
        permanent=sdk.permanent,
    )
    service.prefetch()  # while the runtime starts: the first invocation finds the circuits loaded
    if config.on_demand is not None:
        server.serve_on_demand(config.on_demand, MAX_ON_DEMAND)
    server.service = service
    return service


def _loop(api: ExtensionsApi, service: CircuitService) -> None:
    while True:
        event = api.next_event()
        kind = event["eventType"]
        if kind == "INVOKE":
            service.on_invoke()
        elif kind == "SHUTDOWN":
            _shut_down(service, event)
            return
        else:
            log("unexpected_event", event_type=kind)


def _shut_down(service: CircuitService, event: Mapping[str, object]) -> None:
    """Flush queued reports until just before the event's deadline, then return (exit 0)."""
    deadline_ms = event.get("deadlineMs")
    if isinstance(deadline_ms, (int, float)) and not isinstance(deadline_ms, bool):
        budget_s = max(deadline_ms - time.time() * 1000 - SHUTDOWN_MARGIN_MS, 0) / 1000
    else:
        budget_s = SHUTDOWN_BUDGET_S
    from dataclasses import replace  # off the registration path, like everything the service needs

    pending = service.pending_count()
    before = replace(service.flushes)
    if pending:
        # In a thread: a DynamoDB call cannot be interrupted, but the process can exit on time.
        flusher = threading.Thread(target=service.retry_pending, args=(time.monotonic() + budget_s,), daemon=True)
        flusher.start()
        flusher.join(budget_s)
    after = replace(service.flushes)
    # Exact: pending_before = written + dropped + in_flight + the rest still waiting. A write in
    # flight at the deadline may or may not land; it is counted as neither written nor left.
    log(
        "shutdown",
        reason=event.get("shutdownReason"),
        pending_before=pending,
        written=after.written - before.written,
        dropped=after.dropped - before.dropped,
        in_flight=after.in_flight,
        pending_left=service.pending_count() - after.in_flight,
    )


def _end_process(code: int) -> NoReturn:
    """Flush what was logged and exit without the interpreter's teardown: nothing is left to
    finalise (queued reports are written or given up on, the log is out), and the teardown
    alone would outlast SHUTDOWN's deadline."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken pipe: nothing more can be said anyway
    os._exit(code)


def _fail(report: Callable[[str, str], None], error_type: str, message: str) -> int:
    log("fatal", error_type=error_type, error=message)
    try:
        report(error_type, message)
    except ExtensionsApiError as error:
        log("error_report_failed", error=str(error))
    return 1


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
