"""ApprovalCallback: approve or reject the stage an incident waits on (the requester cannot approve).

Only through its function URL (`AuthType: AWS_IAM`, output `ApprovalCallbackUrl`): the approver is the
verified principal that signed the request. A direct invoke cannot prove its caller and is refused.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, ValidationError

from failsafe.controller import approval
from failsafe.controller.settings import Settings
from failsafe.domain.authorization import AuthorizationError
from failsafe.handlers import _identity
from failsafe.handlers._common import powertools, runtime

logger, tracer, metrics = powertools()


class ApprovalCallbackEnv(Settings):
    state_table_name: str = Field(..., alias="STATE_TABLE_NAME")
    audit_table_name: str = Field(..., alias="AUDIT_TABLE_NAME")
    state_machine_arn: str = Field(..., alias="STATE_MACHINE_ARN")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if not _identity.is_function_url_event(event):
        return dispatch(event)
    try:
        return _identity.http_response(200, dispatch(event))
    except (approval.ApprovalError, AuthorizationError, _identity.BadRequestError) as exc:
        return _identity.http_error(exc)


def dispatch(event: Any) -> dict[str, Any]:
    rt = runtime(ApprovalCallbackEnv)
    caller, body = _identity.unwrap(event, rt.roles.roles_of)
    if not isinstance(body, dict):
        raise approval.ApprovalError("the approval request must be a JSON object")
    try:
        request = approval.ApprovalRequest.model_validate({**body, "approver": caller.name})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()
        )
        raise approval.ApprovalError(f"invalid approval request: {problems}") from exc
    try:
        result = approval.decide(rt, request, caller)
    except AuthorizationError as exc:
        logger.warning("refused", extra={"reason": str(exc)})
        metrics.add_metric(name="ApprovalsRefused", unit=MetricUnit.Count, value=1)
        raise
    logger.info("approval", extra=result.model_dump(mode="json"))
    return result.model_dump(mode="json")
