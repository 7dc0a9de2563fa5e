"""One stack's fleet on this machine: what ``pulumi up`` creates, each part replaced by a local one.

- DynamoDB and SSM: moto's server on loopback, with the circuits table created as the program
  declares it and one SSM parameter per mock holding its mode, named and initialised as the
  program does;
- per service: the mock (a local HTTP endpoint in a process of its own), the business function's
  execution environments (the extension layer and the business bundle, with the variables the
  program sets, computed by the program's own ``business_variables``) and the checker's
  environment for the service's schedule.

Every function runs its built artifact (runtime/artifacts.py), the very tree its zip is made of.
Two variables differ from what the program sets, because of where the fleet runs: each business
environment's extension listens on a port of its own (``CIRCUIT_BREAKER_PORT``; here the
environments share one loopback, in Lambda each has its own), and ``CIRCUIT_BREAKER_PYTHON``
names this interpreter (the launcher's ``python3`` on this PATH may lack boto3, which Lambda's
runtime has). The token check stays on: the emulator gives each environment its session token.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import boto3

from artifacts import build_function_dir, build_layer_dir
from breaker.store import CircuitStore
from infra.checker import MEMORY_MB as CHECKER_MEMORY_MB
from infra.config import ServiceConfig
from infra.environment import Environment
from infra.service import BUSINESS_MEMORY_MB, MOCK_RESOURCE_PATH, business_variables, timeout_above
from local_aws.dynamodb import LocalDynamoDB, create_circuit_table
from local_aws.emulator import ExecutionEnvironment, ProcessInfo

from .mocks import MockEndpoint, ModeParameters, ServiceCalls, failure_rule
from .pool import EnvironmentPool, in_parallel
from .ports import ListenPorts
from .stack import LocalPlan
from .timescale import TimeScale


@dataclass
class ServiceUnits:
    """What runs for one service."""

    service: ServiceConfig  # with its durations compressed
    mode_parameter: str
    mock: MockEndpoint  # its ``calls`` count what reached it
    business: EnvironmentPool
    checker: EnvironmentPool


@dataclass(frozen=True)
class ShutdownReport:
    environments: int
    extensions: int  # external extension processes started
    told_shutdown: int  # of them, those the SHUTDOWN event was delivered to
    processes: int  # every process the fleet started (functions, extensions, mocks)
    still_running: int  # none, once the fleet is closed


class Fleet:
    """Build, start and stop the fleet; use as a context manager (closing stops everything)."""

    def __init__(self, plan: LocalPlan, scale: TimeScale, business_environments: int, workdir: Path) -> None:
        self.plan = plan
        self._scale = scale
        self._business_environments = business_environments
        self._workdir = workdir
        self._environment = Environment.from_config(plan.stack, plan.name)
        self.table = self._environment.physical_name("circuits")
        self.db = LocalDynamoDB()
        self.units: dict[str, ServiceUnits] = {}
        self._mocks: dict[str, MockEndpoint] = {}
        self._ports = ListenPorts()
        self._functions_down = False
        # Whatever has started, stopped in reverse order: functions (their extensions flush to
        # DynamoDB on SHUTDOWN), then the mocks, then moto.
        self._started = contextlib.ExitStack()

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> None:
        build = self._workdir / "build"
        layer = build_layer_dir(build / "layer")
        code = {kind: build_function_dir(kind, build / kind) for kind in ("business", "checker", "mock")}
        self._started.enter_context(self.db)
        create_circuit_table(self.db.client(), self.table)
        modes = self.mode_parameters()
        parameters = {}
        for service_id, service in self.plan.services.items():
            parameters[service_id] = service.mode_parameter(self._environment.name)
            modes.write(parameters[service_id], service.initial_mode())
            mock = MockEndpoint(service_id, self._mock_variables(service, parameters[service_id], code["mock"]),
                                ServiceCalls(failure_rule(service)), self._log_dir("mocks") / f"{service_id}.log")
            self._started.callback(mock.stop)
            self._mocks[service_id] = mock
        for mock in self._mocks.values():
            mock.wait_listening()
        self._started.callback(self.shutdown_functions, grace_s=0)
        for service_id, service in self.plan.services.items():
            compressed = self._scale.service(service)
            mock = self._mocks[service_id]
            self.units[service_id] = ServiceUnits(
                compressed, parameters[service_id], mock,
                EnvironmentPool(self._business(compressed, mock.base_url, layer, code["business"]),
                                self._business_environments),
                EnvironmentPool(self._checker(service_id, code["checker"]), 1),
            )
        in_parallel([pool.start for pool in self._pools()])

    def _business(
        self, service: ServiceConfig, mock_url: str, layer: Path, code: Path
    ) -> Callable[[int], ExecutionEnvironment]:
        name = self._environment.physical_name(f"{service.id}-business")
        variables = {
            key: str(value)
            for key, value in business_variables(service, mock_url + MOCK_RESOURCE_PATH, self.table).items()
        }
        variables.update(AWS_ENDPOINT_URL_DYNAMODB=self.db.endpoint_url, CIRCUIT_BREAKER_PYTHON=sys.executable)

        def make(number: int) -> ExecutionEnvironment:
            return ExecutionEnvironment(
                name, "services.business.handler", [code, layer / "python"], layer_dir=layer,
                env={**variables, "CIRCUIT_BREAKER_PORT": str(self._ports.take())},
                timeout_s=timeout_above(service.call_timeout_s), memory_mb=BUSINESS_MEMORY_MB,
                log_dir=self._log_dir(f"{name}-{number}"),
            )

        return make

    def _checker(self, service_id: str, code: Path) -> Callable[[int], ExecutionEnvironment]:
        name = self._environment.physical_name(f"checker-{service_id}")
        variables = {"CIRCUIT_BREAKER_TABLE": self.table, "AWS_ENDPOINT_URL_DYNAMODB": self.db.endpoint_url}

        def make(number: int) -> ExecutionEnvironment:
            return ExecutionEnvironment(
                name, "checker.handler.handler", [code], env=variables,
                timeout_s=self.plan.stack.checker_timeout_s, memory_mb=CHECKER_MEMORY_MB,
                log_dir=self._log_dir(f"{name}-{number}"),
            )

        return make

    def _pools(self) -> list[EnvironmentPool]:
        return [pool for unit in self.units.values() for pool in (unit.business, unit.checker)]

    def _mock_variables(self, service: ServiceConfig, parameter: str, code: Path) -> dict[str, str]:
        """The deployed mock's variables, with boto3 pointed at moto's SSM."""
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "PYTHONPATH": str(code),
            "MOCK_MODE_PARAMETER": parameter,
            "MOCK_DEFAULT_MODE": service.initial_mode(),
            "MOCK_MODE_CACHE_S": str(self._scale.mock_mode_cache_s),
            "AWS_ENDPOINT_URL_SSM": self.db.endpoint_url,
            **{key: value for key, value in self.db.environment().items() if key != "AWS_ENDPOINT_URL_DYNAMODB"},
        }

    def _log_dir(self, name: str) -> Path:
        path = self._workdir / "logs" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- what the run reads -----------------------------------------------------------------------

    def store(self) -> CircuitStore:
        return CircuitStore(self.db.client(), self.table)

    def mode_parameters(self) -> ModeParameters:
        return ModeParameters(self._ssm_client())

    def _ssm_client(self) -> Any:
        return boto3.client(
            "ssm", endpoint_url=self.db.endpoint_url, region_name=self.db.region,
            aws_access_key_id="local", aws_secret_access_key="local",
        )

    def shutdown_report(self) -> ShutdownReport:
        environments = [environment for pool in self._pools() for environment in pool.environments]
        processes: list[ProcessInfo] = [process for pool in self._pools() for process in pool.processes()]
        extensions = [p for p in processes if p.kind == "extension"]
        told = sum(
            1 for environment in environments for event in environment.events
            if event.target != "runtime" and isinstance(event.body, dict) and event.body.get("eventType") == "SHUTDOWN"
        )
        running = sum(1 for p in processes if p.returncode is None)
        running += sum(1 for mock in self._mocks.values() if mock.running)
        return ShutdownReport(len(environments), len(extensions), told, len(processes) + len(self._mocks), running)

    # -- stop -------------------------------------------------------------------------------------

    def shutdown_functions(self, grace_s: float) -> None:
        """Let invocations in flight finish (up to ``grace_s``), then SHUTDOWN every environment."""
        if self._functions_down:
            return
        self._functions_down = True
        in_parallel([functools.partial(pool.drain, grace_s) for pool in self._pools()])
        in_parallel([pool.shutdown for pool in self._pools()])

    def close(self) -> None:
        """Stop whatever started, in reverse order; idempotent."""
        self._started.close()
