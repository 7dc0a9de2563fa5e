"""HTTP for ``lambda_api``: the Runtime API (2018-06-01) and the Extensions API (2020-01-01)
on one loopback port, as ``AWS_LAMBDA_RUNTIME_API`` names it inside Lambda.

Thin on purpose: it parses requests, calls ``LambdaApi`` and renders what comes back, so that
the rules stay in one place. Long polls block a handler thread each, hence a threading server.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

from .lambda_api import LambdaApi
from .lambda_api_model import ApiError

log = logging.getLogger(__name__)

_ACCEPTED = {"status": "OK"}  # the body Lambda sends with its 202s


@dataclass(frozen=True)
class _Request:
    headers: Message
    body: bytes
    params: dict[str, str]


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


_Endpoint = Callable[[LambdaApi, _Request], _Reply]


def _json_reply(status: int, value: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(value).encode(), headers or {})


def _runtime_next(api: LambdaApi, request: _Request) -> _Reply:
    headers, payload = api.runtime_next()
    return _Reply(200, payload, headers)


def _runtime_response(api: LambdaApi, request: _Request) -> _Reply:
    api.runtime_result(request.params["request_id"], "success", "", request.body)
    return _json_reply(202, _ACCEPTED)


def _runtime_error(api: LambdaApi, request: _Request) -> _Reply:
    # Lambda reports an uncaught function error as "Unhandled" when the runtime names none.
    error_type = request.headers.get("Lambda-Runtime-Function-Error-Type") or "Unhandled"
    api.runtime_result(request.params["request_id"], "error", error_type, request.body)
    return _json_reply(202, _ACCEPTED)


def _runtime_init_error(api: LambdaApi, request: _Request) -> _Reply:
    error_type = request.headers.get("Lambda-Runtime-Function-Error-Type") or "Unknown"
    api.runtime_init_error(error_type, request.body)
    return _json_reply(202, _ACCEPTED)


def _extension_register(api: LambdaApi, request: _Request) -> _Reply:
    headers, body = api.register(
        request.headers.get("Lambda-Extension-Name", ""),
        request.headers.get("Lambda-Extension-Accept-Feature", ""),
        request.body,
    )
    return _json_reply(200, body, headers)


def _extension_next(api: LambdaApi, request: _Request) -> _Reply:
    headers, event = api.extension_next(request.headers.get("Lambda-Extension-Identifier"))
    return _json_reply(200, event, headers)


def _extension_error(kind: str) -> _Endpoint:
    def handle(api: LambdaApi, request: _Request) -> _Reply:
        headers = api.extension_error(
            kind,
            request.headers.get("Lambda-Extension-Identifier"),
            request.headers.get("Lambda-Extension-Function-Error-Type", ""),
            request.body,
        )
        return _json_reply(202, _ACCEPTED, headers)

    return handle


_Route = tuple[str, "re.Pattern[str]", _Endpoint]
_ROUTES: list[_Route] = [
    ("GET", re.compile(r"/2018-06-01/runtime/invocation/next"), _runtime_next),
    (
        "POST",
        re.compile(r"/2018-06-01/runtime/invocation/(?P<request_id>[^/]+)/response"),
        _runtime_response,
    ),
    (
        "POST",
        re.compile(r"/2018-06-01/runtime/invocation/(?P<request_id>[^/]+)/error"),
        _runtime_error,
    ),
    ("POST", re.compile(r"/2018-06-01/runtime/init/error"), _runtime_init_error),
    ("POST", re.compile(r"/2020-01-01/extension/register"), _extension_register),
    ("GET", re.compile(r"/2020-01-01/extension/event/next"), _extension_next),
    ("POST", re.compile(r"/2020-01-01/extension/init/error"), _extension_error("init")),
    ("POST", re.compile(r"/2020-01-01/extension/exit/error"), _extension_error("exit")),
]


def _route(method: str, path: str) -> tuple[_Endpoint, dict[str, str]]:
    """The handler for ``method path`` and its path parameters; 404/405 like any HTTP API."""
    path_known = False
    for route_method, pattern, handler in _ROUTES:
        match = pattern.fullmatch(path)
        if match:
            if route_method == method:
                return handler, match.groupdict()
            path_known = True
    if path_known:
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
    raise ApiError(404, "NotFound", f"no such API: {path}")


class _Handler(BaseHTTPRequestHandler):
    # Runtime clients keep connections alive; without TCP_NODELAY each reply would wait out
    # the peer's delayed ACK (about 40 ms), which would swamp every latency we measure.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        # One line per long poll on stderr would bury the logs that matter.
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self, method: str) -> None:
        try:
            body = self._read_body()
            handler, params = _route(method, urlsplit(self.path).path)
            reply = handler(self.server.api, _Request(self.headers, body, params))
        except ApiError as error:
            reply = _json_reply(
                error.status, {"errorMessage": error.message, "errorType": error.error_type}
            )
        self._send(reply)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True  # the rest of the stream cannot be framed
            raise ApiError(400, "InvalidRequestFormat", "bad Content-Length") from None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True  # the rest of the stream cannot be framed
                raise ApiError(400, "InvalidRequestFormat", "bad chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing we use
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _send(self, reply: _Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            # The caller went away while it waited (a killed process): nobody to tell.
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # long polls of killed processes must not hold up server_close

    def __init__(self, api: LambdaApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api


class ApiServer:
    """Both APIs on a free loopback port, served from a background thread until ``stop``."""

    def __init__(self, api: LambdaApi) -> None:
        self._server = _Server(api)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() may wait for the loop
            name=f"lambda-api-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """The value of ``AWS_LAMBDA_RUNTIME_API``."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the listening socket, which frees the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
