"""One Lambda function with what it needs to run alone: its role, its policy and its log group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from infra.bundles import Bundle
from infra.encryption import EncryptionKey
from infra.environment import Environment
from infra.iam import Statement, assume_role_policy, function_statements, policy_document
from infra.tags import FunctionRole


@dataclass(frozen=True)
class LambdaFunctionArgs:
    env: Environment
    component: str  # the component the function belongs to, for its tags
    role: FunctionRole
    code: Bundle
    handler: str
    memory_mb: int
    timeout_s: int
    variables: Mapping[str, pulumi.Input[str]]
    statements: Sequence[Statement] = ()  # data access, on top of its own logs and tracing
    layers: Sequence[pulumi.Input[str]] = ()
    key: Optional[EncryptionKey] = None  # encrypts the log group


class LambdaFunction(pulumi.ComponentResource):
    """A function named ``cb-<environment>-<name>`` with a role of its own.

    The function's name is fixed so its log group ``/aws/lambda/<name>`` can be created first,
    with retention (and the stack's key); the function logs to it by name (``logging_config``),
    which also makes Pulumi create the log group before the function. Otherwise Lambda would
    create the group on the first invocation, never expiring and unencrypted.

    The role can be assumed only by Lambda and allows writing to that log group, sending traces
    and the given statements, nothing else. :attr:`role` is exposed so a component can attach
    further scoped policies (the checker adds one per probed circuit).
    """

    name: pulumi.Output[str]  # the fixed name, as an output so users depend on the function
    arn: pulumi.Output[str]
    role: aws.iam.Role

    def __init__(self, name: str, args: LambdaFunctionArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("circuit-breaker:infra:LambdaFunction", name, None, opts)
        env = args.env
        child = pulumi.ResourceOptions(parent=self)
        tags = env.tagging.component(args.component)
        function_name = env.physical_name(name)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=env.log_retention_days,
            kms_key_id=args.key.arn if args.key else None,
            tags=tags,
            opts=child if args.key is None else pulumi.ResourceOptions(parent=self, depends_on=[args.key.policy]),
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"Runs the Lambda function {function_name}",
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=policy_document(*function_statements(log_group.arn, args.statements)),
            opts=child,
        )
        function = aws.lambda_.Function(
            name,
            name=function_name,
            role=self.role.arn,
            runtime=env.lambda_runtime,
            architectures=[env.architecture],
            handler=args.handler,
            code=args.code.archive,
            source_code_hash=args.code.sha256,
            memory_size=args.memory_mb,
            timeout=args.timeout_s,
            layers=list(args.layers),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.variables)),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
            tags=env.tagging.function(args.component, args.role),
            # The first invocation must find the role's permissions in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.name = function.name
        self.arn = function.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
