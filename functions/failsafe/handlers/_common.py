"""What every handler shares: Powertools utilities and one `Runtime` per process (built on first use)."""

from __future__ import annotations

import os
from typing import TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

from failsafe.controller.runtime import Runtime, runtime_for
from failsafe.controller.settings import Settings

CONTROLLER_NAMESPACE = "Failsafe/Controller"

S = TypeVar("S", bound=Settings)


def powertools() -> tuple[Logger, Tracer, Metrics]:
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "failsafe")
    return (
        Logger(service=service),
        Tracer(service=service),
        Metrics(
            namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", CONTROLLER_NAMESPACE), service=service
        ),
    )


def runtime(settings_type: type[S]) -> Runtime:
    """The process's runtime for a handler: the environment is validated once, clients are lazy."""
    return runtime_for(settings_type)
