"""Expand AWS SAM resources into CloudFormation with aws-sam-translator, offline.

The translator is AWS's own implementation of the `AWS::Serverless-2016-10-31` transform, so Globals, policy
templates, event sources (EventBridgeRule → AWS::Events::Rule + AWS::Lambda::Permission), roles and
DefinitionSubstitutions come out exactly as CloudFormation would see them. Two things it cannot do offline are
handled here:

- Local paths. `sam build`/`sam package` would upload `CodeUri: functions/` and
  `DefinitionUri: infra/statemachine/rollback.asl.json` to S3; the translator only accepts S3 locations.
  Before translating, each local path is swapped for a placeholder S3 location and remembered in
  `LocalArtifacts`, which the provisioner reads the code root and definition file back from.
- Managed policy names. The translator turns `Policies: [SomeAwsManagedPolicy]` into ARNs through a map it
  normally fetches from IAM; `AWS_MANAGED_POLICIES` supplies it without network.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from failsafe_tools.local.provision.errors import TemplateError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
ARTIFACT_BUCKET = "failsafe-local-artifacts"

# AWS managed policies a SAM template may name in `Policies:`
# (name → ARN suffix after arn:<partition>:iam::aws:).
AWS_MANAGED_POLICIES: dict[str, str] = {
    "AWSLambdaBasicExecutionRole": "policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaRole": "policy/service-role/AWSLambdaRole",
    "AWSLambdaSQSQueueExecutionRole": "policy/service-role/AWSLambdaSQSQueueExecutionRole",
    "AWSLambdaDynamoDBExecutionRole": "policy/service-role/AWSLambdaDynamoDBExecutionRole",
    "AWSLambdaVPCAccessExecutionRole": "policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "AWSXrayWriteOnlyAccess": "policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "policy/AWSXRayDaemonWriteAccess",
    "CloudWatchLambdaInsightsExecutionRolePolicy": "policy/CloudWatchLambdaInsightsExecutionRolePolicy",
    "CloudWatchReadOnlyAccess": "policy/CloudWatchReadOnlyAccess",
    "AWSStepFunctionsReadOnlyAccess": "policy/AWSStepFunctionsReadOnlyAccess",
    "AWSAppConfigFullAccess": "policy/AWSAppConfigFullAccess",
    "AWSAppConfigReadOnlyAccess": "policy/AWSAppConfigReadOnlyAccess",
}

_SERVERLESS_PREFIX = "AWS::Serverless::"


@dataclass
class LocalArtifacts:
    """Local files that SAM would have packaged, keyed by the placeholder S3 key the translator saw."""

    code: dict[str, Path] = field(default_factory=dict)  # S3 key → code directory (a function's CodeUri)
    definitions: dict[str, Path] = field(default_factory=dict)  # S3 key → state machine definition file

    def code_root(self, s3_key: str) -> Path | None:
        return self.code.get(s3_key)

    def definition_file(self, s3_key: str) -> Path | None:
        return self.definitions.get(s3_key)


def has_serverless_resources(template: dict[str, Any]) -> bool:
    return any(
        str((r or {}).get("Type", "")).startswith(_SERVERLESS_PREFIX) for r in template["Resources"].values()
    )


def _transforms(template: dict[str, Any]) -> list[str]:
    value = template.get("Transform") or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _local_path(base: Path, value: Any, where: str) -> Path | None:
    if not isinstance(value, str) or value.startswith("s3://"):
        return None
    path = (base / value).resolve()
    if not path.exists():
        raise TemplateError(f"{where}: {value!r} does not exist (looked for {path})")
    return path


def _swap_local_paths(template: dict[str, Any], base: Path) -> LocalArtifacts:
    artifacts = LocalArtifacts()
    global_fn = (template.get("Globals") or {}).get("Function") or {}
    global_code = global_fn.get("CodeUri")
    for logical_id, resource in template["Resources"].items():
        rtype = resource.get("Type")
        props = resource.setdefault("Properties", {})
        if rtype == "AWS::Serverless::Function":
            if props.get("PackageType") == "Image" or "ImageUri" in props:
                raise TemplateError(
                    f"resource {logical_id!r}: container-image functions are not run by the local stack"
                )
            if "InlineCode" in props:
                continue
            code_uri = props.get("CodeUri", global_code)
            path = _local_path(base, code_uri, f"{logical_id}.CodeUri")
            if path is not None:
                key = f"code/{logical_id}"
                artifacts.code[key] = path
                props["CodeUri"] = {"Bucket": ARTIFACT_BUCKET, "Key": key}
        elif rtype == "AWS::Serverless::StateMachine":
            path = _local_path(base, props.get("DefinitionUri"), f"{logical_id}.DefinitionUri")
            if path is not None:
                key = f"definition/{logical_id}"
                artifacts.definitions[key] = path
                props["DefinitionUri"] = {"Bucket": ARTIFACT_BUCKET, "Key": key}
    if isinstance(global_code, str) and not global_code.startswith("s3://"):
        global_fn.pop("CodeUri")
    return artifacts


def _managed_policy_map(partition: str) -> dict[str, str]:
    return {name: f"arn:{partition}:iam::aws:{suffix}" for name, suffix in AWS_MANAGED_POLICIES.items()}


def expand(
    template: dict[str, Any],
    *,
    base_dir: Path,
    parameters: dict[str, Any],
    region: str,
    partition: str = "aws",
) -> tuple[dict[str, Any], LocalArtifacts]:
    """The CloudFormation template for `template` plus the local artifacts; the input is not modified."""
    template = copy.deepcopy(template)
    transforms = _transforms(template)
    unknown = [t for t in transforms if t not in (SAM_TRANSFORM, "AWS::LanguageExtensions")]
    if unknown:
        raise TemplateError(f"Transform {', '.join(unknown)} is not supported by the local stack")
    if SAM_TRANSFORM not in transforms:
        if has_serverless_resources(template):
            raise TemplateError(
                f"the template uses AWS::Serverless::* resources but lacks 'Transform: {SAM_TRANSFORM}'"
            )
        return template, LocalArtifacts()

    artifacts = _swap_local_paths(template, base_dir)
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # The session only names the region (the translator derives the partition from it); it makes no calls.
    session = boto3.session.Session(
        region_name=region, aws_access_key_id="local", aws_secret_access_key="local"
    )
    policy_map = _managed_policy_map(partition)
    try:
        translated: dict[str, Any] = Translator(policy_map, Parser(), boto_session=session).translate(
            template, parameter_values=dict(parameters), get_managed_policy_map=lambda: policy_map
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(c) for c in exc.causes) or str(exc)
        raise TemplateError(f"SAM transform failed: {causes}") from exc
    translated.pop("Transform", None)
    return translated, artifacts
