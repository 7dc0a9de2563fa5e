"""Lambda entry point ``checker.handler.handler``: probe one service, move its circuit.

Invoked by one EventBridge Scheduler schedule per service (input: see ``checker.config``).
Environment: ``CIRCUIT_BREAKER_TABLE``, the circuits table.

What each probe does to the circuit is :class:`checker.probing.CheckRun`'s to decide; this
module sends the probes, and while the circuit is OPEN or HALF_OPEN sends another every
``interval_while_open_s``, for at most ``probing.RUN_SPAN_S`` after its first probe and never past the
function's own timeout, so a recovery is noticed within seconds although the schedule fires
once a minute. Every probe writes one JSON log line (and its metrics).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Optional

import boto3

from breaker.clock import epoch_ms
from breaker.machine import Outcome, classify
from breaker.store import CircuitStore
from httpcall import get

from . import budget
from .config import InputError, ProbeInput, parse_input
from .probing import CheckRun
from .report import CheckReport, log_record, summary

END_MARGIN_MS = 1000

_store: Optional[CircuitStore] = None  # the store the last run used
_stores: dict[tuple[str, int], CircuitStore] = {}  # by table and attempts per request (budget.py)
# Whether this execution environment's previous probe of each circuit failed: how a failed
# probe is judged, like any environment's failure (breaker.machine's trip rule).
_previous_failed: dict[str, bool] = {}


clock = epoch_ms  # the state machine's clock, read when a run needs it (tests replace it)
sleep = time.sleep  # between probes of one run (tests replace it with the clock's)


def store(attempts: int = budget.MAX_ATTEMPTS) -> CircuitStore:
    """The circuits store whose client tries each request ``attempts`` times, created once per
    execution environment and reused by later runs (a reset ``_store`` starts afresh)."""
    global _store
    if _store is None:
        _stores.clear()
    table = os.environ.get("CIRCUIT_BREAKER_TABLE")
    if not table:
        raise RuntimeError("environment variable CIRCUIT_BREAKER_TABLE is not set")
    if (table, attempts) not in _stores:
        _stores[table, attempts] = CircuitStore(boto3.client("dynamodb", config=budget.client_config(attempts)), table)
    _store = _stores[table, attempts]
    return _store


def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        probe_input = parse_input(event)
    except InputError as error:
        emit({"level": "ERROR", "message": str(error), "problems": error.problems})
        raise
    remaining_ms = budget.remaining_ms(context)
    deadline_ms = None if remaining_ms is None else clock() + remaining_ms - END_MARGIN_MS
    reports: list[CheckReport] = []
    try:
        # The SDK's retries fit the time left, so even a stalled DynamoDB leaves time to log.
        circuits = store(budget.dynamodb_attempts(remaining_ms, probe_input.timeout_s))
        check(probe_input, circuits, clock, deadline_ms=deadline_ms, sleep=sleep, into=reports)
    except Exception as error:
        for report in reports:
            emit(log_record(report))
        emit({"level": "ERROR", "message": "check failed", "circuit": probe_input.circuit_id,
              "error": f"{type(error).__name__}: {error}"})
        raise
    for report in reports:
        emit(log_record(report))
    return {**summary(reports[-1]), "probes": sum(report.outcome is not None for report in reports)}


def check(
    probe_input: ProbeInput,
    circuits: CircuitStore,
    now: Callable[[], int],
    deadline_ms: Optional[int] = None,
    sleep: Callable[[float], None] = time.sleep,
    into: Optional[list[CheckReport]] = None,
) -> list[CheckReport]:
    """One run: probe, apply, and while the circuit is OPEN or HALF_OPEN look again (a probe, or a
    skip while every trial is taken), for at most ``probing.RUN_SPAN_S`` after the first look and never
    past ``deadline_ms`` (epoch ms; None: no limit but the span). Each report is appended to
    ``into`` as soon as it is made."""
    run = CheckRun(
        probe_input.circuit_id, probe_input.settings, circuits, _previous_failed, probe_input.interval_while_open_s
    )
    reports = [] if into is None else into
    while True:
        step = run.start(now())
        if isinstance(step, CheckReport):  # skipped: forced by an operator, or every trial taken
            reports.append(step)
        else:
            result = get(probe_input.url, probe_input.timeout_s, caller="checker")
            outcome = classify(result.ok, result.latency_ms, probe_input.settings)
            error = result.error
            if outcome is Outcome.SLOW:
                error = f"slow: {result.latency_ms:.0f} ms >= {probe_input.settings.slow_call_threshold_ms} ms"
            reports.append(run.done(step, outcome, now(), status=result.status, latency_ms=result.latency_ms, error=error))
        now_ms = now()
        next_ms = run.next_look_ms(now_ms)
        if next_ms is None or (deadline_ms is not None and next_ms + probe_input.timeout_s * 1000 > deadline_ms):
            return reports
        sleep((next_ms - now_ms) / 1000)


def emit(record: dict[str, Any]) -> None:
    """One JSON object per stdout line: a CloudWatch Logs event (and EMF document)."""
    print(json.dumps(record, separators=(",", ":")), flush=True)
