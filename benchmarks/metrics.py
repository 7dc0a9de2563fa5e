"""The figures of one run, and their summary over seeds.

Definitions (BENCHMARKS.md quotes them):

- calls to the dead dependency: invocations that called it while it was down (calls that
  started in the outage window); checker probes are counted apart;
- time to trip: from the outage start to the first fallback answer in the fleet, and to the
  moment every environment has answered a fallback at least once;
- time to restore: from the recovery to the first live success, and to the end of the first
  one-second window (counted from the recovery) in which at least 90 % of answers were live;
- DynamoDB requests per 1,000 invocations over the whole run;
- fallback answers: invocations answered without calling (a failed call is not one of them).
  In the flaky scenario the dependency is up throughout, so every one is a false trip.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, fields
from typing import Iterable, Optional, Sequence

from .simulator import Answer, Trace

RESTORED_SHARE = 0.9


@dataclass(frozen=True)
class Figures:
    """One run's figures; None where a figure does not apply or never happened in the run."""

    calls_to_dead: Optional[float]
    trip_first_s: Optional[float]
    trip_all_s: Optional[float]
    restore_first_s: Optional[float]
    restore_90_s: Optional[float]
    reads_per_1k: float
    items_read_per_1k: float
    writes_per_1k: float
    conflicts_per_1k: float
    fallbacks: float
    failed_calls: float
    probes: float


@dataclass(frozen=True)
class Spread:
    """One figure over seeds: mean and worst (largest) of the runs where it happened."""

    mean: Optional[float]
    worst: Optional[float]
    missing: int  # runs where it never happened (e.g. never tripped)
    runs: int


def figures(trace: Trace) -> Figures:
    answers = trace.answers
    per_1k = 1000 / len(answers)
    usage = trace.usage
    window = trace.scenario.outage
    outage: dict[str, Optional[float]] = dict.fromkeys(
        ("calls_to_dead", "trip_first_s", "trip_all_s", "restore_first_s", "restore_90_s")
    )
    if window is not None:
        outage = _outage_figures(answers, window, trace.scenario.environments, trace.scenario.after_s)
    return Figures(
        **outage,
        reads_per_1k=usage.reads * per_1k,
        items_read_per_1k=usage.items_read * per_1k,
        writes_per_1k=usage.writes * per_1k,
        conflicts_per_1k=usage.conflicts * per_1k,
        fallbacks=sum(1 for a in answers if a.path == "fallback"),
        failed_calls=sum(1 for a in answers if a.path == "failed"),
        probes=trace.probes,
    )


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


def _outage_figures(
    answers: Sequence[Answer], window: tuple[float, float], environments: int, after_s: float
) -> dict[str, Optional[float]]:
    start, end = window
    during = [a for a in answers if start <= a.start < end]
    fallbacks = [a for a in during if a.path == "fallback"]
    first_per_env: dict[int, float] = {}
    for answer in fallbacks:
        first_per_env.setdefault(answer.env, answer.start)
    after = [a for a in answers if a.start >= end]
    live_after = [a.start for a in after if a.path == "live"]
    return {
        "calls_to_dead": float(sum(1 for a in during if a.path != "fallback")),
        "trip_first_s": _since(start, [a.start for a in fallbacks]),
        "trip_all_s": max(first_per_env.values()) - start if len(first_per_env) == environments else None,
        "restore_first_s": _since(end, live_after),
        "restore_90_s": _restored(after, end, after_s),
    }


def _since(origin: float, times: Iterable[float]) -> Optional[float]:
    first = min(times, default=math.inf)
    return None if first == math.inf else first - origin


def _restored(after: Sequence[Answer], end: float, after_s: float) -> Optional[float]:
    """End of the first whole second after ``end`` whose answers were at least 90 % live."""
    seconds: dict[int, list[bool]] = defaultdict(list)
    for answer in after:
        seconds[int(answer.start - end)].append(answer.path == "live")
    for second in range(int(after_s)):
        live = seconds.get(second)
        if live and sum(live) >= RESTORED_SHARE * len(live):
            return float(second + 1)
    return None
