"""The metric contract between the recommender (which emits EMF) and the guardrail alarms (which watch it).

Rates are emitted once per request as 0 or 100, so a period's Average is the rate in percent and a plain
metric alarm can watch it (no metric math needed). Latency is emitted raw and alarmed on p95.
"""

from __future__ import annotations

from typing import Final

NAMESPACE: Final = "Failsafe/Recommender"

# Dimension sets the recommender emits: service-wide and per region (the scopes alarms can have).
SERVICE_DIMENSIONS: Final = ("Service", "Environment")
REGION_DIMENSIONS: Final = ("Service", "Environment", "Region")

COVERAGE: Final = "Coverage"  # percent of requested K filled with valid, distinct items
FILL_RATE: Final = "FillRate"  # 100 when k_returned == k, else 0
LATENCY_MS: Final = "LatencyMs"
ERROR_RATE: Final = "ErrorRate"  # 100 for a failed request, else 0
CACHE_HIT_RATE: Final = "CacheHitRate"  # 100 for a cache hit, else 0
AVAILABILITY: Final = "Availability"  # 100 when a request was answered at all, else 0
REQUESTS: Final = "Requests"
CONFIG_VERSION: Final = "ConfigVersion"  # the toggle document version the client applied
CONFIG_AGE_SECONDS: Final = "ConfigAgeSeconds"
FALLBACK_SERVED: Final = "FallbackServed"  # 100 when the decision served the fallback policy, else 0
