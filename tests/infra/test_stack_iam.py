"""Least privilege, read from the policy documents the program declares."""

from __future__ import annotations

import pytest

from infra.config import StackConfig
from tests.support.program import ACCOUNT, ProgramRun
from tests.support.resources import (
    FUNCTION,
    ROLE,
    ROLE_POLICY,
    TABLE,
    as_list,
    role_policies_of,
    statements,
)

LOGS = ["logs:CreateLogStream", "logs:PutLogEvents"]
XRAY = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
CIRCUIT = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"]
KEY = ["kms:Decrypt", "kms:GenerateDataKey"]


def role_statements(run: ProgramRun, function_name: str) -> list[dict]:
    function = run.named(function_name, FUNCTION)
    return [s for p in role_policies_of(run, function) for s in statements(p)]


def with_action(found: list[dict], prefix: str) -> list[dict]:
    return [s for s in found if any(a.startswith(prefix) for a in as_list(s["Action"]))]


def test_no_wildcard_actions_and_no_star_resource_on_data_actions(run: ProgramRun):
    for policy in run.of_type(ROLE_POLICY):
        for statement in statements(policy):
            assert statement["Effect"] == "Allow"
            assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
            actions = as_list(statement["Action"])
            assert all("*" not in action for action in actions), policy.name
            resources = as_list(statement["Resource"])
            if actions == XRAY:  # X-Ray's write actions have no resource-level scoping
                assert resources == ["*"]
                continue
            for resource in resources:
                assert resource.startswith("arn:aws:"), policy.name
                assert "*" not in resource.removesuffix(":*"), policy.name


def test_each_function_has_its_own_role_assumable_only_by_lambda(run: ProgramRun):
    roles = {}
    for function in run.of_type(FUNCTION):
        role_arn = function.inputs["role"]
        assert role_arn.split(":role/")[1].startswith(f"{function.name}-role-")
        roles[role_arn] = function.name
        role = run.named(f"{function.name}-role", ROLE)
        assert statements(role, "assumeRolePolicy") == [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    assert len(roles) == len(run.of_type(FUNCTION))


def test_each_function_writes_to_its_own_log_group_only(run: ProgramRun):
    for function in run.of_type(FUNCTION):
        [logs] = with_action(role_statements(run, function.name), "logs:")
        assert logs["Action"] == LOGS
        assert logs["Resource"].endswith(f":log-group:/aws/lambda/{function.inputs['name']}:*")


def test_business_functions_reach_only_their_own_circuit(run: ProgramRun, config: StackConfig):
    table_arn_suffix = f":table/{run.outputs['table_name']}"
    for service in config.services.values():
        found = role_statements(run, f"{service.id}-business")
        [circuit] = with_action(found, "dynamodb:")
        assert circuit["Action"] == CIRCUIT
        assert circuit["Resource"].endswith(table_arn_suffix)
        assert circuit["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [service.id]}}
        expected = LOGS + XRAY + CIRCUIT + (KEY if config.kms_key else [])
        assert sorted(a for s in found for a in as_list(s["Action"])) == sorted(expected)


def test_the_checker_reaches_exactly_the_probed_circuits_through_one_statement(run: ProgramRun, config: StackConfig):
    """One statement lists every probed circuit, so the role's policy grows by the ids alone
    (a policy per service hit IAM's 10,240-character quota at about 30 services)."""
    checker = run.named("checker", FUNCTION)
    policies = {policy.name: statements(policy) for policy in role_policies_of(run, checker)}
    assert set(policies) == {"checker-policy"}
    [circuit] = with_action(policies["checker-policy"], "dynamodb:")
    assert circuit["Action"] == CIRCUIT
    assert circuit["Resource"].endswith(f":table/{run.outputs['table_name']}")
    assert circuit["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": sorted(config.services)}}


def test_mocks_read_their_own_mode_parameter_and_nothing_else(run: ProgramRun, config: StackConfig):
    for service in config.services.values():
        found = role_statements(run, f"{service.id}-mock")
        [read] = with_action(found, "ssm:")
        assert read["Action"] == ["ssm:GetParameter"]
        assert read["Resource"].endswith(f":parameter/circuit-breaker/{config.environment}/{service.id}/mock-mode")
        assert sorted(a for s in found for a in as_list(s["Action"])) == sorted(LOGS + XRAY + ["ssm:GetParameter"])


def test_the_scheduler_role_serves_only_this_stacks_schedules_and_invokes_only_the_checker(run: ProgramRun):
    [trust] = statements(run.named("checker-scheduler-role", ROLE), "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert trust["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(
        f":schedule-group/{run.outputs['schedule_group']}"
    )
    [invoke] = statements(run.named("checker-scheduler-policy", ROLE_POLICY))
    assert invoke["Action"] == ["lambda:InvokeFunction"]
    assert invoke["Resource"].endswith(f":function:{run.outputs['checker_function']}")


@pytest.mark.parametrize("stack", ["prod"])
def test_table_users_may_use_the_stack_key_only_through_dynamodb(run: ProgramRun, config: StackConfig):
    key_arn = run.named("circuits", TABLE).inputs["serverSideEncryption"]["kmsKeyArn"]
    table_users = ["checker", *(f"{service_id}-business" for service_id in config.services)]
    for name in table_users:
        [key] = with_action(role_statements(run, name), "kms:")
        assert key["Action"] == KEY
        assert key["Resource"] == key_arn
        assert key["Condition"] == {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}
    for service_id in config.services:
        assert not with_action(role_statements(run, f"{service_id}-mock"), "kms:")


@pytest.mark.parametrize("stack", ["prod"])
def test_the_key_lets_cloudwatch_logs_encrypt_only_this_stacks_function_logs(run: ProgramRun):
    account, logs = statements(run.named("key-policy"))
    assert account["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert all("*" not in action for action in logs["Action"])
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/cb-prod-*"
        }
    }
