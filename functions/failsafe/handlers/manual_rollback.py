"""ManualRollback: operator levels 1, 2, 3, emergency (dry run, approvals) and the manual recover.

Operators call its function URL (`AuthType: AWS_IAM`, output `ManualRollbackUrl`) through `failsafe`, which
signs with their AWS credentials: the verified principal is who acts (handlers/_identity.py). The break-glass
path, `sam remote invoke ManualRollbackFunction --stack-name <stack> --event-file events/kill-switch.json`
(`sam remote invoke -e` would send the path itself as the event), may run only the kill switch and dry
runs (domain/authorization.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from failsafe.controller import manual
from failsafe.controller.settings import Settings
from failsafe.domain.authorization import AuthorizationError
from failsafe.handlers import _identity
from failsafe.handlers._common import powertools, runtime

logger, tracer, metrics = powertools()


class ManualRollbackEnv(Settings):
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
    except (manual.ManualRequestError, AuthorizationError, _identity.BadRequestError) as exc:
        return _identity.http_error(exc)


def dispatch(event: Any) -> dict[str, Any]:
    rt = runtime(ManualRollbackEnv)
    caller, body = _identity.unwrap(event, rt.roles.roles_of)
    if not isinstance(body, dict):
        raise manual.ManualRequestError("the manual rollback event must be a JSON object")
    request = manual.parse_request({**body, "requested_by": caller.name})
    logger.append_keys(scope=request.scope, requested_by=request.requested_by, via=caller.via)
    try:
        result = manual.handle(rt, request, caller)
    except (manual.ForeignScopeError, AuthorizationError) as exc:
        logger.warning("refused", extra={"reason": str(exc)})
        metrics.add_metric(name="ManualRequestsRefused", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(
        name="ManualDryRun" if request.dry_run else "ManualAction", unit=MetricUnit.Count, value=1
    )
    logger.info(
        "manual", extra={"action": request.action, "level": request.level, "dry_run": request.dry_run}
    )
    return result
