"""The tags every taggable resource carries, passed explicitly to each resource.

Explicit tags, rather than the AWS provider's ``default_tags``, because provider defaults never
appear in a resource's inputs, which is where the policy pack (and a reviewer reading a preview)
looks. Resource transforms are not used either: the engine runs them, so under the SDK's mocks
they would not run and the tests could not see the tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

PROJECT = "circuit-breaker"
ROLE_TAG = "circuit-breaker:role"

# What a function is for. The policy pack allows an unauthenticated Function URL only on a
# function tagged ``mock-service``.
FunctionRole = Literal["mock-service", "business-function", "checker"]


@dataclass(frozen=True)
class Tagging:
    """The stack's tags; :meth:`component` adds the name of the component a resource belongs to."""

    stack: str
    extra: Mapping[str, str] = field(default_factory=dict)  # the config's `tags`

    def component(self, name: str) -> dict[str, str]:
        """Tags for a resource of component ``name`` (``table``, ``service/payments``, ...).

        The standard keys are written last, so a config tag of the same name cannot hide them.
        """
        return {**self.extra, "project": PROJECT, "stack": self.stack, "component": name}

    def function(self, component: str, role: FunctionRole) -> dict[str, str]:
        """Tags for a Lambda function: its component's, plus what the function is for."""
        return {**self.component(component), ROLE_TAG: role}
