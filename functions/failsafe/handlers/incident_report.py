"""IncidentReport: JSON + Markdown incident report in S3 at the end of an incident (Step Functions task)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from failsafe.aws.retryable import retryable_aws_errors
from failsafe.controller import incident_report as report
from failsafe.controller.context import TaskEvent
from failsafe.controller.settings import (
    AppConfigSettings,
    AuditSettings,
    ExecutionsSettings,
    ReportSettings,
    StateSettings,
)
from failsafe.handlers._common import powertools, runtime

logger, tracer, metrics = powertools()


class IncidentReportEnv(StateSettings, AuditSettings, ExecutionsSettings, AppConfigSettings, ReportSettings):
    """Exactly the variables this function's code path reads."""


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@retryable_aws_errors
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = TaskEvent.model_validate(event)
    location = report.write(runtime(IncidentReportEnv), task.context)
    logger.info("report written", extra=location.model_dump(mode="json"))
    return location.model_dump(mode="json")
