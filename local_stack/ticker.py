"""Periodic work on the wall clock: the traffic, the checker schedules, the circuit monitor."""

from __future__ import annotations

import threading
import time
from typing import Callable


class Ticker:
    """Calls ``tick`` every ``period_s`` seconds in a thread of its own, the first time at once,
    until ``stop`` is set. A tick that comes due while the previous one still runs is skipped,
    not bunched: a schedule that cannot keep up stays a schedule instead of becoming a burst."""

    def __init__(self, name: str, period_s: float, tick: Callable[[], None], stop: threading.Event) -> None:
        if not period_s > 0:
            raise ValueError(f"{name}: the period must be > 0, got {period_s!r}")
        self._period_s = period_s
        self._tick = tick
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        due = started
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            self._tick()
            ticks = int((time.monotonic() - started) / self._period_s) + 1
            due = started + ticks * self._period_s
