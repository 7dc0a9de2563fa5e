"""The circuit-breaker extension layer, shared by every business function of the stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, get_args

import pulumi
import pulumi_aws as aws

from infra.bundles import Bundle
from infra.config import Architecture, LambdaRuntime
from infra.environment import Environment

COMPONENT = "layer"


@dataclass(frozen=True)
class ExtensionLayerArgs:
    env: Environment
    code: Bundle  # the layer's zip


class ExtensionLayer(pulumi.ComponentResource):
    """One layer version built from runtime/extension.

    The layer is pure Python run by the function runtime's own interpreter, so it declares every
    runtime and architecture the config allows: switching a stack's runtime or architecture
    then reuses this version instead of publishing a new one. ``source_code_hash`` is the zip's
    digest, so a new version is published exactly when the built bytes change.
    """

    arn: pulumi.Output[str]  # the version's ARN, what a function's `layers` takes

    def __init__(self, name: str, args: ExtensionLayerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("circuit-breaker:infra:ExtensionLayer", name, None, opts)
        layer = aws.lambda_.LayerVersion(
            name,
            layer_name=args.env.physical_name("circuit-breaker-extension"),
            description="circuit-breaker extension (/opt/extensions) and client (/opt/python)",
            code=args.code.archive,
            source_code_hash=args.code.sha256,
            compatible_runtimes=list(get_args(LambdaRuntime)),
            compatible_architectures=list(get_args(Architecture)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = layer.arn
        self.register_outputs({"arn": self.arn})
