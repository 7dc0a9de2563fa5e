"""The traffic driver: each business function invoked ``--rate`` times per wall-clock second.

Every tick is one request: an invoke through the Runtime API of an idle execution environment
of the function. Its answer says which path it took: ``live`` (the circuit allowed the call;
``live_failed`` when the call failed as the breaker counts it: an error, or an answer slower
than the slow-call threshold) or ``fallback`` (the circuit refused, the service was not called).
A tick that finds every environment busy, because a slow service holds them, is ``dropped``; an
invoke that ends without an answer is an ``error``.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from local.emulator import EmulatorError, InvokeResult

from .mocks import FailureRule
from .pool import EnvironmentPool
from .tally import Tally
from .ticker import Ticker

LIVE, LIVE_FAILED, FALLBACK, DROPPED, ERRORS = "live", "live_failed", "fallback", "dropped", "errors"
REQUEST: dict[str, Any] = {}  # the business function reads no field of its event


class TrafficDriver:
    def __init__(
        self, service_id: str, pool: EnvironmentPool, rate: float, is_failure: FailureRule, stop: threading.Event
    ) -> None:
        self.tally = Tally()
        self._pool = pool
        self._is_failure = is_failure
        self._ticker = Ticker(f"traffic-{service_id}", 1.0 / rate, self._tick, stop)

    def start(self) -> None:
        self._ticker.start()

    def join(self) -> None:
        self._ticker.join()

    def _tick(self) -> None:
        if not self._pool.try_invoke(REQUEST, self._done):
            self.tally.add(DROPPED)

    def _done(self, result: Optional[InvokeResult], error: Optional[EmulatorError]) -> None:
        if result is None or result.status != "success":
            reason = str(error) if result is None else f"{result.status}: {result.payload[:300]!r}"
            self.tally.add(ERRORS, reason)
            return
        answer = result.json()
        path = answer.get("path") if isinstance(answer, dict) else None
        if path == "fallback":
            self.tally.add(FALLBACK)
        elif path == "live":
            failed = "error" in answer or self._is_failure(answer["service_status"], answer["latency_ms"])
            self.tally.add(LIVE_FAILED if failed else LIVE)
        else:
            self.tally.add(ERRORS, f"unexpected answer {answer!r}")
