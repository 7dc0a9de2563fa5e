"""What grows with the config: each function's environment and its data statements.

One home for the program (infra/service.py, infra/checker.py) and for the quota checks made at
config time (infra/limits.py), which call these same builders with the longest values the
unknowns can take, so a check always measures what the program deploys. Pure: values may be
strings or Outputs; nothing here needs the Pulumi SDK.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable, Optional

from infra.iam import Statement, circuit_statement, table_key_statement

if TYPE_CHECKING:
    from infra.config import ServiceConfig

# Physical names start with this short prefix, not the project name: a Lambda function name has
# at most 64 characters and `cb-<environment (16)>-<service id (32)>-business` has to fit.
NAME_PREFIX = "cb"
# Where the extension listens on loopback; the client reads the same variable.
EXTENSION_PORT = 4243


def physical_name(environment: str, name: str) -> str:
    """The AWS name of a resource that needs a fixed one, e.g. ``cb-dev-payments-business``."""
    return f"{NAME_PREFIX}-{environment}-{name}"


def business_variables(service: ServiceConfig, service_url: Any, table_name: Any) -> dict[str, Any]:
    """What the business function reads (runtime/services/business.py) and what its extension
    and client read (runtime/extension): the one circuit it uses, with its breaker settings."""
    return {
        "CIRCUIT_ID": service.id,
        "SERVICE_URL": service_url,
        "CALL_TIMEOUT_S": str(service.call_timeout_s),
        "CIRCUIT_BREAKER_TABLE": table_name,
        "CIRCUIT_BREAKER_CIRCUITS": json.dumps({service.id: service.breaker.to_mapping()}, separators=(",", ":")),
        "CIRCUIT_BREAKER_PORT": str(EXTENSION_PORT),
        "CIRCUIT_BREAKER_CACHE_TTL_S": str(service.cache_ttl_s),
        "CIRCUIT_BREAKER_UNKNOWN_STATE": service.unknown_state.value,
    }


def mock_variables(service: ServiceConfig, parameter_name: Any) -> dict[str, Any]:
    """What the mock reads (runtime/services/mock.py): where its mode lives, and its first mode."""
    return {"MOCK_MODE_PARAMETER": parameter_name, "MOCK_DEFAULT_MODE": service.initial_mode()}


def checker_variables(table_name: Any) -> dict[str, Any]:
    return {"CIRCUIT_BREAKER_TABLE": table_name}


def business_statements(service: ServiceConfig, table_arn: Any, key_arn: Optional[Any]) -> list[Statement]:
    return [circuit_statement("OwnCircuit", table_arn, [service.id]), *_key(key_arn)]


def mock_statements(parameter_arn: Any) -> list[Statement]:
    return [{"Sid": "ReadMode", "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": parameter_arn}]


def checker_statements(circuit_ids: Iterable[str], table_arn: Any, key_arn: Optional[Any]) -> list[Statement]:
    """One statement for every probed circuit: its size grows by the ids alone (about 35
    characters for a 32-character id), which keeps a 200-service checker within IAM's quota."""
    return [circuit_statement("ProbedCircuits", table_arn, circuit_ids), *_key(key_arn)]


def scheduler_statements(function_arn: Any) -> list[Statement]:
    """What the schedules' role may do: invoke the checker, nothing else."""
    return [{"Sid": "InvokeChecker", "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": function_arn}]


def _key(key_arn: Optional[Any]) -> list[Statement]:
    return [table_key_statement(key_arn)] if key_arn is not None else []
