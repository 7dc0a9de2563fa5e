"""(e) circuitbreaker-lambda 1.0.0, the library's current release (TypeScript, 5 March 2026).

Modelled on ``src/index.ts`` (class ``CircuitBreaker``: ``check``, ``recordSuccess``,
``recordFailure``, ``toOpen``), ``src/types.ts`` (``DEFAULTS``) and
``src/dynamodb-provider.ts`` of github.com/gunnargrosch/circuitbreaker-lambda at version
1.0.0 (package.json and CHANGELOG.md, commit 3c286506), with its defaults: failureThreshold 5,
successThreshold 2, timeout 10 s (its recovery knob), maxTimeout 60 s, windowDuration 60 s,
cacheTtlMs 0 (no cache: ``CachedProvider`` is opt-in).

- ``check``: reads the record (GetItem through the DocumentClient, eventually consistent);
  in CLOSED, a ``failureCount`` whose ``lastFailureTime`` is more than ``windowDuration``
  old is reset to 0 in the copy (the "window": failures accumulate across successes until
  60 s pass without one). OPEN past ``nextAttempt``: the copy goes HALF and is written at
  once (``saveState``), and the call is let through; OPEN before it: fallback. HALF lets
  every call through, in every environment that reads it.
- ``recordSuccess``: in HALF, ``successCount`` + 1, and at ``successThreshold`` CLOSED (all
  counts 0); the copy is written (every success is a write).
- ``recordFailure``: ``failureCount`` + 1 and ``lastFailureTime``; in HALF, OPEN again with
  ``consecutiveOpens`` + 1; otherwise OPEN once ``failureCount`` reaches the threshold,
  ``consecutiveOpens`` 0. OPEN sets ``nextAttempt = now + min(timeout x 2^consecutiveOpens,
  maxTimeout)``. The copy is written.
- ``saveState`` is an UpdateItem SET of every field without a condition: last writer wins.

Each call works on the copy it read at its start (one ``CircuitBreaker`` per invocation), so
a write made meanwhile by another call is lost, as in (c). In the sweep the cap stays 60 s
unless the timeout itself is longer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from ..scenario import Scenario
from .base import Clock
from .read_per_call import LIBRARY_ITEM, LibraryDesign, _number

FAILURE_THRESHOLD = 5
SUCCESS_THRESHOLD = 2
TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 60.0
WINDOW_S = 60.0
ITEM = {
    **LIBRARY_ITEM,
    "lastFailureTime": _number(1_700_000_000_000),
    "consecutiveOpens": _number(3),
    "schemaVersion": _number(1),
}


@dataclass(frozen=True)
class State:
    state: str = "CLOSED"  # circuitState: CLOSED, OPEN or HALF, as index.ts names them
    failure_count: int = 0
    success_count: int = 0
    next_attempt: float = 0.0
    last_failure_time: float = 0.0
    consecutive_opens: int = 0


class CurrentRelease(LibraryDesign):
    key = "e"
    title = "circuitbreaker-lambda 1.0.0 (2026): 60 s failure window, backoff 10 s to 60 s"
    default_timeout_s = TIMEOUT_S
    item = ITEM
    initial = State()

    def __init__(self, scenario: Scenario, clock: Clock, knob_s: Optional[float] = None) -> None:
        super().__init__(scenario, clock, knob_s)
        self.max_timeout_s = max(MAX_TIMEOUT_S, self.timeout_s)

    def admit(self, env: int, now: float, call: int) -> bool:
        self._usage.read(self._read_units)
        copy = self._stored
        if copy.state == "CLOSED" and copy.last_failure_time > 0 and now - copy.last_failure_time > WINDOW_S:
            copy = replace(copy, failure_count=0)
        if copy.state == "OPEN":
            if copy.next_attempt > now:
                return False
            copy = replace(copy, state="HALF", success_count=0)
            self._save(copy)
        self._copies[call] = copy
        return True

    def complete(self, env: int, call: int, now: float, ok: bool, latency_s: float) -> None:
        copy = self._copies.pop(call)
        if ok:
            if copy.state == "HALF":
                successes = copy.success_count + 1
                copy = replace(copy, success_count=successes)
                if successes >= SUCCESS_THRESHOLD:
                    copy = replace(copy, state="CLOSED", success_count=0, failure_count=0, consecutive_opens=0)
        else:
            copy = replace(copy, failure_count=copy.failure_count + 1, last_failure_time=now)
            if copy.state == "HALF":
                copy = self._opened(copy, now, copy.consecutive_opens + 1)
            elif copy.failure_count >= FAILURE_THRESHOLD:
                copy = self._opened(copy, now, 0)
        self._save(copy)

    def _opened(self, copy: State, now: float, opens: int) -> State:
        backoff = min(self.timeout_s * 2**opens, self.max_timeout_s)
        return replace(copy, state="OPEN", consecutive_opens=opens, next_attempt=now + backoff)

    def _save(self, copy: State) -> None:
        self._stored = copy  # UpdateItem SET without a condition
        self._usage.write(self._write_units)
