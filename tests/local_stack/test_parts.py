"""The local stack's pure parts: schedules, time compression, timelines, the adapter, the verdict."""

from __future__ import annotations

import base64
import json
from dataclasses import fields

import pytest

from breaker.machine import BreakerSettings, CircuitRecord, State
from infra.config import parse_config
from local_stack.mock_http import function_url_event, http_answer
from local_stack.mocks import failure_rule
from local_stack.monitor import Timeline, Transition
from local_stack.schedule import ScheduleError, interval_s
from local_stack.timescale import SCALED_BREAKER_FIELDS, TimeScale
from local_stack.verdict import match_in_order


@pytest.mark.parametrize("expression, seconds", [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86400),
    ("cron(0/15 * * * ? *)", 900), ("cron(0 9,17 ? * MON-FRI *)", 43200), ("cron(30 12 * * ? *)", 86400),
])
def test_schedules_become_intervals(expression: str, seconds: float) -> None:
    assert interval_s(expression) == seconds


@pytest.mark.parametrize("expression", ["rate(0 minutes)", "cron(61 * * * ? *)", "cron(* *)", "every minute"])
def test_unreadable_schedules_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        interval_s(expression)


def test_time_compression_scales_every_breaker_duration_and_nothing_else() -> None:
    stack = parse_config({"services": {"payments": {
        "schedule": "rate(1 minute)", "cache_ttl_s": 5, "call_timeout_s": 2,
        "breaker": {"open_duration_s": 30, "max_open_duration_s": 300, "trial_lease_s": 10,
                    "slow_call_threshold_ms": 800, "window_s": 60},
    }}})
    service = stack.services["payments"]
    scale = TimeScale(20)
    scaled = scale.service(service)
    breaker = scaled.breaker
    assert (breaker.open_duration_s, breaker.max_open_duration_s, breaker.trial_lease_s) == (1.5, 15, 0.5)
    assert breaker.window_s == 3
    assert scaled.cache_ttl_s == 0.25 and scale.schedule_interval_s(service) == 3
    # Latencies are real: they stay.
    assert (scaled.call_timeout_s, breaker.slow_call_threshold_ms, breaker.minimum_failures) == (2, 800, 30)
    assert (scaled.probe.path, scaled.probe.timeout_s) == (service.probe.path, service.probe.timeout_s)
    assert scaled.probe.interval_while_open_s == 0.25  # the checker's 5 s between probes while OPEN
    with pytest.raises(ValueError):
        TimeScale(0.5)


def test_every_breaker_setting_in_seconds_is_scaled() -> None:
    """A new duration in the breaker's settings must be added to the compressed ones (or argued out)."""
    def in_seconds(settings: type) -> set[str]:
        return {f.name for f in fields(settings) if f.name.endswith(("_s", "_seconds"))}

    assert in_seconds(BreakerSettings) == set(SCALED_BREAKER_FIELDS)


def record(version: int, state: State, updated_at: int, next_attempt_at: int | None = None) -> CircuitRecord:
    opened = updated_at if state is State.OPEN else None
    return CircuitRecord("payments", state=state, version=version, updated_at=updated_at,
                         opened_at=opened, next_attempt_at=next_attempt_at)


def states(transitions: list[Transition]) -> list[tuple[str, int]]:
    return [(t.state, t.at_ms) for t in transitions]


def test_a_timeline_recovers_what_happened_between_two_polls() -> None:
    timeline = Timeline("payments")
    assert timeline.observe(CircuitRecord("payments"), 1000) == []
    assert states(timeline.observe(record(3, State.OPEN, 2000, next_attempt_at=3000), 2100)) == [("OPEN", 2000)]
    assert timeline.observe(record(3, State.OPEN, 2000, next_attempt_at=3000), 2900) == []
    # The wait is over: HALF_OPEN from next_attempt_at, before any trial is written.
    assert states(timeline.observe(record(3, State.OPEN, 2000, next_attempt_at=3000), 3050)) == [("HALF_OPEN", 3000)]
    # Between two polls: a failed trial reopened it; between the next two, trials closed it.
    assert states(timeline.observe(record(6, State.OPEN, 3100, next_attempt_at=5100), 3200)) == [("OPEN", 3100)]
    assert states(timeline.observe(record(9, State.CLOSED, 5150), 5300)) == [("HALF_OPEN", 5100), ("CLOSED", 5150)]
    assert timeline.open_periods(6000) == [(2000, 3000), (3100, 5100)]
    assert timeline.state == "CLOSED" and timeline.version == 9


def test_an_open_period_in_progress_ends_now_or_at_its_next_attempt() -> None:
    timeline = Timeline("payments")
    timeline.observe(record(1, State.OPEN, 2000, next_attempt_at=3000), 2500)
    assert timeline.open_periods(2600) == [(2000, 2600)]
    assert timeline.open_periods(3600) == [(2000, 3000)]  # not polled since: the record still says when it ended


def test_expected_states_match_in_order_with_others_in_between() -> None:
    seen = [Transition("p", state, at) for state, at in
            [("OPEN", 1), ("HALF_OPEN", 2), ("OPEN", 3), ("HALF_OPEN", 4), ("CLOSED", 5)]]
    assert match_in_order(["OPEN", "HALF_OPEN", "CLOSED"], seen) == (1, 2, 5)
    assert match_in_order(["CLOSED", "OPEN"], seen) is None
    assert match_in_order(["OPEN", "OPEN", "OPEN"], seen) is None


def test_a_request_becomes_a_function_url_event() -> None:
    event = function_url_event("GET", "/resource?a=1&a=2&b=", {"Host": "127.0.0.1:9", "User-Agent": "probe"},
                               b"", "127.0.0.1", 1_700_000_000.5)
    assert (event["version"], event["rawPath"], event["rawQueryString"]) == ("2.0", "/resource", "a=1&a=2&b=")
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["headers"] == {"host": "127.0.0.1:9", "user-agent": "probe"}
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"]) == ("GET", "/resource", "127.0.0.1")
    assert http["userAgent"] == "probe"
    assert event["requestContext"]["timeEpoch"] == 1_700_000_000_500 and "body" not in event
    binary = function_url_event("POST", "/", {}, b"\xff\x00", "127.0.0.1", 0)
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == b"\xff\x00"


def test_the_handler_answer_becomes_the_http_answer() -> None:
    assert http_answer({"statusCode": 503, "headers": {"content-type": "application/json"}, "body": "{}"}) == (
        503, {"content-type": "application/json"}, b"{}")
    encoded = {"statusCode": 200, "body": base64.b64encode(b"hi").decode(), "isBase64Encoded": True}
    assert http_answer(encoded)[2] == b"hi"
    assert http_answer({"ok": True}) == (200, {"content-type": "application/json"}, json.dumps({"ok": True}).encode())


def test_a_mock_answer_fails_as_the_breaker_would_count_it() -> None:
    stack = parse_config({"services": {"slow": {"call_timeout_s": 5, "breaker": {"slow_call_threshold_ms": 1000}},
                                       "plain": {"call_timeout_s": 2}}})
    slow, plain = failure_rule(stack.services["slow"]), failure_rule(stack.services["plain"])
    assert slow(503, 0) and slow(200, 1000) and not slow(200, 999)
    assert plain(500, 0) and plain(200, 2000) and not plain(200, 1999) and not plain(204, 0)
