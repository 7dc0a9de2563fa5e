"""The HTTP API in-process, for what a healthy extension process cannot be made to do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from circuit_breaker_extension.http_api import ApiServer
from extension_harness import TOKEN, call


class BrokenService:
    """Stands in for a CircuitService with a bug."""

    circuit_ids = frozenset({"payments"})

    def lookup(self, circuit_id: str) -> None:
        raise RuntimeError("a bug")

    def health(self) -> dict[str, object]:
        return {}


@pytest.fixture
def server() -> Iterator[ApiServer]:
    api = ApiServer(0, TOKEN)
    api.start()
    yield api
    api.shutdown()
    api.server_close()


def test_before_boto3_is_loaded_health_answers_and_circuits_wait(server: ApiServer) -> None:
    port = server.server_address[1]
    assert call(port, "GET", "/health") == (200, {"status": "starting"})
    status, answer = call(port, "GET", "/circuits/payments")
    assert status == 503 and "starting" in answer["error"]
    assert call(port, "POST", "/circuits/payments/failure")[0] == 503


def test_a_bug_answers_500_json_and_the_server_keeps_serving(server: ApiServer) -> None:
    server.service = BrokenService()  # type: ignore[assignment]
    port = server.server_address[1]
    for _ in range(3):
        status, answer = call(port, "GET", "/circuits/payments")
        assert status == 500 and "internal error" in answer["error"]
    assert call(port, "GET", "/health") == (200, {"status": "ok"})
    assert call(port, "GET", "/circuits/other")[0] == 404
