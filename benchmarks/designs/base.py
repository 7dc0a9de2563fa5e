"""What the simulator asks of a circuit-breaker design, whichever it is.

A call is split in two because it takes time: ``admit`` decides at the start of an invocation
whether the environment calls the dependency (False: the fallback answer), ``complete`` tells
the design how that call ended, ``latency_s`` later. Both carry ``call``, a token unique to the
invocation (its index in the request stream): an environment may have several calls in flight
at once, all sharing its one breaker and cache, and other environments act in between too,
which is where stale reads and lost updates come from.

Designs with a scheduled checker expose it as ``checker``, split the same way. A design with
a recovery knob (open duration, reset timeout, timeout, probe interval) names it in ``knob``
and takes its value as the constructor's ``knob_s`` (None: the design's default), for the
Pareto sweep over ``sweep_knobs_s``.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Callable, ClassVar, ContextManager, Optional, Protocol

from ..cost import FAILED_CONDITIONAL_WRITE_UNITS
from ..scenario import Scenario

Clock = Callable[[], float]  # simulated seconds since the start of the run

# The recovery-knob values a design is swept over unless it names its own (a knob whose range
# is narrower, such as a probe interval, does).
SWEEP_KNOBS_S = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

# Simulated time 0 as a wall-clock instant, for code that reads epoch time (the state machine's
# milliseconds, pybreaker's datetimes).
EPOCH_S = 1_700_000_000.0


def epoch_ms(clock: Clock) -> Callable[[], int]:
    """The wall clock in epoch milliseconds that matches the simulated ``clock``."""
    return lambda: int(round((EPOCH_S + clock()) * 1000))


@dataclass
class Usage:
    """DynamoDB requests a design made, and the capacity units AWS bills for them (``cost``)."""

    reads: int = 0  # GetItem, BatchGetItem and Scan requests
    writes: int = 0  # PutItem/UpdateItem requests, conditional writes that failed included
    failed_writes: int = 0  # conditional writes refused because the condition did not hold
    rru: float = 0.0  # read request units
    wru: float = 0.0  # write request units

    def read(self, units: float) -> None:
        self.reads += 1
        self.rru += units

    def write(self, units: float) -> None:
        self.writes += 1
        self.wru += units

    def failed_write(self) -> None:
        self.write(FAILED_CONDITIONAL_WRITE_UNITS)
        self.failed_writes += 1

    def copy(self) -> "Usage":
        return replace(self)


class Checker(Protocol):
    """A scheduled probe of the dependency, run every ``interval_s`` from time 0.

    ``start`` is called at each scheduled run; when it returns True the simulator sends one
    probe, and ``done`` gets its result. ``done`` returns None when the run is over, or the
    delay after which the same run probes again: the simulator then calls ``start`` and, if
    it returns True, probes again, as many times as the run asks. When ``start`` returns False
    (no probe now), ``skipped`` says whether the run looks again, after how long.
    """

    interval_s: float

    def start(self, now: float) -> bool:
        """Whether to probe now (False: this run skips, e.g. the circuit is OPEN)."""

    def done(self, now: float, ok: bool, latency_s: float) -> Optional[float]:
        """The probe's result, ``latency_s`` after ``start``; the delay to the run's next probe, or None."""

    def skipped(self, now: float) -> Optional[float]:
        """``start`` sent no probe now: the delay after which the run looks again, or None (it is over)."""


class Design(ABC):
    """One circuit-breaker design, serving every environment of the fleet."""

    key: ClassVar[str]  # "a", "b", ...: the letter the brief and BENCHMARKS.md use
    title: ClassVar[str]
    knob: ClassVar[Optional[str]] = None  # the recovery knob ``knob_s`` sets, None: the design has none
    sweep_knobs_s: ClassVar[tuple[float, ...]] = SWEEP_KNOBS_S
    checker: Optional[Checker] = None

    def __init__(self, scenario: Scenario, clock: Clock, knob_s: Optional[float] = None) -> None:
        self.scenario = scenario
        self.clock = clock
        self.knob_s = knob_s

    @abstractmethod
    def admit(self, env: int, now: float, call: int) -> bool:
        """Whether environment ``env`` makes ``call`` to the dependency now (else it answers the fallback)."""

    @abstractmethod
    def complete(self, env: int, call: int, now: float, ok: bool, latency_s: float) -> None:
        """``call``, admitted in ``env``, ended now, successfully or not."""

    @abstractmethod
    def state(self, now: float) -> str:
        """CLOSED, OPEN or HALF_OPEN as the shared record reads now, for the plot (no request counted)."""

    @abstractmethod
    def usage(self) -> Usage:
        """DynamoDB requests made so far."""

    def running(self) -> ContextManager[None]:
        """Held around the whole run: where a design must patch its library onto simulated time."""
        return contextlib.nullcontext()
