"""Property suite for the circuit state machine (runtime/breaker/machine.py).

A Hypothesis rule-based machine drives the real pure functions with random sequences of
counted failures, clock jumps (forwards, and a lagging clock behind the record's own), trial
requests by many callers (some never reported: lost trials), trial outcomes, outcomes from
callers that hold no lease (stale copies), probes and operator overrides. ``Reference`` is an
independent model written from DESIGN.md section 4 and the issues: it keeps every observation
and every lease itself and recomputes what must be, instead of keeping the record's fields. It
judges rather than mirrors: a success from a caller without a live lease counts for nothing,
counts from before the last transition never count, and leases expire at their exact
millisecond.

Other properties are plain ``@given`` tests: backoff without overflow for any number of
reopens, exact rate comparison at every k/n, durations rounded to the nearest millisecond,
non-finite and out-of-bound settings refused by name, and the record's size bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Optional

import pytest
from breaker.item import from_item, to_item
from breaker.machine import (
    BreakerSettings,
    CircuitRecord,
    Lease,
    Outcome,
    SettingsError,
    State,
    Tally,
    bucket_of,
    classify,
    counts_towards,
    created,
    effective_state,
    force,
    grant_trial,
    is_call_allowed,
    live_leases,
    nearing_trip,
    probe_passed,
    record_trial,
    release,
    rule_holds,
    trip,
)
from hypothesis import example, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

START_MS = 1_700_000_000_000

breaker_settings = st.builds(
    lambda k, n, minimum, window, base, multiplier, cap_factor, trials, successes, lease: BreakerSettings(
        failure_rate_threshold=k / n,
        minimum_failures=minimum,
        window_s=window,
        open_duration_s=base,
        open_backoff_multiplier=multiplier,
        max_open_duration_s=None if cap_factor is None else base * cap_factor,
        half_open_max_trials=trials,
        half_open_success_threshold=successes,
        trial_lease_s=lease,
    ),
    k=st.integers(1, 4),
    n=st.just(4),
    minimum=st.integers(1, 6),
    window=st.sampled_from([1.0, 6.0, 30.0]),
    base=st.sampled_from([0.5, 2.01, 10.0]),
    multiplier=st.sampled_from([1.0, 1.5, 3.0]),
    cap_factor=st.one_of(st.none(), st.sampled_from([1.0, 4.0])),
    trials=st.integers(1, 3),
    successes=st.integers(1, 3),
    lease=st.sampled_from([0.05, 1.0, 5.0]),
)


def decimal_open_ms(settings: BreakerSettings, opens: int) -> int:
    """The open duration as the brief states it, in decimal arithmetic (not the module's Fractions)."""
    base, multiplier = Decimal(str(settings.open_duration_s)), Decimal(str(settings.open_backoff_multiplier))
    cap = Decimal(str(settings.open_duration_cap_s))
    duration = base
    for _ in range(opens - 1):
        duration = min(duration * multiplier, cap)
    return int((min(duration, cap) * 1000).to_integral_value(rounding="ROUND_HALF_UP"))


@dataclass
class Reference:
    """What the circuit must be, from the observations and leases alone."""

    settings: BreakerSettings
    state: State = State.CLOSED
    since: int = 0  # the last transition
    next_attempt_at: Optional[int] = None
    opens: int = 0
    successes: int = 0
    leases: dict[str, int] = field(default_factory=dict)  # token -> expiry, this HALF_OPEN period
    counted: list[tuple[int, int, int]] = field(default_factory=list)  # (time, judged, repeats), this CLOSED period
    clock: int = START_MS  # never goes back: the record's own time

    def effective(self, now: int) -> State:
        if self.state is State.OPEN and now >= self.next_attempt_at:
            return State.HALF_OPEN
        return self.state

    def enter_half_open(self, now: int) -> None:
        if self.state is State.OPEN and self.effective(now) is State.HALF_OPEN:
            self.state, self.since, self.successes, self.leases = State.HALF_OPEN, self.next_attempt_at, 0, {}

    def live(self, now: int) -> dict[str, int]:
        if self.effective(now) is not State.HALF_OPEN:
            return {}
        if self.state is State.OPEN:  # past its wait, nothing granted yet
            return {}
        return {token: expiry for token, expiry in self.leases.items() if expiry > now}

    def window(self, now: int) -> tuple[int, int]:
        width = max(round(Fraction(str(self.settings.window_s)) * 1000) // 6, 1)
        oldest = (now - round(Fraction(str(self.settings.window_s)) * 1000)) // width
        inside = [(j, r) for at, j, r in self.counted if at // width >= oldest]
        return sum(j for j, _ in inside), sum(r for _, r in inside)

    def holds(self, now: int) -> bool:
        judged, repeats = self.window(now)
        return judged >= self.settings.minimum_failures and Fraction(repeats, max(judged, 1)) >= Fraction(
            str(self.settings.failure_rate_threshold)
        )

    def open(self, now: int, opens: int) -> None:
        at = max(now, self.clock)
        self.state, self.since, self.opens = State.OPEN, at, opens
        self.next_attempt_at = at + decimal_open_ms(self.settings, opens)
        self.successes, self.leases, self.counted = 0, {}, []

    def close(self, now: int) -> None:
        self.state, self.since = State.CLOSED, max(now, self.clock)
        self.next_attempt_at, self.opens, self.successes, self.leases, self.counted = None, 0, 0, {}, []


class CircuitMachine(RuleBasedStateMachine):
    @initialize(settings=breaker_settings)
    def start(self, settings: BreakerSettings) -> None:
        self.settings = settings
        self.now = START_MS
        self.record = created(CircuitRecord("payments"), self.now)
        self.reference = Reference(settings)
        self.issued = 0

    def _apply(self, updated: CircuitRecord, changed: bool) -> None:
        """``changed``: whether the reference says this step changed the stored record."""
        if changed:
            assert updated.version == self.record.version + 1, "a persisted change is one version up"
            assert updated.updated_at >= self.record.updated_at, "a write never moves the record's time back"
        else:
            assert updated is self.record, "nothing to change: the very same record, nothing to write"
        self.record = updated
        self.reference.clock = max(self.reference.clock, updated.updated_at)

    @rule(ms=st.integers(0, 12_000))
    def advance(self, ms: int) -> None:
        self.now += ms

    @rule(ms=st.integers(1, 3_000))
    def lagging_clock(self, ms: int) -> None:
        """Another environment's clock, behind the record's: its times must not go backwards."""
        self.now = max(self.record.updated_at - ms, START_MS)

    @rule(judged=st.integers(1, 4), repeat_share=st.integers(0, 4), age=st.integers(0, 4_000))
    def count(self, judged: int, repeat_share: int, age: int) -> None:
        """An environment's aggregated failures, observed ``age`` ms ago, added to the counters."""
        repeats = judged * repeat_share // 4
        observed = self.now - age
        if not counts_towards(self.record, observed):
            assert self.reference.state is not State.CLOSED or observed < self.reference.since
            return
        assert self.reference.state is State.CLOSED and observed >= self.reference.since
        tally = Tally(self.record.version, bucket_of(self.settings, observed), judged, repeats)
        self.record = _with_tally(self.record, tally)  # what the ADD does; not a state change
        self.reference.counted.append((observed, judged, repeats))

    @rule()
    def judge_trip(self) -> None:
        expected = self.reference.state is State.CLOSED and self.reference.holds(self.now)
        updated = trip(self.record, self.settings, self.now, "HTTP 503")
        if expected:
            self.reference.open(self.now, 1)
        self._apply(updated, expected)

    @rule(caller=st.integers(0, 5))
    def request_trial(self, caller: int) -> None:
        self.issued += 1
        token = f"caller-{caller}-{self.issued}"
        state = self.reference.effective(self.now)
        live = self.reference.live(self.now)
        expected = state is State.HALF_OPEN and len(live) < self.settings.half_open_max_trials
        updated, granted = grant_trial(self.record, self.settings, self.now, token)
        assert granted == (expected or state in (State.CLOSED, State.FORCED_CLOSED))
        if expected:
            self.reference.enter_half_open(self.now)
            self.reference.leases = {**live, token: self.now + round(Fraction(str(self.settings.trial_lease_s)) * 1000)}
        self._apply(updated, expected)

    @rule(data=st.data(), success=st.booleans())
    def report_trial(self, data: st.DataObject, success: bool) -> None:
        """A lease holder reports (or a holder whose lease expired, or one of an older period)."""
        tokens = sorted(self.reference.leases) + [lease.token for lease in self.record.leases] + ["never-granted"]
        token = data.draw(st.sampled_from(tokens))
        outcome = Outcome.SUCCESS if success else Outcome.FAILURE
        holder = self.reference.effective(self.now) is State.HALF_OPEN and token in self.reference.live(self.now)
        updated = record_trial(self.record, self.settings, token, outcome, self.now, None if success else "HTTP 503")
        if holder and not success:
            self.reference.open(self.now, self.reference.opens + 1)
        elif holder:
            self.reference.successes += 1
            if self.reference.successes >= self.settings.half_open_success_threshold:
                self.reference.close(self.now)
            else:
                self.reference.leases.pop(token)
        self._apply(updated, holder)

    @rule(ok=st.booleans())
    def probe(self, ok: bool) -> None:
        expected = ok and self.reference.effective(self.now) is State.OPEN
        updated = probe_passed(self.record, self.now) if ok else self.record
        if expected:
            self.reference.state, self.reference.since = State.HALF_OPEN, max(self.now, self.reference.clock)
            self.reference.successes, self.reference.leases = 0, {}
        self._apply(updated, expected)

    @rule(state=st.sampled_from([State.FORCED_OPEN, State.FORCED_CLOSED]))
    def operator_forces(self, state: State) -> None:
        expected = self.reference.state is not state
        updated = force(self.record, state, self.now)
        if expected:
            self.reference.close(self.now)
            self.reference.state = state
        self._apply(updated, expected)

    @rule()
    def operator_releases(self) -> None:
        expected = self.reference.state in (State.FORCED_OPEN, State.FORCED_CLOSED)
        updated = release(self.record, self.now)
        if expected:
            self.reference.close(self.now)
        self._apply(updated, expected)

    @invariant()
    def matches_reference(self) -> None:
        record, reference = self.record, self.reference
        assert effective_state(record, self.now) is reference.effective(self.now)
        if reference.state in (State.OPEN, State.HALF_OPEN):
            assert record.consecutive_opens == reference.opens
            assert record.next_attempt_at == reference.next_attempt_at
        if reference.effective(self.now) is State.HALF_OPEN:
            live = {lease.token: lease.expires_at for lease in live_leases(record, self.now)}
            assert live == reference.live(self.now), "leases: who holds one, and until which millisecond"
            assert len(live) <= self.settings.half_open_max_trials
            assert record.half_open_successes == reference.successes
        allowed = is_call_allowed(record, self.settings, self.now)
        state = reference.effective(self.now)
        if state is State.HALF_OPEN:
            assert allowed == (len(reference.live(self.now)) < self.settings.half_open_max_trials)
        else:
            assert allowed == (state in (State.CLOSED, State.FORCED_CLOSED))

    @invariant()
    def survives_the_table(self) -> None:
        assert from_item(to_item(self.record)) == self.record


def _with_tally(record: CircuitRecord, tally: Tally) -> CircuitRecord:
    """The record after an ADD of ``tally``: counters summed per (period, bucket)."""
    from dataclasses import replace

    merged = {(t.period, t.bucket): t for t in record.tallies}
    old = merged.get((tally.period, tally.bucket))
    if old is not None:
        tally = Tally(tally.period, tally.bucket, old.judged + tally.judged, old.repeats + tally.repeats)
    merged[(tally.period, tally.bucket)] = tally
    return replace(record, tallies=tuple(sorted(merged.values(), key=lambda t: (t.period, t.bucket))))


TestCircuitMachine = CircuitMachine.TestCase


# -- backoff, rounding, exact rates ---------------------------------------------------------------


@given(settings=breaker_settings, opens=st.integers(0, 10**6))
@example(settings=BreakerSettings(), opens=1025)  # 2**1024 overflowed a float before the cap
def test_open_duration_is_capped_without_overflow_for_any_number_of_reopens(settings, opens) -> None:
    """Property: for any settings and any consecutive_opens up to 10^6, the open duration is a
    whole number of ms between the base and the cap, and a failed trial still returns a record."""
    duration = settings.open_duration_ms(opens)
    assert round(settings.open_duration_s * 1000) <= duration <= round(settings.open_duration_cap_s * 1000)
    half_open = CircuitRecord("x", State.HALF_OPEN, 3, "i", 0, 0, 0, opens, 0, (Lease("t", START_MS + 1),), (), 0)
    reopened = record_trial(half_open, settings, "t", Outcome.FAILURE, START_MS)
    assert reopened.state is State.OPEN and reopened.consecutive_opens == opens + 1


@given(opens=st.integers(1, 40), base=st.sampled_from(["0.7", "2.01", "0.001", "30"]), multiplier=st.sampled_from(["1", "1.1", "3"]))
@example(opens=2, base="0.7", multiplier="3")  # 2100 ms, not the 2099 that float truncation gives
@example(opens=1, base="2.01", multiplier="1")  # 2010 ms, not 2009
def test_durations_round_to_the_nearest_millisecond(opens, base, multiplier) -> None:
    """Property: the open duration equals the decimal product, capped, rounded half up to the ms."""
    settings = BreakerSettings(open_duration_s=float(base), open_backoff_multiplier=float(multiplier), max_open_duration_s=1e5)
    exact = min(Decimal(base) * Decimal(multiplier) ** (opens - 1), Decimal(100_000)) * 1000
    assert settings.open_duration_ms(opens) == int(exact.to_integral_value(rounding="ROUND_HALF_UP"))


# Denominators 2^a * 5^b: every k/n is then a finite decimal, the form a threshold is written in.
_DECIMAL_DENOMINATORS = sorted(2**a * 5**b for a in range(8) for b in range(4) if 2**a * 5**b <= 200)


@given(n=st.sampled_from(_DECIMAL_DENOMINATORS), data=st.data(), scale=st.integers(1, 5))
@example(n=25, data=None, scale=1)  # 7 of 25 at 0.28: 0.28 * 25 is 7.000000000000001 in floats
@example(n=100, data=None, scale=1)  # 55 of 100 at 0.55
def test_a_rate_exactly_at_the_threshold_trips_for_every_k_over_n(n, data, scale) -> None:
    """Property: for every threshold k/n, repeats/judged == k/n holds the rule and one repeat
    fewer does not; the comparison is exact, not in floats."""
    k = {25: 7, 100: 55}.get(n) if data is None else data.draw(st.integers(1, n))
    settings = BreakerSettings(failure_rate_threshold=k / n, minimum_failures=1)
    assert Fraction(str(k / n)) == Fraction(k, n)  # the threshold is the decimal k/n
    assert rule_holds(settings, n * scale, k * scale)
    assert not rule_holds(settings, n * scale, k * scale - 1)


@given(
    n=st.sampled_from(_DECIMAL_DENOMINATORS),
    data=st.data(),
    minimum=st.integers(1, 60),
    judged=st.integers(0, 400),
)
@example(n=20, data=None, minimum=30, judged=40)  # 7 of 40 at 0.35: 0.175 exactly, half the threshold
def test_a_circuit_is_nearing_its_trip_before_the_rule_holds(n, data, minimum, judged) -> None:
    """Property: on any counts in the window, nearing_trip holds whenever the trip rule holds
    (whoever watches only nearing circuits never misses a trip), and apart from that exactly
    when repeats/judged is at least half the threshold, compared exactly; never with nothing
    counted, and never outside CLOSED."""
    k = 7 if data is None else data.draw(st.integers(1, n))
    repeats = 7 if data is None else data.draw(st.integers(0, judged))
    settings = BreakerSettings(failure_rate_threshold=k / n, minimum_failures=minimum)
    counted = created(CircuitRecord("x"), 0)
    if judged:
        counted = _with_tally(counted, Tally(1, bucket_of(settings, START_MS), judged, repeats))
    nearing = nearing_trip(counted, settings, START_MS)
    if rule_holds(settings, judged, repeats):
        assert nearing
    assert nearing == (judged > 0 and Fraction(repeats, judged) >= Fraction(k, n) / 2)
    opened = trip(counted, settings, START_MS)
    if opened.state is State.OPEN:
        assert not nearing_trip(opened, settings, START_MS)


def test_a_call_that_takes_exactly_the_slow_threshold_is_slow() -> None:
    settings = BreakerSettings(slow_call_threshold_ms=100)
    assert classify(True, 99.999, settings) is Outcome.SUCCESS
    assert classify(True, 100, settings) is Outcome.SLOW


def test_a_lease_frees_its_slot_at_its_exact_expiry_millisecond() -> None:
    settings = BreakerSettings(trial_lease_s=1.5, half_open_max_trials=1)
    opened = CircuitRecord("x", State.OPEN, 2, "i", START_MS, START_MS, START_MS, 1, 0, (), (), START_MS)
    held, granted = grant_trial(opened, settings, START_MS, "first")
    assert granted and held.leases == (Lease("first", START_MS + 1_500),)
    assert grant_trial(held, settings, START_MS + 1_499, "second") == (held, False)
    freed, granted = grant_trial(held, settings, START_MS + 1_500, "second")
    assert granted and [lease.token for lease in freed.leases] == ["second"]
    late = record_trial(freed, settings, "first", Outcome.SUCCESS, START_MS + 1_600)
    assert late is freed, "an expired lease's report counts for nothing"


def test_the_trip_window_ends_at_exactly_window_s_rounded_out_to_whole_buckets() -> None:
    settings = BreakerSettings(window_s=60, minimum_failures=1, failure_rate_threshold=1.0)
    now = START_MS - START_MS % settings.bucket_ms + 3_000  # 3 s into a bucket
    edge = bucket_of(settings, now - settings.window_ms)
    inside = _with_tally(created(CircuitRecord("x"), 0), Tally(1, edge, 1, 1))
    outside = _with_tally(created(CircuitRecord("x"), 0), Tally(1, edge - 1, 1, 1))
    assert trip(inside, settings, now).state is State.OPEN
    assert trip(outside, settings, now) is outside


def test_counts_from_an_older_period_never_count() -> None:
    settings = BreakerSettings(minimum_failures=1, failure_rate_threshold=1.0)
    record = _with_tally(created(CircuitRecord("x"), 0), Tally(0, bucket_of(settings, START_MS), 50, 50))
    assert trip(record, settings, START_MS) is record


# -- settings refused by name ---------------------------------------------------------------------

FLOATS = ["failure_rate_threshold", "window_s", "open_duration_s", "open_backoff_multiplier", "max_open_duration_s", "trial_lease_s"]
INTEGERS = ["minimum_failures", "slow_call_threshold_ms", "half_open_max_trials", "half_open_success_threshold"]


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e300])
def test_non_finite_or_huge_settings_are_refused_by_name(name, value) -> None:
    with pytest.raises(SettingsError) as raised:
        BreakerSettings.from_mapping({name: value})
    assert name in raised.value.problems


@pytest.mark.parametrize("name", INTEGERS)
def test_every_whole_number_setting_has_an_upper_bound(name) -> None:
    with pytest.raises(SettingsError) as raised:
        BreakerSettings.from_mapping({name: 10**7})
    assert set(raised.value.problems) == {name} and "<=" in raised.value.problems[name]


def test_settings_of_the_old_rule_say_what_replaced_them() -> None:
    with pytest.raises(SettingsError) as raised:
        BreakerSettings.from_mapping({"failure_threshold": 5})
    assert "minimum_failures" in raised.value.problems["failure_threshold"]


def _item_size(record: CircuitRecord) -> int:
    """DynamoDB's item size: attribute names plus values (numbers ~ 1 byte per 2 digits + 1)."""
    size = 0
    for name, value in to_item(record).items():
        size += len(name.encode())
        (kind, raw), = value.items()
        if kind == "S":
            size += len(raw.encode())
        elif kind == "N":
            size += len(raw.lstrip("-").replace(".", "")) // 2 + 2
        else:  # M of token -> N
            size += 3 + sum(len(k.encode()) + 1 + len(v["N"]) // 2 + 2 for k, v in raw.items())
    return size


def test_the_record_stays_within_one_write_unit_at_defaults_and_one_read_unit_at_the_bounds() -> None:
    """1 KB: every counting write is 1 WRU with the defaults; 4 KB: any record is one read unit."""
    defaults = BreakerSettings()
    full = CircuitRecord(
        "a-circuit-id-of-thirty-two-chars",
        State.CLOSED,
        10**9,
        "f" * 12,
        START_MS,
        tallies=tuple(Tally(10**9, bucket_of(defaults, START_MS) - i, 10**6, 10**6) for i in range(8)),
        updated_at=START_MS,
        last_error="e" * 256,
    )
    assert _item_size(full) < 1024
    widest = BreakerSettings(half_open_max_trials=20)
    leased = CircuitRecord(
        "a-circuit-id-of-thirty-two-chars", State.HALF_OPEN, 10**9, "f" * 12, START_MS, START_MS, START_MS, 10**6, 999,
        tuple(Lease(f"checker-{i:08x}", START_MS + i) for i in range(widest.half_open_max_trials)), (), START_MS, "e" * 256,
    )
    assert _item_size(leased) < 4096
