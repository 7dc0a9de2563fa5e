"""What the local Lambda service says and records: refusals, failures, registrations, the
events it delivered and the answers it received.

Plain frozen records, so that the emulator can hand snapshots to tests and to the local stack
without exposing the live state behind the lock in ``lambda_api``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

INVOKE = "INVOKE"
SHUTDOWN = "SHUTDOWN"
RUNTIME = "runtime"  # the target name of what is delivered to the runtime


class ApiError(Exception):
    """A refused request, rendered as ``{errorMessage, errorType}`` with ``status``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def forbidden(error_type: str, message: str) -> ApiError:
    # The service answers almost every misuse with 403 and a typed body.
    return ApiError(403, error_type, message)


def decode_body(body: bytes) -> Any:
    """JSON when it parses, else the text: error reports are JSON by convention only."""
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class Failure:
    """Why init or an invoke failed: which party, the Lambda error type, a readable message."""

    party: str
    error_type: str
    message: str
    body: Any = None


@dataclass(frozen=True)
class ReportedError:
    """An ``init/error`` or ``exit/error`` call (extension) or ``init/error`` (runtime)."""

    kind: str  # "init" or "exit"
    error_type: str
    body: Any
    at: float  # monotonic

    @property
    def message(self) -> str:
        if isinstance(self.body, dict) and "errorMessage" in self.body:
            return str(self.body["errorMessage"])
        return self.body if isinstance(self.body, str) else json.dumps(self.body)


@dataclass(frozen=True)
class ExtensionInfo:
    """A registration as the service saw it; times are ``time.monotonic()`` values."""

    name: str
    identifier: str
    events: tuple[str, ...]
    external: bool
    registered_at: float
    first_next_at: float | None
    error: ReportedError | None


@dataclass(frozen=True)
class DeliveredEvent:
    """One answer to a long poll: an extension's event or the runtime's invocation."""

    target: str  # extension name, or "runtime"
    headers: dict[str, str]
    body: Any
    at: float


@dataclass(frozen=True)
class Invocation:
    """One invoke as the runtime and the extensions are told about it."""

    request_id: str
    payload: bytes
    deadline_ms: int  # Unix epoch milliseconds
    function_arn: str
    trace_id: str

    def runtime_headers(self) -> dict[str, str]:
        """The headers of the runtime's invocation/next answer."""
        return {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
        }

    def extension_event(self) -> dict[str, Any]:
        """The INVOKE event of the Extensions API."""
        return {
            "eventType": INVOKE,
            "deadlineMs": self.deadline_ms,
            "requestId": self.request_id,
            "invokedFunctionArn": self.function_arn,
            "tracing": {"type": "X-Amzn-Trace-Id", "value": self.trace_id},
        }


@dataclass(frozen=True)
class Outcome:
    """What the runtime posted for the current invocation."""

    kind: str  # "success" or "error"
    payload: bytes
    error_type: str | None
    at: float
