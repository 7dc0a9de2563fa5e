"""The circuits table: batch reads, version-conditional writes and conflict-free counting.

Two kinds of write, and why each is safe with any number of execution environments:

- **State changes** go through :meth:`CircuitStore.apply`, an optimistic compare-and-set:
  compute the next record with the state machine from the version we believe is current, write
  it only if the stored version and incarnation are still that one's, and on a conflict start
  again from the record DynamoDB hands back with the failure. No read-modify-write goes out
  without a condition, so no report is lost to a race and a transition is stored once.
- **Counting** goes through :meth:`CircuitStore.add_tallies`: an ``ADD`` to per-bucket counter
  attributes, conditional only on the record still being the version the counts are for. Two
  environments counting at once both succeed (``ADD`` is atomic), so failures reported together
  never conflict; the reply (``ALL_NEW``) is the record with everyone's counts, which is what
  the caller judges the trip rule on.

(A write whose reply is lost to a timeout is the caller's to retry, and may then count twice.)
The boto3 client is injected (the extension creates it lazily, off its registration path).
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Optional, Sequence

from .item import LEGACY_ATTRIBUTES, RECORD_ATTRIBUTES, from_item, tally_attributes, to_item
from .machine import CircuitRecord, Tally

BATCH_GET_LIMIT = 100  # keys per BatchGetItem request, a DynamoDB limit

Transition = Callable[[CircuitRecord], CircuitRecord]


class ConflictError(RuntimeError):
    """A write lost the race more times than the store may retry."""


class TallyRefused(ConflictError):
    """The counts were not added: the record is no longer the version they were for.

    ``record`` is the record as stored now (None when there is no item at all), so the caller
    learns the new state from the refusal itself, without another read.
    """

    def __init__(self, record: Optional[CircuitRecord]) -> None:
        super().__init__("the circuit record moved on before the counts were added")
        self.record = record


class _Refused(Exception):
    """A conditional write's condition failed; ``item`` is the stored item, if any."""

    def __init__(self, item: Optional[dict[str, Any]]) -> None:
        super().__init__("conditional check failed")
        self.item = item


@dataclass
class StoreStats:
    """Requests sent, for logs, /health and the benchmarks."""

    reads: int = 0  # GetItem and BatchGetItem requests
    writes: int = 0  # UpdateItem requests, including the ones whose condition failed
    conflicts: int = 0  # conditional writes refused


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
        new_incarnation: Callable[[], str] = lambda: secrets.token_hex(6),
    ) -> None:
        self._client = client
        self._table = table_name
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._jitter = jitter
        self._new_incarnation = new_incarnation
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
            proposed = self._incarnated(proposed)
            stored = self._write(record, proposed)
            if stored is None:
                return Applied(proposed, written=True, attempts=attempt)
            record = stored
            if attempt < self._max_attempts:
                self._backoff(attempt)
        raise ConflictError(f"circuit {circuit_id!r}: gave up after {self._max_attempts} conflicting writes")

    def add_tallies(
        self,
        base: CircuitRecord,
        tallies: Sequence[Tally],
        stale_before_bucket: int,
        creating: Optional[CircuitRecord] = None,
    ) -> CircuitRecord:
        """Add ``tallies`` (all for ``base``'s version) to the stored counters; returns the record after.

        One ``UpdateItem``: ``ADD`` to each counter, ``REMOVE`` of the counters ``base`` shows
        that no longer count (another period's, or older than ``stale_before_bucket``), on the
        condition that the stored record is still ``base``'s version and incarnation. Raises
        :class:`TallyRefused` with the stored record when it is not.

        ``creating`` (when ``base`` has no item yet, version 0) is the record's first stored
        form: the same write sets it, so the first count creates the item and no separate
        creating write is billed; the tallies are then for ``creating``'s version.
        """
        adding = tally_attributes(tallies)
        removing = [
            name
            for name in tally_attributes(t for t in base.tallies if t.period != base.version or t.bucket < stale_before_bucket)
            if name not in adding
        ]
        names = {f"#c{i}": name for i, name in enumerate(adding)}
        values = {f":c{i}": {"N": str(value)} for i, value in enumerate(adding.values())}
        update = "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(adding)))
        if creating is not None:
            setting, absent = _setting(self._incarnated(creating), names, values)
            update += " " + setting
            removing += absent
        if removing:
            names.update({f"#r{i}": name for i, name in enumerate(removing)})
            update += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removing)))
        try:
            return from_item(self._update(base, update, names, values, ReturnValues="ALL_NEW")["Attributes"])
        except _Refused as refusal:
            raise TallyRefused(from_item(refusal.item) if refusal.item else None) from None

    def _incarnated(self, proposed: CircuitRecord) -> CircuitRecord:
        """``proposed`` with an incarnation: one is chosen when the item is created (or first
        written by this schema)."""
        if proposed.incarnation is not None:
            return proposed
        return replace(proposed, incarnation=self._new_incarnation())

    def _write(self, base: CircuitRecord, proposed: CircuitRecord) -> Optional[CircuitRecord]:
        """Write ``proposed`` if the stored record is still ``base``; else return what is stored."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        update, absent = _setting(proposed, names, values)
        absent += list(tally_attributes(t for t in base.tallies if t not in proposed.tallies))
        names.update({f"#r{i}": key for i, key in enumerate(absent)})
        update += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(absent)))
        try:
            self._update(base, update, names, values)
        except _Refused as refusal:
            return from_item(refusal.item) if refusal.item else CircuitRecord(proposed.id)
        return None

    def _update(self, base: CircuitRecord, update: str, names: dict, values: dict, **returning: str) -> dict[str, Any]:
        """One UpdateItem on ``base``'s item, conditional on it still being ``base`` (see ``_is_version``).

        Raises :class:`_Refused` with the stored item when the condition fails.
        """
        condition, condition_names, condition_values = _is_version(base)
        self.stats.writes += 1
        try:
            return self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": base.id}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={**names, **condition_names},
                ExpressionAttributeValues={**values, **condition_values},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **returning,
            )
        except self._client.exceptions.ConditionalCheckFailedException as error:
            self.stats.conflicts += 1
            raise _Refused(error.response.get("Item")) from None

    def _backoff(self, attempt: int) -> None:
        """Full jitter, capped: contending writers spread out instead of colliding again."""
        self._sleep(min(0.005 * 2**attempt, 0.2) * self._jitter())


def _setting(record: CircuitRecord, names: dict[str, str], values: dict[str, Any]) -> tuple[str, list[str]]:
    """The ``SET`` clause that stores ``record`` whole, and the attributes it must ``REMOVE``.

    Its placeholders (``#sN``, ``:sN``) are added to ``names`` and ``values``. The attributes to
    remove are the record's own that it leaves unset and every legacy one (an item another tool
    wrote under the id is taken over, not merged with).
    """
    item = to_item(record)
    del item["id"]
    names.update({f"#s{i}": key for i, key in enumerate(item)})
    values.update({f":s{i}": value for i, value in enumerate(item.values())})
    absent = sorted(set(RECORD_ATTRIBUTES) - set(item) - {"id"}) + list(LEGACY_ATTRIBUTES)
    return "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(item))), absent


def _is_version(base: CircuitRecord) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The condition that the stored item is still ``base``: same version, same incarnation.

    A base that was never stored by this code (version 0) requires that the item has no
    version yet: no item at all, or one another tool left under the id (circuitbreaker-lambda's
    items have no ``version``), which the write then takes over. A schema-1 item has no
    incarnation, and is matched on its version alone.
    """
    if base.version == 0:
        return "attribute_not_exists(#version)", {"#version": "version"}, {}
    names = {"#version": "version", "#incarnation": "incarnation"}
    values: dict[str, Any] = {":version": {"N": str(base.version)}}
    if base.incarnation is None:
        return "#version = :version AND attribute_not_exists(#incarnation)", names, values
    values[":incarnation"] = {"S": base.incarnation}
    return "#version = :version AND #incarnation = :incarnation", names, values
