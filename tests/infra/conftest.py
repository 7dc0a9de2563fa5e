"""Fixtures for the program's tests: one run of each real stack file, shared by the whole folder.

Each stack is run once per session (the runs are read-only). runtime/extension goes on the
path so the business functions' environment is checked by the extension's own config reader.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra.config import StackConfig
from tests.support.program import PROJECT_DIR, ProgramRun, run_program
from tests.support.resources import stack_config

sys.path.insert(0, str(PROJECT_DIR / "runtime" / "extension"))

STACKS = ("dev", "prod")
HERE = Path(__file__).resolve().parent
# pulumi-aws warns about a deprecated resource of its own whenever its lambda module loads.
PULUMI_AWS_NOISE = pytest.mark.filterwarnings("ignore:aws.lambda/microvmsimage:DeprecationWarning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(PULUMI_AWS_NOISE)


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, ProgramRun]:
    return {stack: run_program(stack) for stack in STACKS}


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def run(stack_runs: dict[str, ProgramRun], stack: str) -> ProgramRun:
    return stack_runs[stack]


@pytest.fixture
def config(stack: str) -> StackConfig:
    return stack_config(stack)
