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
from botocore.config import Config

from breaker.clock import epoch_ms
from breaker.machine import CircuitRecord, Outcome, State, classify, effective_state, grant_trial, record_outcome
from breaker.store import Applied, CircuitStore, Transition
from httpcall import get

from .config import InputError, ProbeInput, parse_input
from .report import CheckReport, log_record, summary

# Bounded so a stalled DynamoDB cannot eat the function timeout (10 s by default): a run makes
# a read, then a write, each at most 2 attempts of 1 s + 1 s, beside a probe of up to its timeout.
_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2})

_store: Optional[CircuitStore] = None


clock = epoch_ms  # the state machine's clock, read when a run needs it (tests replace it)


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
    report = check(probe_input, store(), clock)
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
