"""The circuits and the cache, read from the function's environment variables (README.md lists them).

Every variable is validated and every problem is reported at once: the extension reports them
to Lambda as ``init/error`` (``Extension.ConfigInvalid``), so a misconfigured function fails
its first cold start loudly instead of serving guesses. Read after registering (it needs the
state machine's settings); ``endpoint`` reads the variables needed before.

**Compatibility with circuitbreaker-lambda.** When any of that layer's ``CIRCUITBREAKER_*``
variables is set, the table may come from ``CIRCUITBREAKER_TABLE``, ``CIRCUIT_BREAKER_CIRCUITS``
becomes optional, and ``on_demand`` holds the settings, mapped from those variables, of the
circuits a function names without having configured them (at most ``MAX_ON_DEMAND``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Mapping, Optional

from breaker.machine import BreakerSettings, SettingsError, State

from .endpoint import ConfigError, compat_mode

TABLE = "CIRCUIT_BREAKER_TABLE"
CIRCUITS = "CIRCUIT_BREAKER_CIRCUITS"
CACHE_TTL_S = "CIRCUIT_BREAKER_CACHE_TTL_S"
UNKNOWN_STATE = "CIRCUIT_BREAKER_UNKNOWN_STATE"

DEFAULT_CACHE_TTL_S = 30.0
UNKNOWN_STATES = (State.CLOSED, State.OPEN)

COMPAT_TABLE = "CIRCUITBREAKER_TABLE"
# circuitbreaker-lambda's variable -> (the BreakerSettings field it sets, that layer's default,
# milliseconds to convert to seconds). Fields not listed keep BreakerSettings' defaults.
COMPAT_SETTINGS = {
    "CIRCUITBREAKER_FAILURE_THRESHOLD": ("minimum_failures", 5, False),
    "CIRCUITBREAKER_SUCCESS_THRESHOLD": ("half_open_success_threshold", 2, False),
    "CIRCUITBREAKER_TIMEOUT_MS": ("open_duration_s", 10_000, True),
    "CIRCUITBREAKER_MAX_TIMEOUT_MS": ("max_open_duration_s", 60_000, True),
    "CIRCUITBREAKER_WINDOW_DURATION_MS": ("window_s", 60_000, True),
}
# Circuits served on demand at most, per execution environment: a caller naming ever new ids
# cannot grow the extension's memory, or its BatchGetItem, without limit.
MAX_ON_DEMAND = 100


@dataclass(frozen=True)
class Config:
    table: str
    circuits: Mapping[str, BreakerSettings]
    cache_ttl_s: float = DEFAULT_CACHE_TTL_S
    unknown_state: State = State.CLOSED
    on_demand: Optional[BreakerSettings] = None  # compatibility mode: settings of circuits added on demand


def load_config(environ: Mapping[str, str]) -> Config:
    """Read and validate the extension's variables; raises :class:`ConfigError` listing every problem."""
    problems: list[str] = []

    def parse(name: str, default, parser):
        raw = environ.get(name)
        if raw is None:
            return default
        try:
            return parser(raw)
        except ValueError as error:
            problems.append(f"{name}: {error}")
            return default

    compat = compat_mode(environ)
    table = environ.get(TABLE, "").strip() if TABLE in environ or not compat else environ.get(COMPAT_TABLE, "").strip()
    if not table:
        also = f" or {COMPAT_TABLE}" if compat else ""
        problems.append(f"{TABLE}{also}: required (the name of the circuits table)")
    if CIRCUITS not in environ and not compat:
        problems.append(f"{CIRCUITS}: required (a JSON object of circuit id -> settings; {{}} as a circuit's settings means the defaults)")
    circuits = parse(CIRCUITS, {}, _circuits)
    ttl = parse(CACHE_TTL_S, DEFAULT_CACHE_TTL_S, _positive_seconds)
    unknown = parse(UNKNOWN_STATE, State.CLOSED, _unknown_state)
    on_demand = _compat_settings(environ, problems) if compat else None
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(table=table, circuits=circuits, cache_ttl_s=ttl, unknown_state=unknown, on_demand=on_demand)


def _compat_settings(environ: Mapping[str, str], problems: list[str]) -> Optional[BreakerSettings]:
    """circuitbreaker-lambda's variables mapped onto BreakerSettings; problems name the variable.

    Like that layer, an open period is ``min(TIMEOUT_MS × 2^n, MAX_TIMEOUT_MS)``: the first one
    is capped by MAX_TIMEOUT_MS too, and each re-open from HALF_OPEN doubles it.
    """
    values: dict[str, float] = {}
    given: dict[str, str] = {}  # field -> the variable that set it, for messages
    for variable, (name, default, in_ms) in COMPAT_SETTINGS.items():
        raw = environ.get(variable)
        number = default
        if raw is not None:
            text = raw.strip()
            if not (text.isascii() and text.isdigit()):
                problems.append(f"{variable}: must be a whole number{' of milliseconds' if in_ms else ''}, got {raw!r}")
                continue
            number, given[name] = int(text), variable
        values[name] = number / 1000 if in_ms else number
    if "open_duration_s" in values and "max_open_duration_s" in values:
        values["open_duration_s"] = min(values["open_duration_s"], values["max_open_duration_s"])
    try:
        return BreakerSettings.from_mapping({**values, "open_backoff_multiplier": 2})
    except SettingsError as error:
        for name, problem in error.problems.items():
            variable = given.get(name) or next((v for v, (n, _, _) in COMPAT_SETTINGS.items() if n == name), name)
            problems.append(f"{variable} (this project's {name}): {problem}")
        return None


def _circuits(raw: str) -> dict[str, BreakerSettings]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error})") from None
    if not isinstance(data, dict) or not data:
        raise ValueError("must be a non-empty JSON object: circuit id -> settings object")
    circuits: dict[str, BreakerSettings] = {}
    problems: list[str] = []
    for circuit_id, mapping in data.items():
        if not circuit_id.strip():
            problems.append("a circuit id is empty")
        elif not isinstance(mapping, dict):
            problems.append(f"circuit {circuit_id!r}: settings must be a JSON object, got {mapping!r}")
        else:
            try:
                circuits[circuit_id] = BreakerSettings.from_mapping(mapping)
            except SettingsError as error:
                problems.append(f"circuit {circuit_id!r}: {error}")
    if problems:
        raise ValueError("; ".join(problems))
    return circuits


def _positive_seconds(raw: str) -> float:
    seconds = float(raw)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"must be a positive number of seconds, got {raw!r}")
    return seconds


def _unknown_state(raw: str) -> State:
    for state in UNKNOWN_STATES:
        if raw.strip().upper() == state.value:
            return state
    raise ValueError(f"must be CLOSED or OPEN, got {raw!r}")
