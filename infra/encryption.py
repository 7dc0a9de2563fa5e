"""The stack's customer-managed KMS key (``kms_key: true``), for the table and the log groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from infra.environment import Environment
from infra.iam import Arn, policy_document, service_host

COMPONENT = "key"

# What CloudWatch Logs does with the key of an encrypted log group (AWS's documented set,
# spelt out rather than with wildcards).
LOGS_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)


@dataclass(frozen=True)
class EncryptionKeyArgs:
    env: Environment


class EncryptionKey(pulumi.ComponentResource):
    """A rotating KMS key whose policy lets the account's IAM policies grant its use and lets
    CloudWatch Logs use it for this stack's function log groups only.

    The policy is a separate ``aws.kms.KeyPolicy`` because it names the account and region,
    which are read from the key's own ARN (see :class:`infra.iam.Arn`). Until it is applied the
    key has AWS's default policy (the account administers it), so nothing is ever locked out;
    log groups wait for :attr:`policy` before they use the key.
    """

    arn: pulumi.Output[str]
    policy: aws.kms.KeyPolicy

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("circuit-breaker:infra:EncryptionKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            name,
            description=f"circuit-breaker {args.env.name}: circuits table and function logs",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=args.env.tagging.component(COMPONENT),
            opts=child,
        )
        self.arn = key.arn
        log_groups = f"/aws/lambda/{args.env.physical_name('*')}"
        self.policy = aws.kms.KeyPolicy(
            f"{name}-policy",
            key_id=key.key_id,
            policy=key.arn.apply(lambda arn: _key_policy(Arn.parse(arn), log_groups)),
            opts=child,
        )
        self.register_outputs({"arn": self.arn})


def _key_policy(key: Arn, log_groups: str) -> pulumi.Output[str]:
    return policy_document(
        {
            # AWS's default key policy statement: without it no IAM policy could grant the key.
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{key.partition}:iam::{key.account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "LogsEncryptStackLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": service_host("logs", key)},
            "Action": list(LOGS_KEY_ACTIONS),
            "Resource": "*",  # in a key policy, "*" is this key
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn":
                        f"arn:{key.partition}:logs:{key.region}:{key.account}:log-group:{log_groups}"
                }
            },
        },
    )
