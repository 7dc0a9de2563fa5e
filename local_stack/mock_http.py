"""A mock service's Function URL on loopback: the real mock handler behind a local HTTP server.

Started by :class:`local_stack.mocks.MockEndpoint` as a process of its own (``python -m
local_stack.mock_http``) with the built mock function folder on PYTHONPATH and the variables the
deployed function gets (its SSM parameter, default mode, mode cache) plus moto's endpoint. Each
HTTP request becomes a Function URL payload 2.0 event and the handler's answer becomes the HTTP
answer, as the Function URL front end does, so the handler runs unmodified and reads its mode
from SSM as in Lambda. A process of its own keeps the handler's boto3 pointed at moto without
touching the local stack's own environment.

It talks to the parent on stdout, one JSON object per line: ``{"port": N}`` once listening, then
``{"at_ms", "path", "status", "mode", "delayed_ms"}`` per answered request (``at_ms``: when the
request arrived). It exits when its stdin closes, so it never outlives the local stack.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

API_ID = "localmock"  # the Function URL's id in <url-id>.lambda-url.<region>.on.aws
Handler = Callable[[Mapping[str, Any], Any], Any]


def function_url_event(
    method: str, target: str, headers: Mapping[str, str], body: bytes, source_ip: str, now_s: float
) -> dict[str, Any]:
    """The payload 2.0 event a Lambda Function URL hands the function for one request."""
    raw_path, _, raw_query = target.partition("?")
    lowered = {name.lower(): value for name, value in headers.items()}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": API_ID,
            "domainName": lowered.get("host", ""),
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_s)),
            "timeEpoch": int(now_s * 1000),
        },
        "isBase64Encoded": False,
    }
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    if query:
        event["queryStringParameters"] = query
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def http_answer(result: Any) -> tuple[int, dict[str, str], bytes]:
    """What the Function URL sends back for a handler's result: (status, headers, body).

    A result with ``statusCode`` is a response object; anything else is the body of a 200
    JSON answer, as the Function URL documentation describes.
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), {str(k): str(v) for k, v in (result.get("headers") or {}).items()}, raw


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, handler: Handler) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.handler = handler
        self._out = threading.Lock()

    def tell(self, message: Mapping[str, Any]) -> None:
        """One line to the parent; lines from concurrent requests never interleave."""
        with self._out:
            sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
            sys.stdout.flush()


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the parent counts requests from the lines this process writes

    def do_GET(self) -> None:
        arrived = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        event = function_url_event(
            self.command, self.path, dict(self.headers), self.rfile.read(length), self.client_address[0], arrived
        )
        try:
            status, headers, body = http_answer(self.server.handler(event, None))  # the mock reads no context
        except Exception as error:  # a function error: the Function URL answers 502
            print(f"handler error: {error!r}", file=sys.stderr, flush=True)
            status, headers, body = 502, {"content-type": "application/json"}, b'{"Message":"Internal Server Error"}'
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        answer = _json_object(body)
        self.server.tell({
            "at_ms": int(arrived * 1000),
            "path": event["rawPath"],
            "status": status,
            "mode": answer.get("mode"),
            "delayed_ms": answer.get("delayed_ms", 0),
        })

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def main() -> None:
    from services.mock import handler  # from the built function folder on PYTHONPATH

    server = _Server(handler)
    server.tell({"port": server.server_address[1]})

    def leave_with_parent() -> None:
        sys.stdin.read()  # returns at EOF: the local stack closed our stdin or went away
        server.shutdown()

    threading.Thread(target=leave_with_parent, daemon=True).start()
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
