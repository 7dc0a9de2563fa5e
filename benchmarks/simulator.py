"""Discrete-event simulation of one design serving one scenario's request stream.

The fleet model, the simplest one that keeps the stream identical for every design: E
execution environments, each request pre-assigned to one of them (``RequestStream``), each
environment serving its requests one at a time in arrival order. A request waits while its
environment is busy (a hung call holds it for the whole call timeout); a fallback answer and
the breaker's own work take no time. Real Lambda would start more environments instead of
queueing; a fixed fleet under-counts the calls a design without a breaker sends into a hang
(at most E per call timeout), which favours the designs that trip late, not this project.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal, Optional

from .designs.base import Design, Usage
from .scenario import Dependency, RequestStream, Scenario, request_stream

Path = Literal["live", "failed", "fallback"]

# Event kinds, in the order they run when simultaneous: a completion frees its environment
# before a request arriving at that instant is looked at.
_COMPLETE, _PROBE_DONE, _ARRIVAL, _PROBE, _SAMPLE = range(5)


@dataclass(frozen=True)
class Answer:
    start: float  # when the environment took the request: the breaker decided then
    env: int
    path: Path  # live: called, succeeded; failed: called, failed; fallback: not called


@dataclass(frozen=True)
class Trace:
    """Everything one run produced; the figures are computed from it (``metrics``)."""

    scenario: Scenario
    design: str
    answers: tuple[Answer, ...]  # one per request, in arrival order
    probes: int  # checker probes sent to the dependency
    usage: Usage
    states: tuple[tuple[float, str], ...]  # the design's state, sampled every simulated second


class SimClock:
    """The simulated time, readable as a zero-argument clock by the code under test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(design_type: type[Design], scenario: Scenario, stream: Optional[RequestStream] = None) -> Trace:
    """Run ``design_type`` on ``scenario`` (on ``stream``, drawn from the scenario when not given)."""
    clock = SimClock()
    return _Run(design_type(scenario, clock), scenario, stream or request_stream(scenario), clock).run()


class _Run:
    def __init__(self, design: Design, scenario: Scenario, stream: RequestStream, clock: SimClock) -> None:
        self._design = design
        self._scenario = scenario
        self._stream = stream
        self._clock = clock
        self._dependency = Dependency(scenario)
        self._events: list[tuple[float, int, int, Any]] = []
        self._order = itertools.count()
        self._queues: list[deque[int]] = [deque() for _ in range(scenario.environments)]
        self._busy = [False] * scenario.environments
        self._answers: list[Optional[Answer]] = [None] * len(stream.arrivals)
        self._starts: dict[int, float] = {}
        self._probes = 0
        self._states: list[tuple[float, str]] = []

    def run(self) -> Trace:
        for index, at in enumerate(self._stream.arrivals):
            self._push(at, _ARRIVAL, index)
        checker = self._design.checker
        if checker is not None:
            for k in range(len(self._stream.probe_draws)):
                if k * checker.interval_s < self._scenario.duration_s:
                    self._push(k * checker.interval_s, _PROBE, k)
        for second in range(int(self._scenario.duration_s)):
            self._push(float(second), _SAMPLE, None)
        handlers = {
            _ARRIVAL: self._arrive,
            _COMPLETE: self._complete,
            _PROBE: self._probe,
            _PROBE_DONE: self._probe_done,
            _SAMPLE: self._sample,
        }
        with self._design.running():
            while self._events:
                now, kind, _, data = heapq.heappop(self._events)
                self._clock.now = now
                handlers[kind](now, data)
        answers = tuple(a for a in self._answers if a is not None)
        assert len(answers) == len(self._answers), "every request is answered once the events run out"
        return Trace(self._scenario, self._design.key, answers, self._probes, self._design.usage(), tuple(self._states))

    def _push(self, at: float, kind: int, data: Any) -> None:
        heapq.heappush(self._events, (at, kind, next(self._order), data))

    def _arrive(self, now: float, index: int) -> None:
        env = self._stream.environments[index]
        self._queues[env].append(index)
        self._serve(env, now)

    def _serve(self, env: int, now: float) -> None:
        """Take queued requests until one holds the environment with a call."""
        queue = self._queues[env]
        while queue and not self._busy[env]:
            index = queue.popleft()
            if not self._design.admit(env, now):
                self._answers[index] = Answer(now, env, "fallback")
                continue
            ok, latency = self._dependency.respond(now, self._stream.draws[index])
            self._busy[env] = True
            self._starts[index] = now
            self._push(now + latency, _COMPLETE, (env, index, ok, latency))

    def _complete(self, now: float, data: tuple[int, int, bool, float]) -> None:
        env, index, ok, latency = data
        self._design.complete(env, now, ok, latency)
        self._answers[index] = Answer(self._starts.pop(index), env, "live" if ok else "failed")
        self._busy[env] = False
        self._serve(env, now)

    def _probe(self, now: float, k: int) -> None:
        checker = self._design.checker
        assert checker is not None
        if checker.start(now):
            self._probes += 1
            ok, latency = self._dependency.respond(now, self._stream.probe_draws[k])
            self._push(now + latency, _PROBE_DONE, (ok, latency))

    def _probe_done(self, now: float, data: tuple[bool, float]) -> None:
        checker = self._design.checker
        assert checker is not None
        checker.done(now, *data)

    def _sample(self, now: float, _: None) -> None:
        self._states.append((now, self._design.state(now)))
