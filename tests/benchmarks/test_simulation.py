"""The outage simulator's bookkeeping, on scenarios small enough to check by hand.

No timing is asserted: these pin down that every design is served the same requests, that
what the figures count is what the designs did, and that a seed fixes every figure.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

import pytest

from benchmarks.designs import DESIGNS, CurrentRelease, PybreakerFleet, ReadPerCall, SeedSample, ThisProject
from benchmarks.designs.base import Design, Usage
from benchmarks.designs.seed_sample import CACHE_TTL_S
from benchmarks.designs.this_project import CIRCUIT, _store
from benchmarks.designs.versioned_table import VersionedTable
from benchmarks.metrics import figures
from benchmarks.scenario import Dependency, Scenario, probe_draw, request_stream
from benchmarks.simulator import FALLBACK, LIVE, SimClock, simulate
from breaker.machine import BreakerSettings, State, force

TINY = Scenario("error", seed=3, rate_per_s=5.0, environments=3, warmup_s=10.0, probe_interval_s=20.0, after_s=60.0, outage_min_s=30.0, outage_max_s=40.0)


@pytest.mark.parametrize("kind", ["hang", "error", "flaky"])
def test_every_design_is_served_the_same_requests(kind: str) -> None:
    scenario = replace(TINY, kind=kind, flaky_s=60.0, failure_rate=0.1 if kind == "flaky" else 0.0)
    stream = request_stream(scenario)
    dependency = Dependency(scenario)
    for design in DESIGNS:
        trace = simulate(design, scenario)
        assert trace.arrivals == stream.arrivals and trace.environments == stream.environments, design.key
        for path, arrival, draw in zip(trace.paths, stream.arrivals, stream.draws):
            if path != FALLBACK:  # a call gets the answer the stream fixed for it
                ok, _ = dependency.respond(arrival, draw)
                assert (path == LIVE) == ok, design.key


class Recorder(Design):
    """Admits every call; records what the simulator hands it."""

    key = "r"
    title = "recorder"

    def __init__(self, scenario: Scenario, clock: SimClock, knob_s: Optional[float] = None) -> None:
        super().__init__(scenario, clock, knob_s)
        self.admitted: dict[int, tuple[int, float]] = {}
        self.in_flight: dict[int, int] = {}
        self.most_in_flight = 0
        self.completed: list[tuple[int, int, float, float]] = []

    def admit(self, env: int, now: float, call: int) -> bool:
        self.admitted[call] = (env, now)
        self.in_flight[env] = self.in_flight.get(env, 0) + 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight[env])
        return True

    def complete(self, env: int, call: int, now: float, ok: bool, latency_s: float) -> None:
        assert self.admitted[call][0] == env
        self.in_flight[env] -= 1
        self.completed.append((call, env, now, latency_s))

    def state(self, now: float) -> str:
        return "CLOSED"

    def usage(self) -> Usage:
        return Usage()


def test_calls_are_admitted_at_arrival_and_may_overlap_in_one_environment() -> None:
    scenario = replace(TINY, kind="hang", rate_per_s=20.0, environments=2)
    stream = request_stream(scenario)
    clock = SimClock()
    design = Recorder(scenario, clock)
    from benchmarks.simulator import _Run

    _Run(design, scenario, stream, clock, False).run()
    assert [design.admitted[i] for i in range(len(stream.arrivals))] == list(zip(stream.environments, stream.arrivals))
    assert design.most_in_flight > 1  # a hung call does not hold back the next one
    assert sorted(c for c, *_ in design.completed) == list(range(len(stream.arrivals)))
    for call, _, ended, latency in design.completed:
        assert ended == pytest.approx(stream.arrivals[call] + latency)
    assert [ended for _, _, ended, _ in design.completed] == sorted(ended for _, _, ended, _ in design.completed)


def test_a_seed_fixes_every_figure() -> None:
    for design in DESIGNS:
        assert figures(simulate(design, TINY)) == figures(simulate(design, TINY)), design.key
    assert request_stream(replace(TINY, seed=4)).arrivals != request_stream(TINY).arrivals
    assert replace(TINY, seed=4).outage != TINY.outage


def test_outage_lengths_and_phases_are_drawn_per_seed() -> None:
    base = Scenario("hang", 0)
    windows = [replace(base, seed=seed).outage for seed in range(30)]
    lengths = [end - start for start, end in windows]  # type: ignore[misc]
    phases = [start - base.warmup_s for start, _ in windows]  # type: ignore[misc]
    assert all(60 <= length <= 180 for length in lengths) and max(lengths) - min(lengths) > 60
    assert all(0 <= phase < 60 for phase in phases) and max(phases) - min(phases) > 30


class MultiProbe(Recorder):
    """A checker that probes 3 times per run, 5 s apart after each result."""

    key = "m"

    def __init__(self, scenario: Scenario, clock: SimClock, knob_s: Optional[float] = None) -> None:
        super().__init__(scenario, clock, knob_s)
        self.results: list[tuple[float, bool, float]] = []
        design = self

        class Checker:
            interval_s = scenario.probe_interval_s

            def start(self, now: float) -> bool:
                return True

            def skipped(self, now: float) -> Optional[float]:
                return None

            def done(self, now: float, ok: bool, latency_s: float) -> Optional[float]:
                design.results.append((now, ok, latency_s))
                in_run = sum(1 for at, _, _ in design.results if at > now - 15)
                return 5.0 if in_run < 3 else None

        self.checker = Checker()


def test_a_checker_run_may_probe_again_and_probe_answers_are_paired_by_time() -> None:
    scenario = replace(TINY, kind="hang", phase_s=0.0, outage_s=30.0)  # down over [10, 40)
    trace = simulate(MultiProbe, scenario)
    # Runs at 0, 20, 40, 60, ...: three probes each, 5 s after the previous one's answer.
    assert trace.probes[:3] == pytest.approx((0.0, 5.02, 10.04))
    assert trace.probes[3:6] == pytest.approx((20.0, 27.0, 34.0))  # hung probes answer after 2 s
    assert probe_draw(scenario, 27.0) == probe_draw(replace(scenario, kind="error"), 27.0)


def test_metric_definitions_on_a_hand_made_trace() -> None:
    from benchmarks.simulator import Trace

    scenario = Scenario("hang", 0, environments=2, phase_s=0.0, outage_s=10.0, warmup_s=10.0, after_s=5.0)  # down [10, 20)
    arrivals = [5.0, 10.5, 11.9, 12.1, 13.0, 19.0, 20.2, 20.6, 21.1, 21.3, 21.5, 21.7, 22.5]
    paths = bytearray([LIVE, 1, 1, 1, FALLBACK, FALLBACK, FALLBACK, LIVE, LIVE, LIVE, LIVE, FALLBACK, LIVE])
    probes = (0.0, 15.0, 60.0)
    trace = Trace(scenario, "x", arrivals, [0] * len(arrivals), paths, probes, 1, Usage(), Usage(writes=2, rru=1, wru=2), ())
    got = figures(trace)
    # Calls at 10.5 and 11.9 started within one call timeout (2 s) of the start: unavoidable.
    assert got.unavoidable == 2
    assert got.dead_calls == 1 + 1  # the call at 12.1, and the probe at 15
    assert got.first_fallback_s == pytest.approx(3.0)
    # Second [20, 21): fallback + live = 50 % live; [21, 22): 3 of 4 live = 75 %; [22, 23): 100 %.
    assert got.restore_s == 3.0
    assert got.healthy_writes == 2 and got.fallbacks == 4


def test_seed_checker_opens_only_on_a_timeout() -> None:
    clock = SimClock()
    seed = SeedSample(TINY, clock)
    assert seed.checker is not None
    seed.checker.done(1.0, False, TINY.error_latency_s)  # HTTP 503: written as healthy
    assert seed.healthy and seed.usage().writes == 1
    seed.checker.done(2.0, False, TINY.call_timeout_s)
    assert not seed.healthy


def test_the_seed_design_counts_one_scan_per_refresh_per_environment() -> None:
    trace = simulate(SeedSample, TINY)
    expected = 0
    for env in range(TINY.environments):
        loaded_at = None
        for at, where in zip(trace.arrivals, trace.environments):
            if where == env and (loaded_at is None or at - loaded_at >= CACHE_TTL_S):
                expected += 1
                loaded_at = at
    assert trace.usage.reads == expected and trace.usage.rru == expected * 0.5
    assert trace.usage.writes == len(trace.probes) == len(range(0, int(TINY.duration_s), int(TINY.probe_interval_s)))


@pytest.mark.parametrize("design", [ReadPerCall, CurrentRelease])
def test_the_library_designs_lose_the_update_of_a_concurrent_failure(design: type[Design]) -> None:
    concurrent = design(TINY, SimClock())
    assert concurrent.admit(0, 1.0, 0) and concurrent.admit(1, 1.0, 1)  # both read failureCount 0
    concurrent.complete(0, 0, 3.0, False, 2.0)
    concurrent.complete(1, 1, 3.0, False, 2.0)
    sequential = design(TINY, SimClock())
    for call in range(2):
        assert sequential.admit(call, 1.0, call)
        sequential.complete(call, call, 1.0, False, 0.0)
    assert concurrent._stored.failure_count == 1  # type: ignore[attr-defined]
    assert sequential._stored.failure_count == 2  # type: ignore[attr-defined]


def test_the_current_release_backs_off_from_its_timeout_to_its_cap() -> None:
    design = CurrentRelease(TINY, SimClock())
    for call in range(5):
        design.admit(0, 0.0, call)
        design.complete(0, call, 0.0, False, 0.0)
    assert not design.admit(0, 9.9, 5) and design.admit(0, 10.0, 6)  # OPEN for 10 s, then HALF
    design.complete(0, 6, 10.0, False, 0.0)  # a HALF failure: 20 s
    assert not design.admit(0, 29.9, 7) and design.admit(0, 30.0, 8)
    design.complete(0, 8, 30.0, False, 0.0)  # 40 s
    assert not design.admit(0, 69.9, 9) and design.admit(0, 70.0, 10)
    design.complete(0, 10, 70.0, False, 0.0)  # 80 s, capped at 60 s
    assert not design.admit(0, 129.9, 11) and design.admit(0, 130.0, 12)


def test_the_versioned_table_refuses_a_write_on_a_stale_version_and_bills_it() -> None:
    table = VersionedTable()
    flip = lambda record: force(record, State.FORCED_OPEN if record.state is not State.FORCED_OPEN else State.FORCED_CLOSED, 1_000)  # noqa: E731
    stale = _store(table).apply(CIRCUIT, flip).record  # version 1
    _store(table).apply(CIRCUIT, flip, current=stale)  # version 2, written from version 1
    applied = _store(table).apply(CIRCUIT, flip, current=stale)  # version 1 is stale now
    assert applied.record.version == 3 and applied.record.state is State.FORCED_OPEN
    assert (table.usage.writes, table.usage.failed_writes, table.usage.wru) == (4, 1, 4)
    assert (table.usage.reads, table.usage.rru) == (1, 1)  # the first apply read (strongly consistent)


def test_pybreaker_runs_on_the_simulated_clock() -> None:
    clock = SimClock()
    design = PybreakerFleet(TINY, clock)
    with design.running():
        for call in range(5):
            assert design.admit(0, clock.now, call)
            design.complete(0, call, clock.now, False, 0.0)
        assert not design.admit(0, clock.now, 5)
        clock.now = 29.9
        assert not design.admit(0, clock.now, 6)
        clock.now = 30.1  # no wall time passed: only the simulated clock moved
        assert design.admit(0, clock.now, 7)
        assert design.state(clock.now) == "HALF_OPEN"
        design.complete(0, 7, clock.now, True, 0.0)
        assert design.state(clock.now) == "CLOSED"


def test_the_knob_reaches_each_design() -> None:
    clock = SimClock()
    assert PybreakerFleet(TINY, clock, 7.0)._breakers[0].reset_timeout == 7.0  # type: ignore[attr-defined]
    assert ReadPerCall(TINY, clock, 7.0).timeout_s == 7.0
    assert CurrentRelease(TINY, clock, 7.0).timeout_s == 7.0
    assert ThisProject(TINY, clock, 7.0).checker._while_open_s == 7.0  # type: ignore[union-attr]


def test_this_project_short_circuits_a_fleet_after_the_threshold() -> None:
    trace = simulate(ThisProject, TINY)
    start, end = TINY.outage or (0.0, 0.0)
    during = [path for at, path in zip(trace.arrivals, trace.paths) if start <= at < end]
    assert sum(1 for p in during if p != FALLBACK) >= BreakerSettings().minimum_failures
    assert during[-1] == FALLBACK
