"""Operator overrides from a shell: ``python -m breaker.admin`` (with runtime/ on ``sys.path``).

Forcing a circuit goes through the same compare-and-set as every other write, so the override
bumps the version and no environment's in-flight report can silently undo it (editing the item
by hand could: a write conditioned on the old version would still pass). Environments see an
override at their next cache refresh, within one cache TTL.

    python -m breaker.admin --table TABLE show payments
    python -m breaker.admin --table TABLE force payments FORCED_OPEN
    python -m breaker.admin --table TABLE release payments

Credentials, region and endpoint come from the usual AWS SDK settings (``AWS_PROFILE``,
``AWS_REGION``, ``AWS_ENDPOINT_URL_DYNAMODB`` for a local table).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any, Optional, Sequence

from .clock import epoch_ms
from .machine import FORCED_STATES, CircuitRecord, State, force, release
from .store import CircuitStore


def main(argv: Optional[Sequence[str]] = None, client: Any = None) -> int:
    args = _parser().parse_args(argv)
    if client is None:
        import boto3

        client = boto3.client("dynamodb")
    store = CircuitStore(client, args.table)
    now_ms = epoch_ms()
    if args.command == "show":
        record = store.get(args.circuit)
    elif args.command == "force":
        record = store.apply(args.circuit, lambda current: force(current, State(args.state), now_ms)).record
    else:
        record = store.apply(args.circuit, lambda current: release(current, now_ms)).record
    print(json.dumps(_plain(record), indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m breaker.admin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", required=True, help="the circuits table (stack output table_name)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="print a circuit's record").add_argument("circuit")
    forcing = commands.add_parser("force", help="put an override in place: no observation changes it")
    forcing.add_argument("circuit")
    forcing.add_argument("state", choices=sorted(state.value for state in FORCED_STATES))
    commands.add_parser("release", help="lift an override: the circuit starts afresh, CLOSED").add_argument("circuit")
    return parser


def _plain(record: CircuitRecord) -> dict[str, Any]:
    return {**asdict(record), "state": record.state.value}


if __name__ == "__main__":
    sys.exit(main())
