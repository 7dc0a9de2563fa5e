"""Whatever config the program accepts passes the pack's mandatory policies (at their defaults):
the config's bounds (checker_timeout_s, tags, production flags, ...) and the pack's agree."""

from __future__ import annotations

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pulumi_policy import EnforcementLevel

from infra.config import MAX_CHECKER_TIMEOUT_S, StackConfig
from pack_harness import evaluate, program_resources
from tests.support.config_strategies import stack_configs


def overrides(config: StackConfig) -> dict:
    """The whole config in place of the stack file's (its `defaults` removed: services are in full)."""
    return {**config.to_mapping(), "defaults": None}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=stack_configs(), stack=st.sampled_from(["dev", "prod"]))
def test_every_accepted_config_passes_the_packs_mandatory_policies(config: StackConfig, stack: str):
    try:
        resources = program_resources(stack, overrides(config))
    except pulumi.RunError as refused:  # only a production stack's flags may be refused here
        assert stack == "prod" and not (config.deletion_protection and config.kms_key), str(refused)
        return
    mandatory = [f"{v.policy}: {v.message}" for v in evaluate(resources) if v.level is EnforcementLevel.MANDATORY]
    assert mandatory == []


@pytest.mark.parametrize("checker_timeout_s", [6, MAX_CHECKER_TIMEOUT_S])
def test_the_checker_timeouts_at_both_ends_of_the_config_range_pass(checker_timeout_s: int):
    """The config once allowed 900 s while the pack's default maximum is 60 s."""
    resources = program_resources("dev", {"checker_timeout_s": checker_timeout_s,
                                          "defaults.probe.timeout_s": 1.0, "services.shipping.probe.timeout_s": 1.0})
    assert [v.message for v in evaluate(resources) if v.level is EnforcementLevel.MANDATORY] == []


def test_a_production_stack_without_protection_is_refused_before_the_pack_would_refuse_it():
    with pytest.raises(pulumi.RunError, match="kms_key: must be true in production stack 'prod'"):
        program_resources("prod", {"kms_key": False})
