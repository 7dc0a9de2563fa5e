"""The circuit-breaker stack: what the typed config (infra/config.py) describes, deployed.

Deploying, adding a service and reading the outputs: docs/deploy.md.
"""

import pulumi

from infra.bundles import Bundles
from infra.checker import Checker, CheckerArgs
from infra.config import load_stack_config
from infra.encryption import EncryptionKey, EncryptionKeyArgs
from infra.environment import Environment
from infra.layer import ExtensionLayer, ExtensionLayerArgs
from infra.service import ProtectedService, ProtectedServiceArgs
from infra.table import CircuitTable, CircuitTableArgs

config = load_stack_config()
env = Environment.from_config(config, stack=pulumi.get_stack())
code = Bundles.build()
key = EncryptionKey("key", EncryptionKeyArgs(env)) if config.kms_key else None
table = CircuitTable("circuits", CircuitTableArgs(env, config.deletion_protection, key))
layer = ExtensionLayer("extension-layer", ExtensionLayerArgs(env, code.layer))
services = {
    service_id: ProtectedService(service_id, ProtectedServiceArgs(env, code, service, table, layer, key))
    for service_id, service in config.services.items()
}
targets = [service.probe_target for service in services.values()]
checker = Checker("checker", CheckerArgs(env, code.checker, table, config.checker_timeout_s, targets, key))

pulumi.export("table_name", table.name)
pulumi.export("layer_arn", layer.arn)
pulumi.export("checker_function", checker.function_name)
pulumi.export("schedule_group", checker.schedule_group)
pulumi.export(
    "services",
    {
        service_id: {
            "endpoint_url": service.endpoint_url,
            "business_function": service.business_function,
            "schedule": checker.schedule_names[service_id],
            "mode_parameter": service.mode_parameter,
        }
        for service_id, service in services.items()
    },
)
