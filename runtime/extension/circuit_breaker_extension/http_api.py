"""The loopback HTTP API the function talks to (README.md documents it).

``ThreadingHTTPServer`` with HTTP/1.1 keep-alive, so the function's client keeps one
connection open; Nagle's algorithm is off because headers and body go out in separate writes,
and with delayed ACKs each reply would otherwise stall about 40 ms. Every request is answered
with JSON, errors included, and every exception is caught per request: nothing a caller sends
can take the server down.

The server is bound before the extension registers, so the function never finds it missing;
until boto3 is loaded it answers ``/health`` and 503 for the circuits. That is also why this
module imports only light standard-library modules (see ``endpoint``).
"""

from __future__ import annotations

import hmac
import json
import math
import threading
import traceback
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from .logs import log

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before registering
if TYPE_CHECKING:
    from breaker.machine import BreakerSettings

    from .service import CircuitService

HOST = "127.0.0.1"
TOKEN_HEADER = "X-Circuit-Breaker-Token"
MAX_BODY_BYTES = 4096
IDLE_TIMEOUT_S = 60.0  # an idle keep-alive connection is closed after this; the client reconnects
LEGACY_COLLECTION = "circuit"  # the circuitbreaker-lambda layer's spelling
COLLECTIONS = ("circuits", LEGACY_COLLECTION)
# Ids a caller may add on demand: circuitbreaker-lambda's rule (its ids are function names).
ON_DEMAND_ID_CHARS = frozenset("-_.:0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
MAX_ON_DEMAND_ID_CHARS = 256
REPORT_FIELDS = {"latency_ms", "error"}
# RFC 9110 5.1: a field name is a token; a value is visible characters, spaces, tabs and obs-text.
NAME_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
BAD_VALUE_CHARS = frozenset(chr(code) for code in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F))


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class ApiServer(ThreadingHTTPServer):
    """Binds ``127.0.0.1:port`` on construction; ``start`` serves in a daemon thread."""

    daemon_threads = True
    request_queue_size = 128  # a burst of new connections must not overflow the listen backlog

    def __init__(self, port: int, token: str | None, legacy_without_token: bool = False) -> None:
        super().__init__((HOST, port), _Handler)
        self.token = token
        self.legacy_without_token = legacy_without_token  # compatibility mode: /circuit/... takes no token
        self.service: CircuitService | None = None  # set once the SDK is loaded
        self._on_demand: BreakerSettings | None = None
        self._on_demand_limit = 0
        self._on_demand_added = 0
        self._on_demand_full_logged = False
        self._on_demand_lock = threading.Lock()

    def serve_on_demand(self, settings: BreakerSettings, limit: int) -> None:
        """Compatibility mode: an unconfigured circuit id is added with ``settings``, up to ``limit`` ids."""
        self._on_demand, self._on_demand_limit = settings, limit

    def add_on_demand(self, service: CircuitService, circuit_id: str) -> None:
        """Serve an unconfigured ``circuit_id`` from now on, or raise the 404 / 400 that says why not."""
        if self._on_demand is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"unknown circuit {circuit_id!r}")
        if len(circuit_id) > MAX_ON_DEMAND_ID_CHARS or not ON_DEMAND_ID_CHARS.issuperset(circuit_id):
            raise HttpError(
                HTTPStatus.BAD_REQUEST,
                f"bad circuit id {circuit_id[:60]!r}: at most {MAX_ON_DEMAND_ID_CHARS} letters, digits, '-', '_', '.', ':'",
            )
        with self._on_demand_lock:
            if circuit_id in service.circuit_ids:
                return
            full = self._on_demand_added >= self._on_demand_limit
            if not full:
                service.add_circuit(circuit_id, self._on_demand)
                self._on_demand_added += 1
            first_refusal = full and not self._on_demand_full_logged
            self._on_demand_full_logged |= full
        if not full:
            log("on_demand_added", circuit=circuit_id)
            return
        if first_refusal:  # logged once: a bad caller may loop over ever new ids
            log("on_demand_full", circuit=circuit_id, limit=self._on_demand_limit)
        raise HttpError(
            HTTPStatus.NOT_FOUND,
            f"unknown circuit {circuit_id!r}: {self._on_demand_limit} circuits are served on demand already, "
            "the most per execution environment; configure it in CIRCUIT_BREAKER_CIRCUITS",
        )

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, name="circuit-breaker-http", daemon=True).start()

    def handle_error(self, request: object, client_address: object) -> None:
        log("http_connection_error", error=traceback.format_exc(limit=5))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_S
    server_version = "circuit-breaker"
    sys_version = ""
    server: ApiServer

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What ``http.server`` sends for a request it cannot parse: JSON too, then hang up.

        Always with a status line: on a garbled request line ``http.server`` would assume an
        HTTP/0.9 client and send the body alone, which no client here could read.
        """
        self.close_connection = True
        self.request_version = self.protocol_version
        self._send(HTTPStatus(code), {"error": message or HTTPStatus(code).phrase})

    def parse_request(self) -> bool:
        """``http.server``'s parsing, then every header line checked: a bad one is a 400 and the
        connection closes.

        ``http.server`` hands the header block to an e-mail parser, which stops at a line it
        cannot read and keeps the rest as a message body: the headers after that line (a
        Content-Length among them) would be lost and the request body served as a second
        request on the connection. So nothing the parser flagged or set aside is let through.
        """
        if not super().parse_request():
            return False
        problem = _header_problem(self.headers)
        if problem is None:
            return True
        self.send_error(HTTPStatus.BAD_REQUEST, problem)
        return False

    def log_message(self, format: str, *args: object) -> None:
        """No line per request: the function's traffic is not the extension's news."""

    def _answer(self) -> None:
        headers: dict[str, str] = {}
        try:
            status, body = self._route(self._read_body())
        except HttpError as error:
            status, body, headers = error.status, {"error": error.message}, error.headers
        except Exception:
            log("request_failed", method=self.command, path=self.path, error=traceback.format_exc(limit=8))
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error in the circuit-breaker extension"}
        self._send(status, body, headers)

    def _send(self, status: HTTPStatus, body: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _read_body(self) -> bytes:
        """The request body, read whole so the next request on the connection starts clean."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise HttpError(HTTPStatus.BAD_REQUEST, "chunked bodies are not supported: send Content-Length")
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        if not raw.strip().isdigit():
            self.close_connection = True
            raise HttpError(HTTPStatus.BAD_REQUEST, f"bad Content-Length {raw!r}")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body stays unread: the connection cannot be reused
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    def _route(self, body: bytes) -> tuple[HTTPStatus, object]:
        parts = [unquote(part) for part in urlsplit(self.path).path.split("/")[1:]]
        if not (self.server.legacy_without_token and parts[:1] == [LEGACY_COLLECTION]):
            self._check_token()
        if parts == ["health"]:
            self._allow("GET")
            return HTTPStatus.OK, self._health()
        if parts == ["circuits"]:
            self._allow("GET")
            return HTTPStatus.OK, {"circuits": [view.to_json() for view in self._service().overview()]}
        if len(parts) == 2 and parts[0] in COLLECTIONS and parts[1]:
            self._allow("GET")
            return HTTPStatus.OK, self._service(parts[1]).lookup(parts[1]).to_json()
        if len(parts) == 3 and parts[0] in COLLECTIONS and parts[1] and parts[2] in ("success", "failure"):
            self._allow("POST")
            return self._report(parts[1], parts[2] == "success", body)
        raise HttpError(HTTPStatus.NOT_FOUND, f"no such endpoint: {self.command} {self.path}")

    def _check_token(self) -> None:
        expected = self.server.token
        if expected is None:
            return
        given = self.headers.get(TOKEN_HEADER)
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HttpError(HTTPStatus.UNAUTHORIZED, f"missing or wrong {TOKEN_HEADER} header (it must carry AWS_SESSION_TOKEN)")

    def _allow(self, method: str) -> None:
        if self.command != method:
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} not allowed here; use {method}", {"Allow": method})

    def _service(self, circuit_id: str | None = None) -> CircuitService:
        """The service, once it exists; with ``circuit_id``, only if that circuit is configured."""
        service = self.server.service
        if service is None:
            raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, "starting: the circuits are not loaded yet")
        if circuit_id is not None and circuit_id not in service.circuit_ids:
            self.server.add_on_demand(service, circuit_id)  # compatibility mode; else a 404
        return service

    def _health(self) -> dict[str, object]:
        service = self.server.service
        if service is None:
            return {"status": "starting"}
        return {"status": "ok", **service.health()}

    def _report(self, circuit_id: str, ok: bool, body: bytes) -> tuple[HTTPStatus, object]:
        service = self._service(circuit_id)
        latency_ms, error = _parse_report(body)
        result = service.report(circuit_id, ok, latency_ms, error)
        status = HTTPStatus.ACCEPTED if result.queued else HTTPStatus.OK
        return status, result.to_json()


def _header_problem(headers: Message) -> str | None:
    """Why a parsed header block is not a valid HTTP/1.1 one, or None (RFC 9112 section 5)."""
    if headers.defects or headers.get_unixfrom() is not None:
        return "malformed header line"
    leftover = headers.get_payload()
    if leftover:
        return f"malformed header line {str(leftover).splitlines()[0][:60]!r}"
    for name, value in headers.raw_items():
        if not name or not NAME_CHARS.issuperset(name):
            return f"malformed header name {name[:60]!r}"
        if not BAD_VALUE_CHARS.isdisjoint(value):
            return f"malformed value of header {name[:60]!r} (control character or folded line)"
    if len(headers.get_all("Content-Length", ())) > 1:
        return "more than one Content-Length header"
    return None


def _parse_report(body: bytes) -> tuple[float, str | None]:
    """``{"latency_ms": number >= 0, "error": string}``, both optional; anything else is a 400."""
    if not body.strip():
        return 0.0, None
    try:
        data = json.loads(body)
    except ValueError as error:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise HttpError(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
    unknown = sorted(set(data) - REPORT_FIELDS)
    if unknown:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"unknown field(s) {unknown}; expected latency_ms and error")
    latency = _latency_ms(data.get("latency_ms", 0.0))
    error = data.get("error")
    if error is not None and not isinstance(error, str):
        raise HttpError(HTTPStatus.BAD_REQUEST, f"error must be a string, got {error!r}")
    return latency, error


def _latency_ms(value: object) -> float:
    bad = HttpError(HTTPStatus.BAD_REQUEST, f"latency_ms must be a number >= 0, got {str(value)[:40]}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad
    try:
        latency = float(value)
    except OverflowError:
        raise bad from None
    if not math.isfinite(latency) or latency < 0:
        raise bad
    return latency
