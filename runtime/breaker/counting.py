"""Counting failures into a circuit's record, and tripping it when the rule then holds.

One piece of I/O shared by the extension (an environment's aggregated failures) and the
checker (its failed probes), so both count, refuse and trip the same way:

1. observations that no longer count are dropped: made before the record's last transition,
   outside CLOSED, or older than the trip window (a replay after an outage must not open a
   circuit that has recovered since);
2. the rest are added with :meth:`CircuitStore.add_tallies` (conflict-free ``ADD``; the first
   count of a circuit that has no item yet creates it in the same write); a refusal hands back
   the stored record, which becomes the new base, and step 1 runs again on it;
3. on the record the write returned (everyone's counts), the trip rule is judged, and a
   transition stored with a version-conditional write: stored once, whoever gets there first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from .machine import BreakerSettings, CircuitRecord, Tally, bucket_of, counts_towards, created, trip, trips

if TYPE_CHECKING:  # the store imports boto3, which the extension loads only after registering
    from .store import CircuitStore

# A refusal hands back the record, so a second try normally succeeds; more means a busy table.
ATTEMPTS = 3


@dataclass(frozen=True)
class Failure:
    """One judged failure seen by one environment: its time and whether its previous call failed too."""

    at_ms: int
    repeat: bool
    error: Optional[str] = None


@dataclass(frozen=True)
class Counted:
    record: CircuitRecord  # the record as this write left it (or as the last refusal showed it)
    written: int  # failures added to the counters
    dropped: int  # failures that no longer count


Learned = Callable[[CircuitRecord, str, bool], None]  # (record, how it was learned, caused by this write)


def count_failures(
    store: CircuitStore,
    base: CircuitRecord,
    failures: Sequence[Failure],
    settings: BreakerSettings,
    now_ms: int,
    learned: Learned = lambda record, via, caused: None,
) -> Counted:
    """Add ``failures`` to the record ``base`` stands for (steps 1 and 2).

    Raises what the store raises when the table cannot be reached, and :class:`TallyRefused`
    when the record kept moving: nothing was counted then, and the caller may try again.
    """
    from .store import TallyRefused

    oldest = bucket_of(settings, now_ms - settings.window_ms)
    pending = list(failures)
    dropped = 0
    for _ in range(ATTEMPTS):
        counting = [f for f in pending if counts_towards(base, f.at_ms) and bucket_of(settings, f.at_ms) >= oldest]
        dropped += len(pending) - len(counting)
        pending = counting
        if not pending:
            return Counted(base, 0, dropped)
        if base.version == 0:  # no item known: read it first (a refused write would cost more than the read)
            base = store.get(base.id)
            if base.version != 0:
                learned(base, "read", False)
                continue
        creating = created(base, now_ms) if base.version == 0 else None  # no item yet: this write makes it
        period = (creating or base).version
        try:
            record = store.add_tallies(base, tallies(period, pending, settings), oldest - 1, creating)
        except TallyRefused as refusal:
            base = refusal.record or CircuitRecord(base.id)
            learned(base, "refusal", False)
            continue
        learned(record, "count", creating is not None)
        return Counted(record, len(pending), dropped)
    raise TallyRefused(base)


def trip_if_due(
    store: CircuitStore,
    record: CircuitRecord,
    settings: BreakerSettings,
    now_ms: int,
    error: Optional[str] = None,
    learned: Learned = lambda record, via, caused: None,
) -> tuple[CircuitRecord, bool]:
    """Step 3: store CLOSED → OPEN if the rule holds on ``record`` (a count's reply).

    Returns the record after, and whether this call stored the trip (False when another
    environment's write got there first: the retried compare-and-set finds it OPEN).
    """
    if not trips(record, settings, now_ms):
        return record, False
    tripped = store.apply(record.id, lambda current: trip(current, settings, now_ms, error), current=record)
    learned(tripped.record, "trip", tripped.written)
    return tripped.record, tripped.written


def tallies(period: int, failures: Sequence[Failure], settings: BreakerSettings) -> list[Tally]:
    """Failures aggregated per bucket: one counter pair per bucket, whatever their number."""
    buckets: dict[int, list[int]] = {}
    for failure in failures:
        counts = buckets.setdefault(bucket_of(settings, failure.at_ms), [0, 0])
        counts[0] += 1
        counts[1] += failure.repeat
    return [Tally(period, bucket, judged, repeats) for bucket, (judged, repeats) in sorted(buckets.items())]
