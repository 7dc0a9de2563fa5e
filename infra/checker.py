"""The checker: one function, run by one EventBridge Scheduler schedule per protected service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from infra.bundles import Bundle
from infra.config import ServiceConfig
from infra.encryption import EncryptionKey
from infra.environment import Environment
from infra.function import LambdaFunction, LambdaFunctionArgs
from infra.iam import Arn, assume_role_policy, policy_document
from infra.payloads import checker_statements, checker_variables, scheduler_statements
from infra.table import CircuitTable

COMPONENT = "checker"
MEMORY_MB = 256

# Scheduler's delivery to Lambda is retried twice, and dropped once a minute old: by then the
# next scheduled probe (at least a minute later) says more than a stale one would.
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE_S = 60


@dataclass(frozen=True)
class ProbeTarget:
    """One service to probe: its settings and its base URL (known only once its mock exists)."""

    service: ServiceConfig
    base_url: pulumi.Input[str]
    # What must exist before the first probe can reach the service (a mock's URL and its public
    # permissions); the checker's schedule for the service depends on these.
    ready: Sequence[pulumi.Resource] = ()


@dataclass(frozen=True)
class CheckerArgs:
    env: Environment
    code: Bundle  # the checker's zip
    table: CircuitTable
    timeout_s: int
    targets: Sequence[ProbeTarget]
    key: Optional[EncryptionKey] = None


class Checker(pulumi.ComponentResource):
    """The checker function, with the right to every probed circuit, and a schedule per service.

    The schedules live in a group of the stack's own; the scheduler's role can be assumed only
    for that group and may invoke the checker and nothing else.
    """

    function_name: pulumi.Output[str]
    schedule_group: pulumi.Output[str]
    schedule_names: dict[str, pulumi.Output[str]]  # by service id

    def __init__(self, name: str, args: CheckerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("circuit-breaker:infra:Checker", name, None, opts)
        env = args.env
        child = pulumi.ResourceOptions(parent=self)
        function = LambdaFunction(
            name,
            LambdaFunctionArgs(
                env=env,
                component=COMPONENT,
                role="checker",
                code=args.code,
                handler="checker.handler.handler",
                memory_mb=MEMORY_MB,
                timeout_s=args.timeout_s,
                variables=checker_variables(args.table.name),
                # One statement lists every probed circuit: IAM caps a role's inline policies
                # at 10,240 characters together, which a policy per service used up at about
                # 30 services (docs/deploy.md, Quotas; infra/limits.py checks the config).
                statements=checker_statements(
                    [target.service.id for target in args.targets], args.table.arn, args.key.arn if args.key else None
                ),
                key=args.key,
            ),
            opts=child,
        )
        # Scheduler invokes asynchronously, and Lambda would retry a failed run twice, minutes
        # later and off schedule: each retry a fresh probe counted against the circuit, possibly
        # taking a half-open trial. The schedule alone decides when the checker probes.
        invoke_config = aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-invoke-config",
            function_name=function.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=MAX_EVENT_AGE_S,
            opts=child,
        )
        group = aws.scheduler.ScheduleGroup(
            f"{name}-schedules",
            name=env.physical_name("checks"),
            tags=env.tagging.component(COMPONENT),
            opts=child,
        )
        # The role's and its policy's logical names start with the component's; the alias keeps a
        # stack deployed before that prefix from replacing them. (The program builds one checker:
        # its schedule group and schedules are named per stack and per service, not per checker.)
        scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            description=f"Lets the {env.name} probe schedules invoke the checker",
            assume_role_policy=assume_role_policy(
                "scheduler.amazonaws.com",
                {
                    "StringEquals": {"aws:SourceAccount": group.arn.apply(lambda arn: Arn.parse(arn).account)},
                    "ArnEquals": {"aws:SourceArn": group.arn},
                },
            ),
            tags=env.tagging.component(COMPONENT),
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name="scheduler-role")]),
        )
        invoke = aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=scheduler_role.id,
            policy=policy_document(*scheduler_statements(function.arn)),
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name="scheduler-policy")]),
        )
        self.schedule_names = {}
        for target in args.targets:
            service = target.service
            schedule = aws.scheduler.Schedule(
                f"{service.id}-schedule",
                name=service.id,
                group_name=group.name,
                description=f"Probe {service.id} and move its circuit",
                schedule_expression=service.schedule,
                flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                target=aws.scheduler.ScheduleTargetArgs(
                    arn=function.arn,
                    role_arn=scheduler_role.arn,
                    input=probe_input(service, target.base_url),
                    retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                        maximum_retry_attempts=RETRY_ATTEMPTS, maximum_event_age_in_seconds=MAX_EVENT_AGE_S
                    ),
                ),
                state="ENABLED",
                # The first probe must find the right to invoke, the checker's no-retry invoke
                # config and a service it can reach (the function waits for its own policy).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[invoke, invoke_config, *target.ready]),
            )
            self.schedule_names[service.id] = schedule.name
        self.function_name = function.name
        self.schedule_group = group.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "schedule_group": self.schedule_group,
                "schedules": self.schedule_names,
            }
        )


def probe_input(service: ServiceConfig, base_url: pulumi.Input[str]) -> pulumi.Output[str]:
    """The JSON the checker reads: what to probe and how to judge it."""
    return pulumi.Output.from_input(base_url).apply(
        lambda base: json.dumps(service.checker_input(base), separators=(",", ":"))
    )
