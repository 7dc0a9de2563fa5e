"""`pulumi config set --path 'services.<id>...'` then `pulumi up` adds that service, adds its circuit to the
checker's one circuit statement, and changes nothing else."""

from __future__ import annotations

import json
import re

import pulumi
import pytest
from checker.config import parse_input

from tests.support.program import ProgramRun, run_program
from tests.support.resources import FUNCTION, ROLE_POLICY, SCHEDULE, comparable, service_resources, statements


def added_and_changed(before: ProgramRun, after: ProgramRun) -> tuple[set[tuple[str, str]], list[str]]:
    """What ``after`` declares that ``before`` did not, and the URNs whose inputs differ, other
    than the checker's policy gaining the new circuit (checked by :func:`circuits_probed`)."""
    old, new = before.by_urn(), after.by_urn()
    assert set(old) <= set(new), "a resource disappeared"
    added = {(new[urn].type, new[urn].name) for urn in set(new) - set(old)}
    changed = [urn for urn in old if comparable(old[urn].inputs) != comparable(new[urn].inputs)]
    checker_policy = before.named("checker-policy", ROLE_POLICY).urn
    return added, [urn for urn in changed if urn != checker_policy]


def circuits_probed(run: ProgramRun) -> list[str]:
    [circuit] = [s for s in statements(run.named("checker-policy", ROLE_POLICY)) if s.get("Sid") == "ProbedCircuits"]
    return circuit["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]


def test_a_new_mock_service_adds_exactly_its_resources_and_changes_no_other_input(stack_runs: dict[str, ProgramRun]):
    after = run_program("dev", {"services.billing.mock.mode": "healthy"})

    added, changed = added_and_changed(stack_runs["dev"], after)

    assert added == service_resources("billing")
    assert changed == []
    assert circuits_probed(after) == sorted([*circuits_probed(stack_runs["dev"]), "billing"])
    assert set(after.outputs["services"]) == {"billing", "inventory", "payments", "shipping"}


def test_an_external_service_gets_no_mock_and_is_called_at_its_url_as_given(stack_runs: dict[str, ProgramRun]):
    url = "https://partner.example.com/api/"
    after = run_program("dev", {"services.partner.url": url, "services.partner.probe.path": "/status"})

    added, changed = added_and_changed(stack_runs["dev"], after)

    assert added == service_resources("partner", mock=False)
    assert changed == []
    assert circuits_probed(after) == sorted([*circuits_probed(stack_runs["dev"]), "partner"])
    variables = after.named("partner-business", FUNCTION).inputs["environment"]["variables"]
    assert variables["SERVICE_URL"] == url
    probe = parse_input(json.loads(after.named("partner-schedule", SCHEDULE).inputs["target"]["input"]))
    assert probe.url == "https://partner.example.com/api/status"
    assert after.outputs["services"]["partner"]["endpoint_url"] == "https://partner.example.com/api"
    assert after.outputs["services"]["partner"]["mode_parameter"] is None


def test_a_stack_file_of_ones_own_sets_the_platform_of_every_function(tmp_path):
    stack_file = tmp_path / "Pulumi.lab.yaml"
    stack_file.write_text(
        "config:\n"
        "  circuit-breaker:environment: lab\n"
        "  circuit-breaker:architecture: x86_64\n"
        "  circuit-breaker:lambda_runtime: python3.13\n"
        "  circuit-breaker:checker_timeout_s: 20\n"
        "  circuit-breaker:services:\n"
        "    orders: {}\n"
    )
    run = run_program("lab", stack_file=stack_file)

    functions = run.of_type(FUNCTION)
    assert sorted(f.inputs["name"] for f in functions) == ["cb-lab-checker", "cb-lab-orders-business",
                                                           "cb-lab-orders-mock"]
    assert {(f.inputs["runtime"], tuple(f.inputs["architectures"])) for f in functions} == {
        ("python3.13", ("x86_64",))
    }
    assert run.named("checker", FUNCTION).inputs["timeout"] == 20
    assert all(r.urn.startswith("urn:pulumi:lab::circuit-breaker::") for r in run)


@pytest.mark.parametrize(
    ("overrides", "key_path"),
    [
        ({"services.payments.breaker.minimum_failures": 0}, "services.payments.breaker.minimum_failures"),
        ({"services.billing.mock.mode": "asleep"}, "services.billing.mock.mode"),
        ({"log_retention_days": 0}, "log_retention_days"),
    ],
)
def test_a_broken_config_fails_the_preview_naming_the_key(overrides: dict, key_path: str):
    with pytest.raises(pulumi.RunError, match=re.escape(f"{key_path}:")):
        run_program("dev", overrides)


def test_a_failed_run_leaves_nothing_behind_for_the_next(stack_runs: dict[str, ProgramRun]):
    with pytest.raises(pulumi.RunError):
        run_program("dev", {"services.payments.schedule": "at(2030-01-01T00:00:00)"})

    again = run_program("dev")

    assert {r.urn: comparable(r.inputs) for r in again} == {r.urn: comparable(r.inputs) for r in stack_runs["dev"]}
    assert again.outputs == stack_runs["dev"].outputs
