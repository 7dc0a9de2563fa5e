"""What the terminal shows: the circuits as a live table, events as they happen, the summary.

On a terminal the table is redrawn in place a few times a second and events scroll above it;
otherwise (CI logs, a pipe) events are plain lines as they happen and the table is printed as
plain lines every few seconds, so a log reads top to bottom without control characters.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Optional, TextIO

PLAIN_EVERY_S = 5.0
_UP_AND_CLEAR = "\x1b[{}F\x1b[J"  # cursor to the start of the line n lines up, clear to the end


@dataclass(frozen=True)
class Row:
    service: str
    mode: str  # the mock's mode as last written to its parameter
    state: str  # the circuit's state
    live: int  # answers that called the service
    fallback: int  # answers served without calling it
    failed_calls: int  # calls (business and checker) the mock failed
    open_calls: int  # of them, the most that arrived during one OPEN period
    bound: int  # what the design allows per OPEN period
    writes: int  # the circuit record's version: one per persisted change


@dataclass(frozen=True)
class Snapshot:
    stack_s: float
    duration_s: float
    speed_up: float
    rows: tuple[Row, ...]
    reads: int  # the fleet's DynamoDB read requests (the monitor's own excluded)
    writes: int


_COLUMNS = ("SERVICE", "MOCK", "CIRCUIT", "LIVE", "FALLBACK", "FAILED CALLS", "WHILE OPEN", "WRITES")


def table_lines(snapshot: Snapshot) -> list[str]:
    cells = [
        (row.service, row.mode, row.state, str(row.live), str(row.fallback), str(row.failed_calls),
         f"{row.open_calls}/{row.bound}", str(row.writes))
        for row in snapshot.rows
    ]
    widths = [max(len(text) for text in column) for column in zip(_COLUMNS, *cells)]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(v.ljust(w) if i < 3 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    header = (f"stack time {snapshot.stack_s:5.0f} s of {snapshot.duration_s:g} s (speed-up x{snapshot.speed_up:g})"
              f"   DynamoDB: {snapshot.reads} reads, {snapshot.writes} writes")
    return [header, line(_COLUMNS), *(line(values) for values in cells)]


class Display:
    def __init__(self, out: TextIO, live: bool) -> None:
        self._out = out
        self._live = live
        self._lock = threading.Lock()
        self._last: Optional[Snapshot] = None
        self._drawn = 0  # lines of the table currently on screen (live mode)
        self._printed_at = 0.0  # when the table was last printed (plain mode)

    @property
    def live(self) -> bool:
        return self._live

    def line(self, text: str) -> None:
        """A line that stays: an event, a note, the summary."""
        with self._lock:
            self._erase()
            self._out.write(text + "\n")
            self._draw()
            self._out.flush()

    def event(self, stack_s: float, text: str) -> None:
        self.line(f"[{stack_s:6.1f} s] {text}")

    def refresh(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._last = snapshot
            if self._live:
                self._erase()
                self._draw()
            elif time.monotonic() - self._printed_at >= PLAIN_EVERY_S:
                self._printed_at = time.monotonic()
                self._out.write("\n".join(table_lines(snapshot)) + "\n")
            self._out.flush()

    def final(self, snapshot: Snapshot) -> None:
        """The last table, left on screen for good (the summary follows it)."""
        with self._lock:
            self._erase()
            self._out.write("\n".join(table_lines(snapshot)) + "\n")
            self._last = None
            self._out.flush()

    def _erase(self) -> None:
        if self._drawn:
            self._out.write(_UP_AND_CLEAR.format(self._drawn))
            self._drawn = 0

    def _draw(self) -> None:
        if self._live and self._last is not None:
            lines = table_lines(self._last)
            self._out.write("\n".join(lines) + "\n")
            self._drawn = len(lines)
