"""What every handler shares: Powertools utilities and one `Runtime` per process (built on first use)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

if TYPE_CHECKING:
    # Imported by `runtime()` on first use: a handler that never needs AWS (the toggle validator) does not
    # pay for the adapters and their models at cold start.
    from failsafe.controller.runtime import Runtime
    from failsafe.controller.settings import Settings

CONTROLLER_NAMESPACE = "Failsafe/Controller"
# What the Tracer patches for X-Ray: the AWS SDK, which is all these functions call through a patchable
# library. `patch_all()` (the default) patches the same (httplib is not in its default set) plus sqlite3,
# which costs its import and patch at every cold start for calls these functions never make.
TRACED_MODULES = ("botocore",)

S = TypeVar("S", bound="Settings")

_runtimes: dict[type[Settings], Runtime] = {}


def powertools() -> tuple[Logger, Tracer, Metrics]:
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "failsafe")
    return (
        Logger(service=service),
        Tracer(service=service, patch_modules=TRACED_MODULES),
        Metrics(
            namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", CONTROLLER_NAMESPACE), service=service
        ),
    )


def runtime(settings_type: type[S]) -> Runtime:
    """The process's runtime for a handler: the environment is validated once, clients are lazy."""
    if settings_type not in _runtimes:
        from failsafe.controller.runtime import Runtime

        _runtimes[settings_type] = Runtime(settings_type.from_env())
    return _runtimes[settings_type]


def reset_runtimes() -> None:
    """Forget cached runtimes (tests change the environment between cases)."""
    _runtimes.clear()
