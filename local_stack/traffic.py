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
from typing import Any

from .invocations import ERRORS, PeriodicInvoker
from .mocks import FailureRule
from .pool import EnvironmentPool

LIVE, LIVE_FAILED, FALLBACK, DROPPED = "live", "live_failed", "fallback", "dropped"
__all__ = ["DROPPED", "ERRORS", "FALLBACK", "LIVE", "LIVE_FAILED", "TrafficDriver"]
REQUEST: dict[str, Any] = {}  # the business function reads no field of its event


class TrafficDriver(PeriodicInvoker):
    def __init__(
        self, service_id: str, pool: EnvironmentPool, rate: float, is_failure: FailureRule, stop: threading.Event
    ) -> None:
        super().__init__(f"traffic-{service_id}", pool, REQUEST, 1.0 / rate, DROPPED, stop)
        self._is_failure = is_failure

    def _answered(self, answer: Any) -> None:
        path = answer.get("path") if isinstance(answer, dict) else None
        if path == "fallback":
            self.tally.add(FALLBACK)
        elif path == "live":
            failed = "error" in answer or self._is_failure(answer["service_status"], answer["latency_ms"])
            self.tally.add(LIVE_FAILED if failed else LIVE)
        else:
            self.tally.add(ERRORS, f"unexpected answer {answer!r}")
