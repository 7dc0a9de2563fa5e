"""The grid comparison and the recovery-knob sweep, run over a pool of worker processes.

One task is one (cell, seed): its request stream is drawn once and served to every design in
turn, so every design in a cell sees exactly the same requests. Tasks go to ``WORKERS``
processes, the largest first; each returns only the figures of its runs.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

from .designs import BY_KEY, DESIGNS
from .metrics import Figures, Spread, figures, summarise
from .scenario import CASES, ENVIRONMENTS, OUTAGE_CASES, RATES, Case, Scenario, request_stream, scenario, seeds
from .simulator import Trace, simulate

WORKERS = 2
PLOTTED = (10, 50.0, 0)  # E, R, seed of the outage plot
SWEEP_CELL = (100, 50.0)  # E, R of the Pareto sweep
SWEEP_SEEDS = 10


@dataclass(frozen=True)
class Cell:
    case: Case
    environments: int
    rate_per_s: float

    @property
    def seeds(self) -> int:
        return seeds(self.rate_per_s)

    def scenario(self, seed: int) -> Scenario:
        return scenario(self.case, self.environments, self.rate_per_s, seed)


GRID = tuple(Cell(case, e, r) for case in CASES for e in ENVIRONMENTS for r in RATES)

Key = tuple[Cell, str]  # (cell, design key)
SweepKey = tuple[str, str, float]  # (case name, design key, knob value)


@dataclass
class Comparison:
    cells: tuple[Cell, ...]
    runs: dict[Key, list[Figures]] = field(default_factory=dict)
    sweep: dict[SweepKey, list[Figures]] = field(default_factory=dict)
    plotted: dict[tuple[str, str], Trace] = field(default_factory=dict)  # (case name, design key)
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per design key, grid and sweep

    def summary(self, cell: Cell, design: str) -> dict[str, Spread]:
        return summarise(self.runs[(cell, design)])

    def sweep_summary(self, case: str, design: str, knob: float) -> dict[str, Spread]:
        return summarise(self.sweep[(case, design, knob)])


Ran = tuple[str, Optional[float], Figures, float]  # design key, knob, figures, CPU seconds


def run_task(cell: Cell, seed: int, designs: Sequence[str], knobs: Sequence[Optional[float]]) -> list[Ran]:
    """Every (design, knob) on the one request stream of (cell, seed), with the CPU time each took."""
    chosen = cell.scenario(seed)
    stream = request_stream(chosen)
    ran = []
    for key in designs:
        for knob in knobs:
            started = time.process_time()
            figure = figures(simulate(BY_KEY[key], chosen, stream, knob))
            ran.append((key, knob, figure, time.process_time() - started))
    return ran


@dataclass(frozen=True)
class _Task:
    cell: Cell
    seed: int
    designs: tuple[str, ...]
    knobs: tuple[Optional[float], ...]
    sweep: bool

    @property
    def size(self) -> float:
        return self.cell.rate_per_s * self.cell.scenario(self.seed).duration_s * len(self.designs) * len(self.knobs)


def _tasks(cells: Iterable[Cell], sweep: bool, sweep_seeds: int) -> list[_Task]:
    every = tuple(d.key for d in DESIGNS)
    tasks = [_Task(cell, seed, every, (None,), False) for cell in cells for seed in range(cell.seeds)]
    if sweep:
        knobbed = [d for d in DESIGNS if d.knob]
        for case in OUTAGE_CASES:
            cell = Cell(case, *SWEEP_CELL)
            tasks += [_Task(cell, seed, (d.key,), d.sweep_knobs_s, True) for d in knobbed for seed in range(sweep_seeds)]
    return sorted(tasks, key=lambda t: -t.size)


def _run(task: _Task) -> tuple[_Task, list[Ran]]:
    return task, run_task(task.cell, task.seed, task.designs, task.knobs)


def compare(
    cells: Sequence[Cell] = GRID,
    sweep: bool = True,
    sweep_seeds: int = SWEEP_SEEDS,
    workers: int = WORKERS,
    progress: Callable[[str], None] = lambda _: None,
) -> Comparison:
    comparison = Comparison(tuple(cells))
    tasks = _tasks(cells, sweep, sweep_seeds)
    results: dict[_Task, list[Ran]] = {}
    if workers > 1:
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending = [pool.submit(_run, task) for task in tasks]
            for done, future in enumerate(as_completed(pending), 1):
                task, ran = future.result()
                results[task] = ran
                progress(f"{done}/{len(tasks)} {task.cell.case.name} E={task.cell.environments} R={task.cell.rate_per_s:g} seed {task.seed}")
    else:
        for task in tasks:
            results[task] = _run(task)[1]
    for task in sorted(results, key=lambda t: t.seed):  # seed order, whatever order they finished in
        for key, knob, figure, cpu_s in results[task]:
            comparison.cpu_s[key] = comparison.cpu_s.get(key, 0.0) + cpu_s
            if task.sweep:
                assert knob is not None
                comparison.sweep.setdefault((task.cell.case.name, key, knob), []).append(figure)
            else:
                comparison.runs.setdefault((task.cell, key), []).append(figure)
    environments, rate, seed = PLOTTED
    for case in OUTAGE_CASES:
        chosen = scenario(case, environments, rate, seed)
        stream = request_stream(chosen)
        for design in DESIGNS:
            comparison.plotted[(case.name, design.key)] = simulate(design, chosen, stream, sample_states=True)
    return comparison
