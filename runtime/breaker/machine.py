"""The circuit state machine: the one place that decides what a circuit does next.

Pure functions over an immutable :class:`CircuitRecord`. No I/O and no clock: every function
takes ``now_ms`` (integer epoch milliseconds), so the checker, the extension, the local stack,
the benchmarks and the property tests all run exactly this logic, and replaying the same
observations at the same times gives the same record.

States (DESIGN.md section 2)::

    CLOSED ──trip rule holds──► OPEN ──open duration elapsed, or a passing probe──► HALF_OPEN
       ▲                                                                             │  │
       └──────── half_open_success_threshold successes of trial-lease holders ───────┘  │
                           a lease holder's failure (longer open duration) ─► OPEN ◄────┘

``FORCED_OPEN`` and ``FORCED_CLOSED`` are operator overrides that no observation changes.

**The trip rule, and why it holds at any fleet size.** Every execution environment sees only
its own calls, and writing successes would cost a write per healthy call. So the rule is built
from what an environment can say about a failure without anyone writing a success: whether
*its own previous call* failed too. Across the fleet, of the failures whose environment had
made an earlier call (*judged* failures), the share whose previous call also failed
(*repeats*) estimates the dependency's failure rate: with independent failures at rate p, a
failure's predecessor fails with probability p whatever the number of environments or the
request rate, and in an outage every predecessor after the first fails. The circuit opens when,
within the last ``window_s`` seconds, at least ``minimum_failures`` judged failures were
counted and ``repeats / judged >= failure_rate_threshold``. No unwritten success can bias it
(the hole of a rate over piggybacked success counts), and a stale copy cannot chain failures of
different environments into a streak (the hole of a fleet-wide "consecutive failures" count).

Environments add their judged failures and repeats to per-bucket counters of the record with
an atomic ``ADD`` (:class:`Tally`), so counting never conflicts; only the transition itself is
a version-conditional write. Counters are tagged with the version of the CLOSED record they
count towards, so counts from before a transition never count after it.

**Versions.** A function returns the very same record when nothing changed, and a new record
with ``version + 1`` when its state changed; callers persist a record only when its version
moved. Counter additions are not state changes and leave the version alone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from enum import Enum
from fractions import Fraction
from typing import Any, Mapping, Optional

SCHEMA_VERSION = 2
TALLY_BUCKETS = 6  # a trip window is counted in this many buckets, so counters stay few


class State(str, Enum):
    """A circuit's state. The string values are what the table and the HTTP API carry."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"
    FORCED_OPEN = "FORCED_OPEN"
    FORCED_CLOSED = "FORCED_CLOSED"


FORCED_STATES = frozenset({State.FORCED_OPEN, State.FORCED_CLOSED})


class Outcome(str, Enum):
    """What one call to the protected service came to."""

    SUCCESS = "success"
    FAILURE = "failure"
    SLOW = "slow"  # answered, but not faster than the slow-call threshold: counts as a failure


class SettingsError(ValueError):
    """Invalid breaker settings; ``problems`` maps each field name to what is wrong with it."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in problems.items()))


# Settings of schema 1 that no longer exist, and what replaced them: named in the error so a
# stack file written for the old rule says what to change.
_REPLACED = {
    "failure_threshold": "replaced by minimum_failures and failure_rate_threshold (fleet-wide rule, schema 2)",
    "failure_rate": "replaced by failure_rate_threshold, minimum_failures and window_s (schema 2)",
}


@dataclass(frozen=True)
class BreakerSettings:
    """How one circuit trips and recovers. Durations are seconds; validated on construction.

    Every number has an upper bound, so that no setting can make the record outgrow an item
    (``half_open_max_trials`` leases are stored in it) or a duration overflow.
    """

    # Defaults from the benchmark (BENCHMARKS.md): a 35 % share with 30 judged failures in a
    # minute never tripped on 10 % independent failures in 3,000 simulated runs, yet trips an
    # outage within a second at 10 environments and within seconds at 100.
    failure_rate_threshold: float = 0.35
    minimum_failures: int = 30
    window_s: float = 60.0
    slow_call_threshold_ms: Optional[int] = None
    open_duration_s: float = 30.0
    open_backoff_multiplier: float = 2.0
    # The backoff's cap; None means twice open_duration_s. A short cap bounds how long a
    # dependency that has recovered waits for its next trial after a long outage.
    max_open_duration_s: Optional[float] = None
    half_open_max_trials: int = 1
    half_open_success_threshold: int = 2
    trial_lease_s: float = 10.0

    def __post_init__(self) -> None:
        found = self.problems()
        if found:
            raise SettingsError(found)

    def problems(self) -> dict[str, str]:
        """Every problem with these settings, keyed by field name."""
        found: dict[str, str] = {}
        _require(found, "failure_rate_threshold", self.failure_rate_threshold, above=0, maximum=1)
        _require(found, "minimum_failures", self.minimum_failures, minimum=1, maximum=100_000, integer=True)
        _require(found, "window_s", self.window_s, minimum=1, maximum=3600)
        if self.slow_call_threshold_ms is not None:
            _require(found, "slow_call_threshold_ms", self.slow_call_threshold_ms, minimum=1, maximum=900_000, integer=True)
        _require(found, "open_duration_s", self.open_duration_s, minimum=0.001, maximum=86_400)
        _require(found, "open_backoff_multiplier", self.open_backoff_multiplier, minimum=1, maximum=100)
        if self.max_open_duration_s is not None:
            floor = self.open_duration_s if "open_duration_s" not in found else 0.001
            _require(found, "max_open_duration_s", self.max_open_duration_s, minimum=floor, maximum=7 * 86_400)
        _require(found, "half_open_max_trials", self.half_open_max_trials, minimum=1, maximum=20, integer=True)
        _require(
            found, "half_open_success_threshold", self.half_open_success_threshold, minimum=1, maximum=1000, integer=True
        )
        _require(found, "trial_lease_s", self.trial_lease_s, minimum=0.001, maximum=900)
        return found

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> "BreakerSettings":
        """Build from plain data (stack config, or the JSON in the extension's environment).

        Raises :class:`SettingsError` naming every unknown key and every bad value at once.
        """
        found = {key: _REPLACED.get(key, "unknown setting") for key in sorted(set(mapping) - _SETTINGS_FIELDS)}
        candidate = {k: v for k, v in mapping.items() if k in _SETTINGS_FIELDS}
        try:
            settings = cls(**candidate)
        except SettingsError as error:
            found.update(error.problems)
        if found:
            raise SettingsError(dict(sorted(found.items())))
        return settings

    def to_mapping(self) -> dict[str, Any]:
        """Plain data that :meth:`from_mapping` reads back to equal settings."""
        return asdict(self)

    def open_duration_ms(self, consecutive_opens: int) -> int:
        """Open duration of the ``consecutive_opens``-th open in a row, in whole milliseconds.

        ``open_duration_s × multiplier^(n-1)``, capped, rounded to the nearest millisecond.
        Computed on the decimal values the settings were written with (``Fraction(str(x))``),
        and the cap is applied before the power can grow: no overflow for any ``n``.
        """
        base, cap = _exact(self.open_duration_s), _exact(self.open_duration_cap_s)
        multiplier = _exact(self.open_backoff_multiplier)
        duration = base
        for _ in range(max(consecutive_opens - 1, 0)):
            if duration >= cap or multiplier == 1:
                break
            duration *= multiplier
        return _round_ms(min(duration, cap))

    @property
    def open_duration_cap_s(self) -> float:
        """The longest an open period may last."""
        return self.max_open_duration_s if self.max_open_duration_s is not None else 2 * self.open_duration_s

    # Derived values are cached on the instance (settings are immutable): the trip rule is judged
    # on every counting write and every cache read, so exact decimal arithmetic runs once.
    @cached_property
    def window_ms(self) -> int:
        return _round_ms(_exact(self.window_s))

    @cached_property
    def bucket_ms(self) -> int:
        """Width of one counter bucket: the window in ``TALLY_BUCKETS`` parts, at least 1 ms."""
        return max(self.window_ms // TALLY_BUCKETS, 1)

    @cached_property
    def trial_lease_ms(self) -> int:
        return _round_ms(_exact(self.trial_lease_s))

    @cached_property
    def rate_threshold(self) -> Fraction:
        """``failure_rate_threshold`` as the exact decimal it was written as."""
        return _exact(self.failure_rate_threshold)


_SETTINGS_FIELDS = {f.name for f in fields(BreakerSettings)}


def _require(
    found: dict[str, str], key: str, value: Any, *, minimum=None, above=None, maximum=None, integer: bool = False
) -> None:
    """Record in ``found`` what is wrong with one numeric setting, if anything."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        found[key] = f"must be a finite number, got {value!r}"
    elif integer and not float(value).is_integer():
        found[key] = f"must be a whole number, got {value!r}"
    elif minimum is not None and value < minimum:
        found[key] = f"must be >= {minimum}, got {value!r}"
    elif above is not None and not value > above:
        found[key] = f"must be > {above}, got {value!r}"
    elif maximum is not None and value > maximum:
        found[key] = f"must be <= {maximum}, got {value!r}"


def _exact(value: float) -> Fraction:
    """The decimal a setting was written as (0.55 is 11/20, not the float nearest to it)."""
    return Fraction(str(value))


def _round_ms(seconds: Fraction) -> int:
    """Seconds to the nearest millisecond, halves up (not down, as ``int`` would)."""
    return math.floor(seconds * 1000 + Fraction(1, 2))


@dataclass(frozen=True)
class Lease:
    """One half-open trial granted to one caller; it frees its slot at ``expires_at`` (epoch ms)."""

    token: str
    expires_at: int

    def order(self) -> tuple[int, str]:
        """Leases are kept sorted by this, so a record reads back from its item exactly as written."""
        return self.expires_at, self.token


@dataclass(frozen=True)
class Tally:
    """Failures counted in one time bucket towards the CLOSED record of version ``period``.

    ``judged``: failures whose environment had made an earlier call; ``repeats``: those whose
    environment's previous call failed as well. Stored as two atomic counters per bucket.
    """

    period: int
    bucket: int  # index of the bucket: its start is bucket * settings.bucket_ms
    judged: int
    repeats: int


@dataclass(frozen=True)
class CircuitRecord:
    """One circuit, exactly as stored in the table (one item per circuit, key ``id``).

    Times are integer epoch milliseconds, which DynamoDB stores exactly.
    """

    id: str
    state: State = State.CLOSED
    version: int = 0  # 0: no item stored yet
    # Chosen when the item is created: a deleted and re-created item is told apart from the one
    # a warm environment remembers even when their versions coincide.
    incarnation: Optional[str] = None
    transitioned_at: int = 0  # when the state last changed: older observations count for nothing
    opened_at: Optional[int] = None
    next_attempt_at: Optional[int] = None
    consecutive_opens: int = 0
    half_open_successes: int = 0
    leases: tuple[Lease, ...] = field(default=())
    tallies: tuple[Tally, ...] = field(default=())
    updated_at: int = 0
    last_error: Optional[str] = None
    schema_version: int = SCHEMA_VERSION


def classify(ok: bool, latency_ms: float, settings: BreakerSettings) -> Outcome:
    """Turn one call's result into an outcome: a success at or over the slow threshold is SLOW."""
    if not ok:
        return Outcome.FAILURE
    slow_ms = settings.slow_call_threshold_ms
    if slow_ms is not None and latency_ms >= slow_ms:
        return Outcome.SLOW
    return Outcome.SUCCESS


def effective_state(record: CircuitRecord, now_ms: int) -> State:
    """The state as a reader sees it at ``now_ms``: an OPEN circuit past its wait is HALF_OPEN."""
    if record.state is State.OPEN and record.next_attempt_at is not None and now_ms >= record.next_attempt_at:
        return State.HALF_OPEN
    return record.state


def live_leases(record: CircuitRecord, now_ms: int) -> tuple[Lease, ...]:
    """Trials granted and not yet reported nor expired. A lease is dead from its expiry ms on."""
    if record.state is not State.HALF_OPEN:
        return ()
    return tuple(lease for lease in record.leases if lease.expires_at > now_ms)


def is_call_allowed(record: CircuitRecord, settings: BreakerSettings, now_ms: int) -> bool:
    """Whether a call may go out now. In HALF_OPEN only while a trial could still be granted."""
    state = effective_state(record, now_ms)
    if state in (State.CLOSED, State.FORCED_CLOSED):
        return True
    if state is State.HALF_OPEN:
        return len(live_leases(_materialise(record, now_ms), now_ms)) < settings.half_open_max_trials
    return False


# -- counting in CLOSED ------------------------------------------------------------------------


def bucket_of(settings: BreakerSettings, at_ms: int) -> int:
    return at_ms // settings.bucket_ms


def window_counts(record: CircuitRecord, settings: BreakerSettings, now_ms: int) -> tuple[int, int]:
    """(judged, repeats) counted towards this CLOSED record within the trip window.

    A bucket counts while any part of it lies within the last ``window_s``: the window is
    ``window_s`` rounded out to whole buckets.
    """
    oldest = bucket_of(settings, now_ms - settings.window_ms)
    judged = repeats = 0
    for tally in record.tallies:
        if tally.period == record.version and tally.bucket >= oldest:
            judged += tally.judged
            repeats += tally.repeats
    return judged, repeats


def trips(record: CircuitRecord, settings: BreakerSettings, now_ms: int) -> bool:
    """Whether the trip rule holds on this record now. The rate is compared exactly."""
    if record.state is not State.CLOSED:
        return False
    return rule_holds(settings, *window_counts(record, settings, now_ms))


def rule_holds(settings: BreakerSettings, judged: int, repeats: int) -> bool:
    """The trip rule on counts: enough judged failures, and a share of repeats at the threshold."""
    return judged >= settings.minimum_failures and _share_reaches_threshold(settings, judged, repeats)


def nearing_trip(record: CircuitRecord, settings: BreakerSettings, now_ms: int) -> bool:
    """Whether this CLOSED record's share of repeats has reached half the threshold (any count).

    In an outage the share climbs from 0 towards 1, so it passes half the threshold before the
    rule holds; independent failures keep it near their own rate, far below (a dependency
    failing 10 % of calls shows about 10 %). Whoever watches for a trip needs to watch only then.
    """
    if record.state is not State.CLOSED:
        return False
    judged, repeats = window_counts(record, settings, now_ms)
    return judged > 0 and _share_reaches_threshold(settings, judged, 2 * repeats)  # twice the share: half the threshold


def _share_reaches_threshold(settings: BreakerSettings, judged: int, repeats: int) -> bool:
    """``repeats / judged >= failure_rate_threshold``, compared exactly (in integers)."""
    threshold = settings.rate_threshold
    return repeats * threshold.denominator >= threshold.numerator * judged


def trip(record: CircuitRecord, settings: BreakerSettings, now_ms: int, error: Optional[str] = None) -> CircuitRecord:
    """CLOSED → OPEN when the trip rule holds on ``record``; else the record unchanged."""
    if not trips(record, settings, now_ms):
        return record
    return _open(record, settings, now_ms, error, consecutive_opens=1)


def counts_towards(record: CircuitRecord, observed_at: int) -> bool:
    """Whether an observation made at ``observed_at`` may be counted towards ``record``.

    Only in CLOSED, and only when made after the record's last transition: a failure seen
    before a trip and reported after the recovery must not open the recovered circuit.
    """
    return record.state is State.CLOSED and observed_at >= record.transitioned_at


# -- half-open trials ---------------------------------------------------------------------------


def grant_trial(
    record: CircuitRecord, settings: BreakerSettings, now_ms: int, token: str
) -> tuple[CircuitRecord, bool]:
    """Ask for a half-open trial call. Returns the record to persist and whether it was granted.

    CLOSED and FORCED_CLOSED need no trial (granted, record unchanged); OPEN before its wait
    and FORCED_OPEN refuse. In HALF_OPEN a trial is a lease named ``token`` that expires after
    ``trial_lease_s``, so a trial whose caller died never wedges the circuit; its outcome counts
    only when reported with that token (:func:`record_trial`).
    """
    state = effective_state(record, now_ms)
    if state in (State.CLOSED, State.FORCED_CLOSED):
        return record, True
    if state is not State.HALF_OPEN:
        return record, False
    current = _materialise(record, now_ms)
    leases = live_leases(current, now_ms)
    if len(leases) >= settings.half_open_max_trials or any(lease.token == token for lease in leases):
        return record, False
    lease = Lease(token, now_ms + settings.trial_lease_ms)
    return _changed(current, now_ms, leases=tuple(sorted(leases + (lease,), key=Lease.order))), True


def record_trial(
    record: CircuitRecord,
    settings: BreakerSettings,
    token: str,
    outcome: Outcome,
    now_ms: int,
    error: Optional[str] = None,
) -> CircuitRecord:
    """Apply the outcome of the trial call that holds lease ``token``.

    Only a live lease's holder moves HALF_OPEN: a report for a lease that expired or that this
    record never granted (an older HALF_OPEN period) counts for nothing.
    """
    if effective_state(record, now_ms) is not State.HALF_OPEN:
        return record
    current = _materialise(record, now_ms)
    leases = live_leases(current, now_ms)
    if not any(lease.token == token for lease in leases):
        return record
    if outcome is not Outcome.SUCCESS:
        return _open(current, settings, now_ms, error, consecutive_opens=current.consecutive_opens + 1)
    successes = current.half_open_successes + 1
    if successes >= settings.half_open_success_threshold:
        return _close(current, now_ms)
    remaining = tuple(lease for lease in leases if lease.token != token)
    return _changed(current, now_ms, half_open_successes=successes, leases=remaining)


def probe_passed(record: CircuitRecord, now_ms: int) -> CircuitRecord:
    """A checker's probe succeeded while the circuit is OPEN: let trials through now.

    The probe is not a trial (it carries no business call), so the circuit goes to HALF_OPEN,
    not CLOSED: the business calls' trials still decide. Outside OPEN, nothing changes.
    """
    if effective_state(record, now_ms) is not State.OPEN:
        return record
    now_ms = _not_before(record, now_ms)
    return _changed(record, now_ms, state=State.HALF_OPEN, transitioned_at=now_ms, half_open_successes=0, leases=())


# -- operator overrides -------------------------------------------------------------------------


def force(record: CircuitRecord, state: State, now_ms: int) -> CircuitRecord:
    """Put an operator override in place (FORCED_OPEN or FORCED_CLOSED)."""
    if state not in FORCED_STATES:
        raise ValueError(f"can only force FORCED_OPEN or FORCED_CLOSED, got {state}")
    if record.state is state:
        return record
    now_ms = _not_before(record, now_ms)
    return _changed(_reset(record), now_ms, state=state, transitioned_at=now_ms)


def release(record: CircuitRecord, now_ms: int) -> CircuitRecord:
    """Lift an operator override: the circuit starts afresh, CLOSED."""
    if record.state not in FORCED_STATES:
        return record
    return _close(record, now_ms)


def created(record: CircuitRecord, now_ms: int) -> CircuitRecord:
    """The first stored form of a circuit that has no item yet (counters need one to add to).

    The store gives it its incarnation as it writes it. Creating is not a transition: failures
    observed before the item existed still count (``transitioned_at`` stays 0).
    """
    if record.version != 0:
        return record
    return _changed(record, now_ms, state=State.CLOSED, transitioned_at=0)


# -- transitions --------------------------------------------------------------------------------


def _open(
    record: CircuitRecord, settings: BreakerSettings, now_ms: int, error: Optional[str], consecutive_opens: int
) -> CircuitRecord:
    now_ms = _not_before(record, now_ms)
    return _changed(
        _reset(record),
        now_ms,
        state=State.OPEN,
        transitioned_at=now_ms,
        opened_at=now_ms,
        next_attempt_at=now_ms + settings.open_duration_ms(consecutive_opens),
        consecutive_opens=consecutive_opens,
        last_error=error if error is not None else record.last_error,
    )


def _close(record: CircuitRecord, now_ms: int) -> CircuitRecord:
    now_ms = _not_before(record, now_ms)
    return _changed(_reset(record), now_ms, state=State.CLOSED, transitioned_at=now_ms)


def _materialise(record: CircuitRecord, now_ms: int) -> CircuitRecord:
    """An OPEN record past its wait, written down as the HALF_OPEN it already reads as."""
    if record.state is State.OPEN and effective_state(record, now_ms) is State.HALF_OPEN:
        return replace(
            record, state=State.HALF_OPEN, transitioned_at=record.next_attempt_at, half_open_successes=0, leases=()
        )
    return record


def _reset(record: CircuitRecord) -> CircuitRecord:
    """Clear counters, trials and the backoff; keeps identity, version and the last error."""
    return replace(
        record,
        half_open_successes=0,
        leases=(),
        tallies=(),
        opened_at=None,
        next_attempt_at=None,
        consecutive_opens=0,
    )


def _not_before(record: CircuitRecord, now_ms: int) -> int:
    """A transition's time: never before the record's own last write (a late report, a lagging
    clock), so ``opened_at`` is never backdated and ``next_attempt_at`` never already past."""
    return max(now_ms, record.updated_at)


def _changed(record: CircuitRecord, now_ms: int, **changes) -> CircuitRecord:
    """The next version. ``updated_at`` never goes back, whatever the caller's clock says."""
    return replace(record, version=record.version + 1, updated_at=_not_before(record, now_ms), **changes)
