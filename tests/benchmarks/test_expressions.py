"""The simulated table's expression evaluator, on the forms DynamoDB documents."""

from __future__ import annotations

import pytest

from benchmarks.designs.expressions import ExpressionError, holds, updated
from benchmarks.designs.versioned_table import ConditionalCheckFailed, VersionedTable

ITEM = {"id": {"S": "c"}, "version": {"N": "3"}, "state": {"S": "OPEN"}, "tally": {"M": {"w1": {"N": "2"}}}}
NAMES = {"#v": "version", "#s": "state", "#t": "tally", "#w": "w1", "#x": "missing", "#f": "failures"}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("#v = :three", True),
        ("#v = :four", False),
        ("#v <> :four", True),
        ("#v < :four AND #s = :open", True),
        ("#v < :four AND #s = :closed", False),
        ("#v = :four OR #s = :open", True),
        ("NOT (#v = :four) AND attribute_exists(#s)", True),
        ("attribute_not_exists(#x)", True),
        ("attribute_exists(#x)", False),
        ("#t.#w >= :two", True),
        ("attribute_exists(#t.#w)", True),
    ],
)
def test_conditions(condition: str, expected: bool) -> None:
    values = {":three": {"N": "3"}, ":four": {"N": "4"}, ":open": {"S": "OPEN"}, ":closed": {"S": "CLOSED"}, ":two": {"N": "2"}}
    assert holds(condition, ITEM, NAMES, values) is expected


def test_an_absent_item_satisfies_only_not_exists() -> None:
    assert holds("attribute_not_exists(#v)", None, NAMES, {})
    assert not holds("#v = :v", None, NAMES, {":v": {"N": "1"}})


def test_set_add_remove_and_if_not_exists_read_the_item_before_the_update() -> None:
    values = {":one": {"N": "1"}, ":zero": {"N": "0"}, ":s": {"S": "CLOSED"}, ":n": {"N": "5"}}
    after = updated(
        "SET #s = :s, #v = #v + :one, #f = if_not_exists(#f, :zero) + :one, #t.#w = :n ADD #x :one REMOVE #t.#w2",
        ITEM,
        {**NAMES, "#w2": "w2"},
        values,
    )
    assert after["state"] == {"S": "CLOSED"} and after["version"] == {"N": "4"}
    assert after["failures"] == {"N": "1"} and after["missing"] == {"N": "1"}
    assert after["tally"] == {"M": {"w1": {"N": "5"}}}
    assert ITEM["version"] == {"N": "3"}  # the stored item is not changed in place
    again = updated("ADD #x :one, #v :n", after, NAMES, values)
    assert again["missing"] == {"N": "2"} and again["version"] == {"N": "9"}


def test_malformed_or_unmodelled_expressions_are_refused() -> None:
    with pytest.raises(ExpressionError):
        updated("DELETE #x :s", ITEM, NAMES, {":s": {"SS": ["a"]}})
    with pytest.raises(ExpressionError):
        holds("#v = :v extra", ITEM, NAMES, {":v": {"N": "3"}})


def test_update_item_returns_values_and_bills_a_failed_condition() -> None:
    table = VersionedTable()
    key = {"id": {"S": "c"}}
    names = {"#n": "n"}
    created = table.update_item(
        TableName="t", Key=key, UpdateExpression="ADD #n :one", ConditionExpression="attribute_not_exists(#n)",
        ExpressionAttributeNames=names, ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW",
    )
    assert created == {"Attributes": {"id": {"S": "c"}, "n": {"N": "1"}}}
    with pytest.raises(ConditionalCheckFailed) as refused:
        table.update_item(
            TableName="t", Key=key, UpdateExpression="ADD #n :one", ConditionExpression="attribute_not_exists(#n) AND #n = :one",
            ExpressionAttributeNames=names, ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert refused.value.response["Item"]["n"] == {"N": "1"}
    old = table.update_item(TableName="t", Key=key, UpdateExpression="ADD #n :one", ExpressionAttributeNames=names,
                            ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_OLD")
    assert old == {"Attributes": {"id": {"S": "c"}, "n": {"N": "1"}}}
    assert (table.usage.writes, table.usage.failed_writes, table.usage.wru) == (3, 1, 3)
