"""The CrossGuard policies every circuit-breaker stack must pass.

The engine hands each policy resource inputs (resource policies) or the stack's resources
(stack policies) with camelCase property names, wrapped in read-only proxies that raise when a
value is unknown during preview. Everything here therefore reads properties through
``Mapping``/``Sequence`` and never assumes ``dict``/``list``.

Each check is a small pure function returning the problems it found as messages that name the
resource and the fix; :func:`resource_policy` and the stack validations turn them into
violations. This module must stay importable without a running engine: the tests import it as
``policy.circuit_breaker_policies`` and ``__main__.py`` imports it as a sibling module, so it
imports nothing from this repository.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Protocol, Sequence

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

PACK_NAME = "circuit-breaker"

TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
LAYER_VERSION = "aws:lambda/layerVersion:LayerVersion"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
PERMISSION = "aws:lambda/permission:Permission"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

# Types whose pulumi-aws resource takes `tags` (tests/policy checks this list against the
# provider's SDK). A resource of another type counts as taggable when its inputs carry `tags`.
TAGGABLE_TYPES = frozenset({
    TABLE,
    FUNCTION,
    ROLE,
    IAM_POLICY,
    LOG_GROUP,
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:kms/key:Key",
    "aws:ssm/parameter:Parameter",
    "aws:scheduler/scheduleGroup:ScheduleGroup",
})

# The tag that says what a function is for; the stack policies select functions by it.
ROLE_TAG = "circuit-breaker:role"
BUSINESS_FUNCTION = "business-function"
MOCK_SERVICE = "mock-service"

# The variables the extension reads (runtime/extension/circuit_breaker_extension/config.py)
# and the one the business function reads (runtime/services/business.py).
TABLE_VARIABLE = "CIRCUIT_BREAKER_TABLE"
CIRCUITS_VARIABLE = "CIRCUIT_BREAKER_CIRCUITS"
CIRCUIT_ID_VARIABLE = "CIRCUIT_ID"

# What Lambda and the checker assume when a value is left out (runtime/checker/config.py).
LAMBDA_DEFAULT_TIMEOUT_S = 3
LAMBDA_DEFAULT_MEMORY_MB = 128
CHECKER_DEFAULT_PROBE_TIMEOUT_S = 2.0
# What a checker run needs beside its probe: its DynamoDB requests and its last log line
# (runtime/checker/budget.py MIN_ROOM_S; the Pulumi config refuses less in the same terms).
CHECKER_MIN_ROOM_S = 5.0

Problems = Iterator[str]


class _Resource(Protocol):
    """What both ``ResourceValidationArgs`` and ``PolicyResource`` offer, so checks take either."""

    resource_type: str
    name: str
    urn: str
    props: Mapping[str, Any]


# --- reading properties ------------------------------------------------------------------


def prop(props: Mapping[str, Any], *path: str) -> Any:
    """The value at ``path`` in nested objects, or None where any step is missing."""
    value: Any = props
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def as_list(value: Any) -> list[Any]:
    """IAM and provider values that may be one item or many, as a list (None -> [])."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [value]


def json_object(value: Any) -> Optional[Mapping[str, Any]]:
    """A JSON object given as a JSON string (or already parsed), or None if it is not one.

    Policy documents, schedule inputs and the extension's circuit map all arrive as strings.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def tags(resource: _Resource) -> Mapping[str, Any]:
    """The resource's own ``tags`` input (provider ``default_tags`` never reach the inputs)."""
    value = resource.props.get("tags")
    return value if isinstance(value, Mapping) else {}


def function_role(resource: _Resource) -> Optional[str]:
    return tags(resource).get(ROLE_TAG)


def stack_of(urn: str) -> str:
    """The stack name in ``urn:pulumi:<stack>::<project>::<type>::<name>``.

    The URN carries the stack wherever a policy runs, under the engine and in tests alike, whereas
    ``pulumi.get_stack()`` answers only where the engine has set its environment variables.
    """
    head = urn.split("::", 1)[0]
    prefix = "urn:pulumi:"
    return head[len(prefix):] if head.startswith(prefix) else ""


def describe(resource: _Resource) -> str:
    """How a message names a resource: its short type and its Pulumi name."""
    return f"{resource.resource_type.rsplit(':', 1)[-1]} '{resource.name}'"


def policy_statements(document: Any) -> Optional[list[Mapping[str, Any]]]:
    """The statements of an IAM policy document (JSON string or object), or None if malformed."""
    parsed = json_object(document)
    if parsed is None:
        return None
    statements = as_list(parsed.get("Statement"))
    return statements if all(isinstance(statement, Mapping) for statement in statements) else None


def allows(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


# --- configuration -----------------------------------------------------------------------


def _strings(description: str, default: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
            "description": description, "default": default}


def _integer(description: str, default: int, minimum: int, maximum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum, "description": description,
            "default": default}


PRODUCTION_STACKS = _strings("Stack names (the stack part of each URN) held to production rules.", ["prod", "production"])


def config_with_defaults(schema: Optional[PolicyConfigSchema], configured: Mapping[str, Any]) -> dict[str, Any]:
    """The schema's defaults overlaid with what the user configured.

    The defaults live only in the schema, and the policy applies them itself instead of relying
    on the engine to fill them in, so an unconfigured pack behaves exactly as documented.
    """
    defaults = {key: spec["default"] for key, spec in (schema.properties if schema else {}).items()}
    return {**defaults, **configured}


def is_production(config: Mapping[str, Any], urn: str) -> bool:
    return stack_of(urn) in config["productionStacks"]


# --- resource policies -------------------------------------------------------------------

Check = Callable[[_Resource, Mapping[str, Any]], Problems]


def resource_policy(
    name: str,
    description: str,
    types: Optional[frozenset[str]],
    check: Check,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
    config_schema: Optional[PolicyConfigSchema] = None,
) -> ResourceValidationPolicy:
    """A resource policy running ``check`` on resources of ``types`` (every type when None)."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if types is not None and args.resource_type not in types:
            return
        config = config_with_defaults(config_schema, args.get_config())
        for problem in check(args, config):
            report_violation(f"{describe(args)} {problem}", None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=enforcement_level, config_schema=config_schema)


def _flag_is_on(path: tuple[str, ...], fix: str) -> Check:
    """A check that the boolean at ``path`` is true."""

    def check(resource: _Resource, _config: Mapping[str, Any]) -> Problems:
        if prop(resource.props, *path) is not True:
            yield f"has {'.'.join(path)} off: {fix}"

    return check


def deletion_protection_in_production(table: _Resource, config: Mapping[str, Any]) -> Problems:
    if is_production(config, table.urn) and table.props.get("deletionProtectionEnabled") is not True:
        yield (f"has no deletion protection in production stack '{stack_of(table.urn)}': "
               "set deletion_protection_enabled=True (config circuit-breaker:deletion_protection: true)")


def allowed_runtime(function: _Resource, config: Mapping[str, Any]) -> Problems:
    runtime = function.props.get("runtime")
    if runtime not in config["allowedRuntimes"]:
        yield (f"runs on {runtime!r}, not one of {', '.join(config['allowedRuntimes'])}: "
               "set runtime to an allowed one (config circuit-breaker:lambda_runtime)")


def timeout_and_memory_bounds(function: _Resource, config: Mapping[str, Any]) -> Problems:
    timeout = function.props.get("timeout", LAMBDA_DEFAULT_TIMEOUT_S)
    memory = function.props.get("memorySize", LAMBDA_DEFAULT_MEMORY_MB)
    if not config["minTimeoutSeconds"] <= timeout <= config["maxTimeoutSeconds"]:
        yield (f"has a timeout of {timeout:g} s: set timeout between {config['minTimeoutSeconds']:g} "
               f"and {config['maxTimeoutSeconds']:g} s")
    if not config["minMemoryMb"] <= memory <= config["maxMemoryMb"]:
        yield (f"has {memory:g} MB of memory: set memory_size between {config['minMemoryMb']:g} "
               f"and {config['maxMemoryMb']:g} MB")


def architecture_set(function: _Resource, _config: Mapping[str, Any]) -> Problems:
    if not as_list(function.props.get("architectures")):
        yield ("leaves its instruction set to the default: set architectures "
               "(config circuit-breaker:architecture, arm64 or x86_64)")


def active_tracing(function: _Resource, _config: Mapping[str, Any]) -> Problems:
    if prop(function.props, "tracingConfig", "mode") != "Active":
        yield "is not traced: set tracing_config mode 'Active' so X-Ray shows calls that the breaker short-circuits"


def known_role(function: _Resource, config: Mapping[str, Any]) -> Problems:
    role = function_role(function)
    if role not in config["functionRoles"]:
        yield (f"has tag {ROLE_TAG}={role!r}: tag it with one of {', '.join(config['functionRoles'])} "
               "(the stack policies find business functions and mock services by this tag)")


def log_retention(log_group: _Resource, _config: Mapping[str, Any]) -> Problems:
    if not log_group.props.get("retentionInDays"):
        yield ("keeps its logs forever: set retention_in_days to a non-zero CloudWatch value "
               "(config circuit-breaker:log_retention_days)")


def log_encryption_in_production(log_group: _Resource, config: Mapping[str, Any]) -> Problems:
    if is_production(config, log_group.urn) and not log_group.props.get("kmsKeyId"):
        yield (f"is not encrypted with a customer-managed key in production stack '{stack_of(log_group.urn)}': "
               "set kms_key_id (config circuit-breaker:kms_key: true)")


_RATE = re.compile(r"^rate\(\s*(\d+)\s+([a-z]+)\s*\)$")
_RATE_UNITS = frozenset({"minute", "minutes", "hour", "hours", "day", "days"})
_SUB_MINUTE_UNITS = frozenset({"second", "seconds"})


def schedule_frequency_problem(expression: Any) -> Optional[str]:
    """Why ``expression`` runs more than once a minute (or cannot be read), or None.

    ``cron(...)`` and ``at(...)`` cannot fire more often than every minute, so only ``rate``
    needs reading: seconds and a zero rate are refused.
    """
    if not isinstance(expression, str):
        return f"has no schedule expression ({expression!r})"
    if expression.startswith(("cron(", "at(")):
        return None
    match = _RATE.match(expression)
    if match is not None and match.group(2) in _SUB_MINUTE_UNITS:
        return f"fires more often than once a minute ({expression!r})"
    if match is None or match.group(2) not in _RATE_UNITS or int(match.group(1)) < 1:
        return f"has {expression!r}, which is not a rate of at least one minute, a cron() or an at() expression"
    return None


def once_a_minute_at_most(schedule: _Resource, _config: Mapping[str, Any]) -> Problems:
    problem = schedule_frequency_problem(schedule.props.get("scheduleExpression"))
    if problem:
        yield f"{problem}: use rate(N minutes) with N >= 1, or a cron expression"


def _iam_documents(resource: _Resource) -> Iterator[tuple[str, Any]]:
    """The permission documents a resource holds, each with a label for messages."""
    if resource.resource_type == ROLE:
        for index, inline in enumerate(as_list(resource.props.get("inlinePolicies"))):
            yield f"inline policy {prop(inline, 'name') or index}", prop(inline, "policy")
    else:
        yield "policy", resource.props.get("policy")


def statement_problems(statement: Mapping[str, Any], data_services: Iterable[str]) -> Problems:
    """What is too broad in one Allow statement of a permission policy."""
    if "NotAction" in statement or "NotResource" in statement:
        yield "uses NotAction/NotResource, which allows everything not listed: list the actions and resources"
    actions = [str(action) for action in as_list(statement.get("Action"))]
    for action in actions:
        if _WILDCARD.search(action):  # '*', 'dynamodb:*', and partial ones: 'dynamodb:*Item', 'dynamodb:Batch*'
            yield f"allows {action!r}, a wildcard that also grants actions nobody listed: list the individual actions"
    services = {service.lower() for service in data_services}
    data_actions = [action for action in actions if action.split(":", 1)[0].lower() in services]
    resources = [str(resource) for resource in as_list(statement.get("Resource"))]
    if data_actions and "*" in resources:
        yield (f"allows {', '.join(data_actions)} on every resource ('*'): scope Resource to the "
               "table, parameter, key or log group the function uses")
    elif data_actions and "Condition" not in statement:
        for resource in resources:
            if wildcard_resource(resource):
                yield (f"allows {', '.join(data_actions)} on {resource!r}, every resource of its kind, with no "
                       "Condition: name the one table, parameter, key or log group the function uses")


_WILDCARD = re.compile(r"[*?]")


def wildcard_resource(arn: str) -> bool:
    """Whether an ARN names no one resource: a wildcard in its partition, service, region or
    account, or in the name of the resource itself (``table/*``, ``table/circuits-*``).

    One trailing ``:*`` or ``/*`` after a named resource stays scoped to it (the streams of one
    log group, ``log-group:/aws/lambda/f:*``; the indexes of one table, ``table/t/index/*``).
    """
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return bool(_WILDCARD.search(arn))
    if any(_WILDCARD.search(part) for part in parts[1:5]):
        return True
    named = re.sub(r"[:/]\*$", "", parts[5])
    kind_and_name = re.split(r"[:/]", named, maxsplit=1)
    return bool(_WILDCARD.search(named)) or len(kind_and_name) < 2 or not kind_and_name[1]


def least_privilege(resource: _Resource, config: Mapping[str, Any]) -> Problems:
    for label, document in _iam_documents(resource):
        statements = policy_statements(document)
        if statements is None:
            yield f"has a {label} that is not a JSON policy document: write it with json.dumps"
            continue
        for index, statement in enumerate(statements):
            sid = statement.get("Sid") or f"#{index + 1}"
            if allows(statement):
                for problem in statement_problems(statement, config["dataServices"]):
                    yield f"{label}, statement {sid}, {problem}"


def split_principals(statement: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The service principals one trust statement names, and what else it lets in."""
    if "NotPrincipal" in statement:
        return [], ["uses NotPrincipal"]
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return [], [f"trusts principal {principal!r}"]
    others = [f"trusts {kind} principal(s) {as_list(value)}" for kind, value in principal.items() if kind != "Service"]
    return [str(service) for service in as_list(principal.get("Service"))], others


def trusts_one_service(role: _Resource, config: Mapping[str, Any]) -> Problems:
    statements = policy_statements(role.props.get("assumeRolePolicy"))
    if statements is None:
        yield "has an assume_role_policy that is not a JSON policy document: write it with json.dumps"
        return
    services: set[str] = set()
    strangers: list[str] = []
    for statement in filter(allows, statements):
        named, others = split_principals(statement)
        services.update(named)
        strangers.extend(others)
    yield from (f"{other}: let only the one service that runs the role assume it" for other in strangers)
    if len(services) > 1 or not (services or strangers):
        yield f"can be assumed by services {sorted(services)}: trust exactly one service principal"
    for service in sorted(services - set(config["allowedServicePrincipals"])):
        yield (f"trusts service {service!r}, not one of {', '.join(config['allowedServicePrincipals'])}: "
               "trust the service that runs it, or add it to allowedServicePrincipals")


def required_tags(resource: _Resource, config: Mapping[str, Any]) -> Problems:
    if resource.resource_type not in TAGGABLE_TYPES and "tags" not in resource.props:
        return
    present = tags(resource)
    missing = [key for key in config["requiredTags"] if not present.get(key)]
    if missing:
        yield f"lacks tag(s) {', '.join(missing)}: add them to its tags (infra.tags.Tagging builds them)"


# --- stack policies ----------------------------------------------------------------------


def of_type(resources: Iterable[PolicyResource], resource_type: str) -> list[PolicyResource]:
    return [resource for resource in resources if resource.resource_type == resource_type]


def find_function(resources: Iterable[PolicyResource], reference: Any) -> Optional[PolicyResource]:
    """The stack's function that ``reference`` (a function name or ARN) designates, if any."""
    if reference is None:
        return None
    matches = (function for function in of_type(resources, FUNCTION)
               if reference in (function.props.get("name"), function.props.get("arn")))
    return next(matches, None)


def environment(function: _Resource) -> Mapping[str, Any]:
    variables = prop(function.props, "environment", "variables")
    return variables if isinstance(variables, Mapping) else {}


def business_functions(resources: Iterable[PolicyResource]) -> list[PolicyResource]:
    return [function for function in of_type(resources, FUNCTION) if function_role(function) == BUSINESS_FUNCTION]


def circuit_wiring_problems(function: _Resource, layer_arns: set[str], table_names: set[str]) -> Problems:
    """Why the extension would not run, or not know its circuit, in ``function``."""
    if not layer_arns.intersection(as_list(function.props.get("layers"))):
        yield "does not carry the stack's circuit-breaker extension layer: add the layer's arn to layers"
    variables = environment(function)
    table = variables.get(TABLE_VARIABLE)
    if not table or (table_names and table not in table_names):
        yield (f"has {TABLE_VARIABLE}={table!r}, not the name of the stack's circuits table: "
               "set it to the table's name")
    circuit_id = variables.get(CIRCUIT_ID_VARIABLE)
    if not circuit_id:
        yield f"has no {CIRCUIT_ID_VARIABLE}: set it to the id of the circuit protecting its service"
    circuits = json_object(variables.get(CIRCUITS_VARIABLE))
    if circuits is None or (circuit_id and circuit_id not in circuits):
        yield (f"has {CIRCUITS_VARIABLE}={variables.get(CIRCUITS_VARIABLE)!r}: set it to a JSON object "
               f"mapping its circuit {circuit_id!r} to the circuit's settings")


def validate_business_functions(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    layer_arns = {layer.props.get("arn") for layer in of_type(args.resources, LAYER_VERSION)} - {None}
    table_names = {table.props.get("name") for table in of_type(args.resources, TABLE)} - {None}
    for function in business_functions(args.resources):
        for problem in circuit_wiring_problems(function, layer_arns, table_names):
            report_violation(f"{describe(function)} {problem}", function.urn)


def checker_input(schedule: _Resource) -> Optional[Mapping[str, Any]]:
    """The checker's input a schedule carries, or None for a schedule that is not a checker's."""
    payload = json_object(prop(schedule.props, "target", "input"))
    return payload if payload is not None and "circuit_id" in payload else None


def checker_schedules(resources: Iterable[PolicyResource]) -> list[tuple[PolicyResource, Mapping[str, Any]]]:
    found = ((schedule, checker_input(schedule)) for schedule in of_type(resources, SCHEDULE))
    return [(schedule, payload) for schedule, payload in found if payload is not None]


def validate_schedule_per_circuit(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    schedules: dict[Any, list[PolicyResource]] = defaultdict(list)
    for schedule, payload in checker_schedules(args.resources):
        schedules[payload["circuit_id"]].append(schedule)
    # A function without a circuit id is business-function-circuit-breaker's to report.
    circuits = {circuit_id: function for function in business_functions(args.resources)
                if (circuit_id := environment(function).get(CIRCUIT_ID_VARIABLE))}
    for circuit_id, function in circuits.items():
        found = schedules.get(circuit_id, [])
        if len(found) != 1:
            names = ", ".join(schedule.name for schedule in found) or "none"
            report_violation(
                f"{describe(function)} uses circuit {circuit_id!r}, which {len(found)} checker schedule(s) probe "
                f"({names}): keep exactly one schedule whose input has circuit_id {circuit_id!r}",
                function.urn,
            )
    for circuit_id in schedules.keys() - circuits.keys():
        for schedule in schedules[circuit_id]:
            report_violation(
                f"{describe(schedule)} probes circuit {circuit_id!r}, which no business function uses: "
                "remove the schedule or deploy the service's business function",
                schedule.urn,
            )


def validate_probe_timeouts(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for schedule, payload in checker_schedules(args.resources):
        checker = find_function(args.resources, prop(schedule.props, "target", "arn"))
        if checker is None:
            report_violation(f"{describe(schedule)} targets no function of this stack: "
                             "point target.arn at the checker function's arn", schedule.urn)
            continue
        probe_timeout = payload.get("timeout_s", CHECKER_DEFAULT_PROBE_TIMEOUT_S)
        function_timeout = checker.props.get("timeout", LAMBDA_DEFAULT_TIMEOUT_S)
        if isinstance(probe_timeout, bool) or not isinstance(probe_timeout, (int, float)):
            report_violation(f"{describe(schedule)} has timeout_s={probe_timeout!r} in its input: "
                             "set it to a number of seconds", schedule.urn)
        elif probe_timeout + CHECKER_MIN_ROOM_S > function_timeout:
            report_violation(
                f"{describe(schedule)} waits up to {probe_timeout:g} s for its probe, but {describe(checker)} "
                f"stops after {function_timeout:g} s, and a run needs {CHECKER_MIN_ROOM_S:g} s beside its probe "
                "for its DynamoDB requests and its log: lower the probe's timeout_s or raise the checker's "
                "timeout (config circuit-breaker:checker_timeout_s)",
                schedule.urn,
            )


def public_entry_points(resources: Iterable[PolicyResource]) -> Iterator[tuple[PolicyResource, Any]]:
    """What lets anyone call a function, each with the function reference it names.

    A Function URL with authorization NONE is only half of it: the resource-based permissions
    granted to principal '*' are what actually open the function, so both are judged.
    """
    for url in of_type(resources, FUNCTION_URL):
        if url.props.get("authorizationType") == "NONE":
            yield url, url.props.get("functionName")
    for permission in of_type(resources, PERMISSION):
        if permission.props.get("principal") == "*":
            yield permission, permission.props.get("function")


def reaches_only_the_url(permission: PolicyResource) -> bool:
    """Whether a permission for principal '*' opens only the Function URL, not the Invoke API.

    The two statements a public Function URL needs: InvokeFunctionUrl for auth type NONE, and
    InvokeFunction restricted to calls that come through the URL. A bare InvokeFunction for '*'
    would let any AWS account invoke the function directly, mock service or not.
    """
    props = permission.props
    if props.get("action") == "lambda:InvokeFunctionUrl":
        return props.get("functionUrlAuthType") == "NONE"
    return props.get("action") == "lambda:InvokeFunction" and props.get("invokedViaFunctionUrl") is True


def validate_public_access(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for entry, reference in public_entry_points(args.resources):
        function = find_function(args.resources, reference)
        if function is None or function_role(function) != MOCK_SERVICE:
            target = describe(function) if function else f"function {reference!r}"
            report_violation(
                f"{describe(entry)} lets anyone call {target} without authentication: require AWS_IAM "
                f"(or a named principal), or tag the function {ROLE_TAG}={MOCK_SERVICE} if it is a mock service",
                entry.urn,
            )
        elif entry.resource_type == PERMISSION and not reaches_only_the_url(entry):
            report_violation(
                f"{describe(entry)} opens {describe(function)} to every AWS account beyond its Function URL: "
                "grant lambda:InvokeFunctionUrl with function_url_auth_type NONE, or lambda:InvokeFunction "
                "with invoked_via_function_url=True",
                entry.urn,
            )


# --- the pack ------------------------------------------------------------------------------

_PRODUCTION_SCHEMA = PolicyConfigSchema(properties={"productionStacks": PRODUCTION_STACKS})

POLICIES: list[Policy] = [
    resource_policy(
        "dynamodb-point-in-time-recovery",
        "DynamoDB tables have point-in-time recovery on, so a bad write to the circuits can be rolled back.",
        frozenset({TABLE}),
        _flag_is_on(("pointInTimeRecovery", "enabled"), "set point_in_time_recovery enabled=True"),
    ),
    resource_policy(
        "dynamodb-encryption-at-rest",
        "DynamoDB tables have server-side encryption with a KMS key on.",
        frozenset({TABLE}),
        _flag_is_on(("serverSideEncryption", "enabled"), "set server_side_encryption enabled=True"),
    ),
    resource_policy(
        "dynamodb-deletion-protection-in-production",
        "DynamoDB tables in production stacks cannot be deleted by accident.",
        frozenset({TABLE}),
        deletion_protection_in_production,
        config_schema=_PRODUCTION_SCHEMA,
    ),
    resource_policy(
        "lambda-allowed-runtime",
        "Lambda functions run on a supported Python runtime the extension is tested with.",
        frozenset({FUNCTION}),
        allowed_runtime,
        config_schema=PolicyConfigSchema(properties={
            "allowedRuntimes": _strings("Runtimes a function may use.", ["python3.12", "python3.13"]),
        }),
    ),
    resource_policy(
        "lambda-timeout-and-memory-bounds",
        "Lambda functions have a timeout and memory size within the configured bounds (unset means Lambda's 3 s and 128 MB).",
        frozenset({FUNCTION}),
        timeout_and_memory_bounds,
        config_schema=PolicyConfigSchema(properties={
            "minTimeoutSeconds": _integer("Shortest allowed timeout, in seconds.", 1, 1, 900),
            "maxTimeoutSeconds": _integer("Longest allowed timeout, in seconds.", 60, 1, 900),
            "minMemoryMb": _integer("Smallest allowed memory size, in MB.", 128, 128, 10240),
            "maxMemoryMb": _integer("Largest allowed memory size, in MB.", 1024, 128, 10240),
        }),
    ),
    resource_policy(
        "lambda-architecture-set",
        "Lambda functions name their instruction set, so the layer and the function agree on it.",
        frozenset({FUNCTION}),
        architecture_set,
    ),
    resource_policy(
        "lambda-xray-tracing",
        "Lambda functions have active X-Ray tracing.",
        frozenset({FUNCTION}),
        active_tracing,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    resource_policy(
        "lambda-function-role-tag",
        f"Lambda functions carry the {ROLE_TAG} tag with a known role, which the stack policies select by.",
        frozenset({FUNCTION}),
        known_role,
        config_schema=PolicyConfigSchema(properties={
            "functionRoles": _strings(f"Allowed values of the {ROLE_TAG} tag.",
                                      [BUSINESS_FUNCTION, "checker", MOCK_SERVICE]),
        }),
    ),
    resource_policy(
        "log-group-retention",
        "CloudWatch log groups expire their logs (retentionInDays set and not 0).",
        frozenset({LOG_GROUP}),
        log_retention,
    ),
    resource_policy(
        "log-group-kms-in-production",
        "CloudWatch log groups in production stacks are encrypted with a customer-managed KMS key.",
        frozenset({LOG_GROUP}),
        log_encryption_in_production,
        config_schema=_PRODUCTION_SCHEMA,
    ),
    resource_policy(
        "schedule-at-most-once-a-minute",
        "EventBridge Scheduler schedules fire at most once a minute.",
        frozenset({SCHEDULE}),
        once_a_minute_at_most,
    ),
    resource_policy(
        "iam-least-privilege",
        "IAM permission policies grant no wildcard actions (also partial: 'dynamodb:*Item'), no "
        "NotAction/NotResource, no data action on every resource, and none on a wildcard ARN without a Condition.",
        frozenset({ROLE, ROLE_POLICY, IAM_POLICY}),
        least_privilege,
        config_schema=PolicyConfigSchema(properties={
            "dataServices": _strings(
                "Services whose actions touch data and so must name their resources "
                "(X-Ray's PutTraceSegments/PutTelemetryRecords support only '*').",
                ["dynamodb", "ssm", "s3", "kms", "secretsmanager", "sqs", "sns", "kinesis", "lambda", "logs"],
            ),
        }),
    ),
    resource_policy(
        "iam-role-trusts-one-service",
        "IAM roles can be assumed only by the one AWS service principal that runs them.",
        frozenset({ROLE}),
        trusts_one_service,
        config_schema=PolicyConfigSchema(properties={
            "allowedServicePrincipals": _strings("Service principals a role may trust.",
                                                 ["lambda.amazonaws.com", "scheduler.amazonaws.com"]),
        }),
    ),
    resource_policy(
        "required-tags",
        "Every taggable resource carries the project, stack and component tags.",
        None,
        required_tags,
        config_schema=PolicyConfigSchema(properties={
            "requiredTags": _strings("Tags every taggable resource must carry, with a non-empty value.",
                                     ["project", "stack", "component"]),
        }),
    ),
    StackValidationPolicy(
        name="business-function-circuit-breaker",
        description=(f"Business functions ({ROLE_TAG}={BUSINESS_FUNCTION}) carry the stack's circuit-breaker layer "
                     f"and the environment its extension reads ({TABLE_VARIABLE}, {CIRCUITS_VARIABLE} with their "
                     f"{CIRCUIT_ID_VARIABLE})."),
        validate=validate_business_functions,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="checker-schedule-per-circuit",
        description="Every business function's circuit is probed by exactly one checker schedule, and no schedule "
                    "probes a circuit nobody uses.",
        validate=validate_schedule_per_circuit,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="checker-probe-timeout-below-function-timeout",
        description=(f"Each checker schedule targets a function of the stack whose timeout leaves "
                     f"{CHECKER_MIN_ROOM_S:g} s beside the probe's timeout_s."),
        validate=validate_probe_timeouts,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="public-access-only-for-mock-services",
        description=(f"Only functions tagged {ROLE_TAG}={MOCK_SERVICE} are public: Function URLs with authorization "
                     "NONE and Lambda permissions for principal '*' name no other function."),
        validate=validate_public_access,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]
