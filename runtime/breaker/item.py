"""Circuit records to and from DynamoDB items (the low-level, typed-attribute form).

Kept apart from ``machine`` so the state machine imports nothing but the standard library;
this module leans on boto3's own serializers rather than hand-writing the attribute format.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from .machine import SCHEMA_VERSION, CircuitRecord, State

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_FIELDS = {f.name for f in fields(CircuitRecord)}
# DynamoDB has lists, not tuples: these fields are tuples in the record and lists in the item.
_TUPLE_FIELDS = ("failure_times", "trial_leases")


def to_item(record: CircuitRecord) -> dict[str, dict[str, Any]]:
    """The record as a DynamoDB item; attributes that are None are left out."""
    plain = asdict(record)
    plain["state"] = record.state.value
    for name in _TUPLE_FIELDS:
        plain[name] = list(plain[name])
    return {key: _serializer.serialize(value) for key, value in plain.items() if value is not None}


def from_item(item: dict[str, dict[str, Any]]) -> CircuitRecord:
    """Read an item back; unknown attributes are ignored so newer writers do not break readers."""
    plain = {key: _plain(_deserializer.deserialize(value)) for key, value in item.items() if key in _FIELDS}
    schema = plain.get("schema_version", SCHEMA_VERSION)
    if schema > SCHEMA_VERSION:
        raise ValueError(f"circuit {plain.get('id')!r} has schema_version {schema}, this code reads up to {SCHEMA_VERSION}")
    plain["state"] = State(plain.get("state", State.CLOSED.value))
    for name in _TUPLE_FIELDS:
        plain[name] = tuple(plain.get(name, ()))
    return CircuitRecord(**plain)


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; every number in a record is an integer."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
