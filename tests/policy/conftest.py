"""The real stacks, run once per session under the SDK's mocks and shared by the policy tests."""

from __future__ import annotations

import functools
from typing import Callable

import pytest

from pack_harness import Resource, program_resources


@pytest.fixture(scope="session")
def stack_resources() -> Callable[[str], list[Resource]]:
    """``stack_resources("dev")``: the program's resources for ``Pulumi.dev.yaml``, computed once."""
    return functools.cache(program_resources)
