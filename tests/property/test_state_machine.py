"""Property suite for the circuit state machine (runtime/breaker/machine.py).

A Hypothesis rule-based machine drives the real state machine with random sequences of call
outcomes, clock jumps, trial requests (some never reported: lost trials) and operator
overrides, and checks it step by step against ``Reference``: an independent model written
from DESIGN.md section 4 that keeps the whole call history and recomputes everything from it,
instead of keeping counters the way the real module does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from breaker.item import from_item, to_item
from breaker.machine import (
    BreakerSettings,
    CircuitRecord,
    FailureRateRule,
    Outcome,
    State,
    effective_state,
    force,
    grant_trial,
    is_call_allowed,
    record_outcome,
    release,
)
from hypothesis import given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

rate_rules = st.one_of(
    st.none(),
    st.builds(
        lambda threshold, minimum, extra, seconds, by_count: FailureRateRule(
            threshold=threshold,
            minimum_calls=minimum,
            window_calls=minimum + extra if by_count else None,
            window_seconds=None if by_count else seconds,
        ),
        threshold=st.sampled_from([0.25, 0.5, 0.75, 1.0]),
        minimum=st.integers(1, 5),
        extra=st.integers(0, 5),
        seconds=st.sampled_from([1.0, 5.0, 30.0]),
        by_count=st.booleans(),
    ),
)

breaker_settings = st.builds(
    lambda threshold, rate, base, multiplier, cap_factor, trials, successes, lease: BreakerSettings(
        failure_threshold=threshold,
        failure_rate=rate,
        open_duration_s=base,
        open_backoff_multiplier=multiplier,
        max_open_duration_s=None if cap_factor is None else base * cap_factor,
        half_open_max_trials=trials,
        half_open_success_threshold=successes,
        trial_lease_s=lease,
    ),
    threshold=st.integers(1, 6),
    rate=rate_rules,
    base=st.sampled_from([0.5, 1.0, 3.0]),
    multiplier=st.sampled_from([1.0, 1.5, 2.0]),
    cap_factor=st.sampled_from([None, 1, 4, 10]),
    trials=st.integers(1, 3),
    successes=st.integers(1, 3),
    lease=st.sampled_from([0.5, 2.0]),
)


@dataclass
class Reference:
    """The specification, executed literally. Times in ms; ``history`` holds CLOSED-state calls."""

    settings: BreakerSettings
    mode: State = State.CLOSED
    history: list[tuple[int, bool]] = field(default_factory=list)  # (time, failed) since CLOSED began
    # Successes reported by other environments, piggybacked on their failure reports.
    reported_successes: list[int] = field(default_factory=list)
    open_until: int = 0
    opens_in_a_row: int = 0
    half_open_successes: int = 0
    leases: list[int] = field(default_factory=list)  # expiry times of unreported trials

    def state(self, now: int) -> State:
        if self.mode is State.OPEN and now >= self.open_until:
            return State.HALF_OPEN
        return self.mode

    def open_duration_ms(self, nth_open: int) -> int:
        s = self.settings
        return int(min(s.open_duration_s * s.open_backoff_multiplier ** (nth_open - 1), s.open_duration_cap_s) * 1000)

    def live_leases(self, now: int) -> list[int]:
        return sorted(expiry for expiry in self.leases if expiry > now) if self.state(now) is State.HALF_OPEN else []

    def enter_half_open_if_due(self, now: int) -> None:
        if self.mode is State.OPEN and now >= self.open_until:
            self.mode, self.half_open_successes, self.leases = State.HALF_OPEN, 0, []

    def trip(self, now: int, nth_open: int) -> None:
        self.mode, self.opens_in_a_row = State.OPEN, nth_open
        self.open_until = now + self.open_duration_ms(nth_open)
        self.history, self.reported_successes, self.leases, self.half_open_successes = [], [], [], 0

    def close(self) -> None:
        self.mode, self.opens_in_a_row, self.leases, self.half_open_successes = State.CLOSED, 0, [], 0
        self.history, self.reported_successes = [], []

    def rate_window(self) -> Optional[list[int]]:
        """Replay the CLOSED history: a window opens at a failure, spans N calls or T seconds."""
        rule = self.settings.failure_rate
        if rule is None:
            return None
        window = None  # [start, calls, failures]
        for time, failed in self.history:
            if window is not None:
                over = (
                    window[1] >= rule.window_calls
                    if rule.window_calls is not None
                    else time - window[0] >= rule.window_seconds * 1000
                )
                if over:
                    window = None
            if window is None:
                if failed:
                    window = [time, 1, 1]
            else:
                window[1] += 1
                window[2] += failed
        return window

    def observe(self, failed: bool, now: int, last_success: Optional[int] = None) -> None:
        state = self.state(now)
        if state in (State.FORCED_OPEN, State.FORCED_CLOSED, State.OPEN):
            return
        if state is State.HALF_OPEN:
            self.enter_half_open_if_due(now)
            if failed:
                self.trip(now, self.opens_in_a_row + 1)
                return
            self.half_open_successes += 1
            if self.half_open_successes >= self.settings.half_open_success_threshold:
                self.close()
            else:
                self.leases = self.live_leases(now)[1:]
            return
        self.history.append((now, failed))
        if last_success is not None:
            self.reported_successes.append(last_success)
        # A failure streak: this failure plus the earlier ones later than every success known,
        # whether observed here or reported by another environment.
        known = [t for t, f in self.history if not f] + self.reported_successes
        latest_success = max(known, default=None)
        trailing_failures = sum(
            1 for t, f in self.history[:-1] if f and (latest_success is None or t > latest_success)
        ) + (1 if failed else 0)
        window = self.rate_window()
        rule = self.settings.failure_rate
        rate_holds = (
            failed
            and window is not None
            and window[1] >= rule.minimum_calls
            and window[2] / window[1] >= rule.threshold
        )
        if failed and (trailing_failures >= self.settings.failure_threshold or rate_holds):
            self.trip(now, 1)

    def request_trial(self, now: int) -> bool:
        state = self.state(now)
        if state in (State.CLOSED, State.FORCED_CLOSED):
            return True
        if state is not State.HALF_OPEN or len(self.live_leases(now)) >= self.settings.half_open_max_trials:
            return False
        self.enter_half_open_if_due(now)
        self.leases = self.live_leases(now) + [now + int(self.settings.trial_lease_s * 1000)]
        return True

    def force(self, state: State) -> None:
        if self.mode is not state:
            self.close()
            self.mode = state

    def release(self) -> None:
        if self.mode in (State.FORCED_OPEN, State.FORCED_CLOSED):
            self.close()


class CircuitMachine(RuleBasedStateMachine):
    """Properties checked after every step:

    - the real machine's effective state equals the reference model's (so CLOSED → OPEN only
      when the trip rule holds, OPEN → HALF_OPEN only after the backed-off open duration,
      HALF_OPEN → CLOSED only after the success threshold, any HALF_OPEN failure reopens, and
      overrides win over every observation);
    - OPEN never becomes CLOSED in one step except through an elapsed wait and enough
      half-open successes;
    - the trial leases granted and not reported never exceed the half-open budget;
    - the version rises by exactly one on every change and stays put otherwise;
    - every reachable record survives the DynamoDB item round trip;
    - replaying the same operations at the same times rebuilds the same record (checked at
      teardown).
    """

    @initialize(settings=breaker_settings)
    def start(self, settings: BreakerSettings) -> None:
        self.settings = settings
        self.now = 1_700_000_000_000
        self.record = CircuitRecord("svc")
        self.reference = Reference(settings)
        self.operations: list[tuple] = []
        self.successes: list[int] = []
        self.previous = self.record

    def _apply(self, new: CircuitRecord, operation: tuple) -> None:
        self.previous, self.record = self.record, new
        self.operations.append(operation)

    @rule(ms=st.one_of(st.integers(0, 50), st.integers(50, 5_000), st.integers(5_000, 200_000)))
    def advance_clock(self, ms: int) -> None:
        self.now += ms
        self.previous = self.record

    @rule(outcome=st.sampled_from(list(Outcome)), data=st.data())
    def observe(self, outcome: Outcome, data) -> None:
        # Every call ends at its own millisecond, as calls in one environment do; the reporter
        # may carry its own latest success (any success seen so far, by any environment).
        self.now += 1
        self.previous = self.record
        before = self.record
        last_success = data.draw(st.one_of(st.none(), st.sampled_from(self.successes))) if self.successes else None
        new = record_outcome(self.record, self.settings, outcome, self.now, "boom", last_success)
        self.reference.observe(outcome is not Outcome.SUCCESS, self.now, last_success)
        if outcome is Outcome.SUCCESS:
            self.successes.append(self.now)
        if before.state is State.OPEN and new.state is State.CLOSED:
            assert self.now >= before.next_attempt_at and self.settings.half_open_success_threshold == 1
        if before.state in (State.FORCED_OPEN, State.FORCED_CLOSED):
            assert new is before, "an observation changed a forced circuit"
        self._apply(new, ("observe", outcome, self.now, last_success))

    @rule()
    def unwritten_success(self) -> None:
        """Another environment's call succeeds while its cached record shows no streak: it
        writes nothing, and the fleet learns of this success only if that environment later
        reports a failure carrying it."""
        self.now += 1
        self.previous = self.record
        self.successes.append(self.now)

    @rule()
    def request_trial(self) -> None:
        allowed_before = is_call_allowed(self.record, self.settings, self.now)
        new, granted = grant_trial(self.record, self.settings, self.now)
        assert granted == self.reference.request_trial(self.now)
        assert granted == allowed_before, "is_call_allowed disagrees with grant_trial"
        self._apply(new, ("trial", self.now))

    @rule(state=st.sampled_from([State.FORCED_OPEN, State.FORCED_CLOSED]))
    def force_override(self, state: State) -> None:
        self.reference.force(state)
        self._apply(force(self.record, state, self.now), ("force", state, self.now))

    @precondition(lambda self: self.record.state in (State.FORCED_OPEN, State.FORCED_CLOSED))
    @rule()
    def release_override(self) -> None:
        self.reference.release()
        self._apply(release(self.record, self.now), ("release", self.now))

    @invariant()
    def matches_reference(self) -> None:
        assert effective_state(self.record, self.now) == self.reference.state(self.now)

    @invariant()
    def open_waits_its_backed_off_duration(self) -> None:
        if self.record.state is State.OPEN:
            n = self.record.consecutive_opens
            assert n >= 1
            assert self.record.next_attempt_at - self.record.opened_at == self.reference.open_duration_ms(n)

    @invariant()
    def trial_budget_holds(self) -> None:
        live = [e for e in self.record.trial_leases if e > self.now]
        assert len(live) <= self.settings.half_open_max_trials
        assert sorted(live) == self.reference.live_leases(self.now)

    @invariant()
    def version_moves_by_one_per_change(self) -> None:
        if self.record is self.previous:
            return
        assert self.record != self.previous
        assert self.record.version == self.previous.version + 1

    @invariant()
    def item_round_trip(self) -> None:
        assert from_item(to_item(self.record)) == self.record

    def teardown(self) -> None:
        if not hasattr(self, "operations"):
            return
        replayed = CircuitRecord("svc")
        for operation in self.operations:
            kind, *args = operation
            if kind == "observe":
                replayed = record_outcome(replayed, self.settings, args[0], args[1], "boom", args[2])
            elif kind == "trial":
                replayed = grant_trial(replayed, self.settings, args[0])[0]
            elif kind == "force":
                replayed = force(replayed, args[0], args[1])
            else:
                replayed = release(replayed, args[0])
        assert replayed == self.record, "replaying the same observations gave another record"


TestCircuitMachine = CircuitMachine.TestCase
# Rare paths (a failure-rate window reaching its minimum exactly before the consecutive rule
# fires) need a few hundred runs to be met every time, even in the CI profile.
TestCircuitMachine.settings = settings(
    max_examples=max(300, settings().max_examples), stateful_step_count=settings().stateful_step_count
)


@given(settings=breaker_settings, n=st.integers(1, 20))
def test_open_duration_grows_with_consecutive_opens_up_to_the_cap(settings: BreakerSettings, n: int) -> None:
    """The n-th open in a row lasts base × multiplier^(n-1) seconds, never less than the
    previous one and never more than the cap."""
    this, following = settings.open_duration_ms(n), settings.open_duration_ms(n + 1)
    assert int(settings.open_duration_s * 1000) <= this <= following <= int(settings.open_duration_cap_s * 1000)


@given(settings=breaker_settings)
def test_settings_round_trip_through_plain_data(settings: BreakerSettings) -> None:
    """Settings written to plain data (stack config, extension environment) read back equal."""
    assert BreakerSettings.from_mapping(settings.to_mapping()) == settings


def test_a_failure_in_the_same_millisecond_as_a_known_success_still_counts() -> None:
    """Clocks tick in milliseconds, so a success and the next failure can share a timestamp:
    the failure must not be taken as preceding the success."""
    settings = BreakerSettings(failure_threshold=2)
    record = record_outcome(CircuitRecord("svc"), settings, Outcome.FAILURE, 1_000, "boom", last_success_ms=1_000)
    record = record_outcome(record, settings, Outcome.FAILURE, 1_001, "boom", last_success_ms=1_000)
    assert record.state is State.OPEN
