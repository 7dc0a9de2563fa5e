"""SHUTDOWN under Lambda's rules: the extension must be gone by the event's deadline.

The extension runs from the built layer in the local Lambda execution environment, which sends
SHUTDOWN with a deadline and SIGKILLs whatever still runs when it passes, as Lambda does. An
extension that exits on its own before the deadline exits 0; one still tearing down is killed
(-9). That ordering is what the test asserts, not a speed.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Iterator

import pytest
from extension_harness import call, free_port

from local_aws.emulator import ExecutionEnvironment

QUEUED = 80


@pytest.fixture
def environment(tmp_path: Path, layer_dir: Path, dynamodb, table: str, proxy) -> Iterator[ExecutionEnvironment]:
    """A function environment with the real extension; DynamoDB reached through ``proxy``; a 1 s shutdown phase."""
    code = tmp_path / "function"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return None\n")
    port = free_port()
    env = ExecutionEnvironment(
        "shutdown-test",
        "app.handler",
        [code, layer_dir / "python"],
        layer_dir=layer_dir,
        env={
            **dynamodb.environment(),
            "AWS_ENDPOINT_URL_DYNAMODB": proxy.endpoint_url,
            "CIRCUIT_BREAKER_TABLE": table,
            "CIRCUIT_BREAKER_CIRCUITS": json.dumps({"payments": {}}),
            "CIRCUIT_BREAKER_PORT": str(port),
            "CIRCUIT_BREAKER_PYTHON": sys.executable,
        },
        shutdown_timeout_s=1.0,
        log_dir=tmp_path / "logs",
    )
    env.port = port  # type: ignore[attr-defined]
    env.start()
    yield env
    env.shutdown()
    print(env.log("circuit-breaker"))  # shown by pytest only when the test failed


def _extension(env: ExecutionEnvironment):
    return next(p for p in env.processes if p.name == "circuit-breaker")


def _logs(env: ExecutionEnvironment, event: str) -> list[dict]:
    lines = (json.loads(line) for line in env.log("circuit-breaker").splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("event") == event]


def test_with_80_queued_reports_the_extension_is_gone_before_the_shutdown_deadline(environment, proxy) -> None:
    """80 reports queued while DynamoDB was away, DynamoDB back, a deadline 1 s away: the flush
    uses the budget up to its margin, and the process has still ended (exit 0) when the deadline
    passes, where the environment kills what is left (-9)."""
    assert environment.invoke({}).status == "success"
    # A success first, so that every failure below is judged (and has to be written).
    assert call(environment.port, "POST", "/circuits/payments/success", {}, token=environment.session_token)[0] == 200
    proxy.cut()
    for _ in range(QUEUED):
        status, answer = call(environment.port, "POST", "/circuits/payments/failure", {"error": "HTTP 503"}, token=environment.session_token)
        assert status == 202 and answer["pending"] is True
    proxy.restore()

    environment.shutdown()

    assert _extension(environment).returncode == 0, f"killed at the deadline ({_extension(environment).returncode})"
    shutdown = _logs(environment, "shutdown")
    assert len(shutdown) == 1 and shutdown[0]["pending_before"] == QUEUED
    fates = shutdown[0]["written"] + shutdown[0]["dropped"] + shutdown[0]["in_flight"] + shutdown[0]["pending_left"]
    assert fates == QUEUED, shutdown[0]  # the log accounts for every report, exactly once
    assert shutdown[0]["written"] == QUEUED  # one write for all 80, well inside the budget
