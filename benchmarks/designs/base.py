"""What the simulator asks of a circuit-breaker design, whichever it is.

A call is split in two because it takes time: ``admit`` decides at the start of an invocation
whether the environment calls the dependency (False: the fallback answer), ``complete`` tells
the design how that call ended, ``latency_s`` later. An environment serves one invocation at a
time, so between the two no other invocation of that environment reaches the design; other
environments do, which is where stale reads and lost updates come from.

Designs with a scheduled checker expose it as ``checker``, split the same way.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, ContextManager, Optional, Protocol

from ..scenario import Scenario

Clock = Callable[[], float]  # simulated seconds since the start of the run

# Simulated time 0 as a wall-clock instant, for code that reads epoch time (the state machine's
# milliseconds, pybreaker's datetimes).
EPOCH_S = 1_700_000_000.0


def epoch_ms(clock: Clock) -> Callable[[], int]:
    """The wall clock in epoch milliseconds that matches the simulated ``clock``."""
    return lambda: int(round((EPOCH_S + clock()) * 1000))


@dataclass
class Usage:
    """DynamoDB requests a design made, as AWS would bill and throttle them."""

    reads: int = 0  # GetItem, BatchGetItem and Scan requests
    items_read: int = 0  # items those requests returned (a Scan returns every item in the table)
    writes: int = 0  # PutItem/UpdateItem requests, conditional writes that lost a race included
    conflicts: int = 0  # conditional writes refused because the version had moved


class Checker(Protocol):
    """A scheduled probe of the dependency, run every ``interval_s`` from time 0."""

    interval_s: float

    def start(self, now: float) -> bool:
        """Whether this run probes (False: it skipped, e.g. the circuit is OPEN)."""

    def done(self, now: float, ok: bool, latency_s: float) -> None:
        """The probe's result, ``latency_s`` after ``start``."""


class Design(ABC):
    """One circuit-breaker design, serving every environment of the fleet."""

    key: ClassVar[str]  # "a", "b", ...: the letter the brief and BENCHMARKS.md use
    title: ClassVar[str]
    checker: Optional[Checker] = None

    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        self.scenario = scenario
        self.clock = clock

    @abstractmethod
    def admit(self, env: int, now: float) -> bool:
        """Whether environment ``env`` calls the dependency now (else it answers the fallback)."""

    @abstractmethod
    def complete(self, env: int, now: float, ok: bool, latency_s: float) -> None:
        """The call ``env`` was admitted for ended now, successfully or not."""

    @abstractmethod
    def state(self, now: float) -> str:
        """CLOSED, OPEN or HALF_OPEN as the shared record reads now, for the plot (no request counted)."""

    @abstractmethod
    def usage(self) -> Usage:
        """DynamoDB requests made so far."""

    def running(self) -> ContextManager[None]:
        """Held around the whole run: where a design must patch its library onto simulated time."""
        return contextlib.nullcontext()
