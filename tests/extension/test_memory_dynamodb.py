"""The in-memory DynamoDB double (tests/support/memory_dynamodb.py) answers as moto's DynamoDB does.

The fleet property tests trust the double; this test runs one sequence of the store's real
requests (create, conflict-free counting, a refused count, a trip, a trial, a stale write
refused, an override) against both, and compares every item stored and every refusal.
"""

from __future__ import annotations

from dataclasses import replace

from breaker.counting import Failure, count_failures, trip_if_due
from breaker.machine import BreakerSettings, CircuitRecord, Outcome, State, force, grant_trial, record_trial
from breaker.store import CircuitStore, TallyRefused
from tests.support.memory_dynamodb import MemoryDynamoDB

SETTINGS = BreakerSettings(minimum_failures=3, failure_rate_threshold=0.5, open_duration_s=1, half_open_success_threshold=2)
T = 1_700_000_000_000


def scenario(client, table: str) -> list:
    """The store's requests in one order; returns what each step left (items and refusals)."""
    store = CircuitStore(client, table, sleep=lambda s: None, new_incarnation=lambda: "inc")
    seen: list = []

    def item() -> dict:
        return client.get_item(TableName=table, Key={"id": {"S": "payments"}}, ConsistentRead=True).get("Item")

    first = count_failures(store, CircuitRecord("payments"), [Failure(T, True)], SETTINGS, T)
    seen.append(item())
    count_failures(store, first.record, [Failure(T + 1, False), Failure(T + 2_000_000, True)], SETTINGS, T + 2)
    seen.append(item())
    stale = CircuitRecord("payments", version=5, incarnation="inc")
    try:
        store.add_tallies(stale, list(_tallies(stale)), 0)
    except TallyRefused as refusal:
        seen.append(("refused", refusal.record))
    counted = count_failures(store, first.record, [Failure(T + 3, True), Failure(T + 4, True)], SETTINGS, T + 4)
    opened, tripped = trip_if_due(store, counted.record, SETTINGS, T + 4)
    seen.append((tripped, item()))
    granted = store.apply("payments", lambda r: grant_trial(r, SETTINGS, T + 2_000, "tok")[0], current=replace(opened, version=1))
    seen.append((granted.written, granted.attempts, item()))  # a stale base: refused once, then granted
    store.apply("payments", lambda r: record_trial(r, SETTINGS, "tok", Outcome.SUCCESS, T + 2_001))
    seen.append(item())
    store.apply("payments", lambda r: force(r, State.FORCED_OPEN, T + 3_000))
    seen.append((item(), store.batch_get(["payments", "absent"])))
    return seen


def _tallies(record: CircuitRecord):
    from breaker.counting import tallies

    return tallies(record.version, [Failure(T, True)], SETTINGS)


def test_the_double_stores_and_refuses_what_moto_does(dynamodb, table) -> None:
    assert scenario(MemoryDynamoDB(), table) == scenario(dynamodb.client(), table)
