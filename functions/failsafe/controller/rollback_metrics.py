"""The controller's own metrics (seed 004): how fast and how well each rollback went, as EMF.

Emitted where the fact becomes known, after the fact (never before or in the way of a deployment):

- the stage's toggles are in force (ApplyToggles check, deployment COMPLETE): `RollbackDurationSeconds`
  (stage entered -> in force) with its `RollbackTargetSeconds` and `RollbackTargetMissed`,
  `TimeToMitigateSeconds` (incident start -> in force), `RollbackSucceeded`, and for the first stage of an
  alarm-driven incident `UserImpactSeconds` (first alarm -> mitigated);
- a rollback deployment rolled back or ran past its deadline: `RollbackFailed`;
- every health check of an open incident: `IncidentOpenSeconds`; with the stage in force,
  `ClientsNotConverged` and, the first time every request is served with the deployed version,
  `TimeToConvergeSeconds`;
- a re-fire during verification or a missed stage deadline: `HealthDegradedDuringRollback`;
- RECOVERY_VERIFY left (verified or re-fired): `RecoveryVerifySeconds`;
- the scope is NORMAL again: `RecoveryDurationSeconds`.

Namespace ``Failsafe/Controller``; dimension sets per metric in `failsafe.domain.metrics.CONTROLLER_METRICS`
(the incident's Service and Environment, plus the plan Level where a level applies). Each document is
stamped with the controller's clock, so a drill's metrics land at simulated time. A metric that cannot be
emitted is logged and dropped: metrics never fail a controller step.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from failsafe.domain import metrics as contract
from failsafe.domain.scope import DIMENSION_ENVIRONMENT, DIMENSION_SERVICE, Scope

log = logging.getLogger("failsafe.controller.metrics")

MetricSink = Callable[[dict[str, Any]], None]
DIMENSION_LEVEL = "Level"


def stdout_sink(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
    sys.stdout.flush()


_sink: list[MetricSink] = [stdout_sink]


def set_sink(sink: MetricSink | None) -> None:
    """Send the documents to `sink` (tests); None restores stdout (what CloudWatch Logs reads)."""
    _sink[0] = sink or stdout_sink


def document(
    name: str, value: float, unit: MetricUnit, *, scope: Scope, at: datetime, level: str | None = None
) -> dict[str, Any]:
    """One EMF document for `name` in the dimension sets the contract gives it."""
    sets = contract.CONTROLLER_METRICS[name]
    metrics = EphemeralMetrics(namespace=contract.CONTROLLER_NAMESPACE, service="")
    base = {DIMENSION_SERVICE: scope.service, DIMENSION_ENVIRONMENT: scope.environment}
    metrics.add_dimension(DIMENSION_SERVICE, scope.service)
    metrics.add_dimension(DIMENSION_ENVIRONMENT, scope.environment)
    if contract.LEVEL_DIMENSIONS in sets:
        if level is None:
            raise ValueError(f"metric {name} needs a level")
        metrics.add_dimensions(**base, **{DIMENSION_LEVEL: level})
    metrics.add_metric(name, unit, value)
    emf: dict[str, Any] = dict(metrics.serialize_metric_set())
    emf["_aws"] = {**emf["_aws"], "Timestamp": int(at.timestamp() * 1000)}
    return emf


def emit(
    name: str, value: float, unit: MetricUnit, *, scope: Scope, at: datetime, level: str | None = None
) -> None:
    try:
        _sink[0](document(name, value, unit, scope=scope, at=at, level=level))
    except Exception as exc:
        log.warning("controller metric %s not emitted: %s", name, exc)


def seconds(start: datetime | None, end: datetime) -> float | None:
    return None if start is None else round(max(0.0, (end - start).total_seconds()), 3)


SECONDS = MetricUnit.Seconds
COUNT = MetricUnit.Count


def toggles_in_force(
    *,
    scope: Scope,
    at: datetime,
    level: str,
    target_seconds: int,
    stage_entered_at: datetime | None,
    incident_started_at: datetime | None,
    first_alarm_at: datetime | None,
    first_stage: bool,
) -> None:
    """A rollback stage's deployment completed: its toggles are in force."""
    duration = seconds(stage_entered_at, at)
    if duration is not None:
        emit(contract.ROLLBACK_DURATION, duration, SECONDS, scope=scope, at=at, level=level)
        emit(contract.ROLLBACK_TARGET, target_seconds, SECONDS, scope=scope, at=at, level=level)
        missed = 1 if duration > target_seconds else 0
        emit(contract.ROLLBACK_TARGET_MISSED, missed, COUNT, scope=scope, at=at, level=level)
    mitigate = seconds(incident_started_at, at)
    if mitigate is not None:
        emit(contract.TIME_TO_MITIGATE, mitigate, SECONDS, scope=scope, at=at, level=level)
    emit(contract.ROLLBACK_SUCCEEDED, 1, COUNT, scope=scope, at=at, level=level)
    impact = seconds(first_alarm_at, at)
    if first_stage and impact is not None:
        emit(contract.USER_IMPACT, impact, SECONDS, scope=scope, at=at)


def rollback_failed(*, scope: Scope, at: datetime, level: str) -> None:
    emit(contract.ROLLBACK_FAILED, 1, COUNT, scope=scope, at=at, level=level)


def incident_open(*, scope: Scope, at: datetime, incident_started_at: datetime | None) -> None:
    age = seconds(incident_started_at, at)
    if age is not None:
        emit(contract.INCIDENT_OPEN, age, SECONDS, scope=scope, at=at)


def convergence(
    *,
    scope: Scope,
    at: datetime,
    level: str,
    converged: bool,
    incident_started_at: datetime | None,
    first: bool,
) -> None:
    """Whether every request of the scope is served with the deployed version; `first`: newly so."""
    emit(contract.CLIENTS_NOT_CONVERGED, 0 if converged else 1, COUNT, scope=scope, at=at)
    elapsed = seconds(incident_started_at, at)
    if converged and first and elapsed is not None:
        emit(contract.TIME_TO_CONVERGE, elapsed, SECONDS, scope=scope, at=at, level=level)


def health_degraded(*, scope: Scope, at: datetime) -> None:
    emit(contract.HEALTH_DEGRADED, 1, COUNT, scope=scope, at=at)


def recovery_verify_left(*, scope: Scope, at: datetime, entered_at: datetime | None) -> None:
    spent = seconds(entered_at, at)
    if spent is not None:
        emit(contract.RECOVERY_VERIFY_DURATION, spent, SECONDS, scope=scope, at=at)


def recovered(*, scope: Scope, at: datetime, incident_started_at: datetime | None) -> None:
    duration = seconds(incident_started_at, at)
    if duration is not None:
        emit(contract.RECOVERY_DURATION, duration, SECONDS, scope=scope, at=at)


# ---- reading the facts off the controller's records ------------------------------------------------------
def incident_started_at(find_incident: Callable[[str], Any], incident_id: str) -> datetime | None:
    """When the incident was opened (its pointer in the state table), None when unknown."""
    try:
        pointer = find_incident(incident_id)
    except Exception as exc:
        log.warning("incident %s: start time unavailable for metrics: %s", incident_id, exc)
        return None
    return None if pointer is None else pointer.created_at


def first_alarm_at(record: Any) -> datetime | None:
    """The earliest ALARM the scope's record holds (its first alarm of the incident), None for none."""
    times = [o.at for o in getattr(record, "alarms", {}).values() if str(o.state) == "ALARM"]
    return min(times) if times else None
