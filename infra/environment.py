"""What every component of a stack shares: physical names, tags, and the functions' platform."""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import Architecture, LambdaRuntime, StackConfig
from infra.payloads import physical_name
from infra.tags import Tagging


@dataclass(frozen=True)
class Environment:
    """The stack-wide settings the components read, taken once from the typed config."""

    name: str  # the config's `environment`, part of every physical name
    tagging: Tagging
    lambda_runtime: LambdaRuntime
    architecture: Architecture
    log_retention_days: int

    @classmethod
    def from_config(cls, config: StackConfig, stack: str) -> "Environment":
        return cls(
            name=config.environment,
            tagging=Tagging(stack=stack, extra=config.tags),
            lambda_runtime=config.lambda_runtime,
            architecture=config.architecture,
            log_retention_days=config.log_retention_days,
        )

    def physical_name(self, name: str) -> str:
        """The AWS name of a resource that needs a fixed one, e.g. ``cb-dev-payments-business``."""
        return physical_name(self.name, name)
