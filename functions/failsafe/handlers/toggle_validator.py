"""ToggleValidator: AppConfig LAMBDA validator for the semantic toggle rules."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from failsafe.controller.settings import Settings
from failsafe.controller.validator import validate_event
from failsafe.handlers._powertools import powertools

logger, tracer, metrics = powertools()


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> None:
    # The environment this stack (and so every client reading its AppConfig environment) serves.
    document = validate_event(event, environment=Settings.from_env().environment)
    logger.info("toggle document valid", extra={"version": document.metadata.version})
