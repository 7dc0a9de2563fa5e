"""(c) Read per call, last writer wins: the circuitbreaker-lambda design.

As its ``lib/circuitbreaker.js`` does (github.com/gunnargrosch/circuitbreaker-lambda), with the
threshold of 5 and a 30 s timeout (its default is 10 s; 30 s matches the other designs):

- every invocation reads the record (GetItem) and works on that copy;
- OPEN before ``nextAttempt``: fallback. OPEN past it: this invocation goes HALF (in its own
  copy only, nothing is written yet) and calls; nothing stops other environments that read
  the same record from doing the same, so "one trial" holds per environment, not fleet-wide;
- after the call, the copy is updated and written back whole, without a condition: a failure
  increments ``failureCount`` and opens at the threshold (``nextAttempt = now + timeout``), a
  success resets it and, in HALF, counts towards closing (more than ``successThreshold`` = 2).
  The library writes after every call, successes included.

Because the copy was read when the call started, a write made meanwhile by another environment
is overwritten: that is the lost update, and it is simulated as it happens, not estimated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..scenario import Scenario
from .base import Clock, Design, Usage

FAILURE_THRESHOLD = 5
SUCCESS_THRESHOLD = 2
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Record:
    state: str = "CLOSED"  # CLOSED, OPEN or HALF, as the library names them
    failure_count: int = 0
    success_count: int = 0
    next_attempt: float = 0.0


class ReadPerCall(Design):
    key = "c"
    title = "read per call, last writer wins (circuitbreaker-lambda)"

    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        super().__init__(scenario, clock)
        self._stored = Record()
        self._copies: dict[int, Record] = {}  # what each calling environment read
        self._usage = Usage()

    def admit(self, env: int, now: float) -> bool:
        self._usage.reads += 1
        self._usage.items_read += 1
        copy = self._stored
        if copy.state == "OPEN":
            if now < copy.next_attempt:
                return False
            copy = replace(copy, state="HALF")
        self._copies[env] = copy
        return True

    def complete(self, env: int, now: float, ok: bool, latency_s: float) -> None:
        copy = self._copies.pop(env)
        if ok:
            copy = self._succeeded(copy)
        else:
            failures = copy.failure_count + 1
            copy = replace(copy, failure_count=failures)
            if failures >= FAILURE_THRESHOLD:
                copy = replace(copy, state="OPEN", next_attempt=now + TIMEOUT_S)
        self._stored = copy  # UpdateItem without a condition: whatever was stored meanwhile is lost
        self._usage.writes += 1

    def state(self, now: float) -> str:
        return "HALF_OPEN" if self._stored.state == "HALF" else self._stored.state

    def usage(self) -> Usage:
        return self._usage

    @staticmethod
    def _succeeded(copy: Record) -> Record:
        if copy.state == "HALF":
            successes = copy.success_count + 1
            if successes > SUCCESS_THRESHOLD:
                return Record()
            copy = replace(copy, success_count=successes)
        return replace(copy, failure_count=0)
