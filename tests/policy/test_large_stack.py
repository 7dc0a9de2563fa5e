"""A 200-service stack of 32-character ids passes preview and the pack, within every AWS quota.

The config check (infra/limits.py) measures the worst case; this measures what the program
actually declares under the SDK's mocks, role by role, function by function, name by name.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from pulumi_policy import EnforcementLevel

from infra import limits
from pack_harness import Resource, evaluate, program_resources

SERVICES = 200
IDS = [f"svc-{index:03d}-" + "x" * 24 for index in range(SERVICES)]  # 32 characters each
MARGIN = 0.9  # every measured size stays under 90 % of its quota


@pytest.fixture(scope="module")
def large() -> list[Resource]:
    overrides = {
        "environment": "e" * 16,  # the longest environment
        "kms_key": True,  # the key statement makes every role policy longer
        "services": {service_id: {"mock": {"mode": "healthy"}} for service_id in IDS},
    }
    return program_resources("prod", overrides)


def of_type(resources: list[Resource], type_: str) -> list[Resource]:
    return [resource for resource in resources if resource.type == type_]


def test_two_hundred_services_pass_every_mandatory_policy(large: list[Resource]):
    assert len(of_type(large, "aws:scheduler/schedule:Schedule")) == SERVICES
    mandatory = [f"{v.policy}: {v.message}" for v in evaluate(large) if v.level is EnforcementLevel.MANDATORY]
    assert mandatory == []


def test_every_roles_inline_policies_stay_well_within_iams_quota(large: list[Resource]):
    per_role: dict[str, int] = defaultdict(int)
    for policy in of_type(large, "aws:iam/rolePolicy:RolePolicy"):
        per_role[policy.inputs["role"]] += len(json.dumps(json.loads(policy.inputs["policy"]), separators=(",", ":")))
    assert len(per_role) == 2 * SERVICES + 2
    assert max(per_role.values()) <= MARGIN * limits.IAM_ROLE_POLICIES_CHARS, max(per_role.values())


def test_every_functions_environment_stays_well_within_lambdas_4_kb(large: list[Resource]):
    for function in of_type(large, "aws:lambda/function:Function"):
        size = limits.environment_size(function.inputs["environment"]["variables"])
        assert size <= MARGIN * limits.LAMBDA_ENVIRONMENT_BYTES, (function.name, size)


def test_every_name_fits_its_limit(large: list[Resource]):
    named = {
        "aws:lambda/function:Function": ("name", "Lambda function name"),
        "aws:cloudwatch/logGroup:LogGroup": ("name", "CloudWatch Logs log group name"),
        "aws:scheduler/schedule:Schedule": ("name", "EventBridge Scheduler schedule name"),
        "aws:scheduler/scheduleGroup:ScheduleGroup": ("name", "EventBridge Scheduler schedule group name"),
        "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "CloudWatch alarm name"),
        "aws:ssm/parameter:Parameter": ("name", "SSM parameter name"),
        "aws:lambda/layerVersion:LayerVersion": ("layerName", "Lambda layer name"),
    }
    autonamed = {"aws:iam/role:Role": "IAM role name", "aws:iam/rolePolicy:RolePolicy": "IAM role policy name"}
    for resource in large:
        if resource.type in named:
            key, quota = named[resource.type]
            assert len(resource.inputs[key]) <= limits.NAME_LIMITS[quota], (quota, resource.inputs[key])
        elif resource.type in autonamed:  # Pulumi names it: the logical name, "-" and 7 characters
            assert len(resource.name) + limits.AUTONAME_SUFFIX <= limits.NAME_LIMITS[autonamed[resource.type]]
