"""Lookups and reports through real extension processes against moto's DynamoDB."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

FAST = {"failure_threshold": 3, "open_duration_s": 0.3, "half_open_max_trials": 1, "half_open_success_threshold": 2}


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


def test_trips_at_the_threshold_and_recovers_through_half_open(launch, stored) -> None:
    extension = launch({"payments": FAST})

    for count in (1, 2):
        status, answer = extension.report("payments", "failure", {"latency_ms": 30, "error": "HTTP 503"})
        assert (status, answer["state"], answer["version"]) == (200, "CLOSED", count)
        assert extension.get("payments")[1]["allowed"] is True
    status, answer = extension.report("payments", "failure", {"error": "HTTP 503"})
    assert (status, answer["state"]) == (200, "OPEN")
    lookup = extension.get("payments")[1]
    assert (lookup["state"], lookup["allowed"]) == ("OPEN", False)  # at once, from the same process
    record = stored("payments")
    assert (record.state.value, record.version, record.consecutive_opens, record.last_error) == ("OPEN", 3, 1, "HTTP 503")

    time.sleep(max(record.next_attempt_at / 1000 - time.time(), 0) + 0.02)
    for _ in range(2):  # two trials in a row, the second after the first reported success
        first, second = extension.get("payments")[1], extension.get("payments")[1]
        assert (first["state"], first["allowed"]) == ("HALF_OPEN", True)  # the one trial
        assert (second["state"], second["allowed"]) == ("HALF_OPEN", False)  # budget spent
        assert extension.report("payments", "success", {"latency_ms": 8})[0] == 200
    lookup = extension.get("payments")[1]
    assert (lookup["state"], lookup["allowed"]) == ("CLOSED", True)
    assert stored("payments").state.value == "CLOSED"


def test_a_failed_trial_opens_again_for_longer(launch, stored) -> None:
    extension = launch({"payments": {**FAST, "failure_threshold": 1}})
    extension.report("payments", "failure")
    first = stored("payments")
    time.sleep(max(first.next_attempt_at / 1000 - time.time(), 0) + 0.02)
    assert extension.get("payments")[1]["allowed"] is True
    assert extension.report("payments", "failure")[1]["state"] == "OPEN"
    again = stored("payments")
    assert again.consecutive_opens == 2
    assert again.next_attempt_at - again.opened_at == 2 * (first.next_attempt_at - first.opened_at)


def test_slow_successes_count_as_failures(launch, stored) -> None:
    extension = launch({"payments": {"failure_threshold": 2, "slow_call_threshold_ms": 100}})
    assert extension.report("payments", "success", {"latency_ms": 20})[1]["outcome"] == "success"
    answers = [extension.report("payments", "success", {"latency_ms": 150})[1] for _ in range(2)]
    assert [a["outcome"] for a in answers] == ["slow", "slow"]
    assert answers[-1]["state"] == "OPEN"
    assert stored("payments").state.value == "OPEN"


def test_another_environment_learns_of_a_trip_from_its_own_next_failure(launch) -> None:
    tripping, other = launch({"payments": FAST}), launch({"payments": FAST})
    assert other.get("payments")[1]["state"] == "CLOSED"  # cached for the default 30 s TTL
    for _ in range(3):
        tripping.report("payments", "failure")
    assert other.get("payments")[1]["state"] == "CLOSED"  # not yet: its cache is still fresh
    answer = other.report("payments", "failure")[1]  # its write conflicts and hands back OPEN
    assert answer["state"] == "OPEN"
    assert other.get("payments")[1]["allowed"] is False


def test_concurrent_reports_from_three_environments_lose_nothing_and_trip_once(launch, stored) -> None:
    threshold, threads, per_thread = 100, 4, 5
    settings = {"payments": {"failure_threshold": threshold, "open_duration_s": 60}}
    extensions = [launch(settings) for _ in range(3)]

    def burst(extension) -> list[dict]:
        return [extension.report("payments", "failure", {"error": "boom"})[1] for _ in range(per_thread)]

    def phase() -> list[list[dict]]:
        with ThreadPoolExecutor(len(extensions) * threads) as pool:
            sequences = list(pool.map(burst, [e for e in extensions for _ in range(threads)]))
        for extension in extensions:
            extension.stub.invoke()  # writes any report that had to be queued
        return sequences

    first = phase()
    reports = len(extensions) * threads * per_thread  # 60, under the threshold
    record = stored("payments")
    assert (record.state.value, record.consecutive_failures, record.version) == ("CLOSED", reports, reports)
    written = [a["version"] for sequence in first for a in sequence if not a["pending"]]
    assert len(set(written)) == len(written)  # no two writers ever produced the same version
    for sequence in first:
        versions = [a["version"] for a in sequence if not a["pending"]]
        assert versions == sorted(set(versions))  # each caller saw the versions strictly increase

    second = phase()  # 60 more: the 100th failure trips, the rest find it OPEN
    record = stored("payments")
    assert (record.state.value, record.version, record.consecutive_opens) == ("OPEN", threshold, 1)
    closed_versions = [a["version"] for s in first + second for a in s if not a["pending"] and a["state"] == "CLOSED"]
    assert len(set(closed_versions)) == len(closed_versions)
    for extension in extensions:  # each learns of the trip from its next failure, at the latest
        assert extension.report("payments", "failure")[1]["state"] == "OPEN"
        assert extension.get("payments")[1]["allowed"] is False
    assert stored("payments").version == threshold


def test_the_environment_that_opens_a_circuit_emits_the_alarm_metric_once(launch) -> None:
    """Business calls, not only the checker, must raise the circuit's alarm: the environment
    whose write opened the circuit logs CircuitOpened (EMF) once; one that only learns of the
    trip from a conflict logs no metric."""
    tripping, other = launch({"payments": FAST}), launch({"payments": FAST})
    assert other.get("payments")[1]["state"] == "CLOSED"
    for _ in range(3):
        tripping.report("payments", "failure")
    assert other.report("payments", "failure")[1]["state"] == "OPEN"  # learnt from the conflict

    opened = [line for line in tripping.process.logs("transition") if line.get("CircuitOpened") == 1]
    assert len(opened) == 1
    directive = opened[0]["_aws"]["CloudWatchMetrics"][0]
    assert (directive["Namespace"], directive["Dimensions"], opened[0]["CircuitId"]) == (
        "CircuitBreaker", [["CircuitId"]], "payments"
    )
    assert {metric["Name"] for metric in directive["Metrics"]} == {"CircuitOpened", "StateTransition"}
    assert all("CircuitOpened" not in line for line in other.process.logs("transition"))
