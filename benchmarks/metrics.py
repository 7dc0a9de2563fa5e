"""The figures of one run, and their summary over seeds.

Definitions (BENCHMARKS.md quotes them):

- fallback answers: invocations answered without calling (a failed call is not one of them).
  In a flaky cell the dependency is up throughout, so every one is a false trip.
- calls to the dead dependency beyond the unavoidable: calls that started in the outage
  window, checker probes included, minus the unavoidable ones: invocations that started
  before the first failure could have returned, i.e. within one call timeout of the outage
  start for *hang*, within the first failure's latency (5 ms) for *error*.
- first fallback: from the outage start to the first fallback answer in the fleet.
- restore: from the recovery to the end of the first one-second window (counted from the
  recovery) in which at least 90 % of the answers were live.
- DynamoDB, as billed (``cost``): read and write request units (RRU, WRU) and failed
  conditional writes over the whole run; USD per 1M invocations at on-demand prices, over the
  whole run and over the healthy phase (before the outage starts); writes while healthy
  (before the outage); in flaky cells, WRU per failed call, the checker's failed probes
  included (as in calls to the dead dependency: a failed probe is a failed call, and a
  checker counts it like an environment's failure).
"""

from __future__ import annotations

import statistics
from bisect import bisect_left
from dataclasses import dataclass, fields
from typing import Optional, Sequence

from .cost import PRICES
from .simulator import FALLBACK, LIVE, Trace

RESTORED_SHARE = 0.9


@dataclass(frozen=True)
class Figures:
    """One run's figures; None where a figure does not apply or never happened in the run."""

    invocations: int
    fallbacks: int
    failed_calls: int
    probes: int
    dead_calls: Optional[float]  # beyond the unavoidable, probes included
    unavoidable: Optional[float]
    dead_probes: Optional[float]
    first_fallback_s: Optional[float]
    restore_s: Optional[float]
    rru: float
    wru: float
    failed_writes: float
    failed_writes_per_1k: float
    usd_per_1m: float
    healthy_writes: Optional[float]
    healthy_usd_per_1m: Optional[float]
    wru_per_failed_call: Optional[float]


@dataclass(frozen=True)
class Spread:
    """One figure over seeds: mean and worst (largest) of the runs where it happened."""

    mean: Optional[float]
    worst: Optional[float]
    missing: int  # runs where it never happened (e.g. never tripped)
    runs: int


def figures(trace: Trace) -> Figures:
    scenario, paths, arrivals, usage = trace.scenario, trace.paths, trace.arrivals, trace.usage
    n = len(paths)
    fallbacks = paths.count(FALLBACK)
    failed = n - fallbacks - paths.count(LIVE)
    outage: dict[str, Optional[float]] = dict.fromkeys(
        ("dead_calls", "unavoidable", "dead_probes", "first_fallback_s", "restore_s", "healthy_writes", "healthy_usd_per_1m")
    )
    if scenario.outage is not None:
        outage = _outage_figures(trace)
    return Figures(
        invocations=n,
        fallbacks=fallbacks,
        failed_calls=failed,
        probes=len(trace.probes),
        **outage,
        rru=usage.rru,
        wru=usage.wru,
        failed_writes=usage.failed_writes,
        failed_writes_per_1k=usage.failed_writes * 1000 / n,
        usd_per_1m=PRICES.usd(usage.rru, usage.wru) * 1e6 / n,
        wru_per_failed_call=_wru_per_failed_call(trace, failed + trace.failed_probes),
    )


def _wru_per_failed_call(trace: Trace, failed: int) -> Optional[float]:
    """In a flaky cell: WRU over the failed calls, the checker's failed probes included."""
    if trace.scenario.outage is not None or not failed:
        return None
    return trace.usage.wru / failed


def _outage_figures(trace: Trace) -> dict[str, Optional[float]]:
    scenario, paths, arrivals = trace.scenario, trace.paths, trace.arrivals
    assert scenario.outage is not None
    start, end = scenario.outage
    first, last = bisect_left(arrivals, start), bisect_left(arrivals, end)
    unavoidable_end = bisect_left(arrivals, start + scenario.unavoidable_s)
    called = (last - first) - paths.count(FALLBACK, first, last)
    unavoidable = (unavoidable_end - first) - paths.count(FALLBACK, first, unavoidable_end)
    probes = sum(1 for at in trace.probes if start <= at < end)
    fallback = paths.find(FALLBACK, first, last)
    healthy = trace.healthy_usage
    return {
        "dead_calls": float(called - unavoidable + probes),
        "unavoidable": float(unavoidable),
        "dead_probes": float(probes),
        "first_fallback_s": None if fallback < 0 else arrivals[fallback] - start,
        "restore_s": restored(trace, end),
        "healthy_writes": None if healthy is None else float(healthy.writes),
        "healthy_usd_per_1m": None if healthy is None or not first else PRICES.usd(healthy.rru, healthy.wru) * 1e6 / first,
    }


def restored(trace: Trace, end: float) -> Optional[float]:
    """End of the first whole second after ``end`` whose answers were at least 90 % live."""
    paths, arrivals = trace.paths, trace.arrivals
    lo = bisect_left(arrivals, end)
    for second in range(int(trace.scenario.after_s)):
        hi = bisect_left(arrivals, end + second + 1, lo)
        if hi > lo and paths.count(LIVE, lo, hi) >= RESTORED_SHARE * (hi - lo):
            return float(second + 1)
        lo = hi
    return None


def summarise(runs: Sequence[Figures]) -> dict[str, Spread]:
    """Each figure's mean and worst over the runs (seeds)."""
    summary = {}
    for field in fields(Figures):
        values = [getattr(run, field.name) for run in runs]
        present = [v for v in values if v is not None]
        summary[field.name] = Spread(
            statistics.fmean(present) if present else None,
            max(present) if present else None,
            len(values) - len(present),
            len(values),
        )
    return summary
