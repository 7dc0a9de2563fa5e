"""Counters shared between the threads that invoke functions and the display that reads them."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Optional


class Tally:
    """Named counts, plus the last error seen (the first clue when something is misconfigured)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._last_error: Optional[str] = None

    def add(self, name: str, error: Optional[str] = None) -> None:
        with self._lock:
            self._counts[name] += 1
            if error is not None:
                self._last_error = error[:300]

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    @property
    def last_error(self) -> Optional[str]:
        with self._lock:
            return self._last_error
