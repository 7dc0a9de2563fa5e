"""Fixtures for the extension tests: a built layer, moto's DynamoDB, and running extensions.

Each test gets its own table, so one DynamoDB server serves the whole folder. The
function-side client is imported from the layer's ``python/`` folder, as a function would;
the extension's package is importable too, for the few tests that run its parts in-process.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

import pytest

EXTENSION_SOURCE = Path(__file__).resolve().parents[2] / "runtime" / "extension"
sys.path[:0] = [str(EXTENSION_SOURCE / "python"), str(EXTENSION_SOURCE)]

from artifacts import build_layer_dir  # noqa: E402
from breaker.machine import CircuitRecord  # noqa: E402
from breaker.store import CircuitStore  # noqa: E402
from circuit_breaker_client import CircuitBreakerClient  # noqa: E402
from extension_harness import TOKEN, ExtensionProcess, ExtensionsApiStub, TcpProxy, call, free_port  # noqa: E402
from local_aws.dynamodb import LocalDynamoDB, create_circuit_table  # noqa: E402


@pytest.fixture(scope="session")
def layer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_layer_dir(tmp_path_factory.mktemp("build") / "layer")


@pytest.fixture(scope="session")
def dynamodb() -> Iterator[LocalDynamoDB]:
    with LocalDynamoDB() as server:
        yield server


@pytest.fixture
def table(dynamodb: LocalDynamoDB) -> str:
    name = f"circuits-{uuid.uuid4().hex[:12]}"
    create_circuit_table(dynamodb.client(), name)
    return name


@pytest.fixture
def stored(dynamodb: LocalDynamoDB, table: str) -> Callable[[str], CircuitRecord]:
    """Reads a circuit's record straight from the table (strongly consistent)."""
    store = CircuitStore(dynamodb.client(), table)
    return store.get


@dataclass
class Running:
    """One extension process with its own Extensions API stub."""

    process: ExtensionProcess
    stub: ExtensionsApiStub
    port: int
    clients: list[CircuitBreakerClient] = field(default_factory=list)

    def client(self, **options: Any) -> CircuitBreakerClient:
        client = CircuitBreakerClient(port=self.port, token=options.pop("token", TOKEN), **options)
        self.clients.append(client)
        return client

    def get(self, circuit_id: str, **options: Any) -> tuple[int, Any]:
        return call(self.port, "GET", f"/circuits/{circuit_id}", **options)

    def report(self, circuit_id: str, outcome: str, body: Any = None, **options: Any) -> tuple[int, Any]:
        return call(self.port, "POST", f"/circuits/{circuit_id}/{outcome}", body, **options)

    def shut_down(self, budget_ms: int = 2000) -> int:
        """Send SHUTDOWN and return the exit code."""
        self.stub.shutdown(budget_ms)
        return self.process.wait_exit()

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.process.stop()
        self.stub.close()


Launch = Callable[..., Running]


@pytest.fixture
def launch(layer_dir: Path, dynamodb: LocalDynamoDB, table: str) -> Iterator[Launch]:
    """Start an extension: ``launch(circuits, env={...}, endpoint=url, ready=True, port=None)``.

    ``circuits`` maps circuit ids to settings (``CIRCUIT_BREAKER_CIRCUITS``); ``env`` adds or
    overrides variables (a value of None removes one); ``endpoint`` replaces the DynamoDB
    endpoint (a :class:`TcpProxy`'s, say). With ``ready`` it returns once the extension waits
    for its first event, i.e. it has registered and loaded boto3.
    """
    running: list[Running] = []

    def start(
        circuits: Mapping[str, Any],
        env: Optional[Mapping[str, Optional[str]]] = None,
        endpoint: Optional[str] = None,
        ready: bool = True,
        port: Optional[int] = None,
    ) -> Running:
        port = port or free_port()
        stub = ExtensionsApiStub(probe_port=port)
        environ: dict[str, Optional[str]] = {
            **dynamodb.environment(),
            "AWS_LAMBDA_RUNTIME_API": stub.address,
            "AWS_SESSION_TOKEN": TOKEN,
            "CIRCUIT_BREAKER_TABLE": table,
            "CIRCUIT_BREAKER_CIRCUITS": json.dumps(circuits),
            "CIRCUIT_BREAKER_PORT": str(port),
        }
        if endpoint is not None:
            environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        environ.update(env or {})
        process = ExtensionProcess(layer_dir, {k: v for k, v in environ.items() if v is not None})
        extension = Running(process, stub, port)
        running.append(extension)
        if ready:
            stub.wait_next_calls(1)
        return extension

    yield start
    for extension in running:
        extension.close()


@pytest.fixture
def proxy(dynamodb: LocalDynamoDB) -> Iterator[TcpProxy]:
    """A cuttable link to DynamoDB: pass ``proxy.endpoint_url`` as ``endpoint``."""
    link = TcpProxy(int(dynamodb.endpoint_url.rsplit(":", 1)[1]))
    yield link
    link.close()
