"""AWS quotas a stack's config could break, checked at config time against the worst case.

What the program deploys grows with the config: the checker's role policy with every circuit id,
a business function's environment with its breaker settings and URL, names with the service id
and the environment. Each is measured here by calling the program's own builders
(infra/payloads.py, infra/iam.py) with the longest values the unknowns can take (a 255-character
table name, the longest partition and region, a KMS key ARN), so a config that passes cannot
exceed a quota once deployed, whatever names AWS and Pulumi pick. docs/deploy.md (Quotas) lists
them and what they mean for the size of a stack.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterator, Optional

from infra.iam import document_size, function_statements
from infra.payloads import (
    business_statements,
    business_variables,
    checker_statements,
    checker_variables,
    mock_statements,
    mock_variables,
    physical_name,
    scheduler_statements,
)

if TYPE_CHECKING:
    from infra.config import ServiceConfig, StackConfig

# IAM: "Role policy size cannot exceed 10,240 characters", all inline policies of a role together
# (whitespace not counted); roles per account, 1,000 unless raised.
IAM_ROLE_POLICIES_CHARS = 10_240
IAM_ROLES_PER_ACCOUNT = 1_000
# Lambda: "The total size of all environment variables doesn't exceed 4 KB."
LAMBDA_ENVIRONMENT_BYTES = 4_096
# Name lengths, from botocore's service models (FunctionName is 140 as an ARN, 64 as a name).
NAME_LIMITS = {
    "Lambda function name": 64,
    "Lambda layer name": 140,
    "CloudWatch Logs log group name": 512,
    "IAM role name": 64,
    "IAM role policy name": 128,
    "EventBridge Scheduler schedule name": 64,
    "EventBridge Scheduler schedule group name": 64,
    "CloudWatch alarm name": 255,
    "SSM parameter name": 2_048,
}
# Pulumi's autonaming appends "-" and 7 random characters to a logical name.
AUTONAME_SUFFIX = 8

# The longest values of what only AWS knows: the partition, the region, the table's name.
_PARTITION = "aws-us-gov"
_REGION = "ap-southeast-xx-1"
_ACCOUNT = "123456789012"
_TABLE = "t" * 255  # DynamoDB's longest table name
_KEY_ARN = f"arn:{_PARTITION}:kms:{_REGION}:{_ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
_URL_ID = "u" * 32


def _arn(service: str, resource: str) -> str:
    return f"arn:{_PARTITION}:{service}:{_REGION}:{_ACCOUNT}:{resource}"


def _log_group_arn(function_name: str) -> str:
    return _arn("logs", f"log-group:/aws/lambda/{function_name}")


def environment_size(variables: dict[str, str]) -> int:
    """Bytes of a function's variables, as the JSON map Lambda receives: an upper bound of the
    keys and values Lambda counts."""
    return len(json.dumps(variables, separators=(",", ":"), ensure_ascii=False).encode())


def problems(config: StackConfig) -> Iterator[tuple[str, str]]:
    """(key path, message) for every quota the config could exceed, naming the quota."""
    key_arn = _KEY_ARN if config.kms_key else None
    table_arn = _arn("dynamodb", f"table/{_TABLE}")
    env = config.environment

    checker = physical_name(env, "checker")
    yield from _role_policies("services", "checker", checker, checker_statements(config.services, table_arn, key_arn))
    yield from _role_policies("environment", "scheduler", None, scheduler_statements(_arn("lambda", f"function:{checker}")))
    yield from _environment("environment", checker_variables(_TABLE))

    roles = 2 + sum(2 if service.mock is not None else 1 for service in config.services.values())
    if roles > IAM_ROLES_PER_ACCOUNT:
        yield ("services", f"the stack needs {roles} IAM roles, over IAM's default quota of {IAM_ROLES_PER_ACCOUNT} "
               "roles per account: split the services over more stacks")

    yield from _names("environment", {
        "Lambda function name": [checker],
        "Lambda layer name": [physical_name(env, "circuit-breaker-extension")],
        "EventBridge Scheduler schedule group name": [physical_name(env, "checks")],
        "IAM role name": ["checker-role", "checker-scheduler-role"],
        "IAM role policy name": ["checker-policy", "checker-scheduler-policy"],
    })
    for service in config.services.values():
        yield from _service(config, service, table_arn, key_arn)


def _service(config: StackConfig, service: ServiceConfig, table_arn: str, key_arn: Optional[str]) -> Iterator[tuple[str, str]]:
    path, env = f"services.{service.id}", config.environment
    business = physical_name(env, f"{service.id}-business")
    functions = {"business": business}
    url = service.url or f"https://{_URL_ID}.lambda-url.{_REGION}.on.aws/resource"
    yield from _environment(path, business_variables(service, url, _TABLE))
    yield from _role_policies(path, "business", business, business_statements(service, table_arn, key_arn))
    if service.mock is not None:
        mock = functions["mock"] = physical_name(env, f"{service.id}-mock")
        parameter = service.mode_parameter(env)
        yield from _environment(path, mock_variables(service, parameter))
        yield from _role_policies(path, "mock", mock, mock_statements(_arn("ssm", f"parameter{parameter}")))
    yield from _names(path, {
        "Lambda function name": list(functions.values()),
        "CloudWatch Logs log group name": [f"/aws/lambda/{name}" for name in functions.values()],
        "IAM role name": [f"{service.id}-{kind}-role" for kind in functions],
        "IAM role policy name": [f"{service.id}-{kind}-policy" for kind in functions],
        "EventBridge Scheduler schedule name": [service.id],
        "CloudWatch alarm name": [physical_name(env, f"{service.id}-circuit-opened")],
        "SSM parameter name": [service.mode_parameter(env)] if service.mock is not None else [],
    })


def _environment(path: str, variables: dict[str, str]) -> Iterator[tuple[str, str]]:
    size = environment_size(variables)
    if size > LAMBDA_ENVIRONMENT_BYTES:
        largest = max(variables, key=lambda name: len(str(variables[name])))
        yield (path, f"a function's environment variables could take {size:,} bytes, over Lambda's quota of "
               f"{LAMBDA_ENVIRONMENT_BYTES:,} bytes (4 KB); the largest is {largest}")


def _role_policies(path: str, kind: str, function_name: Optional[str], data: list) -> Iterator[tuple[str, str]]:
    """The role's one inline policy: a function's (its logs and traces, then ``data``) or ``data`` alone."""
    statements = data if function_name is None else function_statements(_log_group_arn(function_name), data)
    chars = document_size(*statements)
    if chars > IAM_ROLE_POLICIES_CHARS:
        yield (path, f"the {kind} role's inline policies could reach {chars:,} characters, over IAM's quota of "
               f"{IAM_ROLE_POLICIES_CHARS:,} per role: split the services over more stacks or shorten their ids")


def _names(path: str, names: dict[str, list[str]]) -> Iterator[tuple[str, str]]:
    autonamed = {"IAM role name", "IAM role policy name"}
    for quota, found in names.items():
        for name in found:
            length = len(name) + (AUTONAME_SUFFIX if quota in autonamed else 0)
            if length > NAME_LIMITS[quota]:
                yield (path, f"the {quota} {name!r} would have {length} characters, over the limit of "
                       f"{NAME_LIMITS[quota]}")
