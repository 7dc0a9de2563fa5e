"""Property suite for the extension's TTL cache (runtime/breaker/cache.py).

The cache runs on a fake clock, so every property holds under arbitrary interleavings of
reads, clock steps, refresh-ahead calls and loader failures without a single sleep. One
test uses real threads, because single-flight is about threads.
"""

from __future__ import annotations

import threading

from breaker.cache import TtlCache
from hypothesis import given, settings, strategies as st

KEYS = ("a", "b")
TTL_S = 5.0
RETRY_S = 1.0

# These examples cost microseconds, so even the CI profile affords many: boundary cases
# (a read exactly one TTL after a load, while the table is failing) need a few hundred.
cheap = settings(max_examples=max(500, settings().max_examples))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedLoader:
    """Returns every key tagged with the load time; fails while ``failing`` is set."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.failing = False
        self.attempts: list[tuple[float, bool]] = []  # (time, succeeded)

    def __call__(self) -> dict[str, float]:
        self.attempts.append((self.clock.now, not self.failing))
        if self.failing:
            raise ConnectionError("table unreachable")
        return {key: self.clock.now for key in KEYS}


def default(key: str) -> float:
    return -1.0


def make_cache(clock: FakeClock, loader: ScriptedLoader) -> TtlCache[float]:
    return TtlCache(loader, ttl_s=TTL_S, clock=clock, default=default, retry_after_s=RETRY_S)


def steps(refresh_ahead: bool = True) -> st.SearchStrategy:
    """Random operation sequences. Clock steps are mostly whole seconds, so that reads land
    exactly on the TTL and back-off boundaries, where off-by-one mistakes live."""
    operations = [
        st.tuples(st.just("read"), st.sampled_from(KEYS)),
        st.tuples(st.just("advance"), st.one_of(st.integers(0, 7).map(float), st.floats(0, 12, allow_nan=False))),
        st.tuples(st.just("fail"), st.booleans()),
    ]
    if refresh_ahead:
        operations.append(st.tuples(st.just("refresh_ahead"), st.integers(0, 4).map(float)))
    return st.lists(st.one_of(operations), max_size=60)


def run(operations, check) -> None:
    clock = FakeClock()
    loader = ScriptedLoader(clock)
    cache = make_cache(clock, loader)
    for kind, arg in operations:
        if kind == "read":
            check(clock, loader, cache.get(arg))
        elif kind == "advance":
            clock.now += arg
        elif kind == "refresh_ahead":
            cache.refresh_if_due(ahead_s=arg)
        else:
            loader.failing = arg
    return loader


@cheap
@given(steps())
def test_nothing_older_than_the_ttl_is_served_unless_flagged_stale(operations) -> None:
    """Every value served unflagged was loaded less than one TTL ago; defaults are always stale."""

    def check(clock, loader, entry) -> None:
        if entry.value == default("a"):
            assert entry.stale and entry.age_s is None
        elif not entry.stale:
            assert clock.now - entry.value < TTL_S
            assert entry.age_s == clock.now - entry.value

    run(operations, check)


@cheap
@given(steps(refresh_ahead=False))
def test_at_most_one_load_per_ttl_window(operations) -> None:
    """Reads alone never load more than once per TTL after a success, nor more than once per
    retry back-off after a failure."""
    loader = run(operations, lambda *_: None)
    for (earlier, succeeded), (later, _) in zip(loader.attempts, loader.attempts[1:]):
        assert later - earlier >= (TTL_S if succeeded else RETRY_S)


@cheap
@given(steps())
def test_failed_loads_keep_serving_the_last_values_as_stale(operations) -> None:
    """After a failed load the last loaded value keeps being served, flagged stale once past
    its TTL; a key never loaded gets the configured default."""

    def check(clock, loader, entry) -> None:
        successes = [time for time, ok in loader.attempts if ok]
        if not successes:
            assert entry.value == default("a") and entry.stale
        else:
            assert entry.value == successes[-1]
            assert entry.stale == (clock.now - successes[-1] >= TTL_S)

    run(operations, check)


@given(ahead=st.floats(0.1, TTL_S - 0.1), elapsed=st.floats(0, TTL_S - 0.01))
def test_refresh_ahead_loads_only_within_the_margin(ahead: float, elapsed: float) -> None:
    """refresh_if_due(ahead) loads exactly when the values would expire within ``ahead``."""
    clock = FakeClock()
    loader = ScriptedLoader(clock)
    cache = make_cache(clock, loader)
    cache.get("a")
    clock.now += elapsed
    cache.refresh_if_due(ahead_s=ahead)
    expected_loads = 2 if elapsed + ahead >= TTL_S else 1
    assert len(loader.attempts) == expected_loads
    assert cache.stats.loads == expected_loads


def test_single_flight_under_real_threads() -> None:
    """Twenty threads reading an empty cache at once cause exactly one load, and all of them
    get its values."""
    release = threading.Event()
    started = threading.Event()
    calls = []

    def slow_loader() -> dict[str, str]:
        calls.append(1)
        started.set()
        assert release.wait(5)
        return {"a": "loaded"}

    cache = TtlCache(slow_loader, ttl_s=60, clock=lambda: 0.0, default=lambda key: "default")
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("a").value)) for _ in range(20)]
    for thread in threads:
        thread.start()
    assert started.wait(5)
    release.set()
    for thread in threads:
        thread.join(5)
    assert calls == [1]
    assert results == ["loaded"] * 20
    assert cache.stats.loads == 1


def test_invalidation_is_rate_limited() -> None:
    """invalidate() forces a reload at most once per minimum interval."""
    clock = FakeClock()
    loader = ScriptedLoader(clock)
    cache = TtlCache(loader, ttl_s=60, clock=clock, default=default, min_invalidate_interval_s=2)
    cache.get("a")
    assert cache.invalidate() is True
    cache.get("a")
    assert cache.invalidate() is False  # within 2 s of the previous invalidation
    cache.get("a")
    clock.now += 2
    assert cache.invalidate() is True
    cache.get("a")
    assert len(loader.attempts) == 3


def test_an_invalidation_during_a_load_is_not_lost() -> None:
    """A failure reported while a load runs may concern a change that load missed: the next
    read loads again, instead of the finishing load marking everything fresh."""
    clock = FakeClock()
    loader = ScriptedLoader(clock)
    invalidated_during_load = []

    def load_while_a_failure_is_reported() -> dict[str, float]:
        values = loader()
        if len(loader.attempts) == 1:
            invalidated_during_load.append(cache.invalidate())
        return values

    cache = TtlCache(
        load_while_a_failure_is_reported, ttl_s=60, clock=clock, default=default, min_invalidate_interval_s=0
    )
    cache.get("a")
    cache.get("a")
    assert invalidated_during_load == [True]
    assert len(loader.attempts) == 2
