"""The outage simulator's bookkeeping, on scenarios small enough to check by hand.

No timing is asserted: these pin down that every design is served the same requests, that
what the figures count is what the designs did, and that a seed fixes every figure.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks.designs import DESIGNS, PybreakerFleet, ReadPerCall, SeedSample, ThisProject
from benchmarks.designs.seed_sample import CACHE_TTL_S, TABLE_ITEMS
from benchmarks.designs.this_project import CIRCUIT, _store
from benchmarks.designs.versioned_table import VersionedTable
from benchmarks.metrics import figures
from benchmarks.scenario import Dependency, Scenario, request_stream
from benchmarks.simulator import SimClock, simulate
from breaker.machine import BreakerSettings, Outcome, record_outcome

TINY = Scenario("error", seed=3, rate_per_s=5.0, environments=3, warmup_s=10.0, probe_interval_s=20.0, outage_s=30.0, after_s=60.0)


@pytest.mark.parametrize("kind", ["hang", "error", "flaky"])
def test_every_design_is_served_the_same_requests(kind: str) -> None:
    scenario = replace(TINY, kind=kind, flaky_s=60.0)
    stream = request_stream(scenario)
    dependency = Dependency(scenario)
    for design in DESIGNS:
        trace = simulate(design, scenario)
        assert len(trace.answers) == len(stream.arrivals), design.key
        assert [a.env for a in trace.answers] == list(stream.environments), design.key
        for answer, arrival, draw in zip(trace.answers, stream.arrivals, stream.draws):
            assert answer.start >= arrival
            if answer.path != "fallback":  # a call gets the answer the stream fixed for it
                ok, _ = dependency.respond(answer.start, draw)
                assert (answer.path == "live") == ok, (design.key, answer)


def test_the_seed_design_counts_one_scan_per_refresh_per_environment() -> None:
    trace = simulate(SeedSample, TINY)
    expected = 0
    for env in range(TINY.environments):
        loaded_at = None
        for answer in (a for a in trace.answers if a.env == env):
            if loaded_at is None or answer.start - loaded_at >= CACHE_TTL_S:
                expected += 1
                loaded_at = answer.start
    assert trace.usage.reads == expected
    assert trace.usage.items_read == expected * TABLE_ITEMS
    assert trace.usage.writes == trace.probes == len(range(0, int(TINY.duration_s), int(TINY.probe_interval_s)))


def test_a_seed_fixes_every_figure() -> None:
    for design in DESIGNS:
        first, again = simulate(design, TINY), simulate(design, TINY)
        assert first.answers == again.answers, design.key
        assert figures(first) == figures(again), design.key
    assert request_stream(replace(TINY, seed=4)).arrivals != request_stream(TINY).arrivals
    assert replace(TINY, seed=4).outage != TINY.outage


def test_read_per_call_loses_the_update_of_a_concurrent_failure() -> None:
    design = ReadPerCall(TINY, SimClock())
    assert design.admit(0, 1.0) and design.admit(1, 1.0)  # both read failureCount 0
    design.complete(0, 3.0, False, 2.0)
    design.complete(1, 3.0, False, 2.0)
    again = ReadPerCall(TINY, SimClock())
    assert again.admit(0, 1.0)
    again.complete(0, 1.0, False, 0.0)
    assert again.admit(1, 1.0)
    again.complete(1, 1.0, False, 0.0)
    # Two failures each time; the concurrent pair stored one, the sequential pair two.
    assert design._stored.failure_count == 1
    assert again._stored.failure_count == 2
    assert design.usage().writes == again.usage().writes == 2


def test_the_versioned_table_refuses_a_write_on_a_stale_version_and_counts_it() -> None:
    table = VersionedTable()
    settings = BreakerSettings()
    failed = lambda record: record_outcome(record, settings, Outcome.FAILURE, 1_000)  # noqa: E731
    stale = _store(table).apply(CIRCUIT, failed).record  # version 1
    _store(table).apply(CIRCUIT, failed, current=stale)  # version 2, written from version 1
    applied = _store(table).apply(CIRCUIT, failed, current=stale)  # version 1 is stale now
    assert applied.record.version == 3 and applied.record.consecutive_failures == 3
    assert (table.usage.writes, table.usage.conflicts) == (4, 1)
    assert table.usage.reads == 1  # only the first apply had no base and read one


def test_pybreaker_runs_on_the_simulated_clock() -> None:
    clock = SimClock()
    design = PybreakerFleet(TINY, clock)
    with design.running():
        for _ in range(5):
            assert design.admit(0, clock.now)
            design.complete(0, clock.now, False, 0.0)
        assert not design.admit(0, clock.now)
        clock.now = 29.9
        assert not design.admit(0, clock.now)
        clock.now = 30.1  # no wall time passed: only the simulated clock moved
        assert design.admit(0, clock.now)
        assert design.state(clock.now) == "HALF_OPEN"
        design.complete(0, clock.now, True, 0.0)  # every call is completed, as in the simulator
        assert design.state(clock.now) == "CLOSED"


def test_this_project_short_circuits_a_fleet_after_the_threshold() -> None:
    trace = simulate(ThisProject, TINY)
    start, end = TINY.outage or (0.0, 0.0)
    during = [a for a in trace.answers if start <= a.start < end]
    assert sum(1 for a in during if a.path == "failed") >= BreakerSettings().failure_threshold
    assert during[-1].path == "fallback"
