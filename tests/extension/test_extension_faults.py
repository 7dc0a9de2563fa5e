"""Faults and bad input: DynamoDB away, wrong tokens, malformed requests, the extension itself away."""

from __future__ import annotations

import http.client
import json
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from circuit_breaker_client import CircuitBreakerClient
from breaker.machine import BreakerSettings, window_counts
from circuit_breaker_extension.service import FLUSH_INTERVAL_S
from extension_harness import TOKEN, call, free_port, trips_after, wait_for

LONG_OPEN = trips_after(2, open_duration_s=60)


def test_dynamodb_unreachable_serves_the_last_known_state_as_stale(launch, proxy) -> None:
    extension = launch({"payments": LONG_OPEN, "search": {}}, env={"CIRCUIT_BREAKER_CACHE_TTL_S": "0.2"}, endpoint=proxy.endpoint_url)
    extension.report("payments", "failure")
    assert extension.report("payments", "failure")[1]["state"] == "OPEN"
    proxy.cut()
    time.sleep(0.25)  # past the TTL

    payments, search = extension.get("payments")[1], extension.get("search")[1]
    assert (payments["state"], payments["allowed"], payments["stale"]) == ("OPEN", False, True)
    assert (search["state"], search["allowed"], search["stale"]) == ("CLOSED", True, True)
    assert payments["age_ms"] >= 200
    assert extension.process.wait_logs("load_error")

    proxy.restore()  # the cache tries again once its retry pause (1 s) is over
    wait_for(lambda: extension.get("search")[1]["stale"] is False, timeout_s=5, what="a fresh load")
    assert extension.get("payments")[1]["state"] == "OPEN"


@pytest.mark.parametrize(("unknown", "allowed"), [(None, True), ("OPEN", False)])
def test_never_loaded_answers_the_unknown_state_default(launch, proxy, unknown, allowed) -> None:
    proxy.cut()
    extension = launch({"payments": {}}, env={"CIRCUIT_BREAKER_UNKNOWN_STATE": unknown}, endpoint=proxy.endpoint_url)
    status, answer = extension.get("payments")
    assert status == 200
    assert answer == {"id": "payments", "state": unknown or "CLOSED", "allowed": allowed, "stale": True, "age_ms": None}
    assert extension.get("payments")[0] == 200  # and keeps serving


def counts(stored) -> tuple[int, int]:
    record = stored("payments")
    return window_counts(record, BreakerSettings(), record.updated_at)


def test_failures_the_table_cannot_take_wait_and_go_out_in_one_write_on_a_later_invoke(launch, proxy, stored, dynamodb) -> None:
    """Issue 12: queued reports of one circuit are observations on one record, so they are
    applied together: 20 failures queued while DynamoDB was away cost one UpdateItem."""
    extension = launch({"payments": {}}, endpoint=proxy.endpoint_url)
    assert extension.report("payments", "success")[0] == 200  # so every failure below is judged
    proxy.cut()
    answers = [extension.report("payments", "failure", {"error": "HTTP 503"}) for _ in range(20)]
    assert all(status == 202 and answer["pending"] is True for status, answer in answers)
    assert call(extension.port, "GET", "/health")[1]["pending"] == 20

    time.sleep(FLUSH_INTERVAL_S)
    extension.stub.invoke()  # still cut: nothing lost, nothing written
    assert call(extension.port, "GET", "/health")[1]["pending"] == 20
    proxy.restore()
    time.sleep(FLUSH_INTERVAL_S)
    updates = dynamodb.operations["UpdateItem"]
    extension.stub.invoke()

    assert dynamodb.operations["UpdateItem"] - updates == 1  # one ADD of all 20, which creates the record too
    assert counts(stored) == (20, 19)  # the first followed a success; 19 repeats
    health = call(extension.port, "GET", "/health")[1]
    assert (health["pending"], health["flushes"]["written"]) == (0, 20)


def test_shutdown_flushes_queued_reports_within_the_deadline(launch, proxy, stored) -> None:
    extension = launch({"payments": {}}, endpoint=proxy.endpoint_url)
    extension.report("payments", "success")
    proxy.cut()
    assert extension.report("payments", "failure", {"error": "HTTP 503"})[0] == 202
    proxy.restore()

    assert extension.shut_down(budget_ms=2000) == 0
    assert counts(stored) == (1, 0)
    shutdown = extension.process.logs("shutdown")[0]
    assert (shutdown["pending_before"], shutdown["written"], shutdown["in_flight"], shutdown["pending_left"]) == (1, 1, 0, 0)


def test_shutdown_with_dynamodb_still_away_exits_on_time(launch, proxy) -> None:
    extension = launch({"payments": {}}, endpoint=proxy.endpoint_url)
    extension.report("payments", "success")
    proxy.cut()
    assert extension.report("payments", "failure")[0] == 202
    assert extension.shut_down(budget_ms=300) == 0
    shutdown = extension.process.logs("shutdown")[0]
    assert shutdown["pending_before"] == 1 and shutdown["written"] == 0
    assert shutdown["in_flight"] + shutdown["pending_left"] == 1  # the try may still hang at the deadline


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
def test_a_missing_or_wrong_token_is_refused(launch, token) -> None:
    extension = launch({"payments": {}})
    for method, path in (("GET", "/circuits/payments"), ("POST", "/circuits/payments/failure"), ("GET", "/health")):
        status, answer = call(extension.port, method, path, token=token)
        assert status == 401
        assert "X-Circuit-Breaker-Token" in answer["error"]
    assert extension.get("payments")[0] == 200  # the right token still works
    assert extension.client(token="wrong").check("payments").reachable is False


def test_opting_out_of_the_token_serves_the_legacy_paths(launch, stored) -> None:
    extension = launch(
        {"payments": {"minimum_failures": 2, "failure_rate_threshold": 0.5}},
        env={"CIRCUIT_BREAKER_REQUIRE_TOKEN": "false", "AWS_SESSION_TOKEN": None},
    )
    status, answer = call(extension.port, "GET", "/circuit/payments", token=None)
    assert (status, answer["state"], answer["allowed"]) == (200, "CLOSED", True)
    assert call(extension.port, "POST", "/circuit/payments/failure", token=None)[0] == 200
    assert call(extension.port, "POST", "/circuit/payments/success", {"latency_ms": 3}, token=None)[0] == 200
    assert call(extension.port, "POST", "/circuit/payments/failure", token=None)[0] == 200
    assert call(extension.port, "POST", "/circuit/payments/failure", token=None)[1]["state"] == "OPEN"
    assert call(extension.port, "GET", "/circuit/payments", token="anything")[1]["allowed"] is False
    # failure (first: unjudged), success, failure (judged), failure (a repeat: 1 of 2, the rule holds)
    assert stored("payments").version == 2  # created with the first count, then the trip


def test_bad_requests_get_json_errors_and_the_server_keeps_serving(launch) -> None:
    extension = launch({"payments": {}})
    cases = [
        ("GET", "/circuits/nope", None, 404, "unknown circuit"),
        ("POST", "/circuits/nope/failure", None, 404, "unknown circuit"),
        ("GET", "/nowhere", None, 404, "no such endpoint"),
        ("POST", "/circuits/payments/maybe", None, 404, "no such endpoint"),
        ("POST", "/circuits/payments/failure", b"{not json", 400, "JSON"),
        ("POST", "/circuits/payments/failure", b"[1, 2]", 400, "object"),
        ("POST", "/circuits/payments/success", {"latency_ms": -1}, 400, "latency_ms"),
        ("POST", "/circuits/payments/success", {"latency_ms": "fast"}, 400, "latency_ms"),
        ("POST", "/circuits/payments/success", {"latency_ms": True}, 400, "latency_ms"),
        ("POST", "/circuits/payments/success", b'{"latency_ms": 1e999}', 400, "latency_ms"),
        ("POST", "/circuits/payments/success", b'{"latency_ms": ' + b"9" * 400 + b"}", 400, "latency_ms"),
        ("POST", "/circuits/payments/failure", {"error": 42}, 400, "error"),
        ("POST", "/circuits/payments/failure", {"latency": 3}, 400, "unknown field"),
        ("POST", "/circuits/payments/failure", b"\xff\xfe", 400, "JSON"),
        ("GET", "/circuits/payments/success", None, 405, "use POST"),
        ("POST", "/circuits/payments", None, 405, "use GET"),
        ("DELETE", "/circuits", None, 405, "use GET"),
        ("PUT", "/health", None, 405, "use GET"),
    ]
    connection = http.client.HTTPConnection("127.0.0.1", extension.port, timeout=5)  # one kept-alive connection
    for method, path, body, expected, needle in cases:
        payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers={"X-Circuit-Breaker-Token": TOKEN})
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert (method, path, response.status) == (method, path, expected)
        assert needle in answer["error"]
    connection.close()
    assert extension.get("payments")[1]["allowed"] is True


def test_oversized_chunked_and_garbled_requests_are_refused(launch) -> None:
    extension = launch({"payments": {}})
    status, answer = call(extension.port, "POST", "/circuits/payments/failure", b"x" * 5000)
    assert status == 413 and "4096" in answer["error"]
    status, answer, _ = _raw_until_closed(extension.port, b"POST /circuits/payments/failure HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert status == 400 and "chunked" in answer["error"]
    status, answer, _ = _raw_until_closed(extension.port, b"GET /health HTTP/1.1 extra\r\n\r\n")
    assert status == 400 and "Bad request" in answer["error"]
    status, answer, _ = _raw_until_closed(extension.port, b"BREW /health HTTP/1.1\r\n\r\n")
    assert status == 501 and "BREW" in answer["error"]
    status, answer, _ = _raw_until_closed(extension.port, b"GET /health HTTP/1.1\r\nContent-Length: -5\r\n\r\n")
    assert status == 400 and "Content-Length" in answer["error"]
    assert extension.get("payments")[0] == 200


SMUGGLED = b"POST /circuits/payments/failure HTTP/1.1\r\nX-Circuit-Breaker-Token: " + TOKEN.encode() + b"\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize(
    "bad_line",
    [
        b"no colon here",
        b"Bad Name: x",  # a space in the name
        b": no name",
        b" folded continuation",  # obsolete line folding (RFC 9112 5.2)
        b"From someone",  # what an e-mail parser would take for an envelope line
        b"Content-Length: 3",  # a second Content-Length that disagrees with the first
    ],
)
def test_a_malformed_header_line_answers_400_and_closes_the_connection(launch, bad_line: bytes) -> None:
    """A bad header line never hides the headers after it: otherwise a Content-Length after it is
    lost and the body is served as a second request on the connection (request smuggling)."""
    extension = launch({"payments": LONG_OPEN})
    request = (
        b"GET /circuits/payments HTTP/1.1\r\nHost: x\r\nX-Circuit-Breaker-Token: " + TOKEN.encode() + b"\r\n"
        + bad_line + b"\r\nContent-Length: " + str(len(SMUGGLED)).encode() + b"\r\n\r\n" + SMUGGLED
    )
    status, answer, rest = _raw_until_closed(extension.port, request)
    assert status == 400 and answer["error"]
    assert rest == b""  # one answer, then the connection was closed
    assert extension.get("payments")[1]["allowed"] is True  # the smuggled failure was never applied


def test_an_unsupported_http_version_answers_505(launch) -> None:
    extension = launch({"payments": {}})
    status, answer, rest = _raw_until_closed(extension.port, b"GET /health HTTP/2.0\r\n\r\n")
    assert status == 505 and answer["error"] and rest == b""
    assert extension.get("payments")[0] == 200


def _raw_until_closed(port: int, request: bytes) -> tuple[int, dict, bytes]:
    """Send bytes as they are, read until the server closes: (status, JSON body, bytes after it).

    A server that keeps the connection open makes this raise (socket timeout), which fails the test.
    """
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
    return status, json.loads(body[:length]), body[length:]


def test_client_falls_back_to_the_unknown_state_when_the_extension_is_down(monkeypatch) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    status = CircuitBreakerClient(port=port, token=TOKEN).check("payments")
    assert (status.state, status.allowed, status.reachable, status.stale, status.age_ms) == ("CLOSED", True, False, True, None)
    assert CircuitBreakerClient(port=port).report_failure("payments", 3.0, "boom") is False
    assert CircuitBreakerClient(port=port).report_success("payments", 3.0) is False

    monkeypatch.setenv("CIRCUIT_BREAKER_UNKNOWN_STATE", "OPEN")
    status = CircuitBreakerClient(port=port).check("payments")
    assert (status.state, status.allowed, status.reachable) == ("OPEN", False, False)
    assert time.monotonic() - started < 1.0


def test_client_treats_garbage_and_silence_as_unreachable() -> None:
    class Garbage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.endswith("slow"):
                time.sleep(1)
            self.send_response(200)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not json!")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = CircuitBreakerClient(port=server.server_address[1], token=TOKEN, timeout_s=0.2)
        assert client.check("payments").reachable is False
        started = time.monotonic()
        assert client.check("slow").reachable is False
        assert time.monotonic() - started < 0.5
    finally:
        server.shutdown()
        server.server_close()


def test_client_reconnects_when_its_kept_connection_is_gone(launch) -> None:
    first = launch({"payments": {}})
    client = first.client()
    assert client.check("payments").reachable is True
    first.process.stop()  # the kept-alive connection dies with the process
    launch({"payments": {}}, port=first.port)
    status = client.check("payments")
    assert (status.reachable, status.allowed) == (True, True)
    assert client.report_success("payments", 1.0) is True
