"""Conformance of the local Lambda execution environment to the Lambda Runtime and
Extensions APIs, seen from real processes: fixture extensions written in a layer, and
functions run by AWS's runtime interface client."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from local_aws.emulator import (
    EnvironmentClosedError,
    ExecutionEnvironment,
    InitError,
    InvokeInProgressError,
)

if TYPE_CHECKING:
    from conftest import Layer, MakeEnv  # this folder's conftest, which provides them


def wait_for(condition: Any, timeout_s: float = 5.0) -> None:
    """Poll ``condition`` every few milliseconds; fail the test if it never holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def now_ms() -> int:
    """Unix epoch milliseconds, truncated as Lambda's deadlines are."""
    return int(time.time() * 1000)


def call_api(
    address: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request to the emulator's APIs: status, headers, decoded JSON body."""
    connection = http.client.HTTPConnection(address, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


# ----- init -------------------------------------------------------------------------------


def test_registration_is_answered_as_lambda_does(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_extension("recorder")
    layer.add_file("extensions/helper.py", "# code beside the launcher, not executable\n")

    with make_env(memory_mb=256) as env:
        [register] = [r for r in layer.records("recorder") if r["kind"] == "register"]
        assert register["status"] == 200
        identifier = register["headers"]["Lambda-Extension-Identifier"]
        assert str(uuid.UUID(identifier)) == identifier
        assert register["body"] == {
            "functionName": "test-fn",
            "functionVersion": "$LATEST",
            "handler": "app.echo",
            "accountId": "123456789012",
        }
        [info] = env.extensions
        assert (info.name, info.identifier, info.external) == ("recorder", identifier, True)
        assert info.events == ("INVOKE", "SHUTDOWN")
        assert sorted(p.name for p in env.processes) == ["recorder", "runtime"]


def test_extension_timings_run_from_process_start(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_extension("recorder")

    with make_env() as env:
        [timing] = env.extension_timings()
        assert timing.name == "recorder"
        assert timing.to_register_ms is not None and timing.to_first_next_ms is not None
        assert 0 < timing.to_register_ms <= timing.to_first_next_ms
        assert env.init_duration_ms is not None and env.init_duration_ms >= timing.to_first_next_ms


def test_environment_variables_follow_lambda(
    make_env: MakeEnv, layer: Layer, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_DEVELOPER", "must not leak into the environment")
    layer.add_extension("recorder")

    with make_env(memory_mb=256, env={"FROM_CALLER": "yes"}) as env:
        seen = env.invoke({}).json()
        extension_env = layer.records("recorder")[0]["env"]

    runtime_env = seen["env"]
    assert runtime_env["_HANDLER"] == "app.echo"
    assert runtime_env["LAMBDA_TASK_ROOT"] == str(code_dir) == seen["cwd"]
    assert runtime_env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert runtime_env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert runtime_env["AWS_REGION"] == runtime_env["AWS_DEFAULT_REGION"] == "us-east-1"
    # The function's code first, then the layer's python/, as /var/task and /opt/python.
    ours = (str(code_dir), str(layer.root / "python"))
    paths = list(dict.fromkeys(p for p in seen["sys_path"] if p in ours))
    assert paths == list(ours)
    for variables in (runtime_env, extension_env):
        assert variables["AWS_LAMBDA_RUNTIME_API"] == env.api_address
        assert variables["AWS_SESSION_TOKEN"] == env.session_token
        assert variables["AWS_LAMBDA_FUNCTION_NAME"] == "test-fn"
        assert variables["FROM_CALLER"] == "yes"
        assert variables.get("FROM_DEVELOPER") is None
    # Lambda withholds the runtime's own variables from extensions.
    for name in ("_HANDLER", "LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV"):
        assert name not in extension_env


def test_extension_init_error_fails_init_with_its_message(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_extension("picky", mode="init_error")
    env = make_env()

    with pytest.raises(InitError, match="config missing") as raised:
        env.start()

    assert raised.value.failure.party == "picky"
    assert raised.value.failure.error_type == "Extension.ConfigInvalid"
    [reported] = [r for r in layer.records("picky") if r["kind"] == "init_error"]
    assert (reported["status"], reported["body"]) == (202, {"status": "OK"})
    assert all(p.returncode is not None for p in env.processes)
    with pytest.raises(EnvironmentClosedError):
        env.invoke({})


def test_extension_that_exits_before_registering_fails_init(
    make_env: MakeEnv, layer: Layer
) -> None:
    layer.add_extension("fragile", mode="crash")
    env = make_env()

    with pytest.raises(InitError) as raised:
        env.start()

    assert raised.value.failure.error_type == "Extension.Crash"
    assert "exited with 3" in raised.value.failure.message
    assert "crashing before it registers" in env.log("fragile")  # stderr is captured too


def test_extension_that_cannot_be_launched_fails_init(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_file("extensions/broken", "#!/nonexistent/interpreter\n", executable=True)

    with pytest.raises(InitError) as raised:
        make_env().start()

    assert (raised.value.failure.party, raised.value.failure.error_type) == (
        "broken",
        "Extension.LaunchError",
    )


def test_init_times_out_on_an_extension_that_never_registers(
    make_env: MakeEnv, layer: Layer
) -> None:
    layer.add_extension("mute", mode="silent")
    env = make_env(init_timeout_s=0.5)
    started = time.monotonic()

    with pytest.raises(InitError, match=r"mute \(register\)") as raised:
        env.start()

    assert raised.value.failure.error_type == "Sandbox.Timedout"
    assert time.monotonic() - started < 2.0
    assert [p.returncode for p in env.processes] == [-signal.SIGKILL]


def test_runtime_init_error_fails_init_and_shuts_extensions_down(
    make_env: MakeEnv, layer: Layer
) -> None:
    layer.add_extension("recorder")

    with pytest.raises(InitError, match="Unable to import module 'missing'") as raised:
        make_env("missing.handler").start()

    assert raised.value.failure.party == "runtime"
    assert raised.value.failure.error_type == "Runtime.ImportModuleError"
    [shutdown] = layer.events("recorder")
    assert shutdown["eventType"] == "SHUTDOWN" and shutdown["shutdownReason"] == "failure"


def test_internal_extension_registers_during_runtime_init(make_env: MakeEnv) -> None:
    with make_env("internal_app.handler", layer_dir=None) as env:
        result = env.invoke({})

        answer = result.json()
        # Internal extensions cannot subscribe to SHUTDOWN: the runtime stops them.
        assert answer["shutdown_attempt"] == 403
        assert answer["error"]["errorType"] == "Extension.InvalidEventType"
        [probe] = env.extensions
        assert (probe.name, probe.external, probe.events) == ("probe", False, ("INVOKE",))
        delivered = [e.body["requestId"] for e in env.events if e.target == "probe"]
        assert delivered == [result.request_id]


# ----- invoke -----------------------------------------------------------------------------


def test_invoke_reaches_the_runtime_and_each_extension(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_extension("recorder")
    event = {"text": "naïve ☃", "nested": {"list": [1, 2.5, None, True]}}

    with make_env(timeout_s=3.0) as env:
        before = now_ms()
        result = env.invoke(event)

        assert result.status == "success" and result.error_type is None
        answer = result.json()
        assert answer["event"] == event
        assert answer["request_id"] == result.request_id
        assert answer["function_arn"] == env.function_arn
        [record] = [r for r in layer.records("recorder") if r["kind"] == "event"]
        invoke = record["event"]
        assert record["status"] == 200
        assert record["headers"]["Lambda-Extension-Event-Identifier"]
        assert set(invoke) == {
            "eventType",
            "deadlineMs",
            "requestId",
            "invokedFunctionArn",
            "tracing",
        }
        assert invoke["eventType"] == "INVOKE"
        assert invoke["requestId"] == result.request_id
        assert invoke["invokedFunctionArn"] == env.function_arn
        assert invoke["tracing"] == {"type": "X-Amzn-Trace-Id", "value": answer["trace_id"]}
        # One deadline, timeout ahead, seen alike by the runtime and the extension.
        assert before + 3000 <= invoke["deadlineMs"] <= now_ms() + 3000
        assert abs(answer["now_plus_remaining_ms"] - invoke["deadlineMs"]) <= 5
        assert result.runtime_duration_ms is not None
        assert 0 < result.runtime_duration_ms <= result.duration_ms


def test_invoke_waits_for_every_extension_to_call_next(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_extension("slowpoke", mode="slow")

    with make_env() as env:
        result = env.invoke({})

    assert result.status == "success"
    assert result.runtime_duration_ms is not None and result.runtime_duration_ms < 300
    assert result.duration_ms >= 300


def test_environment_stays_warm_across_invokes(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_extension("recorder")

    with make_env() as env:
        results = [env.invoke({"n": n}) for n in range(3)]

        assert [r.json()["event"] for r in results] == [{"n": 0}, {"n": 1}, {"n": 2}]
        runtime_pids = {p.pid for p in env.processes if p.name == "runtime"}
        assert len(runtime_pids) == 1
        delivered = [e.body["requestId"] for e in env.events if e.target == "recorder"]
        assert delivered == [r.request_id for r in results]


def test_handler_error_is_an_error_result_and_the_environment_lives_on(
    make_env: MakeEnv,
) -> None:
    with make_env("app.fail") as env:
        result = env.invoke({"x": 42})

        assert result.status == "error" and result.reset is None
        assert result.error_type == "Unhandled"
        assert result.json()["errorType"] == "ValueError"
        assert result.json()["errorMessage"] == "boom 42"
        assert result.json()["requestId"] == result.request_id
        assert env.invoke({"x": 43}).json()["errorMessage"] == "boom 43"


def test_timeout_resets_the_environment(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_extension("recorder")

    with make_env("app.sleep", timeout_s=0.5) as env:
        result = env.invoke({"seconds": 5})

        assert result.status == "timeout" and result.error_type == "Sandbox.Timedout"
        assert "Task timed out after 0.50 seconds" in result.json()["errorMessage"]
        assert 500 <= result.duration_ms < 1500
        assert layer.events("recorder")[-1]["shutdownReason"] == "timeout"
        assert all(p.returncode is not None for p in env.processes)
        with pytest.raises(EnvironmentClosedError):
            env.invoke({"seconds": 0})


def test_runtime_crash_is_a_failure(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_extension("recorder")

    with make_env("app.crash") as env:
        result = env.invoke({})

    assert result.status == "failure" and result.error_type == "Runtime.ExitError"
    assert "exited with 7" in result.json()["errorMessage"]
    assert layer.events("recorder")[-1]["shutdownReason"] == "failure"


def test_extension_exit_error_during_invoke_resets_the_environment(
    make_env: MakeEnv, layer: Layer
) -> None:
    layer.add_extension("doomed", mode="exit_error")

    with make_env() as env:
        result = env.invoke({})

        assert result.reset is not None
        assert (result.reset.party, result.reset.error_type) == ("doomed", "Extension.Fatal")
        assert result.reset.message == "lost my marbles"
        [info] = env.extensions
        assert info.error is not None and info.error.kind == "exit"
        assert all(p.returncode is not None for p in env.processes)


def test_oversized_response_is_refused_with_413(make_env: MakeEnv) -> None:
    with make_env("app.big") as env:
        result = env.invoke({})

        assert result.status == "error"
        assert result.error_type == "Function.ResponseSizeTooLarge"
        assert "413" in env.log("runtime")  # what awslambdaric was told


def test_second_concurrent_invoke_is_refused(make_env: MakeEnv) -> None:
    with make_env("app.sleep") as env:
        results = []
        first = threading.Thread(target=lambda: results.append(env.invoke({"seconds": 0.3})))
        first.start()
        wait_for(lambda: any(e.target == "runtime" for e in env.events))

        with pytest.raises(InvokeInProgressError):
            env.invoke({"seconds": 0})
        first.join()

        assert [r.json() for r in results] == ["slept"]


# ----- shutdown ---------------------------------------------------------------------------


def test_shutdown_tells_extensions_and_reaps_every_process(
    make_env: MakeEnv, layer: Layer
) -> None:
    layer.add_extension("recorder")
    env = make_env()
    env.start()
    port = int(env.api_address.rsplit(":", 1)[1])
    before = now_ms()

    env.shutdown()

    assert now_ms() - before < 1500  # the extension left at once: no wait for the deadline
    shutdown = layer.events("recorder")[-1]
    assert shutdown == {
        "eventType": "SHUTDOWN",
        "shutdownReason": "spindown",
        "deadlineMs": shutdown["deadlineMs"],
    }
    assert before + 2000 <= shutdown["deadlineMs"] <= now_ms() + 2000
    exits = {p.name: p.returncode for p in env.processes}
    assert exits == {"recorder": 0, "runtime": -signal.SIGTERM}
    assert_port_free(port)
    env.shutdown()  # idempotent


def test_extension_ignoring_shutdown_is_killed_at_the_deadline(
    make_env: MakeEnv, layer: Layer
) -> None:
    layer.add_extension("stubborn", mode="stubborn")
    env = make_env(shutdown_timeout_s=0.4)
    env.start()
    started = time.monotonic()

    env.shutdown()

    assert 0.35 <= time.monotonic() - started < 1.5
    assert layer.events("stubborn")[-1]["eventType"] == "SHUTDOWN"
    assert {p.name: p.returncode for p in env.processes}["stubborn"] == -signal.SIGKILL


def test_port_is_freed_after_a_failed_init(make_env: MakeEnv, layer: Layer) -> None:
    layer.add_extension("picky", mode="init_error")
    env = make_env()
    with pytest.raises(InitError):
        env.start()

    assert_port_free(int(env.api_address.rsplit(":", 1)[1]))


def assert_port_free(port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


# ----- misuse -----------------------------------------------------------------------------

EXT = "/2020-01-01/extension"
RUNTIME = "/2018-06-01/runtime"
UNKNOWN = str(uuid.uuid4())


MISUSE = [
    # (method, path, headers, body, status, errorType); "ID" stands for a registered extension.
    ("GET", f"{EXT}/event/next", {}, None, 403, "Extension.MissingExtensionIdentifier"),
    ("GET", f"{EXT}/event/next", {"Lambda-Extension-Identifier": "nope"}, None, 403,
     "Extension.InvalidExtensionIdentifier"),
    ("GET", f"{EXT}/event/next", {"Lambda-Extension-Identifier": UNKNOWN}, None, 403,
     "Extension.UnknownExtensionIdentifier"),
    ("GET", f"{EXT}/event/next", {"Lambda-Extension-Identifier": "ID"}, None, 403,
     "Extension.InvalidExtensionState"),  # it is already waiting there
    ("POST", f"{EXT}/init/error", {"Lambda-Extension-Function-Error-Type": "X.Y"}, b"{}", 403,
     "Extension.MissingExtensionIdentifier"),
    ("POST", f"{EXT}/init/error", {"Lambda-Extension-Identifier": UNKNOWN,
     "Lambda-Extension-Function-Error-Type": "X.Y"}, b"{}", 403,
     "Extension.UnknownExtensionIdentifier"),
    ("POST", f"{EXT}/init/error", {"Lambda-Extension-Identifier": "ID",
     "Lambda-Extension-Function-Error-Type": "X.Y"}, b"{}", 403,
     "Extension.InvalidExtensionState"),  # init is over
    ("POST", f"{EXT}/exit/error", {"Lambda-Extension-Identifier": "ID"}, b"{}", 403,
     "Extension.MissingHeader"),
    ("POST", f"{EXT}/register", {}, b'{"events": ["INVOKE"]}', 403,
     "Extension.InvalidExtensionName"),
    ("POST", f"{EXT}/register", {"Lambda-Extension-Name": "recorder"}, b'{"events": ["INVOKE"]}',
     403, "Extension.InvalidExtensionState"),  # registering twice
    ("POST", f"{EXT}/register", {"Lambda-Extension-Name": "late"}, b'{"events": ["INVOKE"]}',
     403, "Extension.RegistrationClosed"),
    ("POST", f"{EXT}/register", {"Lambda-Extension-Name": "late"}, b'{"events": ["BOGUS"]}',
     403, "Extension.InvalidEventType"),
    ("POST", f"{EXT}/register", {"Lambda-Extension-Name": "late"}, b"events please", 403,
     "InvalidRequestFormat"),
    ("POST", f"{RUNTIME}/invocation/{UNKNOWN}/response", {}, b"{}", 400, "InvalidRequestID"),
    ("POST", f"{RUNTIME}/invocation/{UNKNOWN}/error", {}, b"{}", 400, "InvalidRequestID"),
    ("POST", f"{RUNTIME}/init/error", {"Lambda-Runtime-Function-Error-Type": "X.Y"}, b"{}", 403,
     "InvalidStateTransition"),  # init is over
    ("GET", f"{RUNTIME}/invocation/next", {}, None, 403,
     "InvalidStateTransition"),  # the runtime is already waiting there
    ("GET", "/2018-06-01/runtime/nothing", {}, None, 404, "NotFound"),
    ("POST", f"{RUNTIME}/invocation/next", {}, b"", 405, "MethodNotAllowed"),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "status", "error_type"), MISUSE)
def test_misuse_gets_the_documented_error(
    running: tuple[ExecutionEnvironment, str],
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    error_type: str,
) -> None:
    env, identifier = running
    headers = {k: identifier if v == "ID" else v for k, v in headers.items()}

    answer_status, answer_headers, answer = call_api(env.api_address, method, path, body, headers)

    assert answer_status == status
    assert answer_headers["Content-Type"] == "application/json"
    assert answer["errorType"] == error_type
    assert isinstance(answer["errorMessage"], str) and answer["errorMessage"]


def test_chunked_request_bodies_are_read(running: tuple[ExecutionEnvironment, str]) -> None:
    env, _ = running
    connection = http.client.HTTPConnection(env.api_address, timeout=5)
    chunks = iter([b'{"events": ', b'["BOGUS-', b'CHUNKED"]}'])
    connection.request(
        "POST", f"{EXT}/register", body=chunks, headers={"Lambda-Extension-Name": "late"},
        encode_chunked=True,
    )
    answer = json.loads(connection.getresponse().read())
    connection.close()

    assert answer["errorType"] == "Extension.InvalidEventType"
    assert "BOGUS-CHUNKED" in answer["errorMessage"]


def test_misuse_leaves_the_environment_working(running: tuple[ExecutionEnvironment, str]) -> None:
    env, _ = running

    assert env.invoke({"still": "fine"}).json() == {"still": "fine"}
    assert env.failure is None
