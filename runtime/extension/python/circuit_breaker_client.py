"""The function's side of the circuit-breaker extension (standard library only).

The layer puts this module in ``python/``, which Lambda adds to the function's ``sys.path``
(``/opt/python``), so a function just does::

    from circuit_breaker_client import CircuitBreakerClient

    breaker = CircuitBreakerClient()  # once, at module level: keeps one loopback connection

    status = breaker.check("payments")
    if status.allowed:
        started = time.monotonic()
        try:
            answer = call_payments()
        except Exception as error:
            breaker.report_failure("payments", (time.monotonic() - started) * 1000, str(error))
            raise
        breaker.report_success("payments", (time.monotonic() - started) * 1000)
    else:
        answer = fallback()

In HALF_OPEN, an allowed ``check`` holds one of the few fleet-wide trial calls: report its
outcome, or the trial stays taken until its lease expires.

Nothing here raises on the extension's account: when the extension cannot be reached or
answers something unusable, ``check`` answers from ``CIRCUIT_BREAKER_UNKNOWN_STATE`` (CLOSED
unless set to OPEN) with ``reachable=False``, and the reports return False.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import quote

DEFAULT_PORT = 4243
# Longer than the slowest DynamoDB work the extension does for one lookup (a reload plus a
# half-open trial write, 0.75 s each at most): when the table hangs the extension still answers,
# with the last known state flagged stale, instead of the client guessing the unknown default.
DEFAULT_TIMEOUT_S = 2.0
TOKEN_HEADER = "X-Circuit-Breaker-Token"
STATES = frozenset({"CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "FORCED_CLOSED"})
ALLOWING_STATES = frozenset({"CLOSED", "FORCED_CLOSED"})

logger = logging.getLogger("circuit_breaker_client")


@dataclass(frozen=True)
class CircuitStatus:
    id: str
    state: str  # CLOSED, OPEN, HALF_OPEN, FORCED_OPEN or FORCED_CLOSED
    allowed: bool  # whether the call may go out now
    stale: bool  # the extension could not confirm the state recently
    age_ms: Optional[int]  # since the extension last read the state; None if it never could
    reachable: bool  # False: the extension gave no usable answer, the rest is the unknown-state default


class CircuitBreakerClient:
    def __init__(self, port: Optional[int] = None, token: Optional[str] = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
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
