"""The stack's configuration: one typed, validated model of the ``circuit-breaker:`` config.

Users write structured config in ``Pulumi.<stack>.yaml`` and add a service one field at a time
(``pulumi config set --path 'services.shipping.mock.mode' healthy``). Everything a stack can say
is read here, once, into frozen dataclasses, so the rest of the program never touches raw config.

:func:`parse_config` is pure and reports every problem at once, each under its full key path, so
one ``pulumi preview`` lists everything there is to fix. :func:`load_stack_config` is the thin
Pulumi edge around it. Breaker settings are validated by the state machine's own
:meth:`BreakerSettings.from_mapping`, never here, so the config and the runtime cannot disagree.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Collection, Literal, Mapping, Optional, get_args
from urllib.parse import urlsplit

from breaker.machine import BreakerSettings, SettingsError, State
from checker.budget import MIN_ROOM_S

from infra import limits

NAMESPACE = "circuit-breaker"

MockMode = Literal["healthy", "failing", "slow", "flaky"]
Architecture = Literal["arm64", "x86_64"]
LambdaRuntime = Literal["python3.12", "python3.13"]

# CloudWatch Logs' allowed retentionInDays values. 0 ("never expire") is left out on purpose:
# every log group this project creates must expire.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)

# A service id ends up in resource names and is the circuit's DynamoDB key.
SERVICE_ID_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
# The environment name ends up in every resource name, so it is kept short.
ENVIRONMENT_PATTERN = r"^[a-z][a-z0-9-]{0,15}$"
MAX_CALL_TIMEOUT_S = 30
# The policy pack's default bound on every function's timeout (lambda-timeout-and-memory-bounds,
# maxTimeoutSeconds): a config the program accepts must pass the pack. A checker that ran longer
# than a minute would also overlap the next probe of a once-a-minute schedule.
MAX_CHECKER_TIMEOUT_S = 60
# What a mock answers (runtime/services/mock.py ROUTES, which imports boto3, absent from the
# program's own requirements; tests/unit/test_config.py keeps the two equal). Anything else is 404.
MOCK_ROUTES = ("/health", "/resource", "/mode")
# The policy pack's default productionStacks: a stack of one of these names must protect its
# table and encrypt its logs with the stack's key, or the pack stops its update.
PRODUCTION_STACKS = ("prod", "production")
# A tag key or value that every tagged service accepts: the character class of the Lambda, IAM,
# CloudWatch Logs and SSM patterns ([\p{L}\p{Z}\p{N}_.:/=+\-@]), which Python's re cannot spell,
# and at least one character in a value, as EventBridge Scheduler requires (botocore models).
TAG_PUNCTUATION = "_.:/=+-@"

# Top-level keys, each with the pulumi.Config getter that reads it (structured values are JSON).
TOP_LEVEL_KEYS = {
    "environment": "get",
    "log_retention_days": "get_int",
    "deletion_protection": "get_bool",
    "kms_key": "get_bool",
    "architecture": "get",
    "lambda_runtime": "get",
    "checker_timeout_s": "get_int",
    "tags": "get_object",
    "defaults": "get_object",
    "services": "get_object",
}


class ConfigError(ValueError):
    """The stack's configuration is invalid; ``problems`` lists each one as ``key.path: what is wrong``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in the {NAMESPACE} stack configuration"
            " (fix each with `pulumi config set --path '<key.path>' <value>`):\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )


@dataclass(frozen=True)
class MockSettings:
    """How a mock microservice behaves when deployed (its mode can be switched at run time)."""

    mode: MockMode = "healthy"
    failure_status: int = 503  # what a failing (or flaky, when it fails) call answers
    delay_ms: int = 3000  # how long a slow call takes
    failure_rate: float = 0.5  # the share of calls a flaky mock fails


@dataclass(frozen=True)
class ProbeSettings:
    """What the checker requests on each run: a path on the service and how long it waits."""

    path: str = "/health"
    timeout_s: float = 2.0
    # While the circuit is OPEN or HALF_OPEN a run probes again after this long (checker/probing.py).
    interval_while_open_s: float = 5.0


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """The settings the ``defaults`` section gives every service and each service may override."""

    probe: ProbeSettings = field(default_factory=ProbeSettings)
    schedule: str = "rate(1 minute)"
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    cache_ttl_s: float = 30.0  # how long the extension trusts a cached circuit state
    call_timeout_s: float = 2.0  # how long the business function waits for the service
    unknown_state: State = State.CLOSED  # what the extension assumes before it ever read the table

    def to_mapping(self) -> dict[str, Any]:
        """Plain config data that :func:`parse_config` reads back to equal settings."""
        return {
            "probe": asdict(self.probe),
            "schedule": self.schedule,
            "breaker": self.breaker.to_mapping(),
            "cache_ttl_s": self.cache_ttl_s,
            "call_timeout_s": self.call_timeout_s,
            "unknown_state": self.unknown_state.value,
        }


@dataclass(frozen=True, kw_only=True)
class ServiceConfig(ServiceSettings):
    """One protected service with every setting resolved: a mock, or an external ``url``."""

    id: str
    mock: Optional[MockSettings] = None
    url: Optional[str] = None

    def to_mapping(self) -> dict[str, Any]:
        source = {"mock": asdict(self.mock)} if self.mock is not None else {"url": self.url}
        return {**source, **super().to_mapping()}

    def checker_input(self, base_url: str) -> dict[str, Any]:
        """What this service's schedule hands the checker (runtime/checker/config.py reads it):
        the probe URL is the service's base URL, without a trailing slash, plus ``probe.path``."""
        return {
            "circuit_id": self.id,
            "url": base_url.rstrip("/") + self.probe.path,
            "timeout_s": self.probe.timeout_s,
            "interval_while_open_s": self.probe.interval_while_open_s,
            "breaker": self.breaker.to_mapping(),
        }

    def mode_parameter(self, environment: str) -> str:
        """The SSM parameter that holds this service's mock mode (runtime/services/mock.py)."""
        return f"/circuit-breaker/{environment}/{self.id}/mock-mode"

    def initial_mode(self) -> str:
        """The mock's configured mode as the JSON its parameter and ``MOCK_DEFAULT_MODE`` hold."""
        assert self.mock is not None, f"service {self.id} has no mock"
        return json.dumps(asdict(self.mock), separators=(",", ":"))


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """The whole stack. Build it with :func:`parse_config`, which is what validates it."""

    services: dict[str, ServiceConfig]  # keyed and sorted by service id
    environment: str = "dev"
    log_retention_days: int = 14
    deletion_protection: bool = False
    kms_key: bool = False  # a customer-managed KMS key for the table and the log groups
    architecture: Architecture = "arm64"
    lambda_runtime: LambdaRuntime = "python3.12"
    checker_timeout_s: int = 60  # while a circuit is OPEN a run probes for up to 55 s
    tags: dict[str, str] = field(default_factory=dict)  # extra tags on every resource

    def to_mapping(self) -> dict[str, Any]:
        """Plain config data that :func:`parse_config` reads back to an equal config.

        Every service is written out in full, so the result needs no ``defaults`` section.
        """
        scalars = {key: getattr(self, key) for key in TOP_LEVEL_KEYS if key not in _STRUCTURED_KEYS}
        return {
            **scalars,
            "tags": dict(self.tags),
            "services": {service_id: service.to_mapping() for service_id, service in self.services.items()},
        }


def parse_config(mapping: Mapping[str, Any]) -> StackConfig:
    """Validate plain config data (the ``circuit-breaker:`` keys, without the prefix) into a model.

    Raises :class:`ConfigError` listing every problem at once, each under its full key path.
    """
    problems = _Problems()
    root = problems.section(mapping, "", TOP_LEVEL_KEYS)

    def read(key: str, check: _Check) -> Any:
        return problems.read(root, "", key, check, getattr(StackConfig, key))

    checker_timeout_s = read("checker_timeout_s", _integer(minimum=1, maximum=MAX_CHECKER_TIMEOUT_S))
    defaults = ServiceSettings(
        **_service_settings(problems, problems.section(root.get("defaults"), "defaults", _SETTINGS_KEYS),
                            "defaults", ServiceSettings())
    )
    config = StackConfig(
        environment=read("environment", _matching(ENVIRONMENT_PATTERN)),
        log_retention_days=read("log_retention_days", _pipe(_integer(), _choice(*LOG_RETENTION_DAYS))),
        deletion_protection=read("deletion_protection", _boolean),
        kms_key=read("kms_key", _boolean),
        architecture=read("architecture", _choice(*get_args(Architecture))),
        lambda_runtime=read("lambda_runtime", _choice(*get_args(LambdaRuntime))),
        checker_timeout_s=checker_timeout_s,
        tags=_tags(problems, root.get("tags")),
        services=_services(problems, root.get("services"), defaults, checker_timeout_s),
    )
    if not problems.found:  # quotas are measured on a config that is otherwise valid
        for path, message in limits.problems(config):
            problems.add(path, message)
    if problems.found:
        raise ConfigError(problems.found)
    return config


def load_stack_config() -> StackConfig:
    """Read the stack's ``circuit-breaker:`` config through Pulumi and validate it.

    Every problem, including values Pulumi itself cannot convert, is raised together as one
    ``pulumi.RunError``: the Python language host prints a RunError's message alone, without the
    traceback it prints for any other exception, so a bad config reads as a clean list at preview.
    """
    import pulumi  # here, not at the top: the pure model must not need the Pulumi SDK

    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    unreadable: list[str] = []
    for key, getter in TOP_LEVEL_KEYS.items():
        try:
            value = getattr(config, getter)(key)
        except pulumi.ConfigTypeError as error:
            unreadable.append(f"{key}: must be a valid {error.expect_type}, got {error.value!r}")
            continue
        if value is not None:
            raw[key] = value
    # Physical names carry the environment: defaulting it to the stack's name keeps two stacks
    # of one account (dev, staging) from colliding on function and log group names.
    raw.setdefault("environment", pulumi.get_stack())
    try:
        stack = parse_config(raw)
    except ConfigError as error:
        raise pulumi.RunError(str(ConfigError(unreadable + error.problems))) from None
    problems = unreadable + production_problems(stack, pulumi.get_stack())
    if problems:
        raise pulumi.RunError(str(ConfigError(problems)))
    return stack


def production_problems(config: StackConfig, stack: str) -> list[str]:
    """What the policy pack's production rules would refuse, said before any resource is declared."""
    if stack not in PRODUCTION_STACKS:
        return []
    return [f"{key}: must be true in production stack '{stack}' (policy {policy})"
            for key, policy in (("deletion_protection", "dynamodb-deletion-protection-in-production"),
                                ("kms_key", "log-group-kms-in-production")) if not getattr(config, key)]


# -- reading sections ----------------------------------------------------------------------

_STRUCTURED_KEYS = frozenset({"tags", "defaults", "services"})
_SETTINGS_KEYS = ("probe", "schedule", "breaker", "cache_ttl_s", "call_timeout_s", "unknown_state")
_SERVICE_KEYS = ("mock", "url", *_SETTINGS_KEYS)
_MOCK_KEYS = tuple(MockSettings.__dataclass_fields__)
_PROBE_KEYS = tuple(ProbeSettings.__dataclass_fields__)
_SERVICE_ID = re.compile(SERVICE_ID_PATTERN)


class _Invalid(Exception):
    """Raised by a check; the message says what is wrong with the value."""


_Check = Callable[[Any], Any]


class _Problems:
    """Every problem found so far, as ``key.path: message``, so one run reports them all."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.found.append(f"{path or NAMESPACE}: {message}")

    def section(self, value: Any, path: str, keys: Optional[Collection[str]] = None) -> Mapping[Any, Any]:
        """The mapping at ``path`` (empty when absent or not a mapping), naming each unknown key."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(path, f"must be a mapping, got {value!r}")
            return {}
        if keys is not None:
            for key in sorted(set(value) - set(keys), key=str):
                self.add(_join(path, key), f"unknown key; expected one of: {', '.join(keys)}")
        return value

    def read(self, section: Mapping[Any, Any], path: str, key: str, check: _Check, default: Any) -> Any:
        """The checked value of ``key``, or ``default`` when it is absent (or null, or invalid)."""
        value = section.get(key)
        if value is None:
            return default
        try:
            return check(value)
        except _Invalid as error:
            self.add(_join(path, key), str(error))
            return default


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _service_settings(
    problems: _Problems, section: Mapping[Any, Any], path: str, base: ServiceSettings
) -> dict[str, Any]:
    """The overridable settings at ``path``, each falling back to ``base`` when not given."""

    def read(key: str, check: _Check) -> Any:
        return problems.read(section, path, key, check, getattr(base, key))

    return {
        "probe": _probe(problems, section.get("probe"), _join(path, "probe"), base.probe),
        "schedule": read("schedule", _schedule),
        "breaker": _breaker(problems, section.get("breaker"), _join(path, "breaker"), base.breaker),
        "cache_ttl_s": read("cache_ttl_s", _number(above=0)),
        "call_timeout_s": read("call_timeout_s", _number(above=0, maximum=MAX_CALL_TIMEOUT_S)),
        "unknown_state": read("unknown_state", _pipe(_choice(State.CLOSED.value, State.OPEN.value), State)),
    }


def _services(
    problems: _Problems, raw: Any, defaults: ServiceSettings, checker_timeout_s: int
) -> dict[str, ServiceConfig]:
    section = problems.section(raw, "services")
    if raw is None or (isinstance(raw, Mapping) and not raw):
        problems.add("services", "at least one service is required, e.g. "
                     "`pulumi config set --path 'services.payments.mock.mode' healthy`")
    return {
        str(service_id): _service(problems, str(service_id), section[service_id], defaults, checker_timeout_s)
        for service_id in sorted(section, key=str)
    }


def _service(
    problems: _Problems, service_id: str, raw: Any, defaults: ServiceSettings, checker_timeout_s: int
) -> ServiceConfig:
    path = f"services.{service_id}"
    if not _SERVICE_ID.fullmatch(service_id):
        problems.add(path, f"service id must match {SERVICE_ID_PATTERN} (a lowercase letter, then lowercase "
                     "letters, digits or hyphens; at most 32 characters)")
    section = problems.section(raw, path, _SERVICE_KEYS)
    given_mock, given_probe = section.get("mock"), section.get("probe")
    if given_mock is not None and section.get("url") is not None:
        problems.add(path, "set either mock or url, not both")
    url = problems.read(section, path, "url", _url, None)
    # Neither mock nor url: the service gets a mock with the built-in (healthy) settings.
    mock = _mock(problems, given_mock, f"{path}.mock") if url is None or given_mock is not None else None
    settings = _service_settings(problems, section, path, defaults)

    def inherited(key: str) -> str:
        given = isinstance(given_probe, Mapping) and given_probe.get(key) is not None
        return "" if given else " (inherited)"

    timeout_s = settings["probe"].timeout_s
    if timeout_s > checker_timeout_s - MIN_ROOM_S:
        problems.add(f"{path}.probe.timeout_s", f"must leave {MIN_ROOM_S:g} s of checker_timeout_s "
                     f"({checker_timeout_s}) for the checker's DynamoDB requests and its log line "
                     f"(runtime/checker/budget.py), so at most {checker_timeout_s - MIN_ROOM_S:g}; "
                     f"got {timeout_s!r}" + inherited("timeout_s"))
    probe_route = urlsplit(settings["probe"].path).path
    if mock is not None and probe_route not in MOCK_ROUTES:
        problems.add(f"{path}.probe.path", f"the mock answers 404 on {probe_route!r}, so every probe would fail: "
                     f"use one of {', '.join(MOCK_ROUTES)}" + inherited("path"))
    # A half-open trial is one call (the business function's or the checker's probe); a lease
    # that lapses before it reports lets a second trial out beside it.
    longest_call_s = max(settings["call_timeout_s"], timeout_s)
    lease_s = settings["breaker"].trial_lease_s
    if lease_s <= longest_call_s:
        problems.add(f"{path}.breaker.trial_lease_s", f"must be > the longest trial call ({longest_call_s:g} s, "
                     f"from call_timeout_s and probe.timeout_s) so a trial reports before its lease lapses, "
                     f"got {lease_s!r}")
    return ServiceConfig(id=service_id, mock=mock, url=url, **settings)


def _mock(problems: _Problems, raw: Any, path: str) -> MockSettings:
    section = problems.section(raw, path, _MOCK_KEYS)

    def read(key: str, check: _Check) -> Any:
        return problems.read(section, path, key, check, getattr(MockSettings, key))

    return MockSettings(
        mode=read("mode", _choice(*get_args(MockMode))),
        failure_status=read("failure_status", _http_error_status),
        delay_ms=read("delay_ms", _integer(minimum=1)),
        failure_rate=read("failure_rate", _number(minimum=0, maximum=1)),
    )


def _probe(problems: _Problems, raw: Any, path: str, base: ProbeSettings) -> ProbeSettings:
    section = problems.section(raw, path, _PROBE_KEYS)
    return ProbeSettings(
        path=problems.read(section, path, "path", _matching(r"^/\S*$"), base.path),
        timeout_s=problems.read(section, path, "timeout_s", _number(above=0), base.timeout_s),
        interval_while_open_s=problems.read(
            section, path, "interval_while_open_s", _number(minimum=1, maximum=60), base.interval_while_open_s
        ),
    )


def _breaker(problems: _Problems, raw: Any, path: str, base: BreakerSettings) -> BreakerSettings:
    """``base`` with the given settings merged over it key by key; a null clears
    ``slow_call_threshold_ms``. The state machine validates the result; its problem keys are
    prefixed with ``path``."""
    overrides = problems.section(raw, path)
    if not overrides:
        return base
    try:
        return BreakerSettings.from_mapping({**base.to_mapping(), **_numbers_from_strings(overrides)})
    except SettingsError as error:
        for key, message in error.problems.items():
            problems.add(f"{path}.{key}", message)
        return base


def _tags(problems: _Problems, raw: Any) -> dict[str, str]:
    """The extra tags; a null value drops the tag, as it would any other setting."""
    section = {key: value for key, value in problems.section(raw, "tags").items() if value is not None}
    for key in section:
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            problems.add(f"tags.{key}", "a tag key must be 1 to 128 characters and not start with 'aws:'")
        elif not _taggable_text(key):
            problems.add(f"tags.{key}", f"a tag key may hold only letters, digits, spaces and {TAG_PUNCTUATION} "
                         "(the pattern Lambda, IAM, CloudWatch Logs and SSM enforce)")
    return {str(key): problems.read(section, "tags", key, _tag_value, "") for key in sorted(section, key=str)}


# -- checks: each returns the value to keep, or raises _Invalid ---------------------------------

_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_RATE = re.compile(r"rate\((0|[1-9]\d*) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((.*)\)")
_CRON_FIELD = re.compile(r"[0-9A-Za-z,*/?#-]+")


def _as_number(value: Any) -> Optional[float]:
    """The number in ``value``, also when written as text, else None.

    ``pulumi config set --path`` stores integers and booleans typed but every other value as
    text, so ``failure_rate 0.2`` arrives as ``"0.2"``; it must still read as a number.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER_TEXT.fullmatch(text):
            return int(text)
        if _DECIMAL_TEXT.fullmatch(text):
            return float(text)
    return None


def _numbers_from_strings(value: Any) -> Any:
    """``value`` with every numeric text inside it read as a number (see :func:`_as_number`)."""
    if isinstance(value, Mapping):
        return {key: _numbers_from_strings(item) for key, item in value.items()}
    number = _as_number(value) if isinstance(value, str) else None
    return value if number is None else number


def _within(
    number: float, minimum: Optional[float], above: Optional[float], maximum: Optional[float]
) -> None:
    if minimum is not None and number < minimum:
        raise _Invalid(f"must be >= {minimum}, got {number!r}")
    if above is not None and not number > above:
        raise _Invalid(f"must be > {above}, got {number!r}")
    if maximum is not None and number > maximum:
        raise _Invalid(f"must be <= {maximum}, got {number!r}")


def _integer(*, minimum: Optional[int] = None, maximum: Optional[int] = None) -> _Check:
    def check(value: Any) -> int:
        number = _as_number(value)
        if not isinstance(number, int):
            raise _Invalid(f"must be an integer, got {value!r}")
        _within(number, minimum, None, maximum)
        return number

    return check


def _number(
    *, minimum: Optional[float] = None, above: Optional[float] = None, maximum: Optional[float] = None
) -> _Check:
    def check(value: Any) -> float:
        number = _as_number(value)
        if number is None or not math.isfinite(number):
            raise _Invalid(f"must be a number, got {value!r}")
        _within(number, minimum, above, maximum)
        return float(number)

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, got {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, got {value!r}")
    return value


def _choice(*options: Any) -> _Check:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or value not in options:
            raise _Invalid(f"must be one of {', '.join(map(str, options))}; got {value!r}")
        return value

    return check


def _matching(pattern: str) -> _Check:
    compiled = re.compile(pattern)

    def check(value: Any) -> str:
        if not compiled.fullmatch(_text(value)):
            raise _Invalid(f"must match {pattern}, got {value!r}")
        return value

    return check


def _pipe(*checks: _Check) -> _Check:
    """One check made of several, each applied to what the previous one returned."""

    def check(value: Any) -> Any:
        for step in checks:
            value = step(value)
        return value

    return check


def _http_error_status(value: Any) -> int:
    status = _integer()(value)
    if not 400 <= status <= 599:
        raise _Invalid(f"must be an HTTP 4xx or 5xx status, got {value!r}")
    return status


def _url(value: Any) -> str:
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in text):
        raise _Invalid(f"must be an http:// or https:// URL with a host, got {value!r}")
    if "?" in text or "#" in text:
        raise _Invalid(f"must have no query string or fragment: the checker appends probe.path to the URL, "
                       f"which would put the path inside the query, got {value!r}")
    return text


def _schedule(value: Any) -> str:
    """An EventBridge Scheduler expression that recurs: ``rate(...)`` or ``cron(...)``, never ``at(...)``."""
    text = _text(value)
    rate = _RATE.fullmatch(text)
    if rate:
        count, unit = int(rate[1]), rate[2]
        if count < 1:
            raise _Invalid(f"a rate must be at least 1, got {value!r}")
        if (count == 1) == unit.endswith("s"):
            raise _Invalid(f"use a singular unit with 1 and a plural one otherwise "
                           f"(rate(1 minute), rate(5 minutes)), got {value!r}")
        return text
    cron = _CRON.fullmatch(text)
    if cron:
        fields = cron[1].split()
        if len(fields) != 6 or not all(_CRON_FIELD.fullmatch(part) for part in fields):
            raise _Invalid(f"a cron expression has 6 fields (minutes hours day-of-month month "
                           f"day-of-week year), got {value!r}")
        if (fields[2] == "?") == (fields[4] == "?"):
            raise _Invalid(f"exactly one of day-of-month and day-of-week must be '?', got {value!r}")
        return text
    if text.startswith("at("):
        raise _Invalid(f"a one-time at(...) schedule is not allowed, a checker must recur; got {value!r}")
    raise _Invalid(f"must be rate(N minute|minutes|hour|hours|day|days) or cron(6 fields), got {value!r}")


def _taggable_text(text: str) -> bool:
    return all(unicodedata.category(c)[0] in "LNZ" or c in TAG_PUNCTUATION for c in text)


def _tag_value(value: Any) -> str:
    # `pulumi config set --path tags.cost-center 1234` stores an integer: a tag value is text.
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else _text(value)
    if not 1 <= len(text) <= 256:
        raise _Invalid(f"a tag value must be 1 to 256 characters (EventBridge Scheduler refuses an empty one), "
                       f"got {len(text)}")
    if not _taggable_text(text):
        raise _Invalid(f"a tag value may hold only letters, digits, spaces and {TAG_PUNCTUATION} (the pattern "
                       f"Lambda, IAM, CloudWatch Logs and SSM enforce), got {text!r}")
    return text
