"""Each policy reports a deliberately broken variant of a real stack, naming the offending resource.

Every case starts from the resources the program declares for a real stack file, breaks one
thing (or judges the stack with a stricter policy config) and runs only the policy under test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional

import pytest

from pack_harness import Resource, evaluate, named, with_edit
from policy.circuit_breaker_policies import (
    FUNCTION,
    FUNCTION_URL,
    IAM_POLICY,
    LAYER_VERSION,
    LOG_GROUP,
    PERMISSION,
    POLICIES,
    ROLE,
    ROLE_POLICY,
    SCHEDULE,
    TABLE,
)

Mutation = Callable[[list[Resource]], list[Resource]]
Edit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Case:
    id: str
    policy: str
    stack: str
    offender: tuple[str, str]  # (name, type) of the resource the message must name
    mutate: Optional[Mutation] = None  # None: the stack as declared, judged under `config`
    config: Mapping[str, Any] = field(default_factory=dict)  # this policy's config


def edit(name: str, type_: str, change: Edit) -> Mutation:
    return lambda resources: with_edit(resources, name, type_, change)


DELETE = object()  # as a value for set_path: remove the input


def set_path(*path: str, value: Any) -> Edit:
    """Set (or, with value=DELETE, remove) the input at ``path``."""

    def change(inputs: dict[str, Any]) -> None:
        node = inputs
        for key in path[:-1]:
            node = node[key]
        if value is DELETE:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value

    return change


def json_at(*path: str, change: Callable[[Any], None]) -> Edit:
    """Change the JSON document held as a string at ``path`` (policies, schedule inputs, env)."""

    def apply(inputs: dict[str, Any]) -> None:
        node = inputs
        for key in path[:-1]:
            node = node[key]
        document = json.loads(node[path[-1]])
        change(document)
        node[path[-1]] = json.dumps(document)

    return apply


def statement(index: int, **fields: Any) -> Callable[[Any], None]:
    def change(document: dict[str, Any]) -> None:
        document["Statement"][index].update(fields)

    return change


def without_condition(index: int, **fields: Any) -> Callable[[Any], None]:
    def change(document: dict[str, Any]) -> None:
        document["Statement"][index].pop("Condition", None)
        document["Statement"][index].update(fields)

    return change


def drop(name: str, type_: str) -> Mutation:
    return lambda resources: [r for r in resources if r is not named(resources, name, type_)]


def duplicate(name: str, type_: str) -> Mutation:
    def mutate(resources: list[Resource]) -> list[Resource]:
        original = named(resources, name, type_)
        copy_name = f"{name}-copy"
        return [*resources, replace(original, name=copy_name, urn=original.urn.rsplit("::", 1)[0] + f"::{copy_name}")]

    return mutate


SET_POLICY_DOC = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})

CASES = [
    # The circuits table.
    Case("pitr-off", "dynamodb-point-in-time-recovery", "dev", ("circuits", TABLE),
         edit("circuits", TABLE, set_path("pointInTimeRecovery", "enabled", value=False))),
    Case("sse-missing", "dynamodb-encryption-at-rest", "dev", ("circuits", TABLE),
         edit("circuits", TABLE, set_path("serverSideEncryption", value=DELETE))),
    Case("prod-unprotected", "dynamodb-deletion-protection-in-production", "prod", ("circuits", TABLE),
         edit("circuits", TABLE, set_path("deletionProtectionEnabled", value=False))),
    Case("dev-judged-as-production", "dynamodb-deletion-protection-in-production", "dev", ("circuits", TABLE),
         config={"productionStacks": ["dev"]}),
    # Lambda functions.
    Case("old-runtime", "lambda-allowed-runtime", "dev", ("checker", FUNCTION),
         edit("checker", FUNCTION, set_path("runtime", value="python3.9"))),
    Case("runtime-not-configured", "lambda-allowed-runtime", "dev", ("payments-business", FUNCTION),
         config={"allowedRuntimes": ["python3.13"]}),
    Case("timeout-too-long", "lambda-timeout-and-memory-bounds", "dev", ("checker", FUNCTION),
         edit("checker", FUNCTION, set_path("timeout", value=900))),
    Case("memory-too-large", "lambda-timeout-and-memory-bounds", "prod", ("payments-mock", FUNCTION),
         edit("payments-mock", FUNCTION, set_path("memorySize", value=4096))),
    Case("unset-timeout-is-lambdas-3s", "lambda-timeout-and-memory-bounds", "dev", ("checker", FUNCTION),
         edit("checker", FUNCTION, set_path("timeout", value=DELETE)), config={"minTimeoutSeconds": 5}),
    Case("no-architectures", "lambda-architecture-set", "dev", ("shipping-business", FUNCTION),
         edit("shipping-business", FUNCTION, set_path("architectures", value=DELETE))),
    Case("tracing-passthrough", "lambda-xray-tracing", "dev", ("checker", FUNCTION),
         edit("checker", FUNCTION, set_path("tracingConfig", "mode", value="PassThrough"))),
    Case("role-tag-missing", "lambda-function-role-tag", "dev", ("payments-business", FUNCTION),
         edit("payments-business", FUNCTION, set_path("tags", "circuit-breaker:role", value=DELETE))),
    # Log groups.
    Case("logs-kept-forever", "log-group-retention", "dev", ("checker-logs", LOG_GROUP),
         edit("checker-logs", LOG_GROUP, set_path("retentionInDays", value=0))),
    Case("retention-unset", "log-group-retention", "prod", ("payments-business-logs", LOG_GROUP),
         edit("payments-business-logs", LOG_GROUP, set_path("retentionInDays", value=DELETE))),
    Case("prod-logs-unencrypted", "log-group-kms-in-production", "prod", ("checker-logs", LOG_GROUP),
         edit("checker-logs", LOG_GROUP, set_path("kmsKeyId", value=DELETE))),
    # Schedules.
    Case("every-30-seconds", "schedule-at-most-once-a-minute", "dev", ("payments-schedule", SCHEDULE),
         edit("payments-schedule", SCHEDULE, set_path("scheduleExpression", value="rate(30 seconds)"))),
    Case("zero-rate", "schedule-at-most-once-a-minute", "prod", ("inventory-schedule", SCHEDULE),
         edit("inventory-schedule", SCHEDULE, set_path("scheduleExpression", value="rate(0 minutes)"))),
    # IAM permissions (statement 2 of a business policy is its circuit's DynamoDB access).
    Case("service-wildcard", "iam-least-privilege", "dev", ("payments-business-policy", ROLE_POLICY),
         edit("payments-business-policy", ROLE_POLICY, json_at("policy", change=statement(2, Action="dynamodb:*")))),
    Case("partial-wildcard-item", "iam-least-privilege", "dev", ("payments-business-policy", ROLE_POLICY),
         edit("payments-business-policy", ROLE_POLICY, json_at("policy", change=statement(2, Action=["dynamodb:*Item"])))),
    Case("partial-wildcard-batch", "iam-least-privilege", "prod", ("checker-policy", ROLE_POLICY),
         edit("checker-policy", ROLE_POLICY, json_at("policy", change=statement(2, Action="dynamodb:Batch*")))),
    Case("every-table-without-condition", "iam-least-privilege", "dev", ("checker-policy", ROLE_POLICY),
         edit("checker-policy", ROLE_POLICY, json_at("policy", change=without_condition(
             2, Resource="arn:aws:dynamodb:*:*:table/*")))),
    Case("every-table-of-the-account", "iam-least-privilege", "prod", ("payments-business-policy", ROLE_POLICY),
         edit("payments-business-policy", ROLE_POLICY, json_at("policy", change=without_condition(
             2, Resource="arn:aws:dynamodb:us-east-1:123456789012:table/*")))),
    Case("star-action", "iam-least-privilege", "dev", ("checker-policy", ROLE_POLICY),
         edit("checker-policy", ROLE_POLICY, json_at("policy", change=statement(0, Action="*")))),
    Case("data-action-on-every-resource", "iam-least-privilege", "prod", ("payments-business-policy", ROLE_POLICY),
         edit("payments-business-policy", ROLE_POLICY, json_at("policy", change=statement(2, Resource="*")))),
    Case("not-action", "iam-least-privilege", "dev", ("checker-scheduler-policy", ROLE_POLICY),
         edit("checker-scheduler-policy", ROLE_POLICY, json_at("policy", change=statement(0, NotAction="iam:*")))),
    Case("inline-policy-on-role", "iam-least-privilege", "dev", ("checker-role", ROLE),
         edit("checker-role", ROLE, set_path("inlinePolicies", value=[{"name": "extra", "policy": SET_POLICY_DOC}]))),
    Case("managed-policy-document", "iam-least-privilege", "dev", ("extra-policy", IAM_POLICY),
         lambda resources: [*resources, Resource(IAM_POLICY, "extra-policy",
                                                 "urn:pulumi:dev::circuit-breaker::aws:iam/policy:Policy::extra-policy",
                                                 {"policy": SET_POLICY_DOC})]),
    Case("not-json", "iam-least-privilege", "dev", ("checker-policy", ROLE_POLICY),
         edit("checker-policy", ROLE_POLICY, set_path("policy", value="{not json"))),
    # IAM trust.
    Case("any-account", "iam-role-trusts-one-service", "dev", ("checker-role", ROLE),
         edit("checker-role", ROLE, json_at("assumeRolePolicy", change=statement(0, Principal={"AWS": "*"})))),
    Case("anyone", "iam-role-trusts-one-service", "dev", ("payments-business-role", ROLE),
         edit("payments-business-role", ROLE, json_at("assumeRolePolicy", change=statement(0, Principal="*")))),
    Case("two-services", "iam-role-trusts-one-service", "prod", ("checker-scheduler-role", ROLE),
         edit("checker-scheduler-role", ROLE, json_at("assumeRolePolicy", change=statement(
             0, Principal={"Service": ["scheduler.amazonaws.com", "lambda.amazonaws.com"]})))),
    Case("unexpected-service", "iam-role-trusts-one-service", "dev", ("checker-role", ROLE),
         edit("checker-role", ROLE, json_at("assumeRolePolicy", change=statement(
             0, Principal={"Service": "ec2.amazonaws.com"})))),
    # Tags.
    Case("table-without-component", "required-tags", "dev", ("circuits", TABLE),
         edit("circuits", TABLE, set_path("tags", "component", value=DELETE))),
    Case("alarm-with-empty-project", "required-tags", "prod", ("payments-circuit-opened", "aws:cloudwatch/metricAlarm:MetricAlarm"),
         edit("payments-circuit-opened", "aws:cloudwatch/metricAlarm:MetricAlarm", set_path("tags", "project", value=""))),
    Case("function-untagged", "required-tags", "dev", ("checker", FUNCTION),
         edit("checker", FUNCTION, set_path("tags", value=DELETE))),
    Case("unlisted-type-with-tags", "required-tags", "dev", ("extension-layer", LAYER_VERSION),
         edit("extension-layer", LAYER_VERSION, set_path("tags", value={"project": "circuit-breaker"}))),
    # Business functions.
    Case("no-layer", "business-function-circuit-breaker", "dev", ("payments-business", FUNCTION),
         edit("payments-business", FUNCTION, set_path("layers", value=[]))),
    Case("foreign-layer", "business-function-circuit-breaker", "prod", ("inventory-business", FUNCTION),
         edit("inventory-business", FUNCTION, set_path(
             "layers", value=["arn:aws:lambda:us-east-1:123456789012:layer:somebody-elses:7"]))),
    Case("circuit-not-configured", "business-function-circuit-breaker", "dev", ("shipping-business", FUNCTION),
         edit("shipping-business", FUNCTION, set_path("environment", "variables", "CIRCUIT_BREAKER_CIRCUITS", value="{}"))),
    Case("circuits-not-json", "business-function-circuit-breaker", "dev", ("shipping-business", FUNCTION),
         edit("shipping-business", FUNCTION, set_path("environment", "variables", "CIRCUIT_BREAKER_CIRCUITS", value="[oops"))),
    Case("no-table-variable", "business-function-circuit-breaker", "dev", ("payments-business", FUNCTION),
         edit("payments-business", FUNCTION, set_path("environment", "variables", "CIRCUIT_BREAKER_TABLE", value=DELETE))),
    Case("wrong-table", "business-function-circuit-breaker", "prod", ("payments-business", FUNCTION),
         edit("payments-business", FUNCTION, set_path("environment", "variables", "CIRCUIT_BREAKER_TABLE", value="other"))),
    Case("no-circuit-id", "business-function-circuit-breaker", "dev", ("inventory-business", FUNCTION),
         edit("inventory-business", FUNCTION, set_path("environment", "variables", "CIRCUIT_ID", value=DELETE))),
    # Checker schedules.
    Case("circuit-never-probed", "checker-schedule-per-circuit", "dev", ("payments-business", FUNCTION),
         drop("payments-schedule", SCHEDULE)),
    Case("circuit-probed-twice", "checker-schedule-per-circuit", "prod", ("shipping-business", FUNCTION),
         duplicate("shipping-schedule", SCHEDULE)),
    Case("probe-of-unused-circuit", "checker-schedule-per-circuit", "dev", ("inventory-schedule", SCHEDULE),
         edit("inventory-schedule", SCHEDULE, json_at("target", "input", change=lambda payload: payload.update(
             circuit_id="billing")))),
    Case("probe-outlasts-checker", "checker-probe-timeout-below-function-timeout", "dev", ("payments-schedule", SCHEDULE),
         edit("payments-schedule", SCHEDULE, json_at("target", "input", change=lambda payload: payload.update(
             timeout_s=60.0)))),  # the checker timeout, 60 s by default
    Case("probe-leaves-no-room-for-the-run", "checker-probe-timeout-below-function-timeout", "prod",
         ("payments-schedule", SCHEDULE),
         edit("payments-schedule", SCHEDULE, json_at("target", "input", change=lambda payload: payload.update(
             timeout_s=55.5)))),  # 4.5 s left of the checker's 60 s: a run needs 5 s beside its probe
    Case("probe-timeout-not-a-number", "checker-probe-timeout-below-function-timeout", "prod",
         ("inventory-schedule", SCHEDULE),
         edit("inventory-schedule", SCHEDULE, json_at("target", "input", change=lambda payload: payload.update(
             timeout_s="2")))),
    Case("checker-not-in-stack", "checker-probe-timeout-below-function-timeout", "prod", ("shipping-schedule", SCHEDULE),
         edit("shipping-schedule", SCHEDULE, set_path(
             "target", "arn", value="arn:aws:lambda:us-east-1:123456789012:function:elsewhere"))),
    # Public access.
    Case("public-url-on-business-function", "public-access-only-for-mock-services", "dev",
         ("payments-mock-url", FUNCTION_URL),
         edit("payments-mock-url", FUNCTION_URL, set_path("functionName", value="cb-dev-payments-business"))),
    Case("public-permission-on-checker", "public-access-only-for-mock-services", "prod",
         ("inventory-mock-url-invoke", PERMISSION),
         edit("inventory-mock-url-invoke", PERMISSION, set_path("function", value="cb-prod-checker"))),
    Case("mock-invoke-api-open-to-everyone", "public-access-only-for-mock-services", "dev",
         ("payments-mock-url-invoke", PERMISSION),
         edit("payments-mock-url-invoke", PERMISSION, set_path("invokedViaFunctionUrl", value=DELETE))),
    Case("mock-untagged", "public-access-only-for-mock-services", "dev", ("shipping-mock-url", FUNCTION_URL),
         edit("shipping-mock", FUNCTION, set_path("tags", "circuit-breaker:role", value="business-function"))),
]

POLICY_BY_NAME = {policy.name: policy for policy in POLICIES}


def test_every_policy_has_a_violating_case():
    assert {case.policy for case in CASES} == set(POLICY_BY_NAME)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_policy_reports_the_broken_resource(case: Case, stack_resources):
    policy = POLICY_BY_NAME[case.policy]
    original = stack_resources(case.stack)
    resources = case.mutate(original) if case.mutate else original
    offender = named(resources, *case.offender)

    assert evaluate(original, policies=[policy]) == [], "the unbroken stack must pass this policy"
    violations = evaluate(resources, {case.policy: case.config}, policies=[policy])

    assert violations, f"{case.policy} missed the broken {offender.name}"
    reported = [v for v in violations if f"'{offender.name}'" in v.message]
    assert reported, [v.message for v in violations]
    assert all(v.level is policy.enforcement_level for v in violations)
    # Stack policies attach the offender's URN; resource policies leave it to the engine.
    assert {v.urn for v in reported} <= {offender.urn, None}


def test_a_probe_that_leaves_exactly_the_runs_room_passes(stack_resources):
    """The boundary of checker-probe-timeout-below-function-timeout: a probe timeout that leaves
    exactly CHECKER_MIN_ROOM_S of the checker's 60 s passes; 0.5 s more is the violating case."""
    policy = POLICY_BY_NAME["checker-probe-timeout-below-function-timeout"]
    at_the_edge = edit("payments-schedule", SCHEDULE, json_at("target", "input", change=lambda payload: payload.update(
        timeout_s=55.0)))
    assert evaluate(at_the_edge(stack_resources("prod")), policies=[policy]) == []
