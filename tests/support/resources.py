"""Reading captured resources: their policy documents, taggability, and comparing two runs."""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import pulumi
import yaml

from infra.config import NAMESPACE, StackConfig, parse_config
from tests.support.program import PROJECT_DIR, CapturedResource, ProgramRun

FUNCTION = "aws:lambda/function:Function"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
PERMISSION = "aws:lambda/permission:Permission"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SCHEDULE = "aws:scheduler/schedule:Schedule"
TABLE = "aws:dynamodb/table:Table"
PARAMETER = "aws:ssm/parameter:Parameter"


def stack_config(stack: str) -> StackConfig:
    """The typed config of a real stack file, read without Pulumi: what the program should deploy."""
    raw = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    prefix = f"{NAMESPACE}:"
    return parse_config({key.removeprefix(prefix): value for key, value in raw.items() if key.startswith(prefix)})


def statements(resource: CapturedResource, key: str = "policy") -> list[dict[str, Any]]:
    """The statements of a policy document input (``policy``, ``assumeRolePolicy``)."""
    document = json.loads(resource.inputs[key])
    assert document["Version"] == "2012-10-17"
    return document["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_policies_of(run: ProgramRun, function: CapturedResource) -> list[CapturedResource]:
    """Every role policy on the role of ``function``: its own and any another component added."""
    own = run.named(f"{function.name}-policy", ROLE_POLICY)
    return [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == own.inputs["role"]]


def is_taggable(type_: str) -> bool:
    """Whether pulumi-aws's class for a type token (``aws:lambda/function:Function``) takes ``tags``."""
    _, module, name = type_.split(":")
    module = module.split("/")[0]
    package = importlib.import_module(f"pulumi_aws.{module}_" if module == "lambda" else f"pulumi_aws.{module}")
    return "tags" in inspect.signature(getattr(package, name)._internal_init).parameters


def comparable(value: Any) -> Any:
    """Inputs with archives and assets as plain data, so the inputs of two runs compare equal."""
    if isinstance(value, (pulumi.FileArchive, pulumi.FileAsset)):
        return (type(value).__name__, value.path)
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value


def service_resources(service_id: str, mock: bool = True) -> set[tuple[str, str]]:
    """(type, logical name) of everything one service adds, its schedule included (its circuit
    joins the checker's one circuit statement, which changes; see tests/infra/test_adding_a_service.py)."""
    functions = ("business", "mock") if mock else ("business",)
    expected = {
        ("circuit-breaker:infra:ProtectedService", service_id),
        (ALARM, f"{service_id}-circuit-opened"),
        (SCHEDULE, f"{service_id}-schedule"),
    }
    for kind in functions:
        name = f"{service_id}-{kind}"
        expected |= {
            ("circuit-breaker:infra:LambdaFunction", name),
            (FUNCTION, name),
            (ROLE, f"{name}-role"),
            (ROLE_POLICY, f"{name}-policy"),
            (LOG_GROUP, f"{name}-logs"),
        }
    if mock:
        expected |= {
            (PARAMETER, f"{service_id}-mock-mode"),
            (FUNCTION_URL, f"{service_id}-mock-url"),
            (PERMISSION, f"{service_id}-mock-url-public"),
            (PERMISSION, f"{service_id}-mock-url-invoke"),
        }
    return expected


def stack_resources(kms_key: bool) -> set[tuple[str, str]]:
    """(type, logical name) of what a stack has whatever its services."""
    expected = {
        ("circuit-breaker:infra:CircuitTable", "circuits"),
        (TABLE, "circuits"),
        ("circuit-breaker:infra:ExtensionLayer", "extension-layer"),
        ("aws:lambda/layerVersion:LayerVersion", "extension-layer"),
        ("circuit-breaker:infra:Checker", "checker"),
        ("circuit-breaker:infra:LambdaFunction", "checker"),
        (FUNCTION, "checker"),
        (ROLE, "checker-role"),
        (ROLE_POLICY, "checker-policy"),
        (LOG_GROUP, "checker-logs"),
        ("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "checker-invoke-config"),
        ("aws:scheduler/scheduleGroup:ScheduleGroup", "checker-schedules"),
        (ROLE, "checker-scheduler-role"),
        (ROLE_POLICY, "checker-scheduler-policy"),
    }
    if kms_key:
        expected |= {
            ("circuit-breaker:infra:EncryptionKey", "key"),
            ("aws:kms/key:Key", "key"),
            ("aws:kms/keyPolicy:KeyPolicy", "key-policy"),
        }
    return expected


def kinds(run: ProgramRun) -> list[tuple[str, str]]:
    return sorted((resource.type, resource.name) for resource in run.resources)


def top_component(run: ProgramRun, resource: CapturedResource) -> CapturedResource:
    """The component right under the stack that ``resource`` belongs to (itself, if it is one)."""
    by_urn = run.by_urn()
    while resource.parent in by_urn:
        resource = by_urn[resource.parent]
    return resource
