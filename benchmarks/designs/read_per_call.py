"""(c) Read per call, last writer wins: circuitbreaker-lambda 0.0.1, the 2020 JavaScript library.

Modelled on ``lib/circuitbreaker.js`` of github.com/gunnargrosch/circuitbreaker-lambda as
released as version 0.0.1 (package.json, 10 October 2020, commit b34351dc), with its
defaults: failureThreshold 5, successThreshold 2, timeout 10 s (its recovery knob):

- every invocation reads the record (DocumentClient ``get``: GetItem, eventually consistent,
  half a read request unit) and works on that copy;
- OPEN before ``nextAttempt``: fallback. OPEN past it: this invocation goes HALF (in its own
  copy only, nothing is written yet) and calls; nothing stops other environments that read
  the same record from doing the same, so "one trial" holds per environment, not fleet-wide;
- after the call, the copy is written back whole (``update`` with SET of every field, no
  condition): a failure increments ``failureCount`` and opens at the threshold
  (``nextAttempt = now + timeout``), a success resets ``failureCount`` and, in HALF, counts
  towards closing (more than ``successThreshold``). Successes are written too.

Because the copy was read when the call started, a write made meanwhile by another call is
overwritten: that is the lost update, and it is simulated as it happens, not estimated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Optional

from .. import cost
from ..scenario import Scenario
from .base import Clock, Design, Usage

FAILURE_THRESHOLD = 5
SUCCESS_THRESHOLD = 2
TIMEOUT_S = 10.0


def record_units(item: cost.Item) -> tuple[float, float]:
    """(RRU of an eventually consistent GetItem, WRU of an UpdateItem) of a record of ``item``'s shape.

    The library's records stay far below 1 KB whatever their numbers, so every read and write
    of one is billed as this one (the sizes are computed, not assumed).
    """
    size = cost.item_size(item)
    return cost.read_units(size, consistent=False), cost.write_units(size, size)


def _number(value: float) -> dict[str, str]:
    return {"N": str(value)}


LIBRARY_ITEM = {
    "id": {"S": "business-function-name"},
    "circuitState": {"S": "CLOSED"},
    "failureCount": _number(5),
    "successCount": _number(2),
    "nextAttempt": _number(1_700_000_000_000),
    "stateTimestamp": _number(1_700_000_000_000),
}


@dataclass(frozen=True)
class Record:
    state: str = "CLOSED"  # CLOSED, OPEN or HALF, as the library names them
    failure_count: int = 0
    success_count: int = 0
    next_attempt: float = 0.0


class LibraryDesign(Design):
    """What both circuitbreaker-lambda releases share: one record read per call, worked on as a copy per call."""

    knob = "timeout"
    default_timeout_s: ClassVar[float]
    item: ClassVar[cost.Item]  # a record of the release's shape, for its billed size
    initial: ClassVar[Any]  # the record before anything is stored (a dataclass with ``state``)

    def __init__(self, scenario: Scenario, clock: Clock, knob_s: Optional[float] = None) -> None:
        super().__init__(scenario, clock, knob_s)
        self.timeout_s = self.default_timeout_s if knob_s is None else knob_s
        self._stored = self.initial
        self._copies: dict[int, Any] = {}  # what each call in flight read, by call token
        self._usage = Usage()
        self._read_units, self._write_units = record_units(self.item)

    def state(self, now: float) -> str:
        return "HALF_OPEN" if self._stored.state == "HALF" else self._stored.state

    def usage(self) -> Usage:
        return self._usage


class ReadPerCall(LibraryDesign):
    key = "c"
    title = "circuitbreaker-lambda 0.0.1 (2020): read per call, last writer wins, 10 s timeout"
    default_timeout_s = TIMEOUT_S
    item = LIBRARY_ITEM
    initial = Record()

    def admit(self, env: int, now: float, call: int) -> bool:
        self._usage.read(self._read_units)
        copy = self._stored
        if copy.state == "OPEN":
            if now < copy.next_attempt:
                return False
            copy = replace(copy, state="HALF")
        self._copies[call] = copy
        return True

    def complete(self, env: int, call: int, now: float, ok: bool, latency_s: float) -> None:
        copy = self._copies.pop(call)
        if ok:
            copy = self._succeeded(copy)
        else:
            failures = copy.failure_count + 1
            copy = replace(copy, failure_count=failures)
            if failures >= FAILURE_THRESHOLD:
                copy = replace(copy, state="OPEN", next_attempt=now + self.timeout_s)
        self._stored = copy  # UpdateItem without a condition: whatever was stored meanwhile is lost
        self._usage.write(self._write_units)

    @staticmethod
    def _succeeded(copy: Record) -> Record:
        if copy.state == "HALF":
            successes = copy.success_count + 1
            if successes > SUCCESS_THRESHOLD:
                return Record()
            copy = replace(copy, success_count=successes)
        return replace(copy, failure_count=0)
