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

# ---- the controller's own metrics (failsafe.controller.rollback_metrics emits them as EMF) ----
CONTROLLER_NAMESPACE: Final = "Failsafe/Controller"
CONTROLLER_DIMENSIONS: Final = ("Service", "Environment")  # the incident's scope: service and environment
LEVEL_DIMENSIONS: Final = ("Service", "Environment", "Level")  # ... and the plan level (1, 2, 3, emergency)

ROLLBACK_DURATION: Final = "RollbackDurationSeconds"  # stage entered -> its toggles in force (per level)
ROLLBACK_TARGET: Final = "RollbackTargetSeconds"  # that stage's target time, next to the duration
ROLLBACK_TARGET_MISSED: Final = "RollbackTargetMissed"  # 1 when the duration exceeded the target, else 0
TIME_TO_MITIGATE: Final = "TimeToMitigateSeconds"  # incident start -> the stage's toggles in force
TIME_TO_CONVERGE: Final = "TimeToConvergeSeconds"  # incident start -> every client serves that version
ROLLBACK_SUCCEEDED: Final = "RollbackSucceeded"  # a rollback deployment completed (count)
ROLLBACK_FAILED: Final = "RollbackFailed"  # a rollback deployment rolled back or timed out (count)
RECOVERY_DURATION: Final = "RecoveryDurationSeconds"  # incident start -> the scope is NORMAL again
USER_IMPACT: Final = "UserImpactSeconds"  # first alarm -> mitigated (alarm-driven incidents)
RECOVERY_VERIFY_DURATION: Final = "RecoveryVerifySeconds"  # time spent in RECOVERY_VERIFY, when it is left
CLIENTS_NOT_CONVERGED: Final = "ClientsNotConverged"
"""1 while requests of the scope are still served with a config version older than the deployed one (the
minimum of the recommender's ConfigVersion over the last minute), else 0. CloudWatch sees requests, not
client instances: this says whether unconverged clients remain, not how many."""
INCIDENT_OPEN: Final = "IncidentOpenSeconds"  # age of an open incident, at every health check
HEALTH_DEGRADED: Final = "HealthDegradedDuringRollback"  # a re-fire in verification or a missed deadline

CONTROLLER_METRICS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    ROLLBACK_DURATION: (CONTROLLER_DIMENSIONS, LEVEL_DIMENSIONS),
    ROLLBACK_TARGET: (CONTROLLER_DIMENSIONS, LEVEL_DIMENSIONS),
    ROLLBACK_TARGET_MISSED: (CONTROLLER_DIMENSIONS, LEVEL_DIMENSIONS),
    TIME_TO_MITIGATE: (CONTROLLER_DIMENSIONS, LEVEL_DIMENSIONS),
    TIME_TO_CONVERGE: (CONTROLLER_DIMENSIONS, LEVEL_DIMENSIONS),
    ROLLBACK_SUCCEEDED: (CONTROLLER_DIMENSIONS, LEVEL_DIMENSIONS),
    ROLLBACK_FAILED: (CONTROLLER_DIMENSIONS, LEVEL_DIMENSIONS),
    RECOVERY_DURATION: (CONTROLLER_DIMENSIONS,),
    USER_IMPACT: (CONTROLLER_DIMENSIONS,),
    RECOVERY_VERIFY_DURATION: (CONTROLLER_DIMENSIONS,),
    CLIENTS_NOT_CONVERGED: (CONTROLLER_DIMENSIONS,),
    INCIDENT_OPEN: (CONTROLLER_DIMENSIONS,),
    HEALTH_DEGRADED: (CONTROLLER_DIMENSIONS,),
}
"""Every controller metric with the dimension sets it is emitted in (a test holds the emitter to this)."""
