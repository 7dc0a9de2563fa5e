"""Scenario files: which service switches to which mode when, and what its circuit must do.

A scenario is a small JSON file (``local_stack/scenarios/*.json``)::

    {
      "description": "payments fails after two minutes and recovers three minutes later",
      "duration_s": 480,
      "steps": [
        {"at_s": 120, "service": "payments", "mode": "failing"},
        {"at_s": 300, "service": "payments", "mode": "healthy"}
      ],
      "expect": {"payments": ["OPEN", "HALF_OPEN", "CLOSED"]}
    }

Times are stack seconds from the start of the run (compressed like every other duration).
A step may also set ``failure_status``, ``delay_ms`` and ``failure_rate``; what it leaves out
comes from the service's mock settings in the stack file. A step is written to the mock's SSM
parameter, exactly as an operator would switch a deployed mock. ``expect`` lists, per
service, circuit states that must be entered in this order; other transitions may come in
between (a circuit may reopen a few times before it closes).

Problems are reported all at once, each under its place in the file (``steps[1].service``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from breaker.machine import State
from services.mock import ModeError, parse_mode

from .stack import LocalPlan

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
DEFAULT_SCENARIO = "default"
_TOP_KEYS = {"description", "duration_s", "steps", "expect"}
_STEP_KEYS = {"at_s", "service", "mode", "failure_status", "delay_ms", "failure_rate"}
_STATES = {state.value for state in State}


class ScenarioError(ValueError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"scenario {source}: {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Step:
    index: int  # its place in the file's steps, for messages
    at_s: float
    service: str
    mode: Mapping[str, Any]  # the fields the step sets (mode, and optionally the mock's numbers)

    def mode_json(self, plan: LocalPlan) -> str:
        """The SSM parameter's value: the stack's mock settings with this step's fields over them."""
        mock = plan.services[self.service].mock
        assert mock is not None  # plan.services holds mock services only
        return json.dumps({**asdict(mock), **self.mode}, separators=(",", ":"))

    def describe(self) -> str:
        extra = ", ".join(f"{key} {value}" for key, value in self.mode.items() if key != "mode")
        return f"{self.service} -> {self.mode['mode']}" + (f" ({extra})" if extra else "")


@dataclass(frozen=True)
class Scenario:
    source: str  # the file, for messages
    description: str
    duration_s: float
    steps: tuple[Step, ...]  # in time order (the order they are played in)
    expect: Mapping[str, tuple[str, ...]]


def resolve_scenario(value: str) -> Path:
    """A scenario path, or the name of a bundled scenario (``default`` → scenarios/default.json)."""
    path = Path(value)
    if path.is_file():
        return path
    bundled = SCENARIOS / f"{value}.json"
    if bundled.is_file():
        return bundled
    names = ", ".join(sorted(p.stem for p in SCENARIOS.glob("*.json")))
    raise ScenarioError(value, [f"no such file, and no bundled scenario of that name (bundled: {names})"])


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file and check its structure; raises :class:`ScenarioError`."""
    source = _shown(path)
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise ScenarioError(source, [f"cannot read the file ({error.strerror})"]) from None
    except json.JSONDecodeError as error:
        raise ScenarioError(source, [f"not valid JSON ({error.msg} at line {error.lineno})"]) from None
    if not isinstance(document, dict):
        raise ScenarioError(source, ["must be a JSON object with steps and expect"])
    problems = [f"{key}: unknown key; expected one of {', '.join(sorted(_TOP_KEYS))}"
                for key in sorted(set(document) - _TOP_KEYS)]
    duration_s = None
    if "duration_s" not in document:
        problems.append("duration_s: required (the run's length in stack seconds; --duration overrides it)")
    else:
        duration_s = _seconds(document["duration_s"], "duration_s", problems, positive=True)
    steps = _steps(document.get("steps"), problems)
    expect = _expect(document.get("expect"), problems)
    description = document.get("description", "")
    if not isinstance(description, str):
        problems.append(f"description: must be text, got {description!r}")
    if problems:
        raise ScenarioError(source, problems)
    assert duration_s is not None  # else a problem was recorded
    return Scenario(source, str(description), duration_s, steps, expect)


def _shown(path: Path) -> str:
    """The path as a reader would type it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def check_scenario(scenario: Scenario, plan: LocalPlan, duration_s: float) -> None:
    """Check the scenario against the stack and the run's length; raises :class:`ScenarioError`."""
    problems: list[str] = []
    for step in sorted(scenario.steps, key=lambda step: step.index):
        where = f"steps[{step.index}]"
        problem = _service_problem(step.service, plan)
        if problem:
            problems.append(f"{where}.service: {problem}")
        else:
            try:
                parse_mode(step.mode_json(plan))
            except ModeError as error:
                problems.extend(f"{where}.{key}: {message}" for key, message in error.problems.items())
        if step.at_s > duration_s:
            problems.append(f"{where}.at_s: {step.at_s:g} s is after the end of the run ({duration_s:g} s)")
    for service in scenario.expect:
        problem = _service_problem(service, plan)
        if problem:
            problems.append(f"expect.{service}: {problem}")
    if problems:
        raise ScenarioError(scenario.source, problems)


def _service_problem(service: str, plan: LocalPlan) -> Optional[str]:
    if service in plan.skipped:
        return f"{service!r} is an external service, not run locally"
    if service not in plan.services:
        return f"{service!r} is not a service of stack {plan.name} (services: {', '.join(sorted(plan.services))})"
    return None


def _seconds(value: Any, where: str, problems: list[str], positive: bool = False) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or (positive and value == 0):
        problems.append(f"{where}: must be a number of seconds {'> 0' if positive else '>= 0'}, got {value!r}")
        return None
    return float(value)


def _steps(raw: Any, problems: list[str]) -> tuple[Step, ...]:
    if not isinstance(raw, list):
        problems.append(f"steps: must be a list of {{at_s, service, mode}} objects, got {raw!r}")
        return ()
    steps = []
    for index, item in enumerate(raw):
        where = f"steps[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be an object with at_s, service and mode, got {item!r}")
            continue
        problems.extend(f"{where}.{key}: unknown key; expected one of {', '.join(sorted(_STEP_KEYS))}"
                        for key in sorted(set(item) - _STEP_KEYS))
        for key in ("at_s", "service", "mode"):
            if key not in item:
                problems.append(f"{where}.{key}: required")
        at_s = _seconds(item.get("at_s"), f"{where}.at_s", problems) if "at_s" in item else None
        service = item.get("service")
        if "service" in item and not isinstance(service, str):
            problems.append(f"{where}.service: must be a service id, got {service!r}")
        if at_s is not None and isinstance(service, str) and "mode" in item:
            mode = {key: value for key, value in item.items() if key not in ("at_s", "service")}
            steps.append(Step(index, at_s, service, mode))
    return tuple(sorted(steps, key=lambda step: step.at_s))


def _expect(raw: Any, problems: list[str]) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict) or not raw:
        problems.append(f'expect: must map service ids to states in order, e.g. {{"payments": ["OPEN", "CLOSED"]}}, '
                        f"got {raw!r}")
        return {}
    expect = {}
    for service, states in raw.items():
        if not isinstance(states, list) or not states:
            problems.append(f"expect.{service}: must be a non-empty list of states, got {states!r}")
            continue
        unknown = [state for state in states if state not in _STATES]
        if unknown:
            problems.append(f"expect.{service}: unknown state(s) {unknown}; states are {', '.join(sorted(_STATES))}")
            continue
        expect[service] = tuple(states)
    return expect
