"""The extension's life against the Extensions API: bind first, register, loop, report errors, exit."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from extension_harness import ExtensionProcess, invoke_event


def test_binds_before_registering_then_waits_for_events(launch) -> None:
    extension = launch({"payments": {}})
    registration = extension.stub.wait_registered()

    assert registration.health_status == 200  # the stub asked /health from inside register
    assert registration.headers["Lambda-Extension-Name"] == "circuit-breaker"
    assert registration.body == {"events": ["INVOKE", "SHUTDOWN"]}
    assert extension.stub.state.bad_identifiers == 0  # event/next carried the identifier it was given
    extension.process.wait_logs("ready")
    events = [entry["event"] for entry in extension.process.logs()]
    assert events.index("start") < events.index("registered") < events.index("ready")

    extension.stub.invoke()
    assert extension.get("payments")[0] == 200
    assert extension.shut_down() == 0
    assert extension.stub.state.errors == []
    assert extension.process.logs("shutdown")[0]["pending_left"] == 0


def _fails_init(launch, circuits, env, error_type: str, *needles: str) -> None:
    extension = launch(circuits, env=env, ready=False)
    error = extension.stub.wait_error()
    assert extension.process.wait_exit() != 0
    assert error.path == "init/error"
    assert error.error_type == error_type
    assert error.identifier == extension.stub.state.identifier
    assert error.body["errorType"] == error_type
    for needle in needles:
        assert needle in error.body["errorMessage"]
    assert extension.stub.state.next_calls == 0


def test_missing_table_name_is_an_init_error(launch) -> None:
    _fails_init(launch, {"payments": {}}, {"CIRCUIT_BREAKER_TABLE": None}, "Extension.ConfigInvalid", "CIRCUIT_BREAKER_TABLE")


def test_bad_settings_json_is_an_init_error(launch) -> None:
    _fails_init(
        launch, {}, {"CIRCUIT_BREAKER_CIRCUITS": "{not json"}, "Extension.ConfigInvalid", "CIRCUIT_BREAKER_CIRCUITS", "JSON"
    )


def test_invalid_settings_name_the_circuit_and_the_setting(launch) -> None:
    _fails_init(
        launch,
        {"payments": {"minimum_failures": 0, "open_duration_s": float("inf")}, "ok": {}},
        {"CIRCUIT_BREAKER_UNKNOWN_STATE": "MAYBE"},
        "Extension.ConfigInvalid",
        "'payments'",
        "minimum_failures",
        "open_duration_s: must be a finite number",
        "CIRCUIT_BREAKER_UNKNOWN_STATE",
    )


def test_boto3_missing_is_an_init_error_that_says_so(launch, tmp_path: Path) -> None:
    # An interpreter without site-packages stands in for a runtime whose SDK cannot be found.
    bare = tmp_path / "python-without-sdk"
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    bare.chmod(0o755)
    _fails_init(launch, {"payments": {}}, {"CIRCUIT_BREAKER_PYTHON": str(bare)}, "Extension.SdkUnavailable", "boto3", "/var/runtime")


def test_port_in_use_is_an_init_error(launch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        _fails_init(launch, {"payments": {}}, {"CIRCUIT_BREAKER_PORT": str(port)}, "Extension.PortUnavailable", str(port))


def test_lost_extensions_api_reports_exit_error(launch) -> None:
    extension = launch({"payments": {}})
    extension.stub.state.identifier = "rotated"  # the next event/next is refused (403)
    extension.stub.deliver(invoke_event())  # answers the event/next already waiting
    error = extension.stub.wait_error()
    assert extension.process.wait_exit() != 0
    assert error.path == "exit/error"
    assert error.error_type == "Extension.Unexpected"


def test_without_runtime_api_it_exits_non_zero(layer_dir: Path) -> None:
    process = ExtensionProcess(layer_dir, {"CIRCUIT_BREAKER_TABLE": "t", "CIRCUIT_BREAKER_CIRCUITS": "{}"})
    assert process.wait_exit() != 0
    assert "AWS_LAMBDA_RUNTIME_API" in process.logs("fatal")[0]["error"]
