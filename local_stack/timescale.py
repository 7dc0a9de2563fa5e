"""Time compression: the stack's durations divided by ``--speed-up``, all of them consistently.

A local run shows minutes of a stack's life in seconds, so every duration that decides *when*
a circuit moves is divided by the same factor: the checker schedules and its interval between
probes while a circuit is OPEN, the breaker's trip window, open duration and its cap, the
half-open trial lease, the extension's cache TTL, and the mock's mode cache. Durations that are real latencies stay as
they are, because the calls they time are real: call and probe timeouts, the slow-call
threshold and the mocks' delays. Counts (thresholds, trials) and ``--rate`` (calls per
wall-clock second) are not durations and are not scaled either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from infra.config import ServiceConfig
from breaker.machine import BreakerSettings

from .schedule import interval_s

MOCK_MODE_CACHE_S = 1.0  # the mock's own default (runtime/services/mock.py)
# The breaker settings that are durations (the tests check that no other setting is in seconds).
SCALED_BREAKER_FIELDS = ("window_s", "open_duration_s", "max_open_duration_s", "trial_lease_s")


@dataclass(frozen=True)
class TimeScale:
    """Stack time runs ``speed_up`` times faster than the wall clock."""

    speed_up: float

    def __post_init__(self) -> None:
        if not self.speed_up >= 1:
            raise ValueError(f"the speed-up must be >= 1, got {self.speed_up!r}")

    def real_s(self, stack_s: float) -> float:
        """Wall-clock seconds that ``stack_s`` seconds of stack time take."""
        return stack_s / self.speed_up

    def stack_s(self, real_s: float) -> float:
        """Stack seconds that pass in ``real_s`` wall-clock seconds."""
        return real_s * self.speed_up

    def breaker(self, settings: BreakerSettings) -> BreakerSettings:
        values = {name: getattr(settings, name) for name in SCALED_BREAKER_FIELDS}
        return replace(settings, **{name: None if v is None else self.real_s(v) for name, v in values.items()})

    def service(self, service: ServiceConfig) -> ServiceConfig:
        """The service as the compressed fleet runs it: breaker durations, cache TTL and the
        checker's interval between probes while a circuit is OPEN scaled."""
        probe = replace(service.probe, interval_while_open_s=self.real_s(service.probe.interval_while_open_s))
        return replace(
            service, breaker=self.breaker(service.breaker), cache_ttl_s=self.real_s(service.cache_ttl_s), probe=probe
        )

    def schedule_interval_s(self, service: ServiceConfig) -> float:
        """Wall-clock seconds between two checker runs for ``service``."""
        return self.real_s(interval_s(service.schedule))

    @property
    def mock_mode_cache_s(self) -> float:
        return self.real_s(MOCK_MODE_CACHE_S)


@dataclass(frozen=True)
class StackClock:
    """A run's stack time: 0 at the start of the run, ``speed_up`` times faster than the wall clock."""

    origin_ms: int  # epoch milliseconds, the clock the circuit records are written in
    scale: TimeScale

    def at(self, epoch_ms: int) -> float:
        """Stack seconds since the start at wall-clock time ``epoch_ms``."""
        return self.scale.stack_s((epoch_ms - self.origin_ms) / 1000)
