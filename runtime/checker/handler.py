"""Lambda entry point ``checker.handler.handler``: probe one service, move its circuit.

Invoked by one EventBridge Scheduler schedule per service (input: see ``checker.config``).
Environment: ``CIRCUIT_BREAKER_TABLE``, the circuits table.

What each probe does to the circuit is :class:`checker.probing.CheckRun`'s to decide; this
module sends the probes, and while the circuit is OPEN or HALF_OPEN sends another every
``interval_while_open_s`` until the run's time budget is spent (``RUN_BUDGET_S``, and never
past the function's own timeout), so a recovery is noticed within seconds although the
schedule fires once a minute. Every probe writes one JSON log line (and its metrics).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Optional

import boto3
from botocore.config import Config

from breaker.clock import epoch_ms
from breaker.machine import Outcome, classify
from breaker.store import CircuitStore
from httpcall import get

from .config import InputError, ProbeInput, parse_input
from .probing import CheckRun
from .report import CheckReport, log_record, summary

# Bounded so a stalled DynamoDB cannot eat the function timeout (10 s by default): a run makes
# a read, then a write, each at most 2 attempts of 1 s + 1 s, beside a probe of up to its timeout.
_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2})

# A run probes again while a circuit is on its way back, but ends well before the next
# scheduled run (one a minute) and before the function's own timeout.
RUN_BUDGET_S = 50.0
END_MARGIN_MS = 1000

_store: Optional[CircuitStore] = None
# Whether this execution environment's previous probe of each circuit failed: how a failed
# probe is judged, like any environment's failure (breaker.machine's trip rule).
_previous_failed: dict[str, bool] = {}


clock = epoch_ms  # the state machine's clock, read when a run needs it (tests replace it)
sleep = time.sleep  # between probes of one run (tests replace it with the clock's)


def store() -> CircuitStore:
    """The circuits store, created once per execution environment and reused by later runs."""
    global _store
    if _store is None:
        table = os.environ.get("CIRCUIT_BREAKER_TABLE")
        if not table:
            raise RuntimeError("environment variable CIRCUIT_BREAKER_TABLE is not set")
        _store = CircuitStore(boto3.client("dynamodb", config=_CLIENT_CONFIG), table)
    return _store


def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        probe_input = parse_input(event)
    except InputError as error:
        emit({"level": "ERROR", "message": str(error), "problems": error.problems})
        raise
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else RUN_BUDGET_S * 1000
    deadline_ms = clock() + min(RUN_BUDGET_S * 1000, remaining_ms - END_MARGIN_MS)
    reports = check(probe_input, store(), clock, deadline_ms=deadline_ms, sleep=sleep)
    for report in reports:
        emit(log_record(report))
    return {**summary(reports[-1]), "probes": sum(report.outcome is not None for report in reports)}


def check(
    probe_input: ProbeInput,
    circuits: CircuitStore,
    now: Callable[[], int],
    deadline_ms: Optional[int] = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CheckReport]:
    """One run: probe, apply, and while the circuit is OPEN or HALF_OPEN probe again until ``deadline_ms``."""
    run = CheckRun(probe_input.circuit_id, probe_input.settings, circuits, _previous_failed)
    reports: list[CheckReport] = []
    interval_ms = probe_input.interval_while_open_s * 1000
    while True:
        step = run.start(now())
        if isinstance(step, CheckReport):
            reports.append(step)
            return reports
        result = get(probe_input.url, probe_input.timeout_s, caller="checker")
        outcome = classify(result.ok, result.latency_ms, probe_input.settings)
        error = result.error
        if outcome is Outcome.SLOW:
            error = f"slow: {result.latency_ms:.0f} ms >= {probe_input.settings.slow_call_threshold_ms} ms"
        reports.append(run.done(step, outcome, now(), status=result.status, latency_ms=result.latency_ms, error=error))
        next_at = now() + interval_ms
        if not run.again() or deadline_ms is None or next_at + probe_input.timeout_s * 1000 > deadline_ms:
            return reports
        sleep(interval_ms / 1000)


def emit(record: dict[str, Any]) -> None:
    """One JSON object per stdout line: a CloudWatch Logs event (and EMF document)."""
    print(json.dumps(record, separators=(",", ":")), flush=True)
