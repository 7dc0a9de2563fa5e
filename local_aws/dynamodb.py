"""DynamoDB on loopback: moto's server, made atomic per request, counting what it serves.

moto's own ``ThreadedMotoServer`` runs requests concurrently without a lock, so two
conditional writes racing on one item can both pass their condition (seen here: 50 accepted
increments stored as 48). Real DynamoDB applies each conditional write atomically. Serialising
request handling restores that guarantee, which the concurrency tests and the local stack rely
on; the wire protocol is moto's, unchanged.

The server also counts requests per DynamoDB operation (from the ``X-Amz-Target`` header), which
is how the tests, the local stack and the benchmarks measure reads and writes.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Iterable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


class _QuietHandler(MotoRequestHandler):
    """moto's handler without a log line per request (the local stack prints its own view)."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class LocalDynamoDB:
    """moto's DynamoDB on a free 127.0.0.1 port; use as a context manager."""

    region = "us-east-1"

    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()
        self.operations: Counter[str] = Counter()
        self._server = make_server("127.0.0.1", 0, self._serve, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-dynamodb", daemon=True)

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LocalDynamoDB":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> "LocalDynamoDB":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self) -> Any:
        """A boto3 client for this server, with the dummy credentials moto accepts."""
        import boto3

        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def environment(self) -> dict[str, str]:
        """Environment variables that point boto3 in another process at this server."""
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def count(self, operations: Iterable[str]) -> int:
        return sum(self.operations[name] for name in operations)

    @property
    def reads(self) -> int:
        return self.count(READ_OPERATIONS)

    @property
    def writes(self) -> int:
        return self.count(WRITE_OPERATIONS)

    def _serve(self, environ: dict, start_response: Any) -> list[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        with self._lock:
            if target.startswith("DynamoDB_"):
                self.operations[target.split(".", 1)[1]] += 1
            # The body is produced inside the lock: the whole request is one atomic step.
            return list(self._app(environ, start_response))


def create_circuit_table(client: Any, table_name: str) -> None:
    """The circuits table as the Pulumi program declares it: one item per circuit, key ``id``."""
    client.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
