"""The provisioned stack as CloudFormation reports it: its resources and the template it was created from.

`provision` creates every resource itself and registers a stack record in moto's CloudFormation (outputs and
parameters). `register()` then attaches what a user or a tool reads through the stack: the resources
(logical id, physical id, type, status) and the template text. With `install()`:

- `ListStackResources` answers every resource as a StackResourceSummary;
- `DescribeStackResources` answers StackResources, by StackName or by a resource's PhysicalResourceId,
  optionally narrowed to one LogicalResourceId;
- `DescribeStackResource` answers the StackResourceDetail of one logical id, or AWS's ValidationError
  "Resource X does not exist for stack Y";
- `GetTemplate` returns the template text the stack was created from (moto returned the generated record).

Stacks created through `CreateStack` by someone else keep moto's own answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from failsafe_tools.local.provision import ProvisionedStack

RESOURCES_ATTRIBUTE = "failsafe_resources"
_installed: dict[str, Any] = {}
_lock = threading.Lock()


def register(provisioned: ProvisionedStack, template_text: str) -> None:
    """Attach `provisioned`'s resources and `template_text` to its record in the local CloudFormation."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[provisioned.account_id][provisioned.region]
    stack = backend.get_stack(provisioned.stack_id)
    stack.template = template_text
    setattr(stack, RESOURCES_ATTRIBUTE, provisioned.resource_summaries())


def _resources(stack: Any) -> list[dict[str, str]] | None:
    return getattr(stack, RESOURCES_ATTRIBUTE, None)


def _stack_resource(stack: Any, summary: dict[str, str], stamp_field: str) -> dict[str, Any]:
    return {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LogicalResourceId": summary["LogicalResourceId"],
        "PhysicalResourceId": summary["PhysicalResourceId"],
        "ResourceType": summary["ResourceType"],
        stamp_field: stack.creation_time,
        "ResourceStatus": summary["ResourceStatus"],
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
    }


def _list_stack_resources(self: Any) -> Any:
    from moto.core.responses import ActionResult

    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    resources = _resources(stack)
    if resources is None:
        return _installed["list_stack_resources"](self)
    return ActionResult(
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": r["LogicalResourceId"],
                    "PhysicalResourceId": r["PhysicalResourceId"],
                    "ResourceType": r["ResourceType"],
                    "LastUpdatedTimestamp": stack.creation_time,
                    "ResourceStatus": r["ResourceStatus"],
                    "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
                }
                for r in resources
            ]
        }
    )


def _stack_of_physical_id(backend: Any, physical_id: str) -> Any:
    from moto.cloudformation.exceptions import ValidationError

    for stack in backend.stacks.values():
        if any(r["PhysicalResourceId"] == physical_id for r in _resources(stack) or []):
            return stack
    raise ValidationError(message=f"Stack for {physical_id} does not exist")


def _describe_stack_resources(self: Any) -> Any:
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.responses import ActionResult

    name = self._get_param("StackName")
    physical_id = self._get_param("PhysicalResourceId")
    logical_id = self._get_param("LogicalResourceId")
    backend = self.cloudformation_backend
    if name:
        stack = backend.get_stack(name)
    elif physical_id:
        stack = _stack_of_physical_id(backend, physical_id)
    else:
        raise ValidationError(message="Either StackName or PhysicalResourceId must be specified")
    resources = _resources(stack)
    if resources is None:
        return _installed["describe_stack_resources"](self)
    chosen = [
        r
        for r in resources
        if (logical_id is None or r["LogicalResourceId"] == logical_id)
        and (name is not None or physical_id is None or r["PhysicalResourceId"] == physical_id)
    ]
    return ActionResult({"StackResources": [_stack_resource(stack, r, "Timestamp") for r in chosen]})


def _describe_stack_resource(self: Any) -> Any:
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.responses import ActionResult

    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    resources = _resources(stack)
    if resources is None:
        return _installed["describe_stack_resource"](self)
    logical_id = self._get_param("LogicalResourceId")
    for resource in resources:
        if resource["LogicalResourceId"] == logical_id:
            detail = _stack_resource(stack, resource, "LastUpdatedTimestamp")
            detail["Metadata"] = "{}"
            return ActionResult({"StackResourceDetail": detail})
    raise ValidationError(message=f"Resource {logical_id} does not exist for stack {stack.name}")


def _patches() -> list[tuple[Any, str, Callable[..., Any]]]:
    from moto.cloudformation.responses import CloudFormationResponse

    return [
        (CloudFormationResponse, "list_stack_resources", _list_stack_resources),
        (CloudFormationResponse, "describe_stack_resources", _describe_stack_resources),
        (CloudFormationResponse, "describe_stack_resource", _describe_stack_resource),
    ]


def install() -> None:
    with _lock:
        if _installed:
            return
        for owner, name, patch in _patches():
            _installed[name] = getattr(owner, name)
            setattr(owner, name, patch)


def uninstall() -> None:
    with _lock:
        for owner, name, _patch in _patches():
            if name in _installed:
                setattr(owner, name, _installed[name])
        _installed.clear()


def installed() -> bool:
    return bool(_installed)
