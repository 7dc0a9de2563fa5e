"""Compatibility with circuitbreaker-lambda: functions written for its layer run unchanged.

The extension runs as a real process configured only with ``CIRCUITBREAKER_*`` variables (no
``CIRCUIT_BREAKER_CIRCUITS``, no ``CIRCUIT_BREAKER_TABLE``), and a function written the way
circuitbreaker-lambda's Python example is (``compat_function.py``: urllib, no token, its own
name as the circuit id) drives it through a trip and a recovery against a local stub service.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from breaker.machine import BreakerSettings, State, force
from breaker.store import CircuitStore
from circuit_breaker_extension.config import MAX_ON_DEMAND, load_config
from circuit_breaker_extension.endpoint import ConfigError
from extension_harness import TOKEN, call, free_port

FUNCTION_NAME = "orders-checkout"


class Dependency:
    """A local HTTP service that answers 200 or 503 as told, counting the calls it gets."""

    def __init__(self) -> None:
        self.healthy = True
        self.calls = 0
        dependency = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                dependency.calls += 1
                status = 200 if dependency.healthy else 503
                body = json.dumps({"ok": dependency.healthy}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/resource"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def dependency() -> Iterator[Dependency]:
    service = Dependency()
    yield service
    service.close()


def compat_env(table: str, port: int, **settings: str) -> dict[str, Any]:
    """What a function configured for circuitbreaker-lambda sets, and nothing of this project's."""
    return {
        "CIRCUIT_BREAKER_TABLE": None,
        "CIRCUIT_BREAKER_CIRCUITS": None,
        "CIRCUIT_BREAKER_PORT": None,
        "CIRCUITBREAKER_TABLE": table,
        "CIRCUITBREAKER_PORT": str(port),
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        **{f"CIRCUITBREAKER_{name.upper()}": value for name, value in settings.items()},
    }


def load_function(monkeypatch: pytest.MonkeyPatch, env: dict[str, Any], dependency_url: str) -> Any:
    """Import compat_function.py afresh under the function's environment, as Lambda would."""
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEPENDENCY_URL", dependency_url)
    spec = importlib.util.spec_from_file_location("compat_function", Path(__file__).with_name("compat_function.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke(function: Any) -> tuple[int, dict[str, Any]]:
    answer = function.handler({}, None)
    return answer["statusCode"], json.loads(answer["body"])


def test_a_circuitbreaker_lambda_function_trips_and_recovers_unchanged(
    launch, table, stored, dependency, monkeypatch
) -> None:
    port = free_port()
    # FAILURE_THRESHOLD=2: two judged failures fleet-wide, 35 % of them repeats. In one
    # environment after a success: failure 1 is judged (not a repeat), failure 2 is a repeat.
    env = compat_env(table, port, failure_threshold="2", success_threshold="2", timeout_ms="300")
    extension = launch({}, env=env, port=port)
    function = load_function(monkeypatch, env, dependency.url)

    assert invoke(function) == (200, {"success": True, "result": {"ok": True}, "state": "CLOSED"})
    dependency.healthy = False
    status, body = invoke(function)
    assert (status, body["state"]) == (500, "CLOSED")
    status, body = invoke(function)
    assert (status, body["state"]) == (500, "OPEN")  # the trip, on the second failure in a row
    calls_before = dependency.calls
    assert invoke(function) == (503, {"success": False, "error": "Circuit OPEN", "state": "OPEN"})
    assert dependency.calls == calls_before  # short-circuited: the dependency was not called

    record = stored(FUNCTION_NAME)
    assert record.state is State.OPEN
    assert record.next_attempt_at - record.opened_at == 300  # CIRCUITBREAKER_TIMEOUT_MS

    dependency.healthy = True
    time.sleep(max(record.next_attempt_at / 1000 - time.time(), 0) + 0.02)  # the open period, 0.3 s
    status, body = invoke(function)  # first trial: one success of the two needed
    assert (status, body["state"]) == (200, "HALF_OPEN")
    status, body = invoke(function)  # second trial: CIRCUITBREAKER_SUCCESS_THRESHOLD reached
    assert (status, body["state"]) == (200, "CLOSED")
    assert invoke(function) == (200, {"success": True, "result": {"ok": True}, "state": "CLOSED"})
    assert stored(FUNCTION_NAME).state is State.CLOSED

    # The circuit was never configured: the function's first lookup added it.
    assert call(port, "GET", "/health")[1]["circuits"] == [FUNCTION_NAME]
    assert extension.process.logs("fatal") == []


def test_an_item_left_by_circuitbreaker_lambda_does_not_block_the_trip(
    launch, table, dynamodb, stored, dependency, monkeypatch
) -> None:
    item = {"circuitState": "CLOSED", "failureCount": 0, "successCount": 0, "nextAttempt": 0, "schemaVersion": 1}
    dynamodb.client().put_item(
        TableName=table, Item={"id": {"S": FUNCTION_NAME}, **{k: _attribute(v) for k, v in item.items()}}
    )
    port = free_port()
    env = compat_env(table, port, failure_threshold="2")
    launch({}, env=env, port=port)
    function = load_function(monkeypatch, env, dependency.url)
    assert invoke(function)[0] == 200
    dependency.healthy = False
    assert [invoke(function)[1]["state"] for _ in range(2)] == ["CLOSED", "OPEN"]


def _attribute(value: Any) -> dict[str, str]:
    return {"S": value} if isinstance(value, str) else {"N": str(value)}


def test_the_new_paths_keep_the_token_in_compatibility_mode(launch, table) -> None:
    port = free_port()
    launch({}, env=compat_env(table, port), port=port)
    assert call(port, "GET", f"/circuit/{FUNCTION_NAME}", token=None)[0] == 200
    assert call(port, "GET", f"/circuits/{FUNCTION_NAME}", token=None)[0] == 401
    assert call(port, "POST", f"/circuits/{FUNCTION_NAME}/failure", token=None)[0] == 401
    assert call(port, "GET", "/health", token=None)[0] == 401
    status, answer = call(port, "GET", "/circuits/other-function", token=TOKEN)  # on demand here too
    assert (status, answer["state"], answer["allowed"]) == (200, "CLOSED", True)


def test_an_id_added_on_demand_is_read_from_the_table_at_its_first_lookup(launch, table, dynamodb) -> None:
    store = CircuitStore(dynamodb.client(), table)
    store.apply("held-open", lambda record: force(record, State.FORCED_OPEN, int(time.time() * 1000)))
    port = free_port()
    launch({}, env=compat_env(table, port), port=port)
    assert call(port, "GET", "/circuit/first", token=None)[1]["stale"] is False
    # Added right after another: the cache's reload is not held back by its invalidation rate limit.
    status, answer = call(port, "GET", "/circuit/held-open", token=None)
    assert (status, answer["state"], answer["allowed"], answer["stale"]) == (200, "FORCED_OPEN", False, False)


def test_on_demand_ids_are_bounded(launch, table) -> None:
    port = free_port()
    launch({}, env=compat_env(table, port), port=port)
    assert call(port, "GET", "/circuit/bad%20id", token=None)[0] == 400  # not counted
    assert call(port, "GET", "/circuit/" + "x" * 257, token=None)[0] == 400
    for number in range(MAX_ON_DEMAND):
        assert call(port, "GET", f"/circuit/fn-{number}", token=None)[0] == 200
    status, answer = call(port, "POST", "/circuit/one-too-many/failure", token=None)
    assert status == 404
    assert f"{MAX_ON_DEMAND}" in answer["error"] and "one-too-many" in answer["error"]
    assert call(port, "GET", "/circuit/one-too-many", token=None)[0] == 404
    assert call(port, "GET", "/circuit/fn-0", token=None)[0] == 200  # the ones taken stay served
    assert len(call(port, "GET", "/health")[1]["circuits"]) == MAX_ON_DEMAND


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("CIRCUITBREAKER_FAILURE_THRESHOLD", "five", "whole number"),
        ("CIRCUITBREAKER_FAILURE_THRESHOLD", "0", "minimum_failures): must be >= 1"),
        ("CIRCUITBREAKER_SUCCESS_THRESHOLD", "-2", "whole number"),
        ("CIRCUITBREAKER_TIMEOUT_MS", "1.5", "whole number"),
        ("CIRCUITBREAKER_WINDOW_DURATION_MS", "500", "window_s): must be >= 1"),
        ("CIRCUITBREAKER_PORT", "http", "TCP port"),
    ],
)
def test_an_invalid_circuitbreaker_value_fails_init_naming_it(launch, table, variable, value, needle) -> None:
    port = free_port()
    extension = launch({}, env={**compat_env(table, port), variable: value}, port=port, ready=False)
    error = extension.stub.wait_error()
    assert extension.process.wait_exit() != 0
    assert (error.path, error.error_type) == ("init/error", "Extension.ConfigInvalid")
    assert variable in error.body["errorMessage"]
    assert needle in error.body["errorMessage"]


# -- the mapping, in-process ---------------------------------------------------------------------


def test_circuitbreaker_variables_map_onto_breaker_settings() -> None:
    config = load_config(
        {
            "CIRCUITBREAKER_TABLE": "cb-table",
            "CIRCUITBREAKER_FAILURE_THRESHOLD": "7",
            "CIRCUITBREAKER_SUCCESS_THRESHOLD": "3",
            "CIRCUITBREAKER_TIMEOUT_MS": "1500",
            "CIRCUITBREAKER_MAX_TIMEOUT_MS": "20000",
            "CIRCUITBREAKER_WINDOW_DURATION_MS": "45000",
        }
    )
    assert config.table == "cb-table"
    assert config.circuits == {}
    assert config.on_demand == BreakerSettings(
        minimum_failures=7,
        half_open_success_threshold=3,
        open_duration_s=1.5,
        max_open_duration_s=20.0,
        window_s=45.0,
    )
    assert config.on_demand.failure_rate_threshold == BreakerSettings().failure_rate_threshold


def test_unset_circuitbreaker_variables_take_that_library_s_defaults() -> None:
    config = load_config({"CIRCUITBREAKER_TABLE": "cb-table"})
    assert config.on_demand == BreakerSettings(
        minimum_failures=5, half_open_success_threshold=2, open_duration_s=10.0, max_open_duration_s=60.0, window_s=60.0
    )


def test_compatibility_keeps_this_project_s_table_and_circuits_when_given() -> None:
    config = load_config(
        {
            "CIRCUIT_BREAKER_TABLE": "ours",
            "CIRCUITBREAKER_TABLE": "theirs",
            "CIRCUIT_BREAKER_CIRCUITS": '{"payments": {}}',
            "CIRCUITBREAKER_TIMEOUT_MS": "90000",  # over the default MAX_TIMEOUT_MS: capped, as that library does
        }
    )
    assert config.table == "ours"
    assert set(config.circuits) == {"payments"}
    assert (config.on_demand.open_duration_s, config.on_demand.max_open_duration_s) == (60.0, 60.0)


def test_without_circuitbreaker_variables_nothing_is_served_on_demand() -> None:
    config = load_config({"CIRCUIT_BREAKER_TABLE": "ours", "CIRCUIT_BREAKER_CIRCUITS": '{"payments": {}}'})
    assert config.on_demand is None
    with pytest.raises(ConfigError, match="CIRCUIT_BREAKER_CIRCUITS"):
        load_config({"CIRCUIT_BREAKER_TABLE": "ours"})
