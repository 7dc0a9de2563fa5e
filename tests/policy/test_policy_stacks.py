"""Every real stack file passes the pack: no mandatory violation; advisory ones are listed."""

from __future__ import annotations

import warnings

import pytest
from pulumi_policy import EnforcementLevel

from pack_harness import evaluate
from tests.support.program import PROJECT_DIR

STACKS = sorted(path.name.split(".")[1] for path in PROJECT_DIR.glob("Pulumi.*.yaml"))


def test_every_stack_file_is_covered():
    assert {"dev", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_passes_every_mandatory_policy(stack, stack_resources):
    violations = evaluate(stack_resources(stack))
    for advisory in (v for v in violations if v.level is EnforcementLevel.ADVISORY):
        warnings.warn(f"{stack}: advisory {advisory.policy}: {advisory.message}", stacklevel=1)
    mandatory = [f"{v.policy}: {v.message}" for v in violations if v.level is EnforcementLevel.MANDATORY]
    assert mandatory == []


@pytest.mark.parametrize("stack", STACKS)
def test_stack_policies_see_the_resources_they_judge(stack, stack_resources):
    """Guards the test above against passing vacuously: the stack holds what the policies select."""
    types = {resource.type for resource in stack_resources(stack)}
    assert {
        "aws:dynamodb/table:Table",
        "aws:lambda/function:Function",
        "aws:lambda/layerVersion:LayerVersion",
        "aws:lambda/functionUrl:FunctionUrl",
        "aws:scheduler/schedule:Schedule",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:cloudwatch/logGroup:LogGroup",
    } <= types
