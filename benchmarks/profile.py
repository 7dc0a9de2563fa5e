"""Where the simulation of design (d) spends its time: ``cProfile`` over one run.

One representative run, ``CELL`` (E = 1000 environments at R = 500, hang, seed 0), of design
(d) alone; the entries with the most own time (time in the function itself, not in what it
calls) are what to make lean first. Under the profiler everything runs several times slower;
the shares are what matter.
"""

from __future__ import annotations

import cProfile
import pstats
from pathlib import Path

from .designs import ThisProject
from .scenario import CASES, request_stream, scenario
from .simulator import simulate

CELL = ("hang", 1000, 500.0, 0)
TOP = 15

Entry = tuple[str, int, float, float]  # where, calls, own s, cumulative s


def measure(top: int = TOP) -> list[Entry]:
    case = next(c for c in CASES if c.name == CELL[0])
    chosen = scenario(case, CELL[1], CELL[2], CELL[3])
    stream = request_stream(chosen)
    profiler = cProfile.Profile()
    profiler.runcall(simulate, ThisProject, chosen, stream)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = [(_where(key), calls, own, cumulative) for key, (_, calls, own, cumulative, _) in stats.items()]
    return sorted(rows, key=lambda row: -row[2])[:top]


def _where(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":
        return function
    parts = Path(filename).parts
    for root in ("runtime", "benchmarks"):
        if root in parts:
            return f"{'/'.join(parts[parts.index(root):])}:{line}({function})"
    return f"{Path(filename).name}:{line}({function})"
