"""The stack configuration model: the stack files, each kind of bad input, and how defaults merge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.config import CONFIG

from infra import limits
from infra.config import (
    MOCK_ROUTES,
    NAMESPACE,
    TOP_LEVEL_KEYS,
    ConfigError,
    MockSettings,
    ProbeSettings,
    load_stack_config,
    parse_config,
)
from infra.iam import document_size, function_statements
from infra.payloads import checker_statements
from breaker.machine import BreakerSettings, State

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"{NAMESPACE}:"


def stack_file_config(name: str) -> dict[str, Any]:
    """The ``circuit-breaker:`` keys of a stack file, without the prefix (what Pulumi hands over)."""
    config = yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())["config"]
    return {key.removeprefix(PREFIX): value for key, value in config.items() if key.startswith(PREFIX)}


def problems_of(mapping: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(mapping)
    return caught.value.problems


def one_service(**body: Any) -> dict[str, Any]:
    return {"services": {"payments": body}}


# -- the stack files -----------------------------------------------------------------------


def test_dev_stack_has_one_mock_per_mode_on_different_schedules():
    config = parse_config(stack_file_config("dev"))

    assert list(config.services) == ["inventory", "payments", "shipping"]
    payments, inventory, shipping = (config.services[i] for i in ("payments", "inventory", "shipping"))
    assert payments.mock == MockSettings(mode="healthy")
    assert inventory.mock == MockSettings(mode="flaky", failure_rate=0.2)
    assert shipping.mock == MockSettings(mode="slow", delay_ms=3000)
    assert shipping.breaker.slow_call_threshold_ms is not None
    assert shipping.breaker.slow_call_threshold_ms < shipping.mock.delay_ms
    assert len({s.schedule for s in config.services.values()}) == 3
    assert all(s.url is None for s in config.services.values())
    assert config.environment == "dev"


def test_prod_stack_is_stricter_than_dev():
    dev, prod = parse_config(stack_file_config("dev")), parse_config(stack_file_config("prod"))

    assert (prod.environment, prod.deletion_protection, prod.kms_key) == ("prod", True, True)
    assert prod.log_retention_days >= 90
    assert list(prod.services) == list(dev.services)
    for service_id, service in prod.services.items():
        assert service.mock == MockSettings(mode="healthy")
        assert service.breaker.minimum_failures > dev.services[service_id].breaker.minimum_failures
        assert service.breaker.half_open_success_threshold > dev.services[service_id].breaker.half_open_success_threshold
        assert service.breaker.max_open_duration_s > dev.services[service_id].breaker.max_open_duration_s


def test_project_file_declares_every_scalar_key_with_the_parser_default():
    """Pulumi.yaml may declare only scalars; its defaults must be the ones parse_config applies."""
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    built_in = parse_config(one_service())
    python_type = {"string": str, "integer": int, "boolean": bool}

    # `environment` defaults to the stack's name, which only load_stack_config knows: declared
    # without a default, the CLI would require it (tests/infra/test_cli_config_rules.py).
    scalars = {key for key, getter in TOP_LEVEL_KEYS.items() if getter != "get_object"} - {"environment"}
    assert {key.removeprefix(PREFIX) for key in declared} == scalars
    for key, declaration in declared.items():
        name = key.removeprefix(PREFIX)
        assert declaration["description"]
        assert type(declaration["default"]) is python_type[declaration["type"]]
        assert declaration["default"] == getattr(built_in, name)


# -- defaults and merging ------------------------------------------------------------------


def test_a_service_without_mock_or_url_gets_a_healthy_mock_and_the_built_in_settings():
    service = parse_config(one_service()).services["payments"]

    assert service.mock == MockSettings() and service.mock.mode == "healthy"
    assert service.url is None
    assert service.probe == ProbeSettings(path="/health", timeout_s=2.0)
    assert service.breaker == BreakerSettings()
    assert (service.schedule, service.cache_ttl_s, service.call_timeout_s) == ("rate(1 minute)", 30.0, 2.0)
    assert service.unknown_state is State.CLOSED


def test_an_external_service_has_a_url_and_no_mock():
    service = parse_config(one_service(url="https://api.example.com/v1")).services["payments"]

    assert (service.url, service.mock) == ("https://api.example.com/v1", None)


def test_service_settings_merge_key_by_key_over_the_defaults():
    config = parse_config({
        "defaults": {
            "probe": {"path": "/resource", "timeout_s": 3},
            "schedule": "rate(2 minutes)",
            "cache_ttl_s": 10,
            "unknown_state": "OPEN",
            "breaker": {
                "minimum_failures": 12,
                "open_duration_s": 60,
                "failure_rate_threshold": 0.5,
            },
        },
        "services": {
            "payments": {},
            "shipping": {
                "probe": {"timeout_s": 1},
                "call_timeout_s": 1.5,
                "breaker": {"open_duration_s": 90, "failure_rate_threshold": 0.25},
            },
        },
    })
    payments, shipping = config.services["payments"], config.services["shipping"]

    assert payments.breaker == BreakerSettings(minimum_failures=12, open_duration_s=60, failure_rate_threshold=0.5)
    assert payments.probe == ProbeSettings(path="/resource", timeout_s=3.0)
    assert payments.schedule == "rate(2 minutes)"
    assert (payments.cache_ttl_s, payments.unknown_state) == (10.0, State.OPEN)

    assert shipping.breaker == BreakerSettings(minimum_failures=12, open_duration_s=90, failure_rate_threshold=0.25)
    assert shipping.probe == ProbeSettings(path="/resource", timeout_s=1.0)
    assert (shipping.call_timeout_s, shipping.schedule) == (1.5, "rate(2 minutes)")


def test_null_clears_an_inherited_optional_breaker_setting():
    config = parse_config({
        "defaults": {"breaker": {"slow_call_threshold_ms": 800}},
        "services": {"payments": {"breaker": {"slow_call_threshold_ms": None}}},
    })

    assert config.services["payments"].breaker == BreakerSettings()


def test_values_that_the_cli_stores_as_text_read_as_numbers():
    """`pulumi config set --path` types integers and booleans only: "0.2" must still be a number."""
    service = parse_config(one_service(
        mock={"mode": "flaky", "failure_rate": "0.2"},
        probe={"timeout_s": "1.5", "interval_while_open_s": "10"},
        breaker={"failure_rate_threshold": "0.5", "window_s": "30"},
    )).services["payments"]

    assert service.mock.failure_rate == 0.2
    assert (service.probe.timeout_s, service.probe.interval_while_open_s) == (1.5, 10.0)
    assert (service.breaker.failure_rate_threshold, service.breaker.window_s) == (0.5, 30.0)


def test_tags_are_text_even_when_the_cli_stored_a_number():
    assert parse_config({**one_service(), "tags": {"cost-center": 1234}}).tags == {"cost-center": "1234"}


def test_services_come_out_sorted_by_id():
    config = parse_config({"services": {"zeta": {}, "alpha": {}, "mid": {}}})

    assert list(config.services) == ["alpha", "mid", "zeta"]
    assert [s.id for s in config.services.values()] == ["alpha", "mid", "zeta"]


def test_to_mapping_reads_back_to_an_equal_config():
    for name in ("dev", "prod"):
        config = parse_config(stack_file_config(name))
        assert parse_config(config.to_mapping()) == config


# -- invalid input, each reported under its key path ---------------------------------------

INVALID = [
    ({"colour": "blue", **one_service()}, "colour", "unknown key"),
    (one_service(mokc={}), "services.payments.mokc", "unknown key"),
    (one_service(mock={"mood": "happy"}), "services.payments.mock.mood", "unknown key"),
    (one_service(probe={"timeout": 1}), "services.payments.probe.timeout", "unknown key"),
    (one_service(breaker={"threshold": 3}), "services.payments.breaker.threshold", "unknown setting"),
    ({"defaults": {"retries": 3}, **one_service()}, "defaults.retries", "unknown key"),
    ({"services": {"Payments": {}}}, "services.Payments", "^[a-z][a-z0-9-]{0,31}$"),
    ({"services": {"9lives": {}}}, "services.9lives", "^[a-z][a-z0-9-]{0,31}$"),
    ({"services": {"a" * 33: {}}}, "services." + "a" * 33, "at most 32"),
    ({"services": {"pay_ments": {}}}, "services.pay_ments", "service id must match"),
    ({"services": {}}, "services", "at least one service"),
    ({}, "services", "at least one service"),
    ({"services": ["payments"]}, "services", "must be a mapping"),
    (one_service(url="ftp://example.com"), "services.payments.url", "http:// or https://"),
    (one_service(url="example.com/health"), "services.payments.url", "http:// or https://"),
    (one_service(url="https://"), "services.payments.url", "with a host"),
    (one_service(url="https://example.com", mock={"mode": "healthy"}), "services.payments", "not both"),
    (one_service(schedule="at(2030-01-01T00:00:00)"), "services.payments.schedule", "must recur"),
    (one_service(schedule="rate(30 seconds)"), "services.payments.schedule", "rate(N minute"),
    (one_service(schedule="rate(0 minutes)"), "services.payments.schedule", "at least 1"),
    (one_service(schedule="rate(1 minutes)"), "services.payments.schedule", "singular"),
    (one_service(schedule="rate(5 minute)"), "services.payments.schedule", "plural"),
    (one_service(schedule="cron(0 * * * *)"), "services.payments.schedule", "6 fields"),
    (one_service(schedule="cron(0 * * * * *)"), "services.payments.schedule", "'?'"),
    (one_service(schedule="*/5 * * * *"), "services.payments.schedule", "cron(6 fields)"),
    ({"defaults": {"schedule": "every minute"}, **one_service()}, "defaults.schedule", "rate(N"),
    (one_service(probe={"timeout_s": 0}), "services.payments.probe.timeout_s", "must be > 0"),
    ({"checker_timeout_s": 10, **one_service(probe={"timeout_s": 9})}, "services.payments.probe.timeout_s",
     "checker_timeout_s (10)"),
    ({"checker_timeout_s": 2, **one_service()}, "services.payments.probe.timeout_s", "(inherited)"),
    (one_service(probe={"path": "health"}), "services.payments.probe.path", "must match"),
    (one_service(cache_ttl_s=0), "services.payments.cache_ttl_s", "must be > 0"),
    (one_service(cache_ttl_s=float("inf")), "services.payments.cache_ttl_s", "must be a number"),
    (one_service(call_timeout_s=-1), "services.payments.call_timeout_s", "must be > 0"),
    (one_service(call_timeout_s=31), "services.payments.call_timeout_s", "must be <= 30"),
    (one_service(call_timeout_s="fast"), "services.payments.call_timeout_s", "must be a number"),
    (one_service(unknown_state="HALF_OPEN"), "services.payments.unknown_state", "CLOSED, OPEN"),
    (one_service(mock={"mode": "broken"}), "services.payments.mock.mode", "healthy, failing, slow, flaky"),
    (one_service(mock={"failure_rate": 1.5}), "services.payments.mock.failure_rate", "must be <= 1"),
    (one_service(mock={"failure_rate": -0.1}), "services.payments.mock.failure_rate", "must be >= 0"),
    (one_service(mock={"failure_status": 200}), "services.payments.mock.failure_status", "4xx or 5xx"),
    (one_service(mock={"failure_status": 503.5}), "services.payments.mock.failure_status", "integer"),
    (one_service(mock={"delay_ms": 0}), "services.payments.mock.delay_ms", "must be >= 1"),
    (one_service(mock="slow"), "services.payments.mock", "must be a mapping"),
    (one_service(breaker={"minimum_failures": 0}),
     "services.payments.breaker.minimum_failures", "must be >= 1, got 0"),
    (one_service(breaker={"failure_rate_threshold": 2}),
     "services.payments.breaker.failure_rate_threshold", "must be <= 1"),
    (one_service(breaker={"failure_threshold": 5}),
     "services.payments.breaker.failure_threshold", "replaced by minimum_failures"),
    (one_service(breaker={"open_duration_s": ".inf"}),
     "services.payments.breaker.open_duration_s", "finite"),
    (one_service(breaker={"minimum_failures": 10**6}),
     "services.payments.breaker.minimum_failures", "must be <= 100000"),
    (one_service(probe={"interval_while_open_s": 0.5}),
     "services.payments.probe.interval_while_open_s", "must be >= 1"),
    (one_service(breaker=5), "services.payments.breaker", "must be a mapping"),
    ({"defaults": {"breaker": {"open_duration_s": 0}}, **one_service()},
     "defaults.breaker.open_duration_s", "must be >= 0.001"),
    ({"environment": "Prod!", **one_service()}, "environment", "must match"),
    ({"log_retention_days": 10, **one_service()}, "log_retention_days", "must be one of 1, 3, 5"),
    ({"log_retention_days": 0, **one_service()}, "log_retention_days", "must be one of"),
    ({"deletion_protection": "yes", **one_service()}, "deletion_protection", "true or false"),
    ({"kms_key": 1, **one_service()}, "kms_key", "true or false"),
    ({"architecture": "arm", **one_service()}, "architecture", "arm64, x86_64"),
    ({"lambda_runtime": "python3.9", **one_service()}, "lambda_runtime", "python3.12, python3.13"),
    ({"checker_timeout_s": 61, **one_service()}, "checker_timeout_s", "must be <= 60"),
    ({"checker_timeout_s": 10, **one_service(probe={"timeout_s": 5.5})}, "services.payments.probe.timeout_s", "must leave 5 s"),
    (one_service(url="https://partner.example.com/api?key=1"), "services.payments.url", "no query string"),
    (one_service(url="https://partner.example.com/api?"), "services.payments.url", "no query string"),
    (one_service(url="https://partner.example.com/#top"), "services.payments.url", "fragment"),
    (one_service(probe={"path": "/status"}), "services.payments.probe.path", "answers 404 on '/status'"),
    (one_service(mock={"mode": "slow"}, probe={"path": "/healthz?x=1"}), "services.payments.probe.path", "404"),
    ({"defaults": {"probe": {"path": "/ping"}}, **one_service()}, "services.payments.probe.path", "(inherited)"),
    ({"tags": {"owner": "Jane (core), R&D!"}, **one_service()}, "tags.owner", "only letters, digits, spaces"),
    ({"tags": {"owner": ""}, **one_service()}, "tags.owner", "1 to 256 characters"),
    ({"tags": {"team#1": "core"}, **one_service()}, "tags.team#1", "a tag key may hold only"),
    ({"checker_timeout_s": True, **one_service()}, "checker_timeout_s", "integer"),
    ({"tags": {"aws:owner": "me"}, **one_service()}, "tags.aws:owner", "aws:"),
    ({"tags": {"owner": ["me"]}, **one_service()}, "tags.owner", "must be a string"),
    ({"tags": {"owner": "x" * 257}, **one_service()}, "tags.owner", "got 257"),
    ({"tags": "owner=me", **one_service()}, "tags", "must be a mapping"),
]


@pytest.mark.parametrize(("mapping", "path", "hint"), INVALID, ids=[f"{p}:{h}" for _, p, h in INVALID])
def test_each_kind_of_invalid_input_is_reported_under_its_key_path(mapping, path, hint):
    matching = [p for p in problems_of(mapping) if p.startswith(f"{path}: ")]

    assert matching, problems_of(mapping)
    assert any(hint in p for p in matching), matching


def test_every_problem_is_reported_at_once():
    problems = problems_of({
        "log_retention_days": 15,
        "kms_key": "no",
        "defaults": {"schedule": "at(2030-01-01T00:00:00)"},
        "services": {
            "Bad": {},
            "payments": {"breaker": {"minimum_failures": 0, "open_duration_s": -1}, "url": "ftp://x"},
            "shipping": {"mock": {"mode": "sleepy", "delay_ms": -5}, "call_timeout_s": 60},
        },
    })

    assert [p.split(": ")[0] for p in problems] == [
        "defaults.schedule",
        "log_retention_days",
        "kms_key",
        "services.Bad",
        "services.payments.url",
        "services.payments.breaker.minimum_failures",
        "services.payments.breaker.open_duration_s",
        "services.shipping.mock.mode",
        "services.shipping.mock.delay_ms",
        "services.shipping.call_timeout_s",
    ]


def test_the_error_message_lists_every_problem():
    with pytest.raises(ConfigError) as caught:
        parse_config({"kms_key": "no", "services": {"Bad": {}}})

    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert all(problem in message for problem in caught.value.problems)


# -- the Pulumi edge -----------------------------------------------------------------------


@pytest.fixture
def stack_config(monkeypatch: pytest.MonkeyPatch):
    """Set the stack's config as the Pulumi language host would (every value a string), in a
    stack named `dev` (other tests' runs leave the SDK's stack name behind)."""
    monkeypatch.setattr(pulumi, "get_stack", lambda: "dev")
    tokens = []

    def set_config(values: dict[str, Any]) -> None:
        as_text = {PREFIX + key: v if isinstance(v, str) else json.dumps(v) for key, v in values.items()}
        tokens.append(CONFIG.set(as_text))

    yield set_config
    for token in reversed(tokens):
        CONFIG.reset(token)


def test_load_reads_the_stack_config_through_pulumi(stack_config):
    dev = stack_file_config("dev")
    stack_config(dev)

    assert load_stack_config() == parse_config(dev)


def test_load_raises_a_run_error_naming_every_key_including_unreadable_ones(stack_config):
    stack_config({"log_retention_days": "two weeks", "services": {"payments": {"schedule": "hourly"}}})

    with pytest.raises(pulumi.RunError) as caught:
        load_stack_config()

    message = str(caught.value)
    assert "log_retention_days: must be a valid int, got 'two weeks'" in message
    assert "services.payments.schedule: must be rate(" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_load_reports_structured_config_that_is_not_json(stack_config):
    stack_config({"services": "{not json"})

    with pytest.raises(pulumi.RunError, match=r"services: must be a valid JSON object"):
        load_stack_config()


def test_a_trial_lease_must_outlast_the_trial_call():
    """A lease that lapses before its call reports would let a second trial out beside it."""
    with pytest.raises(ConfigError) as raised:
        parse_config({"services": {"payments": {"call_timeout_s": 12, "breaker": {"trial_lease_s": 10}}}})
    assert any(problem.startswith("services.payments.breaker.trial_lease_s: must be > the longest trial call (12 s")
               for problem in raised.value.problems)


# -- AWS quotas (infra/limits.py), measured on the worst case --------------------------------


def fleet(count: int, **settings: Any) -> dict[str, Any]:
    """``count`` services of 32-character ids, in the longest environment."""
    return {"environment": "e" * 16, **settings,
            "services": {f"svc-{index:03d}-" + "x" * 24: {} for index in range(count)}}


def test_two_hundred_services_of_32_character_ids_fit_every_quota_with_margin():
    config = parse_config(fleet(200, kms_key=True))
    assert len(config.services) == 200
    table_arn = limits._arn("dynamodb", f"table/{limits._TABLE}")
    worst = document_size(*function_statements(limits._log_group_arn("cb-" + "e" * 16 + "-checker"),
                                               checker_statements(config.services, table_arn, limits._KEY_ARN)))
    assert worst <= 0.85 * limits.IAM_ROLE_POLICIES_CHARS


def test_a_fleet_whose_checker_policy_could_exceed_iams_quota_is_refused_naming_the_quota():
    [problem] = problems_of(fleet(300))
    assert problem.startswith("services: ") and "checker role" in problem and "10,240" in problem


def test_an_environment_that_could_exceed_lambdas_4_kb_is_refused_naming_the_quota():
    [problem] = problems_of(one_service(url="https://partner.example.com/" + "a" * 4000))
    assert problem.startswith("services.payments: ") and "4 KB" in problem and "SERVICE_URL" in problem


def test_a_name_over_its_limit_is_refused_naming_the_limit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(limits.NAME_LIMITS, "Lambda function name", 20)
    found = problems_of({"environment": "staging", **one_service()})
    assert "services.payments: the Lambda function name 'cb-staging-payments-business' would have 28 " \
           "characters, over the limit of 20" in found


def test_tag_values_every_tagged_service_accepts_pass():
    tags = {"owner": "Jane Doe", "cost-center": 1234, "team": "core/platform_2:x=y+z@ü", "dropped": None}
    assert parse_config({"tags": tags, **one_service()}).tags == {
        "owner": "Jane Doe", "cost-center": "1234", "team": "core/platform_2:x=y+z@ü"}


def test_an_external_service_may_be_probed_on_any_path_and_a_mock_on_each_of_its_routes():
    assert parse_config(one_service(url="https://partner.example.com/api", probe={"path": "/status"}))
    for route in ("/health", "/resource", "/mode"):
        assert parse_config(one_service(probe={"path": route})).services["payments"].probe.path == route


def test_the_probe_timeout_may_use_all_but_the_checkers_dynamodb_room():
    service = parse_config({"checker_timeout_s": 10, **one_service(probe={"timeout_s": 5.0})}).services["payments"]
    assert service.probe.timeout_s == 5.0


def test_the_config_knows_the_routes_the_mock_serves():
    from services.mock import ROUTES

    assert MOCK_ROUTES == ROUTES


def test_the_program_imports_without_boto3_which_its_requirements_do_not_install():
    """`pulumi preview` runs in a venv holding requirements.txt only: no boto3, no botocore."""
    code = ("import sys; sys.modules['boto3'] = sys.modules['botocore'] = None; "
            "import infra.config, infra.limits, infra.payloads, infra.checker, infra.service, infra.bundles")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "runtime")])})
