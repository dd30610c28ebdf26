"""One incident timeline merged from every source that saw it.

Each `TimelineEvent` is something that really happened, with the instant its source recorded:

- ``alarm``: a CloudWatch alarm state change (the alarm's own history, or the state-change events the
  local CloudWatch emitted to EventBridge);
- ``execution``: a Step Functions history event of the incident's execution;
- ``appconfig``: an AppConfig deployment event (started, completed, rolled back) of this incident;
- ``audit``: an entry of the hash-chained audit log (lifecycle transitions, approvals, notifications);
- ``client``: a recommender client applying a new toggle document version (drills observe this);
- ``drill``: what a drill did on purpose (fault injected, fault repaired, operator actions).

Collecting never invents an event: a source that cannot be read is reported in `Timeline.gaps`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["alarm", "execution", "appconfig", "audit", "client", "drill", "notification"]


class TimelineEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime
    source: Source
    kind: str = Field(..., min_length=1, description="Machine-readable kind, e.g. 'alarm:ALARM'.")
    title: str = Field(..., description="One human line.")
    who: str | None = None
    why: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Timeline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[TimelineEvent] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list, description="Sources that could not be read, and why.")

    def add(self, event: TimelineEvent) -> None:
        self.events.append(event)

    def extend(self, events: Iterable[TimelineEvent]) -> None:
        self.events.extend(events)

    def sorted(self) -> list[TimelineEvent]:
        return sorted(self.events, key=lambda e: (_utc(e.at), e.source, e.kind))

    def first(
        self,
        kind: str | Callable[[TimelineEvent], bool],
        *,
        after: datetime | None = None,
        source: Source | None = None,
    ) -> TimelineEvent | None:
        match = (lambda e: e.kind == kind) if isinstance(kind, str) else kind
        for event in self.sorted():
            if source is not None and event.source != source:
                continue
            if after is not None and _utc(event.at) < _utc(after):
                continue
            if match(event):
                return event
        return None

    def last(
        self, kind: str | Callable[[TimelineEvent], bool], *, source: Source | None = None
    ) -> TimelineEvent | None:
        match = (lambda e: e.kind == kind) if isinstance(kind, str) else kind
        found = None
        for event in self.sorted():
            if (source is None or event.source == source) and match(event):
                found = event
        return found

    def dedupe(self) -> Timeline:
        seen: set[tuple[str, str, str, str]] = set()
        unique: list[TimelineEvent] = []
        for event in self.sorted():
            key = (_utc(event.at).isoformat(), event.source, event.kind, event.title)
            if key not in seen:
                seen.add(key)
                unique.append(event)
        return Timeline(events=unique, gaps=list(self.gaps))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return _utc(value)


# --- collectors: each reads one real source ------------------------------------------------------------


def alarm_events_from_state_changes(changes: Sequence[dict[str, Any]], prefix: str) -> list[TimelineEvent]:
    """'CloudWatch Alarm State Change' events (the EventBridge format) of alarms named `prefix`*."""
    events = []
    for event in changes:
        detail = event.get("detail", {})
        name = str(detail.get("alarmName", ""))
        if not name.startswith(prefix):
            continue
        state = detail.get("state", {})
        previous = detail.get("previousState", {})
        at = as_utc(str(state.get("timestamp") or event.get("time")))
        value = str(state.get("value"))
        events.append(
            TimelineEvent(
                at=at,
                source="alarm",
                kind=f"alarm:{value}",
                title=f"{name.removeprefix(prefix)} {previous.get('value', '?')} -> {value}",
                why=str(state.get("reason", ""))[:300],
                data={"alarm": name, "state": value, "previous": previous.get("value")},
            )
        )
    return events


def alarm_history(cloudwatch: Any, prefix: str, since: datetime | None = None) -> list[TimelineEvent]:
    """CloudWatch's own alarm history (`DescribeAlarmHistory`, StateUpdate items) of alarms `prefix`*, from
    `since` (all that CloudWatch keeps when None) up to CloudWatch's now: no EndDate, so a clock that runs
    ahead of this process's (a drill's simulated time) loses nothing."""
    events = []
    kwargs: dict[str, Any] = {
        "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        "HistoryItemType": "StateUpdate",
        "ScanBy": "TimestampAscending",
    }
    if since is not None:
        kwargs["StartDate"] = since
    while True:
        page = cloudwatch.describe_alarm_history(**kwargs)
        for item in page.get("AlarmHistoryItems", []):
            name = str(item.get("AlarmName", ""))
            if not name.startswith(prefix):
                continue
            data = json.loads(item.get("HistoryData") or "{}")
            new = str(data.get("newState", {}).get("stateValue", "?"))
            old = str(data.get("oldState", {}).get("stateValue", "?"))
            events.append(
                TimelineEvent(
                    at=as_utc(item["Timestamp"]),
                    source="alarm",
                    kind=f"alarm:{new}",
                    title=f"{name.removeprefix(prefix)} {old} -> {new}",
                    why=str(item.get("HistorySummary", ""))[:300],
                    data={"alarm": name, "state": new, "previous": old},
                )
            )
        token = page.get("NextToken")
        if not token:
            return events
        kwargs["NextToken"] = token


def execution_events(stepfunctions: Any, execution_arn: str) -> list[TimelineEvent]:
    """The execution's start and end and the tasks it ran, from `GetExecutionHistory`."""
    history: list[tuple[datetime, str, str | None]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = stepfunctions.get_execution_history(**kwargs)
        for item in page.get("events", []):
            name = item.get("stateEnteredEventDetails", {}).get("name")
            history.append((item["timestamp"], str(item["type"]), name))
        token = page.get("nextToken")
        if not token:
            return execution_events_from_history(history)
        kwargs["nextToken"] = token


def execution_events_from_history(
    history: Iterable[tuple[datetime | str, str, str | None]],
) -> list[TimelineEvent]:
    """(at, event type, state name) of an execution's history as timeline events: its start and end and the
    tasks it ran (a polling loop once per lap)."""
    events = []
    recent: list[str] = []
    for timestamp, kind, state_name in history:
        at = as_utc(timestamp)
        if kind == "ExecutionStarted":
            events.append(
                TimelineEvent(at=at, source="execution", kind="execution:started", title="workflow started")
            )
        elif kind in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            status = kind.removeprefix("Execution").upper()
            events.append(
                TimelineEvent(
                    at=at,
                    source="execution",
                    kind="execution:ended",
                    title=f"workflow {status.lower()}",
                    data={"status": status},
                )
            )
        elif kind == "TaskStateEntered":
            name = state_name or "?"
            if name in recent:  # a polling loop (check, wait, check): show each task once per lap
                continue
            recent = [*recent[-2:], name]
            events.append(
                TimelineEvent(
                    at=at,
                    source="execution",
                    kind="execution:state",
                    title=f"state {name}",
                    data={"state": name},
                )
            )
    return events


def deployment_events(
    appconfig: Any, application_id: str, environment_id: str, incident_id: str | None
) -> list[TimelineEvent]:
    """AppConfig deployments whose description names `incident_id` (all of them when None)."""
    events = []
    items = appconfig.list_deployments(ApplicationId=application_id, EnvironmentId=environment_id).get(
        "Items", []
    )
    for item in items:
        d = appconfig.get_deployment(
            ApplicationId=application_id,
            EnvironmentId=environment_id,
            DeploymentNumber=item["DeploymentNumber"],
        )
        description = str(d.get("Description", ""))
        if incident_id is not None and incident_id not in description:
            continue
        number = d["DeploymentNumber"]
        version = d.get("ConfigurationVersion")
        base = {
            "deployment_number": number,
            "config_version": _int(version),
            "document_version": document_version(
                appconfig, application_id, str(d.get("ConfigurationProfileId", "")), version
            ),
            "description": description,
        }
        strategy = str(d.get("DeploymentStrategyId", ""))
        if d.get("StartedAt"):
            events.append(
                TimelineEvent(
                    at=as_utc(d["StartedAt"]),
                    source="appconfig",
                    kind="deployment:started",
                    title=f"deployment #{number} of config version {version} started ({strategy})",
                    why=description,
                    data={**base, "strategy": strategy},
                )
            )
        state = str(d.get("State", ""))
        ended = d.get("CompletedAt")
        if state == "COMPLETE" and ended:
            events.append(
                TimelineEvent(
                    at=as_utc(ended),
                    source="appconfig",
                    kind="deployment:complete",
                    title=f"deployment #{number} of config version {version} complete",
                    why=description,
                    data=base,
                )
            )
        for log_event in d.get("EventLog", []):
            if log_event.get("EventType") in ("ROLLBACK_STARTED", "ROLLBACK_COMPLETED"):
                events.append(
                    TimelineEvent(
                        at=as_utc(log_event["OccurredAt"]),
                        source="appconfig",
                        kind=f"deployment:{str(log_event['EventType']).lower()}",
                        title=f"deployment #{number} {str(log_event['EventType']).lower().replace('_', ' ')}",
                        why=str(log_event.get("Description", "")),
                        data=base,
                    )
                )
    return events


def document_version(appconfig: Any, application_id: str, profile_id: str, version: object) -> int | None:
    """`metadata.version` of a hosted toggles document: the version recommender clients report
    (ConfigVersion), which differs from AppConfig's own version number."""
    number = _int(version)
    if number is None or not profile_id:
        return None
    try:
        content = appconfig.get_hosted_configuration_version(
            ApplicationId=application_id, ConfigurationProfileId=profile_id, VersionNumber=number
        )["Content"].read()
        return _int(json.loads(content).get("metadata", {}).get("version"))
    except Exception:  # not a toggles document, or not readable: no client can be matched against it
        return None


def audit_events(entries: Iterable[Any]) -> list[TimelineEvent]:
    """Audit entries (`failsafe.domain.audit.AuditEntry`): transitions, toggles, approvals, notifications."""
    events = []
    for entry in entries:
        action = str(entry.action)
        title = action
        data: dict[str, Any] = {
            "seq": entry.seq,
            "action": action,
            "before": entry.before,
            "after": entry.after,
        }
        data.update({k: v for k, v in entry.details.items() if isinstance(v, str | int | float | bool)})
        if action.startswith("transition") or "state" in entry.after:
            before = entry.before.get("state")
            after = entry.after.get("state")
            stage = entry.after.get("stage")
            title = f"{before} -> {after}" + (f" ({stage})" if stage else "")
            data.update({"state": after, "previous": before, "stage": stage})
            kind = "lifecycle:transition"
        elif action.startswith("notify") or action.startswith("notification"):
            kind = f"notification:{action.split(':', 1)[-1]}"
        else:
            kind = f"audit:{action}"
        events.append(
            TimelineEvent(
                at=as_utc(entry.at),
                source="audit",
                kind=kind,
                title=title,
                who=entry.actor,
                why=entry.reason or None,
                data=data,
            )
        )
    return events


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
