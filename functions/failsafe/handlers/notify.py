"""Notify: SNS + PagerDuty for a transition, or an approval request with a task token (Step Functions)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from failsafe.aws.retryable import retryable_aws_errors
from failsafe.controller import notify
from failsafe.controller.context import TaskEvent
from failsafe.controller.settings import AuditSettings, NotifySettings, PagerSettings, StateSettings
from failsafe.handlers._common import powertools, runtime

logger, tracer, metrics = powertools()


class NotifyEnv(StateSettings, AuditSettings, NotifySettings, PagerSettings):
    """Exactly the variables this function's code path reads."""


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@retryable_aws_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = TaskEvent.model_validate(event)
    logger.append_keys(incident_id=task.context.incident_id, scope=task.context.scope)
    rt = runtime(NotifyEnv)
    if task.action == "request_approval":
        if not task.task_token:
            raise ValueError("Notify request_approval: task_token is missing")
        result = notify.request_approval(rt, task.task_token, task.context)
    elif task.action == "notify":
        event_name = task.event or (task.context.plan.event if task.context.plan else "transition")
        result = notify.notify(rt, event_name, task.context)
    else:
        raise ValueError(f"Notify: unknown action {task.action!r}; known: notify, request_approval")
    for channel in result.failed:
        logger.error("notification failed", extra={"channel": channel, "errors": result.errors})
        metrics.add_metric(name="NotificationFailed", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
