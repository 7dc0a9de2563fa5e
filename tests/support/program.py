"""Run the Pulumi program (``__main__.py``) under the Python SDK's mocks and capture what it declares.

``run_program("dev")`` does what ``pulumi preview``/``up`` would hand the program, without the
CLI: it reads ``Pulumi.<stack>.yaml`` (and ``Pulumi.yaml``'s config defaults), passes every
value as the engine does (``circuit-breaker:<key>`` → text; structured values as JSON text),
sets the project and stack names, runs the program as the Python language host does
(``runpy.run_path`` of the project folder) and waits for every output.

Each registration is captured from the mock *monitor* rather than the ``Mocks`` hooks because
only the monitor sees the parent. Inputs are what the engine would receive, so property names
are the wire names (camelCase: ``assumeRolePolicy``, ``sourceCodeHash``), as policy packs see
them. The mocks answer with plausible outputs (``arn``, ``name`` for autonamed resources,
``functionUrl``, ``invokeArn``, ...), all derived from the URN so that two runs of the same
config give identical inputs everywhere. Values the provider marks secret arrive wrapped, as on
the wire: ``{rpc._special_sig_key: rpc._special_secret_sig, "value": ...}``.

In-process and repeatable: every run gets a fresh event loop, settings, config and root stack.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import pulumi
import yaml
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROJECT = "circuit-breaker"
ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class CapturedResource:
    type: str  # e.g. "aws:lambda/function:Function", or a component's type
    name: str  # the logical name
    urn: str
    inputs: dict  # as the engine receives them: camelCase property names
    parent: Optional[str]  # the parent's URN (the stack's for top-level resources)
    dependencies: tuple[str, ...] = ()  # the URNs of its explicit and implied dependencies


@dataclass
class ProgramRun:
    resources: list[CapturedResource]
    outputs: dict  # the resolved stack outputs
    config: dict[str, str] = field(default_factory=dict)  # what the program was given
    stack: str = "dev"

    def of_type(self, type_: str) -> list[CapturedResource]:
        return [resource for resource in self.resources if resource.type == type_]

    def named(self, name: str, type_: Optional[str] = None) -> CapturedResource:
        """The one resource with logical name ``name`` (and type ``type_``, if given)."""
        found = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}" + (f" of type {type_}" if type_ else ""))
        return found[0]

    def by_urn(self) -> dict[str, CapturedResource]:
        return {resource.urn: resource for resource in self.resources}

    def children_of(self, parent: CapturedResource) -> list[CapturedResource]:
        return [resource for resource in self.resources if resource.parent == parent.urn]

    def __iter__(self) -> Iterator[CapturedResource]:
        return iter(self.resources)


def run_program(
    stack: str = "dev",
    config_overrides: Optional[Mapping[str, Any]] = None,
    stack_file: Optional[Path] = None,
) -> ProgramRun:
    """Run ``__main__.py`` for ``stack`` under mocks; raises whatever the program raises.

    ``config_overrides`` maps a key path as ``pulumi config set --path`` takes it, without the
    ``circuit-breaker:`` namespace (``"services.billing.mock.mode"``), or a namespaced top-level
    key (``"aws:region"``), to its value; ``None`` removes the key. ``stack_file`` replaces
    ``Pulumi.<stack>.yaml``. Raises :class:`StackConfigRuleError` where the CLI would refuse the
    stack's config before running the program.
    """
    config = engine_config(stack_file or PROJECT_DIR / f"Pulumi.{stack}.yaml", config_overrides or {}, stack)
    region = config.get("aws:region", DEFAULT_REGION)
    monitor = _CapturingMonitor(_PlausibleCloud(region, stack))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        settings.ROOT.set(None)  # set_mocks makes a new root stack only when there is none
        set_all_config(config)
        mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(PROJECT_DIR), run_name="__main__")))
        root = settings.get_root_resource()
        outputs = _sync_await(pulumi.Output.from_input(dict(root.outputs)).future())
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)
        settings.ROOT.set(None)
    return ProgramRun(resources=list(monitor.captured), outputs=outputs or {}, config=config, stack=stack)


class StackConfigRuleError(Exception):
    """The Pulumi CLI would stop here, before the program runs (message as the CLI words it)."""


def engine_config(
    stack_file: Path, overrides: Mapping[str, Any], stack: str = "dev", project_file: Optional[Path] = None
) -> dict[str, str]:
    """The config as the engine passes it to a program: ``Pulumi.yaml`` defaults, then the stack
    file, then ``overrides``; every value as text, structured values as JSON.

    Before that, the CLI's checks on the keys ``Pulumi.yaml`` declares are applied (see
    :func:`check_declared_keys`), so a stack the CLI would refuse is refused here too.
    """
    declared = _declared_keys(project_file or PROJECT_DIR / "Pulumi.yaml")
    values: dict[str, Any] = copy.deepcopy((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {})
    for path, value in overrides.items():
        _set_path(values, path, value)
    check_declared_keys(stack, declared, values)
    defaults = {key: spec["default"] for key, spec in declared.items() if "default" in spec}
    return {key: _as_text(value) for key, value in {**defaults, **values}.items()}


def _declared_keys(project_file: Path) -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's ``config`` block, each key with its namespace (a bare key is the project's),
    each declaration as a mapping (a bare value is a default with no type)."""
    block = yaml.safe_load(project_file.read_text()).get("config") or {}
    return {
        (key if ":" in key else f"{PROJECT}:{key}"): (spec if isinstance(spec, Mapping) else {"default": spec})
        for key, spec in block.items()
    }


def check_declared_keys(stack: str, declared: Mapping[str, Mapping[str, Any]], values: Mapping[str, Any]) -> None:
    """What ``pulumi preview`` checks before it starts the program: a declared key with a ``type``
    and no ``default`` is required, and a given value must be of the declared type. (The CLI's
    ``ValidateStackConfigAndApplyProjectConfig``; its messages are quoted.)"""
    problems = []
    for key, spec in declared.items():
        if "type" not in spec:
            continue
        if key not in values:
            if "default" not in spec:
                problems.append(f"Stack '{stack}' is missing configuration value '{key}'")
            continue
        if not _of_type(values[key], spec["type"]):
            problems.append(f"Stack '{stack}' with configuration key '{key}' must be of type '{spec['type']}'")
    if problems:
        raise StackConfigRuleError("\n".join(problems))


def _of_type(value: Any, type_: str) -> bool:
    """Whether a stack file's value is of a declared type. ``pulumi config set`` (without
    ``--path``) stores every value as text, so text that reads as the type counts as the type."""
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.strip().lstrip("+-").isdigit()
        )
    if type_ == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_ == "array":
        return isinstance(value, list)
    raise ValueError(f"Pulumi.yaml declares an unknown config type {type_!r}")


def _set_path(values: dict[str, Any], path: str, value: Any) -> None:
    """Set ``a.b.c`` as ``pulumi config set --path`` does; the first part is a key of the
    ``circuit-breaker`` namespace unless it names its own (``aws:region``)."""
    head, *rest = path.split(".")
    key = head if ":" in head else f"{PROJECT}:{head}"
    if not rest:
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
        return
    node = values.setdefault(key, {})
    for part in rest[:-1]:
        node = node.setdefault(part, {})
    if value is None:
        node.pop(rest[-1], None)
    else:
        node[rest[-1]] = value


def _as_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _PlausibleCloud(mocks.Mocks):
    """Outputs shaped like AWS's, derived from the URN so repeated runs agree. Autonames differ
    from stack to stack, as Pulumi's random suffixes do."""

    def __init__(self, region: str, stack: str):
        self.region = region
        self.stack = stack

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        token = hashlib.sha256(f"{self.stack}::{args.typ}::{args.name}".encode()).hexdigest()
        name = args.inputs.get("name") or f"{args.name}-{token[:7]}"
        state = {**args.inputs, "name": name}
        arn = self._arn(args.typ, name, args.inputs, token)
        if arn is not None:
            state["arn"] = arn
        state.update(self._extra(args.typ, name, args.inputs, token, arn))
        return name, state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, Optional[list[tuple[str, str]]]]:
        # The program makes no provider invokes (see infra/iam.py); a new one must be mocked here.
        raise NotImplementedError(f"unexpected invoke {args.token}")

    def _arn(self, typ: str, name: str, inputs: Mapping[str, Any], token: str) -> Optional[str]:
        prefix = f"arn:aws:{{}}:{self.region}:{ACCOUNT}"
        arns = {
            "aws:kms/key:Key": f"{prefix.format('kms')}:key/{_uuid(token)}",
            "aws:dynamodb/table:Table": f"{prefix.format('dynamodb')}:table/{name}",
            "aws:lambda/function:Function": f"{prefix.format('lambda')}:function:{name}",
            "aws:lambda/layerVersion:LayerVersion": f"{prefix.format('lambda')}:layer:{inputs.get('layerName')}:1",
            "aws:cloudwatch/logGroup:LogGroup": f"{prefix.format('logs')}:log-group:{name}",
            "aws:cloudwatch/metricAlarm:MetricAlarm": f"{prefix.format('cloudwatch')}:alarm:{name}",
            "aws:iam/role:Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "aws:ssm/parameter:Parameter": f"{prefix.format('ssm')}:parameter/{name.lstrip('/')}",
            "aws:scheduler/scheduleGroup:ScheduleGroup": f"{prefix.format('scheduler')}:schedule-group/{name}",
            "aws:scheduler/schedule:Schedule":
                f"{prefix.format('scheduler')}:schedule/{inputs.get('groupName', 'default')}/{name}",
        }
        return arns.get(typ)

    def _extra(self, typ: str, name: str, inputs: Mapping[str, Any], token: str, arn: Optional[str]) -> dict:
        if typ == "aws:kms/key:Key":
            return {"keyId": _uuid(token)}
        if typ == "aws:lambda/function:Function":
            return {
                "invokeArn": f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
                "qualifiedArn": f"{arn}:$LATEST",
                "version": "$LATEST",
            }
        if typ == "aws:lambda/functionUrl:FunctionUrl":
            url_id = token[:32]
            return {"functionUrl": f"https://{url_id}.lambda-url.{self.region}.on.aws/", "urlId": url_id}
        if typ == "aws:lambda/layerVersion:LayerVersion":
            return {"layerArn": arn.rsplit(":", 1)[0] if arn else None, "version": "1"}
        return {}


def _uuid(token: str) -> str:
    return f"{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:32]}"


class _CapturingMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each registration with its parent."""

    def __init__(self, cloud: _PlausibleCloud):
        super().__init__(cloud)
        self.captured: list[CapturedResource] = []

    def RegisterResource(self, request):  # noqa: N802 (the gRPC method's name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.captured.append(
                CapturedResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=rpc.deserialize_properties(request.object),
                    parent=request.parent or None,
                    dependencies=tuple(request.dependencies),
                )
            )
        return response
