"""The lookup benchmark's comparison servers, each in a process of its own.

``python -m benchmarks.servers loopback|dynamodb`` prints the server's ``http://host:port``
on one line and serves until its standard input closes. A separate process per server keeps
every measured round trip a real cross-process loopback exchange, as the function's lookup of
the extension is, and keeps the benchmark's own interpreter lock out of the server's way.

- ``loopback``: the floor. A minimal ``http.server`` on 127.0.0.1, HTTP/1.1 keep-alive, Nagle
  disabled (as DESIGN.md section 5 requires of the extension), answering every GET with a
  fixed JSON body the size of the extension's ``GET /circuits/{id}`` answer.
- ``dynamodb``: moto's DynamoDB (``local.dynamodb.LocalDynamoDB``), which the extension also
  loads its circuits from.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

from . import ROOT

FLOOR_BODY = b'{"id":"payments","state":"CLOSED","allowed":true,"stale":false,"age_ms":1234}'


class _FloorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(FLOOR_BODY)))
        self.end_headers()
        self.wfile.write(FLOOR_BODY)

    def log_message(self, format: str, *args: object) -> None:
        """No line per request."""


def _serve_loopback() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FloorHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    _announce_and_wait(f"http://{host}:{port}")


def _serve_dynamodb() -> None:
    from local_aws.dynamodb import LocalDynamoDB

    with LocalDynamoDB() as dynamodb:
        _announce_and_wait(dynamodb.endpoint_url)


def _announce_and_wait(endpoint: str) -> None:
    print(endpoint, flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or exits)


@contextmanager
def serving(kind: str) -> Iterator[str]:
    """Start ``kind``'s server in a child process; yields its endpoint URL; stops it on exit."""
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.servers", kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        endpoint = child.stdout.readline().strip()
        if not endpoint:
            raise RuntimeError(f"the {kind} server did not start (exit code {child.wait()})")
        yield endpoint
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    {"loopback": _serve_loopback, "dynamodb": _serve_dynamodb}[sys.argv[1]]()
