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
from typing import Sequence

from . import coldstart, lookup, metrics, scenario, simulator, sizes
from . import tables as t
from .coldstart import ColdStart
from .comparison import Comparison
from .designs import DESIGNS
from .host import Host
from .lookup import Lookups
from .scenario import KINDS, Scenario
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
    seconds: float  # the whole run


def write(results: Results, path: Path) -> Path:
    path.write_text(render(results, path.parent))
    return path


def render(results: Results, root: Path) -> str:
    s = Scenario("hang", 0)
    host = results.host
    parts = [
        "# Benchmarks",
        f"Written by `{COMMAND}` (`venv/bin/python -m benchmarks`), which prints the same tables; rerun it "
        "rather than editing this file. The simulation figures are deterministic (seeded); the "
        "timing figures are medians of several runs on the machine below.",
        f"- machine: {host.cpus} CPUs (`nproc`), {host.cpu_model}, {host.system}\n"
        f"- Python {host.python}\n"
        f"- this run of `{COMMAND}` took {results.seconds:.0f} s",
        "## Targets",
        t.markdown(t.targets(results.targets), "Targets, judged on this run"),
        _misses(results.targets),
        "## 1. Outage simulation",
        f"R = {s.rate_per_s:g} invocations/s over E = {s.environments} execution environments; a {s.outage_s:g} s "
        f"outage starting {s.warmup_s:g} s plus a uniform random phase within one {s.probe_interval_s:g} s probe "
        f"interval into the run, watched for {s.after_s:g} s after recovery; kinds *hang* (every call fails "
        f"after the {s.call_timeout_s:g} s call timeout) and *error* (HTTP 503 after {s.error_latency_s * 1000:g} ms); "
        f"*flaky*: {s.flaky_s:g} s up with {s.flaky_failure_rate:.0%} of calls failing at random. Successful calls "
        f"take {s.success_latency_s * 1000:g} ms. {results.comparison.seeds} seeds per kind; every design is "
        "served the same request stream of each seed.",
        _quote(scenario),
        "### Fleet model",
        _quote(simulator),
        "### The designs",
        *(f"**({d.key}) {d.title}**\n\n{_quote(sys.modules[d.__module__])}" for d in DESIGNS),
        "### Figures",
        _quote(metrics),
        *(t.markdown(t.simulation(results.comparison, kind)) for kind in KINDS),
        f"![circuit state and calls over time]({results.plot.relative_to(root).as_posix()})",
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
