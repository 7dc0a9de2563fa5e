"""Invoking a function on the wall clock: what the traffic driver and the checker schedules share.

Every tick is one invoke, through the Runtime API, of an idle execution environment from a
pool. A tick that finds every environment busy is counted under a label of the caller's and
skipped; an invoke that ends without an answer is an ``errors`` entry with its reason; an answer
goes to the subclass, which knows what it means.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from local_aws.emulator import EmulatorError, InvokeResult

from .pool import EnvironmentPool
from .tally import Tally
from .ticker import Ticker

ERRORS = "errors"


class PeriodicInvoker:
    def __init__(
        self, name: str, pool: EnvironmentPool, event: Any, period_s: float, busy_label: str, stop: threading.Event
    ) -> None:
        self.tally = Tally()
        self._pool = pool
        self._event = event
        self._busy_label = busy_label
        self._ticker = Ticker(name, period_s, self._tick, stop)

    def start(self) -> None:
        self._ticker.start()

    def join(self) -> None:
        self._ticker.join()

    def _tick(self) -> None:
        if not self._pool.try_invoke(self._event, self._done):
            self.tally.add(self._busy_label)

    def _done(self, result: Optional[InvokeResult], error: Optional[EmulatorError]) -> None:
        if result is None or result.status != "success":
            self.tally.add(ERRORS, str(error) if result is None else f"{result.status}: {result.payload[:300]!r}")
            return
        self._answered(result.json())

    def _answered(self, answer: Any) -> None:
        """Count one answer of the function."""
        raise NotImplementedError
