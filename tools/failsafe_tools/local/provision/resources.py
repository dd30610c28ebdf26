"""One creator per CloudFormation resource type: resolved Properties in, boto3 calls out, a `ResourceRecord`
back.

Every creator lists the properties it understands. A property outside that list fails provisioning with a
message naming the resource, its type and the property, instead of being dropped silently. Properties that
have no local effect (KMS keys, code signing, snap start) are accepted on purpose and listed as such in
`no_local_effect`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from failsafe_tools.local.provision.errors import ProvisionError, UnsupportedResourceError
from failsafe_tools.local.provision.intrinsics import ResourceRecord
from failsafe_tools.local.provision.sam import LocalArtifacts

ClientFactory = Callable[[str], Any]
FunctionHook = Callable[[str, Path | None, Mapping[str, Any]], None]
DefinitionRenderer = Callable[[str, Mapping[str, Any]], str]
ManagedPolicyHook = Callable[[str], bool]


@dataclass
class Context:
    """What creators need: boto3 clients bound to the local AWS and where the template's files live."""

    client: ClientFactory
    region: str
    account_id: str
    stack_name: str
    partition: str
    artifacts: LocalArtifacts
    base_dir: Path
    render_definition: DefinitionRenderer
    on_function: list[FunctionHook] = field(default_factory=list)
    # Makes an AWS managed policy ARN attachable when the local IAM lacks it; returns whether it did.
    ensure_managed_policy: ManagedPolicyHook | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def c(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.client(service)
        return self._clients[service]

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )

    def physical_name(self, logical_id: str, max_len: int = 64, *, lower: bool = False) -> str:
        """A CloudFormation-style generated name: `{stack}-{logical}-{SUFFIX}`, stable for a stack."""
        digest = hashlib.sha256(f"{self.stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
        base = f"{self.stack_name}-{logical_id}"[: max_len - len(digest) - 1]
        name = f"{base}-{digest}"
        return name.lower() if lower else name


Creator = Callable[[Context, str, dict[str, Any]], ResourceRecord]


@dataclass(frozen=True)
class ResourceType:
    create: Creator
    properties: frozenset[str]
    # Accepted without a local effect (documented, not silently dropped).
    no_local_effect: frozenset[str] = frozenset()


REGISTRY: dict[str, ResourceType] = {}


def register(
    type_name: str, properties: set[str], no_local_effect: set[str] | None = None
) -> Callable[[Creator], Creator]:
    def wrap(fn: Creator) -> Creator:
        REGISTRY[type_name] = ResourceType(fn, frozenset(properties), frozenset(no_local_effect or set()))
        return fn

    return wrap


def check_properties(logical_id: str, type_name: str, props: Mapping[str, Any]) -> ResourceType:
    spec = REGISTRY.get(type_name)
    if spec is None:
        supported = ", ".join(sorted(REGISTRY))
        raise UnsupportedResourceError(logical_id, type_name, f"supported types: {supported}")
    unknown = sorted(set(props) - spec.properties - spec.no_local_effect)
    if unknown:
        raise UnsupportedResourceError(
            logical_id,
            type_name,
            f"propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} not supported",
        )
    return spec


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _policy(document: Any) -> str:
    """An IAM policy document as text. SAM's policy templates omit `Version`; IAM accepts that (and reads the
    document as 2008-10-17), moto rejects it, so a missing Version is filled with 2012-10-17, the version
    every SAM policy template is written for."""
    if isinstance(document, dict) and "Version" not in document:
        document = {"Version": "2012-10-17", **document}
    return _json(document)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _tags_list(tags: Any) -> list[dict[str, str]]:
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in tags or []]


def _tags_dict(tags: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in _tags_list(tags)}


def _pick(props: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {n: props[n] for n in names if n in props}


def _camel(value: Any) -> Any:
    """PascalCase CloudFormation keys to the camelCase the Step Functions and Logs APIs use."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


# ---- IAM --
@register(
    "AWS::IAM::Role",
    {
        "AssumeRolePolicyDocument",
        "RoleName",
        "Path",
        "Description",
        "MaxSessionDuration",
        "ManagedPolicyArns",
        "Policies",
        "PermissionsBoundary",
        "Tags",
    },
)
def _iam_role(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    iam = ctx.c("iam")
    name = p.get("RoleName") or ctx.physical_name(logical_id, 64)
    kwargs: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": _json(p["AssumeRolePolicyDocument"]),
    }
    kwargs.update(_pick(p, "Path", "Description", "PermissionsBoundary"))
    if "MaxSessionDuration" in p:
        kwargs["MaxSessionDuration"] = int(p["MaxSessionDuration"])
    if p.get("Tags"):
        kwargs["Tags"] = _tags_list(p["Tags"])
    role = iam.create_role(**kwargs)["Role"]
    for arn in p.get("ManagedPolicyArns") or []:
        _attach_role_policy(ctx, logical_id, name, arn)
    for policy in p.get("Policies") or []:
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=_policy(policy["PolicyDocument"])
        )
    return ResourceRecord(logical_id, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def _attach_role_policy(ctx: Context, logical_id: str, role: str, arn: str) -> None:
    iam = ctx.c("iam")
    try:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    except iam.exceptions.NoSuchEntityException:
        if ctx.ensure_managed_policy is None or not ctx.ensure_managed_policy(arn):
            raise ProvisionError(
                f"resource {logical_id!r} (AWS::IAM::Role): managed policy {arn} does not exist locally"
            ) from None
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)


@register("AWS::IAM::Policy", {"PolicyName", "PolicyDocument", "Roles", "Users", "Groups"})
def _iam_policy(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    iam = ctx.c("iam")
    document = _policy(p["PolicyDocument"])
    for role in p.get("Roles") or []:
        iam.put_role_policy(RoleName=role, PolicyName=p["PolicyName"], PolicyDocument=document)
    for user in p.get("Users") or []:
        iam.put_user_policy(UserName=user, PolicyName=p["PolicyName"], PolicyDocument=document)
    for group in p.get("Groups") or []:
        iam.put_group_policy(GroupName=group, PolicyName=p["PolicyName"], PolicyDocument=document)
    physical = f"{ctx.stack_name[:10]}-{logical_id}"[:64]
    return ResourceRecord(logical_id, "AWS::IAM::Policy", physical, {"Id": physical})


@register(
    "AWS::IAM::ManagedPolicy",
    {"ManagedPolicyName", "PolicyDocument", "Path", "Description", "Roles", "Users", "Groups"},
)
def _iam_managed_policy(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    iam = ctx.c("iam")
    kwargs: dict[str, Any] = {
        "PolicyName": p.get("ManagedPolicyName") or ctx.physical_name(logical_id, 128),
        "PolicyDocument": _policy(p["PolicyDocument"]),
    }
    kwargs.update(_pick(p, "Path", "Description"))
    arn = iam.create_policy(**kwargs)["Policy"]["Arn"]
    for role in p.get("Roles") or []:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    for user in p.get("Users") or []:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    for group in p.get("Groups") or []:
        iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    return ResourceRecord(logical_id, "AWS::IAM::ManagedPolicy", arn, {"PolicyArn": arn})


# ---- Lambda --
def _placeholder_zip(manifest: Mapping[str, Any]) -> bytes:
    """The bytes stored in moto: a manifest pointing at the code directory the in-process runtime imports."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("failsafe-local-code.json", json.dumps(manifest, indent=2, sort_keys=True))
    return buffer.getvalue()


@register(
    "AWS::Lambda::Function",
    {
        "Code",
        "FunctionName",
        "Handler",
        "Runtime",
        "Role",
        "Timeout",
        "MemorySize",
        "Environment",
        "Description",
        "Architectures",
        "TracingConfig",
        "DeadLetterConfig",
        "ReservedConcurrentExecutions",
        "EphemeralStorage",
        "LoggingConfig",
        "Tags",
    },
    # Layers: handlers run in-process and import their dependencies from this environment, so a layer (for
    # example the public Powertools layer, unknown to moto) is not attached locally.
    {"KmsKeyArn", "RuntimeManagementConfig", "SnapStart", "CodeSigningConfigArn", "Layers"},
)
def _lambda_function(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    lam = ctx.c("lambda")
    name = p.get("FunctionName") or ctx.physical_name(logical_id, 64)
    code = p["Code"]
    code_root: Path | None = None
    if "ZipFile" in code:
        zip_bytes = _inline_zip(str(code["ZipFile"]), str(p.get("Handler", "index.handler")))
    elif "S3Key" in code and ctx.artifacts.code_root(str(code["S3Key"])) is not None:
        code_root = ctx.artifacts.code_root(str(code["S3Key"]))
        zip_bytes = _placeholder_zip(
            {"code_root": str(code_root), "handler": p.get("Handler"), "logical_id": logical_id}
        )
    else:
        raise ProvisionError(
            f"resource {logical_id!r} (AWS::Lambda::Function): Code {code!r} is neither inline code "
            "nor a local "
            "CodeUri; the local stack cannot fetch code from S3"
        )
    kwargs: dict[str, Any] = {
        "FunctionName": name,
        "Role": p["Role"],
        "Code": {"ZipFile": zip_bytes},
        "Runtime": p.get("Runtime", "python3.12"),
        "Handler": p.get("Handler", "index.handler"),
    }
    kwargs.update(_pick(p, "Description", "Architectures", "TracingConfig", "DeadLetterConfig"))
    if "Timeout" in p:
        kwargs["Timeout"] = int(p["Timeout"])
    if "MemorySize" in p:
        kwargs["MemorySize"] = int(p["MemorySize"])
    if "EphemeralStorage" in p:
        kwargs["EphemeralStorage"] = {"Size": int(p["EphemeralStorage"]["Size"])}
    if "Environment" in p:
        variables = (p["Environment"] or {}).get("Variables") or {}
        kwargs["Environment"] = {"Variables": {k: _env_str(v) for k, v in variables.items()}}
    if "LoggingConfig" in p:
        kwargs["LoggingConfig"] = p["LoggingConfig"]
    if p.get("Tags"):
        kwargs["Tags"] = _tags_dict(p["Tags"])
    fn = lam.create_function(**kwargs)
    if "ReservedConcurrentExecutions" in p:
        lam.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=int(p["ReservedConcurrentExecutions"])
        )
    for hook in ctx.on_function:
        hook(name, code_root, fn)
    return ResourceRecord(logical_id, "AWS::Lambda::Function", name, {"Arn": fn["FunctionArn"]})


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )


def _inline_zip(source: str, handler: str) -> bytes:
    module = handler.rsplit(".", 1)[0].replace(".", "/") or "index"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{module}.py", source)
    return buffer.getvalue()


@register(
    "AWS::Lambda::Permission",
    {
        "Action",
        "FunctionName",
        "Principal",
        "SourceArn",
        "SourceAccount",
        "EventSourceToken",
        "PrincipalOrgID",
        "FunctionUrlAuthType",
    },
)
def _lambda_permission(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kwargs: dict[str, Any] = {
        "FunctionName": p["FunctionName"],
        "StatementId": logical_id,
        "Action": p["Action"],
        "Principal": p["Principal"],
    }
    kwargs.update(
        _pick(p, "SourceArn", "SourceAccount", "EventSourceToken", "PrincipalOrgID", "FunctionUrlAuthType")
    )
    ctx.c("lambda").add_permission(**kwargs)
    return ResourceRecord(logical_id, "AWS::Lambda::Permission", logical_id, {})


@register("AWS::Lambda::Url", {"TargetFunctionArn", "AuthType", "Cors", "InvokeMode"})
def _lambda_url(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    """The function URL config; the local stack's gateway (local/function_urls.py) serves it."""
    out = ctx.c("lambda").create_function_url_config(
        FunctionName=p["TargetFunctionArn"], AuthType=p["AuthType"], **_pick(p, "Cors", "InvokeMode")
    )
    url = out["FunctionUrl"].rstrip("/") + "/"
    return ResourceRecord(
        logical_id,
        "AWS::Lambda::Url",
        out["FunctionArn"],
        {"FunctionUrl": url, "FunctionArn": out["FunctionArn"]},
    )


@register(
    "AWS::Lambda::Version", {"FunctionName", "Description", "CodeSha256"}, {"ProvisionedConcurrencyConfig"}
)
def _lambda_version(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    out = ctx.c("lambda").publish_version(FunctionName=p["FunctionName"], **_pick(p, "Description"))
    return ResourceRecord(logical_id, "AWS::Lambda::Version", out["FunctionArn"], {"Version": out["Version"]})


@register(
    "AWS::Lambda::Alias",
    {"FunctionName", "FunctionVersion", "Name", "Description"},
    {"ProvisionedConcurrencyConfig"},
)
def _lambda_alias(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    version = str(p["FunctionVersion"]).rsplit(":", 1)[-1]
    out = ctx.c("lambda").create_alias(
        FunctionName=p["FunctionName"], Name=p["Name"], FunctionVersion=version, **_pick(p, "Description")
    )
    return ResourceRecord(logical_id, "AWS::Lambda::Alias", out["AliasArn"], {"AliasArn": out["AliasArn"]})


@register(
    "AWS::Lambda::EventInvokeConfig",
    {"FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"},
)
def _lambda_event_invoke_config(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kwargs: dict[str, Any] = {"FunctionName": p["FunctionName"]}
    if p.get("Qualifier") and p["Qualifier"] != "$LATEST":
        kwargs["Qualifier"] = p["Qualifier"]
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in p:
            kwargs[key] = int(p[key])
    if "DestinationConfig" in p:
        kwargs["DestinationConfig"] = p["DestinationConfig"]
    ctx.c("lambda").put_function_event_invoke_config(**kwargs)
    return ResourceRecord(logical_id, "AWS::Lambda::EventInvokeConfig", logical_id, {})


@register(
    "AWS::Lambda::EventSourceMapping",
    {
        "EventSourceArn",
        "FunctionName",
        "BatchSize",
        "Enabled",
        "MaximumBatchingWindowInSeconds",
        "StartingPosition",
        "FunctionResponseTypes",
        "FilterCriteria",
    },
)
def _lambda_esm(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kwargs: dict[str, Any] = _pick(
        p, "EventSourceArn", "FunctionName", "StartingPosition", "FunctionResponseTypes", "FilterCriteria"
    )
    if "BatchSize" in p:
        kwargs["BatchSize"] = int(p["BatchSize"])
    if "Enabled" in p:
        kwargs["Enabled"] = _bool(p["Enabled"])
    if "MaximumBatchingWindowInSeconds" in p:
        kwargs["MaximumBatchingWindowInSeconds"] = int(p["MaximumBatchingWindowInSeconds"])
    out = ctx.c("lambda").create_event_source_mapping(**kwargs)
    return ResourceRecord(logical_id, "AWS::Lambda::EventSourceMapping", out["UUID"], {"Id": out["UUID"]})


# ---- Step Functions --
@register(
    "AWS::StepFunctions::StateMachine",
    {
        "StateMachineName",
        "Definition",
        "DefinitionString",
        "DefinitionS3Location",
        "DefinitionSubstitutions",
        "RoleArn",
        "StateMachineType",
        "LoggingConfiguration",
        "TracingConfiguration",
        "Tags",
    },
    {"EncryptionConfiguration"},
)
def _state_machine(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    if "DefinitionS3Location" in p:
        key = str(p["DefinitionS3Location"].get("Key"))
        path = ctx.artifacts.definition_file(key)
        if path is None:
            raise ProvisionError(
                f"resource {logical_id!r} (AWS::StepFunctions::StateMachine): DefinitionS3Location "
                f"{p['DefinitionS3Location']!r} is not a local DefinitionUri; the local stack cannot read S3"
            )
        definition = path.read_text(encoding="utf-8")
    elif "DefinitionString" in p:
        definition = str(p["DefinitionString"])
    elif "Definition" in p:
        definition = json.dumps(p["Definition"], indent=2)
    else:
        raise ProvisionError(f"resource {logical_id!r} (AWS::StepFunctions::StateMachine): no definition")
    substitutions = p.get("DefinitionSubstitutions") or {}
    if substitutions:
        definition = ctx.render_definition(definition, substitutions)
    try:
        json.loads(definition)
    except json.JSONDecodeError as exc:
        raise ProvisionError(
            f"resource {logical_id!r} (AWS::StepFunctions::StateMachine): the definition is not valid JSON "
            f"after DefinitionSubstitutions: {exc}"
        ) from exc
    name = p.get("StateMachineName") or ctx.physical_name(logical_id, 80)
    kwargs: dict[str, Any] = {"name": name, "definition": definition, "roleArn": p["RoleArn"]}
    if "StateMachineType" in p:
        kwargs["type"] = p["StateMachineType"]
    if "LoggingConfiguration" in p:
        kwargs["loggingConfiguration"] = _camel(p["LoggingConfiguration"])
    if "TracingConfiguration" in p:
        kwargs["tracingConfiguration"] = _camel(p["TracingConfiguration"])
    if p.get("Tags"):
        kwargs["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in _tags_list(p["Tags"])]
    arn = ctx.c("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
    return ResourceRecord(
        logical_id,
        "AWS::StepFunctions::StateMachine",
        arn,
        {"Arn": arn, "Name": name, "StateMachineRevisionId": arn},
    )


def substitute_definition(definition: str, substitutions: Mapping[str, Any]) -> str:
    """CloudFormation's DefinitionSubstitutions: every `${Key}` becomes the value's text."""
    for key, value in substitutions.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        definition = definition.replace("${" + key + "}", text)
    return definition


# ---- DynamoDB --
@register(
    "AWS::DynamoDB::Table",
    {
        "TableName",
        "AttributeDefinitions",
        "KeySchema",
        "BillingMode",
        "ProvisionedThroughput",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "StreamSpecification",
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
        "DeletionProtectionEnabled",
        "SSESpecification",
        "Tags",
        "TableClass",
    },
    {"ContributorInsightsSpecification"},
)
def _dynamodb_table(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    ddb = ctx.c("dynamodb")
    name = p.get("TableName") or ctx.physical_name(logical_id, 255)
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
    }

    def throughput(value: Mapping[str, Any]) -> dict[str, int]:
        return {k: int(v) for k, v in value.items()}

    if "ProvisionedThroughput" in p:
        kwargs["ProvisionedThroughput"] = throughput(p["ProvisionedThroughput"])
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if p.get(key):
            indexes = []
            for declared_index in p[key]:
                index = dict(declared_index)
                if "ProvisionedThroughput" in index:
                    index["ProvisionedThroughput"] = throughput(index["ProvisionedThroughput"])
                index.pop("ContributorInsightsSpecification", None)
                indexes.append(index)
            kwargs[key] = indexes
    if "StreamSpecification" in p:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": p["StreamSpecification"]["StreamViewType"],
        }
    if "SSESpecification" in p:
        sse = p["SSESpecification"]
        kwargs["SSESpecification"] = {"Enabled": _bool(sse.get("SSEEnabled", False)), **_pick(sse, "SSEType")}
    if "DeletionProtectionEnabled" in p:
        kwargs["DeletionProtectionEnabled"] = _bool(p["DeletionProtectionEnabled"])
    if "TableClass" in p:
        kwargs["TableClass"] = p["TableClass"]
    if p.get("Tags"):
        kwargs["Tags"] = _tags_list(p["Tags"])
    table = ddb.create_table(**kwargs)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and _bool(ttl.get("Enabled", False)):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and _bool(pitr.get("PointInTimeRecoveryEnabled", False)):
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    attrs = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attrs["StreamArn"] = table["LatestStreamArn"]
    return ResourceRecord(logical_id, "AWS::DynamoDB::Table", name, attrs)


# ---- AppConfig --
@register("AWS::AppConfig::Application", {"Name", "Description", "Tags"})
def _appconfig_application(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kwargs: dict[str, Any] = {"Name": p["Name"], **_pick(p, "Description")}
    if p.get("Tags"):
        kwargs["Tags"] = _tags_dict(p["Tags"])
    app_id = ctx.c("appconfig").create_application(**kwargs)["Id"]
    return ResourceRecord(logical_id, "AWS::AppConfig::Application", app_id, {"ApplicationId": app_id})


@register("AWS::AppConfig::Environment", {"ApplicationId", "Name", "Description", "Monitors", "Tags"})
def _appconfig_environment(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kwargs: dict[str, Any] = {
        "ApplicationId": p["ApplicationId"],
        "Name": p["Name"],
        **_pick(p, "Description"),
    }
    if p.get("Monitors"):
        kwargs["Monitors"] = [_pick(m, "AlarmArn", "AlarmRoleArn") for m in p["Monitors"]]
    if p.get("Tags"):
        kwargs["Tags"] = _tags_dict(p["Tags"])
    env_id = ctx.c("appconfig").create_environment(**kwargs)["Id"]
    return ResourceRecord(logical_id, "AWS::AppConfig::Environment", env_id, {"EnvironmentId": env_id})


def _validator_content(ctx: Context, logical_id: str, validator: Mapping[str, Any]) -> str:
    """A validator's Content: inline text (JSON Schema or Lambda ARN), a mapping (a JSON Schema written as
    YAML), or `file://relative/path.json` (resolved against the template's directory, as the `aws` CLI
    resolves file:// against the working directory)."""
    content = validator.get("Content")
    if isinstance(content, dict):
        return json.dumps(content)
    text = str(content)
    if text.startswith("file://"):
        path = (ctx.base_dir / text[len("file://") :]).resolve()
        if not path.is_file():
            raise ProvisionError(f"resource {logical_id!r}: validator Content {text!r}: no file {path}")
        return path.read_text(encoding="utf-8")
    return text


@register(
    "AWS::AppConfig::ConfigurationProfile",
    {"ApplicationId", "Name", "LocationUri", "Description", "RetrievalRoleArn", "Validators", "Type", "Tags"},
    {"KmsKeyIdentifier", "DeletionProtectionCheck"},
)
def _appconfig_profile(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kwargs: dict[str, Any] = {
        "ApplicationId": p["ApplicationId"],
        "Name": p["Name"],
        "LocationUri": p["LocationUri"],
        **_pick(p, "Description", "RetrievalRoleArn", "Type"),
    }
    if p.get("Validators"):
        kwargs["Validators"] = [
            {"Type": v["Type"], "Content": _validator_content(ctx, logical_id, v)} for v in p["Validators"]
        ]
    if p.get("Tags"):
        kwargs["Tags"] = _tags_dict(p["Tags"])
    profile_id = ctx.c("appconfig").create_configuration_profile(**kwargs)["Id"]
    return ResourceRecord(
        logical_id,
        "AWS::AppConfig::ConfigurationProfile",
        profile_id,
        {"ConfigurationProfileId": profile_id},
    )


@register(
    "AWS::AppConfig::DeploymentStrategy",
    {
        "Name",
        "Description",
        "DeploymentDurationInMinutes",
        "FinalBakeTimeInMinutes",
        "GrowthFactor",
        "GrowthType",
        "ReplicateTo",
        "Tags",
    },
)
def _appconfig_strategy(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kwargs: dict[str, Any] = {
        "Name": p["Name"],
        "DeploymentDurationInMinutes": int(p["DeploymentDurationInMinutes"]),
        "GrowthFactor": float(p["GrowthFactor"]),
        **_pick(p, "Description", "GrowthType", "ReplicateTo"),
    }
    if "FinalBakeTimeInMinutes" in p:
        kwargs["FinalBakeTimeInMinutes"] = int(p["FinalBakeTimeInMinutes"])
    if p.get("Tags"):
        kwargs["Tags"] = _tags_dict(p["Tags"])
    strategy_id = ctx.c("appconfig").create_deployment_strategy(**kwargs)["Id"]
    return ResourceRecord(logical_id, "AWS::AppConfig::DeploymentStrategy", strategy_id, {"Id": strategy_id})


@register(
    "AWS::AppConfig::HostedConfigurationVersion",
    {
        "ApplicationId",
        "ConfigurationProfileId",
        "Content",
        "ContentType",
        "Description",
        "LatestVersionNumber",
        "VersionLabel",
    },
)
def _appconfig_hosted_version(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    content = p["Content"]
    kwargs: dict[str, Any] = {
        "ApplicationId": p["ApplicationId"],
        "ConfigurationProfileId": p["ConfigurationProfileId"],
        "Content": (content if isinstance(content, str) else json.dumps(content)).encode(),
        "ContentType": p["ContentType"],
        **_pick(p, "Description", "VersionLabel"),
    }
    if "LatestVersionNumber" in p:
        kwargs["LatestVersionNumber"] = int(p["LatestVersionNumber"])
    version = ctx.c("appconfig").create_hosted_configuration_version(**kwargs)["VersionNumber"]
    return ResourceRecord(
        logical_id,
        "AWS::AppConfig::HostedConfigurationVersion",
        str(version),
        {"VersionNumber": str(version)},
    )


@register(
    "AWS::AppConfig::Deployment",
    {
        "ApplicationId",
        "EnvironmentId",
        "DeploymentStrategyId",
        "ConfigurationProfileId",
        "ConfigurationVersion",
        "Description",
        "Tags",
    },
    {"KmsKeyIdentifier"},
)
def _appconfig_deployment(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kwargs: dict[str, Any] = {
        k: str(p[k])
        for k in (
            "ApplicationId",
            "EnvironmentId",
            "DeploymentStrategyId",
            "ConfigurationProfileId",
            "ConfigurationVersion",
        )
    }
    kwargs.update(_pick(p, "Description"))
    if p.get("Tags"):
        kwargs["Tags"] = _tags_dict(p["Tags"])
    number = ctx.c("appconfig").start_deployment(**kwargs)["DeploymentNumber"]
    return ResourceRecord(
        logical_id, "AWS::AppConfig::Deployment", str(number), {"DeploymentNumber": str(number)}
    )


# ---- CloudWatch --
_ALARM_INTS = ("Period", "EvaluationPeriods", "DatapointsToAlarm")


@register(
    "AWS::CloudWatch::Alarm",
    {
        "AlarmName",
        "AlarmDescription",
        "ActionsEnabled",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
        "Metrics",
        "ThresholdMetricId",
        "Tags",
    },
)
def _cloudwatch_alarm(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    name = p.get("AlarmName") or ctx.physical_name(logical_id, 255)
    kwargs: dict[str, Any] = {"AlarmName": name}
    kwargs.update(
        _pick(
            p,
            "AlarmDescription",
            "OKActions",
            "AlarmActions",
            "InsufficientDataActions",
            "MetricName",
            "Namespace",
            "Statistic",
            "ExtendedStatistic",
            "Dimensions",
            "Unit",
            "ComparisonOperator",
            "TreatMissingData",
            "EvaluateLowSampleCountPercentile",
            "ThresholdMetricId",
        )
    )
    for key in _ALARM_INTS:
        if key in p:
            kwargs[key] = int(p[key])
    if "Threshold" in p:
        kwargs["Threshold"] = float(p["Threshold"])
    if "ActionsEnabled" in p:
        kwargs["ActionsEnabled"] = _bool(p["ActionsEnabled"])
    if "Metrics" in p:
        kwargs["Metrics"] = [_metric_query(m) for m in p["Metrics"]]
    if p.get("Tags"):
        kwargs["Tags"] = _tags_list(p["Tags"])
    ctx.c("cloudwatch").put_metric_alarm(**kwargs)
    return ResourceRecord(
        logical_id, "AWS::CloudWatch::Alarm", name, {"Arn": ctx.arn("cloudwatch", f"alarm:{name}")}
    )


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(query)
    if "ReturnData" in out:
        out["ReturnData"] = _bool(out["ReturnData"])
    if "Period" in out:
        out["Period"] = int(out["Period"])
    if "MetricStat" in out:
        stat = dict(out["MetricStat"])
        stat["Period"] = int(stat["Period"])
        out["MetricStat"] = stat
    return out


@register(
    "AWS::CloudWatch::CompositeAlarm",
    {
        "AlarmName",
        "AlarmRule",
        "AlarmDescription",
        "ActionsEnabled",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "ActionsSuppressor",
        "ActionsSuppressorWaitPeriod",
        "ActionsSuppressorExtensionPeriod",
        "Tags",
    },
)
def _composite_alarm(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    name = p.get("AlarmName") or ctx.physical_name(logical_id, 255)
    kwargs: dict[str, Any] = {"AlarmName": name, "AlarmRule": p["AlarmRule"]}
    kwargs.update(
        _pick(
            p, "AlarmDescription", "OKActions", "AlarmActions", "InsufficientDataActions", "ActionsSuppressor"
        )
    )
    for key in ("ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod"):
        if key in p:
            kwargs[key] = int(p[key])
    if "ActionsEnabled" in p:
        kwargs["ActionsEnabled"] = _bool(p["ActionsEnabled"])
    if p.get("Tags"):
        kwargs["Tags"] = _tags_list(p["Tags"])
    ctx.c("cloudwatch").put_composite_alarm(**kwargs)
    return ResourceRecord(
        logical_id, "AWS::CloudWatch::CompositeAlarm", name, {"Arn": ctx.arn("cloudwatch", f"alarm:{name}")}
    )


@register("AWS::CloudWatch::Dashboard", {"DashboardName", "DashboardBody"})
def _dashboard(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    name = p.get("DashboardName") or ctx.physical_name(logical_id, 255)
    ctx.c("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=_json(p["DashboardBody"]))
    return ResourceRecord(logical_id, "AWS::CloudWatch::Dashboard", name, {})


# ---- EventBridge --
@register("AWS::Events::EventBus", {"Name", "Description", "Tags"}, {"KmsKeyIdentifier", "DeadLetterConfig"})
def _event_bus(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kwargs: dict[str, Any] = {"Name": p["Name"], **_pick(p, "Description")}
    if p.get("Tags"):
        kwargs["Tags"] = _tags_list(p["Tags"])
    arn = ctx.c("events").create_event_bus(**kwargs)["EventBusArn"]
    return ResourceRecord(logical_id, "AWS::Events::EventBus", p["Name"], {"Arn": arn, "Name": p["Name"]})


_TARGET_KEYS = (
    "Id",
    "Arn",
    "RoleArn",
    "Input",
    "InputPath",
    "InputTransformer",
    "DeadLetterConfig",
    "RetryPolicy",
    "SqsParameters",
)


@register(
    "AWS::Events::Rule",
    {
        "Name",
        "Description",
        "EventBusName",
        "EventPattern",
        "ScheduleExpression",
        "State",
        "RoleArn",
        "Targets",
    },
)
def _event_rule(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    events = ctx.c("events")
    name = p.get("Name") or ctx.physical_name(logical_id, 64)
    bus = p.get("EventBusName")
    kwargs: dict[str, Any] = {"Name": name, "State": p.get("State", "ENABLED")}
    kwargs.update(_pick(p, "Description", "ScheduleExpression", "RoleArn"))
    if "EventPattern" in p:
        kwargs["EventPattern"] = _json(p["EventPattern"])
    if bus:
        kwargs["EventBusName"] = bus
    arn = events.put_rule(**kwargs)["RuleArn"]
    targets = []
    for target in p.get("Targets") or []:
        unknown = sorted(set(target) - set(_TARGET_KEYS))
        if unknown:
            raise UnsupportedResourceError(
                logical_id, "AWS::Events::Rule", f"target properties {', '.join(unknown)}"
            )
        t = _pick(target, *_TARGET_KEYS)
        if "RetryPolicy" in t:
            t["RetryPolicy"] = {k: int(v) for k, v in t["RetryPolicy"].items()}
        targets.append(t)
    if targets:
        target_kwargs: dict[str, Any] = {"Rule": name, "Targets": targets}
        if bus:
            target_kwargs["EventBusName"] = bus
        failed = events.put_targets(**target_kwargs).get("FailedEntryCount", 0)
        if failed:
            raise ProvisionError(f"resource {logical_id!r} (AWS::Events::Rule): {failed} target(s) rejected")
    physical = f"{bus}|{name}" if bus and bus != "default" and not str(bus).startswith("arn:") else name
    return ResourceRecord(logical_id, "AWS::Events::Rule", physical, {"Arn": arn})


# ---- SNS / SQS --
_TOPIC_ATTRS = (
    "DisplayName",
    "KmsMasterKeyId",
    "FifoTopic",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
)


@register("AWS::SNS::Topic", {"TopicName", "Subscription", "Tags", *_TOPIC_ATTRS})
def _sns_topic(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    sns = ctx.c("sns")
    fifo = _bool(p.get("FifoTopic", False))
    name = p.get("TopicName") or ctx.physical_name(logical_id, 251) + (".fifo" if fifo else "")
    attributes = {
        k: str(p[k]).lower() if isinstance(p[k], bool) else str(p[k]) for k in _TOPIC_ATTRS if k in p
    }
    kwargs: dict[str, Any] = {"Name": name}
    if attributes:
        kwargs["Attributes"] = attributes
    if p.get("Tags"):
        kwargs["Tags"] = _tags_list(p["Tags"])
    arn = sns.create_topic(**kwargs)["TopicArn"]
    for sub in p.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
    return ResourceRecord(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})


@register(
    "AWS::SNS::Subscription",
    {
        "TopicArn",
        "Protocol",
        "Endpoint",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
        "Region",
    },
)
def _sns_subscription(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    attributes: dict[str, str] = {}
    for key in ("FilterPolicy", "RedrivePolicy"):
        if key in p:
            attributes[key] = _json(p[key])
    for key in ("FilterPolicyScope", "RawMessageDelivery"):
        if key in p:
            attributes[key] = str(p[key]).lower() if isinstance(p[key], bool) else str(p[key])
    kwargs: dict[str, Any] = {
        "TopicArn": p["TopicArn"],
        "Protocol": p["Protocol"],
        "ReturnSubscriptionArn": True,
    }
    if "Endpoint" in p:
        kwargs["Endpoint"] = p["Endpoint"]
    if attributes:
        kwargs["Attributes"] = attributes
    arn = ctx.c("sns").subscribe(**kwargs)["SubscriptionArn"]
    return ResourceRecord(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn})


@register("AWS::SNS::TopicPolicy", {"PolicyDocument", "Topics"})
def _sns_topic_policy(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    for topic in p["Topics"]:
        ctx.c("sns").set_topic_attributes(
            TopicArn=topic, AttributeName="Policy", AttributeValue=_json(p["PolicyDocument"])
        )
    return ResourceRecord(logical_id, "AWS::SNS::TopicPolicy", logical_id, {})


_QUEUE_ATTRS = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


@register("AWS::SQS::Queue", {"QueueName", "Tags", *_QUEUE_ATTRS})
def _sqs_queue(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    sqs = ctx.c("sqs")
    fifo = _bool(p.get("FifoQueue", False))
    name = p.get("QueueName") or ctx.physical_name(logical_id, 75) + (".fifo" if fifo else "")
    attributes: dict[str, str] = {}
    for key in _QUEUE_ATTRS:
        if key in p:
            value = p[key]
            attributes[key] = (
                _json(value)
                if isinstance(value, dict)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
    kwargs: dict[str, Any] = {"QueueName": name}
    if attributes:
        kwargs["Attributes"] = attributes
    if p.get("Tags"):
        kwargs["tags"] = _tags_dict(p["Tags"])
    url = sqs.create_queue(**kwargs)["QueueUrl"]
    arn = ctx.arn("sqs", name)
    return ResourceRecord(
        logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
    )


@register("AWS::SQS::QueuePolicy", {"PolicyDocument", "Queues"})
def _sqs_queue_policy(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    for url in p["Queues"]:
        ctx.c("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": _json(p["PolicyDocument"])})
    return ResourceRecord(logical_id, "AWS::SQS::QueuePolicy", logical_id, {})


# ---- S3 --
def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return out


@register(
    "AWS::S3::Bucket",
    {
        "BucketName",
        "VersioningConfiguration",
        "BucketEncryption",
        "PublicAccessBlockConfiguration",
        "LifecycleConfiguration",
        "OwnershipControls",
        "Tags",
    },
    {"ObjectLockEnabled"},
)
def _s3_bucket(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    s3 = ctx.c("s3")
    name = p.get("BucketName") or ctx.physical_name(logical_id, 63, lower=True)
    kwargs: dict[str, Any] = {"Bucket": name}
    if ctx.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    s3.create_bucket(**kwargs)
    if "VersioningConfiguration" in p:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]}
        )
    if "BucketEncryption" in p:
        rules = [
            {
                **(
                    {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                    if "ServerSideEncryptionByDefault" in r
                    else {}
                ),
                **({"BucketKeyEnabled": _bool(r["BucketKeyEnabled"])} if "BucketKeyEnabled" in r else {}),
            }
            for r in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in p:
        config = {k: _bool(v) for k, v in p["PublicAccessBlockConfiguration"].items()}
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=config)
    if "LifecycleConfiguration" in p:
        rules = [_lifecycle_rule(r) for r in p["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if "OwnershipControls" in p:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags_list(p["Tags"])})
    return ResourceRecord(
        logical_id,
        "AWS::S3::Bucket",
        name,
        {
            "Arn": f"arn:{ctx.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{ctx.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{ctx.region}.amazonaws.com",
        },
    )


@register("AWS::S3::BucketPolicy", {"Bucket", "PolicyDocument"})
def _s3_bucket_policy(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    ctx.c("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=_json(p["PolicyDocument"]))
    return ResourceRecord(logical_id, "AWS::S3::BucketPolicy", logical_id, {})


# ---- Secrets Manager / SSM / Logs --
_PASSWORD_KEYS = (
    "ExcludeCharacters",
    "ExcludeLowercase",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "IncludeSpace",
    "PasswordLength",
    "RequireEachIncludedType",
)


# ---- KMS --
@register(
    "AWS::KMS::Key",
    {"Description", "KeyPolicy", "EnableKeyRotation", "Enabled", "KeyUsage", "KeySpec", "Tags"},
    # The local KMS keeps no key material per region and deletes nothing on a schedule.
    {
        "MultiRegion",
        "PendingWindowInDays",
        "RotationPeriodInDays",
        "BypassPolicyLockoutSafetyCheck",
        "Origin",
    },
)
def _kms_key(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    kms = ctx.c("kms")
    kwargs: dict[str, Any] = _pick(p, "Description", "KeyUsage", "KeySpec")
    if "KeyPolicy" in p:
        kwargs["Policy"] = _policy(p["KeyPolicy"])
    if p.get("Tags"):
        kwargs["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in _tags_list(p["Tags"])]
    key = kms.create_key(**kwargs)["KeyMetadata"]
    if _bool(p.get("EnableKeyRotation", False)):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    if not _bool(p.get("Enabled", True)):
        kms.disable_key(KeyId=key["KeyId"])
    return ResourceRecord(
        logical_id, "AWS::KMS::Key", key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]}
    )


@register(
    "AWS::SecretsManager::Secret",
    {"Name", "Description", "SecretString", "GenerateSecretString", "Tags"},
    {"KmsKeyId", "ReplicaRegions"},
)
def _secret(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    sm = ctx.c("secretsmanager")
    name = p.get("Name") or ctx.physical_name(logical_id, 256)
    kwargs: dict[str, Any] = {"Name": name, **_pick(p, "Description")}
    if "SecretString" in p:
        kwargs["SecretString"] = str(p["SecretString"])
    elif "GenerateSecretString" in p:
        gen = p["GenerateSecretString"]
        options: dict[str, Any] = {}
        for key in _PASSWORD_KEYS:
            if key in gen:
                options[key] = (
                    int(gen[key])
                    if key == "PasswordLength"
                    else (gen[key] if key == "ExcludeCharacters" else _bool(gen[key]))
                )
        password = sm.get_random_password(**options)["RandomPassword"]
        if "SecretStringTemplate" in gen:
            document = json.loads(gen["SecretStringTemplate"])
            document[gen["GenerateStringKey"]] = password
            kwargs["SecretString"] = json.dumps(document)
        else:
            kwargs["SecretString"] = password
    if p.get("Tags"):
        kwargs["Tags"] = _tags_list(p["Tags"])
    arn = sm.create_secret(**kwargs)["ARN"]
    return ResourceRecord(logical_id, "AWS::SecretsManager::Secret", arn, {"Id": arn})


@register(
    "AWS::SSM::Parameter",
    {"Name", "Type", "Value", "Description", "Tier", "AllowedPattern", "DataType", "Tags"},
)
def _ssm_parameter(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    name = p.get("Name") or ctx.physical_name(logical_id, 1011)
    kwargs: dict[str, Any] = {"Name": name, "Type": p["Type"], "Value": str(p["Value"])}
    kwargs.update(_pick(p, "Description", "Tier", "AllowedPattern", "DataType"))
    if p.get("Tags"):
        kwargs["Tags"] = _tags_list(p["Tags"])
    ctx.c("ssm").put_parameter(**kwargs)
    return ResourceRecord(
        logical_id, "AWS::SSM::Parameter", name, {"Type": p["Type"], "Value": str(p["Value"])}
    )


@register(
    "AWS::Logs::LogGroup",
    {"LogGroupName", "RetentionInDays", "Tags"},
    {"KmsKeyId", "DataProtectionPolicy", "LogGroupClass"},
)
def _log_group(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    logs = ctx.c("logs")
    name = p.get("LogGroupName") or ctx.physical_name(logical_id, 512)
    kwargs: dict[str, Any] = {"logGroupName": name}
    if p.get("Tags"):
        kwargs["tags"] = _tags_dict(p["Tags"])
    logs.create_log_group(**kwargs)
    if "RetentionInDays" in p:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    return ResourceRecord(
        logical_id, "AWS::Logs::LogGroup", name, {"Arn": ctx.arn("logs", f"log-group:{name}:*")}
    )


@register("AWS::Logs::MetricFilter", {"LogGroupName", "FilterName", "FilterPattern", "MetricTransformations"})
def _metric_filter(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    name = p.get("FilterName") or ctx.physical_name(logical_id, 512)
    transformations = _camel(p["MetricTransformations"])
    ctx.c("logs").put_metric_filter(
        logGroupName=p["LogGroupName"],
        filterName=name,
        filterPattern=p["FilterPattern"],
        metricTransformations=transformations,
    )
    return ResourceRecord(logical_id, "AWS::Logs::MetricFilter", name, {})
