"""The default scenario end to end: the dev stack's fleet, compressed, as ``make demo`` runs it."""

from __future__ import annotations

import io
import time

from local_stack.__main__ import options
from local_stack.run import EXIT_PASSED, run

from local_stack_support import DEV_STACK

FAILS_AT_S, RECOVERS_AT_S = 120, 300  # local_stack/scenarios/default.json


def test_default_scenario_opens_and_closes_the_circuit_within_the_bound() -> None:
    out = io.StringIO()
    started = time.monotonic()
    outcome = run(options(["--stack", str(DEV_STACK)]), out=out)
    wall_s = time.monotonic() - started
    report = outcome.report

    assert outcome.code == EXIT_PASSED, out.getvalue()
    assert report is not None and report.interrupted is None
    assert wall_s < 60

    # The transitions, in order and at plausible stack times: the trip after payments failed, the
    # close after it recovered, never OPEN straight to CLOSED.
    [expectation] = report.verdict.expectations
    assert (expectation.service, expectation.expected) == ("payments", ("OPEN", "HALF_OPEN", "CLOSED"))
    opened, half_open, closed = (report.clock.at(at) for at in expectation.seen_at_ms)
    assert FAILS_AT_S < opened < half_open < RECOVERS_AT_S < closed < report.stack_s
    states = [t.state for t in report.timelines["payments"].transitions]
    assert states[-1] == "CLOSED"
    assert all(after != "CLOSED" for before, after in zip(states, states[1:]) if before == "OPEN")

    # Calls that reached the failing service while its circuit was OPEN: within the bound.
    bounds = {result.service: result for result in report.verdict.bounds}
    payments = bounds["payments"]
    # two business environments (the default) and the checker, plus a probe per interval while OPEN
    assert payments.per_period and all(bound > 2 + 1 for bound in payments.bounds)
    assert all(count <= bound for count, bound in zip(payments.per_period, payments.bounds))
    assert all(result.held for result in bounds.values())

    # The fleet answered: live calls, then fallbacks while OPEN, and it cost reads and writes.
    answers = report.traffic["payments"].counts()
    assert answers["live"] > 0 and answers["fallback"] > 0 and answers["errors"] == 0
    assert report.calls["payments"].counts().failed > 0
    assert report.operations["BatchGetItem"] > 0 and report.operations["UpdateItem"] > 0
    assert report.operations["Scan"] == 0

    # SHUTDOWN reached every extension and no process outlived the run.
    shutdown = report.shutdown
    assert shutdown.extensions == 3 * 2 and shutdown.told_shutdown == shutdown.extensions
    assert shutdown.still_running == 0

    text = out.getvalue()
    assert "payments: circuit OPEN" in text and "Result: PASSED" in text
