"""The checker, invoked on each service's schedule with the input the schedule would carry.

One execution environment per schedule: in AWS, runs of different schedules that overlap run in
different environments. A run that comes due while the previous run of the same schedule still
probes (a slow service, a long probe timeout) is counted as ``busy`` and skipped.
"""

from __future__ import annotations

import threading
from typing import Any

from infra.config import ServiceConfig

from .invocations import ERRORS, PeriodicInvoker
from .pool import EnvironmentPool

RUNS, PROBES, BUSY = "runs", "probes", "busy"
__all__ = ["BUSY", "ERRORS", "PROBES", "RUNS", "CheckerSchedule"]


class CheckerSchedule(PeriodicInvoker):
    def __init__(
        self, service: ServiceConfig, base_url: str, pool: EnvironmentPool, interval_s: float, stop: threading.Event
    ) -> None:
        super().__init__(f"checker-{service.id}", pool, service.checker_input(base_url), interval_s, BUSY, stop)

    def _answered(self, answer: Any) -> None:
        self.tally.add(RUNS)
        if answer.get("probed"):
            self.tally.add(PROBES)
