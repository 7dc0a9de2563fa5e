"""`python -m benchmarks`: run every benchmark, print the tables, write BENCHMARKS.md and the plot.

A MISS is reported, not raised: the figures are the product, and a missed target is one of
them (BENCHMARKS.md says by how much and why).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from . import ROOT, coldstart, comparison, document, host, lookup, plot, sizes, targets
from . import tables as t
from .scenario import KINDS

PLOT = ROOT / "benchmarks" / "outage.png"
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
    _say(f"simulating {len(KINDS)} scenarios x {comparison.SEEDS} seeds x 4 designs")
    compared = comparison.compare()
    checked = targets.check(compared, lookups)
    results = document.Results(
        host.describe(), compared, checked, lookups, cold, artifacts, plot.draw(compared, PLOT), time.monotonic() - started
    )
    for table in (
        *(t.simulation(compared, kind) for kind in KINDS),
        t.lookups(lookups),
        t.cold_start(cold),
        t.artifacts(artifacts),
        t.targets(checked),
    ):
        print(f"\n{t.text(table)}")
    for target in checked:
        if not target.passed:
            print(f"\nMISS {target.name}: {target.why}")
    document.write(results, DOCUMENT)
    print(f"\nwrote {DOCUMENT.relative_to(ROOT)} and {PLOT.relative_to(ROOT)} in {time.monotonic() - started:.0f} s")


def _say(step: str) -> None:
    print(f"bench: {step}", flush=True)


if __name__ == "__main__":
    main()
