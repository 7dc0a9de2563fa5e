"""The operator's override command, against moto's DynamoDB through boto3's own settings."""

from __future__ import annotations

import json

from breaker.admin import main
from breaker.counting import Failure, count_failures
from breaker.machine import BreakerSettings
from breaker.store import CircuitStore


def test_a_forced_state_holds_against_reports_until_released(table, aws_env, capsys) -> None:
    store = CircuitStore(aws_env.client(), table)
    settings = BreakerSettings(minimum_failures=1, failure_rate_threshold=0.01)

    assert main(["--table", table, "force", "payments", "FORCED_CLOSED"]) == 0
    forced = json.loads(capsys.readouterr().out)
    assert (forced["state"], forced["version"]) == ("FORCED_CLOSED", 1)

    # Failures that would trip the circuit count for nothing while the override holds.
    counted = count_failures(store, store.get("payments"), [Failure(forced["updated_at"], True, "boom")], settings, forced["updated_at"])
    assert (counted.written, counted.dropped, counted.record.state.value) == (0, 1, "FORCED_CLOSED")

    assert main(["--table", table, "release", "payments"]) == 0
    released = json.loads(capsys.readouterr().out)
    assert (released["state"], released["version"]) == ("CLOSED", 2)

    assert main(["--table", table, "show", "payments"]) == 0
    assert json.loads(capsys.readouterr().out) == released
