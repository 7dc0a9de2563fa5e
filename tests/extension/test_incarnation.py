"""Issue 13, defect 6: warm environments follow a circuit's item when it is deleted or re-created.

Real extension processes against moto's DynamoDB, with a short cache TTL. An environment
serves the newest version it has seen of one *incarnation* of the item; when the item is
deleted (the manual repair of a wedged circuit) or replaced by one of another incarnation,
even at a lower version, every environment follows the table at its next refresh.
"""

from __future__ import annotations

import time

from breaker.admin import main
from breaker.item import to_item
from breaker.machine import CircuitRecord, State
from extension_harness import trips_after, wait_for

TTL_S = 0.3
ENVIRONMENTS = 3
# Polling for a change the caches take one TTL to show; the slack is for a loaded CI machine
# (process scheduling, moto's latency), not for a second refresh.
FOLLOW_WITHIN_S = TTL_S + 1.0


def follow(extensions, state: str, allowed: bool) -> float:
    """Seconds until every environment serves ``state`` / ``allowed``; fails past FOLLOW_WITHIN_S."""
    started = time.monotonic()

    def all_follow() -> bool:
        answers = [extension.get("payments")[1] for extension in extensions]
        return all((a["state"], a["allowed"], a["stale"]) == (state, allowed, False) for a in answers)

    wait_for(all_follow, timeout_s=FOLLOW_WITHIN_S, what=f"every environment to serve {state}")
    return time.monotonic() - started


def put(dynamodb, table: str, record: CircuitRecord) -> None:
    dynamodb.client().put_item(TableName=table, Item=to_item(record))


def test_a_deleted_forced_open_item_is_followed_within_one_ttl(launch, dynamodb, table, stored, capsys) -> None:
    """FORCED_OPEN refuses in every warm environment; once the item is deleted, every one serves
    CLOSED (allowed, not stale) within one TTL, instead of the newest version it remembers; an
    item re-created with another incarnation and a lower version is followed as well."""
    extensions = [launch({"payments": {}}, env={"CIRCUIT_BREAKER_CACHE_TTL_S": str(TTL_S)}) for _ in range(ENVIRONMENTS)]
    client = dynamodb.client()
    for command in (["force", "payments", "FORCED_OPEN"], ["release", "payments"], ["force", "payments", "FORCED_OPEN"]):
        assert main(["--table", table, *command], client=client) == 0
    capsys.readouterr()
    forced = stored("payments")
    assert (forced.state, forced.version) == (State.FORCED_OPEN, 3)
    follow(extensions, "FORCED_OPEN", allowed=False)

    client.delete_item(TableName=table, Key={"id": {"S": "payments"}})
    follow(extensions, "CLOSED", allowed=True)

    put(dynamodb, table, CircuitRecord("payments", state=State.FORCED_OPEN, version=1, incarnation="recreated", updated_at=1))
    follow(extensions, "FORCED_OPEN", allowed=False)  # version 1 < 3, but another incarnation


def test_environments_that_opened_a_circuit_themselves_follow_its_replacement(launch, dynamodb, table, stored) -> None:
    """Environments whose own write opened a circuit (they remember that OPEN record as the
    newest) follow an item replaced by another incarnation at a lower version, and count their
    next failures towards it: the table wins over what they wrote."""
    settings = {"payments": trips_after(3, open_duration_s=600)}
    extensions = [launch(settings, env={"CIRCUIT_BREAKER_CACHE_TTL_S": str(TTL_S)}) for _ in range(ENVIRONMENTS)]
    for extension in extensions:
        for _ in range(3):
            extension.report("payments", "failure", {"error": "HTTP 503"})
        assert extension.get("payments")[1]["state"] == "OPEN"  # learnt from its own write or refusal
    opened = stored("payments")
    assert (opened.state, opened.version) == (State.OPEN, 2)

    put(dynamodb, table, CircuitRecord("payments", version=1, incarnation="replaced", updated_at=1))
    follow(extensions, "CLOSED", allowed=True)
    answer = extensions[0].report("payments", "failure", {"error": "HTTP 503"})[1]
    assert answer["pending"] is False
    record = stored("payments")
    assert (record.incarnation, record.state) == ("replaced", State.CLOSED)
    assert sum(tally.judged for tally in record.tallies if tally.period == record.version) == 1

    client = dynamodb.client()
    client.delete_item(TableName=table, Key={"id": {"S": "payments"}})
    follow(extensions, "CLOSED", allowed=True)
