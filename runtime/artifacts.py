"""Lambda artifacts (the extension layer and the function bundles), built deterministically.

The same source tree always gives the same bytes: entries sorted, timestamps fixed at
1980-01-01 (the earliest a zip can hold), modes normalised (0755 for executables such as the
extension's launcher, 0644 for the rest), no bytecode. Pulumi then sees an unchanged tree as
no change, and the launcher keeps the executable bit that Lambda needs to start it; Pulumi's
own AssetArchive would drop mode bits, which is why the zip is built here.

(Named ``artifacts`` rather than ``packaging``: pytest puts runtime/ first on sys.path, where
a ``packaging`` module would shadow the PyPI package of that name.)
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Iterable, Literal

RUNTIME = Path(__file__).resolve().parent
EXTENSION = RUNTIME / "extension"

FunctionKind = Literal["checker", "business", "mock"]

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
EXECUTABLE_MODE = 0o755
FILE_MODE = 0o644
_UNIX = 3  # zip "made by" system whose external attributes carry Unix modes

# Each function's zip has runtime/'s layout at its root, so handlers import as they do in tests.
_FUNCTION_SOURCES: dict[str, tuple[str, ...]] = {
    "checker": ("checker", "breaker", "httpcall.py"),
    "business": ("services/__init__.py", "services/business.py", "httpcall.py"),
    "mock": ("services/__init__.py", "services/mock.py"),
}


def build_layer_dir(dest: Path) -> Path:
    """Lay out the extension layer in ``dest`` (absent or empty); returns ``dest``.

    ::

        extensions/circuit-breaker          the launcher Lambda starts (0755)
        circuit-breaker/circuit_breaker_extension/  the extension process
        circuit-breaker/breaker/            the state machine, cache and store it runs
        python/circuit_breaker_client.py    the function-side client (/opt/python is on sys.path)
    """
    dest = _empty_dir(dest)
    _copy(EXTENSION / "extensions" / "circuit-breaker", dest / "extensions" / "circuit-breaker", EXECUTABLE_MODE)
    _copy_sources(EXTENSION, ("circuit_breaker_extension",), dest / "circuit-breaker")
    _copy_sources(RUNTIME, ("breaker",), dest / "circuit-breaker")
    _copy_sources(EXTENSION, ("python/circuit_breaker_client.py",), dest)
    return dest


def build_function_dir(kind: FunctionKind, dest: Path) -> Path:
    """Lay out one function's code in ``dest`` (absent or empty); returns ``dest``."""
    if kind not in _FUNCTION_SOURCES:
        raise ValueError(f"unknown function kind {kind!r}; expected one of {sorted(_FUNCTION_SOURCES)}")
    dest = _empty_dir(dest)
    _copy_sources(RUNTIME, _FUNCTION_SOURCES[kind], dest)
    return dest


def zip_dir(src: Path, dest_zip: Path) -> Path:
    """Zip the files under ``src`` reproducibly (see the module docstring); returns ``dest_zip``."""
    src, dest_zip = Path(src), Path(dest_zip)
    dest_zip.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(_files(src), key=lambda p: p.relative_to(src).as_posix()):
            info = zipfile.ZipInfo(path.relative_to(src).as_posix(), date_time=ZIP_TIMESTAMP)
            info.create_system = _UNIX
            mode = EXECUTABLE_MODE if path.stat().st_mode & 0o111 else FILE_MODE
            info.external_attr = (0o100000 | mode) << 16  # regular file with that mode
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return dest_zip


def _files(root: Path) -> Iterable[Path]:
    for path in root.rglob("*"):
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            raise ValueError(f"{path}: symbolic links are not packaged")
        if path.is_file():
            yield path


def _copy_sources(root: Path, entries: Iterable[str], dest: Path) -> None:
    """Copy files or whole packages (Python sources only) from ``root`` to the same places under ``dest``."""
    for entry in entries:
        source = root / entry
        if source.is_file():
            _copy(source, dest / entry, FILE_MODE)
            continue
        if not source.is_dir():
            raise FileNotFoundError(f"{source}: nothing to package")
        for path in sorted(source.rglob("*.py")):
            _copy(path, dest / path.relative_to(root), FILE_MODE)


def _copy(source: Path, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, mode)


def _empty_dir(dest: Path) -> Path:
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest}: build into an absent or empty directory")
    dest.mkdir(parents=True, exist_ok=True)
    return dest
