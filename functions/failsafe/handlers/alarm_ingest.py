"""AlarmIngest: EventBridge "CloudWatch Alarm State Change" -> failsafe.controller.ingest."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from failsafe.controller.ingest import dropped, ingest, parse_alarm_event
from failsafe.controller.settings import (
    AlarmSettings,
    AuditSettings,
    ExecutionsSettings,
    IdempotencySettings,
    StateSettings,
)
from failsafe.handlers._common import powertools, runtime

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    from failsafe.controller.runtime import Runtime

logger, tracer, metrics = powertools()


class AlarmIngestEnv(StateSettings, AuditSettings, ExecutionsSettings, AlarmSettings, IdempotencySettings):
    """Exactly the variables this function's code path reads."""


@cache
def _config() -> IdempotencyConfig:
    # Powertools idempotency is imported on the first event that gets past `parse_alarm_event`, not at
    # import: a dropped event never needs it.
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=3600)


@cache
def _process(rt: Runtime) -> Any:
    """The idempotent ingest of one runtime (a new runtime, e.g. in tests, gets its own)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

    layer = DynamoDBPersistenceLayer(
        table_name=rt.settings_for(IdempotencySettings).idempotency_table_name,
        boto3_client=rt.client("dynamodb"),
    )
    config = _config()

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="event", persistence_store=layer, config=config
    )
    def process(event: dict[str, Any]) -> dict[str, Any]:
        return ingest(rt, event).model_dump(mode="json")

    return process


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    rt = runtime(AlarmIngestEnv)
    try:
        parse_alarm_event(event)
    except ValueError as exc:
        refused = dropped(rt, event, str(exc)).model_dump(mode="json")
        logger.warning("dropping event", extra={"reason": refused["reason"]})
        metrics.add_metric(name="AlarmEventsDropped", unit=MetricUnit.Count, value=1)
        return refused
    _config().register_lambda_context(context)
    result: dict[str, Any] = _process(rt)(event=event)
    if result["outcome"] == "dropped":
        logger.warning(
            "dropping alarm", extra={"reason": result["reason"], "alarm": result.get("alarm_name")}
        )
        metrics.add_metric(name="AlarmEventsDropped", unit=MetricUnit.Count, value=1)
    else:
        logger.info("alarm ingested", extra=result)
        metrics.add_metric(name=f"Alarm{result['outcome'].capitalize()}", unit=MetricUnit.Count, value=1)
    return result
