"""Fixtures for the emulator's tests: a function's code, a layer of tiny extensions, and
environments that are always shut down (their process logs printed, so a failing test shows
what the extensions and the runtime said)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from local_aws.emulator import ExecutionEnvironment

# A function with one handler per behaviour the tests need.
APP = '''
import os, sys, time


def echo(event, context):
    keys = ("_HANDLER", "LAMBDA_TASK_ROOT", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_RUNTIME_API", "AWS_SESSION_TOKEN",
            "AWS_REGION", "AWS_DEFAULT_REGION", "FROM_CALLER", "FROM_DEVELOPER")
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "now_plus_remaining_ms": int(time.time() * 1000) + context.get_remaining_time_in_millis(),
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "env": {key: os.environ.get(key) for key in keys},
        "sys_path": sys.path,
        "cwd": os.getcwd(),
    }


def fail(event, context):
    raise ValueError(f"boom {event['x']}")


def sleep(event, context):
    time.sleep(event["seconds"])
    return "slept"


def crash(event, context):
    os._exit(7)


def big(event, context):
    return "x" * 7_000_000
'''

# An internal extension: a thread of the runtime process that registers while the handler
# module is imported (runtime init), as in-process tools do.
INTERNAL_APP = '''
import json, os, threading, urllib.error, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"


def _call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


SHUTDOWN_ATTEMPT = _call("POST", "/register", {"events": ["INVOKE", "SHUTDOWN"]},
                         {"Lambda-Extension-Name": "probe"})
_, _headers, _ = _call("POST", "/register", {"events": ["INVOKE"]},
                       {"Lambda-Extension-Name": "probe"})
_ident = {"Lambda-Extension-Identifier": _headers["Lambda-Extension-Identifier"]}


def _loop():
    while True:
        _call("GET", "/event/next", headers=_ident)


threading.Thread(target=_loop, daemon=True).start()


def handler(event, context):
    return {"shutdown_attempt": SHUTDOWN_ATTEMPT[0], "error": SHUTDOWN_ATTEMPT[2]}
'''

# An external extension. It records what it receives (one JSON line per call) and behaves
# as MODE says: normal, crash (before registering), init_error, silent (never registers),
# slow (0.3 s of work per INVOKE), exit_error (on INVOKE), stubborn (ignores SHUTDOWN).
EXTENSION = '''#!{python}
import json, os, sys, threading, time, urllib.error, urllib.request

MODE = {mode!r}
EVENTS = {events!r}
NAME = os.path.basename(__file__)
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
RECORD = os.path.join({record_dir!r}, NAME + ".jsonl")


def record(kind, **data):
    with open(RECORD, "a") as out:
        out.write(json.dumps(dict(kind=kind, at_ms=time.time() * 1000, **data)) + "\\n")


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method, headers=headers or {{}})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


print(NAME, "starting in", MODE, "mode", flush=True)
if MODE == "crash":
    print("fixture extension crashing before it registers", file=sys.stderr, flush=True)
    sys.exit(3)
if MODE == "silent":
    threading.Event().wait()  # hang until the emulator kills it
status, headers, body = call(
    "POST", "/register", {{"events": EVENTS}},
    {{"Lambda-Extension-Name": NAME, "Lambda-Extension-Accept-Feature": "accountId"}},
)
record("register", status=status, headers=headers, body=body, env=dict(os.environ))
ident = {{"Lambda-Extension-Identifier": headers["Lambda-Extension-Identifier"]}}
if MODE == "init_error":
    error = {{"errorMessage": "config missing", "errorType": "Extension.ConfigInvalid"}}
    kind = {{"Lambda-Extension-Function-Error-Type": "Extension.ConfigInvalid"}}
    status, _, body = call("POST", "/init/error", error, {{**ident, **kind}})
    record("init_error", status=status, body=body)
    sys.exit(1)
while True:
    status, headers, event = call("GET", "/event/next", headers=ident)
    record("event", status=status, headers=headers, event=event)
    if event.get("eventType") == "SHUTDOWN":
        if MODE == "stubborn":
            threading.Event().wait()  # ignore SHUTDOWN: hang until killed
        sys.exit(0)
    if MODE == "slow":
        time.sleep(0.3)
    if MODE == "exit_error":
        kind = {{"Lambda-Extension-Function-Error-Type": "Extension.Fatal"}}
        call("POST", "/exit/error", {{"errorMessage": "lost my marbles"}}, {{**ident, **kind}})
        sys.exit(1)
'''


class Layer:
    """A layer directory: ``extensions/`` holds the executables, ``python/`` the library."""

    def __init__(self, root: Path, record_dir: Path) -> None:
        self.root = root
        self.record_dir = record_dir
        (root / "extensions").mkdir(parents=True)
        (root / "python").mkdir()

    def add_extension(
        self, name: str, mode: str = "normal", events: tuple[str, ...] = ("INVOKE", "SHUTDOWN")
    ) -> None:
        source = EXTENSION.format(
            python=sys.executable, mode=mode, events=list(events), record_dir=str(self.record_dir)
        )
        self.add_file(f"extensions/{name}", source, executable=True)

    def add_file(self, relative: str, text: str, executable: bool = False) -> None:
        path = self.root / relative
        path.write_text(text)
        path.chmod(0o755 if executable else 0o644)

    def records(self, name: str) -> list[dict[str, Any]]:
        """What extension ``name`` recorded, in order."""
        path = self.record_dir / f"{name}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r["event"] for r in self.records(name) if r["kind"] == "event"]


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "app.py").write_text(textwrap.dedent(APP))
    (folder / "internal_app.py").write_text(textwrap.dedent(INTERNAL_APP))
    return folder


@pytest.fixture
def layer(tmp_path: Path) -> Layer:
    records = tmp_path / "records"
    records.mkdir()
    return Layer(tmp_path / "opt", records)


MakeEnv = Callable[..., ExecutionEnvironment]


@pytest.fixture
def make_env(code_dir: Path, layer: Layer, tmp_path: Path) -> Iterator[MakeEnv]:
    """Build (not start) environments of the test function; all are shut down afterwards."""
    made: list[ExecutionEnvironment] = []

    def make(handler: str = "app.echo", **options: Any) -> ExecutionEnvironment:
        options.setdefault("layer_dir", layer.root)
        options.setdefault("timeout_s", 3.0)
        env = ExecutionEnvironment(
            "test-fn",
            handler,
            [code_dir, layer.root / "python"],
            log_dir=tmp_path / f"logs-{len(made)}",
            **options,
        )
        made.append(env)
        return env

    yield make
    for env in made:
        env.shutdown()
        for process in env.processes:  # shown by pytest only when the test failed
            print(f"--- {process.name} (exit {process.returncode}) ---\n{env.log(process.name)}")


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ExecutionEnvironment, str]]:
    """One environment with one registered extension, shared by the misuse tests (misuse
    must change nothing); yields it with the extension's identifier."""
    root = tmp_path_factory.mktemp("misuse")
    (root / "task").mkdir()
    (root / "task" / "app.py").write_text("def echo(event, context):\n    return event\n")
    layer = Layer(root / "opt", root)
    layer.add_extension("recorder")
    code_dirs = [root / "task"]
    with ExecutionEnvironment("test-fn", "app.echo", code_dirs, layer_dir=layer.root) as env:
        identifier = layer.records("recorder")[0]["headers"]["Lambda-Extension-Identifier"]
        yield env, identifier
