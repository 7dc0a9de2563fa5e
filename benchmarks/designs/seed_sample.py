"""(a) The seed sample: a scheduled checker flips a two-state flag, every environment Scans for it.

As in the AWS Compute Blog sample: the checker probes once a minute and alone decides the
state from that one probe, writing the item (an unconditional PutItem) on every run; the
function's calls never report anything. Its checker counts only a *timeout* as a failure: a
probe answered with an HTTP 503 is written as healthy, and a connection error crashes the run
before it writes anything (none of the scenarios refuses connections, so it never happens
here). So an *error* outage never opens this circuit. Each environment's extension caches the
whole table for 30 s and refreshes it with a Scan (eventually consistent, as the SDK's
default), billed by the summed size of the table's items (``TABLE_ITEMS``, 10 here: a
10-service fleet), which for items this small is one 4 KB unit, half a read request unit.
The cache behaves as the seed's does: the table is loaded on the first read after the TTL
expired (a plain per-environment timestamp here, which keeps this design cheap to simulate at
millions of requests). It has no recovery knob: the schedule is the
fastest EventBridge allows (once a minute).
"""

from __future__ import annotations

from typing import Optional

from .. import cost
from ..scenario import Scenario
from .base import Clock, Design, Usage

CACHE_TTL_S = 30.0
# Circuits in the shared table: one per service of a 10-service fleet.
TABLE_ITEMS = 10
CIRCUIT = "dependency"
# The item the seed's checker writes (attribute names as a small item of its shape: id and status).
ITEM_BYTES = cost.item_size({"id": {"S": CIRCUIT}, "circuitStatus": {"S": "CLOSED"}})


class SeedChecker:
    """Probes on schedule and writes the verdict of that one probe, unconditionally."""

    def __init__(self, design: "SeedSample", interval_s: float, timeout_s: float) -> None:
        self._design = design
        self.interval_s = interval_s
        self._timeout_s = timeout_s

    def start(self, now: float) -> bool:
        return True

    def skipped(self, now: float) -> Optional[float]:
        return None  # never: start always probes

    def done(self, now: float, ok: bool, latency_s: float) -> Optional[float]:
        timed_out = not ok and latency_s >= self._timeout_s
        self._design.healthy = not timed_out  # an HTTP 503 is written as healthy
        self._design.counted.write(cost.write_units(ITEM_BYTES, ITEM_BYTES))
        return None


class SeedSample(Design):
    key = "a"
    title = "seed sample: 60 s checker (timeouts only), 2 states, 30 s Scan cache"

    def __init__(self, scenario: Scenario, clock: Clock, knob_s: Optional[float] = None) -> None:
        super().__init__(scenario, clock, knob_s)
        self.healthy = True  # the table's flag for this circuit
        self.counted = Usage()
        self.checker = SeedChecker(self, scenario.probe_interval_s, scenario.call_timeout_s)
        self._scan_units = cost.scan_units([ITEM_BYTES] * TABLE_ITEMS, consistent=False)
        self._loaded_at = [-CACHE_TTL_S] * scenario.environments  # when each environment last Scanned
        self._cached = [True] * scenario.environments  # what that Scan read

    def admit(self, env: int, now: float, call: int) -> bool:
        if now - self._loaded_at[env] >= CACHE_TTL_S:
            self._cached[env] = self._scan()[CIRCUIT]
            self._loaded_at[env] = now
        return self._cached[env]

    def complete(self, env: int, call: int, now: float, ok: bool, latency_s: float) -> None:
        """Outcomes are not reported in the seed: only the checker moves the flag."""

    def state(self, now: float) -> str:
        return "CLOSED" if self.healthy else "OPEN"

    def usage(self) -> Usage:
        return self.counted

    def _scan(self) -> dict[str, bool]:
        self.counted.read(self._scan_units)
        return {CIRCUIT: self.healthy}
