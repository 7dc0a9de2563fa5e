"""Artifact sizes: the zips ``pulumi up`` uploads, built as the Pulumi program builds them."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from artifacts import FunctionKind, build_function_dir, build_layer_dir, zip_dir


@dataclass(frozen=True)
class Artifact:
    name: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int


def layer(work: Path) -> tuple[Path, Artifact]:
    """The built layer folder (the lookup and cold-start figures run it) and its zip's size."""
    folder = build_layer_dir(work / "layer")
    return folder, _artifact("extension layer", zip_dir(folder, work / "layer.zip"))


def functions(work: Path) -> list[Artifact]:
    return [
        _artifact(f"{kind} function", zip_dir(build_function_dir(kind, work / kind), work / f"{kind}.zip"))
        for kind in get_args(FunctionKind)
    ]


def _artifact(name: str, archive: Path) -> Artifact:
    with zipfile.ZipFile(archive) as opened:
        entries = opened.infolist()
    return Artifact(name, archive.stat().st_size, sum(e.file_size for e in entries), len(entries))
