"""Circuit records to and from DynamoDB items (the low-level, typed-attribute form).

Kept apart from ``machine`` so the state machine imports nothing but the standard library;
this module leans on boto3's own serializers rather than hand-writing the attribute format.

Schema 2 layout (documented field by field in runtime/extension/README.md): the record's
scalar fields as attributes, ``leases`` as a map of token → expiry, and the trip counters as
top-level number attributes named ``t<period>_<bucket>_j`` and ``t<period>_<bucket>_r``, one
pair per bucket, because DynamoDB's ``ADD`` works on top-level attributes only and creates a
missing one: that is what lets every environment count without a condition on the counters.

Items written by schema 1 (``failure_times``, ``window_*``, ``trial_leases`` as a list of
expiries) are read as the schema-2 record they stand for; the first write replaces them.
"""

from __future__ import annotations

import re
from dataclasses import fields
from decimal import Decimal
from typing import Any, Iterable

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from .machine import SCHEMA_VERSION, CircuitRecord, Lease, State, Tally

Item = dict[str, dict[str, Any]]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_SCALARS = tuple(f.name for f in fields(CircuitRecord) if f.name not in ("leases", "tallies"))
# Schema 1 attributes: read once, removed by the first schema-2 write.
LEGACY_ATTRIBUTES = ("failure_times", "last_success_at", "window_started_at", "window_calls", "window_failures", "trial_leases")
RECORD_ATTRIBUTES = (*_SCALARS, "leases")
_TALLY = re.compile(r"t(\d+)_(\d+)_([jr])")


def tally_attribute(period: int, bucket: int, counter: str) -> str:
    """The attribute holding one counter (``j`` judged, ``r`` repeats) of one bucket."""
    return f"t{period}_{bucket}_{counter}"


def tally_attributes(tallies: Iterable[Tally]) -> dict[str, int]:
    """Counter attribute name → value for ``tallies`` (the shape of an ``ADD``)."""
    named: dict[str, int] = {}
    for tally in tallies:
        named[tally_attribute(tally.period, tally.bucket, "j")] = tally.judged
        named[tally_attribute(tally.period, tally.bucket, "r")] = tally.repeats
    return named


class UnreadableItem(ValueError):
    """An item this code cannot read (written by a newer schema): nothing retried will change that."""


def to_item(record: CircuitRecord) -> Item:
    """The record as a DynamoDB item; attributes that are None are left out."""
    plain: dict[str, Any] = {name: getattr(record, name) for name in _SCALARS}
    plain["state"] = record.state.value
    if record.leases:
        plain["leases"] = {lease.token: lease.expires_at for lease in record.leases}
    plain.update(tally_attributes(record.tallies))
    return {key: _serializer.serialize(value) for key, value in plain.items() if value is not None}


def from_item(item: Item) -> CircuitRecord:
    """Read an item back; unknown attributes are ignored so newer writers do not break readers."""
    raw = {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}
    schema = raw.get("schema_version", 1)
    if schema > SCHEMA_VERSION:
        raise UnreadableItem(f"circuit {raw.get('id')!r} has schema_version {schema}, this code reads up to {SCHEMA_VERSION}")
    plain = {name: raw[name] for name in _SCALARS if name in raw}
    plain["state"] = State(raw.get("state", State.CLOSED.value))
    plain["schema_version"] = SCHEMA_VERSION  # as read: the next write stores the new form
    leases = [Lease(token, expiry) for token, expiry in raw.get("leases", {}).items()]
    # Schema 1 kept anonymous expiries: their holders cannot report them, they only hold a slot.
    leases += [Lease(f"schema1-{i}", expiry) for i, expiry in enumerate(raw.get("trial_leases", ()))]
    plain["leases"] = tuple(sorted(leases, key=Lease.order))
    plain["tallies"] = _tallies(raw)
    return CircuitRecord(**plain)



def _tallies(raw: dict[str, Any]) -> tuple[Tally, ...]:
    counters: dict[tuple[int, int], dict[str, int]] = {}
    for name, value in raw.items():
        match = _TALLY.fullmatch(name)
        if match:
            counters.setdefault((int(match[1]), int(match[2])), {})[match[3]] = value
    return tuple(
        Tally(period, bucket, counts.get("j", 0), counts.get("r", 0)) for (period, bucket), counts in sorted(counters.items())
    )


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; every number in a record is an integer."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
