"""Errors in AWS's own shape for what the local AWS does not serve, never moto's HTML error pages.

moto answers an operation it does not implement by raising `NotImplementedError` out of
`BaseResponse.call_action` (the server turns it into a Flask "500 Internal Server Error" HTML page), and a
REST request whose path no moto route matches with Flask's "404 Not Found" HTML page. A real client cannot
parse either: boto3 shows `An error occurred (500)` with HTML as the message, or fails to parse the body.

`install()` makes both answer as AWS answers an action it does not accept: HTTP 400 with the error code
`InvalidAction` (one of the common errors every AWS API can return) in the service's own protocol (JSON
`__type` + `x-amzn-ErrorType` header, or the XML `ErrorResponse`), serialized by moto's serializer from
botocore's service model, with a message naming the service and the operation. Any other exception a
handler raises becomes `InternalFailure` (HTTP 500, the common error for that case) in the same shape with
the exception in the message, so a local bug is still visible to the client and never an HTML page.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import ServiceException

log = logging.getLogger(__name__)

_installed: dict[str, Any] = {}
_lock = threading.Lock()


class InvalidAction(ServiceException):
    """AWS's common error for an action the endpoint does not accept (HTTP 400)."""

    code = "InvalidAction"


class InternalFailure(ServiceException):
    """AWS's common error for an unknown server-side failure (HTTP 500)."""

    code = "InternalFailure"


def operation_name(response: Any) -> str | None:
    """The botocore operation name of the request `response` is serving, or None when nothing matches."""
    try:
        action = response._get_action()
    except Exception:
        return None
    return str(action) if action else None


def not_implemented_message(service: str, operation: str | None) -> str:
    what = f"{service} {operation}" if operation else f"this {service} request"
    return (
        f"The failsafe local AWS does not implement {what}; it serves the operations failsafe uses "
        "(see tools/failsafe_tools/local). Use a real AWS account for this operation."
    )


def _serialized(response: Any, error: ServiceException) -> tuple[int, dict[str, Any], Any]:
    from moto.core.responses import ActionResult

    with warnings.catch_warnings():
        # the common errors (InvalidAction, InternalFailure) are in no service model's error shapes
        warnings.filterwarnings("ignore", message=r"Exception\((InvalidAction|InternalFailure)\)")
        status, headers, body = response.serialized(ActionResult(error))
    headers = dict(headers)
    if error.code == "InternalFailure":
        status = 500
    elif status >= 500:
        status = 400
    headers["status"] = status
    return status, headers, body


def _call_action(self: Any) -> Any:
    original: Callable[[Any], Any] = _installed["call_action"]
    try:
        return original(self)
    except NotImplementedError:
        service = self.boto3_service_name
        return _serialized(self, InvalidAction(not_implemented_message(service, operation_name(self))))


def _backend_app(service: str) -> Any:
    """moto's per-service Flask app, with AWS-shaped answers for unmatched routes and uncaught errors."""
    from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

    app = _installed["create_backend_app"](service)

    def respond(error: ServiceException) -> Any:
        from flask import Response, request
        from moto.core.responses import BaseResponse

        response = BaseResponse(service_name=service)
        try:
            response.setup_class(request, request.url, dict(request.headers))  # type: ignore[arg-type]
            status, headers, body = _serialized(response, error)
        except Exception:
            log.exception("serializing %s for %s failed", error.code, service)
            return Response(
                f'{{"__type":"{error.code}","message":"{error.message}"}}',
                status=500 if error.code == "InternalFailure" else 400,
                headers={"x-amzn-ErrorType": error.code},
                content_type="application/json",
            )
        headers.pop("status", None)
        return Response(body, status=status, headers=headers)

    def unmatched(exc: HTTPException) -> Any:
        from flask import request
        from moto.core.responses import BaseResponse

        probe = BaseResponse(service_name=service)
        try:
            probe.setup_class(request, request.url, dict(request.headers))  # type: ignore[arg-type]
            operation = operation_name(probe)
        except Exception:
            operation = None
        name = probe.boto3_service_name
        return respond(InvalidAction(not_implemented_message(name, operation)))

    def failure(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return exc
        log.exception("the local %s endpoint failed", service)
        return respond(InternalFailure(f"failsafe local {service}: {type(exc).__name__}: {exc}"))

    app.register_error_handler(NotFound, unmatched)
    app.register_error_handler(MethodNotAllowed, unmatched)
    app.register_error_handler(Exception, failure)
    return app


# --- operations moto crashes on when an optional parameter is absent ------------------------------------


def _list_executions(self: Any) -> Any:
    """ListExecutions needs `stateMachineArn` or `mapRunArn` (both optional in the model); AWS answers a
    ValidationException without either, moto crashed on None."""
    from moto.stepfunctions.exceptions import ValidationException

    if not self._get_param("stateMachineArn") and not self._get_param("mapRunArn"):
        raise ValidationException("Must provide a StateMachine ARN or a MapRun ARN")
    return _installed["list_executions"](self)


def _get_template_summary(self: Any) -> Any:
    """GetTemplateSummary needs TemplateBody, TemplateURL or StackName; AWS answers a ValidationError."""
    from moto.cloudformation.exceptions import ValidationError

    if not any(self._get_param(name) for name in ("TemplateBody", "TemplateURL", "StackName")):
        raise ValidationError(
            message="Either Template URL or Template Body or StackName must be specified (GetTemplateSummary)"
        )
    return _installed["get_template_summary"](self)


def _list_exports(self: Any) -> Any:
    """ListExports without TableArn lists the exports of every table, as AWS does (moto required it)."""
    from moto.core.responses import ActionResult

    if self.body.get("TableArn"):
        return _installed["list_exports"](self)
    exports = list(self.dynamodb_backend.table_exports.values())
    return ActionResult(
        {
            "ExportSummaries": [
                {"ExportArn": export.arn, "ExportStatus": export.status, "ExportType": export.export_type}
                for export in exports
            ]
        }
    )


def _optional_parameter_patches() -> list[tuple[Any, str, Callable[..., Any]]]:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.stepfunctions.responses import StepFunctionResponse

    return [
        (StepFunctionResponse, "list_executions", _list_executions),
        (CloudFormationResponse, "get_template_summary", _get_template_summary),
        (DynamoHandler, "list_exports", _list_exports),
    ]


def install() -> None:
    """Patch moto's response dispatch and server app factory. Idempotent."""
    from moto.core import responses
    from moto.moto_server import threaded_moto_server, werkzeug_app

    with _lock:
        if _installed:
            return
        for owner, name, patch in _optional_parameter_patches():
            _installed[name] = getattr(owner, name)
            setattr(owner, name, patch)
        _installed["call_action"] = responses.BaseResponse.call_action
        _installed["create_backend_app"] = werkzeug_app.create_backend_app
        responses.BaseResponse.call_action = _call_action  # type: ignore[method-assign]
        _backend_app.__wrapped__ = _installed["create_backend_app"]  # type: ignore[attr-defined]
        werkzeug_app.create_backend_app = _backend_app
        threaded_moto_server.create_backend_app = _backend_app  # type: ignore[attr-defined]


def uninstall() -> None:
    from moto.core import responses
    from moto.moto_server import threaded_moto_server, werkzeug_app

    with _lock:
        if not _installed:
            return
        for owner, name, _patch in _optional_parameter_patches():
            setattr(owner, name, _installed[name])
        responses.BaseResponse.call_action = _installed["call_action"]  # type: ignore[method-assign]
        werkzeug_app.create_backend_app = _installed["create_backend_app"]
        threaded_moto_server.create_backend_app = _installed["create_backend_app"]  # type: ignore[attr-defined]
        _installed.clear()


def installed() -> bool:
    return bool(_installed)
