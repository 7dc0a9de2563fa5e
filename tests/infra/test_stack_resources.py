"""What each real stack file deploys: the resources, their settings, and what the code reads from them."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from checker.config import parse_input
from breaker.metrics import DIMENSION, NAMESPACE, TABLE_DIMENSION
from circuit_breaker_extension.config import load_config
from circuit_breaker_extension.endpoint import read_endpoint
from services.business import settings_from
from services.mock import parse_mode

from infra.config import StackConfig
from tests.support.program import ProgramRun
from tests.support.resources import (
    ALARM,
    FUNCTION,
    FUNCTION_URL,
    LOG_GROUP,
    PARAMETER,
    PERMISSION,
    SCHEDULE,
    is_taggable,
    kinds,
    service_resources,
    stack_resources,
    top_component,
)

COMPONENT_TAGS = {
    "circuit-breaker:infra:CircuitTable": "table",
    "circuit-breaker:infra:ExtensionLayer": "layer",
    "circuit-breaker:infra:Checker": "checker",
    "circuit-breaker:infra:EncryptionKey": "key",
}


def test_a_stack_has_its_shared_resources_and_the_same_set_per_service(run: ProgramRun, config: StackConfig):
    expected = stack_resources(config.kms_key)
    for service in config.services.values():
        expected |= service_resources(service.id, mock=service.mock is not None)
    assert kinds(run) == sorted(expected)  # also: no logical name twice


def test_every_resource_belongs_to_a_component(run: ProgramRun):
    for resource in run:
        top = top_component(run, resource)
        assert top.type.startswith("circuit-breaker:infra:"), resource.urn
        if top.type == "circuit-breaker:infra:ProtectedService":
            assert resource.name.startswith(f"{top.name}-") or resource is top


def test_every_taggable_resource_is_tagged_with_stack_component_and_config_tags(
    run: ProgramRun, stack: str, config: StackConfig
):
    taggable = [r for r in run if r.type.startswith("aws:") and is_taggable(r.type)]
    assert {r.type for r in taggable} >= {FUNCTION, LOG_GROUP, ALARM, PARAMETER, "aws:iam/role:Role"}
    for resource in taggable:
        top = top_component(run, resource)
        component = COMPONENT_TAGS.get(top.type, f"service/{top.name}")
        tags = resource.inputs.get("tags", {})
        assert tags.items() >= {**config.tags, "project": "circuit-breaker", "stack": stack,
                                "component": component}.items(), resource.urn


def test_each_function_is_tagged_with_what_it_is_for(run: ProgramRun, config: StackConfig):
    roles = {function.name: function.inputs["tags"]["circuit-breaker:role"] for function in run.of_type(FUNCTION)}
    expected = {"checker": "checker"}
    for service in config.services.values():
        expected[f"{service.id}-business"] = "business-function"
        expected[f"{service.id}-mock"] = "mock-service"
    assert roles == expected


def test_functions_run_the_configured_platform_with_tracing_and_their_own_expiring_log_group(
    run: ProgramRun, config: StackConfig
):
    log_groups = {group.inputs["name"]: group for group in run.of_type(LOG_GROUP)}
    for function in run.of_type(FUNCTION):
        inputs = function.inputs
        assert inputs["name"] == f"cb-{config.environment}-{function.name}"
        assert len(inputs["name"]) <= 64
        assert inputs["runtime"] == config.lambda_runtime
        assert inputs["architectures"] == [config.architecture]
        assert inputs["tracingConfig"] == {"mode": "Active"}
        assert inputs["memorySize"] == (128 if function.name.endswith("-mock") else 256)
        log_group = log_groups[f"/aws/lambda/{inputs['name']}"]
        assert inputs["loggingConfig"]["logGroup"] == log_group.inputs["name"]
        assert log_group.inputs["retentionInDays"] == config.log_retention_days
    assert len(log_groups) == len(run.of_type(FUNCTION))


def test_timeouts_leave_room_above_every_wait(run: ProgramRun, config: StackConfig):
    assert run.named("checker", FUNCTION).inputs["timeout"] == config.checker_timeout_s
    for service in config.services.values():
        business = run.named(f"{service.id}-business", FUNCTION).inputs["timeout"]
        mock = run.named(f"{service.id}-mock", FUNCTION).inputs["timeout"]
        assert business >= max(5, service.call_timeout_s + 3)
        assert mock > max(service.call_timeout_s, service.probe.timeout_s)


def test_each_business_function_has_the_layer_and_the_environment_its_extension_and_client_read(
    run: ProgramRun, config: StackConfig
):
    for service in config.services.values():
        function = run.named(f"{service.id}-business", FUNCTION).inputs
        assert function["handler"] == "services.business.handler"
        assert function["layers"] == [run.outputs["layer_arn"]]
        variables = function["environment"]["variables"]

        extension = load_config({**variables, "AWS_SESSION_TOKEN": "session-token"})
        assert extension.table == run.outputs["table_name"]
        assert {key: value.to_mapping() for key, value in extension.circuits.items()} == {
            service.id: service.breaker.to_mapping()
        }
        assert extension.cache_ttl_s == service.cache_ttl_s
        assert extension.unknown_state.value == service.unknown_state.value
        # The port the client uses too; the token check stays on.
        assert read_endpoint({**variables, "AWS_SESSION_TOKEN": "session-token"}) == (4243, "session-token")

        business = settings_from(variables)
        assert business.circuit_id == service.id
        assert business.url == run.outputs["services"][service.id]["endpoint_url"] + "/resource"
        assert business.timeout_s == service.call_timeout_s


def test_only_business_functions_get_the_layer(run: ProgramRun):
    for function in run.of_type(FUNCTION):
        if function.name.endswith("-business"):
            continue
        assert not function.inputs.get("layers")
        expected = "checker.handler.handler" if function.name == "checker" else "services.mock.handler"
        assert function.inputs["handler"] == expected


def test_each_mock_starts_in_its_configured_mode_behind_a_public_url(run: ProgramRun, config: StackConfig):
    for service in config.services.values():
        parameter = run.named(f"{service.id}-mock-mode", PARAMETER).inputs
        assert parameter["name"] == f"/circuit-breaker/{config.environment}/{service.id}/mock-mode"
        assert parameter["type"] == "String"
        assert parse_mode(parameter["insecureValue"]).__dict__ == service.mock.__dict__

        function = run.named(f"{service.id}-mock", FUNCTION).inputs
        variables = function["environment"]["variables"]
        assert variables["MOCK_MODE_PARAMETER"] == parameter["name"]
        assert parse_mode(variables["MOCK_DEFAULT_MODE"]).__dict__ == service.mock.__dict__
        assert run.outputs["services"][service.id]["mode_parameter"] == parameter["name"]

        url = run.named(f"{service.id}-mock-url", FUNCTION_URL).inputs
        assert url == {"functionName": function["name"], "authorizationType": "NONE"}
        public = run.named(f"{service.id}-mock-url-public", PERMISSION).inputs
        invoke = run.named(f"{service.id}-mock-url-invoke", PERMISSION).inputs
        assert public == {"function": function["name"], "action": "lambda:InvokeFunctionUrl", "principal": "*",
                          "functionUrlAuthType": "NONE"}
        assert invoke == {"function": function["name"], "action": "lambda:InvokeFunction", "principal": "*",
                          "invokedViaFunctionUrl": True}


def test_public_invoke_permissions_exist_only_on_mock_services(run: ProgramRun):
    roles = {f.inputs["name"]: f.inputs["tags"]["circuit-breaker:role"] for f in run.of_type(FUNCTION)}
    assert run.of_type(PERMISSION)
    assert {roles[p.inputs["function"]] for p in run.of_type(PERMISSION)} == {"mock-service"}


def test_each_service_has_a_schedule_the_checker_accepts(run: ProgramRun, config: StackConfig):
    checker = run.named("checker", FUNCTION).inputs
    checker_arn = f"function:{checker['name']}"
    for service in config.services.values():
        schedule = run.named(f"{service.id}-schedule", SCHEDULE).inputs
        assert schedule["name"] == run.outputs["services"][service.id]["schedule"] == service.id
        assert schedule["groupName"] == run.outputs["schedule_group"]
        assert schedule["scheduleExpression"] == service.schedule
        assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
        assert schedule["state"] == "ENABLED"
        target = schedule["target"]
        assert target["arn"].endswith(checker_arn)
        assert ":role/checker-scheduler-role" in target["roleArn"]
        assert target["retryPolicy"]["maximumRetryAttempts"] >= 1
        assert 60 <= target["retryPolicy"]["maximumEventAgeInSeconds"] <= 300

        probe = parse_input(json.loads(target["input"]))
        assert probe.circuit_id == service.id
        assert probe.url == run.outputs["services"][service.id]["endpoint_url"] + service.probe.path
        assert probe.timeout_s == service.probe.timeout_s
        assert probe.settings.to_mapping() == service.breaker.to_mapping()


def test_each_circuit_has_an_alarm_on_the_metric_the_checker_emits(run: ProgramRun, config: StackConfig):
    for service in config.services.values():
        alarm = run.named(f"{service.id}-circuit-opened", ALARM).inputs
        assert alarm["namespace"] == NAMESPACE
        assert alarm["metricName"] == "CircuitOpened"
        table = run.named("checker", FUNCTION).inputs["environment"]["variables"]["CIRCUIT_BREAKER_TABLE"]
        assert alarm["dimensions"] == {DIMENSION: service.id, TABLE_DIMENSION: table}
        assert (alarm["statistic"], alarm["period"], alarm["evaluationPeriods"]) == ("Sum", 60, 1)
        assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
        assert alarm["treatMissingData"] == "notBreaching"


def test_the_layer_declares_its_platforms_and_hashes_the_zip_it_ships(run: ProgramRun, config: StackConfig):
    layer = run.named("extension-layer", "aws:lambda/layerVersion:LayerVersion").inputs
    assert config.lambda_runtime in layer["compatibleRuntimes"]
    assert config.architecture in layer["compatibleArchitectures"]
    assert run.outputs["layer_arn"].split(":layer:")[1].startswith(layer["layerName"])
    for resource in [run.named("extension-layer", "aws:lambda/layerVersion:LayerVersion"), *run.of_type(FUNCTION)]:
        code = Path(resource.inputs["code"].path)
        assert code.suffix == ".zip" and code.parent.name == "build"
        digest = base64.b64encode(hashlib.sha256(code.read_bytes()).digest()).decode()
        assert resource.inputs["sourceCodeHash"] == digest


def test_outputs_name_the_table_the_layer_and_each_services_entry_points(run: ProgramRun, config: StackConfig):
    assert set(run.outputs) == {"table_name", "layer_arn", "checker_function", "schedule_group", "services"}
    assert run.outputs["checker_function"] == run.named("checker", FUNCTION).inputs["name"]
    assert set(run.outputs["services"]) == set(config.services)
    for service_id, entry in run.outputs["services"].items():
        assert entry["business_function"] == run.named(f"{service_id}-business", FUNCTION).inputs["name"]
        assert entry["endpoint_url"].startswith("https://") and not entry["endpoint_url"].endswith("/")


@pytest.mark.parametrize("stack", ["prod"])
def test_prod_protects_and_encrypts_the_table_and_keeps_logs_a_year(run: ProgramRun):
    key_arn = run.named("key-policy").inputs["keyId"]
    table = run.named("circuits", "aws:dynamodb/table:Table").inputs
    assert table["deletionProtectionEnabled"] is True
    assert table["serverSideEncryption"]["enabled"] is True
    assert table["serverSideEncryption"]["kmsKeyArn"].endswith(f":key/{key_arn}")
    assert table["pointInTimeRecovery"] == {"enabled": True}
    for log_group in run.of_type(LOG_GROUP):
        assert log_group.inputs["kmsKeyId"] == table["serverSideEncryption"]["kmsKeyArn"]
        assert log_group.inputs["retentionInDays"] == 365


@pytest.mark.parametrize("stack", ["dev"])
def test_dev_uses_the_aws_managed_key_no_deletion_protection_and_short_retention(run: ProgramRun):
    table = run.named("circuits", "aws:dynamodb/table:Table").inputs
    assert table["deletionProtectionEnabled"] is False
    assert table["serverSideEncryption"] == {"enabled": True}
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert (table["hashKey"], table["attributes"]) == ("id", [{"name": "id", "type": "S"}])
    assert not [g for g in run.of_type(LOG_GROUP) if "kmsKeyId" in g.inputs]
    assert {g.inputs["retentionInDays"] for g in run.of_type(LOG_GROUP)} == {14}


def test_the_schedule_alone_decides_when_the_checker_probes(run: ProgramRun):
    """Lambda retries a failed asynchronous invocation twice, minutes later: each retry would be
    an off-schedule probe counted against the circuit, so the checker's retries are off."""
    (config,) = run.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    (checker,) = [f for f in run.of_type(FUNCTION) if f.name == "checker"]
    assert config.inputs["maximumRetryAttempts"] == 0
    assert config.inputs["functionName"] == checker.inputs["name"]


def test_a_schedule_waits_for_everything_its_first_probe_needs(run: ProgramRun):
    """The checker's invoke config (no off-schedule retries) and, for a mock, its URL and both
    public permissions must exist before the schedule can fire its first probe."""
    urns = {(r.type, r.name): r.urn for r in run.resources}
    for schedule in run.of_type(SCHEDULE):
        service_id = schedule.name.removesuffix("-schedule")
        needed = {
            urns[("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "checker-invoke-config")],
            urns[(FUNCTION_URL, f"{service_id}-mock-url")],
            urns[(PERMISSION, f"{service_id}-mock-url-public")],
            urns[(PERMISSION, f"{service_id}-mock-url-invoke")],
        }
        assert needed <= set(schedule.dependencies), schedule.name


def test_every_resource_of_the_checker_is_named_after_it_so_two_checkers_never_collide(
    run: ProgramRun, config: StackConfig
):
    """Logical names are unique per stack: what the checker declares once is prefixed with the
    component's name (per-service resources carry their service id)."""
    (checker,) = run.of_type("circuit-breaker:infra:Checker")
    inside = [r for r in run.resources if top_component(run, r) is checker and r is not checker]
    stack_wide = [r for r in inside if r.name.split("-")[0] not in config.services]
    assert {r.name for r in stack_wide} >= {"checker-scheduler-role", "checker-scheduler-policy"}
    for resource in stack_wide:
        assert resource.name == checker.name or resource.name.startswith(f"{checker.name}-"), resource.name
