"""ApprovalCallback: approve or reject the stage an incident waits on (the requester cannot approve)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from failsafe.controller import approval
from failsafe.controller.settings import AuditSettings, ExecutionsSettings, StateSettings
from failsafe.handlers._common import powertools, runtime

logger, tracer, metrics = powertools()


class ApprovalCallbackEnv(StateSettings, AuditSettings, ExecutionsSettings):
    """Exactly the variables this function's code path reads."""


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = approval.ApprovalRequest.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()
        )
        raise approval.ApprovalError(f"invalid approval request: {problems}") from exc
    result = approval.decide(runtime(ApprovalCallbackEnv), request)
    logger.info("approval", extra=result.model_dump(mode="json"))
    return result.model_dump(mode="json")
