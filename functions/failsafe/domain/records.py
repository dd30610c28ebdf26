"""The controller's records: what it knows about each scope, and the pointer from an incident to its scope.

`ScopeRecord` wraps the domain `LifecycleRecord` with the facts around it (execution, deployments, versions to
restore, alarms seen, approvals). These are pure values; a state store (`failsafe.aws.state_store`, or the
in-memory fake in the tests) persists them with optimistic concurrency and raises `ConcurrentUpdateError`
when a conditional write loses a race.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from failsafe.domain.lifecycle import LifecycleRecord
from failsafe.domain.plans import Plan
from failsafe.domain.scope import Scope

AlarmStateValue = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]


class ConcurrentUpdateError(Exception):
    """Someone else changed the record between our read and our conditional write."""

    def __init__(self, key: str, expected_version: int | None) -> None:
        self.key = key
        self.expected_version = expected_version
        what = "absent" if expected_version is None else f"at version {expected_version}"
        super().__init__(f"{key}: expected the record {what}, but it changed concurrently; re-read and retry")


class AlarmObservation(BaseModel):
    """The latest state change seen for one alarm of a scope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alarm_name: str
    state: AlarmStateValue
    previous_state: AlarmStateValue | None = None
    at: datetime
    severity: str | None = None
    kind: str | None = None
    reason: str = ""

    @field_validator("at", mode="after")
    @classmethod
    def _utc(cls, at: datetime) -> datetime:
        # Records written before timestamps were normalised may hold a naive one: read it as UTC (what
        # CloudWatch stamps), so comparing it with an aware one never raises.
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at


class PendingApproval(BaseModel):
    """A Step Functions task token waiting for a human decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_token: str
    stage: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime


class ScopeRecord(BaseModel):
    """Everything the controller knows about one scope: the domain `LifecycleRecord` plus the facts the
    controller needs around it (execution, deployments, versions to restore, alarms seen, approvals).

    `version` is the store's optimistic-concurrency counter, bumped on every write (recording an alarm is
    a write without a lifecycle transition); `lifecycle.version` counts lifecycle transitions.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope_key: str
    version: int = Field(0, ge=0)
    lifecycle: LifecycleRecord
    execution_arn: str | None = None
    trigger_severity: str | None = None
    trigger_kind: str | None = None
    trigger_alarm: str | None = None
    source: Literal["alarm", "manual"] | None = None
    requested_by: str | None = None
    reason: str | None = None
    pre_incident_config_version: int | None = None
    deployed_config_version: int | None = None
    deployment_number: int | None = None
    deployment_kind: Literal["apply", "restore", "revert"] | None = None
    deployment_deadline: datetime | None = None
    deploy_attempts: int = 0
    last_known_good_version: int | None = None
    last_known_good_release: str | None = None
    release_before_revert: str | None = None
    pending_approval: PendingApproval | None = None
    # Who asked for the lifecycle's current stage when a person did (a manual level, including one that
    # joined an open incident); None when the stage came from an alarm or the controller. That person can
    # never approve the stage (`controller.approval.barred_approvers`). Records written before the field
    # existed load with None.
    level_requested_by: str | None = None
    approval_declined: bool = False
    # A manual level or kill switch holds until an operator recovers it (`failsafe recover`): the health
    # check does not start the automatic verify-and-restore while this is True. False for alarm-driven
    # incidents and for manual levels requested with `--auto-restore`.
    hold_until_recovered: bool = False
    alarms: dict[str, AlarmObservation] = Field(default_factory=dict)
    incident_started_at: datetime | None = None
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_by: str = "failsafe"

    @classmethod
    def fresh(cls, scope: Scope, plan: Plan) -> ScopeRecord:
        return cls(scope_key=scope.key, lifecycle=LifecycleRecord.new(scope, plan))

    @property
    def scope(self) -> Scope:
        return self.lifecycle.scope

    @property
    def state(self) -> str:
        return self.lifecycle.state.value

    @property
    def incident_id(self) -> str | None:
        return self.lifecycle.incident_id

    @property
    def has_open_incident(self) -> bool:
        return self.lifecycle.incident_id is not None

    def firing_alarms(self) -> list[AlarmObservation]:
        return sorted((o for o in self.alarms.values() if o.state == "ALARM"), key=lambda o: o.alarm_name)


class IncidentPointer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str
    scope_key: str
    created_at: datetime


def snapshot(record: ScopeRecord) -> dict[str, Any]:
    """The lifecycle facts an audit entry shows before and after a transition."""
    life = record.lifecycle
    return {
        "state": life.state.value,
        "stage": life.stage,
        "applied_stage": life.applied_stage,
        "incident_id": life.incident_id,
        "verify_window_seconds": life.verify_window_seconds,
        "refires": life.refires,
        "deployed_config_version": record.deployed_config_version,
    }
