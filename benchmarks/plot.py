"""The outage plot: what each design answered, second by second, and the circuit's state.

One column per outage kind, one row per design, all from the same seed's request stream.
Lines: calls that failed (sent to the dead dependency), live successes, fallback answers, per
simulated second of the invocation's start. Band on top: the state the design's shared record
shows (for pybreaker, which shares nothing, environment 0's breaker). Grey: the outage.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on build machines or in CI

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .comparison import Comparison  # noqa: E402
from .designs import DESIGNS  # noqa: E402
from .scenario import Kind  # noqa: E402
from .simulator import Trace  # noqa: E402

PATHS = (("failed", "calls that failed", "tab:red"), ("live", "live successes", "tab:green"), ("fallback", "fallback answers", "tab:gray"))
STATE_COLOURS = {"CLOSED": "#cfe8cf", "HALF_OPEN": "#ffd27f", "OPEN": "#f4a6a6", "FORCED_OPEN": "#f4a6a6", "FORCED_CLOSED": "#cfe8cf"}
BAND = (62.0, 8.0)  # y position and height of the state band, above the 50/s traffic


def draw(comparison: Comparison, path: Path) -> Path:
    kinds: list[Kind] = sorted({kind for kind, _ in comparison.plotted}, key=("hang", "error").index)
    figure, axes = plt.subplots(len(DESIGNS), len(kinds), figsize=(7 * len(kinds), 2.6 * len(DESIGNS)), sharex="col", squeeze=False)
    for column, kind in enumerate(kinds):
        for row, design in enumerate(DESIGNS):
            _panel(axes[row][column], comparison.plotted[(kind, design.key)], f"({design.key}) {design.title}")
        axes[0][column].set_title(f"{kind} outage, seed 0\n" + axes[0][column].get_title(), fontsize=10)
        axes[-1][column].set_xlabel("simulated time (s)")
    states = [Patch(facecolor=STATE_COLOURS[s], label=s) for s in ("CLOSED", "HALF_OPEN", "OPEN")]
    handles = axes[0][0].get_legend_handles_labels()[0]
    figure.legend(handles=handles + states, loc="lower center", ncol=6, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _panel(axis: plt.Axes, trace: Trace, title: str) -> None:
    start, end = trace.scenario.outage or (0.0, 0.0)
    axis.axvspan(start, end, color="0.9", zorder=0)
    horizon = int(trace.scenario.duration_s)
    for name, label, colour in PATHS:
        per_second = Counter(int(a.start) for a in trace.answers if a.path == name)
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
