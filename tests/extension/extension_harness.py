"""Real parts around the extension under test: a minimal Extensions API, the process, a switchable link to DynamoDB.

- :class:`ExtensionsApiStub` serves the four Extensions API calls the extension makes; it
  records what it was sent and hands out INVOKE / SHUTDOWN events when a test asks. At
  registration it also asks the extension's own HTTP server for ``/health``: that is how the
  tests see that the server was bound before registering.
- :class:`ExtensionProcess` starts the extension from a built layer through its launcher, the
  way Lambda does, and collects its JSON log lines.
- :class:`TcpProxy` stands between the extension and DynamoDB and can be cut and restored
  without the endpoint changing, which is how the tests take DynamoDB away and bring it back.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

EXTENSION_PATH = "/2020-01-01/extension"
TOKEN = "session-token-under-test"


def trips_after(failures: int, **more: Any) -> dict[str, Any]:
    """Breaker settings that open a circuit on an environment's ``failures``-th failure in a row.

    An environment's first failure has no previous call to be judged by; each later one is a
    judged repeat, so the rule holds once ``failures - 1`` repeats are counted (at least 2).
    """
    return {"minimum_failures": failures - 1, "failure_rate_threshold": 1.0, **more}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    token: Optional[str] = TOKEN,
    headers: Optional[Mapping[str, str]] = None,
    timeout_s: float = 5.0,
) -> tuple[int, Any]:
    """One request on a fresh connection: (status, JSON body). ``body`` bytes go out as they are."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        sent = dict(headers or {})
        if token is not None:
            sent["X-Circuit-Breaker-Token"] = token
        payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    finally:
        connection.close()


def invoke_event() -> dict[str, Any]:
    return {
        "eventType": "INVOKE",
        "deadlineMs": int(time.time() * 1000) + 3000,
        "requestId": str(uuid.uuid4()),
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:under-test",
        "tracing": {},
    }


@dataclass
class Registration:
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic()
    health_status: Optional[int]  # the extension's /health answer, asked from inside register


@dataclass
class ReportedError:
    path: str  # init/error or exit/error
    error_type: Optional[str]
    identifier: Optional[str]
    body: Any


@dataclass
class _StubState:
    probe_port: Optional[int]
    probe_token: Optional[str]
    identifier: str = field(default_factory=lambda: str(uuid.uuid4()))
    registrations: list[Registration] = field(default_factory=list)
    errors: list[ReportedError] = field(default_factory=list)
    next_calls: int = 0
    bad_identifiers: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    closing: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)


class ExtensionsApiStub:
    """The Extensions API of one execution environment, on a free loopback port."""

    def __init__(self, probe_port: Optional[int] = None, probe_token: Optional[str] = TOKEN) -> None:
        self.state = _StubState(probe_port, probe_token)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
        self._server.daemon_threads = True
        self._server.state = self.state  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        with self.state.changed:
            self.state.closing = True
            self.state.changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def wait_registered(self, timeout_s: float = 10.0) -> Registration:
        return self._wait(lambda: self.state.registrations[0] if self.state.registrations else None, timeout_s, "register")

    def wait_next_calls(self, count: int, timeout_s: float = 10.0) -> None:
        """Until the extension has called event/next ``count`` times (it waits for an event then)."""
        self._wait(lambda: self.state.next_calls >= count, timeout_s, f"event/next call #{count}")

    def wait_error(self, timeout_s: float = 10.0) -> ReportedError:
        return self._wait(lambda: self.state.errors[0] if self.state.errors else None, timeout_s, "an error report")

    def invoke(self, timeout_s: float = 10.0) -> None:
        """Deliver INVOKE and return once the extension has handled it (called event/next again)."""
        with self.state.changed:
            handled = self.state.next_calls + 1
        self.deliver(invoke_event())
        self.wait_next_calls(handled, timeout_s)

    def shutdown(self, budget_ms: int = 2000, reason: str = "spindown") -> None:
        self.deliver({"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": int(time.time() * 1000) + budget_ms})

    def deliver(self, event: dict[str, Any]) -> None:
        """Queue an event for the extension's (pending or next) event/next call."""
        with self.state.changed:
            self.state.events.append(event)
            self.state.changed.notify_all()

    def _wait(self, probe: Callable[[], Any], timeout_s: float, what: str) -> Any:
        deadline = time.monotonic() + timeout_s
        with self.state.changed:
            while True:
                value = probe()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
                self.state.changed.wait(left)


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        state: _StubState = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        if self.path == f"{EXTENSION_PATH}/register":
            health = _probe_health(state.probe_port, state.probe_token)
            with state.changed:
                state.registrations.append(Registration(dict(self.headers), body, time.monotonic(), health))
                state.changed.notify_all()
            self._send(200, {"functionName": "under-test", "functionVersion": "$LATEST", "handler": "h.handler"},
                       {"Lambda-Extension-Identifier": state.identifier})
        elif self.path in (f"{EXTENSION_PATH}/init/error", f"{EXTENSION_PATH}/exit/error"):
            with state.changed:
                state.errors.append(
                    ReportedError(
                        self.path.rsplit("/", 2)[-2] + "/error",
                        self.headers.get("Lambda-Extension-Function-Error-Type"),
                        self.headers.get("Lambda-Extension-Identifier"),
                        body,
                    )
                )
                state.changed.notify_all()
            self._send(202, {"status": "OK"})
        else:
            self._send(404, {"errorMessage": f"no {self.path}"})

    def do_GET(self) -> None:
        state: _StubState = self.server.state
        if self.path != f"{EXTENSION_PATH}/event/next":
            self._send(404, {"errorMessage": f"no {self.path}"})
            return
        with state.changed:
            if self.headers.get("Lambda-Extension-Identifier") != state.identifier:
                state.bad_identifiers += 1
                state.changed.notify_all()
                self._send(403, {"errorMessage": "unknown extension identifier"})
                return
            state.next_calls += 1
            state.changed.notify_all()
            while not state.events and not state.closing:
                state.changed.wait()
            if state.closing:
                return
            event = state.events.pop(0)
        self._send(200, event, {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})

    def _send(self, status: int, body: Any, headers: Optional[Mapping[str, str]] = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _probe_health(port: Optional[int], token: Optional[str]) -> Optional[int]:
    if port is None:
        return None
    try:
        return call(port, "GET", "/health", token=token, timeout_s=2.0)[0]
    except OSError:
        return None


class ExtensionProcess:
    """The extension started from a built layer by its launcher, with a clean environment."""

    def __init__(self, layer: Path, environ: Mapping[str, str], python: str = sys.executable) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CIRCUIT_BREAKER_PYTHON": python, **environ}
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [str(layer / "extensions" / "circuit-breaker")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def logs(self, event: Optional[str] = None) -> list[dict[str, Any]]:
        """The JSON log lines so far (optionally only one event's)."""
        parsed = []
        for line in list(self.lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and (event is None or entry.get("event") == event):
                parsed.append(entry)
        return parsed

    def wait_logs(self, event: str, count: int = 1, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """The first ``count`` lines of ``event``, once they have been read from the pipe."""
        return wait_for(lambda: len(self.logs(event)) >= count and self.logs(event), timeout_s, f"{count} {event!r} log line(s)")

    def wait_exit(self, timeout_s: float = 10.0) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(timeout_s)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.wait_exit()

    def output(self) -> str:
        return "\n".join(self.lines)


class TcpProxy:
    """Forwards a loopback port to ``target_port``; :meth:`cut` drops every connection and refuses new ones."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._up = True
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        with self._lock:
            self._up = False
            doomed, self._open = self._open, set()
        for sock in doomed:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                up = self._up
            if not up:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target_port))
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
