"""Property suite for the extension's TTL cache (runtime/breaker/cache.py).

The cache runs on a fake clock, so every property holds under arbitrary interleavings of
reads, clock steps, refresh-ahead calls and loader failures without a single sleep. One
test uses real threads, because single-flight is about threads.
"""

from __future__ import annotations

import threading

from breaker.cache import TtlCache
from hypothesis import example, given, settings, strategies as st

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
        self.invalidated_after: list[int] = []  # see run()

    def __call__(self) -> dict[str, float]:
        self.attempts.append((self.clock.now, not self.failing))
        if self.failing:
            raise ConnectionError("table unreachable")
        return {key: self.clock.now for key in KEYS}


def default(key: str) -> float:
    return -1.0


def make_cache(clock: FakeClock, loader: ScriptedLoader) -> TtlCache[float]:
    return TtlCache(loader, ttl_s=TTL_S, clock=clock, default=default, retry_after_s=RETRY_S)


def steps(refresh_ahead: bool = True, invalidate: bool = False, clock_steps_back: bool = False) -> st.SearchStrategy:
    """Random operation sequences. Clock steps are mostly whole seconds, so that reads land
    exactly on the TTL and back-off boundaries, where off-by-one mistakes live. With
    ``clock_steps_back`` the clock may also step back a little, as a wall clock does."""
    advance = st.one_of(st.integers(0, 7).map(float), st.floats(0, 12, allow_nan=False))
    if clock_steps_back:
        advance = st.one_of(advance, st.sampled_from([-0.5, -1.0, -2.0]))
    operations = [
        st.tuples(st.just("read"), st.sampled_from(KEYS)),
        st.tuples(st.just("advance"), advance),
        st.tuples(st.just("fail"), st.booleans()),
    ]
    if refresh_ahead:
        operations.append(st.tuples(st.just("refresh_ahead"), st.integers(0, 4).map(float)))
    if invalidate:
        operations.append(st.tuples(st.just("invalidate"), st.none()))
    return st.lists(st.one_of(operations), max_size=60)


def run(operations, check) -> ScriptedLoader:
    """Apply ``operations`` to a fresh cache, calling ``check(clock, loader, entry)`` on each read.

    ``loader.attempts`` records the loads; ``loader.invalidated_after`` holds, for each
    invalidation that took effect, how many load attempts had been made by then."""
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
        elif kind == "invalidate":
            if cache.invalidate():
                loader.invalidated_after.append(len(loader.attempts))
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
        # Each bound computed as the cache computes it (age against the TTL, a retry time for the
        # back-off), so that float rounding cannot fail an exact boundary.
        if succeeded:
            assert later - earlier >= TTL_S
        else:
            assert later >= earlier + RETRY_S


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


def _served_fresh_with_the_table_up(clock, loader, entry) -> None:
    """With the table up, a read is served fresh unless the last load attempt failed less than
    the back-off ago: then, and only then, the cache may not load yet."""
    if loader.failing:
        return
    last = loader.attempts[-1] if loader.attempts else None
    backing_off = last is not None and not last[1] and clock.now < last[0] + RETRY_S
    if not backing_off:
        assert not entry.stale, (clock.now, loader.attempts)


@cheap
@given(steps())
def test_with_the_table_up_a_read_at_or_past_the_ttl_reloads_and_is_fresh(operations) -> None:
    """A value is fresh while its age is under the TTL; a read at age == TTL or later (the table
    up, no back-off running) loads first. So with the table up no read is ever served stale,
    except during the back-off after a failed load."""
    run(operations, _served_fresh_with_the_table_up)


@cheap
@given(steps(invalidate=True, clock_steps_back=True))
@example(  # the one arrangement that shows a leftover back-off: a success, the clock back, an invalidation
    [("fail", True), ("read", "a"), ("fail", False), ("advance", RETRY_S), ("read", "a"),
     ("advance", -0.5), ("invalidate", None), ("read", "a")]
)
def test_a_successful_load_clears_the_error_back_off(operations) -> None:
    """After a load succeeds nothing of an earlier failure's back-off remains: only the TTL and
    invalidations decide when the next load happens. With the table up a read is served fresh
    unless the very last load attempt failed less than the back-off ago. (A success always comes
    after the back-off's end, so a leftover back-off shows only when the clock then steps back,
    as an injected wall clock can: the clock here may.)"""
    run(operations, _served_fresh_with_the_table_up)


@cheap
@given(steps(invalidate=True))
def test_an_invalidated_value_whose_reload_failed_is_served_stale(operations) -> None:
    """Once invalidated, a value is never served fresh again until a load attempted after the
    invalidation succeeds: a failed reload leaves the old value served, flagged stale."""

    def check(clock, loader, entry) -> None:
        if entry.stale or not loader.invalidated_after:
            return
        since = loader.attempts[loader.invalidated_after[-1]:]
        assert any(ok for _, ok in since), (loader.attempts, loader.invalidated_after)

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


def invalidated_once() -> tuple[FakeClock, ScriptedLoader, TtlCache[float]]:
    """A cache that allows one invalidation per 2 s, loaded, invalidated and loaded again."""
    clock = FakeClock()
    loader = ScriptedLoader(clock)
    cache = TtlCache(loader, ttl_s=60, clock=clock, default=default, min_invalidate_interval_s=2)
    cache.get("a")
    assert cache.invalidate() is True
    cache.get("a")
    return clock, loader, cache


def test_invalidation_is_rate_limited() -> None:
    """invalidate() forces a reload at most once per minimum interval."""
    clock, loader, cache = invalidated_once()
    assert cache.invalidate() is False  # within 2 s of the previous invalidation
    cache.get("a")
    clock.now += 2
    assert cache.invalidate() is True
    cache.get("a")
    assert len(loader.attempts) == 3


def test_a_forced_invalidation_bypasses_the_rate_limit_and_leaves_it_alone() -> None:
    """invalidate(force=True) (a key was added to the loader's) always reloads, and does not
    hold back the next rate-limited invalidation."""
    clock, loader, cache = invalidated_once()
    assert cache.invalidate(force=True) is True  # within 2 s of the previous invalidation
    assert cache.get("a").stale is False
    assert len(loader.attempts) == 3
    clock.now += 2  # 2 s after the last rate-limited one, whatever was forced since
    assert cache.invalidate(force=True) is True
    assert cache.invalidate() is True
    cache.get("a")
    assert len(loader.attempts) == 4


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
