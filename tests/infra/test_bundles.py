"""The zips handed to Lambda: reproducible to the byte, with the extension's launcher executable."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from infra.bundles import function_bundle, layer_bundle

LAUNCHER = "extensions/circuit-breaker"


def test_building_the_layer_twice_gives_the_same_bytes_and_hash(tmp_path: Path):
    first = layer_bundle(tmp_path / "one")
    second = layer_bundle(tmp_path / "two")
    rebuilt = layer_bundle(tmp_path / "one")  # over the previous build

    assert first.path.read_bytes() == second.path.read_bytes() == rebuilt.path.read_bytes()
    assert first.sha256 == second.sha256 == rebuilt.sha256
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["layer.zip"]  # no staging left


def test_the_layer_launcher_is_executable_and_the_client_importable_from_python(tmp_path: Path):
    with zipfile.ZipFile(layer_bundle(tmp_path).path) as archive:
        names = archive.namelist()
        mode = archive.getinfo(LAUNCHER).external_attr >> 16
    assert mode & 0o777 == 0o755 and stat.S_ISREG(mode)
    assert "python/circuit_breaker_client.py" in names
    assert "circuit-breaker/circuit_breaker_extension/__main__.py" in names
    assert not [name for name in names if name.startswith("boto") or name.endswith(".pyc")]


def test_each_function_kind_holds_its_handler_at_the_zip_root(tmp_path: Path):
    handlers = {"checker": "checker/handler.py", "business": "services/business.py", "mock": "services/mock.py"}
    for kind, handler in handlers.items():
        bundle = function_bundle(kind, tmp_path)
        with zipfile.ZipFile(bundle.path) as archive:
            assert handler in archive.namelist()
        assert function_bundle(kind, tmp_path).sha256 == bundle.sha256
