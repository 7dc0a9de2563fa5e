"""What a circuit lookup costs the function, next to the loopback floor and a DynamoDB read.

Three round trips, measured in the same run, each on one persistent ``http.client``
connection with Nagle off, one request at a time:

- ``extension``: ``GET /circuits/{id}`` (with the token header) against the real extension
  process in an emulated execution environment; its cache TTL is set to an hour so every
  lookup is a cache hit, which is the figure in question;
- ``loopback``: the same-sized GET against a bare ``http.server`` in its own process (the floor:
  what any loopback HTTP exchange in Python costs on this machine);
- ``dynamodb``: a ``GetItem`` of the circuit's item on moto's server in its own process (what
  the function would pay per call without a local cache; real DynamoDB adds the network).

Each target gets a warm-up, then ``RUNS`` runs of ``REQUESTS`` requests; a run gives its p50,
p99 and requests per second, and the figure is the median over runs.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from .extension_env import CIRCUIT, Table, circuits_table, extension_environment, free_port, function_dir
from .servers import serving

RUNS = 5
REQUESTS = 2000
DYNAMODB_REQUESTS = 500  # moto answers in milliseconds: fewer requests for the same precision
WARMUP = 200


@dataclass(frozen=True)
class Latency:
    target: str
    p50_us: float
    p99_us: float
    per_s: float  # sequential requests per second on one connection
    runs: int
    requests: int  # per run


@dataclass(frozen=True)
class Lookups:
    extension: Latency
    floor: Latency
    dynamodb: Latency

    def all(self) -> tuple[Latency, ...]:
        return self.extension, self.floor, self.dynamodb


RoundTrip = Callable[[], bytes]  # one request and its whole answer


def measure(layer_dir: Path, work: Path) -> Lookups:
    with serving("dynamodb") as dynamodb_endpoint, serving("loopback") as loopback_endpoint:
        table = circuits_table(dynamodb_endpoint)
        port = free_port()
        with extension_environment(layer_dir, function_dir(work), table, port, cache_ttl_s=3600) as environment:
            environment.invoke({})  # one INVOKE, as before any real lookup
            headers = {"X-Circuit-Breaker-Token": environment.session_token}
            extension = _get(f"http://127.0.0.1:{port}", f"/circuits/{CIRCUIT}", headers)
            floor = _get(loopback_endpoint, f"/circuits/{CIRCUIT}", {})
            get_item = _get_item(table)
            return Lookups(
                _timed("extension GET /circuits/{id}, cache hit", extension, REQUESTS),
                _timed("bare loopback http.server (floor)", floor, REQUESTS),
                _timed("DynamoDB GetItem on moto", get_item, DYNAMODB_REQUESTS),
            )


def _connection(endpoint: str) -> http.client.HTTPConnection:
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    connection.connect()
    assert connection.sock is not None
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def _exchange(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> bytes:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: HTTP {response.status} {data[:200]!r}")
    return data


def _get(endpoint: str, path: str, headers: dict[str, str]) -> RoundTrip:
    connection = _connection(endpoint)
    return lambda: _exchange(connection, "GET", path, None, headers)


def _get_item(table: Table) -> RoundTrip:
    """GetItem as the SDK sends it; moto reads the region from the credential scope, not the signature."""
    connection = _connection(table.endpoint)
    body = json.dumps({"TableName": table.name, "Key": {"id": {"S": CIRCUIT}}}).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.GetItem",
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    return lambda: _exchange(connection, "POST", "/", body, headers)


def _timed(target: str, round_trip: RoundTrip, requests: int) -> Latency:
    for _ in range(WARMUP):
        round_trip()
    runs = []
    for _ in range(RUNS):
        samples = []
        started = time.perf_counter_ns()
        for _ in range(requests):
            before = time.perf_counter_ns()
            round_trip()
            samples.append(time.perf_counter_ns() - before)
        elapsed_s = (time.perf_counter_ns() - started) / 1e9
        percentiles = statistics.quantiles(samples, n=100, method="inclusive")
        runs.append((percentiles[49] / 1000, percentiles[98] / 1000, requests / elapsed_s))
    return Latency(
        target,
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        statistics.median(r[2] for r in runs),
        RUNS,
        requests,
    )
