"""Real parts for the Lambda handlers' tests: AWS on loopback and a real HTTP service.

DynamoDB and SSM are both served by one moto server on 127.0.0.1 (``LocalDynamoDB``; moto
answers every AWS service at that endpoint). The probed/called service is a real
``http.server`` on a free port whose answer can be switched between statuses and delays, and
which counts the requests it sees.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional

import boto3
import pytest

from local_aws.dynamodb import LocalDynamoDB, create_circuit_table

# The layer's python/ folder, which Lambda puts on a function's sys.path (/opt/python): the
# business function imports the client from there.
LAYER_PYTHON = Path(__file__).resolve().parents[2] / "runtime" / "extension" / "python"
if str(LAYER_PYTHON) not in sys.path:
    sys.path.insert(0, str(LAYER_PYTHON))


@pytest.fixture(scope="session")
def aws() -> Iterator[LocalDynamoDB]:
    with LocalDynamoDB() as server:
        yield server


@pytest.fixture
def aws_env(aws: LocalDynamoDB, monkeypatch: pytest.MonkeyPatch) -> LocalDynamoDB:
    """Point boto3, as the handlers create it from the environment, at the local server."""
    for key, value in {**aws.environment(), "AWS_ENDPOINT_URL_SSM": aws.endpoint_url}.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(key, raising=False)
    return aws


@pytest.fixture
def table(aws_env: LocalDynamoDB, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh circuits table, named in CIRCUIT_BREAKER_TABLE."""
    name = f"circuits-{uuid.uuid4().hex[:8]}"
    create_circuit_table(aws_env.client(), name)
    monkeypatch.setenv("CIRCUIT_BREAKER_TABLE", name)
    return name


@pytest.fixture
def ssm(aws_env: LocalDynamoDB) -> Any:
    return boto3.client(
        "ssm",
        endpoint_url=aws_env.endpoint_url,
        region_name=aws_env.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


class Service:
    """A real HTTP service on loopback. Set ``status`` / ``delay_s`` to change how it answers;
    ``fail_first`` answers that many requests with 503 first, then 200 (an outage ending);
    ``gate`` (a Barrier) holds every request until that many have arrived."""

    def __init__(self) -> None:
        self.status = 200
        self.fail_first = 0
        self.delay_s = 0.0
        self.gate: Optional[threading.Barrier] = None
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str = "/health") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with service._lock:
                    service.requests += 1
                    if service.fail_first:
                        service.fail_first -= 1
                        status = 503
                    else:
                        status = service.status
                if service.gate is not None:
                    service.gate.wait(timeout=10)
                if service.delay_s:
                    threading.Event().wait(service.delay_s)
                body = json.dumps({"status": status, "path": self.path}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def start(self) -> "Service":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def service() -> Iterator[Service]:
    running = Service().start()
    yield running
    running.stop()


@pytest.fixture
def closed_url() -> str:
    """A loopback URL on which nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/health"


@pytest.fixture
def unresolvable_url() -> str:
    return "http://nonexistent.invalid/health"  # .invalid never resolves (RFC 6761)
