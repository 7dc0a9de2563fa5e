"""An in-memory DynamoDB client: a test double of exactly the requests ``CircuitStore`` sends.

It follows DynamoDB's documented semantics (Developer Guide, "Update expressions" and
"Condition expressions"; API reference, ``UpdateItem``), not the store's expectations:

- ``get_item`` (``ConsistentRead`` or not: one copy, always current) and ``batch_get_item``
  (``Responses`` per table; nothing is left unprocessed);
- ``update_item`` with an ``UpdateExpression`` of ``SET #a = :v``, ``ADD #a :n`` and
  ``REMOVE #a`` clauses, comma-separated actions, each keyword at most once. ``ADD`` on a
  missing number starts from 0; ``REMOVE`` of a missing attribute does nothing; an update of
  an item that does not exist creates it (with its key) when the condition passes. A
  document path named by two actions, a placeholder not defined, a name or value defined and
  not used, an update of the key: ``ValidationException``, as DynamoDB answers;
- ``ConditionExpression`` terms ``attribute_not_exists(#x)`` and ``#a = :v`` joined with
  `` AND `` (a comparison with a missing attribute is false);
- ``ReturnValues`` ``ALL_NEW`` (else nothing) and ``ReturnValuesOnConditionCheckFailure``
  ``ALL_OLD``: a refused write raises ``client.exceptions.ConditionalCheckFailedException``
  whose ``response["Item"]`` is the stored item (absent when there is no item).

Every request is atomic (one lock) and each client view (:meth:`MemoryDynamoDB.caller`)
tags its writes, so a test can tell which execution environment wrote what. Counted:
``reads``, ``writes`` (every ``UpdateItem``, refused or not, as DynamoDB bills them) and
``refused``; ``log`` keeps every write with the item before and after it and the time
``clock()`` gave. Anything else the store might start sending raises ``NotImplementedError``
instead of being half-imitated.
"""

from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Callable, Optional

from botocore.exceptions import ClientError

Item = dict[str, dict[str, Any]]


class ConditionalCheckFailedException(ClientError):
    pass


class ValidationException(ClientError):
    pass


@dataclass(frozen=True)
class Write:
    """One ``UpdateItem`` as the table took it: ``after`` is None when its condition failed."""

    at: Any  # what the table's clock said
    caller: Optional[str]
    key: str
    before: Optional[Item]
    after: Optional[Item]
    update: str

    @property
    def refused(self) -> bool:
        return self.after is None


_KEYWORDS = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b")


class MemoryDynamoDB:
    """One in-memory DynamoDB holding tables keyed by a string attribute ``id``."""

    exceptions = SimpleNamespace(
        ConditionalCheckFailedException=ConditionalCheckFailedException, ValidationException=ValidationException
    )

    def __init__(self, clock: Callable[[], Any] = lambda: None, key: str = "id") -> None:
        self._key = key
        self._clock = clock
        self._lock = threading.Lock()
        self.tables: dict[str, dict[str, Item]] = {}
        self.reads = 0
        self.writes = 0
        self.refused = 0
        self.log: list[Write] = []

    def caller(self, name: str) -> "_Caller":
        """A client on the same tables whose writes the log names ``name``."""
        return _Caller(self, name)

    # -- the requests CircuitStore sends ---------------------------------------------------

    def get_item(self, TableName: str, Key: Item, ConsistentRead: bool = False) -> dict[str, Any]:
        with self._lock:
            self.reads += 1
            item = self._table(TableName).get(self._id(Key))
            return {"Item": copy.deepcopy(item)} if item is not None else {}

    def batch_get_item(self, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.reads += 1
            responses = {}
            for table, request in RequestItems.items():
                rows = self._table(table)
                found = (rows.get(self._id(key)) for key in request["Keys"])
                responses[table] = [copy.deepcopy(item) for item in found if item is not None]
            return {"Responses": responses, "UnprocessedKeys": {}}

    def update_item(self, **request: Any) -> dict[str, Any]:
        return self._update(None, **request)

    # -- test helpers (not DynamoDB operations) --------------------------------------------

    def item(self, table: str, circuit_id: str) -> Optional[Item]:
        with self._lock:
            return copy.deepcopy(self._table(table).get(circuit_id))

    # -- internals -------------------------------------------------------------------------

    def _update(
        self,
        caller: Optional[str],
        TableName: str,
        Key: Item,
        UpdateExpression: str,
        ExpressionAttributeNames: Optional[dict[str, str]] = None,
        ExpressionAttributeValues: Optional[dict[str, Any]] = None,
        ConditionExpression: Optional[str] = None,
        ReturnValues: str = "NONE",
        ReturnValuesOnConditionCheckFailure: str = "NONE",
    ) -> dict[str, Any]:
        names = ExpressionAttributeNames or {}
        values = ExpressionAttributeValues or {}
        used: set[str] = set()
        actions = _parse_update(UpdateExpression, names, values, used)
        condition = _parse_condition(ConditionExpression, names, values, used) if ConditionExpression else []
        unused = (set(names) | set(values)) - used
        if unused:
            raise _error(ValidationException, f"unused in expressions: {sorted(unused)}")
        paths = [path for _, path, _ in actions]
        if len(paths) != len(set(paths)):
            raise _error(ValidationException, f"Two document paths overlap: {sorted(paths)}")
        if self._key in paths:
            raise _error(ValidationException, f"Cannot update attribute {self._key}. This attribute is part of the key")
        key = self._id(Key)
        with self._lock:
            self.writes += 1
            rows = self._table(TableName)
            before = rows.get(key)
            if not all(test(before) for test in condition):
                self.refused += 1
                self.log.append(Write(self._clock(), caller, key, copy.deepcopy(before), None, UpdateExpression))
                error = _error(ConditionalCheckFailedException, "The conditional request failed")
                if ReturnValuesOnConditionCheckFailure == "ALL_OLD" and before is not None:
                    error.response["Item"] = copy.deepcopy(before)
                raise error
            after = copy.deepcopy(before) if before is not None else {self._key: {"S": key}}
            for verb, path, value in actions:
                if verb == "SET":
                    after[path] = copy.deepcopy(value)
                elif verb == "REMOVE":
                    after.pop(path, None)
                else:  # ADD, numbers only
                    current = after.get(path, {"N": "0"})
                    if "N" not in current or "N" not in value:
                        raise _error(ValidationException, f"ADD of {value} to {path} = {current}: numbers only here")
                    after[path] = {"N": str(Decimal(current["N"]) + Decimal(value["N"]))}
            rows[key] = after
            self.log.append(Write(self._clock(), caller, key, copy.deepcopy(before), copy.deepcopy(after), UpdateExpression))
            return {"Attributes": copy.deepcopy(after)} if ReturnValues == "ALL_NEW" else {}

    def _table(self, name: str) -> dict[str, Item]:
        return self.tables.setdefault(name, {})

    def _id(self, key: Item) -> str:
        if set(key) != {self._key} or set(key[self._key]) != {"S"}:
            raise _error(ValidationException, f"The provided key element does not match the schema: {key}")
        return key[self._key]["S"]


class _Caller:
    """A client view of a :class:`MemoryDynamoDB` whose writes are logged under one name."""

    exceptions = MemoryDynamoDB.exceptions

    def __init__(self, database: MemoryDynamoDB, name: str) -> None:
        self._database = database
        self.name = name

    def get_item(self, **request: Any) -> dict[str, Any]:
        return self._database.get_item(**request)

    def batch_get_item(self, **request: Any) -> dict[str, Any]:
        return self._database.batch_get_item(**request)

    def update_item(self, **request: Any) -> dict[str, Any]:
        return self._database._update(self.name, **request)


def _error(kind: type[ClientError], message: str) -> ClientError:
    code = kind.__name__
    return kind({"Error": {"Code": code, "Message": message}}, "UpdateItem")


def _name(token: str, names: dict[str, str], used: set[str]) -> str:
    if not token.startswith("#") or token not in names:
        raise _error(ValidationException, f"attribute name placeholder not defined (or not #name): {token!r}")
    used.add(token)
    return names[token]


def _value(token: str, values: dict[str, Any], used: set[str]) -> Any:
    if not token.startswith(":") or token not in values:
        raise _error(ValidationException, f"attribute value placeholder not defined (or not :value): {token!r}")
    used.add(token)
    return values[token]


def _parse_update(expression: str, names: dict[str, str], values: dict[str, Any], used: set[str]) -> list[tuple[str, str, Any]]:
    """``[(verb, attribute, value)]`` in the order written; ``value`` is None for REMOVE."""
    parts = _KEYWORDS.split(expression)
    if parts[0].strip():
        raise _error(ValidationException, f"update expression must start with a clause keyword: {expression!r}")
    verbs = parts[1::2]
    if len(verbs) != len(set(verbs)):
        raise _error(ValidationException, f"each clause keyword may appear only once: {expression!r}")
    actions = []
    for verb, body in zip(verbs, parts[2::2]):
        for action in body.split(","):
            words = action.replace("=", " = ").split()
            if verb == "SET" and len(words) == 3 and words[1] == "=":
                actions.append((verb, _name(words[0], names, used), _value(words[2], values, used)))
            elif verb == "ADD" and len(words) == 2:
                actions.append((verb, _name(words[0], names, used), _value(words[1], values, used)))
            elif verb == "REMOVE" and len(words) == 1:
                actions.append((verb, _name(words[0], names, used), None))
            else:
                raise NotImplementedError(f"{verb} action {action.strip()!r} is outside what this double imitates")
    return actions


_NOT_EXISTS = re.compile(r"attribute_not_exists\((#\w+)\)")
_EQUALS = re.compile(r"(#\w+) = (:\w+)")


def _parse_condition(
    expression: str, names: dict[str, str], values: dict[str, Any], used: set[str]
) -> list[Callable[[Optional[Item]], bool]]:
    tests: list[Callable[[Optional[Item]], bool]] = []
    for term in expression.split(" AND "):
        term = term.strip()
        if match := _NOT_EXISTS.fullmatch(term):
            attribute = _name(match[1], names, used)
            tests.append(lambda item, a=attribute: item is None or a not in item)
        elif match := _EQUALS.fullmatch(term):
            attribute, expected = _name(match[1], names, used), _value(match[2], values, used)
            tests.append(lambda item, a=attribute, v=expected: item is not None and a in item and _equal(item[a], v))
        else:
            raise NotImplementedError(f"condition {term!r} is outside what this double imitates")
    return tests


def _equal(stored: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Typed equality: numbers compare as numbers ("2" equals "2.0"), other types as written."""
    if set(stored) != set(expected):
        return False
    if "N" in stored:
        return Decimal(stored["N"]) == Decimal(expected["N"])
    return stored == expected
