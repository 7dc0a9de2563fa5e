"""(a) The seed sample: a scheduled checker flips a two-state flag, every environment Scans for it.

As in the AWS Compute Blog sample: the checker probes once a minute and alone decides the
state (one failed probe: unhealthy, one successful probe: healthy), writing the item on every
run; the function's calls never report anything. Each environment's extension caches the
whole table for 30 s and refreshes it with a Scan, which reads every item of the table, so
its cost grows with the number of circuits stored there (``TABLE_ITEMS``, 10 here: a
10-service fleet) although a function needs only its own. The cache is the project's
TtlCache on the simulated clock, which behaves as the seed's does: load on the first read
after expiry.
"""

from __future__ import annotations

from breaker.cache import TtlCache

from ..scenario import Scenario
from .base import Clock, Design, Usage

CACHE_TTL_S = 30.0
# Circuits in the shared table: one per service of a 10-service fleet. Only items read depend on it.
TABLE_ITEMS = 10
CIRCUIT = "dependency"


class SeedChecker:
    """Probes on schedule and writes the verdict of that one probe, unconditionally."""

    def __init__(self, design: "SeedSample", interval_s: float) -> None:
        self._design = design
        self.interval_s = interval_s

    def start(self, now: float) -> bool:
        return True

    def done(self, now: float, ok: bool, latency_s: float) -> None:
        self._design.healthy = ok
        self._design.counted.writes += 1


class SeedSample(Design):
    key = "a"
    title = "seed sample: 60 s checker, 2 states, 30 s Scan cache"

    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        super().__init__(scenario, clock)
        self.healthy = True  # the table's flag for this circuit
        self.counted = Usage()
        self.checker = SeedChecker(self, scenario.probe_interval_s)
        self._caches = [
            TtlCache(self._scan, ttl_s=CACHE_TTL_S, clock=clock, default=lambda _: True)
            for _ in range(scenario.environments)
        ]

    def admit(self, env: int, now: float) -> bool:
        return self._caches[env].get(CIRCUIT).value

    def complete(self, env: int, now: float, ok: bool, latency_s: float) -> None:
        """Outcomes are not reported in the seed: only the checker moves the flag."""

    def state(self, now: float) -> str:
        return "CLOSED" if self.healthy else "OPEN"

    def usage(self) -> Usage:
        return self.counted

    def _scan(self) -> dict[str, bool]:
        self.counted.reads += 1
        self.counted.items_read += TABLE_ITEMS
        return {CIRCUIT: self.healthy}
