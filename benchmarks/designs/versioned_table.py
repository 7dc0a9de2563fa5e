"""DynamoDB for the simulation: items in memory, each conditional write judged atomically.

It answers the calls the project's ``CircuitStore`` makes (``get_item``, ``batch_get_item``,
``update_item``), so design (d) runs the real store, compare-and-set and
retry-from-the-returned-item included, on simulated time. Update and condition expressions
are evaluated by ``expressions`` (SET with ``if_not_exists`` and arithmetic, REMOVE, ADD;
comparisons, ``attribute_exists``/``attribute_not_exists``, AND/OR/NOT), with
``ReturnValues`` ALL_NEW/ALL_OLD and ``ReturnValuesOnConditionCheckFailure`` ALL_OLD. Requests
take no simulated time; reads are consistent (DynamoDB's eventual consistency would only add
staleness the service already tolerates). Every request is counted here, once, in the capacity
units DynamoDB bills for it (``benchmarks.cost``): a read by the size of the items it returns
(strongly consistent when the request asks for it, as GetItem with ``ConsistentRead``),
a write by the larger of the item's sizes before and after, a refused conditional write one
unit.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Mapping, Optional

from .. import cost
from . import expressions
from .base import Usage

Item = dict[str, dict[str, Any]]


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
        self._sizes: dict[str, int] = {}  # each item's billed size, computed once per write
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
        ConditionExpression: Optional[str] = None,
        ExpressionAttributeNames: Optional[Mapping[str, str]] = None,
        ExpressionAttributeValues: Optional[Mapping[str, Any]] = None,
        ReturnValues: str = "NONE",
        ReturnValuesOnConditionCheckFailure: str = "NONE",
    ) -> dict[str, Any]:
        key = Key["id"]["S"]
        stored = self._items.get(key)
        names, values = ExpressionAttributeNames or {}, ExpressionAttributeValues or {}
        if not expressions.holds(ConditionExpression, stored, names, values):
            self.usage.failed_write()
            raise ConditionalCheckFailed(stored if ReturnValuesOnConditionCheckFailure == "ALL_OLD" else None)
        item = expressions.updated(UpdateExpression, stored or {"id": Key["id"]}, names, values)
        self._items[key] = item
        size_before, self._sizes[key] = self._sizes.get(key, 0), cost.item_size(item)
        self.usage.write(cost.write_units(size_before, self._sizes[key]))
        if ReturnValues == "ALL_NEW":
            return {"Attributes": item}
        if ReturnValues == "ALL_OLD":
            return {"Attributes": stored} if stored else {}
        if ReturnValues != "NONE":
            raise expressions.ExpressionError(f"ReturnValues not modelled: {ReturnValues!r}")
        return {}

    def _read(self, keys: list[Item], consistent: bool) -> list[Item]:
        """GetItem/BatchGetItem: each key is billed as one item read, found or not."""
        names = [k["id"]["S"] for k in keys]
        self.usage.read(sum(cost.read_units(self._sizes.get(name, 0), consistent) for name in names))
        return [self._items[name] for name in names if name in self._items]


