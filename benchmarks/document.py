"""BENCHMARKS.md, written from one run's figures.

How each figure is produced is told by the docstrings of the modules that produce it, quoted
here, so the document cannot drift from the code that made its numbers.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence

from . import comparison as comparison_module
from . import cost, coldstart, lookup, metrics, plot, profile, scenario, simulator, sizes, targets
from . import tables as t
from .coldstart import ColdStart
from .comparison import Comparison
from .designs import DESIGNS
from .host import Host
from .lookup import Lookups
from .profile import Entry
from .scenario import CASES
from .sizes import Artifact
from .targets import Target

COMMAND = "make bench"


@dataclass(frozen=True)
class Results:
    host: Host
    comparison: Comparison
    targets: Sequence[Target]
    lookups: Lookups
    cold_start: ColdStart
    artifacts: Sequence[Artifact]
    plot: Path
    pareto: Optional[Path]
    profile: Sequence[Entry]
    seconds: float  # the whole run


def write(results: Results, path: Path) -> Path:
    path.write_text(render(results, path.parent))
    return path


def render(results: Results, root: Path) -> str:
    host = results.host
    compared = results.comparison
    pareto = (
        f"![recovery-knob sweep: dead calls against restore time]({results.pareto.relative_to(root).as_posix()})"
        if results.pareto
        else ""
    )
    parts = [
        "# Benchmarks",
        f"Written by `{COMMAND}` (`venv/bin/python -m benchmarks`), which prints the same tables; rerun it "
        "rather than editing this file. The simulation figures are deterministic (seeded); the "
        "timing figures are medians of several runs on the machine below.",
        f"- machine: {host.cpus} CPUs (`nproc`), {host.cpu_model}, {host.system}\n"
        f"- Python {host.python}\n"
        f"- this run of `{COMMAND}` took {results.seconds:.0f} s (1-minute load average at its end: {host.load:.1f}; "
        f"the simulation's CPU time is in section 1, independent of other load)",
        "## Targets",
        _quote(targets),
        t.markdown(t.targets(results.targets), "Targets, judged on this run"),
        _misses(results.targets),
        "## 1. Outage simulation",
        _quote(scenario),
        "### Fleet model",
        _quote(simulator),
        "### Runs",
        _quote(comparison_module),
        "### The designs",
        t.markdown(t.designs()),
        *(f"**({d.key}) {d.title}**\n\n{_quote(sys.modules[d.__module__])}" for d in DESIGNS),
        "### Figures",
        _quote(metrics),
        "### DynamoDB cost",
        _quote(cost),
        *(t.markdown(t.simulation(compared, case)) for case in CASES),
        "### Recovery-knob sweep (Pareto)",
        _quote(plot),
        pareto,
        t.markdown(t.sweep(compared)) if compared.sweep else "",
        f"![circuit state and calls over time]({results.plot.relative_to(root).as_posix()})",
        "### Where the simulation spends its time",
        t.markdown(t.cpu(compared)),
        _quote(profile),
        t.markdown(t.profile(results.profile)),
        "## 2. Extension lookup cost",
        _quote(lookup),
        t.markdown(t.lookups(results.lookups)),
        "## 3. Cold start",
        _quote(coldstart),
        t.markdown(t.cold_start(results.cold_start)),
        "## 4. Artifact sizes",
        _quote(sizes) + " For scale: the seed's layer bundles boto3 and weighs about 19 MB zipped.",
        t.markdown(t.artifacts(results.artifacts)),
        "## Reproduce",
        f"```\n{COMMAND}\n```\n\nIt creates `venv/` when missing, installs `requirements-bench.txt` into it, "
        "and runs `venv/bin/python -m benchmarks`. `tests/benchmarks/` checks the simulator's bookkeeping.",
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def _quote(module: ModuleType) -> str:
    return inspect.getdoc(module) or ""


def _misses(checked: Sequence[Target]) -> str:
    missed = [f"- **MISS: {target.name}**: {target.why}" for target in checked if not target.passed]
    return "\n".join(missed)
