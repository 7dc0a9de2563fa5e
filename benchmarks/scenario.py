"""The benchmark scenarios of DESIGN.md section 12, and the one request stream every design sees.

Everything random is drawn here, once per (scenario, seed), before any design runs: arrival
times, the environment each request goes to, the draw that decides whether a call made for
that request fails in the flaky scenario, the same for each checker probe, and the phase of
the outage against the probe schedule. A design can only change which requests it sends to
the dependency, never what the dependency would have answered, so the comparison is paired.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, Optional

Kind = Literal["hang", "error", "flaky"]
KINDS: tuple[Kind, ...] = ("hang", "error", "flaky")


@dataclass(frozen=True)
class Scenario:
    """One run's settings. Times are seconds of simulated time from the start of the run."""

    kind: Kind
    seed: int
    rate_per_s: float = 50.0  # R: invocations per second, fleet-wide
    environments: int = 10  # E: execution environments, each serving one request at a time
    call_timeout_s: float = 2.0  # a hung call fails after this
    success_latency_s: float = 0.020
    error_latency_s: float = 0.005  # an HTTP 503 answers at once
    outage_s: float = 120.0
    warmup_s: float = 60.0  # healthy traffic before the earliest outage start
    probe_interval_s: float = 60.0  # the checkers' schedule, probes at 0, 60, 120, ... s
    after_s: float = 240.0  # watched after recovery: longer than any design's way back
    flaky_s: float = 600.0
    flaky_failure_rate: float = 0.03

    @property
    def outage(self) -> Optional[tuple[float, float]]:
        """[start, end) of the outage; the start is uniform over one probe interval after the warm-up."""
        if self.kind == "flaky":
            return None
        phase = random.Random(self.seed * 7919 + 1).uniform(0.0, self.probe_interval_s)
        start = self.warmup_s + phase
        return start, start + self.outage_s

    @property
    def duration_s(self) -> float:
        if self.kind == "flaky":
            return self.flaky_s
        return self.warmup_s + self.probe_interval_s + self.outage_s + self.after_s

    @property
    def failure_rate(self) -> float:
        """Share of calls that fail while the dependency is up."""
        return self.flaky_failure_rate if self.kind == "flaky" else 0.0


@dataclass(frozen=True)
class RequestStream:
    """Invocations in arrival order: ``arrivals[i]`` goes to environment ``environments[i]``."""

    arrivals: tuple[float, ...]
    environments: tuple[int, ...]
    draws: tuple[float, ...]  # uniform [0, 1): the call made for request i fails if below the failure rate
    probe_draws: tuple[float, ...]  # the same for the k-th checker probe


def request_stream(scenario: Scenario) -> RequestStream:
    """Poisson arrivals at R per second, each sent to an environment chosen uniformly at random.

    Drawn from the seed alone (the outage kind does not enter), so the hang, error and flaky
    runs of one seed also share their arrivals.
    """
    rng = random.Random(scenario.seed)
    arrivals: list[float] = []
    now = rng.expovariate(scenario.rate_per_s)
    while now < scenario.duration_s:
        arrivals.append(now)
        now += rng.expovariate(scenario.rate_per_s)
    environments = tuple(rng.randrange(scenario.environments) for _ in arrivals)
    draws = tuple(rng.random() for _ in arrivals)
    probes = int(scenario.duration_s // scenario.probe_interval_s) + 1
    probe_draws = tuple(rng.random() for _ in range(probes))
    return RequestStream(tuple(arrivals), environments, draws, probe_draws)


@dataclass(frozen=True)
class Dependency:
    """The protected service: its answer to a call depends only on when it starts and its draw."""

    scenario: Scenario

    def down(self, at: float) -> bool:
        window = self.scenario.outage
        return window is not None and window[0] <= at < window[1]

    def respond(self, at: float, draw: float) -> tuple[bool, float]:
        """(succeeded, seconds the call holds the caller) for a call starting at ``at``."""
        if self.down(at):
            if self.scenario.kind == "hang":
                return False, self.scenario.call_timeout_s
            return False, self.scenario.error_latency_s
        if draw < self.scenario.failure_rate:
            return False, self.scenario.error_latency_s
        return True, self.scenario.success_latency_s
