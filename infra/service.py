"""One protected service: its mock microservice (unless it is external), its business function
and the alarm on its circuit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
from breaker import metrics

from infra.bundles import Bundles
from infra.checker import ProbeTarget
from infra.config import ServiceConfig
from infra.encryption import EncryptionKey
from infra.environment import Environment
from infra.function import LambdaFunction, LambdaFunctionArgs
from infra.layer import ExtensionLayer
# business_variables is also imported from here by the local stack (local_stack/fleet.py).
from infra.payloads import business_statements, business_variables, mock_statements, mock_variables
from infra.table import CircuitTable
# What the business function requests on a mock, under the mock's Function URL.
MOCK_RESOURCE_PATH = "/resource"

BUSINESS_MEMORY_MB = 256
MOCK_MEMORY_MB = 128


@dataclass(frozen=True)
class ProtectedServiceArgs:
    env: Environment
    code: Bundles  # the business function's and the mock's zips are used
    service: ServiceConfig
    table: CircuitTable
    layer: ExtensionLayer
    key: Optional[EncryptionKey] = None


class ProtectedService(pulumi.ComponentResource):
    """Everything one entry of ``services`` deploys, each resource named after the service id.

    A mock service gets a Function URL without authentication (the probe and the business
    function call it as any HTTP dependency) and an SSM parameter holding its mode, initially
    the config's; switching the mode at run time is an authenticated ``ssm put-parameter``.
    An external service (``url``) gets no mock: the checker probes ``url`` + ``probe.path``
    and the business function calls ``url`` exactly as given.
    """

    endpoint_url: pulumi.Output[str]  # the service's base URL, without a trailing slash
    business_function: pulumi.Output[str]
    mode_parameter: Optional[pulumi.Output[str]]  # the mock's SSM parameter; None when external
    probe_target: ProbeTarget

    def __init__(self, name: str, args: ProtectedServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("circuit-breaker:infra:ProtectedService", name, None, opts)
        service = args.service
        component = f"service/{service.id}"
        if service.mock is None:
            assert service.url is not None  # the config allows a mock or a url, never neither
            self.endpoint_url = pulumi.Output.from_input(service.url.rstrip("/"))
            self.mode_parameter = None
            service_url: pulumi.Input[str] = service.url
            ready: list[pulumi.Resource] = []
        else:
            self.endpoint_url, self.mode_parameter, ready = self._mock(args, component)
            service_url = self.endpoint_url.apply(lambda base: base + MOCK_RESOURCE_PATH)

        business = LambdaFunction(
            f"{service.id}-business",
            LambdaFunctionArgs(
                env=args.env,
                component=component,
                role="business-function",
                code=args.code.business,
                handler="services.business.handler",
                memory_mb=BUSINESS_MEMORY_MB,
                timeout_s=timeout_above(service.call_timeout_s),
                variables=business_variables(service, service_url, args.table.name),
                statements=business_statements(service, args.table.arn, args.key.arn if args.key else None),
                layers=[args.layer.arn],
                key=args.key,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.MetricAlarm(
            f"{service.id}-circuit-opened",
            name=args.env.physical_name(f"{service.id}-circuit-opened"),
            alarm_description=f"The circuit of {service.id} opened: calls now get the fallback",
            namespace=metrics.NAMESPACE,
            metric_name=metrics.OPENED,
            dimensions=metrics.alarm_dimensions(service.id, args.table.name),
            statistic="Sum",
            period=60,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            tags=args.env.tagging.component(component),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.business_function = business.name
        self.probe_target = ProbeTarget(service=service, base_url=self.endpoint_url, ready=ready)
        self.register_outputs(
            {
                "endpoint_url": self.endpoint_url,
                "business_function": self.business_function,
                "mode_parameter": self.mode_parameter,
            }
        )

    def _mock(
        self, args: ProtectedServiceArgs, component: str
    ) -> tuple[pulumi.Output[str], pulumi.Output[str], list[pulumi.Resource]]:
        """The mock's mode parameter, function and public URL; returns (base URL, parameter name,
        what a caller needs before it can reach the URL)."""
        service = args.service
        child = pulumi.ResourceOptions(parent=self)
        initial_mode = service.initial_mode()
        parameter = aws.ssm.Parameter(
            f"{service.id}-mock-mode",
            name=service.mode_parameter(args.env.name),
            description=f"Mode of the {service.id} mock (JSON: mode, failure_status, delay_ms, failure_rate)",
            type="String",
            insecure_value=initial_mode,  # not a secret: shown in previews, unlike `value`
            tags=args.env.tagging.component(component),
            opts=child,
        )
        function = LambdaFunction(
            f"{service.id}-mock",
            LambdaFunctionArgs(
                env=args.env,
                component=component,
                role="mock-service",
                code=args.code.mock,
                handler="services.mock.handler",
                memory_mb=MOCK_MEMORY_MB,
                # Outlive every caller's wait, so a slow mode reads as a timeout, not a 502.
                timeout_s=timeout_above(max(service.call_timeout_s, service.probe.timeout_s)),
                variables=mock_variables(service, parameter.name),
                statements=mock_statements(parameter.arn),
                key=args.key,
            ),
            opts=child,
        )
        url = aws.lambda_.FunctionUrl(
            f"{service.id}-mock-url", function_name=function.name, authorization_type="NONE", opts=child
        )
        # A public Function URL needs both permissions (the second since October 2025).
        public = aws.lambda_.Permission(
            f"{service.id}-mock-url-public",
            function=function.name,
            action="lambda:InvokeFunctionUrl",
            principal="*",
            function_url_auth_type="NONE",
            opts=child,
        )
        invoke = aws.lambda_.Permission(
            f"{service.id}-mock-url-invoke",
            function=function.name,
            action="lambda:InvokeFunction",
            principal="*",
            invoked_via_function_url=True,
            opts=child,
        )
        return url.function_url.apply(lambda base: base.rstrip("/")), parameter.name, [url, public, invoke]


def timeout_above(wait_s: float) -> int:
    """A function timeout comfortably above a wait: 3 s more (cold start, the extension), at least 5 s."""
    return max(5, math.ceil(wait_s) + 3)
