"""Did the circuits do what the scenario expects, within the design's bound? Pure functions.

The bound on calls that reach a failing service while its circuit is OPEN comes from how an
execution environment learns of a trip (DESIGN.md section 5). An environment that has not
read the OPEN record yet may still send one call, or have one in flight when the trip is
written; that call fails, and reporting it teaches the environment the trip: the report's
count is refused and DynamoDB hands the OPEN record back, so the very next lookup refuses.
And the checker probes an OPEN circuit on purpose, every ``probe.interval_while_open_s``, so
that a recovery is seen within seconds: each of those probes reaches the failing service. So
during each OPEN period of a circuit, the calls that reach its failing service number at most
one per execution environment that calls it, plus one probe per probe interval:

    bound = business environments of the service (--environments) + 1 checker environment
            + ceil(length of the OPEN period / probe interval)

A call counts as reaching a failing service when the mock failed it as the breaker sees it (not
2xx, or slower than the slow-call threshold or the call timeout) and arrived while the
circuit's record said OPEN: from ``opened_at`` until ``next_attempt_at``, after which trial
calls are the point of HALF_OPEN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from .mocks import ServiceCalls
from .monitor import Timeline, Transition


@dataclass(frozen=True)
class OpenCallBound:
    """Calls that may reach a failing service during one OPEN period (see the module docstring)."""

    business_environments: int
    probe_interval_ms: float  # the checker's interval between probes while OPEN, on the wall clock

    @property
    def environments(self) -> int:
        return self.business_environments + 1

    def for_period(self, start_ms: int, end_ms: int) -> int:
        return self.environments + math.ceil((end_ms - start_ms) / self.probe_interval_ms)


@dataclass(frozen=True)
class ExpectationResult:
    service: str
    expected: tuple[str, ...]
    seen_at_ms: Optional[tuple[int, ...]]  # when each expected state was entered; None if not all were

    @property
    def met(self) -> bool:
        return self.seen_at_ms is not None


@dataclass(frozen=True)
class BoundResult:
    service: str
    per_period: tuple[int, ...]  # failed calls that arrived in each OPEN period, in order
    bounds: tuple[int, ...]  # what the design allows in each of those periods

    @property
    def held(self) -> bool:
        return all(count <= bound for count, bound in zip(self.per_period, self.bounds))

    @property
    def worst(self) -> tuple[int, int]:
        """(calls, bound) of the period closest to its bound; (0, 0) without an OPEN period."""
        return max(zip(self.per_period, self.bounds), key=lambda pair: pair[0] - pair[1], default=(0, 0))

    @property
    def total(self) -> int:
        return sum(self.per_period)


@dataclass(frozen=True)
class Verdict:
    expectations: tuple[ExpectationResult, ...]
    bounds: tuple[BoundResult, ...]

    @property
    def passed(self) -> bool:
        return all(e.met for e in self.expectations) and all(b.held for b in self.bounds)


def match_in_order(expected: Sequence[str], transitions: Sequence[Transition]) -> Optional[tuple[int, ...]]:
    """The times the expected states were entered, each after the previous one; None if one never was."""
    times: list[int] = []
    remaining = iter(transitions)
    for state in expected:
        found = next((t for t in remaining if t.state == state), None)
        if found is None:
            return None
        times.append(found.at_ms)
    return tuple(times)


def bound_result(service: str, timeline: Timeline, calls: ServiceCalls, bound: OpenCallBound, at_ms: int) -> BoundResult:
    periods = timeline.open_periods(at_ms)
    return BoundResult(
        service,
        tuple(calls.failed_between(start, end) for start, end in periods),
        tuple(bound.for_period(start, end) for start, end in periods),
    )


def judge(
    expect: Mapping[str, Sequence[str]],
    timelines: Mapping[str, Timeline],
    calls: Mapping[str, ServiceCalls],
    bounds: Mapping[str, OpenCallBound],
    at_ms: int,
) -> Verdict:
    expectations = tuple(
        ExpectationResult(service, tuple(states), match_in_order(states, timelines[service].transitions))
        for service, states in expect.items()
    )
    results = tuple(bound_result(service, timelines[service], calls[service], bounds[service], at_ms) for service in timelines)
    return Verdict(expectations, results)
