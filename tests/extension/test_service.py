"""The extension's circuit service on its own (no process, no table): what it does when the table misbehaves."""

from __future__ import annotations

from breaker.machine import BreakerSettings, CircuitRecord, State
from breaker.store import Applied, StoreStats
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


def test_a_failed_trial_write_pauses_trials_instead_of_holding_every_lookup() -> None:
    """While the table cannot take a trial lease, lookups answer not-allowed (stale) at once for
    TRIAL_RETRY_AFTER_S, instead of each waiting out another DynamoDB timeout."""
    now = [100.0]
    half_open = CircuitRecord("payments", state=State.OPEN, version=3, opened_at=0, next_attempt_at=1_000)
    table = HangingTable(half_open)
    service = CircuitService(
        {"payments": BreakerSettings()},
        table,
        (TimeoutError,),
        cache_ttl_s=30,
        unknown_state=State.CLOSED,
        clock=lambda: now[0],
        wall_ms=lambda: 2_000,
    )
    views = [service.lookup("payments") for _ in range(3)]
    assert [(v.state, v.allowed, v.stale) for v in views] == [(State.HALF_OPEN, False, True)] * 3
    assert table.writes_tried == 1
    now[0] += TRIAL_RETRY_AFTER_S
    service.lookup("payments")
    assert table.writes_tried == 2


class SwitchableTable(HangingTable):
    """Times out until ``readable`` is set; then a circuit listed in ``unreadable`` holds a record
    this code cannot decode (a newer schema), and the others take writes."""

    def __init__(self) -> None:
        super().__init__(CircuitRecord("good"))
        self.readable = False
        self.unreadable = {"bad"}
        self.written: list[str] = []

    def batch_get(self, ids):
        return {circuit_id: CircuitRecord(circuit_id) for circuit_id in ids}

    def apply(self, circuit_id, transition, current=None):
        if not self.readable:
            return super().apply(circuit_id, transition, current)
        if circuit_id in self.unreadable:
            raise ValueError(f"circuit {circuit_id!r} has schema_version 9")
        self.written.append(circuit_id)
        return Applied(transition(current or CircuitRecord(circuit_id)), written=True, attempts=1)


def test_a_queued_report_on_an_unreadable_record_is_dropped_and_the_rest_are_written() -> None:
    """A report that can never apply must not stop the queue (nor the extension) behind it."""
    table = SwitchableTable()
    service = CircuitService(
        {"bad": BreakerSettings(), "good": BreakerSettings()},
        table,
        (TimeoutError,),
        cache_ttl_s=30,
        unknown_state=State.CLOSED,
        clock=lambda: 100.0,
        wall_ms=lambda: 2_000,
    )
    assert service.report("bad", ok=False, latency_ms=5, error="boom").pending
    assert service.report("good", ok=False, latency_ms=5, error="boom").pending
    table.readable = True
    service.retry_pending()
    assert service.pending_count() == 0
    assert table.written == ["good"]
