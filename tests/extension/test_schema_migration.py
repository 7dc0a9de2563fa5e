"""Issue 10: items a deployed table already holds (schema 1) keep working under schema 2.

Read the old form, write the new: a schema-1 item is read by ``CircuitStore.get`` and
``batch_get`` and served by a real extension process as the state it stood for; the first
write replaces it with a schema-2 item (legacy attributes removed, an incarnation given) whose
state, backoff and version (+ 1) carry on from the old one. An OPEN item still refuses calls
until its ``next_attempt_at``; a HALF_OPEN item's legacy trial lease holds its slot until it
expires, no report of new code can claim it, and it never wedges the circuit.
"""

from __future__ import annotations

import time
from typing import Any

from breaker.item import LEGACY_ATTRIBUTES
from breaker.machine import SCHEMA_VERSION, State, force
from breaker.store import CircuitStore
from extension_harness import wait_for

SETTINGS = {"payments": {"half_open_max_trials": 1, "half_open_success_threshold": 2, "open_duration_s": 30}}
SHORT_TTL = {"CIRCUIT_BREAKER_CACHE_TTL_S": "0.3"}  # the extension starts first, then sees the item put


def served(extension, state: str) -> dict[str, Any]:
    """The extension's answer once its cache shows ``state`` (bounded by wait_for)."""
    return wait_for(lambda: (a := extension.get("payments")[1])["state"] == state and a, timeout_s=5, what=state)


def schema1_item(state: str, now_ms: int, **overrides: Any) -> dict[str, Any]:
    """An item as schema 1 wrote it (every attribute it had, typed as DynamoDB stores them)."""
    plain: dict[str, Any] = {
        "id": "payments",
        "state": state,
        "version": 7,
        "failure_times": [now_ms - 6_000, now_ms - 5_500],
        "last_success_at": now_ms - 10_000,
        "window_started_at": now_ms - 60_000,
        "window_calls": 40,
        "window_failures": 12,
        "opened_at": now_ms - 5_000,
        "next_attempt_at": now_ms - 1_000,
        "consecutive_opens": 3,
        "half_open_successes": 0,
        "trial_leases": [],
        "updated_at": now_ms - 5_000,
        "last_error": "HTTP 503",
        "schema_version": 1,
        **overrides,
    }

    def typed(value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            return {"S": value}
        if isinstance(value, list):
            return {"L": [typed(v) for v in value]}
        return {"N": str(value)}

    return {key: typed(value) for key, value in plain.items()}


def raw_item(dynamodb, table: str) -> dict[str, Any]:
    return dynamodb.client().get_item(TableName=table, Key={"id": {"S": "payments"}}, ConsistentRead=True)["Item"]


def assert_migrated(item: dict[str, Any], version: int) -> None:
    assert item["schema_version"] == {"N": str(SCHEMA_VERSION)}
    assert item["version"] == {"N": str(version)}
    assert "incarnation" in item
    assert not set(LEGACY_ATTRIBUTES) & set(item), sorted(set(LEGACY_ATTRIBUTES) & set(item))


def test_a_schema1_closed_item_is_read_and_rewritten_in_the_new_form(dynamodb, table) -> None:
    """A schema-1 CLOSED item reads as CLOSED at its version (its old window counts are not
    carried over); an operator's force through the store's compare-and-set writes schema 2."""
    now_ms = int(time.time() * 1000)
    client = dynamodb.client()
    client.put_item(TableName=table, Item=schema1_item("CLOSED", now_ms, opened_at=0, next_attempt_at=0, consecutive_opens=0))
    store = CircuitStore(client, table)
    record = store.get("payments")
    assert (record.state, record.version, record.incarnation, record.tallies) == (State.CLOSED, 7, None, ())
    assert store.batch_get(["payments"])["payments"] == record

    applied = store.apply("payments", lambda current: force(current, State.FORCED_OPEN, now_ms))
    assert applied.written and applied.record.state is State.FORCED_OPEN
    assert_migrated(raw_item(dynamodb, table), version=8)
    assert store.get("payments") == applied.record


def test_a_schema1_open_item_refuses_until_its_wait_is_over_then_migrates_with_a_trial(launch, dynamodb, table, stored) -> None:
    """OPEN (schema 1) still refuses calls before next_attempt_at, in the store's reading and in
    a real extension; after it, a lookup takes a trial, and that write stores schema 2 with the
    backoff (consecutive_opens, opened_at) and last error kept and the version + 1."""
    extension = launch(SETTINGS, env=SHORT_TTL)
    now_ms = int(time.time() * 1000)
    dynamodb.client().put_item(TableName=table, Item=schema1_item("OPEN", now_ms, next_attempt_at=now_ms + 1_500))
    record = CircuitStore(dynamodb.client(), table).batch_get(["payments"])["payments"]
    assert (record.state, record.version, record.consecutive_opens, record.next_attempt_at) == (
        State.OPEN, 7, 3, now_ms + 1_500
    )

    refused = served(extension, "OPEN")
    assert refused["allowed"] is False
    assert int(time.time() * 1000) < now_ms + 1_500
    assert raw_item(dynamodb, table)["schema_version"] == {"N": "1"}  # reads write nothing

    trial = wait_for(lambda: (a := extension.get("payments")[1])["allowed"] and a, timeout_s=10, what="a trial")
    assert trial["state"] == "HALF_OPEN"
    assert int(time.time() * 1000) >= now_ms + 1_500
    assert_migrated(raw_item(dynamodb, table), version=8)
    migrated = stored("payments")
    assert (migrated.state, migrated.consecutive_opens, migrated.opened_at, migrated.last_error) == (
        State.HALF_OPEN, 3, now_ms - 5_000, "HTTP 503"
    )
    assert len(migrated.leases) == 1

    assert extension.report("payments", "success", {"latency_ms": 5})[1]["trial"] is True
    assert stored("payments").half_open_successes == 1


def test_a_schema1_half_open_lease_holds_its_slot_until_it_expires_and_never_wedges(launch, dynamodb, table, stored) -> None:
    """A HALF_OPEN schema-1 item whose one trial slot is held by a legacy lease: no trial is
    granted while it lives, no report of new code claims it (a success reported meanwhile moves
    nothing and writes nothing), and once it expires a trial is granted and the item migrates."""
    extension = launch(SETTINGS, env=SHORT_TTL)
    now_ms = int(time.time() * 1000)
    expiry = now_ms + 1_500
    dynamodb.client().put_item(
        TableName=table, Item=schema1_item("HALF_OPEN", now_ms, half_open_successes=1, trial_leases=[expiry])
    )
    record = CircuitStore(dynamodb.client(), table).get("payments")
    assert (record.state, record.half_open_successes, [lease.expires_at for lease in record.leases]) == (
        State.HALF_OPEN, 1, [expiry]
    )

    waiting = served(extension, "HALF_OPEN")
    assert waiting["allowed"] is False  # the legacy lease holds the slot
    answer = extension.report("payments", "success", {"latency_ms": 5})[1]
    assert answer["trial"] is False
    assert raw_item(dynamodb, table) == schema1_item("HALF_OPEN", now_ms, half_open_successes=1, trial_leases=[expiry])
    assert int(time.time() * 1000) < expiry  # all of the above happened while the legacy lease lived

    trial = wait_for(lambda: (a := extension.get("payments")[1])["allowed"] and a, timeout_s=10, what="a trial")
    assert trial["state"] == "HALF_OPEN"
    assert int(time.time() * 1000) >= expiry
    assert_migrated(raw_item(dynamodb, table), version=8)
    migrated = stored("payments")
    assert (migrated.state, migrated.half_open_successes, migrated.consecutive_opens) == (State.HALF_OPEN, 1, 3)
    assert [lease.token.startswith("schema1-") for lease in migrated.leases] == [False]

    assert extension.report("payments", "success", {"latency_ms": 5})[1]["trial"] is True
    assert stored("payments").state is State.CLOSED  # 1 success from schema 1 + this one = 2


def test_the_first_count_takes_over_an_item_without_a_version(dynamodb, table) -> None:
    """An item with no version (left by another tool, or half-migrated by hand) is taken over by
    the first count in one write: what it holds of this schema is carried as read, the new record
    is set whole (version, incarnation, schema 2), schema-1 attributes are removed, and the count
    is added."""
    from breaker.counting import Failure, count_failures
    from breaker.machine import BreakerSettings, CircuitRecord

    client = dynamodb.client()
    legacy = {"window_calls": {"N": "40"}, "failure_times": {"L": [{"N": "1"}]}}
    client.put_item(TableName=table, Item={"id": {"S": "payments"}, "last_error": {"S": "HTTP 503"}, **legacy})
    now_ms = int(time.time() * 1000)
    store = CircuitStore(client, table)
    counted = count_failures(store, CircuitRecord("payments"), [Failure(now_ms, True)], BreakerSettings(), now_ms)
    item = raw_item(dynamodb, table)
    assert counted.written == 1 and counted.record.state is State.CLOSED
    assert_migrated(item, counted.record.version)  # legacy attributes gone, incarnation given
    assert item["last_error"] == {"S": "HTTP 503"}
    assert store.get("payments").tallies == counted.record.tallies and counted.record.tallies[0].repeats == 1
