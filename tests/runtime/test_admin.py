"""The operator's override command, against moto's DynamoDB through boto3's own settings."""

from __future__ import annotations

import json

from breaker.admin import main
from breaker.machine import BreakerSettings, Outcome, record_outcome
from breaker.store import CircuitStore


def test_a_forced_state_holds_against_reports_until_released(table, aws_env, capsys) -> None:
    store = CircuitStore(aws_env.client(), table)
    settings = BreakerSettings(failure_threshold=1)

    assert main(["--table", table, "force", "payments", "FORCED_CLOSED"]) == 0
    forced = json.loads(capsys.readouterr().out)
    assert (forced["state"], forced["version"]) == ("FORCED_CLOSED", 1)

    # A failure that would trip the circuit changes nothing while the override holds.
    applied = store.apply("payments", lambda r: record_outcome(r, settings, Outcome.FAILURE, 1_000, "boom"))
    assert (applied.written, applied.record.state.value) == (False, "FORCED_CLOSED")

    assert main(["--table", table, "release", "payments"]) == 0
    released = json.loads(capsys.readouterr().out)
    assert (released["state"], released["version"]) == ("CLOSED", 2)

    assert main(["--table", table, "show", "payments"]) == 0
    assert json.loads(capsys.readouterr().out) == released
