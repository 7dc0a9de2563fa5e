"""The circuits and the cache, read from the function's environment variables (README.md lists them).

Every variable is validated and every problem is reported at once: the extension reports them
to Lambda as ``init/error`` (``Extension.ConfigInvalid``), so a misconfigured function fails
its first cold start loudly instead of serving guesses. Read after registering (it needs the
state machine's settings); ``endpoint`` reads the variables needed before.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Mapping

from breaker.machine import BreakerSettings, SettingsError, State

from .endpoint import ConfigError

TABLE = "CIRCUIT_BREAKER_TABLE"
CIRCUITS = "CIRCUIT_BREAKER_CIRCUITS"
CACHE_TTL_S = "CIRCUIT_BREAKER_CACHE_TTL_S"
UNKNOWN_STATE = "CIRCUIT_BREAKER_UNKNOWN_STATE"

DEFAULT_CACHE_TTL_S = 30.0
UNKNOWN_STATES = (State.CLOSED, State.OPEN)


@dataclass(frozen=True)
class Config:
    table: str
    circuits: Mapping[str, BreakerSettings]
    cache_ttl_s: float = DEFAULT_CACHE_TTL_S
    unknown_state: State = State.CLOSED


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

    table = environ.get(TABLE, "").strip()
    if not table:
        problems.append(f"{TABLE}: required (the name of the circuits table)")
    if CIRCUITS not in environ:
        problems.append(f"{CIRCUITS}: required (a JSON object of circuit id -> settings; {{}} as a circuit's settings means the defaults)")
    circuits = parse(CIRCUITS, {}, _circuits)
    ttl = parse(CACHE_TTL_S, DEFAULT_CACHE_TTL_S, _positive_seconds)
    unknown = parse(UNKNOWN_STATE, State.CLOSED, _unknown_state)
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(table=table, circuits=circuits, cache_ttl_s=ttl, unknown_state=unknown)


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
