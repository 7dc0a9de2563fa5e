"""DynamoDB as it bills: item sizes, capacity units per request, and on-demand prices.

The rules, from the DynamoDB Developer Guide ("DynamoDB item sizes and formats",
CapacityUnitCalculations.html, and "DynamoDB read and write operations",
read-write-operations.html):

- item size: the sum over attributes of the UTF-8 length of the name plus the value's size.
  A string is its UTF-8 length; a number is about one byte per two significant digits (leading
  and trailing zeroes trimmed) plus one byte; binary is its raw length; a Boolean or null is
  one byte; a List or Map is 3 bytes plus its elements, each element one byte more; a set is
  the sum of its members.
- GetItem: the item's size rounded up to 4 KB, one read request unit per 4 KB strongly
  consistent, half that eventually consistent; an absent item still costs one 4 KB unit.
  BatchGetItem: each item rounded up on its own, then summed.
- Scan: the sizes of the items it reads are summed first, then rounded up to 4 KB (so a Scan
  of a small table reads one 4 KB unit, whatever the number of items), halved when eventually
  consistent.
- PutItem/UpdateItem: the larger of the item's size before and after, rounded up to 1 KB,
  one write request unit per KB. A conditional write whose condition fails costs one write
  request unit (the figure issue 10 prescribes; AWS bills the larger size, which for the
  sub-kilobyte circuit items of this project is the same single unit).

On-demand prices (``PRICES``): US East (N. Virginia), after the 50 % on-demand throughput
price cut effective 1 November 2024: $0.625 per million write request units and $0.125 per
million read request units (AWS's DynamoDB on-demand pricing page,
aws.amazon.com/dynamodb/pricing/on-demand/; the cut from $1.25 and $0.25 is recorded in AWS's
"Amazon DynamoDB On-Demand" news post, updated 31 January 2025). Storage is left out: a
circuit item is a few hundred bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

Item = Mapping[str, Mapping[str, Any]]

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024


@dataclass(frozen=True)
class Prices:
    region: str
    as_of: str
    usd_per_million_wru: float
    usd_per_million_rru: float

    def usd(self, rru: float, wru: float) -> float:
        return (rru * self.usd_per_million_rru + wru * self.usd_per_million_wru) / 1e6


PRICES = Prices("us-east-1", "on-demand, from 1 November 2024", 0.625, 0.125)


def number_size(text: str) -> int:
    """A DynamoDB number's value bytes: one per two significant digits, plus one."""
    digits = text.lstrip("+-").lower().split("e")[0].replace(".", "")
    significant = digits.strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's JSON form ({"S": ...}, {"N": ...}, ...)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in data.items())
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def item_size(item: Optional[Item]) -> int:
    """Bytes DynamoDB counts for ``item`` (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(size: int, consistent: bool) -> float:
    """GetItem (and each item of a BatchGetItem): at least one 4 KB unit, halved if eventually consistent."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


def scan_units(sizes: Iterable[int], consistent: bool) -> float:
    """A Scan: the items' sizes summed, then rounded up to 4 KB."""
    return read_units(sum(sizes), consistent)


def write_units(before: int, after: int) -> int:
    """PutItem/UpdateItem: the larger of the sizes before and after, rounded up to 1 KB (at least one)."""
    return max(1, math.ceil(max(before, after) / WRITE_UNIT_BYTES))


FAILED_CONDITIONAL_WRITE_UNITS = 1
