"""ApplyToggles: deploy a stage's toggles through AppConfig, check progress, restore (Step Functions task)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from failsafe.aws.retryable import retryable_aws_errors
from failsafe.controller import apply
from failsafe.controller.context import TaskEvent
from failsafe.controller.settings import AppConfigSettings, AuditSettings, ReleaseSettings, StateSettings
from failsafe.handlers._common import powertools, runtime

logger, tracer, metrics = powertools()


class ApplyTogglesEnv(StateSettings, AuditSettings, AppConfigSettings, ReleaseSettings):
    """Exactly the variables this function's code path reads."""


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@retryable_aws_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = TaskEvent.model_validate(event)
    logger.append_keys(incident_id=task.context.incident_id, scope=task.context.scope)
    output = apply.run(runtime(ApplyTogglesEnv), task.action, task.context)
    if output.rolled_back:
        metrics.add_metric(name="DeploymentRolledBack", unit=MetricUnit.Count, value=1)
    logger.info("deployment", extra={"action": task.action, **output.model_dump(mode="json")})
    return output.model_dump(mode="json")
