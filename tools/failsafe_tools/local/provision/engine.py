"""Provision a template into the local AWS: expand SAM, resolve parameters and conditions, create in order."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from failsafe_tools.local.provision.errors import ProvisionError, TemplateError
from failsafe_tools.local.provision.graph import creation_order, dependencies
from failsafe_tools.local.provision.intrinsics import (
    Resolver,
    ResourceRecord,
    pseudo_parameters,
    resolve_parameters,
)
from failsafe_tools.local.provision.resources import (
    REGISTRY,
    ClientFactory,
    Context,
    DefinitionRenderer,
    FunctionHook,
    ManagedPolicyHook,
    check_properties,
    substitute_definition,
)
from failsafe_tools.local.provision.sam import LocalArtifacts, expand
from failsafe_tools.local.provision.yaml_loader import load_template

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
_RESOURCE_KEYS = {
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "Metadata",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
}


@dataclass(frozen=True)
class ProgressEvent:
    """One step of provisioning, for a progress display: `index` of `total` resources."""

    index: int
    total: int
    logical_id: str
    resource_type: str
    phase: str  # "creating" | "created"


@dataclass
class ProvisionedStack:
    """The result of provisioning: every created resource, its resolved outputs, a `describe_stacks` view."""

    stack_name: str
    stack_id: str
    region: str
    account_id: str
    parameters: dict[str, Any]
    resources: dict[str, ResourceRecord]
    outputs: dict[str, str]
    output_descriptions: dict[str, str] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    function_code: dict[str, str] = field(default_factory=dict)  # function name → local code directory
    creation_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0

    def physical_id(self, logical_id: str) -> str:
        if logical_id not in self.resources:
            raise KeyError(
                f"no resource {logical_id!r} in stack {self.stack_name} (have: {', '.join(self.resources)})"
            )
        return self.resources[logical_id].physical_id

    def describe_stack(self) -> dict[str, Any]:
        """The stack as CloudFormation's `describe_stacks()["Stacks"][0]` shows it (JSON-serialisable)."""
        return {
            "StackId": self.stack_id,
            "StackName": self.stack_name,
            "StackStatus": "CREATE_COMPLETE",
            "CreationTime": self.creation_time.isoformat(),
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": ",".join(v) if isinstance(v, list) else str(v)}
                for k, v in self.parameters.items()
            ],
            "Outputs": [
                {
                    "OutputKey": k,
                    "OutputValue": v,
                    **({"Description": self.output_descriptions[k]} if k in self.output_descriptions else {}),
                    **({"ExportName": self.exports[k]} if k in self.exports else {}),
                }
                for k, v in self.outputs.items()
            ],
        }

    def resource_summaries(self) -> list[dict[str, str]]:
        """As `list_stack_resources()["StackResourceSummaries"]` shows them."""
        return [
            {
                "LogicalResourceId": r.logical_id,
                "PhysicalResourceId": r.physical_id,
                "ResourceType": r.resource_type,
                "ResourceStatus": "CREATE_COMPLETE",
            }
            for r in self.resources.values()
        ]


def provision(
    template: str | Path | Mapping[str, Any],
    *,
    client: ClientFactory,
    parameters: Mapping[str, Any] | None = None,
    stack_name: str = "failsafe",
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT,
    base_dir: Path | None = None,
    render_definition: DefinitionRenderer | None = None,
    on_function: Sequence[FunctionHook] = (),
    progress: Callable[[ProgressEvent], None] | None = None,
    register_stack: bool = True,
    ensure_managed_policy: ManagedPolicyHook | None = None,
) -> ProvisionedStack:
    """Create every resource of `template` through `client(service)` (boto3 clients bound to the local AWS).

    `template` is a path to a SAM/CloudFormation template (YAML or JSON) or an already loaded mapping (then
    `base_dir` anchors relative CodeUri/DefinitionUri paths; the default is the current directory).
    `ensure_managed_policy(arn)` is asked to make an AWS managed policy attachable when the local IAM lacks it
    (`failsafe_tools.local.provision.moto_iam.ensure_aws_managed_policy` does that for moto in this process).
    With `register_stack`, the stack and its resolved Outputs are also registered in the local CloudFormation
    so `cloudformation.describe_stacks(StackName=...)` answers as it would on AWS.
    """
    started = time.perf_counter()
    if isinstance(template, str | Path):
        path = Path(template)
        raw = load_template(path)
        base = base_dir or path.resolve().parent
    else:
        raw = dict(template)
        base = base_dir or Path.cwd()
    if "Rules" in raw:
        raise TemplateError("the template has Rules; parameter rules are not evaluated by the local stack")
    stack_id = f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/{uuid.uuid4()}"
    pseudo = pseudo_parameters(region, account_id, stack_name, stack_id)
    partition = str(pseudo["AWS::Partition"])
    parameter_values = resolve_parameters(raw, parameters)

    cfn, artifacts = expand(
        raw, base_dir=base, parameters=parameter_values, region=region, partition=partition
    )
    declared: dict[str, Any] = cfn["Resources"]
    for logical_id, resource in declared.items():
        _check_resource_shape(logical_id, resource)

    created: dict[str, ResourceRecord] = {}
    resolver = Resolver(
        parameters=parameter_values,
        pseudo=pseudo,
        mappings=cfn.get("Mappings"),
        conditions=cfn.get("Conditions"),
        declared_resources=declared,
        resources=created,
    )
    resolver.evaluate_conditions()
    live = {
        logical_id: resource
        for logical_id, resource in declared.items()
        if "Condition" not in resource
        or resolver.condition(str(resource["Condition"]), f"Resources.{logical_id}")
    }
    # Fail on unsupported types before creating anything.
    for logical_id, resource in live.items():
        check_properties(logical_id, resource["Type"], resource.get("Properties") or {})
    order = creation_order(dependencies(live, resolver))

    ctx = Context(
        client=client,
        region=region,
        account_id=account_id,
        stack_name=stack_name,
        partition=partition,
        artifacts=artifacts,
        base_dir=base,
        render_definition=render_definition or substitute_definition,
        on_function=list(on_function),
        ensure_managed_policy=ensure_managed_policy,
    )
    function_code: dict[str, str] = {}
    for index, logical_id in enumerate(order, start=1):
        resource = live[logical_id]
        rtype = resource["Type"]
        if progress:
            progress(ProgressEvent(index, len(order), logical_id, rtype, "creating"))
        props = resolver.resolve(resource.get("Properties") or {}, f"Resources.{logical_id}.Properties")
        spec = check_properties(logical_id, rtype, props)
        try:
            record = spec.create(ctx, logical_id, props)
        except ProvisionError:
            raise
        except Exception as exc:
            raise ProvisionError(
                f"creating {logical_id!r} ({rtype}) failed: {type(exc).__name__}: {exc}"
            ) from exc
        created[logical_id] = record
        code = _code_root(artifacts, resource)
        if code is not None:
            function_code[record.physical_id] = code
        if progress:
            progress(ProgressEvent(index, len(order), logical_id, rtype, "created"))

    outputs, descriptions, exports = _outputs(cfn, resolver)
    stack = ProvisionedStack(
        stack_name=stack_name,
        stack_id=stack_id,
        region=region,
        account_id=account_id,
        parameters=parameter_values,
        resources=created,
        outputs=outputs,
        output_descriptions=descriptions,
        exports=exports,
        function_code=function_code,
    )
    if register_stack:
        stack.stack_id = _register(client, stack)
    stack.seconds = time.perf_counter() - started
    return stack


def _check_resource_shape(logical_id: str, resource: Any) -> None:
    if not isinstance(resource, dict) or "Type" not in resource:
        raise TemplateError(f"resource {logical_id!r} has no Type")
    unknown = sorted(set(resource) - _RESOURCE_KEYS)
    if unknown:
        raise TemplateError(f"resource {logical_id!r}: unknown attribute(s) {', '.join(unknown)}")


def _code_root(artifacts: LocalArtifacts, resource: Mapping[str, Any]) -> str | None:
    code = (resource.get("Properties") or {}).get("Code")
    if resource["Type"] != "AWS::Lambda::Function" or not isinstance(code, dict):
        return None
    root = artifacts.code_root(str(code.get("S3Key")))
    return str(root) if root is not None else None


def _outputs(
    cfn: Mapping[str, Any], resolver: Resolver
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    outputs: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    exports: dict[str, str] = {}
    for key, output in (cfn.get("Outputs") or {}).items():
        if "Condition" in output and not resolver.condition(str(output["Condition"]), f"Outputs.{key}"):
            continue
        value = resolver.resolve(output.get("Value"), f"Outputs.{key}.Value")
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            raise TemplateError(f"Outputs.{key}.Value resolves to a mapping, not a string")
        outputs[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if "Description" in output:
            descriptions[key] = str(resolver.resolve(output["Description"], f"Outputs.{key}.Description"))
        if "Export" in output:
            exports[key] = str(resolver.resolve(output["Export"]["Name"], f"Outputs.{key}.Export.Name"))
    return outputs, descriptions, exports


def _register(client: ClientFactory, stack: ProvisionedStack) -> str:
    """Register the stack record in the local CloudFormation (outputs and parameters only, values literal)."""
    body = {
        "Description": "failsafe local stack: resources were provisioned by failsafe_tools.local.provision",
        "Parameters": {
            k: {"Type": "String", "Default": ",".join(v) if isinstance(v, list) else str(v)}
            for k, v in stack.parameters.items()
        },
        "Resources": {},
        "Outputs": {
            k: {
                "Value": v,
                **({"Description": stack.output_descriptions[k]} if k in stack.output_descriptions else {}),
                **({"Export": {"Name": stack.exports[k]}} if k in stack.exports else {}),
            }
            for k, v in stack.outputs.items()
        },
    }
    cloudformation = client("cloudformation")
    stack_id: str = cloudformation.create_stack(StackName=stack.stack_name, TemplateBody=json.dumps(body))[
        "StackId"
    ]
    return stack_id


SUPPORTED_TYPES: tuple[str, ...] = tuple(sorted(REGISTRY))
