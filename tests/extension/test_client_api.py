"""The client's one-line API (``guard``, ``protect``) against the real extension process."""

from __future__ import annotations

import urllib.error

import pytest
from circuit_breaker_client import CircuitBreakerClient, CircuitOpenError
from extension_harness import TOKEN, free_port

# Opens on two failures in a row after a success: 2 judged failures, 1 of them a repeat (50 %).
TWO_IN_A_ROW = {"minimum_failures": 2, "failure_rate_threshold": 0.5, "open_duration_s": 60}


def _http_error(status: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("http://service/resource", status, "answer", {}, None)


def test_guard_reports_how_the_block_ends_and_raises_circuit_open_error_once_tripped(launch, stored) -> None:
    client = launch({"payments": TWO_IN_A_ROW}).client()
    with client.guard("payments") as call:
        assert call.circuit.state == "CLOSED" and call.circuit.allowed
    assert (call.failed, call.reported) == (False, True) and call.latency_ms >= 0

    for _ in range(2):
        with pytest.raises(ConnectionError):  # the block's own error goes on, after the report
            with client.guard("payments") as call:
                raise ConnectionError("connection reset")
        assert (call.failed, call.reported, call.error) == (True, True, "ConnectionError: connection reset")
    assert stored("payments").state == "OPEN"

    ran = []
    with pytest.raises(CircuitOpenError) as raised:
        with client.guard("payments"):
            ran.append(True)
    assert ran == []
    assert (raised.value.circuit_id, raised.value.circuit.state, raised.value.circuit.allowed) == ("payments", "OPEN", False)


def test_an_http_status_marked_on_the_call_counts_5xx_as_failures_and_4xx_not(launch) -> None:
    client = launch({"payments": TWO_IN_A_ROW}).client()
    for status in (200, 404, 429, 404):
        with client.guard("payments") as call:
            call.status = status
        assert call.failed is False
    for _ in range(2):
        with client.guard("payments") as call:
            call.status = 503
        assert (call.failed, call.error) == (True, "HTTP 503")
    assert client.check("payments").state == "OPEN"


def test_a_raised_http_error_is_judged_by_its_status(launch) -> None:
    client = launch({"payments": TWO_IN_A_ROW}).client()
    with pytest.raises(urllib.error.HTTPError):
        with client.guard("payments") as call:
            raise _http_error(404)
    assert call.failed is False and client.check("payments").allowed
    for _ in range(2):
        with pytest.raises(TimeoutError):
            with client.guard("payments") as call:
                raise TimeoutError("timed out")
        assert call.failed is True
    assert client.check("payments").state == "OPEN"


def test_which_errors_are_failures_is_configurable(launch) -> None:
    extension = launch({"payments": TWO_IN_A_ROW})
    client = extension.client(failure_exceptions=(TimeoutError, ConnectionError), failure_statuses=(range(400, 600),))
    with pytest.raises(ValueError):
        with client.guard("payments") as call:
            raise ValueError("the answer did not parse")  # not a listed failure: the service answered
    assert call.failed is False
    with client.guard("payments", failure_statuses=(range(500, 600),)) as call:  # per call
        call.status = 404
    assert call.failed is False and client.check("payments").allowed
    for _ in range(2):
        with client.guard("payments") as call:
            call.status = 404  # the client's own setting: 4xx are failures
        assert call.failed is True
    assert client.check("payments").state == "OPEN"


def test_the_decorator_answers_the_fallback_on_failure_and_while_open(launch) -> None:
    client = launch({"payments": TWO_IN_A_ROW}).client()
    calls = []

    @client.protect("payments", fallback=lambda order: f"fallback for {order}")
    def pay(order: str) -> str:
        calls.append(order)
        if order == "bad":
            raise ConnectionError("refused")
        return f"paid {order}"

    assert pay("a") == "paid a"
    assert pay("bad") == "fallback for bad"  # the failure is reported, then the fallback answers
    assert pay("bad") == "fallback for bad"  # the second in a row opens the circuit
    assert pay("b") == "fallback for b"  # OPEN: the function is not called
    assert calls == ["a", "bad", "bad"]

    @client.protect("payments")
    def unguarded() -> str:
        return "called"

    with pytest.raises(CircuitOpenError):
        unguarded()


def test_the_decorator_judges_a_returned_http_status(launch) -> None:
    client = launch({"payments": TWO_IN_A_ROW}).client()

    class Response:
        def __init__(self, status: int) -> None:
            self.status = status

    @client.protect("payments", fallback=lambda status: "fallback")
    def fetch(status: int) -> Response:
        return Response(status)

    assert fetch(404).status == 404 and client.check("payments").allowed
    assert fetch(502) == "fallback"
    assert fetch(502) == "fallback"
    assert client.check("payments").state == "OPEN"


@pytest.mark.parametrize("unknown, runs", [("CLOSED", True), ("OPEN", False)])
def test_with_the_extension_unreachable_the_guard_follows_the_unknown_state_default(monkeypatch, unknown, runs) -> None:
    monkeypatch.setenv("CIRCUIT_BREAKER_UNKNOWN_STATE", unknown)
    client = CircuitBreakerClient(port=free_port(), token=TOKEN)  # nothing listens there
    ran = []
    if runs:
        with client.guard("payments") as call:
            ran.append(True)
        assert (call.circuit.reachable, call.failed, call.reported) == (False, False, False)
        with pytest.raises(KeyError):  # only the block's own error comes out, never the client's
            with client.guard("payments"):
                raise KeyError("x")
    else:
        with pytest.raises(CircuitOpenError) as raised:
            with client.guard("payments"):
                ran.append(True)
        assert raised.value.circuit.reachable is False
    assert ran == ([True] if runs else [])
