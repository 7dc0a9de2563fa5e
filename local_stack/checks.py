"""The checker, invoked on each service's schedule with the input the schedule would carry.

One execution environment per schedule: in AWS, runs of different schedules that overlap run in
different environments. A run that comes due while the previous run of the same schedule still
probes (a slow service, a long probe timeout) is counted as ``busy`` and skipped.
"""

from __future__ import annotations

import threading
from typing import Optional

from infra.config import ServiceConfig
from local.emulator import EmulatorError, InvokeResult

from .pool import EnvironmentPool
from .tally import Tally
from .ticker import Ticker

RUNS, PROBES, BUSY, ERRORS = "runs", "probes", "busy", "errors"


class CheckerSchedule:
    def __init__(
        self, service: ServiceConfig, base_url: str, pool: EnvironmentPool, interval_s: float, stop: threading.Event
    ) -> None:
        self.tally = Tally()
        self._pool = pool
        self._input = service.checker_input(base_url)
        self._ticker = Ticker(f"checker-{service.id}", interval_s, self._tick, stop)

    def start(self) -> None:
        self._ticker.start()

    def join(self) -> None:
        self._ticker.join()

    def _tick(self) -> None:
        if not self._pool.try_invoke(self._input, self._done):
            self.tally.add(BUSY)

    def _done(self, result: Optional[InvokeResult], error: Optional[EmulatorError]) -> None:
        if result is None or result.status != "success":
            self.tally.add(ERRORS, str(error) if result is None else f"{result.status}: {result.payload[:300]!r}")
            return
        self.tally.add(RUNS)
        if result.json().get("probed"):
            self.tally.add(PROBES)
