"""DynamoDB's update and condition expressions, evaluated on an item in DynamoDB's JSON form.

A small, general evaluator for what the simulated table (``versioned_table``) is asked:

- update expressions: ``SET`` (``path = operand``, ``operand + operand``, ``operand - operand``;
  an operand is a path, a ``:value``, ``if_not_exists(path, operand)`` or
  ``list_append(operand, operand)``), ``REMOVE path, ...``, ``ADD path :value`` (a number is
  added, starting from 0 when absent; a set is united), in any order;
- condition expressions: comparisons (``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``) between
  operands, ``attribute_exists(path)``, ``attribute_not_exists(path)``, ``AND``, ``OR``,
  ``NOT`` and parentheses.

Paths are attribute names (``#name`` placeholders or plain), nested with dots into maps. Every
action is evaluated against the item as it was before the update, as DynamoDB does.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any, Callable, Mapping, Optional

Item = dict[str, dict[str, Any]]
Value = dict[str, Any]

_TOKEN = re.compile(r"\s*(<>|<=|>=|[=<>(),.+\-]|[#:]?[A-Za-z_][\w]*)")
_KEYWORDS = ("SET", "REMOVE", "ADD", "DELETE")


class ExpressionError(ValueError):
    """An expression this evaluator does not model, or a malformed one."""


def _tokens(text: str) -> list[str]:
    found, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if not match:
            raise ExpressionError(f"cannot read {text[at:]!r}")
        found.append(match.group(1))
        at = match.end()
    return found


class _Parser:
    def __init__(self, text: str, names: Mapping[str, str], values: Mapping[str, Value]) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.names = names
        self.values = values

    def peek(self) -> Optional[str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: Optional[str] = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.upper() != expected):
            raise ExpressionError(f"expected {expected or 'more'} at {self.tokens[self.at:]!r}")
        self.at += 1
        return token

    def path(self) -> tuple[str, ...]:
        parts = [self._name(self.take())]
        while self.peek() == ".":
            self.take(".")
            parts.append(self._name(self.take()))
        return tuple(parts)

    def _name(self, token: str) -> str:
        if token.startswith("#"):
            return self.names[token]
        if token.startswith(":") or not re.fullmatch(r"[A-Za-z_]\w*", token):
            raise ExpressionError(f"not an attribute name: {token!r}")
        return token

    # operands: evaluated against ``item`` at once (the item before the update)
    def operand(self, item: Item) -> Optional[Value]:
        token = self.peek()
        if token is not None and token.startswith(":"):
            self.take()
            return self.values[token]
        if token is not None and token.lower() in ("if_not_exists", "list_append"):
            function = self.take().lower()
            self.take("(")
            if function == "if_not_exists":
                found = _get(item, self.path())
                self.take(",")
                fallback = self.operand(item)
                self.take(")")
                return found if found is not None else fallback
            first = self.operand(item)
            self.take(",")
            second = self.operand(item)
            self.take(")")
            return {"L": [*(first or {"L": []})["L"], *(second or {"L": []})["L"]]}
        return _get(item, self.path())

    def value(self, item: Item) -> Optional[Value]:
        """operand [+|- operand], for SET."""
        left = self.operand(item)
        if self.peek() in ("+", "-"):
            sign = 1 if self.take() == "+" else -1
            right = self.operand(item)
            if left is None or right is None:
                raise ExpressionError("an operand of + or - is absent")
            return _number(_decimal(left) + sign * _decimal(right))
        return left

    # conditions
    def condition(self, item: Optional[Item]) -> bool:
        return self._chain("OR", lambda: self._chain("AND", lambda: self._negation(item)))

    def _chain(self, keyword: str, operand: Callable[[], bool]) -> bool:
        """``operand (keyword operand)*``: every operand is parsed, then combined with AND or OR."""
        results = [operand()]
        while self.peek() is not None and self.peek().upper() == keyword:  # type: ignore[union-attr]
            self.take()
            results.append(operand())
        return any(results) if keyword == "OR" else all(results)

    def _negation(self, item: Optional[Item]) -> bool:
        if self.peek() is not None and self.peek().upper() == "NOT":  # type: ignore[union-attr]
            self.take()
            return not self._negation(item)
        return self._comparison(item)

    def _comparison(self, item: Optional[Item]) -> bool:
        token = self.peek()
        stored = item or {}
        if token == "(":
            self.take("(")
            result = self.condition(item)
            self.take(")")
            return result
        if token is not None and token.lower() in ("attribute_exists", "attribute_not_exists"):
            function = self.take().lower()
            self.take("(")
            present = _get(stored, self.path()) is not None
            self.take(")")
            return present if function == "attribute_exists" else not present
        left = self.operand(stored)
        operator = self.take()
        right = self.operand(stored)
        return _compare(left, operator, right)


def _get(item: Mapping[str, Value], path: tuple[str, ...]) -> Optional[Value]:
    current: Optional[Value] = item.get(path[0])
    for part in path[1:]:
        if current is None or "M" not in current:
            return None
        current = current["M"].get(part)
    return current


def _set(item: Item, path: tuple[str, ...], value: Value) -> None:
    container: dict[str, Any] = item
    for part in path[:-1]:
        child = container.get(part)
        if child is None or "M" not in child:
            raise ExpressionError(f"the document path {'.'.join(path)!r} does not exist")
        container = child["M"]
    container[path[-1]] = value


def _remove(item: Item, path: tuple[str, ...]) -> None:
    parent = _get(item, path[:-1]) if len(path) > 1 else None
    container = item if len(path) == 1 else (parent or {}).get("M", {})
    container.pop(path[-1], None)


def _decimal(value: Value) -> Decimal:
    if "N" not in value:
        raise ExpressionError(f"not a number: {value!r}")
    return Decimal(value["N"])


def _number(number: Decimal) -> Value:
    text = format(number.normalize(), "f") if number == number.to_integral_value() else str(number)
    return {"N": text}


def _compare(left: Optional[Value], operator: str, right: Optional[Value]) -> bool:
    if left is None or right is None:
        return operator == "<>" and left != right
    if "N" in left and "N" in right:
        a: Any = _decimal(left)
        b: Any = _decimal(right)
    else:
        a, b = left, right
        if operator not in ("=", "<>"):
            ((kind_a, a),), ((kind_b, b),) = left.items(), right.items()
            if kind_a != kind_b:
                return False
    return {
        "=": lambda: a == b,
        "<>": lambda: a != b,
        "<": lambda: a < b,
        "<=": lambda: a <= b,
        ">": lambda: a > b,
        ">=": lambda: a >= b,
    }[operator]()


def holds(condition: Optional[str], item: Optional[Item], names: Mapping[str, str], values: Mapping[str, Value]) -> bool:
    """Whether ``condition`` holds for the stored ``item`` (None: no item)."""
    if not condition:
        return True
    parser = _Parser(condition, names, values)
    result = parser.condition(item)
    if parser.peek() is not None:
        raise ExpressionError(f"left over in the condition: {parser.tokens[parser.at:]!r}")
    return result


def updated(expression: str, item: Item, names: Mapping[str, str], values: Mapping[str, Value]) -> Item:
    """The item after ``expression``; every operand is read from ``item`` as it was before."""
    before = item
    after = copy.deepcopy(item)
    parser = _Parser(expression, names, values)
    while parser.peek() is not None:
        clause = parser.take().upper()
        if clause not in _KEYWORDS or clause == "DELETE":
            raise ExpressionError(f"clause not modelled: {clause!r}")
        while True:
            path = parser.path()
            if clause == "SET":
                parser.take("=")
                value = parser.value(before)
                if value is None:
                    raise ExpressionError(f"SET {'.'.join(path)} to an absent attribute")
                _set(after, path, value)
            elif clause == "REMOVE":
                _remove(after, path)
            else:  # ADD
                added = parser.operand(before)
                assert added is not None
                _set(after, path, _added(_get(before, path), added))
            if parser.peek() != ",":
                break
            parser.take(",")
    return after


def _added(current: Optional[Value], added: Value) -> Value:
    if "N" in added:
        return _number((_decimal(current) if current else Decimal(0)) + _decimal(added))
    ((kind, members),) = added.items()
    if kind not in ("SS", "NS", "BS"):
        raise ExpressionError(f"ADD needs a number or a set, not {added!r}")
    existing = (current or {kind: []})[kind]
    return {kind: [*existing, *(m for m in members if m not in existing)]}
