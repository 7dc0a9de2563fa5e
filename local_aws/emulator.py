"""One Lambda execution environment on this machine, with Lambda's lifecycle.

The function runs under AWS's runtime interface client (``python -m awslambdaric handler``)
and every executable in ``<layer>/extensions/`` runs as an external extension, both against
the Runtime and Extensions APIs served on loopback (``lambda_api_http``). Nothing in them
knows it is not in Lambda, which is the point: the local stack and the integration tests run
the real extension, unmodified.

Lifecycle, as the Lambda documentation describes it:

- init: extensions start and must all register; then the runtime starts; init ends when the
  runtime and every registered extension have called next. An ``init/error``, an exit, or
  no progress within ``init_timeout_s`` (10 s, Lambda's limit) fails it with ``InitError``;
- invoke: INVOKE goes to each subscribed extension and the event to the runtime, with a
  deadline ``timeout_s`` ahead; the invoke ends when the runtime has answered and it and
  every extension are back in next. One invoke at a time, as in Lambda;
- shutdown: SIGTERM to the runtime (300 ms to go, as Lambda reserves), then SHUTDOWN to each
  subscribed external extension with a deadline ``shutdown_timeout_s`` (2 s) after the start
  of the phase; whatever still runs then is killed with SIGKILL, and every process is reaped.

Where Lambda would reset the environment (a timeout, a crash, an ``exit/error``) this one
shuts down with that reason and refuses further invokes: replacing it, as Lambda would, is
the caller's job. Processes do not inherit this process's environment (no credentials of the
developer leak in); they get Lambda's variables, fake credentials, and the caller's ``env``.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .emulator_process import ManagedProcess, ProcessInfo
from .emulator_results import (
    TIMED_OUT,
    EmulatorError,
    EnvironmentClosedError,
    ExtensionTiming,
    InitError,
    InvokeInProgressError,
    InvokeResult,
    invoke_result,
)
from .lambda_api import LambdaApi
from .lambda_api_http import ApiServer
from .lambda_api_model import RUNTIME, DeliveredEvent, ExtensionInfo, Failure, Invocation

__all__ = [
    "DeliveredEvent",
    "EmulatorError",
    "EnvironmentClosedError",
    "ExecutionEnvironment",
    "ExtensionInfo",
    "ExtensionTiming",
    "Failure",
    "InitError",
    "InvokeInProgressError",
    "InvokeResult",
    "ProcessInfo",
]

ACCOUNT_ID = "123456789012"  # moto's default account, so ARNs agree with the local stack's
EXECUTION_ENV = "AWS_Lambda_python3.12"
RUNTIME_GRACE_S = 0.3  # Lambda's share of the shutdown phase for the runtime's SIGTERM
SHUTDOWN_REASONS = ("spindown", "timeout", "failure")  # the values Lambda sends

_CREATED, _INITIALIZING, _READY, _CLOSED = "created", "initializing", "ready", "closed"


class ExecutionEnvironment:
    """One execution environment of one function; use it as a context manager."""

    def __init__(
        self,
        function_name: str,
        handler: str,
        code_dirs: Sequence[str | Path],
        *,
        layer_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 3.0,
        memory_mb: int = 128,
        python: str = sys.executable,
        region: str = "us-east-1",
        function_version: str = "$LATEST",
        init_timeout_s: float = 10.0,
        shutdown_timeout_s: float = 2.0,
        log_dir: str | Path | None = None,
    ) -> None:
        if not code_dirs:
            raise ValueError("code_dirs needs at least the function's code directory")
        self.function_name = function_name
        self.handler = handler
        self.function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        # Fake credentials of the function's role; the token also authenticates the function
        # to the extension, as AWS's own extensions use it.
        self.session_token = secrets.token_urlsafe(32)
        self._access_key_id = "ASIA" + secrets.token_hex(8).upper()
        self._secret_access_key = secrets.token_urlsafe(30)
        self.timeout_s = timeout_s
        self._code_dirs = [Path(d).resolve() for d in code_dirs]
        self._layer_dir = Path(layer_dir).resolve() if layer_dir is not None else None
        self._extra_env = dict(env or {})
        self._memory_mb = memory_mb
        self._python = python
        self._region = region
        self._function_version = function_version
        self._init_timeout_s = init_timeout_s
        self._shutdown_timeout_s = shutdown_timeout_s
        if log_dir is None:
            log_dir = tempfile.mkdtemp(prefix=f"lambda-{function_name}-")
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._api = LambdaApi(function_name, function_version, handler, ACCOUNT_ID)
        self._server: ApiServer | None = None
        self._processes: list[ManagedProcess] = []
        self._state = _CREATED
        self._lifecycle = threading.Lock()  # one start, one teardown
        self._invoking = threading.Lock()
        self._init_duration_ms: float | None = None

    # ----- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> ExecutionEnvironment:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def start(self) -> None:
        """Run the init phase; on failure everything is torn down before ``InitError``."""
        with self._lifecycle:
            if self._state != _CREATED:
                raise EmulatorError(f"start() runs once; the environment is {self._state}")
            self._state = _INITIALIZING
        started = time.monotonic()
        deadline = started + self._init_timeout_s
        try:
            self._server = ApiServer(self._api)
            extensions = self._extension_paths()
            self._api.expect_external(frozenset(path.name for path in extensions))
            for path in extensions:
                self._spawn(path.name, "extension", [str(path)], self._base_env(), path.parent)
            self._await_init(self._api.all_external_registered, deadline)
            argv = [self._python, "-m", "awslambdaric", self.handler]
            self._spawn(RUNTIME, "runtime", argv, self._runtime_env(), self._code_dirs[0])
            self._await_init(self._api.init_complete, deadline)
        except BaseException:
            self._teardown("failure")
            raise
        self._api.mark_idle()
        self._init_duration_ms = (time.monotonic() - started) * 1000
        self._state = _READY

    def invoke(self, event: Any) -> InvokeResult:
        """Invoke the function with ``event`` (anything JSON can encode) and wait for the end
        of the invoke phase, at most ``timeout_s``."""
        if not self._invoking.acquire(blocking=False):
            raise InvokeInProgressError(
                f"{self.function_name}: an execution environment runs one invoke at a time"
            )
        try:
            if self._state != _READY:
                raise EnvironmentClosedError(f"{self.function_name}: environment is {self._state}")
            return self._run_invocation(json.dumps(event).encode())
        finally:
            self._invoking.release()

    def shutdown(self, reason: str = "spindown") -> None:
        """The shutdown phase; idempotent. Returns with every process reaped and the port free."""
        if reason not in SHUTDOWN_REASONS:
            raise ValueError(f"reason must be one of {SHUTDOWN_REASONS}, not {reason!r}")
        self._teardown(reason)

    # ----- what can be observed ------------------------------------------------------------

    @property
    def api_address(self) -> str:
        """``AWS_LAMBDA_RUNTIME_API``: host:port of both APIs."""
        if self._server is None:
            raise EnvironmentClosedError("the APIs are served from start() on")
        return self._server.address

    @property
    def init_duration_ms(self) -> float | None:
        return self._init_duration_ms

    @property
    def failure(self) -> Failure | None:
        """The first failure (init, crash, reported error), if any."""
        return self._api.failure

    @property
    def extensions(self) -> list[ExtensionInfo]:
        """Registrations, external and internal, in order."""
        return self._api.extensions()

    @property
    def events(self) -> list[DeliveredEvent]:
        """Every extension event and runtime invocation delivered, in order."""
        return self._api.delivered()

    @property
    def processes(self) -> list[ProcessInfo]:
        return [p.info() for p in self._processes]

    def extension_timings(self) -> list[ExtensionTiming]:
        """Per external extension: process start to registration and to its first next."""
        registered = {e.name: e for e in self._api.extensions() if e.external}

        def since_start(process: ManagedProcess, at: float | None) -> float | None:
            return None if at is None else (at - process.started_at) * 1000

        timings = []
        for process in self._processes:
            if process.kind == "extension":
                info = registered.get(process.name)
                timings.append(
                    ExtensionTiming(
                        process.name,
                        since_start(process, info.registered_at if info else None),
                        since_start(process, info.first_next_at if info else None),
                    )
                )
        return timings

    def log(self, name: str) -> str:
        """Everything process ``name`` ("runtime" or an extension's name) wrote so far."""
        for process in self._processes:
            if process.name == name:
                return process.read_log()
        raise KeyError(name)

    # ----- init ----------------------------------------------------------------------------

    def _extension_paths(self) -> list[Path]:
        folder = self._layer_dir / "extensions" if self._layer_dir else None
        if folder is None or not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_file() and os.access(p, os.X_OK))

    def _await_init(self, condition: Callable[[], bool], deadline: float) -> None:
        met = self._api.wait_until(condition, deadline)
        failure = self._api.failure
        if failure is None and not met:
            missing = ", ".join(self._api.missing_for_init())
            message = f"init did not end within {self._init_timeout_s:g} s; waiting for {missing}"
            failure = Failure("init", TIMED_OUT, message)
        if failure is not None:
            raise InitError(failure, self.log_dir)

    def _spawn(
        self, name: str, kind: str, argv: list[str], env: dict[str, str], cwd: Path
    ) -> None:
        log_path = self.log_dir / (f"{name}.log" if kind == "runtime" else f"extension-{name}.log")
        on_exit: Callable[[int], None] = (
            self._api.note_runtime_exit
            if kind == "runtime"
            else functools.partial(self._api.note_extension_exit, name)
        )
        try:
            process = ManagedProcess(name, kind, argv, env, cwd, log_path, on_exit)
        except OSError as error:
            launch = "Runtime.InvalidEntrypoint" if kind == "runtime" else "Extension.LaunchError"
            raise InitError(Failure(name, launch, str(error)), self.log_dir) from error
        self._processes.append(process)

    def _base_env(self) -> dict[str, str]:
        """What every process of the environment sees (extensions get exactly this)."""
        path = os.environ.get("PATH", os.defpath)
        if self._layer_dir is not None:
            path = f"{path}{os.pathsep}{self._layer_dir / 'bin'}"  # Lambda's /opt/bin
        env = {
            "PATH": path,
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_LAMBDA_RUNTIME_API": self.api_address,
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": self._function_version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self._memory_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "AWS_ACCESS_KEY_ID": self._access_key_id,
            "AWS_SECRET_ACCESS_KEY": self._secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }
        env.update(self._extra_env)
        return env

    def _runtime_env(self) -> dict[str, str]:
        """The runtime's additions, which Lambda withholds from extensions."""
        env = self._base_env()
        # /var/task first, then the layers' python/ (/opt/python), as the Python runtime does.
        python_path = [str(d) for d in self._code_dirs]
        if env.get("PYTHONPATH"):
            python_path.append(env["PYTHONPATH"])
        stream = f"{time.strftime('%Y/%m/%d')}/[{self._function_version}]{uuid.uuid4().hex}"
        env.update(
            {
                "_HANDLER": self.handler,
                "LAMBDA_TASK_ROOT": str(self._code_dirs[0]),
                "AWS_EXECUTION_ENV": EXECUTION_ENV,
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "PYTHONPATH": os.pathsep.join(python_path),
            }
        )
        return env

    # ----- invoke --------------------------------------------------------------------------

    def _run_invocation(self, payload: bytes) -> InvokeResult:
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            payload=payload,
            deadline_ms=int((time.time() + self.timeout_s) * 1000),
            function_arn=self.function_arn,
            trace_id=_trace_id(),
        )
        started = time.monotonic()
        completed = False
        if self._api.failure is None:  # a crash while idle: nothing left to deliver to
            self._api.start_invocation(invocation)
            deadline = started + self.timeout_s
            completed = self._api.wait_until(self._api.invocation_complete, deadline)
        ended = time.monotonic()
        outcome = self._api.finish_invocation()
        if self._state != _READY:
            raise EnvironmentClosedError(f"{self.function_name}: shut down during the invoke")
        reset = None
        if not completed:
            # Lambda resets the environment after a timeout or a crash; so do we, for good.
            reason, reset = self._reset_cause()
            self._teardown(reason)
        return invoke_result(invocation.request_id, outcome, reset, started, ended)

    def _reset_cause(self) -> tuple[str, Failure]:
        """The shutdown reason and the failure that ended the invoke early."""
        failure = self._api.failure
        if failure is not None:
            return "failure", failure
        message = f"Task timed out after {self.timeout_s:.2f} seconds"
        return "timeout", Failure("function", TIMED_OUT, message)

    # ----- shutdown ------------------------------------------------------------------------

    def _teardown(self, reason: str) -> None:
        with self._lifecycle:
            if self._state == _CLOSED:
                return
            self._state = _CLOSED
            self._api.begin_shutdown()
            deadline = time.monotonic() + self._shutdown_timeout_s
            deadline_ms = int((time.time() + self._shutdown_timeout_s) * 1000)
            for process in self._processes:
                if process.kind == "runtime":
                    process.terminate(min(RUNTIME_GRACE_S, self._shutdown_timeout_s))
            told = self._api.send_shutdown(reason, deadline_ms)
            # Those told to shut down and those that reported an error are meant to exit on
            # their own; they get until the deadline. The others cannot know, so no waiting.
            failed = [e.name for e in self._api.extensions() if e.error is not None]
            leaving = set(told) | set(failed)
            for process in self._processes:
                if process.kind == "extension" and process.name in leaving:
                    process.wait(deadline - time.monotonic())
            for process in self._processes:  # stragglers and the rest: SIGKILL
                process.reap()
            self._api.close()
            if self._server is not None:
                self._server.stop()


def _trace_id() -> str:
    """An X-Ray trace header of the shape Lambda sends."""
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0"
