"""The checker against a real HTTP service and DynamoDB on loopback, with an injected clock."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from breaker.machine import BreakerSettings, CircuitRecord, State, created, grant_trial, window_counts
from breaker.store import CircuitStore
from checker import budget, handler as checker, probing
from checker.config import InputError, parse_input
from breaker.metrics import NAMESPACE

START_MS = 1_700_000_000_000
# Trips on the second judged failure when both are repeats: the checker's third failed probe in
# a row (its first has no previous probe to be judged by).
SETTINGS = {
    "minimum_failures": 2,
    "failure_rate_threshold": 0.5,
    "open_duration_s": 10,
    "open_backoff_multiplier": 2,
    "half_open_success_threshold": 2,
}


class Clock:
    def __init__(self) -> None:
        self.ms = START_MS

    def __call__(self) -> int:
        return self.ms

    def sleep(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(checker, "clock", fake)
    monkeypatch.setattr(checker, "sleep", fake.sleep)
    return fake


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Each test starts as a new execution environment: no previous probe remembered."""
    memory: dict[str, bool] = {}
    monkeypatch.setattr(checker, "_previous_failed", memory)
    return memory


@pytest.fixture
def circuits(table: str, aws_env: Any, monkeypatch: pytest.MonkeyPatch) -> CircuitStore:
    """A store on the test's table for reading back; the handler makes its own (reset here)."""
    monkeypatch.setattr(checker, "_store", None)
    return CircuitStore(aws_env.client(), table)


def event(url: str, **breaker: Any) -> dict[str, Any]:
    return {"circuit_id": "payments", "url": url, "timeout_s": 1.0, "breaker": {**SETTINGS, **breaker}}


def run_all(capsys: pytest.CaptureFixture[str], probe_event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Invoke the handler; return its summary and every log line it wrote (one per probe)."""
    summary = checker.handler(probe_event, None)
    return summary, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def run(capsys: pytest.CaptureFixture[str], probe_event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Invoke the handler for a run of exactly one probe; return its summary and log line."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(probing, "RUN_SPAN_S", 0)
        summary, lines = run_all(capsys, probe_event)
    assert len(lines) == 1, lines
    return summary, lines[0]


def counts(circuits: CircuitStore) -> tuple[int, int]:
    """(judged, repeats) in the stored record's trip window."""
    record = circuits.get("payments")
    return window_counts(record, BreakerSettings.from_mapping(SETTINGS), record.updated_at)


def assert_valid_emf(line: dict[str, Any]) -> None:
    """CloudWatch's EMF specification, as far as this document uses it."""
    meta = line["_aws"]
    assert isinstance(meta["Timestamp"], int)
    directives = meta["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for directive in directives:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
        assert directive["Namespace"] == NAMESPACE
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(line[name], str)
        assert 1 <= len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}
            assert metric["Unit"] in {"Milliseconds", "Count"}
            value = line[metric["Name"]]
            assert isinstance(value, (int, float)) and not isinstance(value, bool)


def metric_names(line: dict[str, Any]) -> set[str]:
    return {m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def trip(capsys: pytest.CaptureFixture[str], url: str) -> dict[str, Any]:
    """Three failed probes in a row: the first unjudged, then two repeats."""
    for _ in range(3):
        summary, line = run(capsys, {**event(url)})
    assert summary["state_after"] == "OPEN"
    return line


# -- classification ----------------------------------------------------------------------


def test_healthy_probe_succeeds_without_a_write(clock, circuits, service, aws_env, capsys):
    reads, writes = aws_env.reads, aws_env.writes
    summary, line = run(capsys, event(service.url()))
    assert summary["outcome"] == "success" and summary["status"] == 200 and summary["error"] is None
    assert summary["state_before"] == summary["state_after"] == "CLOSED" and not summary["transition"]
    assert (aws_env.reads, aws_env.writes) == (reads + 1, writes)  # a healthy circuit: one GetItem, no write
    assert_valid_emf(line)
    assert line["ProbeFailure"] == 0 and line["CircuitOpened"] == 0
    assert "StateTransition" not in line and "StateTransition" not in metric_names(line)


def test_http_500_counts_as_failure_judged_by_the_previous_probe(clock, circuits, service, aws_env, capsys):
    service.status = 500
    writes = aws_env.writes
    summary, line = run(capsys, event(service.url()))
    assert summary["outcome"] == "failure" and summary["status"] == 500 and summary["error"] == "HTTP 500"
    assert line["level"] == "WARN" and line["ProbeFailure"] == 1
    assert aws_env.writes == writes, "a first failure has no previous probe to be judged by: nothing to count"
    run(capsys, event(service.url()))
    assert counts(circuits) == (1, 1)  # judged, and a repeat: the previous probe failed too


def test_a_failure_after_a_success_is_judged_but_not_a_repeat(clock, circuits, service, capsys):
    run(capsys, event(service.url()))
    service.status = 503
    run(capsys, event(service.url()))
    assert counts(circuits) == (1, 0)


@pytest.mark.parametrize("status", [503, 404, 302])
def test_any_non_2xx_status_is_a_failure(clock, circuits, service, capsys, status):
    service.status = status
    summary, _ = run(capsys, event(service.url()))
    assert (summary["outcome"], summary["status"], summary["error"]) == ("failure", status, f"HTTP {status}")


def test_unreachable_services_are_failures(clock, circuits, closed_url, unresolvable_url, capsys):
    refused, _ = run(capsys, event(closed_url))
    assert refused["outcome"] == "failure" and refused["status"] is None
    assert refused["error"] == "connection refused"
    unresolved, _ = run(capsys, event(unresolvable_url))
    assert unresolved["outcome"] == "failure" and unresolved["error"].startswith("DNS lookup failed")
    assert counts(circuits) == (1, 1)


def test_timeout_is_a_failure(clock, circuits, service, capsys):
    service.delay_s = 0.5
    summary, line = run(capsys, {**event(service.url()), "timeout_s": 0.1})
    assert summary["outcome"] == "failure" and summary["error"] == "timeout after 0.1 s"
    assert 100 <= line["ProbeLatency"] < 500


def test_answer_over_the_slow_threshold_is_slow(clock, circuits, service, capsys):
    service.delay_s = 0.06
    for _ in range(2):
        summary, line = run(capsys, event(service.url(), slow_call_threshold_ms=50))
    assert summary["outcome"] == "slow" and summary["status"] == 200
    assert summary["error"].startswith("slow: ")
    assert line["ProbeFailure"] == 1
    assert counts(circuits) == (1, 1)


# -- the state machine through the checker --------------------------------------------------


def test_trips_when_the_rule_holds_and_not_before(clock, circuits, service, capsys):
    service.status = 503
    for probe in range(1, 3):
        summary, line = run(capsys, event(service.url()))
        assert summary["state_after"] == "CLOSED", f"opened after {probe} failures"
        assert line["CircuitOpened"] == 0 and "StateTransition" not in line
        assert_valid_emf(line)
    summary, line = run(capsys, {**event(service.url())})
    assert (summary["state_before"], summary["state_after"], summary["transition"]) == ("CLOSED", "OPEN", True)
    assert_valid_emf(line)
    assert line["CircuitOpened"] == 1 and line["StateTransition"] == 1
    assert {"ProbeLatency", "ProbeFailure", "StateTransition", "CircuitOpened"} == metric_names(line)
    assert line["CircuitId"] == "payments" and line["_aws"]["Timestamp"] == START_MS
    record = circuits.get("payments")
    assert record.state is State.OPEN and record.version == summary["version"]
    assert record.last_error == "HTTP 503"


def test_open_circuit_is_probed_and_a_failed_probe_writes_nothing(clock, circuits, service, aws_env, capsys):
    service.status = 503
    trip(capsys, service.url())
    seen, writes, version = service.requests, aws_env.writes, circuits.get("payments").version
    clock.ms += 1_000  # well inside the open duration
    summary, line = run(capsys, {**event(service.url())})
    assert service.requests == seen + 1 and aws_env.writes == writes
    assert summary["probed"] is True and summary["outcome"] == "failure"
    assert summary["state_before"] == summary["state_after"] == "OPEN"
    assert circuits.get("payments").version == version


def test_a_passing_probe_lets_trials_through_before_the_open_duration(clock, circuits, service, capsys):
    service.status = 503
    trip(capsys, service.url())
    service.status = 200
    clock.ms += 1_000
    summary, line = run(capsys, {**event(service.url())})
    assert (summary["state_before"], summary["state_after"]) == ("OPEN", "HALF_OPEN")
    assert line["StateTransition"] == 1 and line["CircuitOpened"] == 0
    record = circuits.get("payments")
    assert record.state is State.HALF_OPEN and record.transitioned_at == clock.ms
    assert record.half_open_successes == 0, "a probe is not a trial: business trials still decide"


def test_a_run_keeps_probing_while_open_until_the_service_is_back(clock, circuits, service, capsys):
    """One scheduled run: probes every interval_while_open_s while OPEN, then takes the trials
    itself, and ends as soon as the circuit is CLOSED."""
    service.status = 503
    trip(capsys, service.url())
    service.status, service.fail_first = 200, 1  # the next probe fails, then the service is back
    summary, lines = run_all(capsys, {**event(service.url()), "interval_while_open_s": 4})
    states = [(line["state_before"], line["state_after"], line["outcome"]) for line in lines]
    assert states == [
        ("OPEN", "OPEN", "failure"),
        ("OPEN", "HALF_OPEN", "success"),  # 4 s after the trip: well before the 10 s open duration
        ("HALF_OPEN", "HALF_OPEN", "success"),
        ("HALF_OPEN", "CLOSED", "success"),
    ]
    assert summary["probes"] == 4 and summary["state_after"] == "CLOSED"


def test_a_run_probes_for_at_most_run_span_s(clock, circuits, service, capsys):
    service.status = 503
    trip(capsys, service.url())
    summary, lines = run_all(capsys, {**event(service.url()), "interval_while_open_s": 5})
    assert len(lines) == 12 and summary["state_after"] == "OPEN"  # at 0, 5, ..., 55 s: RUN_SPAN_S


def test_a_run_ends_before_the_functions_timeout(clock, circuits, service, capsys, monkeypatch):
    service.status = 503
    trip(capsys, service.url())

    class Context:  # Lambda's context, 20 s left when the run starts, on the test's clock
        def __init__(self) -> None:
            self.ends = clock.ms + 20_000

        def get_remaining_time_in_millis(self) -> int:
            return self.ends - clock.ms

    started = clock.ms
    summary = checker.handler({**event(service.url()), "interval_while_open_s": 5}, Context())
    lines = capsys.readouterr().out.splitlines()
    # at 0, 5, 10 and 15 s; a fifth at 20 s could end (1 s probe timeout) after the 19 s left to it
    assert len(lines) == summary["probes"] == 4
    assert clock.ms - started <= 19_000


def test_half_open_trials_close_the_circuit_after_the_success_threshold(clock, circuits, service, capsys):
    service.status = 503
    trip(capsys, service.url())
    service.status = 200
    clock.ms += 10_000
    first, line = run(capsys, event(service.url()))
    assert (first["state_before"], first["state_after"]) == ("HALF_OPEN", "HALF_OPEN")
    second, line = run(capsys, event(service.url()))
    assert (second["state_before"], second["state_after"]) == ("HALF_OPEN", "CLOSED")
    assert line["StateTransition"] == 1 and line["CircuitOpened"] == 0
    assert circuits.get("payments").state is State.CLOSED


def test_failed_trial_reopens_with_a_longer_open_duration(clock, circuits, service, capsys):
    service.status = 503
    trip(capsys, service.url())
    clock.ms += 10_000
    summary, line = run(capsys, {**event(service.url())})
    assert (summary["state_before"], summary["state_after"]) == ("HALF_OPEN", "OPEN")
    assert line["CircuitOpened"] == 1 and line["StateTransition"] == 1
    record = circuits.get("payments")
    assert record.consecutive_opens == 2
    assert record.next_attempt_at - record.opened_at == 20_000  # 10 s × multiplier 2


def test_half_open_probe_skipped_when_the_trial_is_taken(clock, circuits, service, capsys):
    service.status = 503
    trip(capsys, service.url())
    clock.ms += 10_000
    settings = BreakerSettings.from_mapping(SETTINGS)
    circuits.apply("payments", lambda record: grant_trial(record, settings, clock.ms, "business")[0])
    seen = service.requests
    summary, _ = run(capsys, event(service.url()))
    assert service.requests == seen
    assert summary["skipped"] == "every half-open trial is already taken" and summary["state_after"] == "HALF_OPEN"


def test_a_run_looks_again_while_a_business_trial_holds_the_lease(clock, circuits, service, capsys):
    """A skipped probe does not end the run: if that trial fails and the circuit opens again, the
    same run's next probe can still see the service back (ending the run there left the circuit
    OPEN until the next scheduled run, up to a minute, in the benchmark's hang case)."""
    service.status = 503
    trip(capsys, service.url())
    clock.ms += 10_000
    settings = BreakerSettings.from_mapping(SETTINGS)
    circuits.apply("payments", lambda record: grant_trial(record, settings, clock.ms, "business")[0])
    service.status = 200
    summary, lines = run_all(capsys, {**event(service.url()), "interval_while_open_s": 5})
    assert lines[0]["skipped"] == "every half-open trial is already taken"
    assert any(line.get("outcome") == "success" for line in lines[1:]), lines
    assert summary["probes"] >= 1


def concurrent_checks(checkers: int, probe_input: Any, aws_env: Any, table: str, clock: Clock) -> tuple[list[Any], list[CircuitStore]]:
    """``checkers`` environments probing at once, one probe each (the service's gate holds every
    probe until all have arrived), each remembering a failed previous probe."""
    stores = [CircuitStore(aws_env.client(), table) for _ in range(checkers)]
    reports: list[Any] = []

    def check(store: CircuitStore) -> None:
        checker._previous_failed["payments"] = True
        reports.extend(checker.check(probe_input, store, clock))

    threads = [threading.Thread(target=check, args=(store,)) for store in stores]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(probing, "RUN_SPAN_S", 0)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return reports, stores


def test_concurrent_checkers_count_without_conflict(clock, circuits, service, aws_env, table):
    """Every checker holds version 1 when it counts (the service holds each probe until all have
    arrived): the counts are ADDs, so none conflicts and every failure is counted."""
    checkers = 6
    circuits.apply("payments", lambda record: created(record, clock.ms))
    service.status = 503
    service.gate = threading.Barrier(checkers)
    reports, stores = concurrent_checks(checkers, parse_input(event(service.url(), minimum_failures=100)), aws_env, table, clock)
    assert len(reports) == checkers
    assert counts(circuits) == (checkers, checkers)
    assert circuits.get("payments").version == 1, "counting is not a state change"
    assert sum(store.stats.conflicts for store in stores) == 0


def test_concurrent_checkers_report_one_trip(clock, circuits, service, aws_env, table):
    checkers = 6
    circuits.apply("payments", lambda record: created(record, clock.ms))
    service.status = 503
    service.gate = threading.Barrier(checkers)
    probe_input = parse_input(event(service.url(), minimum_failures=3))
    reports, _ = concurrent_checks(checkers, probe_input, aws_env, table, clock)
    assert sum(report.opened for report in reports) == 1
    assert circuits.get("payments").state is State.OPEN


# -- input validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, fields",
    [
        ({}, ["circuit_id", "url", "breaker"]),
        ({"circuit_id": "", "url": "ftp://host/health", "breaker": {}}, ["circuit_id", "url"]),
        ({"circuit_id": "a", "url": "http:///health", "timeout_s": "2", "breaker": {}}, ["url", "timeout_s"]),
        ({"circuit_id": "a", "url": "http://h/", "timeout_s": True, "breaker": []}, ["timeout_s", "breaker"]),
        (
            {"circuit_id": "a", "url": "http://h/", "breaker": {"minimum_failures": 0, "bogus": 1}, "timeout": 2},
            ["timeout", "breaker.minimum_failures", "breaker.bogus"],
        ),
        ("payments", ["event"]),
    ],
)
def test_malformed_input_is_a_clear_error_naming_each_field(capsys, bad, fields):
    with pytest.raises(InputError) as raised:
        checker.handler(bad, None)
    assert isinstance(raised.value, ValueError)
    message = str(raised.value)
    assert message.startswith("invalid checker input: ")
    for field in fields:
        assert f"{field}: " in message
    assert set(raised.value.problems) == set(fields)
    logged = json.loads(capsys.readouterr().out)
    assert logged["level"] == "ERROR" and logged["problems"] == raised.value.problems


def test_valid_input_defaults_the_timeout():
    parsed = parse_input({"circuit_id": "a", "url": "https://h.example/health", "breaker": {}})
    assert parsed.timeout_s == 2.0 and parsed.settings == BreakerSettings()


def test_missing_table_variable_is_named(monkeypatch, service):
    monkeypatch.setattr(checker, "_store", None)
    monkeypatch.delenv("CIRCUIT_BREAKER_TABLE", raising=False)
    with pytest.raises(RuntimeError, match="CIRCUIT_BREAKER_TABLE"):
        checker.handler(event(service.url()), None)


def test_summary_is_what_the_record_says(clock, circuits, service, capsys):
    service.status = 503
    run(capsys, event(service.url()))
    summary, line = run(capsys, event(service.url()))
    record: CircuitRecord = circuits.get("payments")
    assert summary["version"] == record.version == 1
    assert {k: line[k] for k in summary if k != "probes"} == {k: v for k, v in summary.items() if k != "probes"}
    json.dumps(summary)


# -- the time budget (checker/budget.py) -----------------------------------------------------


class LambdaContext:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.mark.parametrize("remaining_ms", [5_000, 6_000, 10_000, 13_000, 16_500, 30_000, 60_000])
@pytest.mark.parametrize("probe_timeout_s", [0.5, 2.0, 5.0])
def test_retries_are_bounded_so_requests_probe_and_log_fit_the_time_left(remaining_ms, probe_timeout_s):
    attempts = budget.dynamodb_attempts(remaining_ms, probe_timeout_s)
    worst_s = budget.CALLS * budget.request_worst_s(attempts) + probe_timeout_s + budget.LOG_RESERVE_S
    assert 1 <= attempts <= budget.MAX_ATTEMPTS
    if remaining_ms / 1000 >= probe_timeout_s + budget.MIN_ROOM_S:  # what the config guarantees
        assert worst_s <= remaining_ms / 1000
    if attempts < budget.MAX_ATTEMPTS:  # one more attempt would not have fitted
        assert worst_s - budget.CALLS * (budget.request_worst_s(attempts) - budget.request_worst_s(attempts + 1)) \
            > remaining_ms / 1000


def test_dev_shipping_fits_its_checker_timeout_in_the_worst_case():
    """The issue's case: a 5 s probe in a 10 s checker was 13 s in the worst case before."""
    attempts = budget.dynamodb_attempts(10_000, 5.0)
    assert (attempts, budget.CALLS * budget.request_worst_s(attempts) + 5.0 + budget.LOG_RESERVE_S) == (1, 10.0)


def test_the_handler_sizes_the_sdks_retries_from_the_time_left(clock, circuits, service, capsys):
    checker.handler(event(service.url()), LambdaContext(10_000))
    assert checker._store._client.meta.config.retries["total_max_attempts"] == 1
    checker.handler(event(service.url()), LambdaContext(60_000))
    assert checker._store._client.meta.config.retries["total_max_attempts"] == budget.MAX_ATTEMPTS
    assert checker._store._client.meta.config.connect_timeout == budget.CONNECT_TIMEOUT_S
    capsys.readouterr()


def test_a_run_that_fails_on_dynamodb_still_logs_its_outcome(clock, circuits, service, monkeypatch, capsys):
    monkeypatch.setenv("CIRCUIT_BREAKER_TABLE", "no-such-table")
    with pytest.raises(Exception, match="ResourceNotFound|non-existent|not found"):
        checker.handler(event(service.url()), LambdaContext(10_000))
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert (line["level"], line["message"], line["circuit"]) == ("ERROR", "check failed", "payments")
    assert "ResourceNotFound" in line["error"]
