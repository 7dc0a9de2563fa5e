"""The mock services as local HTTP endpoints, their modes in SSM, and what reached them.

Each mock runs the real handler in a process of its own (:mod:`local_stack.mock_http`) on a free
loopback port. Its mode lives in an SSM parameter on moto's server, named and initialised as
the Pulumi program does it, and is switched by writing that parameter, as an operator would.
Every answered request is counted, with whether the mock failed it; the arrival time of each
failed one is kept, so the run can tell which reached the service while its circuit was OPEN.
"""

from __future__ import annotations

import bisect
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Mapping, Optional

from infra.config import ServiceConfig

ROOT = Path(__file__).resolve().parent.parent  # where ``python -m local_stack.mock_http`` is found
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 2.0

FailureRule = Callable[[int, float], bool]  # (status, delayed_ms) -> whether the caller counts it as failed


def failure_rule(service: ServiceConfig) -> FailureRule:
    """Whether a mock's answer is a failure for its callers, as the breaker classifies it: not
    2xx, or slower than the slow-call threshold or the call timeout."""
    limits = [service.call_timeout_s * 1000]
    if service.breaker.slow_call_threshold_ms is not None:
        limits.append(service.breaker.slow_call_threshold_ms)
    slowest_ms = min(limits)
    return lambda status, delayed_ms: not 200 <= status < 300 or delayed_ms >= slowest_ms


@dataclass(frozen=True)
class CallCounts:
    requests: int  # every request the mock answered
    failed: int  # those it failed (see failure_rule)


class ServiceCalls:
    """What reached one mock; fed from the mock's process, read by the display and the verdict."""

    def __init__(self, is_failure: FailureRule) -> None:
        self._is_failure = is_failure
        self._lock = threading.Lock()
        self._requests = 0
        self._failed_at_ms: list[int] = []  # sorted: lines arrive nearly in order, bisect keeps it exact

    def record(self, at_ms: int, status: int, delayed_ms: float) -> None:
        with self._lock:
            self._requests += 1
            if self._is_failure(status, delayed_ms):
                bisect.insort(self._failed_at_ms, at_ms)

    def counts(self) -> CallCounts:
        with self._lock:
            return CallCounts(self._requests, len(self._failed_at_ms))

    def failed_between(self, start_ms: int, end_ms: int) -> int:
        """Failed calls that arrived in ``[start_ms, end_ms)`` (epoch milliseconds)."""
        with self._lock:
            return bisect.bisect_left(self._failed_at_ms, end_ms) - bisect.bisect_left(self._failed_at_ms, start_ms)


class MockError(RuntimeError):
    """A mock process did not come up."""


class MockEndpoint:
    """One mock's process: start it, learn its port, count its requests, stop it."""

    def __init__(self, service_id: str, environ: Mapping[str, str], calls: ServiceCalls, log_path: Path) -> None:
        self.service_id = service_id
        self.calls = calls
        self._log_path = log_path
        self._log: IO[bytes] = open(log_path, "ab")
        # A session of its own: a Ctrl-C in the terminal reaches the local stack, which stops
        # this process itself, after the functions that call it.
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local_stack.mock_http"],
            cwd=ROOT,
            env=dict(environ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        self._port: Optional[int] = None
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read, name=f"mock-{service_id}", daemon=True)
        self._reader.start()

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise MockError(f"mock {self.service_id} is not listening")
        return f"http://127.0.0.1:{self._port}"

    def wait_listening(self) -> None:
        if not self._listening.wait(START_TIMEOUT_S) or self._port is None:
            log = self._log_path.read_text(errors="replace")[-2000:]
            raise MockError(f"mock {self.service_id} did not start: {log}")

    def stop(self) -> None:
        """Close its stdin (it leaves at once), kill its group if it lingers, reap it."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._reader.join()
        self._log.close()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            message: dict[str, Any] = json.loads(line)
            if "port" in message:
                self._port = int(message["port"])
                self._listening.set()
            else:
                self.calls.record(message["at_ms"], message["status"], message.get("delayed_ms") or 0)
        self._listening.set()  # it ended: whoever waits for the port finds none


class ModeParameters:
    """The mocks' SSM parameters on moto's server."""

    def __init__(self, ssm_client: Any) -> None:
        self._ssm = ssm_client

    def write(self, name: str, value: str) -> None:
        self._ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
