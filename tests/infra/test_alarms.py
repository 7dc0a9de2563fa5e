"""Two stacks in one account and region: each circuit's alarm sees its own stack's metric, never
the other stack's circuit of the same id."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from breaker.metrics import OPENED, TRANSITION, emf
from checker.report import CheckReport, metrics as checker_metrics

from breaker.machine import Outcome, State
from tests.support.program import PROJECT_DIR, ProgramRun, run_program
from tests.support.resources import ALARM, FUNCTION

DEV = PROJECT_DIR / "Pulumi.dev.yaml"


def metrics_of(line: dict[str, Any]) -> Iterator[tuple[str, str, frozenset]]:
    """Every CloudWatch metric an EMF line creates: (namespace, name, dimensions)."""
    for directive in line["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            dimensions = frozenset((name, line[name]) for name in dimension_set)
            for metric in directive["Metrics"]:
                yield directive["Namespace"], metric["Name"], dimensions


def matches(alarm: dict[str, Any], metric: tuple[str, str, frozenset]) -> bool:
    """CloudWatch's rule: an alarm watches the metric with exactly its namespace, name and dimensions."""
    return (alarm["namespace"], alarm["metricName"], frozenset(alarm["dimensions"].items())) == metric


def emitted_openings(run: ProgramRun, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, frozenset]]:
    """The CircuitOpened metrics a stack's functions emit, each with its own environment: the
    checker's (checker.report) and every business function's extension (breaker.metrics.emf)."""
    emitted = []
    for function in run.of_type(FUNCTION):
        variables = function.inputs["environment"]["variables"]
        if "CIRCUIT_BREAKER_TABLE" in variables:
            monkeypatch.setenv("CIRCUIT_BREAKER_TABLE", variables["CIRCUIT_BREAKER_TABLE"])
        if function.name == "checker":
            for alarm in run.of_type(ALARM):
                circuit = alarm.inputs["dimensions"]["CircuitId"]
                report = CheckReport(circuit, 1, State.CLOSED, State.OPEN, 5, changed=True, outcome=Outcome.FAILURE,
                                     status=503, latency_ms=3.0)
                emitted += metrics_of(checker_metrics(report))
        elif "CIRCUIT_ID" in variables:
            emitted += metrics_of(emf(variables["CIRCUIT_ID"], 1, {OPENED: (1, "Count"), TRANSITION: (1, "Count")}))
    return [metric for metric in emitted if metric[1] == OPENED]


def test_two_stacks_alarms_never_match_each_others_metrics(monkeypatch: pytest.MonkeyPatch):
    dev, staging = run_program("dev"), run_program("staging", {"environment": "staging"}, stack_file=DEV)
    alarms = {name: run.of_type(ALARM) for name, run in (("dev", dev), ("staging", staging))}
    emitted = {"dev": emitted_openings(dev, monkeypatch), "staging": emitted_openings(staging, monkeypatch)}
    assert len(alarms["dev"]) == 3 and {a.inputs["dimensions"]["CircuitId"] for a in alarms["dev"]} == {
        a.inputs["dimensions"]["CircuitId"] for a in alarms["staging"]}  # the same circuit ids in both
    for own, other in (("dev", "staging"), ("staging", "dev")):
        for alarm in alarms[own]:
            # the checker's and the extension's openings both reach the stack's own alarm ...
            assert sum(matches(alarm.inputs, metric) for metric in emitted[own]) == 2, alarm.name
            # ... and nothing the other stack emits does
            assert not any(matches(alarm.inputs, metric) for metric in emitted[other]), alarm.name


def test_outside_lambda_without_a_table_the_metric_keeps_the_circuit_id_alone(monkeypatch: pytest.MonkeyPatch):
    """The benchmarks' simulation runs the extension's code with no table variable: it must not fail."""
    monkeypatch.delenv("CIRCUIT_BREAKER_TABLE", raising=False)
    line = emf("payments", 1, {OPENED: (1, "Count")})
    assert [dims for _, _, dims in metrics_of(line)] == [frozenset({("CircuitId", "payments")})]
