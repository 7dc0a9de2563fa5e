"""The mock microservice: its modes, and switching them through SSM (moto on loopback)."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest

from services import mock
from services.mock import MockService, ModeError, parse_mode


def request(path: str, method: str = "GET") -> dict[str, Any]:
    """A Function URL event (payload format 2.0), reduced to what the service reads."""
    return {"version": "2.0", "rawPath": path, "headers": {}, "requestContext": {"http": {"method": method, "path": path}}}


def answer(service: MockService, path: str = "/resource", method: str = "GET") -> tuple[int, dict[str, Any]]:
    response = service.handle(request(path, method))
    assert response["headers"]["content-type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parameter(ssm: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"/mock/{uuid.uuid4().hex[:8]}/mode"
    monkeypatch.setenv("MOCK_MODE_PARAMETER", name)
    return name


def set_mode(ssm: Any, name: str, value: dict[str, Any]) -> None:
    ssm.put_parameter(Name=name, Value=json.dumps(value), Type="String", Overwrite=True)


def environment(**kwargs: Any) -> MockService:
    """One execution environment, built as the handler builds it (from the environment)."""
    return MockService.from_environment(**kwargs)


def test_healthy(ssm, parameter):
    set_mode(ssm, parameter, {"mode": "healthy"})
    service = environment()
    for path in ("/health", "/resource"):
        status, body = answer(service, path)
        assert status == 200
        assert body == {"path": path, "ok": True, "mode": "healthy", "mode_source": "parameter"}


@pytest.mark.parametrize("configured, status", [({}, 503), ({"failure_status": 500}, 500)])
def test_failing(ssm, parameter, configured, status):
    set_mode(ssm, parameter, {"mode": "failing", **configured})
    got, body = answer(environment(), "/health")
    assert got == status and body["ok"] is False and body["mode"] == "failing"


def test_slow_sleeps_then_answers(ssm, parameter):
    set_mode(ssm, parameter, {"mode": "slow", "delay_ms": 3000})
    slept: list[float] = []
    status, body = answer(environment(sleep=slept.append))
    assert status == 200 and slept == [3.0] and body["delayed_ms"] == 3000


def test_flaky_follows_each_draw(ssm, parameter):
    set_mode(ssm, parameter, {"mode": "flaky", "failure_rate": 0.5, "failure_status": 502})
    draws = iter([0.49, 0.5])
    service = environment(draw=lambda: next(draws))
    assert answer(service)[0] == 502
    assert answer(service)[0] == 200


def test_flaky_rate_holds_over_many_seeded_draws(ssm, parameter):
    set_mode(ssm, parameter, {"mode": "flaky", "failure_rate": 0.3})
    service = environment(draw=random.Random(20240601).random)
    failures = sum(answer(service)[0] == 503 for _ in range(4000))
    assert abs(failures / 4000 - 0.3) < 0.025


def test_mode_route_shows_the_mode(ssm, parameter):
    set_mode(ssm, parameter, {"mode": "flaky", "failure_rate": 0.25})
    status, body = answer(environment(), "/mode")
    assert status == 200 and body["mode"] == "flaky" and body["mode_source"] == "parameter"
    assert body["settings"] == {"mode": "flaky", "failure_status": 503, "delay_ms": 3000, "failure_rate": 0.25}


def test_unknown_routes_and_methods(ssm, parameter):
    set_mode(ssm, parameter, {"mode": "healthy"})
    service = environment()
    assert answer(service, "/nope")[0] == 404
    response = service.handle(request("/health", "POST"))
    assert response["statusCode"] == 405 and response["headers"]["allow"] == "GET"
    assert service.handle({})["statusCode"] == 404


def test_switch_through_ssm_reaches_every_environment_after_the_cache_period(ssm, parameter, monkeypatch):
    monkeypatch.setenv("MOCK_MODE_CACHE_S", "1")
    set_mode(ssm, parameter, {"mode": "healthy"})
    clock = Clock()
    first, second = environment(clock=clock), environment(clock=clock)
    assert answer(first)[0] == 200
    clock.now += 0.4
    assert answer(second)[0] == 200  # the second environment read 0.4 s later

    set_mode(ssm, parameter, {"mode": "failing"})
    clock.now += 0.5  # 0.9 s after the first read: both still serve their cached mode
    assert (answer(first)[0], answer(second)[0]) == (200, 200)
    clock.now += 0.1  # the first environment's cache has expired
    assert (answer(first)[0], answer(second)[0]) == (503, 200)
    clock.now += 0.4  # and now the second's
    assert (answer(first)[0], answer(second)[0]) == (503, 503)


def test_unreadable_parameter_falls_back_to_the_default_mode_and_says_so(aws_env, monkeypatch):
    monkeypatch.setenv("MOCK_MODE_PARAMETER", "/mock/does-not-exist")
    monkeypatch.setenv("MOCK_DEFAULT_MODE", '{"mode": "failing", "failure_status": 500}')
    status, body = answer(environment())
    assert status == 500 and body["mode"] == "failing" and body["mode_source"] == "default"
    assert "ParameterNotFound" in body["mode_problem"]


def test_unknown_mode_falls_back_to_the_default_mode_and_says_so(ssm, parameter, monkeypatch):
    monkeypatch.delenv("MOCK_DEFAULT_MODE", raising=False)
    set_mode(ssm, parameter, {"mode": "broken"})
    status, body = answer(environment(), "/mode")
    assert status == 200 and body["mode"] == "healthy" and body["mode_source"] == "default"
    assert "mode: must be one of healthy, failing, slow, flaky, got 'broken'" in body["mode_problem"]


def test_invalid_default_mode_is_reported_too(monkeypatch):
    monkeypatch.delenv("MOCK_MODE_PARAMETER", raising=False)
    monkeypatch.setenv("MOCK_DEFAULT_MODE", "failing")
    status, body = answer(environment())
    assert status == 200 and body["mode_source"] == "default"
    assert "MOCK_MODE_PARAMETER is not set" in body["mode_problem"] and "MOCK_DEFAULT_MODE is invalid" in body["mode_problem"]


@pytest.mark.parametrize(
    "text, fields",
    [
        ("not json", ["value"]),
        ("[1]", ["value"]),
        ('{"failure_status": 200, "delay_ms": -1, "failure_rate": 1.5, "rate": 1}', ["mode", "failure_status", "delay_ms", "failure_rate", "rate"]),
        ('{"mode": "slow", "delay_ms": 1.5, "failure_status": true}', ["delay_ms", "failure_status"]),
    ],
)
def test_parse_mode_names_every_bad_field(text, fields):
    with pytest.raises(ModeError) as raised:
        parse_mode(text)
    assert sorted(raised.value.problems) == sorted(fields)


def test_bad_cache_setting_is_named(monkeypatch):
    monkeypatch.setenv("MOCK_MODE_CACHE_S", "soon")
    with pytest.raises(ValueError, match="MOCK_MODE_CACHE_S"):
        environment()


def test_module_handler_reuses_one_service_per_environment(ssm, parameter, monkeypatch):
    monkeypatch.setattr(mock, "_service", None)
    set_mode(ssm, parameter, {"mode": "failing", "failure_status": 504})
    assert mock.handler(request("/health"), None)["statusCode"] == 504
    built = mock._service
    mock.handler(request("/health"), None)
    assert mock._service is built
