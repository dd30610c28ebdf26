"""Configuration profile validators, run at StartDeployment (and ValidateConfiguration) as AWS runs them.

JSON_SCHEMA: the validator's Content is a JSON Schema; the deployed content must be JSON that
satisfies it. LAMBDA: the validator's Content is a function name or ARN; AppConfig invokes it with
{applicationId, configurationProfileId, configurationVersion, content (base64), uri} and the
configuration is invalid when the function fails (FunctionError). The function is invoked through
moto's Lambda backend (`LambdaBackend.invoke`, the call moto's own EventBridge targets use), so
whatever runs Lambda functions in the local stack runs validators too.
"""

from __future__ import annotations

import base64
import json
from typing import Any, NoReturn

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError

from .exceptions import BadRequestException


def _fail(
    version: str, kind: str, reason: str, *, location: str = "", constraint: str = "", value: str = ""
) -> NoReturn:
    raise BadRequestException(
        f"Configuration version {version} failed {kind} validation: {reason}",
        [
            {
                "Constraint": constraint,
                "Location": location,
                "Reason": reason,
                "Type": kind,
                "Value": value[:1000],
            }
        ],
    )


def validate_json_schema(schema_text: str, content: bytes, version: str) -> None:
    try:
        schema = json.loads(schema_text)
    except json.JSONDecodeError as exc:
        _fail(version, "JSON_SCHEMA", f"the validator's schema is not valid JSON ({exc})")
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(version, "JSON_SCHEMA", f"the configuration is not valid JSON ({exc})")
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator_cls.check_schema(schema)
    except SchemaError as exc:
        _fail(version, "JSON_SCHEMA", f"the validator's schema is invalid ({exc.message})")
    error: ValidationError | None = jsonschema.exceptions.best_match(
        validator_cls(schema).iter_errors(document)
    )
    if error is not None:
        _fail(
            version,
            "JSON_SCHEMA",
            error.message,
            location=error.json_path,
            constraint=str(error.validator),
            value=json.dumps(error.instance, default=str),
        )


def _split_function(identifier: str, account_id: str, region: str) -> tuple[str, str, str, str | None]:
    """(account, region, name, qualifier) from a function name or ARN."""
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
            raise BadRequestException(f"Validator content {identifier!r} is not a Lambda function ARN")
        qualifier = parts[7] if len(parts) > 7 else None
        return parts[4], parts[3], parts[6], qualifier
    return account_id, region, identifier, None


def invoke_lambda_validator(
    identifier: str, event: dict[str, Any], account_id: str, region: str
) -> tuple[bool, bytes]:
    """Invoke the validator function; returns (errored, payload)."""
    from moto.awslambda.models import lambda_backends

    account, fn_region, name, qualifier = _split_function(identifier, account_id, region)
    response_headers: dict[str, Any] = {}
    request_headers = {"x-amz-invocation-type": "RequestResponse"}
    payload = lambda_backends[account][fn_region].invoke(
        name, qualifier, json.dumps(event), request_headers, response_headers
    )
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload or b"")
    return "x-amz-function-error" in response_headers, raw


def validate_lambda(
    identifier: str,
    *,
    content: bytes,
    application_id: str,
    profile_id: str,
    version: str,
    account_id: str,
    region: str,
) -> None:
    event = {
        "applicationId": application_id,
        "configurationProfileId": profile_id,
        "configurationVersion": version,
        "content": base64.b64encode(content).decode("ascii"),
        "uri": "hosted",
    }
    try:
        errored, payload = invoke_lambda_validator(identifier, event, account_id, region)
    except BadRequestException:
        raise
    except Exception as exc:  # the function could not run: AWS fails the deployment the same way
        _fail(version, "LAMBDA", f"validator {identifier} could not be invoked: {exc}", constraint=identifier)
    if errored:
        message = payload.decode("utf-8", errors="replace")
        try:
            body = json.loads(message)
            if isinstance(body, dict) and "errorMessage" in body:
                message = str(body["errorMessage"])
        except json.JSONDecodeError:
            pass
        _fail(version, "LAMBDA", message, constraint=identifier)


def run_validators(
    *,
    validators: list[dict[str, str]],
    content: bytes,
    application_id: str,
    profile_id: str,
    version: str,
    account_id: str,
    region: str,
) -> None:
    for validator in validators:
        kind = validator.get("Type")
        body = validator.get("Content", "")
        if kind == "JSON_SCHEMA":
            validate_json_schema(body, content, version)
        elif kind == "LAMBDA":
            validate_lambda(
                body,
                content=content,
                application_id=application_id,
                profile_id=profile_id,
                version=version,
                account_id=account_id,
                region=region,
            )
        else:
            raise BadRequestException(f"Validator type {kind!r}: must be JSON_SCHEMA or LAMBDA")
