"""DynamoDB for the simulation: items in memory, each conditional write judged atomically.

It answers the three calls the project's ``CircuitStore`` makes (``get_item``,
``batch_get_item``, ``update_item`` with a version condition), so design (d) runs the real
store, compare-and-set and retry-from-the-returned-item included, on simulated time. Requests
take no simulated time; reads are consistent (DynamoDB's eventual consistency would only add
staleness the service already tolerates). Every request is counted here, once, in the capacity
units DynamoDB bills for it (``benchmarks.cost``): a read by the size of the items it returns
(strongly consistent when the request asks for it, as GetItem with ``ConsistentRead``),
a write by the larger of the item's sizes before and after, a refused conditional write one
unit.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, Mapping, Optional

from .. import cost
from .base import Usage

Item = dict[str, dict[str, Any]]

_ASSIGNMENT = re.compile(r"(#\w+) = (:\w+)")  # "#a0 = :a0", in SET and in the version condition
_NAME = re.compile(r"#\w+")
_NOT_EXISTS = re.compile(r"attribute_not_exists\((#\w+)\)")


class ConditionalCheckFailed(Exception):
    """boto3's ``ConditionalCheckFailedException``: ``response["Item"]`` is the stored item."""

    def __init__(self, stored: Optional[Item]) -> None:
        super().__init__("The conditional request failed")
        self.response: dict[str, Any] = {} if stored is None else {"Item": stored}


class VersionedTable:
    """A boto3 DynamoDB client for one table, as far as ``breaker.store.CircuitStore`` uses one."""

    exceptions = SimpleNamespace(ConditionalCheckFailedException=ConditionalCheckFailed)

    def __init__(self) -> None:
        self._items: dict[str, Item] = {}
        self.usage = Usage()

    def peek(self, key: str) -> Optional[Item]:
        """The stored item, without counting a request (for the plot)."""
        return self._items.get(key)

    def get_item(self, *, TableName: str, Key: Item, ConsistentRead: bool = False) -> dict[str, Any]:
        item = self._read([Key], ConsistentRead)
        return {"Item": item[0]} if item else {}

    def batch_get_item(self, *, RequestItems: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        (table, request), = RequestItems.items()
        found = self._read(request["Keys"], request.get("ConsistentRead", False))
        return {"Responses": {table: found}, "UnprocessedKeys": {}}

    def update_item(
        self,
        *,
        TableName: str,
        Key: Item,
        UpdateExpression: str,
        ConditionExpression: str,
        ExpressionAttributeNames: Mapping[str, str],
        ExpressionAttributeValues: Optional[Mapping[str, Any]] = None,
        ReturnValuesOnConditionCheckFailure: str = "NONE",
    ) -> dict[str, Any]:
        key = Key["id"]["S"]
        stored = self._items.get(key)
        values = ExpressionAttributeValues or {}
        if not _holds(ConditionExpression, stored, ExpressionAttributeNames, values):
            self.usage.failed_write()
            raise ConditionalCheckFailed(stored if ReturnValuesOnConditionCheckFailure == "ALL_OLD" else None)
        setting, _, removing = UpdateExpression.removeprefix("SET ").partition(" REMOVE ")
        item = dict(stored or {"id": Key["id"]})
        for name, value in _ASSIGNMENT.findall(setting):
            item[ExpressionAttributeNames[name]] = values[value]
        for name in _NAME.findall(removing):
            item.pop(ExpressionAttributeNames[name], None)
        self._items[key] = item
        self.usage.write(cost.write_units(cost.item_size(stored), cost.item_size(item)))
        return {}

    def _read(self, keys: list[Item], consistent: bool) -> list[Item]:
        """GetItem/BatchGetItem: each key is billed as one item read, found or not."""
        found = [self._items.get(k["id"]["S"]) for k in keys]
        self.usage.read(sum(cost.read_units(cost.item_size(item), consistent) for item in found))
        return [item for item in found if item is not None]


def _holds(condition: str, stored: Optional[Item], names: Mapping[str, str], values: Mapping[str, Any]) -> bool:
    """The two conditions the store writes: the item is absent, or its version is the expected one."""
    absent = _NOT_EXISTS.fullmatch(condition)
    if absent:
        return stored is None or names[absent.group(1)] not in stored
    equal = _ASSIGNMENT.fullmatch(condition)
    if equal:
        return stored is not None and stored.get(names[equal.group(1)]) == values[equal.group(2)]
    raise ValueError(f"condition not modelled: {condition!r}")
