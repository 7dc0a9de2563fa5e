"""The plots: the outage, second by second, and the recovery-knob Pareto front.

Outage plot (``draw``): one column per outage kind, one row per design, all from the same
seed's request stream (E = 10, R = 50, seed 0). Lines: calls that failed (sent to the dead
dependency), live successes, fallback answers, per simulated second of the invocation's start.
Band on top: the state the design's shared record shows (for pybreaker, which shares nothing,
environment 0's breaker). Grey: the outage.

Pareto plot (``pareto``): for each design with a recovery knob, its sweep (E = 100, R = 50,
hang and error, mean over seeds): calls to the dead dependency beyond the unavoidable against
the time to restore 90 % live answers, one line per design through its knob values (labelled
in seconds); (a), which has no knob, is one point. Down and left is better.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")  # files only: no display on build machines or in CI

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .comparison import SWEEP_CELL, Cell, Comparison  # noqa: E402
from .designs import DESIGNS  # noqa: E402
from .scenario import OUTAGE_CASES  # noqa: E402
from .simulator import FAILED, FALLBACK, LIVE, Trace  # noqa: E402

PATHS = ((FAILED, "calls that failed", "tab:red"), (LIVE, "live successes", "tab:green"), (FALLBACK, "fallback answers", "tab:gray"))
STATE_COLOURS = {"CLOSED": "#cfe8cf", "HALF_OPEN": "#ffd27f", "OPEN": "#f4a6a6", "FORCED_OPEN": "#f4a6a6", "FORCED_CLOSED": "#cfe8cf"}
BAND = (62.0, 8.0)  # y position and height of the state band, above the 50/s traffic
COLOURS = {"a": "tab:gray", "b": "tab:blue", "c": "tab:orange", "d": "tab:green", "e": "tab:purple"}


def draw(comparison: Comparison, path: Path) -> Path:
    cases = [case.name for case in OUTAGE_CASES]
    figure, axes = plt.subplots(len(DESIGNS), len(cases), figsize=(7 * len(cases), 2.6 * len(DESIGNS)), sharex="col", squeeze=False)
    for column, case in enumerate(cases):
        for row, design in enumerate(DESIGNS):
            _panel(axes[row][column], comparison.plotted[(case, design.key)], f"({design.key}) {design.title}")
        axes[0][column].set_title(f"{case} outage, E=10, R=50, seed 0\n" + axes[0][column].get_title(), fontsize=10)
        axes[-1][column].set_xlabel("simulated time (s)")
    states = [Patch(facecolor=STATE_COLOURS[s], label=s) for s in ("CLOSED", "HALF_OPEN", "OPEN")]
    handles = axes[0][0].get_legend_handles_labels()[0]
    figure.legend(handles=handles + states, loc="lower center", ncol=6, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def pareto(comparison: Comparison, path: Path) -> Optional[Path]:
    if not comparison.sweep:
        return None
    cases = [case for case in OUTAGE_CASES]
    figure, axes = plt.subplots(1, len(cases), figsize=(6.5 * len(cases), 5), squeeze=False)
    for axis, case in zip(axes[0], cases):
        for design in DESIGNS:
            if design.knob:
                points = [(knob, comparison.sweep_summary(case.name, design.key, knob)) for knob in design.sweep_knobs_s]
                shown = [(k, s["dead_calls"].mean, s["restore_s"].mean) for k, s in points if s["restore_s"].missing == 0]
                if not shown:
                    continue
                axis.plot([p[1] for p in shown], [p[2] for p in shown], marker="o", color=COLOURS[design.key], label=f"({design.key}) {design.knob}")
                for knob, x, y in shown:
                    axis.annotate(f"{knob:g}", (x, y), fontsize=7, textcoords="offset points", xytext=(3, 3))
            else:
                cell = Cell(case, *SWEEP_CELL)
                if (cell, design.key) in comparison.runs:
                    summary = comparison.summary(cell, design.key)
                    if summary["restore_s"].mean is not None:
                        axis.plot([summary["dead_calls"].mean], [summary["restore_s"].mean], marker="s", linestyle="", color=COLOURS[design.key], label=f"({design.key}) no knob")
        axis.set_xscale("symlog", linthresh=10)
        axis.set_xlabel("calls to the dead dependency beyond the unavoidable (mean)")
        axis.set_ylabel("restore to >= 90 % live, s (mean)")
        axis.set_title(f"{case.name}, E={SWEEP_CELL[0]}, R={SWEEP_CELL[1]:g}: knob sweep (s)", fontsize=10)
        axis.grid(True, linewidth=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _panel(axis: plt.Axes, trace: Trace, title: str) -> None:
    start, end = trace.scenario.outage or (0.0, 0.0)
    axis.axvspan(start, end, color="0.9", zorder=0)
    horizon = int(trace.scenario.duration_s)
    for code, label, colour in PATHS:
        per_second = Counter(int(at) for at, path in zip(trace.arrivals, trace.paths) if path == code)
        axis.step(range(horizon), [per_second.get(s, 0) for s in range(horizon)], where="post", color=colour, label=label, linewidth=0.9)
    _state_band(axis, trace)
    axis.set_ylim(0, BAND[0] + BAND[1])
    axis.set_xlim(0, horizon)
    axis.set_ylabel("per second", fontsize=8)
    axis.set_title(title, fontsize=9)
    axis.tick_params(labelsize=7)


def _state_band(axis: plt.Axes, trace: Trace) -> None:
    """One coloured span per run of equal state samples, each sample covering its second."""
    runs: list[tuple[str, float, float]] = []  # state, start, width
    for at, state in trace.states:
        if runs and runs[-1][0] == state:
            runs[-1] = (state, runs[-1][1], runs[-1][2] + 1.0)
        else:
            runs.append((state, at, 1.0))
    for state, at, width in runs:
        axis.broken_barh([(at, width)], BAND, facecolors=STATE_COLOURS[state])
