"""The circuits of one function: the TTL cache, the store and the state machine put together.

What it guarantees, and why:

- Lookups are served from one :class:`TtlCache` whose loader is a single BatchGetItem for
  every circuit of the function, so a healthy function costs at most one read per TTL. While
  a circuit is tripping (CLOSED and nearing its trip) its copy is re-read after
  ``WATCH_CACHE_TTL_S`` instead, and while it is recovering (OPEN, HALF_OPEN) after
  ``RECOVERY_CACHE_TTL_S``, so a trip or a recovery reaches every environment within seconds.
- Successes are never written in CLOSED: the environment only remembers whether its previous
  call failed. A failure is counted locally as *judged* (this environment had called before)
  and *repeat* (that call failed too) and added to the record's counters with one conflict-free
  ``ADD`` per circuit, as a token bucket allows: up to ``FLUSH_BURST`` at once after a quiet
  spell, then one per ``FLUSH_INTERVAL_S``; failures without a token ride on the next write.
  Writes are bounded by environments × flush rate, not by request or failure rate, and which
  failure goes out at once never depends on whether it is a repeat, so the table's counts are
  never skewed towards repeats.
- After a written failure that left the circuit CLOSED, or a repeat held back for a later
  write, the next lookup re-reads the record (one GetItem): another environment may have
  tripped it since, and a fast caller would otherwise send calls until its next write or
  re-read. At most one read per failure, never while healthy.
- The write's reply holds every environment's counts; when the trip rule holds on it, this
  environment stores the transition with a version-conditional write (stored once, fleet-wide).
- In HALF_OPEN a lookup that may call takes a trial lease with a random token; the outcome this
  environment reports next for that circuit is that trial's. Only a lease holder moves
  HALF_OPEN; any other outcome observed while the record is not CLOSED counts for nothing.
- An environment never goes back in time within one incarnation of a record (the newer by
  version of the cached one and the newest it wrote), but follows the table when the item was
  deleted or re-created: the loaded incarnation differs from the remembered one.
- Counts that cannot be written (table unreachable) stay aggregated per circuit and go out in
  one write on a later INVOKE or on SHUTDOWN; observations that fell out of the trip window, or
  predate the record's last transition, are dropped, not replayed. Trial outcomes that cannot
  be written are queued; a write refused for good (access denied, validation) is dropped with
  a log line and a ``ReportsDropped`` metric, and the queue behind it goes on.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from breaker.cache import Entry, TtlCache
from breaker.clock import epoch_ms
from breaker.counting import Failure
from breaker.machine import (
    BreakerSettings,
    CircuitRecord,
    Outcome,
    State,
    classify,
    effective_state,
    grant_trial,
    is_call_allowed,
    nearing_trip,
    record_trial,
    rule_holds,
    window_counts,
)
from breaker.metrics import DROPPED, OPENED, TRANSITION, emf

from .logs import log

if TYPE_CHECKING:  # breaker.store imports boto3, which the extension loads only after registering
    from breaker.store import Applied, CircuitStore, Transition

# On INVOKE the cache is reloaded once it is ``cache_ttl_s`` old, and lookups keep serving the
# copy as fresh for this much longer (at most a quarter of the TTL): the function's own lookup
# never waits for that read, and a healthy circuit costs exactly one read per ``cache_ttl_s``.
REFRESH_AHEAD_S = 1.0
# A copy showing a circuit that is tripping (CLOSED and nearing_trip) is re-read after
# WATCH_CACHE_TTL_S, one showing it OPEN or HALF_OPEN after RECOVERY_CACHE_TTL_S: a trip or a
# recovery must reach every environment before its next call, and only then is the read worth
# its cost. A healthy circuit's copy keeps the full TTL, and so does one whose failures look
# independent (a dependency that stays flaky): re-read every 2 s, it would cost a read per
# environment per 2 s for as long as the dependency stays flaky, growing with the fleet.
# Recovery is re-read sooner because each of its steps (probe passed, trials, CLOSED) waits for
# the fleet to see the last one, and only an outage pays for it.
WATCH_CACHE_TTL_S = 2.0
RECOVERY_CACHE_TTL_S = 1.0
# Counted failures of one circuit are written as a token bucket allows, per environment: up to
# FLUSH_BURST writes at once after a quiet spell, then one per FLUSH_INTERVAL_S. Which failure
# gets written at once depends only on when it comes, never on what it is (a repeat or not), so
# the counts in the table are an unbiased sample of the fleet's at every moment; the burst lets
# the first few failures of an outage reach the table (and trip it) at once.
FLUSH_INTERVAL_S = 0.25
FLUSH_BURST = 4
# Queued writes retried at the start of an invocation, at most for this long: the extension's
# time counts against the function's timeout. One write per circuit, so a queue left by an
# outage is usually one or two writes.
INVOKE_FLUSH_BUDGET_S = 0.5
# After a trial write fails for want of the table, no trial is tried for this long: while
# DynamoDB hangs, each try would hold the function for a full timeout.
TRIAL_RETRY_AFTER_S = 1.0
MAX_PENDING = 1000  # failures held per circuit, and trial outcomes queued, while the table is away
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
class TrialReport:
    """The outcome of one half-open trial, for the lease ``token`` this environment holds."""

    circuit_id: str
    token: str
    outcome: Outcome
    at_ms: int
    error: Optional[str]


@dataclass(frozen=True)
class ReportResult:
    circuit_id: str
    outcome: Outcome
    at_ms: int
    trial: bool  # the outcome of a half-open trial this environment held
    queued: bool  # the table could not take it now: kept for the next INVOKE / SHUTDOWN
    record: Optional[CircuitRecord]  # the record now known to this environment

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": self.circuit_id,
            "outcome": self.outcome.value,
            "trial": self.trial,
            "pending": self.queued,
        }
        if self.record is not None:
            answer["state"] = effective_state(self.record, self.at_ms).value
            answer["version"] = self.record.version
        return answer


@dataclass
class _Local:
    """What this environment keeps about one circuit between its writes."""

    settings: BreakerSettings
    previous_failed: Optional[bool] = None  # the outcome of this environment's previous call
    failures: list[Failure] = field(default_factory=list)  # judged failures not written yet
    pending_repeats: int = 0  # how many of those are repeats
    write_tokens: float = FLUSH_BURST  # counting writes this environment may send now (token bucket)
    tokens_at: float = float("-inf")  # clock time the tokens were last counted
    unwritten: bool = False  # the last counting write failed: the table is away, counts wait
    recheck: bool = False  # a failure written (circuit still CLOSED) or a repeat held back: re-read before the next call
    leases: deque[str] = field(default_factory=deque)  # trial tokens granted here, not yet reported
    trials_paused_until: float = float("-inf")


@dataclass
class FlushStats:
    """Counted failures and trial outcomes, by fate: for the shutdown log and /health.

    Every judged failure and trial outcome is, at any moment, exactly one of: written,
    dropped, in flight (sent, not answered yet) or waiting (``CircuitService.pending_count``).
    """

    written: int = 0
    dropped: int = 0  # no longer counting (out of the window, before a transition, refused for good)
    in_flight: int = 0


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
        new_token: Callable[[], str] = lambda: secrets.token_hex(4),
        permanent: Callable[[BaseException], bool] = lambda failure: False,
    ) -> None:
        self._local = {circuit_id: _Local(settings) for circuit_id, settings in circuits.items()}
        self.circuit_ids = frozenset(circuits)  # lookups and reports take only these (KeyError otherwise)
        self._store = store
        self._unavailable = unavailable
        self._permanent = permanent  # which of those no retry can fix (access denied, validation)
        self._ahead_s = min(REFRESH_AHEAD_S, cache_ttl_s / 4)
        self._clock = clock
        self._wall_ms = wall_ms
        self._new_token = new_token
        self._lock = threading.Lock()
        self._newest: dict[str, CircuitRecord] = {}  # from this environment's writes and refusals
        self._seen: dict[str, State] = {}  # last state logged per circuit
        self._trials: deque[TrialReport] = deque()  # trial outcomes the table could not take yet
        self.flushes = FlushStats()
        self._cache: TtlCache[CircuitRecord] = TtlCache(
            self._load,
            ttl_s=cache_ttl_s + self._ahead_s,
            clock=clock,
            default=lambda circuit_id: CircuitRecord(circuit_id, state=unknown_state),
        )

    # -- lookups -----------------------------------------------------------------------------

    def lookup(self, circuit_id: str) -> CircuitView:
        """The circuit's effective state and whether a call may go out now.

        In HALF_OPEN an allowed answer holds one of the fleet-wide trial leases, taken with a
        conditional write; the next outcome reported for the circuit is that trial's, or the
        lease expires after ``trial_lease_s``.
        """
        local = self._local[circuit_id]
        entry = self._entry(circuit_id)
        record = self._newer(entry.value)
        now = self._wall_ms()
        with self._lock:  # one read per flag, however many lookups run at once
            recheck, local.recheck = local.recheck, False
        if recheck and effective_state(record, now) is State.CLOSED:  # only a copy that lets the call go out
            self._recheck(circuit_id)
            record = self._newer(entry.value)
        stale = entry.stale
        if effective_state(record, now) is State.HALF_OPEN and is_call_allowed(record, local.settings, now):
            record, allowed, stale = self._take_trial(record, local, now, stale)
        else:
            allowed = is_call_allowed(record, local.settings, now)
        return CircuitView(circuit_id, effective_state(record, now), allowed, stale, _age_ms(entry))

    def overview(self) -> list[CircuitView]:
        """Every circuit of the function, read-only: no trial is taken here."""
        loaded = self._cache.snapshot()
        now = self._wall_ms()
        views = []
        for circuit_id, local in sorted(self._local.items()):
            entry = loaded.get(circuit_id) or self._cache.get(circuit_id)
            record = self._newer(entry.value)
            allowed = is_call_allowed(record, local.settings, now)
            views.append(CircuitView(circuit_id, effective_state(record, now), allowed, entry.stale, _age_ms(entry)))
        return views

    # -- reports -----------------------------------------------------------------------------

    def report(self, circuit_id: str, ok: bool, latency_ms: float, error: Optional[str]) -> ReportResult:
        """Take one call's outcome: a trial's is written now, a failure counted (and written if due)."""
        local = self._local[circuit_id]
        outcome = classify(ok, latency_ms, local.settings)
        failed = outcome is not Outcome.SUCCESS
        now = self._wall_ms()
        error = None if error is None else error[:MAX_ERROR_CHARS]
        with self._lock:
            token = local.leases.popleft() if local.leases else None
            previous, local.previous_failed = local.previous_failed, failed
            overflow = 0
            if token is None and failed and previous is not None:
                local.failures.append(Failure(now, previous, error))
                local.pending_repeats += previous
                overflow = _cap(local)
            due = failed and (self._take_write(local) or self._could_trip(circuit_id, local, now))
            queued = failed and local.unwritten  # held behind counts the table did not take
            if token is None and failed and previous and not due and not queued:
                local.recheck = True  # a repeat held back (the table answering): this environment keeps failing
        self._drop(overflow)
        if token is not None:
            return self._report_trial(TrialReport(circuit_id, token, outcome, now, error))
        record: Optional[CircuitRecord] = None
        if due:
            try:
                record = self._flush(circuit_id)
                if record.state is State.CLOSED:
                    local.recheck = True
                queued = False
            except self._unavailable as failure:
                log("count_pending", circuit=circuit_id, error=repr(failure), pending=self.pending_count())
                queued = True
        if failed and previous is None:
            self._cache.invalidate()  # nothing to count yet: still, learn the shared state soon
        return ReportResult(circuit_id, outcome, now, trial=False, queued=queued, record=record)

    def add_circuit(self, circuit_id: str, settings: BreakerSettings) -> bool:
        """Serve one more circuit from now on (compatibility mode: a circuit named on demand).

        False when it was served already. The circuits' dict is replaced, never changed in
        place, so a loop over it in another thread (a load, a flush) goes on over the old one.
        The next lookup loads, this circuit included, whatever the invalidation rate limit.
        """
        with self._lock:
            if circuit_id in self._local:
                return False
            self._local = {**self._local, circuit_id: _Local(settings)}
            self.circuit_ids = frozenset(self._local)
        self._cache.invalidate(force=True)
        return True

    def prefetch(self) -> None:
        """Load now if the copy is ``cache_ttl_s`` old, so the function's next lookup is served at once."""
        self._cache.refresh_if_due(ahead_s=self._ahead_s)

    def on_invoke(self) -> None:
        """Runs as the function starts an invocation: prefetch, then write counts and trials due."""
        self.prefetch()
        self.retry_pending(deadline=self._clock() + INVOKE_FLUSH_BUDGET_S, due_only=True)

    def retry_pending(self, deadline: Optional[float] = None, due_only: bool = False) -> None:
        """Write what waits: counts (one write per circuit) and queued trial outcomes.

        Stops at ``deadline`` (clock time) or when the table fails again. ``due_only`` leaves
        counts the write bucket has no token for yet for later (on INVOKE); SHUTDOWN
        writes everything.
        """
        try:
            for circuit_id, local in self._local.items():
                if deadline is not None and self._clock() >= deadline:
                    return
                with self._lock:
                    waiting = bool(local.failures) and (not due_only or self._take_write(local))
                if waiting:
                    self._flush(circuit_id)
            while deadline is None or self._clock() < deadline:
                with self._lock:
                    if not self._trials:
                        return
                    report = self._trials[0]
                self._write_trial(report)
                with self._lock:
                    if self._trials and self._trials[0] is report:
                        self._trials.popleft()
        except self._unavailable as failure:
            log("pending_retry_failed", error=repr(failure), pending=self.pending_count())

    def pending_count(self) -> int:
        """Failures counted but not written, plus trial outcomes queued (in flight included)."""
        with self._lock:
            waiting = sum(len(local.failures) for local in self._local.values()) + len(self._trials)
            return waiting + self.flushes.in_flight

    def health(self) -> dict[str, Any]:
        return {
            "circuits": sorted(self._local),
            "pending": self.pending_count(),
            "flushes": asdict(self.flushes),
            "cache": asdict(self._cache.stats),
            "store": asdict(self._store.stats),
        }

    # -- internals ---------------------------------------------------------------------------

    def _entry(self, circuit_id: str) -> Entry[CircuitRecord]:
        """The cached copy; a watched one (see ``_watch_ttl_s``) is re-read after its shorter TTL."""
        entry = self._cache.get(circuit_id)
        if entry.age_s is None:
            return entry
        ttl_s = self._watch_ttl_s(self._newer(entry.value))
        if ttl_s is not None and entry.age_s >= ttl_s and self._cache.invalidate():
            entry = self._cache.get(circuit_id)
        return entry

    def _watch_ttl_s(self, record: CircuitRecord) -> Optional[float]:
        """How soon a copy of a circuit on its way out or back is re-read: OPEN or HALF_OPEN
        after RECOVERY_CACHE_TTL_S, CLOSED and nearing its trip after WATCH_CACHE_TTL_S. None
        otherwise (healthy, or failures that look independent): it keeps the full TTL."""
        if record.state in (State.OPEN, State.HALF_OPEN):
            return RECOVERY_CACHE_TTL_S
        return WATCH_CACHE_TTL_S if nearing_trip(record, self._local[record.id].settings, self._wall_ms()) else None

    def _load(self) -> dict[str, CircuitRecord]:
        """The cache's loader: one BatchGetItem for every circuit of the function."""
        try:
            loaded = self._store.batch_get(self._local)
        except Exception as failure:
            log("load_error", error=repr(failure))
            raise
        with self._lock:
            for circuit_id, record in loaded.items():
                known = self._newest.get(circuit_id)
                if known is not None and known.incarnation != record.incarnation:
                    del self._newest[circuit_id]  # deleted or re-created: the table wins
        for record in loaded.values():
            self._observe(self._newer(record), "table")
        return loaded

    def _flush(self, circuit_id: str) -> CircuitRecord:
        """Write this environment's counted failures of one circuit; trip it if the rule then holds.

        Raises one of ``unavailable`` when the table cannot be reached; the failures stay
        counted here for the next try.
        """
        from breaker.counting import count_failures, trip_if_due  # boto3 comes with the store

        local = self._local[circuit_id]
        with self._lock:
            failures, local.failures, local.pending_repeats = local.failures, [], 0
            self.flushes.in_flight += len(failures)
        now = self._wall_ms()
        try:
            counted = count_failures(
                self._store, self._newest_known(circuit_id), failures, local.settings, now, self._remember
            )
        except self._unavailable as failure:
            with self._lock:
                self.flushes.in_flight -= len(failures)
            if self._permanent(failure):
                self._drop(len(failures), circuit=circuit_id, error=repr(failure))
                return self._newest_known(circuit_id)
            with self._lock:  # not written: keep them, oldest first, ahead of any counted meanwhile
                local.unwritten = True
                local.failures[:0] = failures
                local.pending_repeats += sum(failure.repeat for failure in failures)
                overflow = _cap(local)
            self._drop(overflow)
            raise
        with self._lock:
            self.flushes.in_flight -= len(failures)
            self.flushes.written += counted.written
            local.unwritten = False
        self._drop(counted.dropped)
        error = next((f.error for f in reversed(failures) if f.error is not None), None)
        return trip_if_due(self._store, counted.record, local.settings, now, error, self._remember)[0]

    def _recheck(self, circuit_id: str) -> None:
        """Read the record once before the call after a written failure or a repeat.

        Another environment may trip the circuit in the milliseconds between this one's write
        and its next call; the cached copy would learn that only at its next re-read, and a fast
        caller sends many calls in that time. A repeat the token bucket holds back is no write,
        but says the same: this environment keeps failing, and the trip may be stored already.
        At most one read per failure, and only while the copy shows CLOSED (never while healthy,
        nor for the failures of calls still in flight when the environment learned of a trip): the
        next call goes out only if the circuit is still CLOSED as stored now. A table that cannot
        be read leaves the copy as it was; while counting writes fail, repeats ask for no read.
        """
        try:
            record = self._store.get(circuit_id)
        except self._unavailable as failure:
            log("recheck_failed", circuit=circuit_id, error=repr(failure))
            return
        self._remember(record, "read")

    def _take_write(self, local: _Local) -> bool:
        """Take a token for one counting write, if the bucket has one (see FLUSH_BURST). Lock held."""
        now = self._clock()
        local.write_tokens = min(FLUSH_BURST, local.write_tokens + (now - local.tokens_at) / FLUSH_INTERVAL_S)
        local.tokens_at = now
        if local.write_tokens < 1:
            return False
        local.write_tokens -= 1
        return True

    def _could_trip(self, circuit_id: str, local: _Local, now: int) -> bool:
        """Whether the fleet's counts this environment last saw, plus its own unwritten ones,
        would trip the circuit: then they are written now, not at the next flush interval
        (an outage at thousands of calls a second trips within milliseconds). Lock held."""
        known = self._newest.get(circuit_id)
        judged, repeats = (0, 0) if known is None else window_counts(known, local.settings, now)
        return rule_holds(local.settings, judged + len(local.failures), repeats + local.pending_repeats)

    def _take_trial(
        self, record: CircuitRecord, local: _Local, now: int, stale: bool
    ) -> tuple[CircuitRecord, bool, bool]:
        """Take a half-open trial lease with a conditional write: (record, granted, stale)."""
        with self._lock:
            if self._clock() < local.trials_paused_until:
                return record, False, True
        token = self._new_token()
        granted = False

        def take(current: CircuitRecord) -> CircuitRecord:
            nonlocal granted
            updated, granted = grant_trial(current, local.settings, now, token)
            return updated

        try:
            applied = self._apply(record.id, take, record, "trial")
        except self._unavailable as failure:
            # Without the table no lease can be held fleet-wide, so no trial goes out.
            log("trial_error", circuit=record.id, error=repr(failure))
            with self._lock:
                local.trials_paused_until = self._clock() + TRIAL_RETRY_AFTER_S
            return record, False, True
        if granted and applied.record.state is State.HALF_OPEN:
            with self._lock:
                local.leases.append(token)
        return applied.record, granted, stale

    def _report_trial(self, report: TrialReport) -> ReportResult:
        try:
            record: Optional[CircuitRecord] = self._write_trial(report)
            queued = False
        except self._unavailable as failure:
            with self._lock:
                self._trials.append(report)
                del_count = max(len(self._trials) - MAX_PENDING, 0)
                for _ in range(del_count):
                    self._trials.popleft()
            self._drop(del_count)
            log("trial_pending", circuit=report.circuit_id, error=repr(failure), pending=self.pending_count())
            record, queued = None, True
        return ReportResult(report.circuit_id, report.outcome, report.at_ms, trial=True, queued=queued, record=record)

    def _write_trial(self, report: TrialReport) -> Optional[CircuitRecord]:
        """Apply a trial outcome; its lease must still be live when written, whenever that is."""
        settings = self._local[report.circuit_id].settings

        def judged(record: CircuitRecord) -> CircuitRecord:
            return record_trial(record, settings, report.token, report.outcome, self._wall_ms(), report.error)

        with self._lock:
            self.flushes.in_flight += 1
        try:
            applied = self._apply(report.circuit_id, judged, self._newest_known(report.circuit_id), "trial_outcome")
        except self._unavailable as failure:
            if not self._permanent(failure):
                raise
            self._drop(1, circuit=report.circuit_id, error=repr(failure))
            return None
        finally:
            with self._lock:
                self.flushes.in_flight -= 1
        with self._lock:
            self.flushes.written += 1
        return applied.record

    def _apply(self, circuit_id: str, transition: Transition, base: CircuitRecord, via: str) -> Applied:
        applied = self._store.apply(circuit_id, transition, current=base)
        self._remember(applied.record, via, caused=applied.written)
        return applied

    def _drop(self, count: int, **why: Any) -> None:
        if not count:
            return
        with self._lock:
            self.flushes.dropped += count
        if why:  # refused for good: worth an operator's look, so a metric too
            log("reports_dropped", count=count, **why, **emf(why["circuit"], self._wall_ms(), {DROPPED: (count, "Count")}))

    def _remember(self, record: CircuitRecord, via: str, caused: bool = False) -> None:  # counting.Learned
        """Keep a record a write returned (or a refusal handed back) unless an older copy of it."""
        with self._lock:
            known = self._newest.get(record.id)
            if known is not None and known.incarnation == record.incarnation and known.version > record.version:
                return
            self._newest[record.id] = record
        self._observe(record, via, caused=caused)

    def _newer(self, record: CircuitRecord) -> CircuitRecord:
        written = self._newest.get(record.id)
        return written if written is not None and written.version >= record.version else record

    def _newest_known(self, circuit_id: str) -> CircuitRecord:
        """The freshest record this environment has: the base of its next write.

        The newer of its own last write and the cached copy, as a lookup sees it. (Taking its own
        write whenever there was one kept an OPEN record this environment had stored as the base
        after the fleet had closed the circuit again, so every later failure of this environment
        was dropped as older than the last transition and never counted again.)
        """
        with self._lock:
            written = self._newest.get(circuit_id)
        entry = self._cache.get(circuit_id)
        if entry.age_s is None:
            return written if written is not None else CircuitRecord(circuit_id)
        return self._newer(entry.value)

    def _observe(self, record: CircuitRecord, via: str, caused: bool = False) -> None:
        """Log a state this environment has not seen for the circuit before.

        A trip this environment's own write ``caused`` also carries the ``CircuitOpened``
        metric (EMF, the same the checker emits), so the circuit's alarm fires whichever
        caller opened it, and exactly once per opening.
        """
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


def _cap(local: _Local) -> int:
    """Drop the oldest held failures beyond MAX_PENDING (lock held); returns how many, for the
    accounting (``FlushStats.dropped``), so none is ever lost silently."""
    overflow = len(local.failures) - MAX_PENDING
    if overflow <= 0:
        return 0
    local.pending_repeats -= sum(failure.repeat for failure in local.failures[:overflow])
    del local.failures[:overflow]
    return overflow


def _age_ms(entry: Entry[CircuitRecord]) -> Optional[int]:
    return None if entry.age_s is None else int(entry.age_s * 1000)
