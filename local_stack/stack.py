"""A Pulumi stack file, read as the Pulumi program reads it, and what of it runs locally.

``Pulumi.<stack>.yaml`` holds the ``circuit-breaker:`` keys that ``pulumi.Config`` would hand to
the program; they go through the same validation (infra/config.py), so a stack that would fail
at ``pulumi preview`` fails here with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from infra.config import NAMESPACE, ConfigError, ServiceConfig, StackConfig, parse_config

_PREFIX = f"{NAMESPACE}:"


class StackFileError(ValueError):
    """The stack file cannot be read or its configuration is invalid."""


@dataclass(frozen=True)
class LocalPlan:
    """The stack's services split into those that run here (mocks) and those that cannot."""

    stack: StackConfig
    name: str  # the stack's name, from Pulumi.<name>.yaml
    services: dict[str, ServiceConfig]  # mock services, by id
    skipped: dict[str, str]  # external services, by id: why they are not run

    def skip_notes(self) -> list[str]:
        return [f"{service_id}: {why}" for service_id, why in self.skipped.items()]


def read_stack(path: Path) -> LocalPlan:
    """Read and validate ``path``; raises :class:`StackFileError` with every problem."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise StackFileError(f"{path}: cannot read the stack file ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path}: not valid YAML ({error})") from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: expected a `config:` mapping, as in every Pulumi.<stack>.yaml")
    raw = {key[len(_PREFIX):]: value for key, value in config.items() if str(key).startswith(_PREFIX)}
    try:
        stack = parse_config(raw)
    except ConfigError as error:
        raise StackFileError(f"{path}: {error}") from None
    services = {sid: service for sid, service in stack.services.items() if service.mock is not None}
    skipped = {
        sid: f"external url {service.url}: not run locally (no mock to switch, no AWS to call it from)"
        for sid, service in stack.services.items()
        if service.mock is None
    }
    if not services:
        raise StackFileError(f"{path}: no mock service to run locally ({'; '.join(skipped.values())})")
    return LocalPlan(stack, _stack_name(path), services, skipped)


def _stack_name(path: Path) -> str:
    name = path.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return name.split(".", 1)[1].rsplit(".", 1)[0]
    return path.stem
