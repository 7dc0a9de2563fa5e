"""Bad stack files, scenarios and options stop the run before anything starts, saying what is wrong."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from local_stack.__main__ import options
from local_stack.run import EXIT_USAGE, Outcome, run

from local_stack_support import DEV_STACK, PAYMENTS_ONLY


def run_with(*argv: str) -> tuple[Outcome, str]:
    err = io.StringIO()
    outcome = run(options(list(argv)), out=io.StringIO(), err=err)
    return outcome, err.getvalue()


def scenario(write_file, document: object) -> str:
    return str(write_file("scenario.json", json.dumps(document)))


GOOD_STEPS = [{"at_s": 10, "service": "payments", "mode": "failing"}]


def test_a_scenario_naming_an_unknown_service_is_refused(write_file) -> None:
    path = scenario(write_file, {"duration_s": 60, "steps": [{"at_s": 10, "service": "billing", "mode": "failing"}],
                                 "expect": {"billing": ["OPEN"]}})
    outcome, err = run_with("--stack", str(DEV_STACK), "--scenario", path)
    assert (outcome.code, outcome.report) == (EXIT_USAGE, None)
    assert "steps[0].service: 'billing' is not a service of stack dev (services: inventory, payments, shipping)" in err
    assert "expect.billing: 'billing' is not a service of stack dev" in err


def test_every_problem_of_a_bad_scenario_is_listed_under_its_place(write_file) -> None:
    path = scenario(write_file, {
        "duration_s": 60,
        "steps": [{"at_s": -1, "service": "payments", "mode": "failing"},
                  {"at_s": 90, "service": "payments", "mode": "broken", "color": "red"}],
        "expect": {"payments": ["OPEN", "AJAR"]},
    })
    outcome, err = run_with("--stack", str(DEV_STACK), "--scenario", path)
    assert outcome.code == EXIT_USAGE
    assert "steps[0].at_s: must be a number of seconds >= 0, got -1" in err
    assert "steps[1].color: unknown key" in err
    assert "expect.payments: unknown state(s) ['AJAR']" in err
    assert err.index("problem(s)") < err.index("steps[0]")


def test_steps_are_checked_against_the_stack_and_the_run_length(write_file) -> None:
    path = scenario(write_file, {
        "duration_s": 60,
        "steps": [{"at_s": 90, "service": "payments", "mode": "broken"},
                  {"at_s": 10, "service": "payments", "mode": "flaky", "failure_rate": 2}],
        "expect": {"payments": ["OPEN"]},
    })
    outcome, err = run_with("--stack", str(DEV_STACK), "--scenario", path)
    assert outcome.code == EXIT_USAGE
    assert "steps[0].mode: must be one of healthy, failing, slow, flaky, got 'broken'" in err
    assert "steps[0].at_s: 90 s is after the end of the run (60 s)" in err
    assert "steps[1].failure_rate: must be a number in [0, 1], got 2" in err
    assert err.index("steps[0]") < err.index("steps[1]")  # in the file's order, though played in time order


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ('{"steps": [], "expect": {"payments": ["OPEN"]}}', "duration_s: required"),
])
def test_an_unreadable_scenario_is_refused(write_file, text: str, message: str) -> None:
    outcome, err = run_with("--stack", str(DEV_STACK), "--scenario", str(write_file("scenario.json", text)))
    assert outcome.code == EXIT_USAGE and message in err


def test_an_unknown_scenario_name_lists_the_bundled_ones() -> None:
    outcome, err = run_with("--stack", str(DEV_STACK), "--scenario", "no-such-scenario")
    assert outcome.code == EXIT_USAGE
    assert "no such file, and no bundled scenario of that name (bundled: default" in err


def test_a_scenario_cannot_switch_an_external_service(write_file) -> None:
    stack = write_file("Pulumi.ext.yaml", PAYMENTS_ONLY + """\
    search:
      url: https://search.example.com
""")
    path = scenario(write_file, {"duration_s": 60, "steps": [{"at_s": 1, "service": "search", "mode": "failing"}],
                                 "expect": {"payments": ["OPEN"]}})
    outcome, err = run_with("--stack", str(stack), "--scenario", path)
    assert outcome.code == EXIT_USAGE
    assert "steps[0].service: 'search' is an external service, not run locally" in err


def test_a_missing_or_invalid_stack_file_is_refused(write_file, tmp_path: Path) -> None:
    outcome, err = run_with("--stack", str(tmp_path / "Pulumi.nope.yaml"))
    assert outcome.code == EXIT_USAGE and "cannot read the stack file" in err
    bad = write_file("Pulumi.bad.yaml", PAYMENTS_ONLY + "      breaker:\n        minimum_failures: 0\n")
    outcome, err = run_with("--stack", str(bad))
    assert outcome.code == EXIT_USAGE and "services.payments.breaker.minimum_failures: must be >= 1" in err


@pytest.mark.parametrize("argv", [["--speed-up", "0.5"], ["--rate", "0"], ["--environments", "1.5"]])
def test_bad_options_exit_with_status_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        options(argv)
    assert exit.value.code == 2
