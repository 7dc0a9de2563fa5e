"""A TTL cache over one batch of keys, loaded all at once: what the extension serves from.

Standard library only, clock injected. The rules it keeps:

- one load fills every key (the extension's loader is one BatchGetItem), and a value is
  served fresh for ``ttl_s`` after the load that produced it;
- single-flight: readers arriving while a load runs wait for that load, they never start
  another;
- stale-if-error: a failed load keeps serving the last values, flagged ``stale``, and the
  next load is tried on a read at least ``retry_after_s`` later;
- a key never loaded gets ``default(key)``, flagged ``stale`` (nothing is known about it);
- ``refresh_if_due`` loads ahead of expiry (the extension calls it on every INVOKE so the
  function rarely waits for a load);
- ``invalidate`` forces the next read to load, at most once per ``min_invalidate_interval_s``
  so that a storm of reported failures cannot become a storm of reads (``force=True``, for a
  key newly added to the loader's, bypasses that limit).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Generic, Mapping, Optional, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class Entry(Generic[V]):
    """A served value: ``stale`` when it is older than the TTL or only a default."""

    value: V
    stale: bool
    age_s: Optional[float]  # since the load that produced it; None for a default


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    loads: int = 0
    load_errors: int = 0


class TtlCache(Generic[V]):
    def __init__(
        self,
        loader: Callable[[], Mapping[str, V]],
        *,
        ttl_s: float,
        clock: Callable[[], float],
        default: Callable[[str], V],
        retry_after_s: float = 1.0,
        min_invalidate_interval_s: float = 1.0,
    ) -> None:
        if not ttl_s > 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s!r}")
        self._loader = loader
        self._ttl_s = ttl_s
        self._clock = clock
        self._default = default
        self._retry_after_s = retry_after_s
        self._min_invalidate_interval_s = min_invalidate_interval_s
        self._values: dict[str, V] = {}
        self._loaded_at: Optional[float] = None  # time of the last successful load
        self._retry_at: Optional[float] = None  # after a failed load: no new try before this
        self._invalidated_at: Optional[float] = None
        self._expired = False  # set by invalidate(): the values are due for a reload
        self._invalidations = 0  # how many invalidate() calls took effect, ever
        self._loading = False
        self._lock = threading.Condition()
        self.stats = CacheStats()

    # -- reading ---------------------------------------------------------------------------

    def get(self, key: str) -> Entry[V]:
        """The value of ``key``, loading first when the cache is due and no load is in flight."""
        return self._read()(key)

    def snapshot(self) -> dict[str, Entry[V]]:
        """Every loaded key (after loading when due), as one consistent view."""
        view = self._read()
        with self._lock:
            keys = list(self._values)
        return {key: view(key) for key in keys}

    def refresh_if_due(self, ahead_s: float = 0.0) -> None:
        """Load now if the values expire within ``ahead_s`` (refresh-ahead), else do nothing."""
        self._load_once(self._clock() + ahead_s)

    # -- expiring --------------------------------------------------------------------------

    def invalidate(self, force: bool = False) -> bool:
        """Make the next read load, unless an invalidation happened too recently. Returns whether it did.

        ``force`` (a key was added to what the loader loads) always takes effect and does not
        count towards the rate limit: a key the last load did not ask for must be read, not
        served as a default.
        """
        with self._lock:
            now = self._clock()
            last = self._invalidated_at
            if not force and last is not None and now - last < self._min_invalidate_interval_s:
                return False
            if not force:
                self._invalidated_at = now
            self._expired = True
            self._invalidations += 1
            return True

    # -- internals -------------------------------------------------------------------------

    def _read(self) -> Callable[[str], Entry[V]]:
        with self._lock:
            now = self._clock()
            due = self._due(now)
            if due:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
        if due:
            self._load_once(now)
        with self._lock:
            now = self._clock()
            values, loaded_at = dict(self._values), self._loaded_at
            fresh = loaded_at is not None and not self._expired and now - loaded_at < self._ttl_s
        age = None if loaded_at is None else max(now - loaded_at, 0.0)

        def entry(key: str) -> Entry[V]:
            if key in values:
                return Entry(values[key], stale=not fresh, age_s=age)
            return Entry(self._default(key), stale=True, age_s=None)

        return entry

    def _due(self, at: float) -> bool:
        """Whether a load should start for a read at ``at``; call with the lock held."""
        if self._retry_at is not None and self._clock() < self._retry_at:
            return False  # a load failed recently: serve stale until the back-off passes
        if self._loaded_at is None or self._expired:
            return True
        return at - self._loaded_at >= self._ttl_s

    def _load_once(self, at: float) -> None:
        """Load if still due at ``at``, or wait for the load in flight (single-flight)."""
        with self._lock:
            if self._loading:
                while self._loading:
                    self._lock.wait()
                return
            if not self._due(at):
                return  # another reader's load finished since this one looked
            self._loading = True
            self.stats.loads += 1
            invalidations_before = self._invalidations
        try:
            loaded = dict(self._loader())
        except Exception:
            with self._lock:
                self.stats.load_errors += 1
                self._retry_at = self._clock() + self._retry_after_s
                self._loading = False
                self._lock.notify_all()
            return
        with self._lock:
            self._values.update(loaded)
            self._loaded_at = self._clock()
            self._retry_at = None
            # An invalidation made while this load ran may concern a change the load missed.
            self._expired = self._invalidations != invalidations_before
            self._loading = False
            self._lock.notify_all()
