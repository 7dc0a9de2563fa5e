"""The checker's input: what one EventBridge Scheduler schedule hands to the function.

``{"circuit_id": "payments", "url": "https://.../health", "timeout_s": 2.0, "breaker": {...}}``

The Pulumi program writes these inputs, but a hand-edited schedule or a typo must fail with a
message naming every bad field at once (Lambda shows the exception's message as
``errorMessage``) instead of a stack trace from deep inside the probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from breaker.machine import BreakerSettings, SettingsError

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_INTERVAL_WHILE_OPEN_S = 5.0


class InputError(ValueError):
    """The schedule's input is unusable; ``problems`` maps each bad field to what is wrong."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("invalid checker input: " + "; ".join(f"{key}: {msg}" for key, msg in problems.items()))


@dataclass(frozen=True)
class ProbeInput:
    circuit_id: str
    url: str
    timeout_s: float
    settings: BreakerSettings
    interval_while_open_s: float = DEFAULT_INTERVAL_WHILE_OPEN_S  # between probes while not CLOSED


def _circuit_id_problem(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value.strip():
        return f"must be a non-empty string, got {value!r}"
    return None


def _url_problem(value: Any) -> Optional[str]:
    if not isinstance(value, str):
        return f"must be a string, got {value!r}"
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as error:
        return f"is not a URL ({error})"
    if parts.scheme not in ("http", "https") or not host:
        return f"must be an http(s) URL with a host, got {value!r}"
    return None


def _timeout_problem(value: Any) -> Optional[str]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return f"must be a number of seconds > 0, got {value!r}"
    return None


def _settings(event: Mapping[str, Any]) -> tuple[Optional[BreakerSettings], dict[str, str]]:
    """The breaker settings, or the problems with them (keys nested under ``breaker.``)."""
    if "breaker" not in event:
        return None, {"breaker": "required"}
    value = event["breaker"]
    if not isinstance(value, Mapping):
        return None, {"breaker": f"must be an object of breaker settings, got {value!r}"}
    try:
        return BreakerSettings.from_mapping(value), {}
    except SettingsError as error:
        return None, {f"breaker.{key}": msg for key, msg in error.problems.items()}


# field -> (required, check); the breaker settings are checked apart, as they name nested keys.
_CHECKS: dict[str, tuple[bool, Callable[[Any], Optional[str]]]] = {
    "circuit_id": (True, _circuit_id_problem),
    "url": (True, _url_problem),
    "timeout_s": (False, _timeout_problem),
    "interval_while_open_s": (False, _timeout_problem),
}
_FIELDS = set(_CHECKS) | {"breaker"}


def parse_input(event: Any) -> ProbeInput:
    """Validate the whole input; raise :class:`InputError` naming every problem found."""
    if not isinstance(event, Mapping):
        raise InputError({"event": f"must be a JSON object, got {type(event).__name__}"})
    problems = {key: "unknown field" for key in sorted(set(event) - _FIELDS, key=str)}
    for key, (required, check) in _CHECKS.items():
        if key not in event:
            if required:
                problems[key] = "required"
            continue
        problem = check(event[key])
        if problem:
            problems[key] = problem
    settings, breaker_problems = _settings(event)
    problems.update(breaker_problems)
    if problems or settings is None:
        raise InputError(problems)
    return ProbeInput(
        circuit_id=event["circuit_id"],
        url=event["url"],
        timeout_s=float(event.get("timeout_s", DEFAULT_TIMEOUT_S)),
        settings=settings,
        interval_while_open_s=float(event.get("interval_while_open_s", DEFAULT_INTERVAL_WHILE_OPEN_S)),
    )
