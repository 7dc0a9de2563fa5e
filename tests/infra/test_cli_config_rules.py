"""The Pulumi CLI checks the keys Pulumi.yaml declares before it runs the program; the harness
applies the same checks, so a stack the CLI would stop cannot pass here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.program import StackConfigRuleError, engine_config, run_program
from tests.support.resources import FUNCTION


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_new_stack_with_only_services_previews_and_takes_the_stack_name(tmp_path: Path):
    """`pulumi stack init staging`, one service, `pulumi preview`: nothing else is required."""
    stack_file = _file(tmp_path, "Pulumi.staging.yaml",
                       "config:\n  circuit-breaker:services:\n    payments:\n      mock:\n        mode: healthy\n")
    run = run_program("staging", stack_file=stack_file)
    names = {f.inputs["name"] for f in run.of_type(FUNCTION)}
    assert names and all(name.startswith("cb-staging-") for name in names)


def test_a_declared_key_without_a_default_is_required_as_the_cli_requires_it(tmp_path: Path):
    project = _file(tmp_path, "Pulumi.yaml", "name: circuit-breaker\nconfig:\n  circuit-breaker:zone:\n    type: string\n")
    stack_file = _file(tmp_path, "Pulumi.staging.yaml", "config: {}\n")
    with pytest.raises(StackConfigRuleError, match="Stack 'staging' is missing configuration value 'circuit-breaker:zone'"):
        engine_config(stack_file, {}, "staging", project)
    assert engine_config(stack_file, {"zone": "a"}, "staging", project) == {"circuit-breaker:zone": "a"}


@pytest.mark.parametrize(
    "type_, good, bad",
    [("integer", [10, "10"], ["ten", True, 1.5]), ("boolean", [True, "false"], ["yes", 1]),
     ("string", ["x"], [3]), ("array", [["a"]], ["a"])],
)
def test_a_value_of_the_wrong_type_for_its_declaration_is_refused(tmp_path: Path, type_, good, bad):
    project = _file(tmp_path, "Pulumi.yaml", f"name: p\nconfig:\n  size:\n    type: {type_}\n    default: null\n")
    stack_file = _file(tmp_path, "Pulumi.dev.yaml", "config: {}\n")
    for value in good:
        engine_config(stack_file, {"size": value}, "dev", project)
    for value in bad:
        with pytest.raises(StackConfigRuleError, match="configuration key 'circuit-breaker:size' must be of type"):
            engine_config(stack_file, {"size": value}, "dev", project)


def test_every_real_stack_passes_the_cli_rules():
    for stack in ("dev", "prod"):
        engine_config(Path(__file__).parents[2] / f"Pulumi.{stack}.yaml", {}, stack)
