"""(d) This project with its defaults: the extension's own circuit service in every environment.

Each environment runs the extension's ``CircuitService`` (the TTL cache with refresh-ahead on
INVOKE, version-conditional reports, rate-limited invalidation after a failure, fleet-wide
half-open trial leases) over the real ``CircuitStore`` and ``breaker.machine``, with the
simulated clock injected where the extension passes ``time.monotonic`` and ``time.time``.
Only DynamoDB is simulated (``VersionedTable``). An invocation does what the extension and the
business function do: INVOKE (prefetch, retry queued reports), ``GET /circuits/{id}``, and
after a call ``POST .../success`` or ``.../failure``.

Its recovery knob is the checker's ``probe.interval_while_open_s``: a passing probe ends an
open period, so that interval, not ``open_duration_s`` (the way back when no probe passes),
sets how soon a recovered dependency is used again. It is swept over the values the stack
config accepts (1-60 s); every other setting stays at its default.

The checker is ``checker.probing.CheckRun``, the logic ``checker.handler`` runs in Lambda, on
its schedule (``rate(1 minute)``, the 60 s probe interval of every design): a probe at each run;
while the circuit is OPEN or HALF_OPEN the run probes again every ``interval_while_open_s``
(5 s), for ``RUN_SPAN_S`` (55 s) after its first probe, and a passing probe lets trials
through early.
The probe's send and its result are split here because a hung probe returns
``call_timeout_s`` later, and other environments act in between.
"""

from __future__ import annotations

import contextlib
import io
from typing import ContextManager, Optional

from breaker.item import from_item
from breaker.machine import BreakerSettings, CircuitRecord, State, classify, effective_state
from breaker.store import CircuitStore, ConflictError
from checker.config import DEFAULT_INTERVAL_WHILE_OPEN_S
from checker.probing import CheckRun, Probe
from circuit_breaker_extension.config import DEFAULT_CACHE_TTL_S
from circuit_breaker_extension.sdk import WRITE_ATTEMPTS
from circuit_breaker_extension.service import CircuitService

from ..scenario import Scenario
from .base import Clock, Design, Usage, epoch_ms
from .versioned_table import VersionedTable

TABLE = "circuits"
CIRCUIT = "dependency"


def _store(table: VersionedTable, max_attempts: int = 8) -> CircuitStore:
    """The project's store on the simulated table; its back-off between retries takes no simulated time."""
    return CircuitStore(table, TABLE, max_attempts=max_attempts, sleep=lambda _: None, jitter=lambda: 0.0)


class ProjectChecker:
    """``checker.handler.check`` on simulated time: ``CheckRun`` decides, the simulator probes."""

    def __init__(
        self, table: VersionedTable, settings: BreakerSettings, clock: Clock, interval_s: float, while_open_s: float
    ) -> None:
        self._store = _store(table)
        self._while_open_s = while_open_s
        self._settings = settings
        self._wall_ms = epoch_ms(clock)
        self._memory: dict[str, bool] = {}  # the checker environment's previous probe, as in Lambda
        self._run: Optional[CheckRun] = None
        self._probe: Optional[Probe] = None
        self.interval_s = interval_s

    def start(self, now: float) -> bool:
        if self._run is None:  # a scheduled run begins
            self._run = CheckRun(CIRCUIT, self._settings, self._store, self._memory, self._while_open_s)
        step = self._run.start(self._wall_ms())
        if not isinstance(step, Probe):
            return False
        self._probe = step
        return True

    def skipped(self, now: float) -> Optional[float]:
        """As ``checker.handler.check``: a run whose probe was skipped (every trial taken) looks again."""
        return self._next()

    def done(self, now: float, ok: bool, latency_s: float) -> Optional[float]:
        assert self._run is not None and self._probe is not None
        outcome = classify(ok, latency_s * 1000, self._settings)
        self._run.done(self._probe, outcome, self._wall_ms(), error=None if ok else "probe failed")
        return self._next()

    def _next(self) -> Optional[float]:
        """The delay to the run's next look, as ``CheckRun`` decides it; None when the run ends."""
        assert self._run is not None
        now_ms = self._wall_ms()
        next_ms = self._run.next_look_ms(now_ms)
        if next_ms is None:
            self._run = None
            return None
        return (next_ms - now_ms) / 1000


class ThisProject(Design):
    key = "d"
    title = "this project (defaults: 35 % repeats of 30 judged failures in 60 s, probes every 5 s while OPEN, 30 s TTL)"
    knob = "probe.interval_while_open_s"
    sweep_knobs_s = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0)

    def __init__(self, scenario: Scenario, clock: Clock, knob_s: Optional[float] = None) -> None:
        super().__init__(scenario, clock, knob_s)
        settings = BreakerSettings()
        self._table = VersionedTable()
        self._services = [
            CircuitService(
                {CIRCUIT: settings},
                _store(self._table, WRITE_ATTEMPTS),
                (ConflictError,),  # the only way a simulated write fails: it is queued, as live
                cache_ttl_s=DEFAULT_CACHE_TTL_S,
                unknown_state=State.CLOSED,
                clock=clock,
                wall_ms=epoch_ms(clock),
            )
            for _ in range(scenario.environments)
        ]
        while_open_s = DEFAULT_INTERVAL_WHILE_OPEN_S if knob_s is None else knob_s
        self.checker = ProjectChecker(self._table, settings, clock, scenario.probe_interval_s, while_open_s)
        self._wall_ms = epoch_ms(clock)

    def running(self) -> ContextManager[None]:
        """The service logs each state an environment sees to stdout, as in Lambda; kept out of the report."""
        return contextlib.redirect_stdout(io.StringIO())

    def admit(self, env: int, now: float, call: int) -> bool:
        service = self._services[env]
        service.on_invoke()
        return service.lookup(CIRCUIT).allowed

    def complete(self, env: int, call: int, now: float, ok: bool, latency_s: float) -> None:
        self._services[env].report(CIRCUIT, ok, latency_s * 1000, None if ok else "dependency failed")

    def state(self, now: float) -> str:
        item = self._table.peek(CIRCUIT)
        record = from_item(item) if item else CircuitRecord(CIRCUIT)
        return effective_state(record, self._wall_ms()).value

    def usage(self) -> Usage:
        return self._table.usage
