"""Lambda entry point ``checker.handler.handler``: probe one service, move its circuit.

Invoked by one EventBridge Scheduler schedule per service (input: see ``checker.config``).
Environment: ``CIRCUIT_BREAKER_TABLE``, the circuits table.

A run reads the circuit and asks the state machine for a trial first, so the checker obeys
the same rules as every other caller: in OPEN before the open duration has elapsed (or
FORCED_OPEN) it does not probe at all, since the open duration alone decides when to try
again; in HALF_OPEN its probe is one of the fleet-wide trial calls, and when all are taken it
skips; in CLOSED the trial is granted without a write. The outcome then goes through
``record_outcome`` as a version-conditional write, retried on conflict inside the store.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

import boto3

from breaker.clock import epoch_ms
from breaker.machine import CircuitRecord, Outcome, State, classify, effective_state, grant_trial, record_outcome
from breaker.store import Applied, CircuitStore, Transition
from httpcall import get

from . import budget
from .config import InputError, ProbeInput, parse_input
from .report import CheckReport, log_record, summary

_store: Optional[CircuitStore] = None  # the store the last run used
_stores: dict[tuple[str, int], CircuitStore] = {}  # by table and attempts per request (budget.py)


clock = epoch_ms  # the state machine's clock, read when a run needs it (tests replace it)


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
    try:
        # The SDK's retries fit the time left, so even a stalled DynamoDB leaves time to log.
        circuits = store(budget.dynamodb_attempts(budget.remaining_ms(context), probe_input.timeout_s))
        report = check(probe_input, circuits, clock)
    except Exception as error:
        emit({"level": "ERROR", "message": "check failed", "circuit": probe_input.circuit_id,
              "error": f"{type(error).__name__}: {error}"})
        raise
    emit(log_record(report))
    return summary(report)


def check(probe_input: ProbeInput, circuits: CircuitStore, now: Callable[[], int]) -> CheckReport:
    """One run: obtain a trial, probe, record the outcome. Returns what happened."""
    circuit_id, settings = probe_input.circuit_id, probe_input.settings
    asked_ms = now()
    trial, base = _apply(circuits, circuit_id, lambda record: grant_trial(record, settings, asked_ms)[0])
    if not grant_trial(base, settings, asked_ms)[1]:  # pure: recomputes the verdict the write was based on
        state = effective_state(base, asked_ms)
        return CheckReport(circuit_id, asked_ms, state, state, base.version, skipped=refusal(base, asked_ms))

    result = get(probe_input.url, probe_input.timeout_s, caller="checker")
    done_ms = now()
    outcome = classify(result.ok, result.latency_ms, settings)
    error = result.error
    if outcome is Outcome.SLOW:
        error = f"slow: {result.latency_ms:.0f} ms >= {settings.slow_call_threshold_ms} ms"
    applied, base = _apply(
        circuits,
        circuit_id,
        lambda record: record_outcome(record, settings, outcome, done_ms, error),
        current=trial.record,
    )
    return CheckReport(
        circuit_id,
        done_ms,
        state_before=effective_state(base, done_ms),
        state_after=effective_state(applied.record, done_ms),
        version=applied.record.version,
        outcome=outcome,
        status=result.status,
        latency_ms=result.latency_ms,
        error=error,
    )


def _apply(
    circuits: CircuitStore, circuit_id: str, transition: Transition, current: Optional[CircuitRecord] = None
) -> tuple[Applied, CircuitRecord]:
    """``store.apply``, also returning the record the last attempt started from.

    Comparing with that base, not with the record read at the start, is what makes a transition
    this run's own: when a concurrent checker already tripped the circuit, the retried write
    finds it OPEN and changes nothing, so only the run that tripped it reports the trip.
    """
    bases: list[CircuitRecord] = []

    def tracked(record: CircuitRecord) -> CircuitRecord:
        bases.append(record)
        return transition(record)

    applied = circuits.apply(circuit_id, tracked, current)
    return applied, bases[-1]


def refusal(record: CircuitRecord, now_ms: int) -> str:
    """Why no trial was granted, for the log."""
    state = effective_state(record, now_ms)
    if state is State.OPEN:
        return f"circuit OPEN until {record.next_attempt_at} (epoch ms); the open duration decides, not a probe"
    if state is State.FORCED_OPEN:
        return "circuit FORCED_OPEN by an operator"
    return "every half-open trial is already taken"


def emit(record: dict[str, Any]) -> None:
    """One JSON object per stdout line: a CloudWatch Logs event (and EMF document)."""
    print(json.dumps(record, separators=(",", ":")), flush=True)
