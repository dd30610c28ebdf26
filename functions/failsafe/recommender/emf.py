"""One EMF document per request, in the metric contract of `failsafe.domain.metrics`.

Each document carries every metric of the contract under namespace ``Failsafe/Recommender`` with two
dimension sets, service-wide ``[Service, Environment]`` and per region ``[Service, Environment, Region]``
(a request without a usable region is reported under Region ``unknown``). Rates are 0 or 100 per request,
so a period's Average is the rate in percent. ``CacheHitRate`` is only emitted when the request consulted
the cache (cache mode ``prewarm`` or ``warm_only``), so a service running ``cold`` does not look like one
with a 0 % hit rate.

Properties (searchable in Logs Insights, not dimensions): policy, fallback level, reason, cohort, client,
cache mode, k, k_returned, serve_full, stale/ready flags of the client and how many served documents it
rejected (stale while it runs an older one than deployed), the chaos faults that fired, and the request
id.

The document is built with Powertools' `EphemeralMetrics` (no shared state between requests or threads)
and handed to a sink: by default one JSON line on stdout, which is what CloudWatch Logs (and the local
stack's Lambda runner) turn into metrics.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from failsafe.domain import metrics as contract
from failsafe.domain.scope import (
    DIMENSION_ENVIRONMENT,
    DIMENSION_REGION,
    DIMENSION_SERVICE,
)

UNKNOWN_REGION: Final = "unknown"

EmfSink = Callable[[dict[str, Any]], None]


def stdout_sink(document: dict[str, Any]) -> None:
    """One compact JSON line on stdout, as Powertools' own flush writes it."""
    sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
    sys.stdout.flush()


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """Everything the metrics of one request are computed from."""

    region: str | None
    k: int
    k_returned: int
    latency_ms: float
    error: bool
    answered: bool
    cache_hit: bool | None
    """None when the cache was not consulted (cache mode cold)."""
    serve_full: bool
    config_version: int
    config_age_seconds: float | None
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return 100.0 * min(self.k_returned, self.k) / self.k if self.k > 0 else 0.0


class EmfEmitter:
    """Builds and sinks the EMF document of each request for one service and environment."""

    def __init__(
        self,
        service: str,
        environment: str,
        *,
        sink: EmfSink = stdout_sink,
        timestamp: Callable[[], float] | None = None,
    ) -> None:
        self.service = service
        self.environment = environment
        self.sink = sink
        self._timestamp = timestamp

    def document(self, outcome: RequestOutcome) -> dict[str, Any]:
        """The EMF document of `outcome` (a dict ready for `json.dumps`)."""
        # service="" keeps Powertools from adding its own lowercase "service" dimension (it would from
        # POWERTOOLS_SERVICE_NAME), so the dimension sets are exactly the contract's.
        metrics = EphemeralMetrics(namespace=contract.NAMESPACE, service="")
        metrics.add_dimension(DIMENSION_SERVICE, self.service)
        metrics.add_dimension(DIMENSION_ENVIRONMENT, self.environment)
        metrics.add_dimensions(
            **{
                DIMENSION_SERVICE: self.service,
                DIMENSION_ENVIRONMENT: self.environment,
                DIMENSION_REGION: outcome.region or UNKNOWN_REGION,
            }
        )
        percent = MetricUnit.Percent
        metrics.add_metric(contract.REQUESTS, MetricUnit.Count, 1)
        metrics.add_metric(contract.AVAILABILITY, percent, 100 if outcome.answered else 0)
        metrics.add_metric(contract.ERROR_RATE, percent, 100 if outcome.error else 0)
        metrics.add_metric(contract.COVERAGE, percent, round(outcome.coverage, 3))
        metrics.add_metric(contract.FILL_RATE, percent, 100 if outcome.k_returned >= outcome.k else 0)
        metrics.add_metric(contract.LATENCY_MS, MetricUnit.Milliseconds, round(outcome.latency_ms, 3))
        metrics.add_metric(contract.FALLBACK_SERVED, percent, 0 if outcome.serve_full else 100)
        metrics.add_metric(contract.CONFIG_VERSION, MetricUnit.NoUnit, outcome.config_version)
        if outcome.config_age_seconds is not None:
            metrics.add_metric(
                contract.CONFIG_AGE_SECONDS, MetricUnit.Seconds, round(outcome.config_age_seconds, 3)
            )
        if outcome.cache_hit is not None:
            metrics.add_metric(contract.CACHE_HIT_RATE, percent, 100 if outcome.cache_hit else 0)
        for key, value in outcome.properties.items():
            if value is not None:
                metrics.add_metadata(key, value)
        document: dict[str, Any] = dict(metrics.serialize_metric_set())
        if self._timestamp is not None:
            # Set after serialising: Powertools' set_timestamp warns on every call when the clock is a
            # drill's simulated one (outside CloudWatch's -14 days/+2 hours window of the wall clock).
            document["_aws"] = {**document["_aws"], "Timestamp": int(self._timestamp() * 1000)}
        return document

    def emit(self, outcome: RequestOutcome) -> None:
        self.sink(self.document(outcome))
