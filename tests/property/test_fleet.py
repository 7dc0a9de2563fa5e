"""Property suite for a fleet: 20+ real ``CircuitService`` instances sharing one table.

Each simulated execution environment is the extension's real service (cache, local counting,
store, state machine) with its own monotonic clock, its own cache TTL (1-60 s), and the wall
clock every environment reads from one fake time. They share one in-memory DynamoDB
(tests/support/memory_dynamodb.py) that logs every write, so the invariants are checked both
on what each environment answers and on every version the table ever stored. No process, no
thread, no sleep: Hypothesis picks the interleaving of calls, lookups, INVOKEs, clock steps
and full flushes.

The reference model is written from the rule's definition (breaker/machine.py's docstring),
not from the code: per environment it remembers the previous outcome to classify each
failure (unjudged: no earlier call; judged; repeat: the previous call failed too), which
failures the environment has sent (its service holds none any more), the trial leases its
lookups were granted, and from the table's log when each CLOSED period began.

Properties (each checked after every step, and on every write in the table's log):

- no lost update: while CLOSED, the stored counters of the current period (every bucket of the
  window) equal the reference's judged failures and repeats sent in that period and window,
  exactly while the circuit has stayed CLOSED since the start; and over all services
  ``flushes.written + flushes.dropped + pending_count()`` equals the judged failures plus the
  trial outcomes reported (none lost, none counted twice);
- the trip rule: every stored CLOSED -> OPEN held the rule on the reference's counts of the
  failures sent so far, at the trip's time; and a step that stored counts on which the rule
  holds leaves the circuit not CLOSED. (The rule is judged on each counting write's reply: a
  window sliding past old failures with no new write trips nothing until the next failure.)
- a transition is stored once: no two writes stored from the same base (incarnation, version),
  so at most one CLOSED -> OPEN per CLOSED period;
- zero writes while no environment ever observed a failure (ClosedFleet);
- versions never go back, and go up with each change of state or leases;
- an environment never shows a version older than one it stored itself;
- half-open: at most ``half_open_max_trials`` live leases (stored, and by the reference); a
  report by anyone but a live lease holder stores nothing while the circuit is not CLOSED;
  HALF_OPEN -> CLOSED only after ``half_open_success_threshold`` lease holders' successes, and
  HALF_OPEN -> OPEN only on a lease holder's failure.

One known limit is modelled, not hidden: a failure reported while its environment last heard
of the circuit as OPEN or HALF_OPEN (its call looked up before the trip, and it has not read
the recovery since) may be dropped by that environment without asking the table; the
reference counts such "late" failures as may-or-may-not count.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections import deque
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Optional

from hypothesis import event, strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from breaker.item import from_item
from breaker.machine import (
    BreakerSettings,
    CircuitRecord,
    State,
    effective_state,
    live_leases,
    rule_holds,
    window_counts,
)
from breaker.store import CircuitStore, ConflictError

EXTENSION_SOURCE = str(Path(__file__).resolve().parents[2] / "runtime" / "extension")
if EXTENSION_SOURCE not in sys.path:  # the extension's package, as tests/extension imports it
    sys.path.append(EXTENSION_SOURCE)

from circuit_breaker_extension.service import CircuitService  # noqa: E402
from tests.support.memory_dynamodb import MemoryDynamoDB  # noqa: E402

CIRCUIT = "payments"
TABLE = "circuits"
START_MS = 1_700_000_000_000
MIN_ENVIRONMENTS = 20
MAX_ENVIRONMENTS = 24


@dataclass
class Lease:
    """A trial the reference saw granted: the lookup answered HALF_OPEN and allowed."""

    expires_at: int
    epoch: int  # the table's open/close epoch it was granted in (see Fleet.epoch)


@dataclass
class Sent:
    at: int  # when the call failed
    repeat: bool
    sent_at: int  # when its environment's service stopped holding it
    sent_after: int  # how many writes the table had logged before the step that sent it
    late: bool  # reported while its environment last heard of the circuit as not CLOSED


@dataclass(frozen=True)
class Counts:
    """Judged failures and repeats: ``sure`` ones must count; ``late`` ones may (see Fleet.report)."""

    judged: int
    repeats: int
    late_judged: int = 0
    late_repeats: int = 0

    def could_be(self, judged: int, repeats: int) -> bool:
        extra_judged, extra_repeats = judged - self.judged, repeats - self.repeats
        return (
            0 <= extra_repeats <= self.late_repeats
            and 0 <= extra_judged - extra_repeats <= self.late_judged - self.late_repeats
        )

    def possible(self):
        for repeats in range(self.late_repeats + 1):
            for others in range(self.late_judged - self.late_repeats + 1):
                yield self.judged + repeats + others, self.repeats + repeats


@dataclass
class Environment:
    index: int
    ttl_s: float
    service: CircuitService
    previous_failed: Optional[bool] = None  # reference: this environment's previous outcome
    unsent: list[tuple[int, bool, bool]] = field(default_factory=list)  # reference: judged failures held
    believes_closed: bool = True  # what its last lookup or report answer said
    trials: deque[Lease] = field(default_factory=deque)  # reference: leases granted, not reported
    written_version: Optional[int] = None  # newest version this environment stored itself

    @property
    def name(self) -> str:
        return f"env{self.index}"


def breaker_settings() -> st.SearchStrategy[tuple[BreakerSettings, Fraction]]:
    """Small settings; the threshold is a fraction k/n written as the decimal the stack would carry."""

    @st.composite
    def build(draw) -> tuple[BreakerSettings, Fraction]:
        n = draw(st.sampled_from([1, 2, 4, 5, 8, 10]))
        k = draw(st.integers(1, n))
        threshold = Fraction(k, n)
        return (
            BreakerSettings(
                failure_rate_threshold=float(threshold),
                minimum_failures=draw(st.integers(3, 10)),
                window_s=draw(st.integers(10, 60)),
                open_duration_s=draw(st.integers(1, 10)),
                half_open_max_trials=draw(st.integers(1, 3)),
                half_open_success_threshold=draw(st.integers(1, 3)),
                trial_lease_s=draw(st.integers(1, 5)),
            ),
            threshold,
        )

    return build()


ADVANCE_MS = st.one_of(st.integers(0, 50), st.integers(50, 3_000), st.integers(3_000, 20_000))
ENV = st.integers(0, MAX_ENVIRONMENTS - 1)


@st.composite
def cache_ttls(draw) -> list[float]:
    """One cache TTL (1-60 s) per environment, 20-24 of them, from one seed: shrinks fast."""
    count = draw(st.integers(MIN_ENVIRONMENTS, MAX_ENVIRONMENTS))
    rng = random.Random(draw(st.integers(0, 2**32)))
    return [float(rng.randint(1, 60)) for _ in range(count)]


TTLS = cache_ttls()


class Fleet(RuleBasedStateMachine):
    """The environments, the table, the reference model, and the invariants over all three."""

    def setup_fleet(self, settings: BreakerSettings, threshold: Fraction, ttls: list[float]) -> None:
        self.settings = settings
        self.threshold = threshold
        self.now = START_MS
        self.db = MemoryDynamoDB(clock=lambda: self.now)
        incarnations = (f"inc{i}" for i in itertools.count())
        self.envs: list[Environment] = []
        for index, ttl_s in enumerate(ttls):
            tokens = map(f"env{index}-t{{}}".format, itertools.count())  # unique per environment
            offset_s = 1000.0 * index  # each monotonic clock has its own origin
            store = CircuitStore(
                self.db.caller(f"env{index}"),
                TABLE,
                max_attempts=4,
                sleep=lambda s: None,
                jitter=lambda: 0.5,
                new_incarnation=lambda: next(incarnations),
            )
            service = CircuitService(
                {CIRCUIT: settings},
                store,
                (ConflictError,),
                cache_ttl_s=ttl_s,
                unknown_state=State.CLOSED,
                clock=lambda offset_s=offset_s: self.now / 1000 + offset_s,
                wall_ms=lambda: self.now,
                new_token=lambda tokens=tokens: next(tokens),
            )
            self.envs.append(Environment(index, ttl_s, service))
        self.setup_store = CircuitStore(self.db.caller("setup"), TABLE, sleep=lambda s: None)
        # reference model
        self.failures_seen = 0  # every failure, judged or not
        self.judged = 0
        self.trial_reports = 0
        self.sent: list[Sent] = []
        self.period_start: Optional[int] = 0  # start of the current CLOSED period; None outside CLOSED
        self.period_write = -1  # index in the table's log of the write that began it
        self.step_start = 0  # len(self.db.log) when the environment's current step began
        self.epoch = 0  # bumped whenever the stored state becomes OPEN or CLOSED (a new trial period)
        self.holder_successes = 0  # successes of live lease holders in this epoch
        self.log_seen = 0
        self.bases: set[tuple[Optional[str], int]] = set()
        self.counted_at: Optional[int] = None  # an ADD was stored by the step being checked

    # -- what the table says -------------------------------------------------------------

    def stored(self) -> CircuitRecord:
        item = self.db.item(TABLE, CIRCUIT)
        return from_item(item) if item else CircuitRecord(CIRCUIT)

    def versions_from(self, version: int) -> list[CircuitRecord]:
        """Every record the table stored at ``version`` or later (the current incarnation)."""
        return [from_item(w.after) for w in self.db.log if not w.refused and from_item(w.after).version >= version]

    # -- the reference model -------------------------------------------------------------

    def in_window(self, at: int, now: int) -> bool:
        """The rule's window: a failure counts while any part of its bucket is within window_s."""
        bucket_ms = self.settings.bucket_ms
        return at // bucket_ms >= (now - self.settings.window_ms) // bucket_ms

    def reference_counts(self, now: int) -> Counts:
        """Judged failures and repeats sent in the current CLOSED period, inside the window."""
        if self.period_start is None:
            return Counts(0, 0)
        counting = [
            s
            for s in self.sent
            if s.sent_after > self.period_write and s.at >= self.period_start and self.in_window(s.at, now)
        ]
        sure = [s for s in counting if not s.late]
        late = [s for s in counting if s.late]
        return Counts(len(sure), sum(s.repeat for s in sure), len(late), sum(s.repeat for s in late))

    def reference_rule(self, judged: int, repeats: int) -> bool:
        holds = judged >= self.settings.minimum_failures and Fraction(repeats, judged) >= self.threshold
        assert holds == rule_holds(self.settings, judged, repeats), (judged, repeats, self.threshold)
        return holds

    # -- driving one environment -----------------------------------------------------------

    def lookup(self, env: Environment):
        self.step_start = len(self.db.log)
        view = env.service.lookup(CIRCUIT)
        env.believes_closed = view.state is State.CLOSED
        if view.state is State.HALF_OPEN and view.allowed:
            env.trials.append(Lease(self.now + self.settings.trial_lease_ms, self.epoch))
        self.after(env)
        # An environment never serves a version older than one it stored itself: what it shows
        # is the effective state of some version at least that new.
        if env.written_version is not None:
            shown = {effective_state(r, self.now) for r in self.versions_from(env.written_version)}
            assert view.state in shown, (env.name, view, env.written_version, shown)
        return view

    def report(self, env: Environment, ok: bool) -> None:
        before = self.stored()
        lease = env.trials.popleft() if env.trials else None
        holder = lease is not None and lease.expires_at > self.now and lease.epoch == self.epoch
        previous, env.previous_failed = env.previous_failed, not ok
        if lease is not None:
            self.trial_reports += 1
        elif not ok:
            self.failures_seen += 1
            if previous is not None:
                self.judged += 1
                env.unsent.append((self.now, previous, not env.believes_closed))
        if holder and ok:
            self.holder_successes += 1
        writes_before = self.step_start = len(self.db.log)
        result = env.service.report(CIRCUIT, ok=ok, latency_ms=1.0, error=None if ok else "HTTP 503")
        if result.record is not None:
            env.believes_closed = effective_state(result.record, self.now) is State.CLOSED
        if result.record is not None and env.written_version is not None:
            same = result.record.incarnation == self.stored().incarnation
            assert not same or result.record.version >= env.written_version
        if not holder and before.state is not State.CLOSED:
            # Only a trial lease's holder moves a circuit that is not CLOSED: anyone else's
            # outcome (a stale copy's call, a lapsed or older lease) stores nothing at all.
            stored = [w for w in self.db.log[writes_before:] if not w.refused]
            assert stored == [], (env.name, "non-holder report moved the record", stored)
        self.after(env, trial_failure=holder and not ok)

    def after(self, env: Environment, trial_failure: bool = False) -> None:
        """Bring the reference up to date after ``env`` ran something, then check the log."""
        if env.service.pending_count() == 0:
            self.sent.extend(Sent(at, repeat, self.now, self.step_start, late) for at, repeat, late in env.unsent)
            env.unsent.clear()
        self.check_log(trial_failure)

    def check_log(self, trial_failure: bool = False) -> None:
        """Every write stored since the last check, in order, against the reference."""
        first, self.log_seen = self.log_seen, len(self.db.log)
        for index, write in enumerate(self.db.log[first:], start=first):
            if write.refused:
                continue
            before = from_item(write.before) if write.before else CircuitRecord(CIRCUIT)
            after = from_item(write.after)
            # versions: never back, and up with every state change
            assert after.version >= before.version, (before, after)
            if after.state is not before.state or after.leases != before.leases:
                assert after.version > before.version, (before, after)
            if after.version != before.version:
                base = (before.incarnation, before.version)
                assert base not in self.bases, f"two writes stored from the same base version {base}"
                self.bases.add(base)
                if write.before:
                    assert after.incarnation == before.incarnation
            if write.caller and write.caller.startswith("env"):
                env = self.envs[int(write.caller[3:])]
                env.written_version = max(env.written_version or 0, after.version)
            if write.update.startswith("ADD"):
                self.counted_at = write.at
            if after.state is before.state:
                continue
            if write.caller != "setup":
                if before.state is State.CLOSED and after.state is State.OPEN:
                    # the trip rule held on the failures sent so far, as the reference counts them
                    counts = self.reference_counts(write.at)
                    assert any(self.reference_rule(*c) for c in counts.possible()), ("tripped on", counts, self.settings)
                if before.state is State.HALF_OPEN and after.state is State.CLOSED:
                    assert self.holder_successes == self.settings.half_open_success_threshold, (
                        "closed after", self.holder_successes, "lease holders' successes"
                    )
                if before.state is State.HALF_OPEN and after.state is State.OPEN:
                    assert trial_failure, "HALF_OPEN went back to OPEN without a lease holder's failure"
            if currently_in_test_context():  # coverage, shown by --hypothesis-show-statistics
                event(f"stored {before.state.value} -> {after.state.value}")
            if after.state in (State.OPEN, State.CLOSED):
                self.epoch += 1
                self.holder_successes = 0
            self.period_start = write.at if after.state is State.CLOSED else None
            self.period_write = index

    # -- rules ---------------------------------------------------------------------------

    def env(self, index: int) -> Environment:
        return self.envs[index % len(self.envs)]

    @rule(index=ENV, ok=st.booleans())
    def call(self, index: int, ok: bool) -> None:
        """What a business function does: ask, and call (then report) only when allowed."""
        env = self.env(index)
        if self.lookup(env).allowed:
            self.report(env, ok)

    @rule(index=ENV, ok=st.booleans())
    def report_only(self, index: int, ok: bool) -> None:
        """An outcome reported on an answer the environment got earlier (a stale copy's)."""
        self.report(self.env(index), ok)

    @rule(index=ENV, ok=st.booleans(), count=st.integers(2, 6))
    def run_of_calls(self, index: int, ok: bool, count: int) -> None:
        env = self.env(index)
        for _ in range(count):
            if self.lookup(env).allowed:
                self.report(env, ok)

    @rule(failing=st.integers(0, 2**MAX_ENVIRONMENTS - 1))
    def wave(self, failing: int) -> None:
        """Every environment makes one call at the same moment; bit i of ``failing`` set: env i's fails."""
        for env in self.envs:
            if self.lookup(env).allowed:
                self.report(env, ok=not failing >> env.index & 1)

    @rule(index=ENV)
    def lookup_only(self, index: int) -> None:
        self.lookup(self.env(index))

    @rule(index=ENV)
    def invoke(self, index: int) -> None:
        env = self.env(index)
        self.step_start = len(self.db.log)
        env.service.on_invoke()
        self.after(env)

    @rule(ms=ADVANCE_MS)
    def advance(self, ms: int) -> None:
        self.now += ms

    @rule()
    def full_flush(self) -> None:
        """Every environment writes all it holds (as on SHUTDOWN): then nothing is held anywhere."""
        for env in self.envs:
            self.step_start = len(self.db.log)
            env.service.retry_pending()
            self.after(env)
        assert all(env.service.pending_count() == 0 and not env.unsent for env in self.envs)

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def no_lost_update(self) -> None:
        """While CLOSED, the stored counters of the current period, every bucket in the window,
        equal the reference's judged failures and repeats sent in that period and window; and
        every judged failure is written, dropped or held by its environment (none lost, none
        counted twice)."""
        if not hasattr(self, "envs"):
            return
        stored = self.stored()
        if stored.version and stored.state is State.CLOSED:
            counts = self.reference_counts(self.now)
            assert counts.could_be(*window_counts(stored, self.settings, self.now)), (counts, stored)
            if self.epoch == 0:  # CLOSED since the start: nothing is late, the counts are exact
                assert counts.late_judged == 0
                assert window_counts(stored, self.settings, self.now) == (counts.judged, counts.repeats)
        accounted = sum(
            e.service.flushes.written + e.service.flushes.dropped + e.service.pending_count() for e in self.envs
        )
        assert accounted == self.judged + self.trial_reports

    @invariant()
    def trip_when_the_rule_holds(self) -> None:
        """When a step stored counts and the reference's counts then satisfy the rule, the
        circuit is no longer CLOSED (the rule is judged on every counting write's reply)."""
        if not hasattr(self, "envs") or self.counted_at is None:
            return
        counted_at, self.counted_at = self.counted_at, None
        counts = self.reference_counts(self.now)
        if counted_at == self.now and all(self.reference_rule(*c) for c in counts.possible()):
            assert self.period_start is None and self.stored().state is not State.CLOSED


    @invariant()
    def trial_budget(self) -> None:
        """At most half_open_max_trials live leases, in the table and by the reference."""
        if not hasattr(self, "envs"):
            return
        stored = self.stored()
        assert len(live_leases(stored, self.now)) <= self.settings.half_open_max_trials
        held = [l for e in self.envs for l in e.trials if l.expires_at > self.now and l.epoch == self.epoch]
        assert len(held) <= self.settings.half_open_max_trials
        if stored.state is State.HALF_OPEN:
            assert stored.half_open_successes == self.holder_successes


class ClosedFleet(Fleet):
    """A fleet that starts with no item in the table, every copy CLOSED: it trips, recovers and
    trips again as Hypothesis drives it; every property of the module docstring holds."""

    @initialize(
        chosen=breaker_settings(),
        ttls=TTLS,
    )
    def start(self, chosen, ttls) -> None:
        self.setup_fleet(*chosen, ttls)

    @invariant()
    def no_failure_no_write(self) -> None:
        """Zero writes (refused ones included) while no environment ever saw a failure."""
        if hasattr(self, "envs") and self.failures_seen == 0:
            assert self.db.writes == 0


class HalfOpenFleet(Fleet):
    """Every environment cached CLOSED; then the stored record went OPEN (its wait soon over).

    Environments whose TTL has not run out keep calling on their CLOSED copy and report
    outcomes while the table says HALF_OPEN: stale reporters beside the lease holders. The
    half-open properties (issue 13, defect 2) hold: at most half_open_max_trials live leases,
    only lease holders move HALF_OPEN, and closing takes half_open_success_threshold of their
    successes; with every other property of the module docstring.
    """

    @initialize(
        chosen=breaker_settings(),
        ttls=TTLS,
        called=st.integers(0, 2**MAX_ENVIRONMENTS - 1),
    )
    def start(self, chosen, ttls, called) -> None:
        self.setup_fleet(*chosen, ttls)
        from breaker.machine import created

        self.setup_store.apply(CIRCUIT, lambda r: created(r, self.now))
        self.check_log()
        for env in self.envs:
            self.lookup(env)  # every cache now holds CLOSED
            if called >> env.index & 1:  # some have called before, so that their next failure is judged
                self.report(env, True)
        opened_at = self.now
        wait = self.settings.open_duration_ms(1)

        def opened(record: CircuitRecord) -> CircuitRecord:
            return replace(
                record,
                version=record.version + 1,
                state=State.OPEN,
                transitioned_at=opened_at,
                opened_at=opened_at,
                next_attempt_at=opened_at + wait,
                consecutive_opens=1,
                tallies=(),
                updated_at=opened_at,
            )

        self.setup_store.apply(CIRCUIT, opened)
        self.check_log()
        self.now += wait  # the wait is over: the table reads HALF_OPEN, the caches CLOSED


TestClosedFleet = ClosedFleet.TestCase
TestHalfOpenFleet = HalfOpenFleet.TestCase

