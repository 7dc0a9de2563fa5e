"""DynamoDB's billing arithmetic (``benchmarks.cost``) against the examples AWS documents.

Sources: the DynamoDB Developer Guide's "DynamoDB read and write operations" and "DynamoDB item
sizes and formats" pages, and the on-demand pricing page's key terms.
"""

from __future__ import annotations

import pytest

from benchmarks import cost


@pytest.mark.parametrize(
    ("size", "consistent", "units"),
    [
        (3500, True, 1),  # "reading a 3,500-byte item consumes the same throughput as reading a 4 KB item"
        (8 * 1024, True, 2),  # "8 KB ... 2 read units ... strongly consistent"
        (8 * 1024, False, 1),  # "... 1 read unit if you choose eventually consistent reads"
        (10 * 1024, True, 3),  # "a 10 KB item ... rounds the item size to 12 KB"
        (100, False, 0.5),  # an eventually consistent read of an item up to 4 KB: one-half unit
        (0, True, 1),  # an item that does not exist still consumes read throughput
    ],
)
def test_read_units(size: int, consistent: bool, units: float) -> None:
    assert cost.read_units(size, consistent) == units


def test_batch_get_rounds_each_item_before_summing() -> None:
    # "BatchGetItem reads a 1.5 KB item and a 6.5 KB item: ... 12 KB (4 KB + 8 KB), not 8 KB"
    assert sum(cost.read_units(int(kb * 1024), True) for kb in (1.5, 6.5)) == 3


def test_a_scan_of_a_small_table_reads_one_4kb_unit() -> None:
    assert cost.scan_units([300] * 10, consistent=True) == 1
    assert cost.scan_units([300] * 10, consistent=False) == 0.5
    assert cost.scan_units([1024] * 5, consistent=True) == 2  # 5 KB summed, then rounded up


@pytest.mark.parametrize(
    ("before", "after", "units"),
    [
        (0, 1024, 1),  # "a standard write request of a 1 KB item would require one WCU"
        (0, 3 * 1024, 3),  # "a standard write request of a 3 KB item would require three WCUs"
        (2500, 100, 3),  # UpdateItem: the larger of the sizes before and after
        (0, 10, 1),
    ],
)
def test_write_units(before: int, after: int, units: int) -> None:
    assert cost.write_units(before, after) == units


def test_item_size_follows_the_documented_rules() -> None:
    # strings: name + UTF-8 bytes; numbers: name + 1 byte per two significant digits + 1;
    # Boolean/null: name + 1; a map: name + 3 + each element's name, value and 1 byte.
    assert cost.item_size({"id": {"S": "é"}}) == 2 + 2
    assert cost.item_size({"n": {"N": "27"}}) == 1 + 2
    assert cost.item_size({"n": {"N": "-1200.00"}}) == 1 + 2  # zeroes trimmed: "12"
    assert cost.item_size({"n": {"N": "12345"}}) == 1 + 4
    assert cost.item_size({"ok": {"BOOL": True}, "x": {"NULL": True}}) == 3 + 2
    assert cost.item_size({"m": {"M": {"a": {"S": "bc"}}}}) == 1 + 3 + (1 + 2 + 1)
    assert cost.item_size({"l": {"L": [{"N": "1"}, {"S": "x"}]}}) == 1 + 3 + (2 + 1) + (1 + 1)
    assert cost.item_size(None) == 0


def test_prices_are_the_stated_on_demand_ones() -> None:
    assert cost.PRICES.region == "us-east-1"
    assert cost.PRICES.usd(rru=1e6, wru=1e6) == pytest.approx(0.125 + 0.625)
