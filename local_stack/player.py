"""Plays a scenario: each step written to its mock's SSM parameter at its (compressed) time."""

from __future__ import annotations

import threading
import time
from typing import Callable, Mapping

from .mocks import ModeParameters
from .scenario import Scenario, Step
from .stack import LocalPlan
from .timescale import TimeScale


class ScenarioPlayer:
    def __init__(
        self,
        scenario: Scenario,
        plan: LocalPlan,
        parameters: Mapping[str, str],  # service id -> its mode parameter
        modes: ModeParameters,
        scale: TimeScale,
        on_step: Callable[[Step], None],
        origin: float,  # time.monotonic() at the start of the run: stack time 0
        stop: threading.Event,
    ) -> None:
        self._scenario = scenario
        self._plan = plan
        self._parameters = parameters
        self._modes = modes
        self._scale = scale
        self._on_step = on_step
        self._origin = origin
        self._stop = stop
        self._thread = threading.Thread(target=self._play, name="scenario", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join()

    def _play(self) -> None:
        for step in self._scenario.steps:
            due = self._origin + self._scale.real_s(step.at_s)
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            self._modes.write(self._parameters[step.service], step.mode_json(self._plan))
            self._on_step(step)
