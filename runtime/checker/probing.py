"""One checker run, step by step: what to probe, and what each probe's result does to the circuit.

Split from the handler so that the same logic runs in Lambda (which sends the probes and sleeps
between them) and in the benchmark's simulation (which answers them on simulated time). What a
probe does depends on the circuit's state as stored when the probe is about to go out:

- CLOSED: the probe is one more call. A failure is counted like any environment's, judged by
  this checker's previous probe of the circuit (``memory``, kept while the execution
  environment lives); a success writes nothing.
- OPEN: the probe is not a trial (it carries no business call), so it is sent whatever the
  open duration says. A success moves the circuit to HALF_OPEN at once, letting trials through
  early, as Envoy's outlier detection returns a host on a passing active health check; a
  failure writes nothing. The run probes again every ``interval_while_open_s`` while the
  circuit stays OPEN or HALF_OPEN, within its time budget, so a recovery is seen within
  seconds although the schedule runs once a minute.
- HALF_OPEN: the probe is a trial like a business call's: it takes a lease (skipped when every
  trial is taken) and its outcome is reported for that lease.
- FORCED_OPEN / FORCED_CLOSED: the operator decides; no probe.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Callable, MutableMapping, Optional

from breaker.counting import Failure, count_failures, trip_if_due
from breaker.machine import (
    FORCED_STATES,
    BreakerSettings,
    CircuitRecord,
    Outcome,
    State,
    effective_state,
    grant_trial,
    probe_passed,
    record_trial,
)
from breaker.store import CircuitStore

from .report import CheckReport

# A run looks again while a circuit is on its way back until this long after its first look:
# the schedule fires every minute, so the next run's first probe follows about one interval
# after this run's last (with a 45 s span a recovery could wait 15 s in the gap). A slow last
# probe may overlap the next run; that is safe, checkers write only conditionally.
RUN_SPAN_S = 55


@dataclass(frozen=True)
class Probe:
    """A probe about to go out, and the state it was decided on."""

    state: State  # the effective state when decided
    base: CircuitRecord
    token: Optional[str] = None  # the trial lease it holds, in HALF_OPEN


class CheckRun:
    """The probes of one scheduled run for one circuit (see the module docstring)."""

    def __init__(
        self,
        circuit_id: str,
        settings: BreakerSettings,
        store: CircuitStore,
        memory: MutableMapping[str, bool],
        interval_while_open_s: float,
        new_token: Callable[[], str] = lambda: "checker-" + secrets.token_hex(4),
    ) -> None:
        self.circuit_id = circuit_id
        self._settings = settings
        self._store = store
        self._memory = memory  # circuit id -> whether this checker's previous probe failed
        self._interval_ms = round(interval_while_open_s * 1000)
        self._new_token = new_token
        self._first_look_ms: Optional[int] = None
        self.last_state: Optional[State] = None

    def start(self, now_ms: int) -> Probe | CheckReport:
        """Decide the next probe: a :class:`Probe` to send, or the report of a skipped one."""
        if self._first_look_ms is None:
            self._first_look_ms = now_ms
        record = self._store.get(self.circuit_id)
        state = effective_state(record, now_ms)
        self.last_state = state
        if state in FORCED_STATES:
            return self._skipped(record, now_ms, f"circuit {state.value} by an operator")
        if state is not State.HALF_OPEN:
            return Probe(state, record)
        token = self._new_token()
        applied = self._store.apply(
            self.circuit_id, lambda current: grant_trial(current, self._settings, now_ms, token)[0], current=record
        )
        if token not in {lease.token for lease in applied.record.leases}:
            self.last_state = effective_state(applied.record, now_ms)
            return self._skipped(applied.record, now_ms, "every half-open trial is already taken")
        return Probe(State.HALF_OPEN, applied.record, token)

    def done(self, probe: Probe, outcome: Outcome, now_ms: int, **details) -> CheckReport:
        """Apply the probe's outcome; ``details`` (status, latency_ms, error) go to the report."""
        failed = outcome is not Outcome.SUCCESS
        previous = self._memory.get(self.circuit_id)
        self._memory[self.circuit_id] = failed
        record, changed = probe.base, False
        if probe.state is State.CLOSED and failed and previous is not None:
            failure = Failure(now_ms, previous, details.get("error"))
            counted = count_failures(self._store, record, [failure], self._settings, now_ms)
            record, changed = trip_if_due(self._store, counted.record, self._settings, now_ms, failure.error)
        elif probe.state is State.OPEN and not failed:
            applied = self._store.apply(self.circuit_id, lambda current: probe_passed(current, now_ms), current=record)
            record, changed = applied.record, applied.written
        elif probe.token is not None:
            applied = self._store.apply(
                self.circuit_id,
                lambda current: record_trial(current, self._settings, probe.token, outcome, now_ms, details.get("error")),
                current=record,
            )
            record, changed = applied.record, applied.written and applied.record.state is not State.HALF_OPEN
        after = effective_state(record, now_ms)
        self.last_state = after
        return CheckReport(
            self.circuit_id, now_ms, probe.state, after, record.version, changed=changed, outcome=outcome, **details
        )

    def next_look_ms(self, now_ms: int) -> Optional[int]:
        """When this run looks again (epoch ms), or None when it ends: it looks again every
        ``interval_while_open_s`` while the circuit is on its way back (OPEN or HALF_OPEN, a
        skipped look included), for at most ``RUN_SPAN_S`` after its first look."""
        next_ms = now_ms + self._interval_ms
        on_its_way_back = self.last_state in (State.OPEN, State.HALF_OPEN)
        if not on_its_way_back or self._first_look_ms is None or next_ms - self._first_look_ms > RUN_SPAN_S * 1000:
            return None
        return next_ms

    def _skipped(self, record: CircuitRecord, now_ms: int, why: str) -> CheckReport:
        state = effective_state(record, now_ms)
        return CheckReport(self.circuit_id, now_ms, state, state, record.version, skipped=why)
