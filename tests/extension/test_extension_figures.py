"""The extension's figures: time to register, and DynamoDB requests per traffic pattern.

Prints one JSON line per figure; see them with
``venv/bin/python -m pytest tests/extension/test_extension_figures.py -q -s``. The asserted
bounds are the design's promises (no write while healthy, at most one read per TTL, one write
per counted failure); the timings are only printed, as they depend on the machine.
"""

from __future__ import annotations

from breaker.machine import BreakerSettings
from circuit_breaker_extension.service import FLUSH_BURST, FLUSH_INTERVAL_S, RECOVERY_CACHE_TTL_S

import json
import statistics
import time

from extension_harness import ExtensionProcess, ExtensionsApiStub, free_port

STARTS = 10
CALLS = 1000
TTL_S = 30.0  # the default CIRCUIT_BREAKER_CACHE_TTL_S
REFRESH_AHEAD_S = 1.0  # service.REFRESH_AHEAD_S


def _print(figure: str, **values: object) -> None:
    print(json.dumps({"figure": figure, **values}))


def test_time_from_process_start_to_registration(layer_dir, dynamodb, table) -> None:
    spawn_to_register, in_process, to_ready = [], [], []
    for _ in range(STARTS):
        stub = ExtensionsApiStub()
        process = ExtensionProcess(
            layer_dir,
            {
                **dynamodb.environment(),
                "AWS_LAMBDA_RUNTIME_API": stub.address,
                "AWS_SESSION_TOKEN": "t",
                "CIRCUIT_BREAKER_TABLE": table,
                "CIRCUIT_BREAKER_CIRCUITS": json.dumps({"payments": {}}),
                "CIRCUIT_BREAKER_PORT": str(free_port()),
                "PYTHONDONTWRITEBYTECODE": "1",  # as on Lambda, where /opt is read-only
            },
        )
        try:
            registration = stub.wait_registered()
            spawn_to_register.append((registration.at - process.started_at) * 1000)
            stub.wait_next_calls(1)
            in_process.append(process.wait_logs("registered")[0]["ms"])
            to_ready.append(process.wait_logs("ready")[0]["ms"])
            stub.shutdown()
            assert process.wait_exit() == 0
        finally:
            process.stop()
            stub.close()
    # boto3 is imported off the registration path: every start registered before it was ready.
    assert all(registered < ready for registered, ready in zip(in_process, to_ready))
    _print(
        "start_to_register_ms",
        median_spawn_to_register=round(statistics.median(spawn_to_register), 1),
        median_main_to_register=round(statistics.median(in_process), 1),
        median_main_to_ready_with_boto3_and_first_load=round(statistics.median(to_ready), 1),
        starts=STARTS,
    )


def _budget(elapsed_s: float) -> int:
    """Reads allowed: the load at start, then at most one per (refresh-ahead shortened) TTL."""
    return 1 + int(elapsed_s // (TTL_S - REFRESH_AHEAD_S)) + 1


def test_requests_for_healthy_business_traffic(launch, dynamodb) -> None:
    reads, writes = dynamodb.reads, dynamodb.writes
    extension = launch({"payments": {}})
    client = extension.client()
    started = time.monotonic()
    for _ in range(CALLS):
        extension.stub.invoke()
        assert client.check("payments").allowed
        assert client.report_success("payments", 20.0)
    elapsed = time.monotonic() - started
    used_reads, used_writes = dynamodb.reads - reads, dynamodb.writes - writes
    _print("healthy_calls", calls=CALLS, seconds=round(elapsed, 2), reads=used_reads, writes=used_writes)
    assert used_writes == 0
    assert used_reads <= _budget(elapsed)


def test_requests_for_one_outage(launch, dynamodb) -> None:
    reads, writes = dynamodb.reads, dynamodb.writes
    extension = launch({"payments": {"open_duration_s": 60}})  # the default trip rule
    client = extension.client()
    started = time.monotonic()
    failures = 0
    while client.check("payments").allowed:
        extension.stub.invoke()
        assert client.report_failure("payments", 2000.0, "timeout")
        failures += 1
    tripped_reads, tripped_writes = dynamodb.reads - reads, dynamodb.writes - writes
    tripping = time.monotonic() - started
    for _ in range(CALLS):
        extension.stub.invoke()
        assert client.check("payments").allowed is False  # the fallback path
    elapsed = time.monotonic() - started
    used_reads, used_writes = dynamodb.reads - reads, dynamodb.writes - writes
    _print(
        "outage",
        failures_to_trip=failures,
        reads_to_trip=tripped_reads,
        writes_to_trip=tripped_writes,
        open_lookups=CALLS,
        seconds=round(elapsed, 2),
        reads_total=used_reads,
        writes_total=used_writes,
    )
    # The defaults: 30 judged failures at 100 % repeats; an environment's first failure is unjudged.
    assert failures == BreakerSettings().minimum_failures + 1
    # The write bucket's burst (the first of them creates the record), a write per token refilled
    # while failing, the one that can trip, the trip; none while OPEN.
    refills = int(tripping / FLUSH_INTERVAL_S)
    assert used_writes == tripped_writes <= FLUSH_BURST + refills + 2
    # + the re-read the unjudged first failure asks for, the GetItem before creating the record,
    # at most one re-read per failure (after a written one, or a repeat the bucket held back), and
    # while OPEN one re-read per RECOVERY_CACHE_TTL_S (so that a recovery is seen within seconds).
    assert used_reads <= _budget(elapsed) + 2 + failures + int(elapsed / RECOVERY_CACHE_TTL_S)
