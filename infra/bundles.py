"""The zips Lambda runs, built from runtime/ with its deterministic packaging, under build/.

Pulumi gets each zip as a ``pulumi.FileArchive`` of the zip file itself: an ``AssetArchive``
of the source tree would be re-zipped by Pulumi without the launcher's executable bit. The
same tree always gives the same bytes (runtime/artifacts.py), and ``sha256`` is what
``source_code_hash`` carries, so an unchanged tree never shows a diff.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, get_args

import pulumi

from artifacts import FunctionKind, build_function_dir, build_layer_dir, zip_dir

BUILD_DIR = Path(__file__).resolve().parent.parent / "build"


@dataclass(frozen=True)
class Bundle:
    path: Path
    sha256: str  # base64 SHA-256 of the zip, the form Lambda reports as CodeSha256

    @property
    def archive(self) -> pulumi.FileArchive:
        return pulumi.FileArchive(str(self.path))


@dataclass(frozen=True)
class Bundles:
    """Every zip a stack deploys, each built once per program run."""

    layer: Bundle
    checker: Bundle
    business: Bundle
    mock: Bundle

    @classmethod
    def build(cls, build_dir: Path = BUILD_DIR) -> "Bundles":
        kinds = {kind: function_bundle(kind, build_dir) for kind in get_args(FunctionKind)}
        return cls(layer=layer_bundle(build_dir), **kinds)


def layer_bundle(build_dir: Path = BUILD_DIR) -> Bundle:
    """The extension layer's zip: launcher, extension process and the function-side client."""
    return _bundle("layer", build_layer_dir, build_dir)


def function_bundle(kind: FunctionKind, build_dir: Path = BUILD_DIR) -> Bundle:
    """The code of every function of one kind (``checker``, ``business`` or ``mock``)."""
    return _bundle(kind, lambda dest: build_function_dir(kind, dest), build_dir)


def _bundle(name: str, lay_out: Callable[[Path], Path], build_dir: Path) -> Bundle:
    """Lay out and zip in a private staging folder, then move the zip into place in one step,
    so two programs building at once (tests, a preview beside an update) never see half a zip."""
    build_dir.mkdir(parents=True, exist_ok=True)
    target = build_dir / f"{name}.zip"
    with tempfile.TemporaryDirectory(dir=build_dir, prefix=f".{name}-") as staging:
        built = zip_dir(lay_out(Path(staging) / name), Path(staging) / f"{name}.zip")
        digest = hashlib.sha256(built.read_bytes()).digest()
        os.replace(built, target)
    return Bundle(path=target, sha256=base64.b64encode(digest).decode("ascii"))
