"""The mock microservice behind a Lambda Function URL (handler ``services.mock.handler``).

Routes (Function URL payload format 2.0)::

    GET /health, GET /resource   answer as the current mode says
    GET /mode                    the mode in force, where it came from, and any problem with it

Modes: ``healthy`` (200), ``failing`` (``failure_status``, default 503), ``slow`` (sleeps
``delay_ms``, then 200), ``flaky`` (fails with probability ``failure_rate``, else 200).

The mode lives in an SSM parameter, so every execution environment of the function shares it
and it changes at run time without a redeploy. Switching it is IAM-authenticated::

    aws ssm put-parameter --name <param> --overwrite --value '{"mode":"failing"}'
    aws ssm put-parameter --name <param> --overwrite \\
        --value '{"mode":"flaky","failure_rate":0.3,"failure_status":500}'

Each environment reads the parameter at most once per ``MOCK_MODE_CACHE_S`` seconds, so a switch
reaches the whole fleet within that delay.

Environment:
    ``MOCK_MODE_PARAMETER``  name of the SSM parameter holding the mode JSON
    ``MOCK_MODE_CACHE_S``    how long a read mode is reused (default 1)
    ``MOCK_DEFAULT_MODE``    mode JSON used when the parameter cannot be read or is invalid
                             (default ``{"mode": "healthy"}``); answers then say so
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

MODES = ("healthy", "failing", "slow", "flaky")
ROUTES = ("/health", "/resource", "/mode")
MAX_DELAY_MS = 900_000  # Lambda's longest timeout


class ModeError(ValueError):
    """A mode JSON that cannot be used; ``problems`` maps each bad field to what is wrong."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in problems.items()))


@dataclass(frozen=True)
class Mode:
    mode: str = "healthy"
    failure_status: int = 503
    delay_ms: int = 3000
    failure_rate: float = 0.5


@dataclass(frozen=True)
class CurrentMode:
    """The mode in force and its provenance: ``problem`` says why it is not the parameter's."""

    mode: Mode
    source: str  # "parameter" or "default"
    problem: Optional[str] = None

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"mode": self.mode.mode, "mode_source": self.source}
        if self.problem:
            described["mode_problem"] = self.problem
        return described


def _number_problem(value: Any, low: float, high: float, integer: bool) -> Optional[str]:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or not low <= value <= high:
        return f"must be {'an integer' if integer else 'a number'} in [{low:g}, {high:g}], got {value!r}"
    return None


_NUMBERS = {  # field -> (low, high, integer)
    "failure_status": (400, 599, True),
    "delay_ms": (0, MAX_DELAY_MS, True),
    "failure_rate": (0, 1, False),
}


def parse_mode(text: str) -> Mode:
    """Read a mode JSON; raise :class:`ModeError` naming every problem."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModeError({"value": f"not JSON ({error.msg})"}) from None
    if not isinstance(value, Mapping):
        raise ModeError({"value": f"must be a JSON object, got {text!r}"})
    problems = {key: "unknown field" for key in sorted(set(value) - {"mode", *_NUMBERS})}
    if value.get("mode") not in MODES:
        problems["mode"] = f"must be one of {', '.join(MODES)}, got {value.get('mode')!r}"
    for key, (low, high, integer) in _NUMBERS.items():
        problem = _number_problem(value[key], low, high, integer) if key in value else None
        if problem:
            problems[key] = problem
    if problems:
        raise ModeError(problems)
    return Mode(**value)


def default_mode(default_text: Optional[str], problem: str) -> CurrentMode:
    """The fallback mode (``MOCK_DEFAULT_MODE``, else healthy), saying why it is in force."""
    if default_text is None:
        return CurrentMode(Mode(), "default", problem)
    try:
        return CurrentMode(parse_mode(default_text), "default", problem)
    except ModeError as error:
        return CurrentMode(Mode(), "default", f"{problem}; MOCK_DEFAULT_MODE is invalid ({error}), using healthy")


def mode_from_parameter(text: str, default_text: Optional[str]) -> CurrentMode:
    try:
        return CurrentMode(parse_mode(text), "parameter")
    except ModeError as error:
        return default_mode(default_text, f"parameter value is invalid ({error})")


def plan(mode: Mode, draw: Callable[[], float]) -> tuple[int, int]:
    """The status to answer and the delay (ms) before answering, under ``mode``."""
    if mode.mode == "failing" or (mode.mode == "flaky" and draw() < mode.failure_rate):
        return mode.failure_status, 0
    if mode.mode == "slow":
        return 200, mode.delay_ms
    return 200, 0


def respond(status: int, body: Mapping[str, Any], headers: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


class MockService:
    """One execution environment's view of the service: the mode cache and the routes."""

    def __init__(
        self,
        parameter: Optional[str],
        default_text: Optional[str] = None,
        cache_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._parameter = parameter
        self._default_text = default_text
        self._cache_s = cache_s
        self._clock = clock
        self._sleep = sleep
        self._draw = draw
        self._ssm: Any = None
        self._cached: Optional[CurrentMode] = None
        self._read_at = 0.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ, **kwargs: Any) -> "MockService":
        raw_cache = environ.get("MOCK_MODE_CACHE_S", "1")
        try:
            cache_s = float(raw_cache)
        except ValueError:
            cache_s = math.nan
        if not cache_s >= 0 or math.isinf(cache_s):
            raise ValueError(f"MOCK_MODE_CACHE_S must be a number of seconds >= 0, got {raw_cache!r}")
        return cls(environ.get("MOCK_MODE_PARAMETER"), environ.get("MOCK_DEFAULT_MODE"), cache_s, **kwargs)

    def current(self) -> CurrentMode:
        """The mode in force, read again once the cached one is ``cache_s`` old."""
        now = self._clock()
        if self._cached is None or now - self._read_at >= self._cache_s:
            self._cached, self._read_at = self._read(), now
        return self._cached

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        path = event.get("rawPath", "")
        method = event.get("requestContext", {}).get("http", {}).get("method", "")
        if path not in ROUTES:
            return respond(404, {"error": f"no route {path!r}", "routes": list(ROUTES)})
        if method != "GET":
            return respond(405, {"error": f"{method or 'no method'} not allowed on {path}"}, {"allow": "GET"})
        current = self.current()
        if path == "/mode":
            return respond(200, {**current.describe(), "settings": asdict(current.mode)})
        status, delay_ms = plan(current.mode, self._draw)
        if delay_ms:
            self._sleep(delay_ms / 1000)
        body: dict[str, Any] = {"path": path, "ok": status == 200, **current.describe()}
        if delay_ms:
            body["delayed_ms"] = delay_ms
        return respond(status, body)

    def _read(self) -> CurrentMode:
        if not self._parameter:
            return default_mode(self._default_text, "MOCK_MODE_PARAMETER is not set")
        try:
            text = self._client().get_parameter(Name=self._parameter)["Parameter"]["Value"]
        except (BotoCoreError, ClientError) as error:
            return default_mode(self._default_text, f"cannot read parameter {self._parameter!r} ({error})")
        return mode_from_parameter(text, self._default_text)

    def _client(self) -> Any:
        """The SSM client, made on first read; short timeouts so an SSM outage costs little."""
        if self._ssm is None:
            config = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2})
            self._ssm = boto3.client("ssm", config=config)
        return self._ssm


_service: Optional[MockService] = None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    global _service
    if _service is None:
        _service = MockService.from_environment()
    return _service.handle(event)
