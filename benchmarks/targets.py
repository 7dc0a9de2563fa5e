"""The targets `make bench` checks, each judged on the measured figures with PASS or MISS.

Worst seeds are used for bounds (a bound must hold in every run), means for comparisons
between designs. A MISS says by how much, and why: the reason is the mechanism in the
design that produces the figure, stated once here so the printout and BENCHMARKS.md agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from breaker.machine import BreakerSettings
from circuit_breaker_extension.config import DEFAULT_CACHE_TTL_S

from .comparison import Comparison
from .lookup import Lookups
from .scenario import KINDS, Kind, Scenario

OUTAGE_KINDS: tuple[Kind, ...] = ("hang", "error")
LOOKUP_FACTOR = 3.0
CALLS_FACTOR = 10.0

WHY = {
    "restore": (
        "the open duration backs off (open_backoff_multiplier 2, capped at twice the open "
        "duration): a failed half-open trial lengthens the next open period, and only that "
        "period's end lets a trial through (the checker takes no trial while OPEN)."
    ),
    "dynamodb-a": (
        "(a) and (d) refresh each environment's cache once per 30 s TTL, so their read requests "
        "are alike; (d) also writes every reported failure with a conditional write (the "
        "fleet-wide count that trips the circuit after 5 failures instead of after a probe), "
        "re-reads after a failure (at most once a second per environment), takes half-open "
        "trials with conditional writes and loses some writes to conflicts when environments "
        "fail together. Those requests are what buy the far fewer calls to the dead dependency "
        "(the target above). Per item read, (a)'s Scan pays for every circuit in the table (items/1k "
        "column), which (d)'s BatchGetItem does not."
    ),
    "flaky": (
        "the circuit tripped on failures that no success known to the fleet separated: an "
        "environment writes a success only when its copy of the record shows a streak, and a "
        "failure report carries only its own environment's latest success."
    ),
    "lookup": "the extension's handler does more per request than the floor's (routing, token check, cache).",
    "calls": "the circuit did not short-circuit within one call timeout plus one TTL of the outage start.",
}


@dataclass(frozen=True)
class Target:
    name: str
    passed: bool
    measured: str
    limit: str
    why: Optional[str] = None  # set when missed: by how much, and the mechanism


def check(comparison: Comparison, lookups: Lookups) -> list[Target]:
    base = Scenario("hang", 0)
    settings = BreakerSettings()
    targets: list[Target] = []
    calls_bound = settings.failure_threshold + base.rate_per_s * (base.call_timeout_s + DEFAULT_CACHE_TTL_S)
    restore_bound = settings.open_duration_s + base.probe_interval_s + DEFAULT_CACHE_TTL_S
    for kind in OUTAGE_KINDS:
        d = comparison.summary(kind, "d")
        a = comparison.summary(kind, "a")
        worst_calls = _value(d["calls_to_dead"].worst)
        targets.append(_at_most(f"{kind}: (d) calls to the dead dependency, worst seed", worst_calls, calls_bound, "", "calls"))
        ratio = _value(a["calls_to_dead"].mean) / max(_value(d["calls_to_dead"].mean), 1.0)
        targets.append(
            Target(
                f"{kind}: (d) sends >= {CALLS_FACTOR:g}x fewer calls than (a) (means)",
                ratio >= CALLS_FACTOR,
                f"{ratio:.1f}x",
                f">= {CALLS_FACTOR:g}x",
                None if ratio >= CALLS_FACTOR else f"short by {CALLS_FACTOR / ratio:.1f}x: {WHY['calls']}",
            )
        )
        restore = d["restore_90_s"]
        worst_restore = restore.worst if restore.missing == 0 else None
        targets.append(_at_most(f"{kind}: (d) recovery to >= 90 % live, worst seed", worst_restore, restore_bound, " s", "restore"))
    for kind in KINDS:
        targets.extend(_dynamodb(comparison, kind))
    flaky = comparison.summary("flaky", "d")["fallbacks"]
    targets.append(
        Target(
            "flaky: (d) gives no fallback answer (no false trip)",
            flaky.worst == 0,
            f"{flaky.mean:.0f} mean, {flaky.worst:.0f} worst of {flaky.runs} seeds",
            "0",
            None if flaky.worst == 0 else f"{_tripped_runs(comparison)} of {flaky.runs} seeds tripped: {WHY['flaky']}",
        )
    )
    targets.append(_lookup(lookups))
    return targets


def _value(value: Optional[float]) -> float:
    if value is None:
        raise ValueError("figure missing: the scenario produced none")
    return value


def _at_most(name: str, measured: Optional[float], limit: float, unit: str, why: str) -> Target:
    if measured is None:
        return Target(name, False, "never", f"<= {limit:g}{unit}", f"never happened within the run: {WHY[why]}")
    passed = measured <= limit
    detail = None if passed else f"over by {measured - limit:.1f}{unit} ({measured / limit - 1:.0%}): {WHY[why]}"
    return Target(name, passed, f"{measured:.1f}{unit}", f"<= {limit:g}{unit}", detail)


def _requests(comparison: Comparison, kind: Kind, design: str) -> float:
    summary = comparison.summary(kind, design)
    return _value(summary["reads_per_1k"].mean) + _value(summary["writes_per_1k"].mean)


def _dynamodb(comparison: Comparison, kind: Kind) -> list[Target]:
    d = _requests(comparison, kind, "d")
    targets = []
    for other in ("a", "c"):
        theirs = _requests(comparison, kind, other)
        passed = d < theirs
        why = None
        if not passed:
            reason = WHY.get(f"dynamodb-{other}", "")
            why = f"{d / theirs:.1f}x as many ({d - theirs:.1f} more per 1k): {reason}"
        targets.append(
            Target(
                f"{kind}: (d) DynamoDB requests/1k invocations < ({other})",
                passed,
                f"{d:.1f} vs {theirs:.1f}",
                f"< {theirs:.1f}",
                why,
            )
        )
    return targets


def _tripped_runs(comparison: Comparison) -> int:
    return sum(1 for run in comparison.runs[("flaky", "d")] if run.fallbacks)


def _lookup(lookups: Lookups) -> Target:
    extension, floor = lookups.extension, lookups.floor
    ratio = extension.p50_us / floor.p50_us
    passed = ratio <= LOOKUP_FACTOR
    return Target(
        f"cache-hit lookup p50 <= {LOOKUP_FACTOR:g}x the bare loopback round trip",
        passed,
        f"{extension.p50_us:.0f} us = {ratio:.2f}x {floor.p50_us:.0f} us",
        f"<= {LOOKUP_FACTOR:g}x",
        None if passed else f"over by {ratio / LOOKUP_FACTOR - 1:.0%}: {WHY['lookup']}",
    )
