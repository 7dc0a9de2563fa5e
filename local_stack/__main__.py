"""``python -m local_stack`` (``make demo``): run a stack's fleet on this machine through a scenario."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from .run import Options, run
from .scenario import DEFAULT_SCENARIO

DESCRIPTION = """\
Run the fleet of a Pulumi stack file on this machine, with no AWS account, Pulumi CLI or Docker:
DynamoDB and SSM on moto's server, each business function in local Lambda execution
environments running the real circuit-breaker extension, the mocks as local HTTP endpoints,
the checker on each service's schedule, and traffic on every business function. A scenario
switches mocks between modes; the live table shows what the circuits do, and the run ends with
the transitions seen, when, and whether they are the ones the scenario expects."""

EPILOG = """\
time compression (--speed-up N):
  Divided by N: the checker schedules (rate(1 minute) runs every 60/N s), the breaker's
  window_s, open_duration_s, max_open_duration_s, trial_lease_s, the
  extension's cache_ttl_s and the mock's mode cache (1 s). Not scaled, because they time real
  calls: call_timeout_s, the probe's timeout_s, slow_call_threshold_ms and a mock's delay_ms.
  Counts (minimum_failures, trials) and --rate (per wall-clock second) are not durations.
  Nor is the extension's own fixed 1 s limit on forced re-reads. Scenario times and --duration
  are in stack seconds: the wall-clock time of a run is duration / speed-up.

the bound checked on every circuit:
  During each OPEN period, the calls that reach the failing service are at most one per
  execution environment that calls it (--environments business environments + 1 checker),
  plus one checker probe per probe interval: the checker probes OPEN circuits so that a
  recovery is seen within seconds. An environment that has not yet read the OPEN record sends
  at most one more call (or has one in flight); its refused count hands it the OPEN record, so
  its next lookup refuses.

exit status:
  0 the expected transitions happened and the bound held; 1 they did not, or the fleet could
  not start; 2 a bad stack file, scenario or option; 128+signal when SIGINT (Ctrl-C) or SIGTERM
  ended the run (everything is shut down and the summary printed all the same).

docs/local-stack.md describes the scenario format and the table."""


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: ``kind`` of the text, which must be > 0."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            expected = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(
        prog="python -m local_stack", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    options.add_argument("--stack", type=Path, default=Path("Pulumi.dev.yaml"), metavar="FILE",
                         help="the Pulumi stack file whose services run (default: %(default)s); services "
                              "with an external url are skipped, with a note")
    options.add_argument("--scenario", default=DEFAULT_SCENARIO, metavar="FILE_OR_NAME",
                         help="a scenario file, or the name of one in local_stack/scenarios/ (default: "
                              "%(default)s: payments fails at 120 s and recovers at 300 s)")
    options.add_argument("--duration", type=_positive(float), metavar="SECONDS",
                         help="how long the run lasts, in stack seconds (default: the scenario's duration_s)")
    options.add_argument("--speed-up", type=_positive(float), default=20.0, metavar="N",
                         help="stack time runs N times faster than the wall clock, N >= 1 (default: "
                              "%(default)g); see 'time compression' below for exactly what is scaled")
    options.add_argument("--rate", type=_positive(float), default=10.0, metavar="PER_SECOND",
                         help="invocations of each business function per wall-clock second (default: %(default)g)")
    options.add_argument("--environments", type=_positive(int), default=2, metavar="N",
                         help="execution environments per business function (default: %(default)s); an "
                              "invocation finding all of them busy is dropped and counted")
    return options


def options(argv: Optional[Sequence[str]] = None) -> Options:
    """The run's options from the command line (argparse exits with status 2 on a bad one)."""
    arguments = parser().parse_args(argv)
    if arguments.speed_up < 1:
        parser().error(f"--speed-up must be >= 1, got {arguments.speed_up:g}")
    return Options(
        stack=arguments.stack, scenario=arguments.scenario, duration_s=arguments.duration,
        speed_up=arguments.speed_up, rate=arguments.rate, environments=arguments.environments,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(options(argv)).code


if __name__ == "__main__":
    sys.exit(main())
