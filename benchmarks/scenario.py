"""The benchmark grid of DESIGN.md section 12, and the one request stream every design sees.

Cells: E execution environments x R invocations per second x case. Cases: *hang* (every call
started while the dependency is down fails after the 2 s call timeout), *error* (HTTP 503
after 5 ms), and *flaky* at 3 % and at 10 % (the dependency is up throughout and that share of
calls fails at random, with an HTTP 503). The outage's length is drawn per seed, uniformly from
60 to 180 s, and it starts after a warm-up plus a phase drawn uniformly over one 60 s probe
interval, so it falls anywhere against the checkers' schedule (probes at 0, 60, 120, ... s).

Everything random is drawn here, once per (cell, seed), before any design runs: arrival
times, the environment each request goes to, the draw that decides whether a call made for
that request fails in a flaky cell, and the outage's phase and length. A checker probe's draw
is derived from the seed and the probe's start time (``probe_draw``), so probes at the same
instant get the same answer in every design, however many probes a design's runs send. A
design can only change which requests it sends to the dependency, never what the dependency
would have answered, so the comparison is paired.

At R = 50 a cell is watched for 60 s of warm-up and 240 s after the recovery and flaky cells
run 600 s; at higher rates the warm-up is 30 s (one cache TTL) and a flaky cell runs for
100,000 calls but at least 60 s; after the recovery, R = 500 is watched for 100 s (longer than a
60 s probe interval plus a 30 s cache TTL, the slowest way back of any design) and R = 5000
for 60 s, which keeps the whole grid within its time budget: a design that takes longer to
restore there shows "never" for that seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Literal, Optional

Kind = Literal["hang", "error", "flaky"]

ENVIRONMENTS = (10, 100, 1000)
RATES = (50.0, 500.0, 5000.0)
FLAKY_CALLS = 100_000
MIN_FLAKY_S = 60.0


@dataclass(frozen=True)
class Case:
    name: str
    kind: Kind
    failure_rate: float = 0.0  # share of calls that fail while the dependency is up


CASES = (Case("flaky 3%", "flaky", 0.03), Case("flaky 10%", "flaky", 0.10), Case("hang", "hang"), Case("error", "error"))
OUTAGE_CASES = tuple(c for c in CASES if c.kind != "flaky")
FLAKY_CASES = tuple(c for c in CASES if c.kind == "flaky")


@dataclass(frozen=True)
class Scenario:
    """One run's settings. Times are seconds of simulated time from the start of the run."""

    kind: Kind
    seed: int
    rate_per_s: float = 50.0  # R: invocations per second, fleet-wide
    environments: int = 10  # E: execution environments (distinct breaker caches)
    failure_rate: float = 0.0  # share of calls that fail while the dependency is up
    call_timeout_s: float = 2.0  # a hung call fails after this
    success_latency_s: float = 0.020
    error_latency_s: float = 0.005  # an HTTP 503 answers at once
    outage_min_s: float = 60.0
    outage_max_s: float = 180.0
    warmup_s: float = 60.0  # healthy traffic before the earliest outage start
    probe_interval_s: float = 60.0  # the checkers' schedule, probes at 0, 60, 120, ... s
    after_s: float = 240.0  # watched after recovery: longer than any design's way back
    flaky_s: float = 600.0
    phase_s: Optional[float] = None  # fixes the outage's phase instead of drawing it (tests)
    outage_s: Optional[float] = None  # fixes the outage's length instead of drawing it (tests)
    outage: Optional[tuple[float, float]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        window = None
        if self.kind != "flaky":
            draw = random.Random(self.seed * 7919 + 1)
            phase, length = draw.uniform(0.0, self.probe_interval_s), draw.uniform(self.outage_min_s, self.outage_max_s)
            start = self.warmup_s + (phase if self.phase_s is None else self.phase_s)
            window = (start, start + (length if self.outage_s is None else self.outage_s))
        object.__setattr__(self, "outage", window)  # [start, end) of the outage; None when flaky

    @property
    def duration_s(self) -> float:
        if self.outage is None:
            return self.flaky_s
        return self.outage[1] + self.after_s

    @property
    def unavoidable_s(self) -> float:
        """How long after the outage start a call may still start before the first failure could return."""
        return self.call_timeout_s if self.kind == "hang" else self.error_latency_s


def scenario(case: Case, environments: int, rate_per_s: float, seed: int) -> Scenario:
    """The scenario of one grid cell and seed, watched as long as the rate needs (module docstring)."""
    base = Scenario(case.kind, seed, rate_per_s, environments, case.failure_rate)
    if rate_per_s <= 50:
        return base
    after_s = 100.0 if rate_per_s <= 500 else 60.0
    return replace(base, warmup_s=30.0, after_s=after_s, flaky_s=max(MIN_FLAKY_S, FLAKY_CALLS / rate_per_s))


def seeds(rate_per_s: float) -> int:
    return 10 if rate_per_s <= 50 else 3


@dataclass(frozen=True)
class RequestStream:
    """Invocations in arrival order: ``arrivals[i]`` goes to environment ``environments[i]``."""

    arrivals: list[float]
    environments: list[int]
    draws: list[float]  # uniform [0, 1): the call made for request i fails (flaky) if below the failure rate


def request_stream(scenario: Scenario) -> RequestStream:
    """Poisson arrivals at R per second, each sent to an environment chosen uniformly at random.

    Drawn from the seed and the cell's E and R alone (not the case), so the hang, error and
    flaky runs of one seed share their arrivals over their common length.
    """
    rng = random.Random(scenario.seed * 1_000_003 + scenario.environments * 101 + int(scenario.rate_per_s))
    rate, horizon, uniform = scenario.rate_per_s, scenario.duration_s, rng.random
    expovariate = rng.expovariate
    arrivals: list[float] = []
    append = arrivals.append
    now = expovariate(rate)
    while now < horizon:
        append(now)
        now += expovariate(rate)
    environments = scenario.environments
    envs = [int(uniform() * environments) for _ in arrivals]
    draws = [uniform() for _ in arrivals]
    return RequestStream(arrivals, envs, draws)


def probe_draw(scenario: Scenario, at: float) -> float:
    """The draw of a checker probe starting at ``at``: fixed by the seed and the instant alone."""
    return random.Random(scenario.seed * 1_000_003 + round(at * 1000)).random()


class Dependency:
    """The protected service: its answer to a call depends only on when it starts and its draw."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        start, end = scenario.outage or (float("inf"), float("inf"))
        self.start, self.end = start, end
        self.failed_latency_s = scenario.call_timeout_s if scenario.kind == "hang" else scenario.error_latency_s

    def down(self, at: float) -> bool:
        return self.start <= at < self.end

    def respond(self, at: float, draw: float) -> tuple[bool, float]:
        """(succeeded, seconds the call holds the caller) for a call starting at ``at``."""
        if self.start <= at < self.end:
            return False, self.failed_latency_s
        if draw < self.scenario.failure_rate:
            return False, self.scenario.error_latency_s
        return True, self.scenario.success_latency_s
