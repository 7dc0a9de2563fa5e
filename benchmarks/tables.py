"""The figures as tables: one data model, rendered as aligned text (stdout) or Markdown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from .comparison import SWEEP_CELL, Comparison
from .coldstart import ColdStart
from .designs import DESIGNS
from .lookup import Lookups
from .metrics import Spread
from .scenario import Case
from .sizes import Artifact
from .targets import Target


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


# (header, figure, format): how each simulated figure is shown
Column = tuple[str, str, Callable[[Spread], str]]


def _mean_worst(spread: Spread) -> str:
    if spread.mean is None or spread.worst is None:
        return "never" if spread.runs else "-"
    text = f"{spread.mean:.1f} ({spread.worst:.1f})"
    return text + (f", {spread.missing} never" if spread.missing else "")


def _mean(spread: Spread) -> str:
    return "-" if spread.mean is None else f"{spread.mean:.1f}"


def _usd(spread: Spread) -> str:
    return "-" if spread.mean is None else f"{spread.mean:.4f}"


COMMON: tuple[Column, ...] = (
    ("RRU", "rru", _mean),
    ("WRU", "wru", _mean),
    ("failed cond. writes", "failed_writes", _mean),
    ("USD/1M inv.", "usd_per_1m", _usd),
)
OUTAGE_COLUMNS: tuple[Column, ...] = (
    ("fallbacks", "fallbacks", _mean_worst),
    ("dead calls beyond unavoidable", "dead_calls", _mean_worst),
    ("first fallback s", "first_fallback_s", _mean_worst),
    ("restore s", "restore_s", _mean_worst),
    *COMMON,
    ("healthy USD/1M inv.", "healthy_usd_per_1m", _usd),
    ("probes", "probes", _mean),
)
FLAKY_COLUMNS: tuple[Column, ...] = (
    ("fallbacks (false trips)", "fallbacks", _mean_worst),
    ("failed calls", "failed_calls", _mean),
    *COMMON,
    ("WRU per failed call", "wru_per_failed_call", _mean),
)


def simulation(comparison: Comparison, case: Case) -> Table:
    """One case over every (E, R) of the grid and every design: mean (worst) over seeds."""
    columns = FLAKY_COLUMNS if case.kind == "flaky" else OUTAGE_COLUMNS
    rows = []
    for cell in (c for c in comparison.cells if c.case == case):
        for design in DESIGNS:
            summary = comparison.summary(cell, design.key)
            rows.append(
                (str(cell.environments), f"{cell.rate_per_s:g}", str(cell.seeds), f"({design.key})")
                + tuple(show(summary[figure]) for _, figure, show in columns)
            )
    title = f"{case.name}: mean (worst) over seeds"
    return Table(title, ("E", "R/s", "seeds", "design", *(header for header, _, _ in columns)), tuple(rows))


def designs() -> Table:
    return Table("designs", ("key", "design", "recovery knob"), tuple((f"({d.key})", d.title, d.knob or "-") for d in DESIGNS))


def sweep(comparison: Comparison) -> Table:
    rows = []
    for case, key, knob in sorted(comparison.sweep):
        summary = comparison.sweep_summary(case, key, knob)
        rows.append((case, f"({key})", f"{knob:g}", _mean_worst(summary["dead_calls"]), _mean_worst(summary["restore_s"])))
    headers = ("case", "design", "knob s", "dead calls beyond unavoidable", "restore s")
    runs = {len(figures) for figures in comparison.sweep.values()}
    seeds = "/".join(str(r) for r in sorted(runs))
    return Table(f"recovery-knob sweep (E={SWEEP_CELL[0]}, R={SWEEP_CELL[1]:g}): mean (worst) over {seeds} seeds", headers, tuple(rows))


def cpu(comparison: Comparison) -> Table:
    total = sum(comparison.cpu_s.values())
    rows = tuple(
        (f"({d.key})", f"{comparison.cpu_s.get(d.key, 0.0):.0f}", f"{comparison.cpu_s.get(d.key, 0.0) / total:.0%}" if total else "-")
        for d in DESIGNS
    )
    rows += (("all", f"{total:.0f}", "100%"),)
    return Table("simulation CPU time per design (grid and sweep, all processes)", ("design", "CPU s", "share"), rows)


def targets(checked: Sequence[Target]) -> Table:
    rows = tuple(("PASS" if t.passed else "MISS", t.id, t.name, t.measured, t.limit) for t in checked)
    return Table("targets", ("", "id", "target", "measured", "limit"), rows)


def profile(entries: Sequence[tuple[str, int, float, float]]) -> Table:
    rows = tuple((where, str(calls), f"{own:.2f}", f"{cumulative:.2f}") for where, calls, own, cumulative in entries)
    return Table("profile of design (d), by own time", ("function", "calls", "own s", "cumulative s"), rows)


def lookups(measured: Lookups) -> Table:
    floor = measured.floor.p50_us
    rows = tuple(
        (
            latency.target,
            f"{latency.p50_us:.0f}",
            f"{latency.p99_us:.0f}",
            f"{latency.per_s:.0f}",
            f"{latency.p50_us / floor:.2f}x",
        )
        for latency in measured.all()
    )
    title = f"lookup round trips: median of {measured.floor.runs} runs"
    return Table(title, ("round trip", "p50 us", "p99 us", "requests/s (1 connection)", "p50 vs floor"), rows)


def cold_start(measured: ColdStart) -> Table:
    rows = (
        ("extension process start -> registered", f"{measured.to_register_ms:.0f}"),
        ("extension process start -> first event/next", f"{measured.to_first_next_ms:.0f}"),
        ("whole init phase (extension + runtime)", f"{measured.init_ms:.0f}"),
    )
    return Table(f"cold start: median of {measured.starts} starts", ("step", "ms"), rows)


def artifacts(built: Sequence[Artifact]) -> Table:
    rows = tuple((a.name, f"{a.zipped_bytes / 1024:.1f}", f"{a.unzipped_bytes / 1024:.1f}", str(a.files)) for a in built)
    return Table("artifacts", ("zip", "zipped KiB", "unzipped KiB", "files"), rows)


def text(table: Table) -> str:
    widths = [max(len(row[i]) for row in (table.headers, *table.rows)) for i in range(len(table.headers))]
    lines = [table.title, "  ".join(h.ljust(w) for h, w in zip(table.headers, widths))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in table.rows]
    return "\n".join(lines)


def markdown(table: Table, caption: Optional[str] = None) -> str:
    lines = [f"**{caption or table.title}**", "", "| " + " | ".join(table.headers) + " |"]
    lines.append("|" + "|".join("---" for _ in table.headers) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join(lines)
