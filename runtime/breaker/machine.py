"""The circuit state machine: the one place that decides what a circuit does next.

Pure functions over an immutable :class:`CircuitRecord`. No I/O and no clock: every function
takes ``now_ms`` (integer epoch milliseconds), so the checker, the extension, the local stack,
the benchmarks and the property tests all run exactly this logic, and replaying the same
observations at the same times gives the same record.

Every function returns the record unchanged (the very same object) when nothing changed, and a
new record with ``version + 1`` when something did. Callers persist a record only when its
version moved, which is why a healthy call in a quiet circuit costs no write.

States (DESIGN.md section 2)::

    CLOSED ──trip rule holds──► OPEN ──open duration elapsed──► HALF_OPEN
       ▲                                                          │  │
       └──────────── success_threshold consecutive successes ─────┘  │
                         any failure (longer open duration) ─► OPEN ◄┘

``FORCED_OPEN`` and ``FORCED_CLOSED`` are operator overrides that no observation changes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from typing import Any, Mapping, Optional

SCHEMA_VERSION = 1


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
    SLOW = "slow"  # answered, but slower than the slow-call threshold: counts as a failure


class SettingsError(ValueError):
    """Invalid breaker settings; ``problems`` maps each field name to what is wrong with it."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in problems.items()))


@dataclass(frozen=True)
class FailureRateRule:
    """Trip when the failure rate over a window reaches ``threshold``.

    The window opens at the first failure seen in CLOSED and spans ``window_calls`` calls or
    ``window_seconds`` seconds (exactly one is set); the rule is judged on every failure once
    the window holds ``minimum_calls`` calls. Anchoring the window on a failure is what keeps a
    healthy circuit free of writes: until something fails there is nothing to count.
    """

    threshold: float
    minimum_calls: int = 10
    window_calls: Optional[int] = None
    window_seconds: Optional[float] = None

    def problems(self) -> dict[str, str]:
        found: dict[str, str] = {}
        _require(found, "threshold", self.threshold, above=0, maximum=1)
        _require(found, "minimum_calls", self.minimum_calls, minimum=1, integer=True)
        if (self.window_calls is None) == (self.window_seconds is None):
            found["window_calls"] = "set exactly one of window_calls and window_seconds"
        elif self.window_calls is not None:
            floor = self.minimum_calls if "minimum_calls" not in found else 1
            _require(found, "window_calls", self.window_calls, minimum=floor, integer=True)
        else:
            _require(found, "window_seconds", self.window_seconds, above=0)
        return found


@dataclass(frozen=True)
class BreakerSettings:
    """How one circuit trips and recovers. Durations are seconds; validated on construction."""

    failure_threshold: int = 5
    failure_rate: Optional[FailureRateRule] = None
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
        """Every problem with these settings, keyed by field name (nested with dots)."""
        found: dict[str, str] = {}
        _require(found, "failure_threshold", self.failure_threshold, minimum=1, integer=True)
        if self.slow_call_threshold_ms is not None:
            _require(found, "slow_call_threshold_ms", self.slow_call_threshold_ms, minimum=1, integer=True)
        _require(found, "open_duration_s", self.open_duration_s, above=0)
        _require(found, "open_backoff_multiplier", self.open_backoff_multiplier, minimum=1)
        if self.max_open_duration_s is not None:
            floor = self.open_duration_s if "open_duration_s" not in found else 0
            _require(found, "max_open_duration_s", self.max_open_duration_s, minimum=floor)
        _require(found, "half_open_max_trials", self.half_open_max_trials, minimum=1, integer=True)
        _require(found, "half_open_success_threshold", self.half_open_success_threshold, minimum=1, integer=True)
        _require(found, "trial_lease_s", self.trial_lease_s, above=0)
        if self.failure_rate is not None:
            for key, msg in self.failure_rate.problems().items():
                found[f"failure_rate.{key}"] = msg
        return found

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> "BreakerSettings":
        """Build from plain data (stack config, or the JSON in the extension's environment).

        Raises :class:`SettingsError` naming every unknown key and every bad value at once.
        """
        found: dict[str, str] = {}
        values = dict(mapping)
        rate = values.pop("failure_rate", None)
        for key in sorted(set(values) - _SETTINGS_FIELDS):
            found[key] = "unknown setting"
        if rate is not None:
            if not isinstance(rate, Mapping):
                found["failure_rate"] = f"must be a mapping, got {rate!r}"
            else:
                for key in sorted(set(rate) - _RATE_FIELDS):
                    found[f"failure_rate.{key}"] = "unknown setting"
                rate_values = {k: v for k, v in rate.items() if k in _RATE_FIELDS}
                if "threshold" not in rate_values:
                    found["failure_rate.threshold"] = "required"
                else:
                    values["failure_rate"] = FailureRateRule(**rate_values)
        candidate = {k: v for k, v in values.items() if k in _SETTINGS_FIELDS}
        try:
            settings = cls(**candidate)
        except SettingsError as error:
            found.update(error.problems)
        if found:
            raise SettingsError(dict(sorted(found.items())))
        return settings

    def to_mapping(self) -> dict[str, Any]:
        """Plain data that :meth:`from_mapping` reads back to equal settings."""
        plain = asdict(self)
        if self.failure_rate is None:
            del plain["failure_rate"]
        return plain

    def open_duration_ms(self, consecutive_opens: int) -> int:
        """Open duration of the ``consecutive_opens``-th open in a row: base × multiplier^(n-1), capped."""
        exponent = max(consecutive_opens - 1, 0)
        seconds = self.open_duration_s * self.open_backoff_multiplier**exponent
        return int(min(seconds, self.open_duration_cap_s) * 1000)

    @property
    def open_duration_cap_s(self) -> float:
        """The longest an open period may last."""
        return self.max_open_duration_s if self.max_open_duration_s is not None else 2 * self.open_duration_s


_SETTINGS_FIELDS = {f.name for f in fields(BreakerSettings)}
_RATE_FIELDS = {f.name for f in fields(FailureRateRule)}


def _require(
    found: dict[str, str], key: str, value: Any, *, minimum=None, above=None, maximum=None, integer: bool = False
) -> None:
    """Record in ``found`` what is wrong with one numeric setting, if anything."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        found[key] = f"must be a number, got {value!r}"
    elif integer and not float(value).is_integer():
        found[key] = f"must be a whole number, got {value!r}"
    elif minimum is not None and value < minimum:
        found[key] = f"must be >= {minimum}, got {value!r}"
    elif above is not None and not value > above:
        found[key] = f"must be > {above}, got {value!r}"
    elif maximum is not None and value > maximum:
        found[key] = f"must be <= {maximum}, got {value!r}"


@dataclass(frozen=True)
class CircuitRecord:
    """One circuit, exactly as stored in the table (one item per circuit, key ``id``).

    Times are integer epoch milliseconds, which DynamoDB stores exactly.
    """

    id: str
    state: State = State.CLOSED
    version: int = 0
    # Times of the failures since the latest success the fleet knows of: the failure streak.
    # Times rather than a counter, so that a success reported late (piggybacked on another
    # environment's failure report) can still break the streak it interrupted.
    failure_times: tuple[int, ...] = field(default=())
    last_success_at: Optional[int] = None  # the latest success known to the record
    # The failure-rate window (see FailureRateRule); None while no window is open.
    window_started_at: Optional[int] = None
    window_calls: int = 0
    window_failures: int = 0
    opened_at: Optional[int] = None
    next_attempt_at: Optional[int] = None
    consecutive_opens: int = 0
    half_open_successes: int = 0
    # Expiry times of the half-open trials granted and not yet reported, fleet-wide.
    trial_leases: tuple[int, ...] = field(default=())
    updated_at: int = 0
    last_error: Optional[str] = None
    schema_version: int = SCHEMA_VERSION

    @property
    def consecutive_failures(self) -> int:
        """Failures in a row, as far as the fleet knows: the trip rule's count."""
        return len(self.failure_times)


def classify(ok: bool, latency_ms: float, settings: BreakerSettings) -> Outcome:
    """Turn one call's result into an outcome: a success over the slow threshold is SLOW."""
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


def is_call_allowed(record: CircuitRecord, settings: BreakerSettings, now_ms: int) -> bool:
    """Whether a call may go out now. In HALF_OPEN only while a trial could still be granted."""
    state = effective_state(record, now_ms)
    if state in (State.CLOSED, State.FORCED_CLOSED):
        return True
    if state is State.HALF_OPEN:
        return len(_live_leases(record, now_ms)) < settings.half_open_max_trials
    return False


def grant_trial(record: CircuitRecord, settings: BreakerSettings, now_ms: int) -> tuple[CircuitRecord, bool]:
    """Ask for a half-open trial call. Returns the record to persist and whether it was granted.

    CLOSED and FORCED_CLOSED need no trial (granted, record unchanged); OPEN before its wait
    and FORCED_OPEN refuse. In HALF_OPEN a trial is a lease that expires after
    ``trial_lease_s``, so a trial whose caller died never wedges the circuit.
    """
    state = effective_state(record, now_ms)
    if state in (State.CLOSED, State.FORCED_CLOSED):
        return record, True
    if state is not State.HALF_OPEN:
        return record, False
    leases = _live_leases(record, now_ms)
    if len(leases) >= settings.half_open_max_trials:
        return record, False
    expiry = now_ms + int(settings.trial_lease_s * 1000)
    # An OPEN record past its wait has no live leases, so ``leases`` holds for the materialised one.
    return _changed(_materialise(record, now_ms), now_ms, trial_leases=tuple(sorted(leases + (expiry,)))), True


def record_outcome(
    record: CircuitRecord,
    settings: BreakerSettings,
    outcome: Outcome,
    now_ms: int,
    error: Optional[str] = None,
    last_success_ms: Optional[int] = None,
) -> CircuitRecord:
    """Apply one observed call outcome and return the record to persist (or the same record).

    ``last_success_ms`` is the reporter's own latest success before this outcome, if any. Each
    execution environment sees only its own calls and writes a success only when its copy of
    the record shows a streak, so without this a streak could grow across the fleet through
    failures separated by successes nobody wrote down. Carrying it on the failure report makes
    "consecutive" mean: no success known to any reporter since the failure, at no extra write.
    """
    failed = outcome is not Outcome.SUCCESS
    state = effective_state(record, now_ms)
    if state in FORCED_STATES or state is State.OPEN:
        # Overrides win over observations; calls still in flight when the circuit opened
        # tell us nothing new.
        return record
    if state is State.HALF_OPEN:
        return _half_open_outcome(_materialise(record, now_ms), settings, failed, now_ms, error)
    return _closed_outcome(record, settings, failed, now_ms, error, last_success_ms)


def force(record: CircuitRecord, state: State, now_ms: int) -> CircuitRecord:
    """Put an operator override in place (FORCED_OPEN or FORCED_CLOSED)."""
    if state not in FORCED_STATES:
        raise ValueError(f"can only force FORCED_OPEN or FORCED_CLOSED, got {state}")
    if record.state is state:
        return record
    return _changed(_reset(record), now_ms, state=state)


def release(record: CircuitRecord, now_ms: int) -> CircuitRecord:
    """Lift an operator override: the circuit starts afresh, CLOSED."""
    if record.state not in FORCED_STATES:
        return record
    return _changed(_reset(record), now_ms, state=State.CLOSED)


# -- transitions ---------------------------------------------------------------------------


def _closed_outcome(
    record: CircuitRecord,
    settings: BreakerSettings,
    failed: bool,
    now_ms: int,
    error: Optional[str],
    last_success_ms: Optional[int],
) -> CircuitRecord:
    rule = settings.failure_rate
    window_open = rule is not None and record.window_started_at is not None and not _window_over(
        record, rule, now_ms
    )
    if not failed:
        if not record.failure_times and not window_open:
            return record  # the steady state: nothing to count, nothing to write
        ended_streak = {"failure_times": (), "last_success_at": _latest(record.last_success_at, now_ms)}
        if window_open:
            return _changed(record, now_ms, window_calls=record.window_calls + 1, **ended_streak)
        return _changed(record, now_ms, **ended_streak, **_no_window())

    known_success = _latest(record.last_success_at, last_success_ms)
    # A failure in the same millisecond as the success stays counted: ties favour tripping.
    streak = tuple(t for t in record.failure_times if known_success is None or t >= known_success) + (now_ms,)
    if window_open:
        calls, window_failures, started = record.window_calls + 1, record.window_failures + 1, record.window_started_at
    elif rule is not None:
        calls, window_failures, started = 1, 1, now_ms
    else:
        calls, window_failures, started = 0, 0, None
    if len(streak) >= settings.failure_threshold or _rate_trips(rule, calls, window_failures):
        return _open(record, settings, now_ms, error, consecutive_opens=1)
    return _changed(
        record,
        now_ms,
        failure_times=streak,
        last_success_at=known_success,
        window_started_at=started,
        window_calls=calls,
        window_failures=window_failures,
        last_error=error if error is not None else record.last_error,
    )


def _half_open_outcome(
    record: CircuitRecord, settings: BreakerSettings, failed: bool, now_ms: int, error: Optional[str]
) -> CircuitRecord:
    if failed:
        return _open(record, settings, now_ms, error, consecutive_opens=record.consecutive_opens + 1)
    successes = record.half_open_successes + 1
    if successes >= settings.half_open_success_threshold:
        return _changed(_reset(record), now_ms, state=State.CLOSED)
    return _changed(
        record,
        now_ms,
        half_open_successes=successes,
        trial_leases=_live_leases(record, now_ms)[1:],  # this trial reported: release its lease
    )


def _open(
    record: CircuitRecord, settings: BreakerSettings, now_ms: int, error: Optional[str], consecutive_opens: int
) -> CircuitRecord:
    return _changed(
        _reset(record),
        now_ms,
        state=State.OPEN,
        opened_at=now_ms,
        next_attempt_at=now_ms + settings.open_duration_ms(consecutive_opens),
        consecutive_opens=consecutive_opens,
        last_error=error if error is not None else record.last_error,
    )


def _materialise(record: CircuitRecord, now_ms: int) -> CircuitRecord:
    """An OPEN record past its wait, written down as the HALF_OPEN it already reads as."""
    if record.state is State.OPEN and effective_state(record, now_ms) is State.HALF_OPEN:
        return replace(record, state=State.HALF_OPEN, half_open_successes=0, trial_leases=())
    return record


def _reset(record: CircuitRecord) -> CircuitRecord:
    """Clear every counter and the backoff; keeps identity, version and the last error."""
    return replace(
        record,
        failure_times=(),
        half_open_successes=0,
        trial_leases=(),
        opened_at=None,
        next_attempt_at=None,
        consecutive_opens=0,
        **_no_window(),
    )


def _changed(record: CircuitRecord, now_ms: int, **changes) -> CircuitRecord:
    return replace(record, version=record.version + 1, updated_at=now_ms, **changes)


def _latest(*times: Optional[int]) -> Optional[int]:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _no_window() -> dict:
    return {"window_started_at": None, "window_calls": 0, "window_failures": 0}


def _window_over(record: CircuitRecord, rule: FailureRateRule, now_ms: int) -> bool:
    if rule.window_calls is not None:
        return record.window_calls >= rule.window_calls
    return now_ms - record.window_started_at >= rule.window_seconds * 1000


def _rate_trips(rule: Optional[FailureRateRule], calls: int, failures: int) -> bool:
    return rule is not None and calls >= rule.minimum_calls and failures >= rule.threshold * calls


def _live_leases(record: CircuitRecord, now_ms: int) -> tuple[int, ...]:
    if record.state is not State.HALF_OPEN:
        return ()
    return tuple(expiry for expiry in record.trial_leases if expiry > now_ms)
