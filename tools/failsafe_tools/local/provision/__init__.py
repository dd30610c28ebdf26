"""Provisioning the local AWS from template.yaml: the template is the single source of truth.

`provision(template_path, client=...)` loads the SAM template (YAML short-form tags included), expands SAM
with aws-sam-translator offline, resolves Parameters, Conditions and intrinsics, creates every resource
through boto3 in dependency order and returns a `ProvisionedStack` with resolved outputs.
"""

from failsafe_tools.local.provision.engine import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    SUPPORTED_TYPES,
    ProgressEvent,
    ProvisionedStack,
    provision,
)
from failsafe_tools.local.provision.errors import (
    DependencyCycleError,
    IntrinsicError,
    ProvisionError,
    TemplateError,
    UnsupportedResourceError,
)
from failsafe_tools.local.provision.intrinsics import NO_VALUE, Resolver, ResourceRecord, pseudo_parameters
from failsafe_tools.local.provision.yaml_loader import load_template, loads_template

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_REGION",
    "NO_VALUE",
    "SUPPORTED_TYPES",
    "DependencyCycleError",
    "IntrinsicError",
    "ProgressEvent",
    "ProvisionError",
    "ProvisionedStack",
    "Resolver",
    "ResourceRecord",
    "TemplateError",
    "UnsupportedResourceError",
    "load_template",
    "loads_template",
    "provision",
    "pseudo_parameters",
]
