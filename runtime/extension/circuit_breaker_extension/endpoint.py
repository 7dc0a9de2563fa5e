"""Where the HTTP API listens and who may call it: the configuration needed before registering.

Standard library only and nothing heavy, like every module loaded before the extension
registers: Lambda starts the function's runtime only once all extensions have registered, so
each millisecond spent here is a millisecond of every cold start. ``config`` reads the rest
of the environment after registering; problems with either are reported together.
"""

from __future__ import annotations

from collections.abc import Mapping

PORT = "CIRCUIT_BREAKER_PORT"
COMPAT_PORT = "CIRCUITBREAKER_PORT"  # circuitbreaker-lambda's name, read when PORT is unset
REQUIRE_TOKEN = "CIRCUIT_BREAKER_REQUIRE_TOKEN"
SESSION_TOKEN = "AWS_SESSION_TOKEN"
DEFAULT_PORT = 4243
# circuitbreaker-lambda's layer reads these (CIRCUITBREAKER_TABLE is the one it requires); any of
# them set switches on the compatibility mode (README.md, "Compatibility with circuitbreaker-lambda").
COMPAT_VARIABLES = (
    "CIRCUITBREAKER_TABLE",
    "CIRCUITBREAKER_FAILURE_THRESHOLD",
    "CIRCUITBREAKER_SUCCESS_THRESHOLD",
    "CIRCUITBREAKER_TIMEOUT_MS",
    "CIRCUITBREAKER_MAX_TIMEOUT_MS",
    "CIRCUITBREAKER_WINDOW_DURATION_MS",
)


class ConfigError(ValueError):
    """The environment cannot configure the extension; the message names every bad variable."""


def read_endpoint(environ: Mapping[str, str]) -> tuple[int, str | None]:
    """(port, the token requests must carry or None when opted out); raises :class:`ConfigError`."""
    problems: list[str] = []
    port = DEFAULT_PORT
    name = PORT if PORT in environ else COMPAT_PORT
    if name in environ:
        raw = environ[name].strip()
        if raw.isdigit() and 1 <= int(raw) <= 65535:
            port = int(raw)
        else:
            problems.append(f"{name}: must be a TCP port (1-65535), got {environ[name]!r}")
    require = environ.get(REQUIRE_TOKEN, "true").strip().lower()
    if require not in ("true", "false"):
        problems.append(f"{REQUIRE_TOKEN}: must be true or false, got {environ[REQUIRE_TOKEN]!r}")
    token = environ.get(SESSION_TOKEN) or None
    if require == "true" and token is None:
        problems.append(f"{SESSION_TOKEN}: not set, so no request could pass the token check ({REQUIRE_TOKEN}=false opts out)")
    if problems:
        raise ConfigError("; ".join(problems))
    return port, token if require == "true" else None


def compat_mode(environ: Mapping[str, str]) -> bool:
    """Whether the function is configured for circuitbreaker-lambda's layer: its circuits are then
    served on demand, and its paths (``/circuit/{id}``) without a token, as that layer does."""
    return any(name in environ for name in COMPAT_VARIABLES)
