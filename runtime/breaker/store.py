"""The circuits table: batch reads and version-conditional writes.

Every write goes through :meth:`CircuitStore.apply`, an optimistic compare-and-set: compute the
next record with the state machine from the version we believe is current, write it only if
the stored version is still that one, and on a conflict start again from the record DynamoDB
hands back with the failure. No read-modify-write ever goes out without a condition, so no
report from any number of execution environments is lost to a race, and a trip is stored once.
(A write whose reply is lost to a timeout is the caller's to retry, and may then count twice.)

The boto3 client is injected (the extension creates it lazily, off its registration path).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable, Optional

from .item import from_item, to_item
from .machine import CircuitRecord

BATCH_GET_LIMIT = 100  # keys per BatchGetItem request, a DynamoDB limit

_ATTRIBUTES = {f.name for f in fields(CircuitRecord)} - {"id"}

Transition = Callable[[CircuitRecord], CircuitRecord]


class ConflictError(RuntimeError):
    """A write lost the race more times than the store may retry."""


@dataclass
class StoreStats:
    """Requests sent, for logs, /health and the benchmarks."""

    reads: int = 0  # GetItem and BatchGetItem requests
    writes: int = 0  # UpdateItem requests, including the ones that lost a race
    conflicts: int = 0


@dataclass(frozen=True)
class Applied:
    record: CircuitRecord  # the record now stored (or current, when nothing was written)
    written: bool
    attempts: int


class CircuitStore:
    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        max_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._table = table_name
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._jitter = jitter
        self.stats = StoreStats()

    def batch_get(self, circuit_ids: Iterable[str]) -> dict[str, CircuitRecord]:
        """Every listed circuit, one BatchGetItem per 100 ids; absent ones read as new CLOSED records.

        Eventually consistent on purpose: this is the cache refresh, and the TTL already
        bounds staleness. Keys DynamoDB leaves unprocessed are asked for again a few times
        with a short back-off, then reported as an error so the cache serves stale.
        """
        ids = sorted(set(circuit_ids))
        found: dict[str, CircuitRecord] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            request = {self._table: {"Keys": [{"id": {"S": i}} for i in ids[start : start + BATCH_GET_LIMIT]]}}
            for attempt in range(self._max_attempts):
                self.stats.reads += 1
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    record = from_item(item)
                    found[record.id] = record
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt + 1 < self._max_attempts:
                    self._backoff(attempt)
            else:
                raise ConflictError(f"BatchGetItem left keys unprocessed after {self._max_attempts} attempts")
        return {i: found.get(i, CircuitRecord(i)) for i in ids}

    def get(self, circuit_id: str) -> CircuitRecord:
        """One circuit, strongly consistent (the base of a write)."""
        self.stats.reads += 1
        response = self._client.get_item(TableName=self._table, Key={"id": {"S": circuit_id}}, ConsistentRead=True)
        item = response.get("Item")
        return from_item(item) if item else CircuitRecord(circuit_id)

    def apply(self, circuit_id: str, transition: Transition, current: Optional[CircuitRecord] = None) -> Applied:
        """Apply ``transition`` to the stored record with a compare-and-set on its version.

        ``current`` (for example the cached record) saves the first read; when it is out of
        date the conditional write fails, DynamoDB returns the stored item, and the transition
        is computed again from that. Raises :class:`ConflictError` after ``max_attempts``.
        """
        record = current if current is not None else self.get(circuit_id)
        for attempt in range(1, self._max_attempts + 1):
            proposed = transition(record)
            if proposed.version == record.version:
                return Applied(record, written=False, attempts=attempt)
            stored = self._write(record, proposed)
            if stored is None:
                return Applied(proposed, written=True, attempts=attempt)
            self.stats.conflicts += 1
            record = stored
            if attempt < self._max_attempts:
                self._backoff(attempt)
        raise ConflictError(f"circuit {circuit_id!r}: gave up after {self._max_attempts} conflicting writes")

    def _write(self, base: CircuitRecord, proposed: CircuitRecord) -> Optional[CircuitRecord]:
        """Write ``proposed`` if the stored version is still ``base``'s; else return what is stored."""
        item = to_item(proposed)
        del item["id"]
        names = {f"#a{i}": key for i, key in enumerate(item)}
        values = {f":a{i}": value for i, value in enumerate(item.values())}
        absent = sorted(_ATTRIBUTES - set(item))
        update = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(item)))
        if absent:
            names.update({f"#r{i}": key for i, key in enumerate(absent)})
            update += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(absent)))
        if base.version == 0:  # never written: the item must not exist yet
            condition = "attribute_not_exists(#id)"
            names["#id"] = "id"
        else:
            condition = "#version = :expected"
            names["#version"] = "version"
            values[":expected"] = {"N": str(base.version)}
        self.stats.writes += 1
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": proposed.id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            stored = error.response.get("Item")
            return from_item(stored) if stored else self.get(proposed.id)
        return None

    def _backoff(self, attempt: int) -> None:
        """Full jitter, capped: contending writers spread out instead of colliding again."""
        self._sleep(min(0.005 * 2**attempt, 0.2) * self._jitter())
