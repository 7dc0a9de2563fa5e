"""The business function (handler ``services.business.handler``): the circuit breaker's consumer.

Each invocation runs its call under the layer's client's guard (``breaker.guard``), which asks
the circuit-breaker extension whether the circuit allows a call. If it does, the function calls
its service with a timeout, the guard reports the outcome to the extension, and the function
answers with the service's body; if it does not, it answers the fallback without touching the
service. When the extension cannot be reached, the client
answers with the configured unknown-state default, and this function follows it and says so.

Environment:
    ``CIRCUIT_ID``      the circuit protecting the service
    ``SERVICE_URL``     full URL of the service's resource
    ``CALL_TIMEOUT_S``  timeout of the call, seconds (default 2)

The event is not read: any invocation is one request. The answer (JSON-serialisable)::

    {"path": "live" | "fallback", "circuit_id", "circuit_state", "stale", "extension_reachable",
     "service_status": int | None, "latency_ms": float | None,
     "body": ...                     # live call that succeeded: the service's answer
     "error", "fallback", ...        # live call that failed: why, and the fallback answer
     "fallback": ...}                # circuit not allowing calls: the fallback answer
    (live answers also carry "reported": whether the extension took the outcome)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from httpcall import get

DEFAULT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Settings:
    circuit_id: str
    url: str
    timeout_s: float


def settings_from(environ: Mapping[str, str]) -> Settings:
    """Read the environment; raise ``ValueError`` naming every bad variable."""
    problems: dict[str, str] = {}
    circuit_id = environ.get("CIRCUIT_ID", "").strip()
    if not circuit_id:
        problems["CIRCUIT_ID"] = "required"
    url = environ.get("SERVICE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems["SERVICE_URL"] = f"must be an http(s) URL, got {url!r}"
    raw_timeout = environ.get("CALL_TIMEOUT_S", str(DEFAULT_TIMEOUT_S))
    try:
        timeout_s = float(raw_timeout)
    except ValueError:
        timeout_s = math.nan
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        problems["CALL_TIMEOUT_S"] = f"must be a number of seconds > 0, got {raw_timeout!r}"
    if problems:
        raise ValueError("invalid configuration: " + "; ".join(f"{key}: {msg}" for key, msg in problems.items()))
    return Settings(circuit_id, url, timeout_s)


def _decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def fallback_answer(circuit_id: str, state: Any) -> dict[str, Any]:
    """What callers get instead of the service's answer: a degraded but well-formed reply."""
    return {"degraded": True, "message": f"{circuit_id} is unavailable (circuit {state}); this is the fallback answer"}


def serve(settings: Settings, breaker: Any) -> dict[str, Any]:
    """One request: the breaker decides, the service is called only when allowed.

    The call runs under the client's guard, which checks the circuit, times the call and
    reports its outcome. The verdict is ``httpcall``'s (any non-2xx, a timeout, a refused
    connection or a failed DNS lookup is a failure), the very one the checker's probe uses.
    """
    from circuit_breaker_client import CircuitOpenError  # the layer's module, as in breaker()

    try:
        with breaker.guard(settings.circuit_id) as call:
            result = get(settings.url, settings.timeout_s, caller="business")
            call.status = result.status
            if result.error is not None:
                call.fail(result.error)
    except CircuitOpenError as refused:
        circuit = _circuit(settings, refused.circuit)
        fallback = fallback_answer(settings.circuit_id, refused.circuit.state)
        return {"path": "fallback", **circuit, "service_status": None, "latency_ms": None, "fallback": fallback}
    live = {
        "path": "live",
        **_circuit(settings, call.circuit),
        "service_status": result.status,
        "latency_ms": round(call.latency_ms, 1),
        "reported": call.reported,
    }
    if not call.failed:
        return {**live, "body": _decode(result.body)}
    return {**live, "error": call.error, "fallback": fallback_answer(settings.circuit_id, call.circuit.state)}


def _circuit(settings: Settings, status: Any) -> dict[str, Any]:
    return {
        "circuit_id": settings.circuit_id,
        "circuit_state": status.state,
        "stale": status.stale,
        "extension_reachable": status.reachable,
    }


_breaker: Any = None


def breaker() -> Any:
    """The extension's client, made once per execution environment.

    ``circuit_breaker_client`` is the layer's module (``/opt/python`` in Lambda). It is imported
    on first use so this module, and the decision logic above, load where the layer is absent.
    """
    global _breaker
    if _breaker is None:
        from circuit_breaker_client import CircuitBreakerClient

        _breaker = CircuitBreakerClient()
    return _breaker


def handler(event: Any, context: Any) -> dict[str, Any]:
    return serve(settings_from(os.environ), breaker())
