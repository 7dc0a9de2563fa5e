"""(b) pybreaker in every environment: in-process breakers that share nothing.

``pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)``, one per execution environment
(its recovery knob: ``reset_timeout``), shared by the calls in flight in that environment,
driven through its public ``calling()`` context manager: entering it is the admission (it
raises ``CircuitBreakerError`` while OPEN, and moves an OPEN breaker past its timeout to
HALF_OPEN), leaving it with or without an exception reports the outcome.

pybreaker reads wall time in exactly one way: ``datetime.now(UTC)`` on the name ``datetime``
that its module imported (``from datetime import datetime``), when it opens (``opened_at``)
and when an OPEN breaker checks whether ``reset_timeout`` has passed. ``running`` swaps that
module attribute for a ``datetime`` whose ``now`` reads the simulated clock, so the library's
own code runs unchanged on simulated time. Entering happens at the call's start and leaving at
its end, so ``opened_at`` is the time the failing call returned, as it would be live.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import ContextManager, Optional
from unittest import mock

import pybreaker

from ..scenario import Scenario
from .base import EPOCH_S, Clock, Design, Usage

FAIL_MAX = 5
RESET_TIMEOUT_S = 30.0
_STATES = {pybreaker.STATE_CLOSED: "CLOSED", pybreaker.STATE_OPEN: "OPEN", pybreaker.STATE_HALF_OPEN: "HALF_OPEN"}


class DependencyFailed(Exception):
    """What the wrapped call raises when the dependency timed out or answered an error."""


def simulated_datetime(clock: Clock) -> type[datetime]:
    """A ``datetime`` class whose ``now`` is the simulated clock as an epoch instant."""

    class SimulatedDatetime(datetime):
        @classmethod
        def now(cls, tz: Optional[tzinfo] = None) -> datetime:
            return datetime.fromtimestamp(EPOCH_S + clock(), tz)

    return SimulatedDatetime


class PybreakerFleet(Design):
    key = "b"
    title = "pybreaker per environment (fail_max 5, reset 30 s)"
    knob = "reset_timeout"

    def __init__(self, scenario: Scenario, clock: Clock, knob_s: Optional[float] = None) -> None:
        super().__init__(scenario, clock, knob_s)
        reset = RESET_TIMEOUT_S if knob_s is None else knob_s
        self._breakers = [
            pybreaker.CircuitBreaker(fail_max=FAIL_MAX, reset_timeout=reset) for _ in range(scenario.environments)
        ]
        self._usage = Usage()
        self._calls: dict[int, ContextManager[None]] = {}  # by call token

    def running(self) -> ContextManager[None]:
        return mock.patch.object(pybreaker, "datetime", simulated_datetime(self.clock))

    def admit(self, env: int, now: float, call: int) -> bool:
        calling = self._breakers[env].calling()
        try:
            calling.__enter__()
        except pybreaker.CircuitBreakerError:
            return False
        self._calls[call] = calling
        return True

    def complete(self, env: int, call: int, now: float, ok: bool, latency_s: float) -> None:
        calling = self._calls.pop(call)
        if ok:
            calling.__exit__(None, None, None)
            return
        error = DependencyFailed()
        try:
            calling.__exit__(DependencyFailed, error, None)
        except pybreaker.CircuitBreakerError:
            pass  # this failure tripped the breaker: pybreaker says so by raising

    def state(self, now: float) -> str:
        """Environment 0's breaker: the fleet has no shared state to show."""
        return _STATES[self._breakers[0].current_state]

    def usage(self) -> Usage:
        return self._usage

