"""ManualRollback: operator levels 1, 2, 3, emergency (dry run, approvals) and the manual recover.

`sam local invoke ManualRollbackFunction -e events/manual-level-2.json`, or on AWS
`sam remote invoke ManualRollbackFunction --stack-name <stack> --event-file events/manual-level-2.json`
(`sam remote invoke -e` would send the path itself as the event).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from failsafe.controller import manual
from failsafe.controller.settings import (
    AppConfigSettings,
    AuditSettings,
    ExecutionsSettings,
    NotifySettings,
    PagerSettings,
    ReportSettings,
    StateSettings,
)
from failsafe.handlers._common import powertools, runtime

logger, tracer, metrics = powertools()


class ManualRollbackEnv(
    StateSettings,
    AuditSettings,
    ExecutionsSettings,
    AppConfigSettings,
    NotifySettings,
    PagerSettings,
    ReportSettings,
):
    """Exactly the variables this function's code path reads."""


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = manual.parse_request(event)
    logger.append_keys(scope=request.scope, requested_by=request.requested_by)
    try:
        result = manual.handle(runtime(ManualRollbackEnv), request)
    except manual.ForeignScopeError as exc:
        logger.warning("refusing a scope this stack does not own", extra={"reason": str(exc)})
        metrics.add_metric(name="ManualRequestsRefused", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(
        name="ManualDryRun" if request.dry_run else "ManualAction", unit=MetricUnit.Count, value=1
    )
    logger.info(
        "manual", extra={"action": request.action, "level": request.level, "dry_run": request.dry_run}
    )
    return result
