"""One run of the local stack: start the fleet, drive it through the scenario, judge, stop.

Exit status: 0 when every expected transition happened and no OPEN period let through more
failed calls than the bound; 1 when not (or the fleet could not start); 2 for a bad stack file,
scenario or option; 128 + the signal's number when SIGINT or SIGTERM ended the run early (the
fleet is shut down and the summary printed all the same).
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, TextIO

from breaker.clock import epoch_ms
from local_aws.emulator import EmulatorError

from .checks import CheckerSchedule
from .display import Display, Row, Snapshot
from .fleet import Fleet
from .mocks import MockError, failure_rule
from .monitor import CircuitMonitor, Transition
from .player import ScenarioPlayer
from .scenario import Scenario, ScenarioError, Step, check_scenario, load_scenario, resolve_scenario
from .schedule import ScheduleError
from .stack import LocalPlan, StackFileError, read_stack
from .summary import RunReport, fleet_operations, reads_and_writes, summary_lines
from .timescale import StackClock, TimeScale
from .traffic import FALLBACK, LIVE, LIVE_FAILED, TrafficDriver
from .verdict import OpenCallBound, bound_result, judge

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
REFRESH_S = 0.25
DRAIN_S = 0.5  # how long invocations in flight may finish once the run is over


@dataclass(frozen=True)
class Options:
    stack: Path
    scenario: str  # a path, or the name of a bundled scenario
    duration_s: Optional[float]  # stack seconds; None: the scenario's
    speed_up: float
    rate: float  # invocations per business function per wall-clock second
    environments: int  # execution environments per business function


@dataclass(frozen=True)
class Outcome:
    code: int  # the exit status
    report: Optional[RunReport]  # None when the fleet never ran (bad input, failed start)


@dataclass(frozen=True)
class _Setup:
    """Everything read and checked before anything starts."""

    options: Options
    plan: LocalPlan
    scenario: Scenario
    scale: TimeScale
    duration_s: float
    intervals: dict[str, float]  # wall-clock seconds between checker runs, by service


class _Signals:
    """SIGINT and SIGTERM set ``stop`` instead of ending the process, so the fleet is shut down
    and the summary printed; installed only in the main thread (where Python delivers signals)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.received: Optional[signal.Signals] = None
        self._previous: dict[signal.Signals, object] = {}

    def __enter__(self) -> "_Signals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)
        self.stop.set()


def run(options: Options, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> Outcome:
    try:
        setup = _prepare(options)
    except (StackFileError, ScenarioError, ScheduleError) as error:
        err.write(f"error: {error}\n")
        return Outcome(EXIT_USAGE, None)
    display = Display(out, live=out.isatty())
    for note in _preamble(setup):
        display.line(note)
    workdir = Path(tempfile.mkdtemp(prefix="local-stack-"))
    stop = threading.Event()
    with _Signals(stop) as signals:
        try:
            report = _drive(setup, workdir, display, stop, signals)
        except (EmulatorError, MockError) as error:
            err.write(f"error: the fleet could not start: {error}\nprocess logs are in {workdir / 'logs'}\n")
            return Outcome(EXIT_FAILED, None)
    for line in summary_lines(report):
        display.line(line)
    if report.interrupted is not None:
        code = 128 + int(signals.received or 0)
        display.line(f"Result: interrupted by {report.interrupted}")
    else:
        code = EXIT_PASSED if report.verdict.passed else EXIT_FAILED
        display.line(f"Result: {'PASSED' if code == EXIT_PASSED else 'FAILED'}")
    if code == EXIT_FAILED:  # the process logs say what the functions and extensions did
        display.line(f"Process logs are kept in {workdir / 'logs'}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return Outcome(code, report)


def _prepare(options: Options) -> _Setup:
    plan = read_stack(options.stack)
    scenario = load_scenario(resolve_scenario(options.scenario))
    duration_s = options.duration_s if options.duration_s is not None else scenario.duration_s
    check_scenario(scenario, plan, duration_s)
    scale = TimeScale(options.speed_up)
    intervals = {sid: scale.schedule_interval_s(service) for sid, service in plan.services.items()}
    return _Setup(options, plan, scenario, scale, duration_s, intervals)


def _preamble(setup: _Setup) -> Iterator[str]:
    options, plan, scale = setup.options, setup.plan, setup.scale
    yield (f"Local stack {plan.name} ({options.stack}): {', '.join(plan.services)}; "
           f"{options.environments} business environment(s) per service, {options.rate:g} invocations/s each")
    for note in plan.skip_notes():
        yield f"  skipped {note}"
    yield (f"Scenario {setup.scenario.source}: {setup.duration_s:g} s of stack time in "
           f"{scale.real_s(setup.duration_s):.1f} s (speed-up x{scale.speed_up:g})")
    for step in setup.scenario.steps:
        yield f"  at {step.at_s:g} s: {step.describe()}"
    yield "Starting the fleet..."


def _drive(setup: _Setup, workdir: Path, display: Display, stop: threading.Event, signals: _Signals) -> RunReport:
    """Start the fleet, run the scenario until its end or a signal, shut down; the report."""
    options, scale = setup.options, setup.scale
    bounds = {
        sid: OpenCallBound(options.environments, 1000 * scale.real_s(service.probe.interval_while_open_s))
        for sid, service in setup.plan.services.items()
    }
    modes = {sid: service.mock.mode for sid, service in setup.plan.services.items() if service.mock is not None}
    with Fleet(setup.plan, scale, options.environments, workdir) as fleet:
        fleet.start()
        started, clock = time.monotonic(), StackClock(epoch_ms(), scale)

        def on_transition(transition: Transition) -> None:
            display.event(clock.at(transition.at_ms), f"{transition.service}: circuit {transition.state}")

        def on_step(step: Step) -> None:
            modes[step.service] = str(step.mode["mode"])
            display.event(clock.at(epoch_ms()), f"scenario: {step.describe()}")

        monitor = CircuitMonitor(fleet.store(), fleet.units, on_transition, stop)
        traffic = {sid: TrafficDriver(sid, unit.business, options.rate, failure_rule(unit.service), stop)
                   for sid, unit in fleet.units.items()}
        checks = {sid: CheckerSchedule(unit.service, unit.mock.base_url, unit.checker, setup.intervals[sid], stop)
                  for sid, unit in fleet.units.items()}
        player = ScenarioPlayer(setup.scenario, setup.plan, {sid: u.mode_parameter for sid, u in fleet.units.items()},
                                fleet.mode_parameters(), scale, on_step, started, stop)
        workers = [monitor, *traffic.values(), *checks.values(), player]

        def snapshot(at: int) -> Snapshot:
            reads, writes = reads_and_writes(fleet_operations(fleet.db.operations, monitor.reads))
            rows = []
            for sid, unit in fleet.units.items():
                timeline, answers = monitor.timelines[sid], traffic[sid].tally.counts()
                worst, bound = bound_result(sid, timeline, unit.mock.calls, bounds[sid], at).worst
                rows.append(Row(sid, modes[sid], timeline.state, answers[LIVE] + answers[LIVE_FAILED],
                                answers[FALLBACK], unit.mock.calls.counts().failed, worst, bound, timeline.version))
            return Snapshot(min(clock.at(at), setup.duration_s), setup.duration_s, scale.speed_up, tuple(rows),
                            reads, writes)

        display.line(f"Running; the table refreshes {'in place' if display.live else 'every few seconds'}.")
        for worker in workers:
            worker.start()
        deadline = started + scale.real_s(setup.duration_s)
        while not stop.wait(min(REFRESH_S, max(0.0, deadline - time.monotonic()))) and time.monotonic() < deadline:
            display.refresh(snapshot(epoch_ms()))
        stop.set()
        for worker in workers:
            worker.join()
        ended_ms, wall_s = epoch_ms(), time.monotonic() - started
        fleet.shutdown_functions(grace_s=DRAIN_S)
        monitor.poll(ended_ms)  # for what the extensions flushed on SHUTDOWN
    # Judged once every process is gone, so the mocks have told of every call they answered.
    display.final(snapshot(ended_ms))
    calls = {sid: unit.mock.calls for sid, unit in fleet.units.items()}
    verdict = judge(setup.scenario.expect, monitor.timelines, calls, bounds, ended_ms)
    operations = fleet_operations(fleet.db.operations, monitor.reads)
    return RunReport(
        stack=str(options.stack), scenario=setup.scenario.source, description=setup.scenario.description,
        clock=clock, stack_s=min(clock.at(ended_ms), setup.duration_s), wall_s=wall_s, timelines=monitor.timelines,
        verdict=verdict, business_environments=options.environments,
        traffic={sid: driver.tally for sid, driver in traffic.items()},
        checks={sid: schedule.tally for sid, schedule in checks.items()}, calls=calls, operations=operations,
        shutdown=fleet.shutdown_report(), interrupted=signals.received.name if signals.received else None,
    )
