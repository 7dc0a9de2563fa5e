"""Hypothesis strategies for valid stack configs: valid by construction, within every documented
bound. Shared by the config's properties (tests/property) and the pack's (tests/policy)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import get_args

from checker.budget import MIN_ROOM_S
from hypothesis import strategies as st

from breaker.machine import BreakerSettings, State
from infra.config import (
    ENVIRONMENT_PATTERN,
    LOG_RETENTION_DAYS,
    MAX_CHECKER_TIMEOUT_S,
    MOCK_ROUTES,
    SERVICE_ID_PATTERN,
    TAG_PUNCTUATION,
    Architecture,
    LambdaRuntime,
    MockMode,
    MockSettings,
    ProbeSettings,
    ServiceConfig,
    StackConfig,
)


MOCK_MODES = get_args(MockMode)

names = st.from_regex(ENVIRONMENT_PATTERN, fullmatch=True)
service_ids = st.from_regex(SERVICE_ID_PATTERN, fullmatch=True)
durations = st.floats(min_value=0.001, max_value=10_000, allow_nan=False, allow_infinity=False)
rates = st.builds(
    lambda count, unit: f"rate({count} {unit if count == 1 else unit + 's'})",
    st.integers(1, 1000),
    st.sampled_from(["minute", "hour", "day"]),
)
crons = st.sampled_from(["cron(0/5 * * * ? *)", "cron(15 10 ? * MON-FRI *)", "cron(0 12 1 * ? 2030)"])
schedules = st.one_of(rates, crons)


@st.composite
def breaker_settings(draw) -> BreakerSettings:
    open_duration_s = draw(durations)
    return BreakerSettings(
        failure_rate_threshold=draw(st.floats(0.01, 1)),
        minimum_failures=draw(st.integers(1, 1000)),
        window_s=draw(st.floats(1, 3600)),
        slow_call_threshold_ms=draw(st.none() | st.integers(1, 60_000)),
        open_duration_s=open_duration_s,
        open_backoff_multiplier=draw(st.floats(1, 10)),
        max_open_duration_s=min(open_duration_s + draw(st.floats(0, 10_000)), 7 * 86_400),
        half_open_max_trials=draw(st.integers(1, 10)),
        half_open_success_threshold=draw(st.integers(1, 10)),
        trial_lease_s=draw(st.floats(0.001, 900)),
    )


mocks = st.builds(
    MockSettings,
    mode=st.sampled_from(MOCK_MODES),
    failure_status=st.integers(400, 599),
    delay_ms=st.integers(1, 60_000),
    failure_rate=st.floats(0, 1),
)
urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}.example.com{path}",
    st.sampled_from(["http", "https"]),
    names,
    st.from_regex(r"(/[a-z0-9]{1,8}){0,3}", fullmatch=True),
)


@st.composite
def services(draw, service_id: str, checker_timeout_s: int) -> ServiceConfig:
    source = draw(st.one_of(st.builds(lambda m: {"mock": m}, mocks), st.builds(lambda u: {"url": u}, urls)))
    # The checker keeps MIN_ROOM_S of its timeout for DynamoDB; a mock serves its own routes only.
    probe_timeout_s = draw(st.floats(min_value=0.001, max_value=checker_timeout_s - MIN_ROOM_S))
    paths = st.sampled_from(MOCK_ROUTES) if "mock" in source else st.from_regex(r"/[a-z0-9/_-]{0,20}", fullmatch=True)
    call_timeout_s = draw(st.floats(min_value=0.001, max_value=30))
    # A trial's lease must outlast the trial call, whichever caller makes it.
    trial_lease_s = min(max(probe_timeout_s, call_timeout_s) + draw(durations), 900)  # BreakerSettings' bound
    return ServiceConfig(
        id=service_id,
        probe=ProbeSettings(path=draw(paths), timeout_s=probe_timeout_s, interval_while_open_s=draw(st.floats(1, 60))),
        schedule=draw(schedules),
        breaker=replace(draw(breaker_settings()), trial_lease_s=trial_lease_s),
        cache_ttl_s=draw(durations),
        call_timeout_s=call_timeout_s,
        unknown_state=draw(st.sampled_from([State.CLOSED, State.OPEN])),
        **source,
    )


@st.composite
def stack_configs(draw) -> StackConfig:
    checker_timeout_s = draw(st.integers(math.ceil(MIN_ROOM_S + 0.001), MAX_CHECKER_TIMEOUT_S))
    ids = draw(st.lists(service_ids, min_size=1, max_size=4, unique=True))
    return StackConfig(
        environment=draw(names),
        log_retention_days=draw(st.sampled_from(LOG_RETENTION_DAYS)),
        deletion_protection=draw(st.booleans()),
        kms_key=draw(st.booleans()),
        architecture=draw(st.sampled_from(get_args(Architecture))),
        lambda_runtime=draw(st.sampled_from(get_args(LambdaRuntime))),
        checker_timeout_s=checker_timeout_s,
        tags=draw(st.dictionaries(
            st.from_regex(r"[A-Za-z][A-Za-z0-9_.:/=+@-]{0,20}", fullmatch=True).filter(
                lambda key: not key.lower().startswith("aws:")),
            st.text(st.characters(categories=["L", "N", "Zs"], include_characters=TAG_PUNCTUATION),
                    min_size=1, max_size=40),
            max_size=4,
        )),
        services={i: draw(services(i, checker_timeout_s)) for i in sorted(ids)},
    )
