"""`python -m benchmarks`: run every benchmark, print the tables, write BENCHMARKS.md and the plots.

A MISS is reported, not raised: the figures are the product, and a missed target is one of
them (BENCHMARKS.md says by how much and why).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from . import ROOT, coldstart, comparison, document, host, lookup, plot, profile, sizes, targets
from . import tables as t
from .scenario import CASES

PLOT = ROOT / "benchmarks" / "outage.png"
PARETO = ROOT / "benchmarks" / "pareto.png"
DOCUMENT = ROOT / "BENCHMARKS.md"


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        work = Path(scratch)
        _say("building artifacts")
        layer_dir, layer_zip = sizes.layer(work)
        artifacts = [layer_zip, *sizes.functions(work)]
        _say("timing lookups against the real extension")
        lookups = lookup.measure(layer_dir, work)
        _say(f"timing {coldstart.STARTS} cold starts")
        cold = coldstart.measure(layer_dir, work)
    _say(f"simulating {len(comparison.GRID)} cells x {len(t.DESIGNS)} designs and the recovery-knob sweep on {comparison.WORKERS} processes")
    simulated = time.monotonic()
    compared = comparison.compare(progress=_say)
    _say(f"simulation took {time.monotonic() - simulated:.0f} s; profiling design (d)")
    profiled = profile.measure()
    checked = targets.check(compared)
    results = document.Results(
        host.describe(),
        compared,
        checked,
        lookups,
        cold,
        artifacts,
        plot.draw(compared, PLOT),
        plot.pareto(compared, PARETO),
        profiled,
        time.monotonic() - started,
    )
    for table in (
        *(t.simulation(compared, case) for case in CASES),
        t.sweep(compared),
        t.cpu(compared),
        t.profile(profiled),
        t.lookups(lookups),
        t.cold_start(cold),
        t.artifacts(artifacts),
        t.targets(checked),
    ):
        print(f"\n{t.text(table)}")
    for target in checked:
        if not target.passed:
            print(f"\nMISS {target.id}: {target.name}: {target.why}")
    document.write(results, DOCUMENT)
    print(f"\nwrote {DOCUMENT.relative_to(ROOT)}, {PLOT.relative_to(ROOT)} and {PARETO.relative_to(ROOT)}")
    print(f"make bench took {time.monotonic() - started:.0f} s")


def _say(step: str) -> None:
    print(f"bench: {step}", flush=True)


if __name__ == "__main__":
    main()
