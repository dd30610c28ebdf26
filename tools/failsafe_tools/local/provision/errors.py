"""Errors raised while reading, expanding or provisioning a template."""

from __future__ import annotations


class ProvisionError(Exception):
    """Provisioning the local stack failed; the message names the resource and what went wrong."""


class TemplateError(ProvisionError):
    """The template itself is malformed (bad YAML, a bad intrinsic, a bad parameter)."""


class IntrinsicError(TemplateError):
    """An intrinsic function cannot be resolved (unknown Ref, unknown attribute, bad arguments)."""


class DependencyCycleError(TemplateError):
    """Resources depend on each other in a cycle."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("circular dependency between resources: " + " -> ".join(cycle))


class UnsupportedResourceError(ProvisionError):
    """The local stack cannot create a resource of this type (or one of its properties)."""

    def __init__(self, logical_id: str, resource_type: str, detail: str = "") -> None:
        self.logical_id = logical_id
        self.resource_type = resource_type
        message = (
            f"resource {logical_id!r} has type {resource_type!r}, which the local stack does not support"
        )
        super().__init__(message + (f": {detail}" if detail else ""))
