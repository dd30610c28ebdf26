"""The caller of a ManualRollback or ApprovalCallback invocation, and the function URL's HTTP envelope.

- Function URL (`AuthType: AWS_IAM`): Lambda verified the SigV4 signature; the caller is
  `requestContext.authorizer.iam.userArn`, the request is the JSON body. The answer is an HTTP response:
  200 with the result, 400 for a bad request, 403 for a refusal, 409 for a conflict.
- Anything else is a direct `lambda:InvokeFunction` (`sam remote invoke`, the break-glass path): the event
  is the request and the caller is unknown to the function (CloudTrail records it), so it is
  `Caller.break_glass()` and may do only what `authorization.check_request` allows it.

A request body never names who acts: `requested_by` and `approver` in it are refused.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from failsafe.domain.authorization import AuthorizationError, Caller
from failsafe.domain.principal import PrincipalError, parse_principal

IDENTITY_FIELDS = ("requested_by", "approver")


class BadRequestError(ValueError):
    pass


def is_function_url_event(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and isinstance(event.get("requestContext"), dict)
        and "http" in event["requestContext"]
    )


def unwrap(event: Any, roles_of: Callable[[Any], frozenset[str]]) -> tuple[Caller, Any]:
    """(the caller, the request) of an invocation; `roles_of(principal)` reads its roles from IAM."""
    if not is_function_url_event(event):
        _refuse_identity_fields(event)
        return Caller.break_glass(), event
    iam = (event["requestContext"].get("authorizer") or {}).get("iam") or {}
    arn = iam.get("userArn")
    if not arn:
        raise AuthorizationError(
            "the function URL passed no verified caller (requestContext.authorizer.iam.userArn): "
            "its AuthType must be AWS_IAM"
        )
    try:
        principal = parse_principal(str(arn))
    except PrincipalError as exc:
        raise AuthorizationError(str(exc)) from exc
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    try:
        request = json.loads(body) if body else {}
    except json.JSONDecodeError as exc:
        raise BadRequestError(f"the request body is not JSON ({exc.msg}); send a JSON object") from exc
    _refuse_identity_fields(request)
    return Caller(principal=principal, roles=roles_of(principal)), request


def _refuse_identity_fields(request: Any) -> None:
    if isinstance(request, dict):
        named = [f for f in IDENTITY_FIELDS if f in request]
        if named:
            raise BadRequestError(
                f"{', '.join(named)}: who acts is the AWS principal that signed the request, never a field; "
                "remove it (put any free text in `note`)"
            )


def http_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body, default=str),
    }


def http_error(exc: Exception) -> dict[str, Any]:
    """The HTTP answer for a refusal or a bad request (the CLI prints `message`)."""
    status = 403 if isinstance(exc, AuthorizationError) else 400
    if type(exc).__name__ in {"ApprovalExpiredError", "ConcurrentUpdateError", "SupersedeError"}:
        status = 409
    return http_response(status, {"error": type(exc).__name__, "message": str(exc)})
