"""The pack as a whole: well-formed policies, valid config schemas, and the served pack itself."""

from __future__ import annotations

import importlib
import json
import re
import select
import subprocess
import sys
from inspect import signature
from pathlib import Path

import grpc
import jsonschema
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel, PolicyConfigSchema
from pulumi_policy.deserialize import serialize_properties

from pack_harness import Resource, named
from policy import circuit_breaker_policies as pack
from policy.circuit_breaker_policies import PACK_NAME, POLICIES, TAGGABLE_TYPES, TABLE, wildcard_resource

POLICY_DIR = Path(pack.__file__).resolve().parent
DOCS = POLICY_DIR.parent / "docs" / "policy.md"
SCHEMAS = [(policy.name, policy.config_schema) for policy in POLICIES if policy.config_schema is not None]


def as_json_schema(schema: PolicyConfigSchema) -> dict:
    """The object schema the engine validates a policy's config against."""
    return {"type": "object", "properties": schema.properties, "required": schema.required or []}


def test_policy_names_are_unique_and_well_formed():
    names = [policy.name for policy in POLICIES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda policy: policy.name)
def test_policy_has_description_and_explicit_level(policy):
    assert policy.description.strip()
    assert isinstance(policy.enforcement_level, EnforcementLevel)
    assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)


@pytest.mark.parametrize(("name", "schema"), SCHEMAS, ids=[name for name, _ in SCHEMAS])
def test_config_schema_validates_its_own_defaults(name, schema):
    json_schema = as_json_schema(schema)
    jsonschema.Draft7Validator.check_schema(json_schema)
    defaults = {key: spec["default"] for key, spec in schema.properties.items()}
    assert set(defaults) == set(schema.properties), "every setting needs a default, so the pack runs unconfigured"
    jsonschema.validate(defaults, json_schema)


@pytest.mark.parametrize(("name", "schema"), SCHEMAS, ids=[name for name, _ in SCHEMAS])
def test_config_schema_rejects_a_wrongly_typed_value(name, schema):
    key, spec = next(iter(schema.properties.items()))
    wrong = "not-a-list" if spec["type"] == "array" else "not-a-number"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({key: wrong}, as_json_schema(schema))


def test_taggable_types_match_the_provider(stack_resources):
    """A type is listed exactly when its pulumi-aws resource takes ``tags``, for every AWS type
    the stacks declare and every type listed."""
    declared = {r.type for stack in ("dev", "prod") for r in stack_resources(stack) if r.type.startswith("aws:")}
    for type_ in declared | TAGGABLE_TYPES:
        assert (type_ in TAGGABLE_TYPES) == ("tags" in signature(provider_class(type_)._internal_init).parameters), type_


def provider_class(type_: str) -> type:
    """The pulumi-aws class of a type token: ``aws:lambda/function:Function`` -> ``pulumi_aws.lambda_.Function``."""
    _, module, class_name = type_.split(":")
    package = module.split("/")[0]
    return getattr(importlib.import_module(f"pulumi_aws.{package}_" if package == "lambda" else f"pulumi_aws.{package}"),
                   class_name)


def test_constants_match_the_runtime_code():
    """The pack imports nothing from the repository (it runs in its own virtualenv), so the names
    and defaults it shares with the runtime are pinned here."""
    from checker.budget import MIN_ROOM_S
    from checker.config import DEFAULT_TIMEOUT_S
    from extension.circuit_breaker_extension.config import CIRCUITS, TABLE as TABLE_VARIABLE

    assert pack.CHECKER_DEFAULT_PROBE_TIMEOUT_S == DEFAULT_TIMEOUT_S
    assert pack.CHECKER_MIN_ROOM_S == MIN_ROOM_S
    assert (pack.TABLE_VARIABLE, pack.CIRCUITS_VARIABLE) == (TABLE_VARIABLE, CIRCUITS)


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ("rate(1 minute)", True),
        ("rate(5 minutes)", True),
        ("rate(2 hours)", True),
        ("rate(1 day)", True),
        ("cron(* * * * ? *)", True),
        ("cron(*/1 * * * ? *)", True),
        ("at(2030-01-01T00:00:00)", True),
        ("rate(30 seconds)", False),
        ("rate(1 second)", False),
        ("rate(0 minutes)", False),
        ("rate(1 fortnight)", False),
        ("every minute", False),
        (None, False),
    ],
)
def test_schedule_frequency(expression, allowed):
    assert (pack.schedule_frequency_problem(expression) is None) == allowed


def test_stack_name_comes_from_the_urn():
    assert pack.stack_of("urn:pulumi:prod::circuit-breaker::a$aws:dynamodb/table:Table::circuits") == "prod"
    assert pack.stack_of("not-a-urn") == ""


def test_policy_documents_parse_from_strings_and_objects():
    document = {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}
    assert pack.policy_statements(document) == [document["Statement"]]
    assert pack.policy_statements('{"Statement": [{"Effect": "Deny"}]}') == [{"Effect": "Deny"}]
    assert pack.policy_statements("{not json") is None
    assert pack.policy_statements('{"Statement": ["text"]}') is None


# --- the pack as the engine runs it --------------------------------------------------------


@pytest.fixture(scope="module")
def served_pack(tmp_path_factory):
    """The pack launched as the Pulumi CLI launches a Python pack (``python -m pulumi.policy
    <engine> <pack dir>``, which runs ``__main__.py``), from a foreign working directory and
    without this repository on the path; yields a gRPC stub to its analyzer."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(POLICY_DIR)],
        cwd=tmp_path_factory.mktemp("elsewhere"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        port = process.stdout.readline().strip() if ready else ""
        assert port.isdigit(), f"the pack did not start: {port!r} {process.stderr.read() if process.poll() is not None else ''}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=10)


def wire(props) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(serialize_properties(props))
    return struct


def analyze(stub, resource: Resource) -> list:
    request = proto.AnalyzeRequest(type=resource.type, properties=wire(resource.inputs), urn=resource.urn,
                                   name=resource.name)
    return list(stub.Analyze(request).diagnostics)


def test_served_pack_lists_every_policy_with_its_level_and_schema(served_pack):
    info = served_pack.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME and info.supportsConfig
    served = {policy.name: policy for policy in info.policies}
    assert set(served) == {policy.name for policy in POLICIES}
    for policy in POLICIES:
        assert served[policy.name].enforcementLevel == proto.EnforcementLevel.Value(policy.enforcement_level.name)
        assert set(served[policy.name].configSchema.properties) == set(policy.config_schema.properties if policy.config_schema else {})


def test_served_pack_passes_the_dev_stack(served_pack, stack_resources):
    resources = stack_resources("dev")
    for resource in resources:
        assert analyze(served_pack, resource) == [], resource.name
    stack = proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(type=r.type, properties=wire(r.state), urn=r.urn, name=r.name, parent=r.parent or "")
        for r in resources
    ])
    assert list(served_pack.AnalyzeStack(stack).diagnostics) == []


def test_served_pack_reports_a_violation_and_honours_its_config(served_pack, stack_resources):
    table = named(stack_resources("dev"), "circuits", TABLE)
    served_pack.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
        "dynamodb-deletion-protection-in-production": proto.PolicyConfig(
            enforcementLevel=proto.MANDATORY, properties=wire({"productionStacks": ["dev"]})),
    }))
    try:
        diagnostics = analyze(served_pack, table)
    finally:
        served_pack.Configure(proto.ConfigureAnalyzerRequest())
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("dynamodb-deletion-protection-in-production", proto.MANDATORY)]
    assert "'circuits'" in diagnostics[0].message


def test_docs_list_every_policy_with_its_level_and_settings():
    """docs/policy.md is what users configure the pack from, so it may not drift from the code."""
    rows = {line.split("|")[1].strip(" `"): line for line in DOCS.read_text().splitlines() if line.startswith("| `")}
    for policy in POLICIES:
        row = rows.get(policy.name, "")
        assert f"| {policy.enforcement_level.value} |" in row, policy.name
        for key, spec in (policy.config_schema.properties if policy.config_schema else {}).items():
            assert f"`{key}` (`{json.dumps(spec['default'])}`)" in row, (policy.name, key)


@pytest.mark.parametrize(("arn", "broad"), [
    ("arn:aws:dynamodb:*:*:table/*", True),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/*", True),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/circuits-*", True),
    ("arn:aws:dynamodb:us-east-1:*:table/circuits", True),
    ("arn:aws:ssm:us-east-1:123456789012:parameter/*", True),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/circuits", False),
    ("arn:aws:dynamodb:us-east-1:123456789012:table/circuits/index/*", False),
    ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/cb-dev-checker:*", False),
])
def test_a_wildcard_arn_is_one_that_names_no_single_resource(arn, broad):
    assert wildcard_resource(arn) is broad
