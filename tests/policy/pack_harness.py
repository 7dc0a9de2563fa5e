"""Feed resources to the policy pack the way the Pulumi engine does, without the CLI.

Each resource reaches the policies through pulumi_policy's own argument types: a
``ResourceValidationArgs`` per resource for resource policies (inputs), one
``StackValidationArgs`` of ``PolicyResource`` objects for stack policies (state: inputs plus
what the provider computed, such as ``arn``). Properties take the engine's road: serialised to a
protobuf ``Struct`` (so every number becomes a float, secrets and archives become signature
objects), deserialised by pulumi_policy and wrapped in its unknown-checking proxies, exactly as
``_PolicyAnalyzerServicer.Analyze``/``AnalyzeStack`` do.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Optional

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.mocks import MockResourceArgs
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties, serialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from policy.circuit_breaker_policies import POLICIES
from tests.support import program


@dataclass(frozen=True)
class Resource:
    """One resource of a stack: what it was declared with and what the provider added."""

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    computed: Mapping[str, Any] = field(default_factory=dict)  # outputs beyond the inputs
    parent: Optional[str] = None

    @property
    def state(self) -> dict[str, Any]:
        return {**self.inputs, **self.computed}

    def edited(self, edit: Callable[[dict[str, Any]], None]) -> "Resource":
        """A copy whose inputs ``edit`` changed in place (outputs carried over, as a provider would)."""
        inputs = copy.deepcopy(dict(self.inputs))
        edit(inputs)
        return replace(self, inputs=inputs)


@dataclass(frozen=True)
class Violation:
    policy: str
    level: EnforcementLevel
    message: str
    urn: Optional[str]


def program_resources(stack: str, config_overrides: Optional[Mapping[str, Any]] = None) -> list[Resource]:
    """The program's resources for ``stack``, run under the SDK's mocks by tests/support.

    The harness captures inputs only, so each resource's computed outputs are asked again of the
    same deterministic mock cloud that answered the program (a pure function of stack, type, name
    and inputs), giving stack policies the state they see after ``pulumi up``.
    """
    run = program.run_program(stack, config_overrides)
    cloud = program._PlausibleCloud(run.config.get("aws:region", program.DEFAULT_REGION), run.stack)
    resources = []
    for captured in run.resources:
        computed: Mapping[str, Any] = {}
        if captured.type.startswith("aws:"):
            _, state = cloud.new_resource(MockResourceArgs(captured.type, captured.name, captured.inputs, custom=True))
            computed = {key: value for key, value in state.items() if key not in captured.inputs}
        resources.append(Resource(captured.type, captured.name, captured.urn, captured.inputs, computed, captured.parent))
    return resources


def engine_view(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """``props`` as a policy receives them from the engine (see the module docstring)."""
    wire = struct_pb2.Struct()
    wire.update(serialize_properties(props))
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(wire)))


def _options(parent: Optional[str]) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def _policy_resources(resources: Iterable[Resource]) -> list[PolicyResource]:
    """Stack policy resources with their parents linked, as ``AnalyzeStack`` links them."""
    built = {
        resource.urn: PolicyResource(resource.type, engine_view(resource.state), resource.urn, resource.name,
                                     _options(resource.parent), None, None, [], {})
        for resource in resources
    }
    for resource in resources:
        built[resource.urn].parent = built.get(resource.parent or "")
    return list(built.values())


def evaluate(
    resources: list[Resource],
    config: Optional[Mapping[str, Mapping[str, Any]]] = None,
    policies: Iterable[Policy] = POLICIES,
) -> list[Violation]:
    """Every violation ``policies`` report on ``resources``; ``config`` is keyed by policy name,
    as in a ``--policy-pack-config`` file."""
    violations: list[Violation] = []
    stack_resources = _policy_resources(resources)
    for policy in policies:
        policy_config = dict((config or {}).get(policy.name, {})) or None  # the engine passes None when unset

        def report(message: str, urn: Optional[str] = None, policy: Policy = policy) -> None:
            violations.append(Violation(policy.name, policy.enforcement_level, message, urn))

        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                args = ResourceValidationArgs(resource.type, engine_view(resource.inputs), resource.urn, resource.name,
                                              _options(resource.parent), None, policy_config)
                policy.validate(args, report)
        else:
            policy.validate(StackValidationArgs(stack_resources, policy_config), report)
    return violations


def named(resources: Iterable[Resource], name: str, type_: str) -> Resource:
    (found,) = [resource for resource in resources if resource.name == name and resource.type == type_]
    return found


def with_edit(resources: list[Resource], name: str, type_: str, edit: Callable[[dict[str, Any]], None]) -> list[Resource]:
    """``resources`` with the inputs of one resource changed by ``edit``."""
    target = named(resources, name, type_)
    return [resource.edited(edit) if resource is target else resource for resource in resources]
