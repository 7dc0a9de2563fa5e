"""What the emulator raises and returns: errors, invoke results and extension timings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .lambda_api_model import Failure, Outcome

TIMED_OUT = "Sandbox.Timedout"  # Lambda's error type for a phase that overran its limit


class EmulatorError(Exception):
    """Base of what the emulator raises."""


class InitError(EmulatorError):
    """Init failed; ``failure`` says who reported or caused what."""

    def __init__(self, failure: Failure, log_dir: Path) -> None:
        super().__init__(
            f"init failed: {failure.party}: {failure.error_type}: {failure.message} "
            f"(process logs in {log_dir})"
        )
        self.failure = failure


class InvokeInProgressError(EmulatorError):
    """A second invoke while one runs: an execution environment serves one at a time."""


class EnvironmentClosedError(EmulatorError):
    """The environment is not ready: not started yet, or shut down."""


@dataclass(frozen=True)
class InvokeResult:
    """What the caller of Invoke sees, with the timings and the fate of the environment."""

    request_id: str
    status: str  # "success", "error" (function error), "timeout" or "failure" (a crash)
    payload: bytes  # the runtime's response or error document, or Lambda's error document
    error_type: str | None
    duration_ms: float  # start to the end of the invoke phase (or its timeout or failure)
    runtime_duration_ms: float | None  # start to the runtime's answer
    reset: Failure | None  # why the environment was shut down after this invoke

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class ExtensionTiming:
    """Cold-start cost of one external extension, measured from its process start."""

    name: str
    to_register_ms: float | None
    to_first_next_ms: float | None


def invoke_result(
    request_id: str, outcome: Outcome | None, reset: Failure | None, started: float, ended: float
) -> InvokeResult:
    """The result from the runtime's answer if it gave one (the caller had it already, even
    if the environment failed afterwards), else from why the invoke ended without one."""
    duration_ms = (ended - started) * 1000
    if outcome is not None:
        runtime_ms = (outcome.at - started) * 1000
        kind, payload, error_type = outcome.kind, outcome.payload, outcome.error_type
        return InvokeResult(request_id, kind, payload, error_type, duration_ms, runtime_ms, reset)
    if reset is None:
        raise ValueError("an invoke without an answer ended by a timeout or a failure")
    status = "timeout" if reset.error_type == TIMED_OUT else "failure"
    document = json.dumps({"errorType": reset.error_type, "errorMessage": reset.message})
    return InvokeResult(
        request_id, status, document.encode(), reset.error_type, duration_ms, None, reset
    )
