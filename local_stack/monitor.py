"""Each circuit's states over time, rebuilt from its record in the table.

The monitor reads every circuit with one BatchGetItem per poll (its own reads are subtracted
from the fleet's in the display). A poll sees the latest record only, so the timeline is
rebuilt from what a record says about the past, as the state machine defines it: a record
starts at its ``updated_at`` (an OPEN one at ``opened_at``, the same instant), and an OPEN
record reads as HALF_OPEN from its ``next_attempt_at`` on, whether or not a trial has been
written yet. That recovers a HALF_OPEN that lasted only the few milliseconds two successful
trials take, and an OPEN → HALF_OPEN → OPEN that happened between two polls.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from breaker.machine import CircuitRecord, State
from breaker.clock import epoch_ms
from breaker.store import CircuitStore

from .ticker import Ticker

POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class Transition:
    service: str
    state: str  # a State value
    at_ms: int  # epoch milliseconds


class Timeline:
    """One circuit's transitions, from the records observed in order."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.transitions: list[Transition] = []
        self._record: Optional[CircuitRecord] = None
        self._state = State.CLOSED.value  # an absent record is a new CLOSED circuit

    @property
    def state(self) -> str:
        return self._state

    @property
    def version(self) -> int:
        return 0 if self._record is None else self._record.version

    def observe(self, record: CircuitRecord, at_ms: int) -> list[Transition]:
        """Take the record read at ``at_ms``; returns the transitions it revealed."""
        seen: list[Transition] = []
        if self._record is None or record.version > self._record.version:
            if self._record is not None:
                seen += self._expiry(self._record, record.updated_at)
            self._record = record
            seen += self._enter(record.state.value, record.updated_at)
        seen += self._expiry(self._record, at_ms)
        return seen

    def open_periods(self, at_ms: int) -> list[tuple[int, int]]:
        """Every ``[start, end)`` during which the circuit was OPEN, up to ``at_ms``."""
        periods = []
        for index, transition in enumerate(self.transitions):
            if transition.state != State.OPEN.value:
                continue
            if index + 1 < len(self.transitions):
                end = self.transitions[index + 1].at_ms
            else:
                next_attempt = self._record.next_attempt_at if self._record is not None else None
                end = min(at_ms, next_attempt) if next_attempt is not None else at_ms
            periods.append((transition.at_ms, end))
        return periods

    def _expiry(self, record: CircuitRecord, until_ms: int) -> list[Transition]:
        """HALF_OPEN, if ``record`` is OPEN and its wait is over by ``until_ms``."""
        due = record.next_attempt_at
        if record.state is State.OPEN and due is not None and due <= until_ms:
            return self._enter(State.HALF_OPEN.value, due)
        return []

    def _enter(self, state: str, at_ms: int) -> list[Transition]:
        if state == self._state:
            return []
        self._state = state
        transition = Transition(self.service, state, at_ms)
        self.transitions.append(transition)
        return [transition]


class CircuitMonitor:
    """Polls the table every ``POLL_INTERVAL_S`` and reports each transition as it is revealed."""

    def __init__(
        self,
        store: CircuitStore,
        services: Iterable[str],
        on_transition: Callable[[Transition], None],
        stop: threading.Event,
    ) -> None:
        self.timelines = {service: Timeline(service) for service in services}
        self._store = store
        self._on_transition = on_transition
        self._lock = threading.Lock()
        self._ticker = Ticker("circuit-monitor", POLL_INTERVAL_S, self.poll, stop)

    @property
    def reads(self) -> int:
        """Read requests the monitor itself sent (not the fleet's)."""
        return self._store.stats.reads

    def start(self) -> None:
        self._ticker.start()

    def join(self) -> None:
        self._ticker.join()

    def poll(self, at_ms: Optional[int] = None) -> None:
        """One read of every circuit, judged at ``at_ms`` (default: now). Called once more after
        the fleet has shut down, for what the extensions flushed, judged at the end of the run."""
        with self._lock:
            records = self._store.batch_get(self.timelines)
            at = epoch_ms() if at_ms is None else at_ms
            for service, record in records.items():
                for transition in self.timelines[service].observe(record, at):
                    self._on_transition(transition)
