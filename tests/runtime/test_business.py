"""The business function's decisions, against a real HTTP service on loopback.

The circuit-breaker client is the layer's, with ``check`` and the reports stood in for, injected
through the module-level factory; the real client talking to the real extension process is
covered by the extension's end-to-end tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import pytest
from circuit_breaker_client import CircuitBreakerClient

from services import business


@dataclass(frozen=True)
class CircuitStatus:
    id: str
    state: str
    allowed: bool
    stale: bool = False
    age_ms: Optional[int] = 5
    reachable: bool = True


class StandIn(CircuitBreakerClient):
    """The real client with ``check`` answering a fixed status and the reports recorded (latency
    rounded as the function's answer shows it); ``guard`` is the client's own."""

    def __init__(self, status: CircuitStatus) -> None:
        super().__init__(port=0, token="unused")
        self.status = status
        self.reports: list[tuple[Any, ...]] = []

    def check(self, circuit_id: str) -> CircuitStatus:  # type: ignore[override]
        return self.status

    def report_success(self, circuit_id: str, latency_ms: float = 0.0) -> bool:
        self.reports.append(("success", circuit_id, round(latency_ms, 1)))
        return self.status.reachable

    def report_failure(self, circuit_id: str, latency_ms: float = 0.0, error: Optional[str] = None) -> bool:
        self.reports.append(("failure", circuit_id, round(latency_ms, 1), error))
        return self.status.reachable


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch):
    """Set the environment and inject a stand-in client answering ``state``/``allowed``."""

    def apply(url: str, state: str = "CLOSED", allowed: bool = True, **status: Any) -> StandIn:
        monkeypatch.setenv("CIRCUIT_ID", "payments")
        monkeypatch.setenv("SERVICE_URL", url)
        monkeypatch.setenv("CALL_TIMEOUT_S", "0.5")
        stand_in = StandIn(CircuitStatus("payments", state, allowed, **status))
        monkeypatch.setattr(business, "_breaker", stand_in)
        return stand_in

    return apply


def invoke() -> dict[str, Any]:
    answer = business.handler({}, None)
    json.dumps(answer)  # what Lambda does with it
    return answer


def test_live_path_calls_the_service_and_reports_success(configure, service):
    client = configure(service.url("/resource"))
    answer = invoke()
    assert service.requests == 1
    assert answer["path"] == "live" and answer["service_status"] == 200
    assert answer["body"] == {"status": 200, "path": "/resource"}
    assert answer["circuit_id"] == "payments" and answer["circuit_state"] == "CLOSED"
    assert answer["extension_reachable"] is True and answer["stale"] is False and answer["reported"] is True
    assert client.reports == [("success", "payments", answer["latency_ms"])]
    assert "fallback" not in answer


@pytest.mark.parametrize("state", ["OPEN", "FORCED_OPEN", "HALF_OPEN"])
def test_fallback_path_makes_no_request(configure, service, state):
    client = configure(service.url("/resource"), state=state, allowed=False, stale=True)
    answer = invoke()
    assert service.requests == 0 and client.reports == []
    assert answer["path"] == "fallback" and answer["circuit_state"] == state and answer["stale"] is True
    assert answer["service_status"] is None and answer["latency_ms"] is None
    assert answer["fallback"]["degraded"] is True and "body" not in answer


def test_failed_call_is_reported_and_answered_with_the_fallback(configure, service):
    service.status = 503
    client = configure(service.url("/resource"))
    answer = invoke()
    assert answer["path"] == "live" and answer["service_status"] == 503 and answer["error"] == "HTTP 503"
    assert client.reports == [("failure", "payments", answer["latency_ms"], "HTTP 503")]
    assert answer["fallback"]["degraded"] is True and "body" not in answer


@pytest.mark.parametrize("status", [302, 500])
def test_the_business_call_judges_answers_as_the_checker_does(configure, service, status):
    """A redirect or a 500 is a failure for the business call as for the probe: both use httpcall."""
    service.status = status
    client = configure(service.url("/resource"))
    answer = invoke()
    assert (answer["service_status"], answer["error"]) == (status, f"HTTP {status}")
    assert client.reports == [("failure", "payments", answer["latency_ms"], f"HTTP {status}")]


def test_an_unresolvable_host_is_a_reported_failure(configure):
    client = configure("http://nonexistent.invalid/resource")
    answer = invoke()
    assert answer["service_status"] is None and answer["error"].startswith("DNS lookup failed")
    assert [report[0] for report in client.reports] == ["failure"]


@pytest.mark.parametrize("target, error", [("slow", "timeout after 0.5 s"), ("closed", "connection refused")])
def test_timeout_and_refused_connection_are_reported_failures(configure, service, closed_url, target, error):
    service.delay_s = 1.0
    client = configure(service.url("/resource") if target == "slow" else closed_url, state="HALF_OPEN")  # a trial
    answer = invoke()
    assert answer["path"] == "live" and answer["service_status"] is None and answer["error"] == error
    assert client.reports == [("failure", "payments", answer["latency_ms"], error)]


def test_unreachable_extension_follows_the_unknown_default_and_says_so(configure, service):
    client = configure(service.url("/resource"), state="CLOSED", allowed=True, age_ms=None, reachable=False)
    answer = invoke()
    assert answer["extension_reachable"] is False and answer["reported"] is False
    assert answer["path"] == "live" and service.requests == 1 and len(client.reports) == 1


def test_unknown_default_open_means_fallback(configure, service):
    configure(service.url("/resource"), state="OPEN", allowed=False, age_ms=None, reachable=False)
    answer = invoke()
    assert answer["path"] == "fallback" and answer["extension_reachable"] is False and service.requests == 0


def test_bad_configuration_names_each_variable():
    with pytest.raises(ValueError) as raised:
        business.settings_from({"SERVICE_URL": "localhost:8080", "CALL_TIMEOUT_S": "0"})
    for name in ("CIRCUIT_ID", "SERVICE_URL", "CALL_TIMEOUT_S"):
        assert f"{name}: " in str(raised.value)


def test_timeout_defaults_to_two_seconds():
    settings = business.settings_from({"CIRCUIT_ID": "a", "SERVICE_URL": "https://svc.example/resource"})
    assert settings.timeout_s == 2.0
