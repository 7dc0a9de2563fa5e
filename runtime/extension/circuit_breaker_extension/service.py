"""The circuits of one function: the TTL cache, the store and the state machine put together.

What it guarantees, and why:

- Lookups are served from one :class:`TtlCache` whose loader is a single BatchGetItem for
  every circuit of the function, so a healthy function costs at most one read per TTL.
- A report is applied with the store's version-conditional write, synchronously, starting from
  the record this environment already knows, so a success in a quiet CLOSED circuit is
  answered without any DynamoDB request, and the environment that trips a circuit serves OPEN
  from its very next lookup.
- An environment never goes back in time: BatchGetItem is eventually consistent and may
  return a version older than one this environment just wrote, so every record served is the
  newer (by version) of the cached one and the newest this environment has written or been
  handed by a conflict. Keeping those beside the cache, rather than writing them into it,
  means a load already in flight can never overwrite a newer record with an older one.
- A report that cannot be written (table unreachable, write kept conflicting) is queued,
  retried on the next INVOKE and flushed on SHUTDOWN, in order, at the time it was observed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from breaker.cache import Entry, TtlCache
from breaker.clock import epoch_ms
from breaker.machine import (
    BreakerSettings,
    CircuitRecord,
    Outcome,
    State,
    classify,
    effective_state,
    grant_trial,
    is_call_allowed,
    record_outcome,
)
from breaker.metrics import OPENED, TRANSITION, emf

from .logs import log

if TYPE_CHECKING:  # breaker.store imports boto3, which the extension loads only after registering
    from breaker.store import Applied, CircuitStore, Transition

# On INVOKE the cache is reloaded when it would expire within this many seconds (at most a
# quarter of the TTL), so the function's own lookup rarely waits for DynamoDB. A fixed margin
# that covers a load, rather than a share of the TTL, keeps refresh-ahead from shortening the
# TTL: with a 30 s TTL a 25 % margin would cost a third more reads.
REFRESH_AHEAD_S = 1.0
# Queued reports written at the start of an invocation, at most for this long: the extension's
# time counts against the function's timeout, so a long queue left by an outage is written a
# slice per invocation (and in full on SHUTDOWN) instead of timing the invocation out.
INVOKE_FLUSH_BUDGET_S = 0.5
# After a trial write fails for want of the table, no trial is tried for this long: while
# DynamoDB hangs, each try would hold the function for a full timeout.
TRIAL_RETRY_AFTER_S = 1.0
MAX_PENDING = 1000
MAX_ERROR_CHARS = 256


@dataclass(frozen=True)
class CircuitView:
    """What a lookup answers. In HALF_OPEN, ``allowed`` from ``lookup`` means a fleet-wide trial
    was granted to this caller; from ``overview`` (read-only) only that one could be."""

    id: str
    state: State
    allowed: bool
    stale: bool
    age_ms: Optional[int]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state.value}


@dataclass(frozen=True)
class Report:
    """One observed outcome, kept with the time it was observed so a replay judges it then."""

    circuit_id: str
    outcome: Outcome
    at_ms: int
    error: Optional[str]
    # This environment's latest success before the outcome: a failure report carries it so the
    # shared failure streak learns of successes this environment never wrote (record_outcome).
    last_success_ms: Optional[int] = None


@dataclass(frozen=True)
class ReportResult:
    report: Report
    pending: bool  # not written yet: queued for the next INVOKE / SHUTDOWN
    record: Optional[CircuitRecord]  # the record now known, when not pending

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": self.report.circuit_id,
            "outcome": self.report.outcome.value,
            "pending": self.pending,
        }
        if self.record is not None:
            answer["state"] = effective_state(self.record, self.report.at_ms).value
            answer["version"] = self.record.version
        return answer


class CircuitService:
    def __init__(
        self,
        circuits: Mapping[str, BreakerSettings],
        store: CircuitStore,
        unavailable: tuple[type[BaseException], ...],
        *,
        cache_ttl_s: float,
        unknown_state: State,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = epoch_ms,
    ) -> None:
        self._circuits = dict(circuits)
        self.circuit_ids = frozenset(circuits)  # lookups and reports take only these (KeyError otherwise)
        self._store = store
        self._unavailable = unavailable
        self._ttl_s = cache_ttl_s
        self._clock = clock
        self._wall_ms = wall_ms
        self._lock = threading.Lock()
        self._newest: dict[str, CircuitRecord] = {}  # from this environment's writes and conflicts
        self._seen: dict[str, State] = {}  # last state logged per circuit
        self._last_success: dict[str, int] = {}  # wall ms of this environment's latest success
        self._trials_paused_until: dict[str, float] = {}  # clock time, per circuit (TRIAL_RETRY_AFTER_S)
        self._pending: deque[Report] = deque()
        self._cache: TtlCache[CircuitRecord] = TtlCache(
            self._load,
            ttl_s=cache_ttl_s,
            clock=clock,
            default=lambda circuit_id: CircuitRecord(circuit_id, state=unknown_state),
        )

    # -- lookups -----------------------------------------------------------------------------

    def lookup(self, circuit_id: str) -> CircuitView:
        """The circuit's effective state and whether a call may go out now.

        In HALF_OPEN an allowed answer holds one of the fleet-wide trial leases, taken with a
        conditional write; the caller must report the trial call's outcome, or the lease
        expires after ``trial_lease_s``.
        """
        settings = self._circuits[circuit_id]
        entry = self._cache.get(circuit_id)
        record = self._newer(entry.value)
        now = self._wall_ms()
        stale = entry.stale
        if effective_state(record, now) is State.HALF_OPEN and is_call_allowed(record, settings, now):
            record, allowed, stale = self._take_trial(record, settings, now, stale)
        else:
            allowed = is_call_allowed(record, settings, now)
        return CircuitView(circuit_id, effective_state(record, now), allowed, stale, _age_ms(entry))

    def overview(self) -> list[CircuitView]:
        """Every circuit of the function, read-only: no trial is taken here."""
        loaded = self._cache.snapshot()
        now = self._wall_ms()
        views = []
        for circuit_id, settings in sorted(self._circuits.items()):
            entry = loaded.get(circuit_id) or self._cache.get(circuit_id)
            record = self._newer(entry.value)
            views.append(
                CircuitView(
                    circuit_id,
                    effective_state(record, now),
                    is_call_allowed(record, settings, now),
                    entry.stale,
                    _age_ms(entry),
                )
            )
        return views

    # -- reports -----------------------------------------------------------------------------

    def report(self, circuit_id: str, ok: bool, latency_ms: float, error: Optional[str]) -> ReportResult:
        """Apply one call's outcome now; when the table cannot take it, queue it."""
        settings = self._circuits[circuit_id]
        outcome = classify(ok, latency_ms, settings)
        now = self._wall_ms()
        with self._lock:
            last_success = self._last_success.get(circuit_id)
            if outcome is Outcome.SUCCESS:
                self._last_success[circuit_id] = now
        report = Report(circuit_id, outcome, now, None if error is None else error[:MAX_ERROR_CHARS], last_success)
        entry = self._cache.get(circuit_id)
        # A default (never loaded, never written) is a guess: let the store read the real record.
        base = self._newer(entry.value) if entry.age_s is not None else self._newest_written(circuit_id)
        try:
            result = ReportResult(report, pending=False, record=self._apply(report, base, _judged_now).record)
        except self._unavailable as failure:
            self._enqueue(report, failure)
            result = ReportResult(report, pending=True, record=None)
        if outcome is not Outcome.SUCCESS:
            # Other circuits of this function may have changed too: read them soon (rate-limited).
            self._cache.invalidate()
        return result

    def prefetch(self) -> None:
        """Load now if the cache expires soon, so the function's next lookup is served at once."""
        self._cache.refresh_if_due(ahead_s=min(REFRESH_AHEAD_S, self._ttl_s / 4))

    def on_invoke(self) -> None:
        """Runs as the function starts an invocation: prefetch, then retry queued reports."""
        self.prefetch()
        self.retry_pending(deadline=self._clock() + INVOKE_FLUSH_BUDGET_S)

    def retry_pending(self, deadline: Optional[float] = None) -> None:
        """Write queued reports in order until done, the table fails again, or ``deadline`` (clock time)."""
        while deadline is None or self._clock() < deadline:
            with self._lock:
                if not self._pending:
                    return
                report = self._pending[0]
            try:
                self._apply(report, self._newest_written(report.circuit_id), _judged_late)
                log("pending_written", circuit=report.circuit_id, outcome=report.outcome.value, at_ms=report.at_ms)
            except self._unavailable as failure:
                log("pending_retry_failed", circuit=report.circuit_id, error=repr(failure), pending=self.pending_count())
                return
            except ValueError as unreadable:
                # The stored record cannot be read (a newer schema, a hand edit): this report can
                # never apply, and keeping it would stop every later one behind it.
                log("pending_dropped", circuit=report.circuit_id, outcome=report.outcome.value, error=repr(unreadable))
            with self._lock:
                if self._pending and self._pending[0] is report:
                    self._pending.popleft()

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def health(self) -> dict[str, Any]:
        return {
            "circuits": sorted(self._circuits),
            "pending": self.pending_count(),
            "cache": asdict(self._cache.stats),
            "store": asdict(self._store.stats),
        }

    # -- internals ---------------------------------------------------------------------------

    def _load(self) -> dict[str, CircuitRecord]:
        """The cache's loader: one BatchGetItem for every circuit of the function."""
        try:
            loaded = self._store.batch_get(self._circuits)
        except Exception as failure:
            log("load_error", error=repr(failure))
            raise
        for record in loaded.values():
            self._observe(self._newer(record), "table")
        return loaded

    def _take_trial(
        self, record: CircuitRecord, settings: BreakerSettings, now: int, stale: bool
    ) -> tuple[CircuitRecord, bool, bool]:
        """Take a half-open trial lease with a conditional write: (record, granted, stale)."""
        with self._lock:
            paused = self._clock() < self._trials_paused_until.get(record.id, float("-inf"))
        if paused:
            return record, False, True
        granted = False

        def take(current: CircuitRecord) -> CircuitRecord:
            nonlocal granted
            updated, granted = grant_trial(current, settings, now)
            return updated

        try:
            applied = self._store.apply(record.id, take, current=record)
        except self._unavailable as failure:
            # Without the table no lease can be held fleet-wide, so no trial goes out.
            log("trial_error", circuit=record.id, error=repr(failure))
            with self._lock:
                self._trials_paused_until[record.id] = self._clock() + TRIAL_RETRY_AFTER_S
            return record, False, True
        self._learn(applied, "trial")
        return applied.record, granted, stale

    def _apply(
        self,
        report: Report,
        base: Optional[CircuitRecord],
        judge: Callable[[Report, BreakerSettings], Transition],
    ) -> Applied:
        applied = self._store.apply(report.circuit_id, judge(report, self._circuits[report.circuit_id]), current=base)
        self._learn(applied, "report")
        return applied

    def _enqueue(self, report: Report, failure: BaseException) -> None:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                dropped = self._pending.popleft()
                log("pending_dropped", circuit=dropped.circuit_id, outcome=dropped.outcome.value, at_ms=dropped.at_ms)
            self._pending.append(report)
            count = len(self._pending)
        log("report_pending", circuit=report.circuit_id, outcome=report.outcome.value, error=repr(failure), pending=count)

    def _learn(self, applied: Applied, via: str) -> None:
        """Remember a record a write returned (or a conflict handed back) if it is news."""
        record = applied.record
        with self._lock:
            known = self._newest.get(record.id)
            if known is not None and known.version >= record.version:
                return
            self._newest[record.id] = record
        self._observe(record, via, caused=applied.written)

    def _newer(self, record: CircuitRecord) -> CircuitRecord:
        written = self._newest_written(record.id)
        return written if written is not None and written.version > record.version else record

    def _newest_written(self, circuit_id: str) -> Optional[CircuitRecord]:
        with self._lock:
            return self._newest.get(circuit_id)

    def _observe(self, record: CircuitRecord, via: str, caused: bool = False) -> None:
        """Log a state this environment has not seen for the circuit before.

        A trip this environment's own write ``caused`` also carries the ``CircuitOpened``
        metric (EMF, the same the checker emits), so the circuit's alarm fires whichever
        caller opened it, and exactly once per opening.
        """
        # A write never leaves an OPEN record OPEN (the state machine writes nothing then), so a
        # written OPEN record is a trip or a failed trial: an opening, even one this
        # environment's log already showed as OPEN before the trial it missed.
        opened = caused and record.state is State.OPEN
        with self._lock:
            before = self._seen.get(record.id)
            if before is record.state and not opened:
                return
            self._seen[record.id] = record.state
        log(
            "transition",
            circuit=record.id,
            before=None if before is None else before.value,
            after=record.state.value,
            version=record.version,
            via=via,
            **(emf(record.id, record.updated_at, {OPENED: (1, "Count"), TRANSITION: (1, "Count")}) if opened else {}),
        )


def _judged_now(report: Report, settings: BreakerSettings) -> Transition:
    """A report made just now: the state machine judges it as it stands."""
    return lambda record: record_outcome(
        record, settings, report.outcome, report.at_ms, report.error, report.last_success_ms
    )


def _judged_late(report: Report, settings: BreakerSettings) -> Transition:
    """A queued report written late: ignored if the circuit opened after it was observed.

    A failure seen before a trip must not count against the circuit's recovery (it would
    re-open a HALF_OPEN circuit); the state machine itself does not compare times.
    """
    judge = _judged_now(report, settings)
    return lambda record: record if record.opened_at is not None and report.at_ms < record.opened_at else judge(record)


def _age_ms(entry: Entry[CircuitRecord]) -> Optional[int]:
    return None if entry.age_s is None else int(entry.age_s * 1000)
