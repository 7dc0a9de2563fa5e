"""Lookups and reports through real extension processes against moto's DynamoDB."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from breaker.machine import BreakerSettings, window_counts
from circuit_breaker_extension.service import FLUSH_INTERVAL_S
from extension_harness import call, trips_after

# An open duration long enough that a loaded machine still looks up before it ends.
FAST = trips_after(3, open_duration_s=1.0, half_open_max_trials=1, half_open_success_threshold=2)


def test_healthy_traffic_costs_no_write_and_one_read_per_ttl(launch, dynamodb) -> None:
    reads, writes = dynamodb.reads, dynamodb.writes
    extension = launch({"payments": {}, "search": {}})  # TTL: the default 30 s
    client = extension.client()
    started = time.monotonic()
    statuses = []
    for _ in range(200):
        extension.stub.invoke()
        statuses.append(client.check("payments"))
        assert client.report_success("payments", 12.5)
    elapsed = time.monotonic() - started

    assert elapsed < 4  # so that every call fell in the first TTL
    assert all(s.allowed and s.reachable and s.state == "CLOSED" and not s.stale for s in statuses)
    assert dynamodb.writes - writes == 0
    assert dynamodb.reads - reads == 1  # the BatchGetItem made while the extension started
    assert dynamodb.operations["Scan"] == 0


def test_trips_when_the_rule_holds_and_recovers_through_half_open(launch, stored) -> None:
    extension = launch({"payments": FAST})

    for _ in (1, 2):
        status, answer = extension.report("payments", "failure", {"latency_ms": 30, "error": "HTTP 503"})
        assert (status, answer["pending"]) == (200, False)
        assert extension.get("payments")[1]["allowed"] is True
    status, answer = extension.report("payments", "failure", {"error": "HTTP 503"})
    assert (status, answer["state"]) == (200, "OPEN")
    lookup = extension.get("payments")[1]
    assert (lookup["state"], lookup["allowed"]) == ("OPEN", False)  # at once, from the same process
    record = stored("payments")
    # version 1: the record created for the first count; 2: the trip. Counting is no state change.
    assert (record.state.value, record.version, record.consecutive_opens, record.last_error) == ("OPEN", 2, 1, "HTTP 503")

    time.sleep(max(record.next_attempt_at / 1000 - time.time(), 0) + 0.02)
    for _ in range(2):  # two trials in a row, the second after the first reported success
        first, second = extension.get("payments")[1], extension.get("payments")[1]
        assert (first["state"], first["allowed"]) == ("HALF_OPEN", True)  # the one trial
        assert (second["state"], second["allowed"]) == ("HALF_OPEN", False)  # budget spent
        status, answer = extension.report("payments", "success", {"latency_ms": 8})
        assert (status, answer["trial"]) == (200, True)
    lookup = extension.get("payments")[1]
    assert (lookup["state"], lookup["allowed"]) == ("CLOSED", True)
    assert stored("payments").state.value == "CLOSED"


def test_a_failed_trial_opens_again_for_longer(launch, stored) -> None:
    extension = launch({"payments": FAST})
    for _ in range(3):
        extension.report("payments", "failure")
    first = stored("payments")
    time.sleep(max(first.next_attempt_at / 1000 - time.time(), 0) + 0.02)
    assert extension.get("payments")[1]["allowed"] is True
    assert extension.report("payments", "failure")[1]["state"] == "OPEN"
    again = stored("payments")
    assert again.consecutive_opens == 2
    assert again.next_attempt_at - again.opened_at == 2 * (first.next_attempt_at - first.opened_at)


def test_slow_successes_count_as_failures(launch, stored) -> None:
    extension = launch({"payments": trips_after(3, slow_call_threshold_ms=100)})
    assert extension.report("payments", "failure")[1]["outcome"] == "failure"
    answers = [extension.report("payments", "success", {"latency_ms": 150})[1] for _ in range(2)]
    assert [a["outcome"] for a in answers] == ["slow", "slow"]
    assert answers[-1]["state"] == "OPEN"
    assert stored("payments").state.value == "OPEN"


def test_a_success_costs_nothing_and_breaks_this_environments_run_of_failures(launch, stored) -> None:
    extension = launch({"payments": trips_after(3)})
    extension.report("payments", "failure")
    extension.report("payments", "success", {"latency_ms": 5})
    extension.report("payments", "failure")  # judged, but its previous call succeeded: no repeat
    extension.report("payments", "failure")  # a repeat: 1 of 2 judged, under the 100 % rule
    time.sleep(FLUSH_INTERVAL_S)
    extension.stub.invoke()  # writes what the flush interval held back
    record = stored("payments")
    assert record.state.value == "CLOSED"
    assert window_counts(record, BreakerSettings.from_mapping(trips_after(3)), record.updated_at) == (2, 1)


def test_another_environment_learns_of_a_trip_from_its_own_next_failure(launch) -> None:
    tripping, other = launch({"payments": FAST}), launch({"payments": FAST})
    assert other.get("payments")[1]["state"] == "CLOSED"  # cached for the default 30 s TTL
    other.report("payments", "success")  # so that its next failure is judged, and written
    for _ in range(3):
        tripping.report("payments", "failure")
    assert other.get("payments")[1]["state"] == "CLOSED"  # not yet: its cache is still fresh
    answer = other.report("payments", "failure")[1]  # its count is refused, handing back OPEN
    assert answer["state"] == "OPEN"
    assert other.get("payments")[1]["allowed"] is False


def test_three_environments_reporting_together_write_every_report_and_trip_once(launch, stored) -> None:
    """Issue 10's concurrency target: 3 extension processes × 6 threads reporting failures at
    once. Counting is an ADD, so no report waits in a queue for a conflict (≥ 99 % answered
    200 at once), exactly one OPEN transition is stored, and every report is accounted for:
    counted in the table, or dropped because the circuit had opened (it counts for nothing
    then), none lost."""
    processes, threads, per_thread = 3, 6, 5
    settings = {"payments": {"minimum_failures": 100, "failure_rate_threshold": 0.5, "open_duration_s": 60}}
    extensions = [launch(settings) for _ in range(processes)]

    def burst(extension) -> list[int]:
        return [extension.report("payments", "failure", {"error": "boom"})[0] for _ in range(per_thread)]

    def phase() -> list[int]:
        with ThreadPoolExecutor(processes * threads) as pool:
            statuses = [s for sequence in pool.map(burst, [e for e in extensions for _ in range(threads)]) for s in sequence]
        time.sleep(FLUSH_INTERVAL_S)
        for extension in extensions:
            extension.stub.invoke()  # writes what the flush interval held back
        return statuses

    def accounted() -> tuple[int, int, int]:
        healths = [call(extension.port, "GET", "/health")[1] for extension in extensions]
        return tuple(sum(h[key] if key == "pending" else h["flushes"][key] for h in healths) for key in ("written", "dropped", "pending"))

    first = phase()
    per_phase = processes * threads * per_thread  # 90
    judged = per_phase - processes  # each process's first failure has no previous call to judge it by
    record = stored("payments")
    counted = window_counts(record, BreakerSettings.from_mapping(settings["payments"]), record.updated_at)
    assert (record.state.value, record.version) == ("CLOSED", 1)
    assert counted == (judged, judged)  # every judged failure a repeat, every one counted
    assert accounted() == (judged, 0, 0)

    second = phase()  # 90 more: the rule holds at the 100th judged failure
    statuses = first + second
    assert statuses.count(200) >= 0.99 * len(statuses)
    record = stored("payments")
    assert (record.state.value, record.version, record.consecutive_opens) == ("OPEN", 2, 1)
    written, dropped, pending = accounted()
    assert pending == 0 and written + dropped == judged + per_phase
    assert written >= 100
    opened = [line for e in extensions for line in e.process.logs("transition") if line.get("CircuitOpened") == 1]
    assert len(opened) == 1, "one trip, one alarm metric"
    for extension in extensions:  # each knows of the trip, at the latest from its own next failure
        extension.report("payments", "failure")
        assert extension.get("payments")[1]["allowed"] is False


def test_the_environment_that_opens_a_circuit_emits_the_alarm_metric_once(launch, table) -> None:
    """Business calls, not only the checker, must raise the circuit's alarm: the environment
    whose write opened the circuit logs CircuitOpened (EMF) once; one that only learns of the
    trip from a refusal logs no metric."""
    tripping, other = launch({"payments": FAST}), launch({"payments": FAST})
    assert other.get("payments")[1]["state"] == "CLOSED"
    other.report("payments", "success")
    for _ in range(3):
        tripping.report("payments", "failure")
    assert other.report("payments", "failure")[1]["state"] == "OPEN"  # learnt from the refusal

    opened = [line for line in tripping.process.logs("transition") if line.get("CircuitOpened") == 1]
    assert len(opened) == 1
    directive = opened[0]["_aws"]["CloudWatchMetrics"][0]
    assert (directive["Namespace"], directive["Dimensions"], opened[0]["CircuitId"]) == (
        "CircuitBreaker", [["Table", "CircuitId"]], "payments"
    )
    assert opened[0]["Table"] == table  # the stack's own table: no other stack's alarm matches
    assert {metric["Name"] for metric in directive["Metrics"]} == {"CircuitOpened", "StateTransition"}
    assert all("CircuitOpened" not in line for line in other.process.logs("transition"))
