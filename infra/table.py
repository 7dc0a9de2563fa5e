"""The circuits table: one item per circuit, keyed by the circuit id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from infra.encryption import EncryptionKey
from infra.environment import Environment

COMPONENT = "table"


@dataclass(frozen=True)
class CircuitTableArgs:
    env: Environment
    deletion_protection: bool
    key: Optional[EncryptionKey] = None  # None: the AWS-managed key for DynamoDB


class CircuitTable(pulumi.ComponentResource):
    """On-demand, so an idle stack costs nothing and a burst of reports never throttles;
    point-in-time recovery, because the records are the fleet's shared memory of each
    dependency; encrypted with KMS (the stack's key when there is one)."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: CircuitTableArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("circuit-breaker:infra:CircuitTable", name, None, opts)
        table = aws.dynamodb.Table(
            name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="id",
            attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.key.arn if args.key else None
            ),
            deletion_protection_enabled=args.deletion_protection,
            tags=args.env.tagging.component(COMPONENT),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = table.name
        self.arn = table.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
