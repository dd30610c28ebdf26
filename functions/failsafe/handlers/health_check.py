"""HealthCheck: recovery of the incident's scope from its guardrail alarms (Step Functions task)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from failsafe.aws.retryable import retryable_aws_errors
from failsafe.controller import health
from failsafe.controller.context import TaskEvent
from failsafe.controller.settings import AlarmSettings, AuditSettings, StateSettings
from failsafe.handlers._common import powertools, runtime

logger, tracer, metrics = powertools()


class HealthCheckEnv(StateSettings, AuditSettings, AlarmSettings):
    """Exactly the variables this function's code path reads."""


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@retryable_aws_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = TaskEvent.model_validate(event)
    logger.append_keys(incident_id=task.context.incident_id, scope=task.context.scope)
    output = health.check(runtime(HealthCheckEnv), task.context)
    logger.info("health", extra=output.model_dump(mode="json"))
    return output.model_dump(mode="json")
