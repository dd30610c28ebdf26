"""The Step Functions execution state (`$`) and what each task returns into it.

The ASL passes the whole state to every task as `{"action": ..., "context.$": "$"}`; tasks return one
of the `*Output` models, which the ASL stores under `$.plan`, `$.deployment` or `$.health`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NextStep = Literal["apply", "request_approval", "hold", "done", "close"]


class TriggerInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: str
    kind: str
    alarm_name: str | None = None
    rule: str | None = None


class IncidentInput(BaseModel):
    """The execution input (written by AlarmIngest or ManualRollback)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str = Field(..., min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")
    scope: str = Field(..., min_length=1)
    source: Literal["alarm", "manual"]
    entry_stage: str
    requested_by: str = Field(..., min_length=1, max_length=512)
    reason: str = Field("", max_length=1024)
    trigger: TriggerInfo | None = None


class PlanOutput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str
    next_step: NextStep
    state: str
    stage: str | None = None
    stage_title: str | None = None
    level: str | None = None
    applied_stage: str | None = None
    stage_in_force: bool = False
    overlay_stages: list[str] = Field(default_factory=list)
    action: str | None = None
    needs_approval: bool = False
    target_seconds: int | None = None
    health_interval_seconds: int
    deployment_poll_seconds: int
    approval_timeout_seconds: int
    verify_window_seconds: int
    summary: str = ""


class DeploymentOutput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["apply", "restore", "revert"]
    deployment_number: int | None = None
    config_version: int | None = None
    state: str
    rolled_back: bool = False
    retry: bool = False
    retry_in_seconds: int = 0
    attempt: int = 1
    detail: str = ""


class HealthOutput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["FIRING", "VERIFYING", "RECOVERED", "ESCALATE", "ENDED", "WAITING"]
    state: str
    transitioned: bool = False
    firing: list[str] = Field(default_factory=list)
    note: str = ""


class ExecutionContext(BaseModel):
    """`$` of the state machine. Unknown keys (error payloads, notification results) are kept out."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    incident_id: str
    scope: str
    source: Literal["alarm", "manual"]
    entry_stage: str
    requested_by: str
    reason: str = ""
    trigger: TriggerInfo | None = None
    plan: PlanOutput | None = None
    deployment: DeploymentOutput | None = None
    health: HealthOutput | None = None
    approval: dict[str, Any] | None = None
    apply_error: dict[str, Any] | None = None
    restore_error: dict[str, Any] | None = None
    approval_error: dict[str, Any] | None = None
    controller_error: dict[str, Any] | None = Field(
        None, description="Error and Cause of the step that failed for good (the ControllerFailed page)."
    )


class TaskEvent(BaseModel):
    """What the ASL sends a task Lambda."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str
    event: str | None = None
    task_token: str | None = None
    context: ExecutionContext
