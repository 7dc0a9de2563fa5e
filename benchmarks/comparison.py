"""The outage comparison: every design on every scenario kind, over the same seeds."""

from __future__ import annotations

from dataclasses import dataclass

from .designs import DESIGNS
from .metrics import Figures, Spread, figures, summarise
from .scenario import KINDS, Kind, Scenario, request_stream
from .simulator import Trace, simulate

SEEDS = 10
PLOTTED_SEED = 0


@dataclass(frozen=True)
class Comparison:
    seeds: int
    runs: dict[tuple[Kind, str], list[Figures]]  # (kind, design key) -> one Figures per seed
    plotted: dict[tuple[Kind, str], Trace]  # the traces of PLOTTED_SEED, outage kinds only

    def summary(self, kind: Kind, design: str) -> dict[str, Spread]:
        return summarise(self.runs[(kind, design)])


def compare(seeds: int = SEEDS) -> Comparison:
    runs: dict[tuple[Kind, str], list[Figures]] = {}
    plotted: dict[tuple[Kind, str], Trace] = {}
    for kind in KINDS:
        for seed in range(seeds):
            scenario = Scenario(kind, seed)
            stream = request_stream(scenario)  # drawn once, served to every design
            for design in DESIGNS:
                trace = simulate(design, scenario, stream)
                runs.setdefault((kind, design.key), []).append(figures(trace))
                if seed == PLOTTED_SEED and scenario.outage is not None:
                    plotted[(kind, design.key)] = trace
    return Comparison(seeds, runs, plotted)
