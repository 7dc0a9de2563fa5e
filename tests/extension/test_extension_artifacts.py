"""Deterministic Lambda artifacts: same tree, same bytes; the launcher stays executable."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest
from artifacts import build_function_dir, build_layer_dir, zip_dir


def _entries(archive: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(archive) as opened:
        return {info.filename: info for info in opened.infolist()}


def test_the_layer_zip_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    first = zip_dir(build_layer_dir(tmp_path / "a"), tmp_path / "a.zip")
    second_dir = build_layer_dir(tmp_path / "b")
    for path in second_dir.rglob("*"):  # a later checkout: other mtimes, bytecode lying around
        os.utime(path, (1_700_000_000, 1_700_000_000))
    (second_dir / "circuit-breaker" / "breaker" / "__pycache__").mkdir()
    (second_dir / "circuit-breaker" / "breaker" / "__pycache__" / "machine.cpython-311.pyc").write_bytes(b"\0")
    second = zip_dir(second_dir, tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes()


def test_the_layer_holds_launcher_extension_core_and_client_with_normalised_modes(tmp_path: Path) -> None:
    entries = _entries(zip_dir(build_layer_dir(tmp_path / "layer"), tmp_path / "layer.zip"))
    names = list(entries)
    assert names == sorted(names)
    assert "extensions/circuit-breaker" in names
    assert "circuit-breaker/circuit_breaker_extension/__main__.py" in names
    assert "circuit-breaker/breaker/machine.py" in names
    assert "circuit-breaker/breaker/store.py" in names
    assert "python/circuit_breaker_client.py" in names
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n or n.endswith(".md")]
    assert not [n for n in names if n.startswith("python/") and n != "python/circuit_breaker_client.py"]
    for name, info in entries.items():
        mode = info.external_attr >> 16
        assert stat.S_ISREG(mode)
        assert stat.S_IMODE(mode) == (0o755 if name == "extensions/circuit-breaker" else 0o644), name
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.create_system == 3


def test_the_launcher_is_executable_after_unzipping(tmp_path: Path) -> None:
    with zipfile.ZipFile(zip_dir(build_layer_dir(tmp_path / "layer"), tmp_path / "layer.zip")) as archive:
        info = archive.getinfo("extensions/circuit-breaker")
        assert archive.read(info).startswith(b"#!/bin/sh\n")
        assert (info.external_attr >> 16) & 0o111 == 0o111


@pytest.mark.parametrize(
    ("kind", "tops", "expected"),
    [
        ("checker", {"checker", "breaker", "httpcall.py"}, {"checker/handler.py", "breaker/machine.py", "httpcall.py"}),
        ("business", {"services", "httpcall.py"}, {"services/__init__.py", "services/business.py", "httpcall.py"}),
        ("mock", {"services"}, {"services/__init__.py", "services/mock.py"}),
    ],
)
def test_function_bundles_keep_the_runtime_layout(tmp_path: Path, kind: str, tops: set[str], expected: set[str]) -> None:
    directory = build_function_dir(kind, tmp_path / kind)
    names = set(_entries(zip_dir(directory, tmp_path / f"{kind}.zip")))
    assert expected <= names
    assert {name.split("/")[0] for name in names} == tops
    if kind != "checker":
        assert names == expected  # its own module (and the shared HTTP call), nothing else
    assert zip_dir(directory, tmp_path / "again.zip").read_bytes() == (tmp_path / f"{kind}.zip").read_bytes()


def test_refuses_unknown_kinds_and_non_empty_destinations(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown function kind"):
        build_function_dir("database", tmp_path / "x")  # type: ignore[arg-type]
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "stray.txt").write_text("left over")
    with pytest.raises(FileExistsError):
        build_layer_dir(tmp_path / "full")
