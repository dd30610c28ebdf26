"""The Powertools utilities every handler shares, without the controller `Runtime`: a handler that never
calls AWS (the toggle validator) imports only this, so it loads no adapter, state model, plan or catalog."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

CONTROLLER_NAMESPACE = "Failsafe/Controller"
# What the Tracer patches for X-Ray: the AWS SDK, which is all these functions call through a patchable
# library. `patch_all()` (the default) patches the same (httplib is not in its default set) plus sqlite3,
# which costs its import and patch at every cold start for calls these functions never make.
TRACED_MODULES = ("botocore",)


def powertools() -> tuple[Logger, Tracer, Metrics]:
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "failsafe")
    return (
        Logger(service=service),
        Tracer(service=service, patch_modules=TRACED_MODULES),
        Metrics(
            namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", CONTROLLER_NAMESPACE), service=service
        ),
    )
