"""IAM policy documents, built as plain dicts and serialised with ``pulumi.Output.json_dumps``.

Plain dicts rather than ``aws.iam.get_policy_document``: no provider invoke, so the documents
are the same under the SDK's mocks as in a real deployment and tests can read them directly.
Every helper returns one statement; :func:`policy_document` puts statements together. Data
actions are always scoped to one resource (and, on the table, to given partition keys).

The statement helpers take plain strings as well as Outputs and need the Pulumi SDK only for
Outputs, so infra/limits.py sizes the very documents the program deploys at config time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional

if TYPE_CHECKING:
    import pulumi

Statement = dict[str, Any]  # may hold Outputs anywhere; json_dumps resolves them

# What a function does to circuit records: the extension batch-reads its circuits, the checker
# reads one with a consistent read, and both write with conditional updates.
CIRCUIT_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem")


def policy_document(*statements: Statement) -> pulumi.Output[str]:
    import pulumi

    return pulumi.Output.json_dumps(_document(statements))


def document_size(*statements: Statement) -> int:
    """The characters IAM counts for a document of plain ``statements``: its JSON without
    whitespace (IAM ignores whitespace outside strings; none of ours has any inside one)."""
    return len(json.dumps(_document(statements), separators=(",", ":")))


def _document(statements: Iterable[Statement]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _joined(*parts: Any) -> Any:
    """``parts`` concatenated: a string when all are strings, else an Output."""
    if all(isinstance(part, str) for part in parts):
        return "".join(parts)
    import pulumi

    return pulumi.Output.concat(*parts)


def _mapped(value: Any, function: Callable[[str], Any]) -> Any:
    """``function(value)``, through ``apply`` when ``value`` is an Output."""
    if isinstance(value, str):
        return function(value)
    import pulumi

    return pulumi.Output.from_input(value).apply(function)


def assume_role_policy(service: str, condition: Optional[Mapping[str, Any]] = None) -> pulumi.Output[str]:
    """A trust policy that lets only ``service`` (e.g. ``lambda.amazonaws.com``) assume the role."""
    statement: Statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return policy_document(statement)


def function_statements(log_group_arn: pulumi.Input[str], data: Iterable[Statement]) -> list[Statement]:
    """Everything a function's own role policy holds: its logs, its traces, then its ``data`` access."""
    return [log_statement(log_group_arn), tracing_statement(), *data]


def log_statement(log_group_arn: pulumi.Input[str]) -> Statement:
    """Write to one log group. The log group ARN has no ``:*``; its streams are ``<arn>:*``."""
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": _joined(log_group_arn, ":*"),
    }


def tracing_statement() -> Statement:
    """Send X-Ray traces. These two actions support no resource-level scoping, hence ``*``."""
    return {
        "Sid": "SendTraces",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": "*",
    }


def circuit_statement(sid: str, table_arn: pulumi.Input[str], circuit_ids: Iterable[str]) -> Statement:
    """Read and update the records of exactly ``circuit_ids`` in the circuits table.

    ``ForAllValues:StringEquals`` on ``dynamodb:LeadingKeys`` holds only when every key a
    request touches is listed, so a BatchGetItem that names another circuit is refused whole.
    """
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(CIRCUIT_ACTIONS),
        "Resource": table_arn,
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": sorted(circuit_ids)}},
    }


def table_key_statement(key_arn: pulumi.Input[str]) -> Statement:
    """Use the stack's KMS key, only through DynamoDB, as reads and writes of the encrypted table need."""
    via_dynamodb = _mapped(key_arn, lambda arn: service_host("dynamodb", Arn.parse(arn)))
    return {
        "Sid": "UseTableKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": via_dynamodb}},
    }


@dataclass(frozen=True)
class Arn:
    """The parts of an ARN (``arn:partition:service:region:account:resource``) a policy needs.

    Reading the account and region from the ARN of a resource the stack has just created
    saves a provider invoke (``aws.get_caller_identity``), which keeps the program identical
    under the SDK's mocks.
    """

    partition: str
    service: str
    region: str
    account: str

    @classmethod
    def parse(cls, arn: str) -> "Arn":
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            raise ValueError(f"not an ARN: {arn!r}")
        return cls(partition=parts[1], service=parts[2], region=parts[3], account=parts[4])


def service_host(service: str, arn: Arn) -> str:
    """The endpoint name of ``service`` in the ARN's region, as ``kms:ViaService`` and service principals spell it."""
    suffix = "amazonaws.com.cn" if arn.partition == "aws-cn" else "amazonaws.com"
    return f"{service}.{arn.region}.{suffix}"
