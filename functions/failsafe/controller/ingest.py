"""AlarmIngest: CloudWatch alarm state changes -> classify -> claim the scope -> start or join an incident.

- A malformed or foreign event is dropped with a reason, an audit entry (`alarm:dropped`) and a metric
  (the handler's `AlarmEventsDropped`); it is never raised, so it is neither retried into a storm nor lost
  silently. That covers events that are not alarm state changes, fields beyond CloudWatch's own limits,
  dimensions outside the scope grammar, alarms of another stack, scopes of a service or environment this
  stack does not own, and state timestamps further ahead of the controller's clock than
  `MAX_EVENT_CLOCK_SKEW_SECONDS` (a timestamp without a timezone is read as UTC, as CloudWatch stamps).
- An OK (or INSUFFICIENT_DATA) transition is recorded on the scope and never starts a rollback.
- An ALARM on a NORMAL scope claims it with a conditional write (the lifecycle moves to DEGRADED or
  ROLLBACK_PENDING) and starts one execution named with the incident id. The incident id derives from the
  scope and the alarm's state timestamp, so a re-delivered event names the same execution. When the claim
  was saved but StartExecution failed, the redelivered alarm starts that execution (`_resume_start`).
- An ALARM on a scope with an open incident is recorded on the record the running execution reads
  (`alarms`), and the lifecycle decides whether it joins or escalates the stage.
- Events older than the latest one recorded for the same alarm are ignored (out-of-order delivery). A
  recorded observation stamped further ahead than the accepted skew (written before the bound existed)
  is not trusted to order events, so one bogus stamp can never make every later event "stale".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from failsafe.controller.approval import answer_superseded, superseded_approval
from failsafe.controller.classify import Classification, UnknownAlarmError, classify
from failsafe.controller.common import apply_event, audit_transition, incident_id_for
from failsafe.controller.context import IncidentInput, TriggerInfo
from failsafe.controller.execution_start import start_claimed
from failsafe.controller.ports import Ports
from failsafe.domain.audit import AuditEvent
from failsafe.domain.catalog import GuardrailCatalog
from failsafe.domain.plans import Plan
from failsafe.domain.records import AlarmObservation, ConcurrentUpdateError, ScopeRecord

ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
ALARM_SOURCE = "aws.cloudwatch"
INGEST_ACTOR = "failsafe:alarm-ingest"
# CloudWatch's own limits (PutMetricAlarm): what a real alarm event can hold; anything beyond is not one.
MAX_ALARM_NAME = 255
MAX_DIMENSIONS = 30
MAX_DIMENSION_NAME = 255
MAX_DIMENSION_VALUE = 1024
MAX_DROP_REASON = 1024
_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _utc(value: datetime) -> datetime:
    """An aware UTC timestamp: a naive one is read as UTC (CloudWatch stamps UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range once converted to UTC") from None


class AlarmStateValue(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = ""
    timestamp: datetime

    @field_validator("timestamp", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        # CloudWatch sends ISO 8601 text; a number (or "0") would be read as Unix seconds: refuse it.
        if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE_TIME.match(value)):
            return value
        raise ValueError("must be an ISO 8601 date-time such as 2026-01-01T00:10:00.000+0000")

    @field_validator("timestamp", mode="after")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        return _utc(value)


class MetricRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    namespace: str | None = None
    name: str | None = None
    dimensions: dict[
        Annotated[str, Field(max_length=MAX_DIMENSION_NAME)],
        Annotated[str, Field(max_length=MAX_DIMENSION_VALUE)],
    ] = Field(default_factory=dict, max_length=MAX_DIMENSIONS)


class MetricStat(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    metric: MetricRef


class AlarmMetric(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | None = None
    metricStat: MetricStat | None = None


class AlarmConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    description: str | None = None
    metrics: list[AlarmMetric] = Field(default_factory=list)


class AlarmStateChangeDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    alarmName: str = Field(..., min_length=1, max_length=MAX_ALARM_NAME)
    state: AlarmStateValue
    previousState: AlarmStateValue | None = None
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)

    def dimensions(self) -> dict[str, str]:
        for metric in self.configuration.metrics:
            if metric.metricStat is not None:
                return dict(metric.metricStat.metric.dimensions)
        return {}


Outcome = Literal["dropped", "recorded", "stale", "duplicate", "started", "joined"]


class IngestResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome
    reason: str = ""
    alarm_name: str | None = None
    state: str | None = None
    scope: str | None = None
    incident_id: str | None = None
    execution_arn: str | None = None
    lifecycle_state: str | None = None


def parse_alarm_event(event: Any) -> AlarmStateChangeDetail:
    """Validate an EventBridge alarm state-change event; raise ValueError with the reason otherwise."""
    if not isinstance(event, dict):
        raise ValueError(f"event is a {type(event).__name__}, not an EventBridge event object")
    # Imported here, not at module level: the package's __init__ loads every Powertools event class
    # (about 40 modules), which the AlarmIngest cold start does not need before its first event.
    from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

    eb = EventBridgeEvent(event)
    try:
        source, detail_type, detail = eb.source, eb.detail_type, eb.detail
    except KeyError as exc:
        raise ValueError(f"not an EventBridge event: missing {exc}") from exc
    if source != ALARM_SOURCE or detail_type != ALARM_DETAIL_TYPE:
        raise ValueError(f"foreign event: source={source!r} detail-type={detail_type!r}")
    try:
        return AlarmStateChangeDetail.model_validate(detail)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"malformed alarm state change: {problems}") from exc


def dropped(
    rt: Ports, event: Any, reason: str, *, alarm_name: str | None = None, state: str | None = None
) -> IngestResult:
    """Drop an event this stack must not act on: audited with the reason, nothing else changes."""
    reason = reason if len(reason) <= MAX_DROP_REASON else reason[: MAX_DROP_REASON - 3] + "..."
    event_id = event.get("id") if isinstance(event, dict) else None
    rt.record(
        AuditEvent(
            action="alarm:dropped",
            actor=INGEST_ACTOR,
            reason=reason,
            details={
                "alarm": alarm_name,
                "state": state,
                "event_id": event_id[:128] if isinstance(event_id, str) else None,
            },
        )
    )
    return IngestResult(outcome="dropped", reason=reason, alarm_name=alarm_name, state=state)


class Refused(ValueError):
    """An event this stack must not act on, with what the audit line says about it."""

    def __init__(self, reason: str, alarm_name: str | None = None, state: str | None = None) -> None:
        super().__init__(reason)
        self.alarm_name = alarm_name
        self.state = state


def screen(
    event: Any,
    *,
    prefix: str,
    catalog: GuardrailCatalog,
    plan: Plan,
    service: str,
    environment: str,
    now: datetime,
    max_skew_seconds: int,
) -> tuple[AlarmStateChangeDetail, Classification]:
    """The pure checks on an event before anything is read or written; `Refused` when it must be dropped."""
    try:
        detail = parse_alarm_event(event)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    name, state = detail.alarmName, detail.state.value
    try:
        found = classify(
            name,
            detail.dimensions(),
            prefix=prefix,
            catalog=catalog,
            plan=plan,
            default_environment=environment,
        )
    except UnknownAlarmError as exc:
        raise Refused(str(exc), name, state) from None
    scope = found.trigger.scope
    if (scope.service, scope.environment) != (service, environment):
        raise Refused(
            f"alarm {name!r} is for service {scope.service!r} in environment {scope.environment!r}; this "
            f"stack owns service {service!r} in environment {environment!r} (dimensions Service and "
            "Environment)",
            name,
            state,
        )
    ahead = (detail.state.timestamp - now).total_seconds()
    if ahead > max_skew_seconds:
        raise Refused(
            f"alarm {name!r}: state timestamp {detail.state.timestamp.isoformat()} is {ahead:.0f} s ahead of "
            f"the controller's clock, more than the {max_skew_seconds} s accepted "
            "(MAX_EVENT_CLOCK_SKEW_SECONDS)",
            name,
            state,
        )
    return detail, found


def ingest(rt: Ports, event: Any) -> IngestResult:
    try:
        detail, found = screen(
            event,
            prefix=rt.alarm_prefix,
            catalog=rt.catalog,
            plan=rt.plan,
            service=rt.settings.service,
            environment=rt.settings.environment,
            now=rt.now(),
            max_skew_seconds=rt.settings.max_event_clock_skew_seconds,
        )
    except Refused as refused:
        return dropped(rt, event, str(refused), alarm_name=refused.alarm_name, state=refused.state)
    observation = AlarmObservation(
        alarm_name=detail.alarmName,
        state=detail.state.value,
        previous_state=detail.previousState.value if detail.previousState else None,
        at=detail.state.timestamp,
        severity=found.severity,
        kind=found.kind,
        reason=detail.state.reason[:500],
    )
    for _ in range(10):
        try:
            return _ingest_once(rt, found, observation)
        except ConcurrentUpdateError:
            continue
    raise ConcurrentUpdateError(found.trigger.scope.key, None)


def _ingest_once(rt: Ports, found: Classification, seen: AlarmObservation) -> IngestResult:
    scope = found.trigger.scope
    current = rt.state.get(scope.key)
    record = current or ScopeRecord.fresh(scope, rt.plan)
    base = {"alarm_name": seen.alarm_name, "state": seen.state, "scope": scope.key}
    previous = record.alarms.get(seen.alarm_name)
    if previous is not None and previous.at > rt.now() + timedelta(
        seconds=rt.settings.max_event_clock_skew_seconds
    ):
        previous = None  # a bogus future stamp recorded before the skew bound: it orders nothing
    if (
        previous is not None
        and (previous.at, previous.state) == (seen.at, seen.state)
        and (seen.state != "ALARM" or record.has_open_incident)
    ):
        # The same state change again (a re-delivery with a new event id): nothing new to record.
        if seen.state == "ALARM" and _start_failed(record):
            return _resume_start(rt, record, found, base)
        return IngestResult(
            outcome="duplicate", incident_id=record.incident_id, lifecycle_state=record.state, **base
        )
    if previous is not None and previous.at > seen.at:
        return IngestResult(
            outcome="stale", reason=f"older than the {previous.state} seen at {previous.at}", **base
        )
    alarms = {**record.alarms, seen.alarm_name: seen}

    if seen.state != "ALARM" or (
        not record.has_open_incident
        and previous is not None
        and previous.at == seen.at
        and previous.state == "ALARM"
    ):
        stored = rt.state.save(current, record.model_copy(update={"alarms": alarms, "updated_at": rt.now()}))
        rt.record(
            AuditEvent(
                action=f"alarm:{seen.state}",
                actor=INGEST_ACTOR,
                reason=seen.reason,
                scope_key=scope.key,
                incident_id=stored.incident_id,
                details={"alarm": seen.alarm_name, "severity": found.severity, "kind": found.kind},
            )
        )
        return IngestResult(
            outcome="recorded", incident_id=stored.incident_id, lifecycle_state=stored.state, **base
        )

    if not record.has_open_incident:
        incident_id = incident_id_for(scope, seen.at)
        moved = apply_event(
            rt,
            record,
            found.fired_event,
            actor=INGEST_ACTOR,
            reason=f"{seen.alarm_name}: {seen.reason}"[:1024],
            stage=found.entry_stage,
            incident_id=incident_id,
        )
        claimed = record.model_copy(
            update={
                "lifecycle": moved.record,
                "alarms": alarms,
                "execution_arn": None,
                "trigger_severity": found.severity,
                "trigger_kind": found.kind,
                "trigger_alarm": seen.alarm_name,
                "source": "alarm",
                "requested_by": INGEST_ACTOR,
                "reason": moved.audit.reason,
                "pre_incident_config_version": None,
                "deployed_config_version": None,
                "deployment_number": None,
                "deployment_kind": None,
                "deploy_attempts": 0,
                "pending_approval": None,
                "level_requested_by": None,
                "approval_declined": False,
                "hold_until_recovered": False,
                "incident_started_at": rt.now(),
                "updated_at": rt.now(),
                "updated_by": INGEST_ACTOR,
            }
        )
        stored = rt.state.save(current, claimed)  # the claim: conditional on the version we read
        rt.state.register_incident(incident_id, scope.key, rt.now())
        audit_transition(rt, record, stored, moved, {"alarm": seen.alarm_name, "rule": found.trigger.rule})
        return _start(rt, stored, found, base)

    # An open incident: record the alarm where the execution reads it; the lifecycle joins or escalates.
    moved = apply_event(
        rt,
        record,
        found.fired_event,
        actor=INGEST_ACTOR,
        reason=f"{seen.alarm_name}: {seen.reason}"[:1024],
        stage=found.entry_stage,
    )
    changed = moved.record.model_copy(update={"version": record.lifecycle.version}) != record.lifecycle
    escalated = changed and moved.record.stage != record.lifecycle.stage
    # An escalation while the execution waits on an approval for the old stage makes that approval moot:
    # clear it in this conditional write (one writer answers the token) and wake the execution below.
    superseded = superseded_approval(record, moved.record.stage) if changed else None
    update: dict[str, Any] = {
        "lifecycle": moved.record if changed else record.lifecycle,
        "alarms": alarms,
        "updated_at": rt.now(),
    }
    if escalated:
        update["level_requested_by"] = None  # the alarm chose this stage, not the operator of a manual level
    if superseded is not None:
        update["pending_approval"] = None
    stored = rt.state.save(current, record.model_copy(update=update))
    if changed:
        audit_transition(rt, record, stored, moved, {"alarm": seen.alarm_name, "rule": found.trigger.rule})
    else:
        rt.record(
            AuditEvent(
                action="alarm:joined",
                actor=INGEST_ACTOR,
                reason=moved.audit.note,
                scope_key=scope.key,
                incident_id=stored.incident_id,
                details={"alarm": seen.alarm_name, "severity": found.severity, "kind": found.kind},
            )
        )
    if superseded is not None and stored.execution_arn is not None:
        answer_superseded(rt, stored, superseded, actor=INGEST_ACTOR, reason=moved.audit.reason)
    if stored.execution_arn is None:
        # The claim was written but starting the execution failed earlier: start it now (same name).
        return _start(rt, stored, found, base)
    return IngestResult(
        outcome="joined",
        incident_id=stored.incident_id,
        execution_arn=stored.execution_arn,
        lifecycle_state=stored.state,
        **base,
    )


def _start_failed(record: ScopeRecord) -> bool:
    """The alarm's claim was saved but its execution never started (StartExecution failed after it)."""
    return record.has_open_incident and record.execution_arn is None and record.source == "alarm"


def _resume_start(
    rt: Ports, record: ScopeRecord, found: Classification, base: dict[str, Any]
) -> IngestResult:
    """Start the execution of a claim whose StartExecution failed, on the redelivery of its alarm.

    Safe to repeat: the execution is named with the incident id, so one that did start (only the response
    was lost) is found (ExecutionAlreadyExists) and its ARN recorded, never started twice. If the start
    fails again it raises, and Lambda retries the event (idempotency stores no result for a failure).
    """
    result = _start(rt, record, found, base)
    rt.record(
        AuditEvent(
            action="execution:resumed",
            actor=INGEST_ACTOR,
            reason=(
                f"{base['alarm_name']} redelivered: incident {record.incident_id} was claimed but no "
                "execution was recorded; "
                + ("started it" if result.outcome == "started" else "it already existed; recorded its ARN")
            ),
            scope_key=record.scope_key,
            incident_id=record.incident_id,
            after={"execution_arn": result.execution_arn},
            details={"alarm": base["alarm_name"], "started_now": result.outcome == "started"},
        )
    )
    return result


def _start(rt: Ports, record: ScopeRecord, found: Classification, base: dict[str, Any]) -> IngestResult:
    incident_id = record.incident_id
    assert incident_id is not None
    payload = IncidentInput(
        incident_id=incident_id,
        scope=record.scope_key,
        source="alarm",
        entry_stage=record.lifecycle.stage or found.entry_stage,
        requested_by=INGEST_ACTOR,
        reason=record.reason or "",
        trigger=TriggerInfo(
            severity=found.severity,
            kind=found.kind,
            alarm_name=found.trigger.alarm_name,
            rule=found.trigger.rule,
        ),
    )
    arn, started = start_claimed(rt, payload)
    stored = rt.state.mutate(
        record.scope,
        lambda r: r.model_copy(update={"execution_arn": arn}) if r.incident_id == incident_id else None,
    )
    return IngestResult(
        outcome="started" if started else "joined",
        incident_id=incident_id,
        execution_arn=arn,
        lifecycle_state=stored.state,
        **base,
    )
