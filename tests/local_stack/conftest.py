"""Fixtures for the local stack's tests."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

import pytest

WriteFile = Callable[[str, str], Path]


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    """``write_file(name, text)``: a file in the test's folder, the text dedented."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
