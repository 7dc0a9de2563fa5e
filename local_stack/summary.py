"""The end of a run, in words: transitions and their times, the verdict, the costs, the shutdown."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Optional

from local_aws.dynamodb import READ_OPERATIONS, WRITE_OPERATIONS

from .checks import BUSY, PROBES, RUNS
from .fleet import ShutdownReport
from .mocks import ServiceCalls
from .monitor import Timeline
from .tally import Tally
from .timescale import StackClock
from .traffic import DROPPED, ERRORS, FALLBACK, LIVE, LIVE_FAILED
from .verdict import Verdict


def fleet_operations(operations: Counter[str], monitor_reads: int) -> Counter[str]:
    """DynamoDB requests the fleet made: the server's counts without the monitor's BatchGetItems
    and the CreateTable that stands for ``pulumi up``."""
    fleet = Counter(operations)
    fleet["BatchGetItem"] -= monitor_reads
    del fleet["CreateTable"]
    return Counter({name: count for name, count in fleet.items() if count > 0})


def reads_and_writes(operations: Counter[str]) -> tuple[int, int]:
    return (sum(operations[name] for name in READ_OPERATIONS), sum(operations[name] for name in WRITE_OPERATIONS))


@dataclass(frozen=True)
class RunReport:
    stack: str
    scenario: str
    description: str
    clock: StackClock
    stack_s: float  # stack time the run lasted
    wall_s: float
    timelines: Mapping[str, Timeline]
    verdict: Verdict
    business_environments: int
    traffic: Mapping[str, Tally]
    checks: Mapping[str, Tally]
    calls: Mapping[str, ServiceCalls]  # what reached each mock
    operations: Counter[str]  # the fleet's DynamoDB requests, by operation
    shutdown: ShutdownReport
    interrupted: Optional[str]  # the signal that ended the run early


def summary_lines(report: RunReport) -> list[str]:
    lines = ["", f"Summary: stack {report.stack}, scenario {report.scenario}"]
    if report.description:
        lines.append(f"  {report.description}")
    lines += [
        f"  {report.stack_s:.0f} s of stack time in {report.wall_s:.1f} s (speed-up x{report.clock.scale.speed_up:g})"
        + (f"; interrupted by {report.interrupted}" if report.interrupted else ""),
        "Transitions (stack seconds since the start):",
    ]
    width = max(len(service) for service in report.timelines)
    for service, timeline in report.timelines.items():
        seen = ", ".join(f"{t.state} {report.clock.at(t.at_ms):.1f}" for t in timeline.transitions)
        lines.append(f"  {service.ljust(width)}  {seen or 'none: ' + timeline.state + ' throughout'}")
    lines.append("Expected (each state entered after the previous one):")
    for result in report.verdict.expectations:
        wanted = " -> ".join(result.expected)
        if result.seen_at_ms is None:
            lines.append(f"  {result.service.ljust(width)}  {wanted}: NOT SEEN")
        else:
            times = ", ".join(f"{report.clock.at(at):.1f}" for at in result.seen_at_ms)
            lines.append(f"  {result.service.ljust(width)}  {wanted}: seen at {times} s")
    lines.append(
        f"Failed calls that reached a service while its circuit was OPEN, per OPEN period, against the "
        f"bound: one per environment calling it ({report.business_environments} business + 1 checker) "
        f"plus one checker probe per probe interval:"
    )
    for result in report.verdict.bounds:
        counts = ", ".join(f"{n}/{b}" for n, b in zip(result.per_period, result.bounds)) or "no OPEN period"
        verdict = "within the bound" if result.held else "OVER THE BOUND"
        lines.append(f"  {result.service.ljust(width)}  {counts} ({result.total} in all): {verdict}")
    lines.append("Business function answers; checker runs; requests the mock answered:")
    for service in report.timelines:
        traffic, checks = report.traffic[service].counts(), report.checks[service].counts()
        calls = report.calls[service].counts()
        lines.append(
            f"  {service.ljust(width)}  {traffic[LIVE] + traffic[LIVE_FAILED]} live ({traffic[LIVE_FAILED]} failed), "
            f"{traffic[FALLBACK]} fallback, {traffic[DROPPED]} dropped (every environment busy), "
            f"{traffic[ERRORS]} errors; {checks[RUNS]} checker runs ({checks[PROBES]} probes, {checks[BUSY]} skipped "
            f"busy); {calls.requests} requests ({calls.failed} failed)"
        )
        for tally in (report.traffic[service], report.checks[service]):
            if tally.last_error:
                lines.append(f"  {' ' * width}  last error: {tally.last_error}")
    reads, writes = reads_and_writes(report.operations)
    detail = ", ".join(f"{name} {count}" for name, count in sorted(report.operations.items()))
    lines.append(f"DynamoDB (the fleet's requests): {reads} reads, {writes} writes ({detail})")
    shutdown = report.shutdown
    lines.append(
        f"Shutdown: SHUTDOWN delivered to {shutdown.told_shutdown} of {shutdown.extensions} extensions in "
        f"{shutdown.environments} execution environments; {shutdown.processes} processes started, "
        f"{shutdown.still_running} still running"
    )
    return lines
