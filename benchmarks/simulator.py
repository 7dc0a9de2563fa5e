"""Discrete-event simulation of one design serving one scenario's request stream.

The fleet model: E execution environments, each request pre-assigned to one of them
(``RequestStream``) and admitted the moment it arrives. An environment may have several calls
in flight at once, all sharing its one breaker and cache, as Lambda's multi-concurrency
(managed-instance) environments do; with one call at a time per environment, read E as the
number of distinct caches. Nothing queues, so no rate overloads the fleet and every design's
calls start exactly at their arrival: a fallback answer and the breaker's own work take no
time, and a hung call holds only itself, for the call timeout.

The loop is lean because E = 1000 at R = 5000 is millions of requests per run: arrivals are
read from the stream's lists in order (no event object per request); a call's completion goes
to one of three FIFO queues, one per latency (success, HTTP 503, timeout), which stay in time
order without a heap; only the rare events (checker probes, state samples, the snapshot of the
DynamoDB bill at the outage start) use a heap. A request's answer is one byte (``LIVE``,
``FAILED``, ``FALLBACK``). Simultaneous events run completions first, then probe results, then
arrivals, then probe starts.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any, Optional

from .designs.base import Design, Usage
from .scenario import Dependency, RequestStream, Scenario, probe_draw, request_stream

LIVE, FAILED, FALLBACK = 0, 1, 2  # the answer to a request: called and succeeded, called and failed, not called

# Rare events, in the order they run when simultaneous.
_SNAPSHOT, _PROBE_DONE, _PROBE, _SAMPLE = range(4)
_INF = float("inf")


@dataclass(frozen=True)
class Trace:
    """Everything one run produced; the figures are computed from it (``metrics``)."""

    scenario: Scenario
    design: str
    arrivals: list[float]  # the stream's, shared: request i started at arrivals[i]
    environments: list[int]
    paths: bytearray  # paths[i]: LIVE, FAILED or FALLBACK
    probes: tuple[float, ...]  # start times of the checker's probes
    failed_probes: int  # how many of them the dependency failed
    usage: Usage  # the whole run
    healthy_usage: Optional[Usage]  # at the outage start: what the healthy phase cost
    states: tuple[tuple[float, str], ...]  # the design's state each simulated second, when sampled


class SimClock:
    """The simulated time, readable as a zero-argument clock by the code under test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(
    design_type: type[Design],
    scenario: Scenario,
    stream: Optional[RequestStream] = None,
    knob_s: Optional[float] = None,
    sample_states: bool = False,
) -> Trace:
    """Run ``design_type`` (its knob at ``knob_s``) on ``scenario``, over ``stream`` (drawn when not given)."""
    clock = SimClock()
    design = design_type(scenario, clock, knob_s)
    return _Run(design, scenario, stream or request_stream(scenario), clock, sample_states).run()


class _Run:
    def __init__(self, design: Design, scenario: Scenario, stream: RequestStream, clock: SimClock, sample: bool) -> None:
        self._design = design
        self._scenario = scenario
        self._stream = stream
        self._clock = clock
        self._dependency = Dependency(scenario)
        self._rare: list[tuple[float, int, int, Any]] = []
        self._order = itertools.count()
        self._probes: list[float] = []
        self._failed_probes = 0
        self._states: list[tuple[float, str]] = []
        self._healthy: Optional[Usage] = None
        duration = scenario.duration_s
        checker = design.checker
        if checker is not None:
            for k in itertools.count():
                if k * checker.interval_s >= duration:
                    break
                self._push(k * checker.interval_s, _PROBE, None)
        if sample:
            for second in range(int(duration)):
                self._push(float(second), _SAMPLE, None)
        if scenario.outage is not None:
            self._push(scenario.outage[0], _SNAPSHOT, None)

    def _push(self, at: float, kind: int, data: Any) -> None:
        heapq.heappush(self._rare, (at, kind, next(self._order), data))

    def run(self) -> Trace:
        design, scenario, clock, rare = self._design, self._scenario, self._clock, self._rare
        admit, complete = design.admit, design.complete
        arrivals, envs, draws = self._stream.arrivals, self._stream.environments, self._stream.draws
        n = len(arrivals)
        paths = bytearray(n)
        down_from, down_to = self._dependency.start, self._dependency.end
        down_latency = self._dependency.failed_latency_s
        failure_rate = scenario.failure_rate
        ok_latency, error_latency = scenario.success_latency_s, scenario.error_latency_s
        # One FIFO per latency: (end, env, call, ok, latency), in end order within each.
        succeeded: deque[tuple[float, int, int, bool, float]] = deque()
        errored: deque[tuple[float, int, int, bool, float]] = deque()
        hung: deque[tuple[float, int, int, bool, float]] = deque()
        down_queue = hung if down_latency != error_latency else errored
        queues = (succeeded, errored, hung)
        i = 0
        with design.running():
            while True:
                upcoming = rare[0][0] if rare else _INF
                for queue in queues:
                    if queue and queue[0][0] <= upcoming:
                        upcoming = queue[0][0]
                while i < n:
                    now = arrivals[i]
                    if now >= upcoming:
                        break
                    clock.now = now
                    if admit(envs[i], now, i):
                        if down_from <= now < down_to:
                            end = now + down_latency
                            down_queue.append((end, envs[i], i, False, down_latency))
                            paths[i] = FAILED
                        elif draws[i] < failure_rate:
                            end = now + error_latency
                            errored.append((end, envs[i], i, False, error_latency))
                            paths[i] = FAILED
                        else:
                            end = now + ok_latency
                            succeeded.append((end, envs[i], i, True, ok_latency))
                        if end < upcoming:
                            upcoming = end
                    else:
                        paths[i] = FALLBACK
                    i += 1
                if upcoming == _INF:
                    break
                for queue in queues:
                    if queue and queue[0][0] == upcoming:
                        end, env, call, ok, latency = queue.popleft()
                        clock.now = end
                        complete(env, call, end, ok, latency)
                        break
                else:
                    at, kind, _, data = heapq.heappop(rare)
                    clock.now = at
                    self._rare_event(at, kind, data)
        return Trace(
            scenario,
            design.key,
            arrivals,
            envs,
            paths,
            tuple(self._probes),
            self._failed_probes,
            design.usage().copy(),
            self._healthy,
            tuple(self._states),
        )

    def _again(self, now: float, delay: Optional[float]) -> None:
        """The checker's run looks again after ``delay`` (None: the run is over)."""
        if delay is not None and now + delay < self._scenario.duration_s:
            self._push(now + delay, _PROBE, None)

    def _rare_event(self, now: float, kind: int, data: Any) -> None:
        checker = self._design.checker
        if kind == _PROBE:
            assert checker is not None
            if checker.start(now):
                self._probes.append(now)
                ok, latency = self._dependency.respond(now, probe_draw(self._scenario, now))
                self._failed_probes += not ok
                self._push(now + latency, _PROBE_DONE, (ok, latency))
            else:
                self._again(now, checker.skipped(now))
        elif kind == _PROBE_DONE:
            assert checker is not None
            self._again(now, checker.done(now, *data))
        elif kind == _SAMPLE:
            self._states.append((now, self._design.state(now)))
        else:
            self._healthy = self._design.usage().copy()
