"""The extension's circuit service on its own (no process): what it does when the table misbehaves."""

from __future__ import annotations

import json

from breaker.machine import BreakerSettings, CircuitRecord, State
from breaker.store import StoreStats
from circuit_breaker_extension.service import TRIAL_RETRY_AFTER_S, CircuitService


class HangingTable:
    """Reads work; every conditional write times out, as when DynamoDB hangs mid-outage."""

    def __init__(self, record: CircuitRecord) -> None:
        self.record = record
        self.writes_tried = 0
        self.stats = StoreStats()

    def batch_get(self, ids):
        return {circuit_id: self.record for circuit_id in ids}

    def apply(self, circuit_id, transition, current=None):
        self.writes_tried += 1
        raise TimeoutError("read timeout")


def _stub_environment(table, settings: BreakerSettings, clock) -> CircuitService:
    """One execution environment's service on a stub table whose failures are timeouts."""
    return CircuitService(
        {"payments": settings},
        table,
        (TimeoutError,),
        cache_ttl_s=30,
        unknown_state=State.CLOSED,
        clock=clock,
        wall_ms=lambda: 2_000,
    )


def _memory_environment(
    db, name: str, settings: BreakerSettings, now_ms: list[int], cache_ttl_s: float = 30
) -> CircuitService:
    """One execution environment's service on the in-memory table, on the test's clock."""
    from breaker.store import CircuitStore, ConflictError

    return CircuitService(
        {"payments": settings},
        CircuitStore(db.caller(name), "circuits", sleep=lambda s: None),
        (ConflictError,),
        cache_ttl_s=cache_ttl_s,
        unknown_state=State.CLOSED,
        clock=lambda: now_ms[0] / 1000,
        wall_ms=lambda: now_ms[0],
    )


def test_a_failed_trial_write_pauses_trials_instead_of_holding_every_lookup() -> None:
    """While the table cannot take a trial lease, lookups answer not-allowed (stale) at once for
    TRIAL_RETRY_AFTER_S, instead of each waiting out another DynamoDB timeout."""
    now = [100.0]
    half_open = CircuitRecord("payments", state=State.OPEN, version=3, opened_at=0, next_attempt_at=1_000)
    table = HangingTable(half_open)
    service = _stub_environment(table, BreakerSettings(), lambda: now[0])
    views = [service.lookup("payments") for _ in range(3)]
    assert [(v.state, v.allowed, v.stale) for v in views] == [(State.HALF_OPEN, False, True)] * 3
    assert table.writes_tried == 1
    now[0] += TRIAL_RETRY_AFTER_S
    service.lookup("payments")
    assert table.writes_tried == 2


def test_a_write_refused_for_good_is_dropped_with_a_metric_and_the_rest_are_written(dynamodb, table, capsys) -> None:
    """Issue 13: counts DynamoDB refuses for good (access denied, validation) are dropped with a
    log line and a ReportsDropped metric; the counts behind them still go out."""
    from botocore.exceptions import ClientError

    from breaker.store import CircuitStore
    from circuit_breaker_extension.sdk import Sdk

    client = dynamodb.client()

    def deny_bad(params, **_) -> None:
        if params.get("Key", {}).get("id", {}).get("S") == "bad":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not yours"}}, "UpdateItem")

    client.meta.events.register("provide-client-params.dynamodb.UpdateItem", deny_bad)
    now = [100.0]
    service = CircuitService(
        {"bad": BreakerSettings(), "good": BreakerSettings()},
        CircuitStore(client, table),
        (ClientError,),
        cache_ttl_s=30,
        unknown_state=State.CLOSED,
        clock=lambda: now[0],
        permanent=Sdk.permanent,
    )
    for circuit_id in ("bad", "good"):
        service.report(circuit_id, ok=True, latency_ms=5, error=None)
        service.report(circuit_id, ok=False, latency_ms=5, error="boom")  # judged: written at once
    assert service.pending_count() == 0
    assert (service.flushes.written, service.flushes.dropped) == (1, 1)
    dropped = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"reports_dropped"' in line]
    assert len(dropped) == 1 and dropped[0]["circuit"] == "bad" and dropped[0]["ReportsDropped"] == 1
    assert "AccessDeniedException" in dropped[0]["error"]


def test_an_item_written_by_a_newer_schema_is_refused_for_good() -> None:
    from breaker.item import UnreadableItem
    from circuit_breaker_extension.sdk import Sdk

    assert Sdk.permanent(UnreadableItem("circuit 'x' has schema_version 9"))
    assert not Sdk.permanent(TimeoutError("read timeout"))


def test_an_environment_that_opened_its_circuit_counts_failures_again_once_it_has_recovered() -> None:
    """Regression (found by tests/property/test_fleet.py): an environment whose own write opened
    the circuit kept that OPEN record as the base of every later count, so once the fleet had
    closed the circuit again it dropped each of its failures as "made before the last
    transition". Its failures never counted again, and an outage only it saw never tripped."""
    from breaker.store import CircuitStore
    from tests.support.memory_dynamodb import MemoryDynamoDB

    now_ms = [1_700_000_000_000]
    settings = BreakerSettings(
        failure_rate_threshold=1.0, minimum_failures=3, open_duration_s=1, half_open_success_threshold=1
    )
    db = MemoryDynamoDB()

    def environment(name: str) -> CircuitService:
        return _memory_environment(db, name, settings, now_ms, cache_ttl_s=1)

    def calls(service: CircuitService, ok: bool, count: int) -> None:
        for _ in range(count):
            assert service.lookup("payments").allowed
            service.report("payments", ok=ok, latency_ms=5, error=None if ok else "HTTP 503")

    tripping, recovering = environment("tripping"), environment("recovering")
    calls(tripping, ok=False, count=4)  # 3 judged repeats: its write opens the circuit
    assert tripping.lookup("payments").state is State.OPEN
    now_ms[0] += 1_000
    calls(recovering, ok=True, count=1)  # the one trial needed: CLOSED again
    now_ms[0] += 100
    calls(tripping, ok=False, count=3)  # it sees the outage again
    tripping.retry_pending()
    record = CircuitStore(db, "circuits").get("payments")
    assert (record.state, record.consecutive_opens) == (State.OPEN, 1), record
    assert tripping.flushes.dropped == 0


class DownTable(HangingTable):
    """Reads of the batch work; every other request times out, as when DynamoDB is away."""

    def get(self, circuit_id):
        raise TimeoutError("read timeout")

    def add_tallies(self, base, tallies, stale_before_bucket, creating=None):
        raise TimeoutError("read timeout")


def test_failures_held_past_the_cap_are_counted_as_dropped() -> None:
    """Held failures are capped at MAX_PENDING; the oldest go, and the accounting says so:
    every judged failure is written, dropped or still pending, never silently lost."""
    from circuit_breaker_extension.service import MAX_PENDING

    now = [100.0]
    table = DownTable(CircuitRecord("payments"))
    service = _stub_environment(table, BreakerSettings(minimum_failures=100_000), lambda: now[0])
    service.report("payments", ok=True, latency_ms=5, error=None)
    judged = MAX_PENDING + 25
    for _ in range(judged):
        now[0] += 1.0  # every report is due: each tries the table and puts its failures back
        service.report("payments", ok=False, latency_ms=5, error="boom")
    assert service.pending_count() == MAX_PENDING
    assert (service.flushes.written, service.flushes.dropped) == (0, judged - MAX_PENDING)


def test_while_the_table_is_away_a_failing_environment_does_not_wait_on_re_reads() -> None:
    """Once a counting write failed (the table is away, the counts wait), a repeat held back asks
    for no re-read: each would wait out a DynamoDB timeout on the function's call path, and fail."""

    class CountingDownTable(DownTable):
        gets = 0

        def get(self, circuit_id):
            self.gets += 1
            return super().get(circuit_id)

    table = CountingDownTable(CircuitRecord("payments"))
    # A clock that stands still: no token comes back, so past the burst every repeat is held.
    service = _stub_environment(table, BreakerSettings(minimum_failures=100_000), lambda: 100.0)
    service.report("payments", ok=True, latency_ms=5, error=None)
    for _ in range(20):
        gets = table.gets
        assert service.lookup("payments").allowed
        assert table.gets == gets, "a lookup tried to read the table"
        assert service.report("payments", ok=False, latency_ms=5, error="boom").queued
    assert service.pending_count() == 20


def test_counting_writes_follow_a_token_bucket_whatever_the_failures_are() -> None:
    """A burst of failures is written FLUSH_BURST times at once, then once per FLUSH_INTERVAL_S.
    Whether a failure goes out at once depends only on when it comes: a run of repeats and a run
    of failures that are not repeats are written at the same moments (were repeats written
    sooner, the table's share of repeats would run ahead of the fleet's and trip falsely)."""
    from circuit_breaker_extension.service import FLUSH_BURST, FLUSH_INTERVAL_S
    from tests.support.memory_dynamodb import MemoryDynamoDB

    settings = BreakerSettings(minimum_failures=100_000)  # never trips: only the bucket decides
    writes_by_pattern = []
    for repeats in (True, False):
        db, now_ms = MemoryDynamoDB(), [1_700_000_000_000]
        service = _memory_environment(db, "env", settings, now_ms)
        service.report("payments", ok=True, latency_ms=5, error=None)
        writes = []
        for step in range(12):
            if not repeats:
                service.report("payments", ok=True, latency_ms=5, error=None)
            service.report("payments", ok=False, latency_ms=5, error="HTTP 503")
            writes.append(db.writes)
            if step >= FLUSH_BURST + 2:
                now_ms[0] += int(FLUSH_INTERVAL_S * 1000 / 2)  # one token every second failure
        writes_by_pattern.append(writes)
        service.retry_pending()
        assert service.flushes.written == 12 and service.pending_count() == 0
    assert writes_by_pattern[0] == writes_by_pattern[1]
    # The burst at once (the first write creates the record), none while the bucket is empty,
    # then one per refilled token.
    burst = list(range(1, FLUSH_BURST + 1))
    assert writes_by_pattern[0] == burst + [FLUSH_BURST] * 4 + [FLUSH_BURST + 1] * 2 + [FLUSH_BURST + 2] * 2


def test_after_a_written_failure_the_next_lookup_sees_a_trip_made_since() -> None:
    """An environment whose failure was written while the circuit was CLOSED reads the record
    once before its next call: another environment may have tripped it in between, and its own
    copy (fresh by its TTL) would let the call go out."""
    from tests.support.memory_dynamodb import MemoryDynamoDB

    db, now_ms = MemoryDynamoDB(), [1_700_000_000_000]
    settings = BreakerSettings(failure_rate_threshold=0.5, minimum_failures=3)
    slow, fast = (_memory_environment(db, name, settings, now_ms) for name in ("slow", "fast"))
    for ok in (True, False):  # judged, not a repeat: written at once, the circuit stays CLOSED
        assert slow.lookup("payments").allowed
        slow.report("payments", ok=ok, latency_ms=5, error=None if ok else "HTTP 503")
    for ok in (True, False, False, False):  # 4 judged, 2 repeats across the fleet: OPEN
        assert fast.lookup("payments").allowed
        fast.report("payments", ok=ok, latency_ms=5, error=None if ok else "HTTP 503")
    reads = db.reads
    view = slow.lookup("payments")
    assert (view.state, view.allowed) == (State.OPEN, False)
    assert db.reads == reads + 1  # the one re-read; later lookups serve the copy again
    slow.lookup("payments")
    assert db.reads == reads + 1


def test_a_repeat_the_bucket_holds_back_still_makes_the_next_lookup_re_read() -> None:
    """Past its burst an environment's failures wait for a token, yet each repeat says it keeps
    failing: its next lookup reads the record once, and sees a trip another environment stored
    meanwhile instead of calling on its cached CLOSED copy. Once its copy shows OPEN, failures
    of calls still in flight make no lookup read."""
    from circuit_breaker_extension.service import FLUSH_BURST
    from tests.support.memory_dynamodb import MemoryDynamoDB

    db, now_ms = MemoryDynamoDB(), [1_700_000_000_000]
    settings = BreakerSettings(failure_rate_threshold=0.5, minimum_failures=2 * FLUSH_BURST + 2)
    fast, other = (_memory_environment(db, name, settings, now_ms) for name in ("fast", "other"))
    fast.report("payments", ok=True, latency_ms=5, error=None)
    for _ in range(FLUSH_BURST + 1):  # the burst is written; the last repeat waits for a token
        assert fast.lookup("payments").allowed
        fast.report("payments", ok=False, latency_ms=5, error="HTTP 503")
    assert fast.flushes.written == FLUSH_BURST and fast.pending_count() == 1
    other.report("payments", ok=True, latency_ms=5, error=None)
    for _ in range(FLUSH_BURST + 2):  # with the fast environment's, enough repeats to trip
        other.report("payments", ok=False, latency_ms=5, error="HTTP 503")
        now_ms[0] += 1
    from breaker.store import CircuitStore

    assert CircuitStore(db.caller("operator"), "circuits").get("payments").state is State.OPEN
    reads = db.reads
    view = fast.lookup("payments")
    assert (view.state, view.allowed) == (State.OPEN, False)
    assert db.reads == reads + 1
    # A call still in flight at the trip fails later: its copy already stops every call, so
    # that failure is no reason to read again.
    fast.report("payments", ok=False, latency_ms=5, error="HTTP 503")
    assert fast.lookup("payments").allowed is False
    assert db.reads == reads + 1


def test_a_copy_is_re_read_early_only_while_its_circuit_nears_a_trip() -> None:
    """A copy showing failures that look independent (no repeats) keeps the full cache TTL, as
    a healthy one does: a dependency that stays flaky costs no extra reads per environment. Once
    a copy shows the share of repeats at half the threshold, it is re-read every
    WATCH_CACHE_TTL_S, so a trip reaches this environment before its next calls."""
    from circuit_breaker_extension.service import FLUSH_INTERVAL_S, WATCH_CACHE_TTL_S
    from tests.support.memory_dynamodb import MemoryDynamoDB

    db, now_ms = MemoryDynamoDB(), [1_700_000_000_000]
    settings = BreakerSettings()  # 35 % of 30 judged: nothing here trips
    failing, watching = (_memory_environment(db, name, settings, now_ms) for name in ("failing", "watching"))

    def report(*outcomes: bool) -> None:
        for ok in outcomes:
            failing.report("payments", ok=ok, latency_ms=5, error=None if ok else "HTTP 503")
            now_ms[0] += int(FLUSH_INTERVAL_S * 1000)  # a token per report: every failure written

    def reads_after(seconds: float) -> int:
        now_ms[0] += int(seconds * 1000)
        reads = db.reads
        watching.lookup("payments")
        return db.reads - reads

    report(True, False, True, False, True, False)  # 3 judged, no repeat
    assert reads_after(0) == 1  # the first lookup loads the copy
    assert [reads_after(WATCH_CACHE_TTL_S) for _ in range(5)] == [0] * 5  # 10 s: the full TTL holds
    report(False, False)  # 5 judged, 2 repeats: 40 %, past half of 35 %
    assert reads_after(22) == 1  # the TTL (and its refresh-ahead second) ran out: the copy now shows the share
    assert [reads_after(WATCH_CACHE_TTL_S) for _ in range(3)] == [1, 1, 1]
    assert watching.lookup("payments").state is State.CLOSED
