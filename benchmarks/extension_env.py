"""A Lambda execution environment running the real extension from the built layer.

``local.emulator.ExecutionEnvironment`` starts every executable of the layer's ``extensions/``
the way Lambda does (the launcher, then the extension process, which registers with the
Extensions API and loops on ``event/next``), and a do-nothing function under awslambdaric.
The extension reads its circuits from moto's DynamoDB through ``AWS_ENDPOINT_URL_DYNAMODB``.
"""

from __future__ import annotations

import json
import socket
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import boto3

from local_aws.dynamodb import LocalDynamoDB, create_circuit_table
from local_aws.emulator import ExecutionEnvironment

CIRCUIT = "payments"
HANDLER_SOURCE = "def handler(event, context):\n    return None\n"


@dataclass(frozen=True)
class Table:
    endpoint: str
    name: str

    def environment(self) -> dict[str, str]:
        """What points boto3 in the extension at moto (credentials are moto's dummies)."""
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoint,
            "AWS_REGION": LocalDynamoDB.region,
            "AWS_DEFAULT_REGION": LocalDynamoDB.region,
        }


def circuits_table(endpoint: str) -> Table:
    """A fresh circuits table on moto's server at ``endpoint``, holding one CLOSED circuit."""
    client: Any = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=LocalDynamoDB.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    table = Table(endpoint, f"circuits-{uuid.uuid4().hex[:8]}")
    create_circuit_table(client, table.name)
    client.put_item(TableName=table.name, Item={"id": {"S": CIRCUIT}, "state": {"S": "CLOSED"}, "version": {"N": "1"}})
    return table


def function_dir(root: Path) -> Path:
    """A function that does nothing: the figures are the extension's."""
    folder = root / "function"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(HANDLER_SOURCE)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def extension_environment(
    layer_dir: Path, code_dir: Path, table: Table, port: int, cache_ttl_s: float = 5.0
) -> Iterator[ExecutionEnvironment]:
    """A started environment whose extension serves ``CIRCUIT`` on 127.0.0.1:``port``; shut down on exit."""
    env = {
        **table.environment(),
        "CIRCUIT_BREAKER_TABLE": table.name,
        "CIRCUIT_BREAKER_CIRCUITS": json.dumps({CIRCUIT: {}}),
        "CIRCUIT_BREAKER_PORT": str(port),
        "CIRCUIT_BREAKER_CACHE_TTL_S": str(cache_ttl_s),
        # The launcher runs "python3" from PATH by default, as on Lambda; here, this venv's
        # interpreter, which has boto3 as the Lambda runtime does.
        "CIRCUIT_BREAKER_PYTHON": sys.executable,
    }
    environment = ExecutionEnvironment("bench", "app.handler", [code_dir], layer_dir=layer_dir, env=env)
    environment.start()
    try:
        yield environment
    finally:
        environment.shutdown()
