"""The figures as tables: one data model, rendered as aligned text (stdout) or Markdown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from .comparison import Comparison
from .coldstart import ColdStart
from .designs import DESIGNS
from .lookup import Lookups
from .metrics import Spread
from .scenario import Kind
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
        return "never"
    text = f"{spread.mean:.1f} ({spread.worst:.1f})"
    return text + (f", {spread.missing} never" if spread.missing else "")


def _mean(spread: Spread) -> str:
    return "-" if spread.mean is None else f"{spread.mean:.1f}"


OUTAGE_COLUMNS: tuple[Column, ...] = (
    ("calls to dead dependency", "calls_to_dead", _mean_worst),
    ("trip: first fallback s", "trip_first_s", _mean_worst),
    ("trip: all envs s", "trip_all_s", _mean_worst),
    ("restore: first live s", "restore_first_s", _mean_worst),
    ("restore: >=90% live s", "restore_90_s", _mean_worst),
    ("reads/1k", "reads_per_1k", _mean),
    ("writes/1k", "writes_per_1k", _mean),
    ("conflicts/1k", "conflicts_per_1k", _mean),
    ("items read/1k", "items_read_per_1k", _mean),
    ("checker probes", "probes", _mean),
)
FLAKY_COLUMNS: tuple[Column, ...] = (
    ("fallback answers (false trips)", "fallbacks", _mean_worst),
    ("failed calls", "failed_calls", _mean),
    ("reads/1k", "reads_per_1k", _mean),
    ("writes/1k", "writes_per_1k", _mean),
    ("conflicts/1k", "conflicts_per_1k", _mean),
    ("items read/1k", "items_read_per_1k", _mean),
)


def simulation(comparison: Comparison, kind: Kind) -> Table:
    columns = FLAKY_COLUMNS if kind == "flaky" else OUTAGE_COLUMNS
    rows = []
    for design in DESIGNS:
        summary = comparison.summary(kind, design.key)
        rows.append((f"({design.key}) {design.title}", *(show(summary[figure]) for _, figure, show in columns)))
    title = f"{kind}: mean (worst) over {comparison.seeds} seeds"
    return Table(title, ("design", *(header for header, _, _ in columns)), tuple(rows))


def targets(checked: Sequence[Target]) -> Table:
    rows = tuple(("PASS" if t.passed else "MISS", t.name, t.measured, t.limit) for t in checked)
    return Table("targets", ("", "target", "measured", "limit"), rows)


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
