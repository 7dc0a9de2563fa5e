"""Properties of the stack configuration parser.

Valid configs are generated directly as models (valid by construction, within every documented
bound) and written out with ``to_mapping``; invalid ones are a valid config with one kind of
mutation applied, which must be reported under the mutated key path.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, get_args

import pytest
from hypothesis import given, strategies as st

from infra.config import (
    ENVIRONMENT_PATTERN,
    LOG_RETENTION_DAYS,
    MAX_CHECKER_TIMEOUT_S,
    SERVICE_ID_PATTERN,
    Architecture,
    ConfigError,
    parse_config,
)
from tests.support.config_strategies import MOCK_MODES, durations, stack_configs

# -- valid configs: tests/support/config_strategies.py ---------------------------------------


@given(stack_configs())
def test_valid_configs_round_trip(config):
    """Every valid config survives being written out as plain data and read back.

    parse_config(c.to_mapping()) == c
    """
    assert parse_config(config.to_mapping()) == config


def floats_as_text(value: Any) -> Any:
    """``value`` with every float written as text, the way `pulumi config set --path` stores it."""
    if isinstance(value, dict):
        return {key: floats_as_text(item) for key, item in value.items()}
    return repr(value) if isinstance(value, float) else value


@given(stack_configs())
def test_numbers_written_as_text_read_as_the_same_numbers(config):
    """A config whose non-integer numbers were all set from the CLI (so stored as text) is the same config."""
    assert parse_config(floats_as_text(config.to_mapping())) == config


# -- invalid mutations ---------------------------------------------------------------------

Mutation = Callable[[dict[str, Any], st.DataObject], str]


def a_service(mapping: dict[str, Any], data: st.DataObject) -> tuple[str, dict[str, Any]]:
    service_id = data.draw(st.sampled_from(sorted(mapping["services"])), label="service")
    return f"services.{service_id}", mapping["services"][service_id]


def as_mock(service: dict[str, Any]) -> dict[str, Any]:
    """The service's mock section, turning an external service into a mock one first."""
    service.pop("url", None)
    return service.setdefault("mock", {})


def unknown_key(mapping, data):
    path, service = a_service(mapping, data)
    section_path, section = data.draw(st.sampled_from([
        ("", mapping),
        (path, service),
        (f"{path}.probe", service["probe"]),
        (f"{path}.breaker", service["breaker"]),
        (f"{path}.mock", as_mock(service)),
    ]), label="section")
    key = data.draw(st.from_regex(r"zz_[a-z]{1,8}", fullmatch=True), label="key")
    section[key] = data.draw(st.integers() | st.text(), label="value")
    return f"{section_path}.{key}" if section_path else key


def bad_service_id(mapping, data):
    invalid_ids = st.text(min_size=1, max_size=40).filter(lambda t: not re.fullmatch(SERVICE_ID_PATTERN, t))
    bad = data.draw(invalid_ids, label="id")
    mapping["services"][bad] = {}
    return f"services.{bad}"


def bad_url(mapping, data):
    path, service = a_service(mapping, data)
    service.pop("mock", None)
    service["url"] = data.draw(st.one_of(
        st.sampled_from(["ftp://example.com", "file:///etc/passwd", "example.com", "https://", "http://a b"]),
        st.text(alphabet="abc:/. ", max_size=20).filter(lambda t: not t.startswith(("http://", "https://"))),
    ), label="url")
    return f"{path}.url"


def both_mock_and_url(mapping, data):
    path, service = a_service(mapping, data)
    service["mock"] = {"mode": "healthy"}
    service["url"] = "https://example.com"
    return path


def no_services(mapping, data):
    mapping["services"] = data.draw(st.sampled_from([{}, None]), label="services")
    return "services"


def bad_schedule(mapping, data):
    path, service = a_service(mapping, data)
    defaults = mapping.setdefault("defaults", {})
    target_path, target = data.draw(st.sampled_from([(path, service), ("defaults", defaults)]), label="where")
    target["schedule"] = data.draw(st.one_of(
        st.builds(lambda n, u: f"rate({n} {u})", st.integers(0, 9), st.sampled_from(["second", "weeks"])),
        st.builds(lambda n: f"rate({n} minutes)", st.integers(-5, 1)),  # zero, negative, or "1 minutes"
        st.builds(lambda n: f"rate({n} minute)", st.integers(2, 100)),  # plural needed
        st.just("at(2030-01-01T00:00:00)"),
        st.just("cron(0 * * * *)"),  # five fields
        st.just("cron(0 * * * * *)"),  # no '?'
        st.just("cron(0 * ? * ? *)"),  # two '?'
        st.integers(),
    ), label="schedule")
    return f"{target_path}.schedule"


def probe_outlives_checker(mapping, data):
    path, service = a_service(mapping, data)
    excess = data.draw(st.floats(0, 100), label="excess")
    service["probe"]["timeout_s"] = mapping["checker_timeout_s"] + excess
    return f"{path}.probe.timeout_s"


def non_positive_duration(mapping, data):
    path, service = a_service(mapping, data)
    key, section = data.draw(st.sampled_from([
        ("probe.timeout_s", service["probe"]), ("cache_ttl_s", service), ("call_timeout_s", service)]))
    section[key.split(".")[-1]] = data.draw(st.floats(max_value=0) | st.integers(max_value=0), label="value")
    return f"{path}.{key}"


def call_timeout_too_long(mapping, data):
    path, service = a_service(mapping, data)
    too_long = st.floats(min_value=30, exclude_min=True, allow_infinity=False)
    service["call_timeout_s"] = data.draw(too_long, label="call timeout")
    return f"{path}.call_timeout_s"


def bad_mock_value(mapping, data):
    path, service = a_service(mapping, data)
    key, value = data.draw(st.one_of(
        st.tuples(st.just("failure_rate"), st.floats(min_value=1, exclude_min=True, allow_infinity=False)),
        st.tuples(st.just("failure_rate"), st.floats(max_value=0, exclude_max=True, allow_infinity=False)),
        st.tuples(st.just("failure_status"), st.integers().filter(lambda s: not 400 <= s <= 599)),
        st.tuples(st.just("delay_ms"), st.integers(max_value=0)),
        st.tuples(st.just("mode"), st.text().filter(lambda m: m not in MOCK_MODES)),
    ), label="mock value")
    as_mock(service)[key] = value
    return f"{path}.mock.{key}"


def bad_breaker_value(mapping, data):
    path, service = a_service(mapping, data)
    key, value = data.draw(st.one_of(
        st.tuples(st.just("minimum_failures"), st.integers(max_value=0) | st.integers(min_value=100_001)),
        st.tuples(st.just("failure_rate_threshold"), st.floats(max_value=0) | st.floats(min_value=1, exclude_min=True)),
        st.tuples(st.just("window_s"), st.sampled_from([float("inf"), 0.5, 3601.0])),
        st.tuples(st.just("half_open_max_trials"), st.integers(max_value=0) | st.integers(min_value=21)),
        st.tuples(st.just("trial_lease_s"), st.floats(max_value=0)),
        st.tuples(st.just("open_backoff_multiplier"), st.floats(max_value=1, exclude_max=True)),
    ), label="breaker value")
    service["breaker"][key] = value
    return f"{path}.breaker.{key}"


def bad_unknown_state(mapping, data):
    path, service = a_service(mapping, data)
    service["unknown_state"] = data.draw(st.sampled_from(["HALF_OPEN", "FORCED_OPEN", "closed", "", 0]))
    return f"{path}.unknown_state"


bad_names = st.text().filter(lambda name: not re.fullmatch(ENVIRONMENT_PATTERN, name))


def bad_scalar(mapping, data):
    key, value = data.draw(st.one_of(
        st.tuples(st.just("log_retention_days"), st.integers().filter(lambda d: d not in LOG_RETENTION_DAYS)),
        st.tuples(st.just("deletion_protection"), st.sampled_from(["true", 1, 0, "no"])),
        st.tuples(st.just("kms_key"), st.sampled_from(["yes", 1, "false"])),
        st.tuples(st.just("architecture"), st.text().filter(lambda a: a not in get_args(Architecture))),
        st.tuples(st.just("lambda_runtime"), st.sampled_from(["python3.11", "nodejs20.x", "", 3.12])),
        st.tuples(st.just("checker_timeout_s"), st.integers().filter(lambda t: not 1 <= t <= MAX_CHECKER_TIMEOUT_S)),
        st.tuples(st.just("environment"), bad_names),
    ), label="scalar")
    mapping[key] = value
    return key


def bad_tag(mapping, data):
    key, value = data.draw(st.one_of(
        st.tuples(st.just("aws:owner"), st.just("me")),
        st.tuples(st.just("owner"), st.lists(st.text()) | st.floats() | st.booleans()),
        st.tuples(st.just("owner"), st.text(min_size=257)),
        st.tuples(st.just("owner"), st.sampled_from(["", "Jane (core), R&D!", "a,b", "50%", "x#1"])),
    ), label="tag")
    mapping["tags"][key] = value
    return f"tags.{key}"


MUTATIONS: list[Mutation] = [
    unknown_key, bad_service_id, bad_url, both_mock_and_url, no_services, bad_schedule,
    probe_outlives_checker, non_positive_duration, call_timeout_too_long, bad_mock_value,
    bad_breaker_value, bad_unknown_state, bad_scalar, bad_tag,
]


def problems_of(mapping: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(mapping)
    return caught.value.problems


@pytest.mark.parametrize("mutate", MUTATIONS, ids=[m.__name__ for m in MUTATIONS])
@given(config=stack_configs(), data=st.data())
def test_each_invalid_mutation_is_rejected_under_its_key_path(mutate, config, data):
    """Any valid config with one invalid mutation is rejected, and a problem names the mutated key path."""
    mapping = copy.deepcopy(config.to_mapping())
    path = mutate(mapping, data)

    problems = problems_of(mapping)

    assert any(problem.startswith(f"{path}: ") for problem in problems), (path, problems)


@given(config=stack_configs(), data=st.data())
def test_independent_mutations_are_all_reported_at_once(config, data):
    """Mutating several different services at once reports every one of them in the same error."""
    mapping = copy.deepcopy(config.to_mapping())
    kinds = [bad_url, bad_unknown_state, bad_mock_value, bad_breaker_value, call_timeout_too_long]
    expected = []
    for service_id in sorted(mapping["services"]):
        kind = data.draw(st.sampled_from(kinds), label=service_id)
        only_this = {**mapping, "services": {service_id: mapping["services"][service_id]}}
        expected.append(kind(only_this, data))

    problems = problems_of(mapping)

    for path in expected:
        assert any(problem.startswith(f"{path}: ") for problem in problems), (path, problems)
