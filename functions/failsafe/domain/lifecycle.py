"""The rollback lifecycle of one scope: states, the transition table, guards and audit entries.

    NORMAL ─fired─▶ DEGRADED (P2: a degrade-only stage) or ROLLBACK_PENDING (P1, critical: a rollback stage)
    DEGRADED / ROLLBACK_PENDING ─STAGE_APPLIED─▶ DEGRADED (held) / ROLLED_BACK
    held ─DEADLINE_PASSED, DEPLOYMENT_FAILED or a more severe trigger─▶ ROLLBACK_PENDING at a later stage
    held ─ALL_GREEN─▶ RECOVERY_VERIFY ─VERIFY_WINDOW_PASSED─▶ (restoring) ─RESTORED─▶ NORMAL
    RECOVERY_VERIFY ─re-fire─▶ back to the same or a later stage, with a wider verify window (hysteresis)
    any incident state ─MANUAL_OVERRIDE (reason)─▶ NORMAL;  any state ─MANUAL_LEVEL (reason)─▶ that stage

`TRANSITIONS` lists, for every allowed (state, event), the states it may lead to; anything not listed
raises `IllegalTransitionError` naming the state and the event. The only automatic way back to NORMAL is
RESTORED after a passed verify window; the manual events (override, level, approvals) are audited with
the operator's reason.

Every transition returns a new `LifecycleRecord` with `version + 1` (the store writes it on the condition
that the stored version is still the old one) and an `AuditEntry`. Time comes in with the event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from failsafe.domain.catalog import Severity
from failsafe.domain.plans import Plan, Stage
from failsafe.domain.scope import Scope


class LifecycleState(StrEnum):
    NORMAL = "NORMAL"
    DEGRADED = "DEGRADED"
    ROLLBACK_PENDING = "ROLLBACK_PENDING"
    ROLLED_BACK = "ROLLED_BACK"
    RECOVERY_VERIFY = "RECOVERY_VERIFY"


class EventKind(StrEnum):
    P2_FIRED = "P2_FIRED"
    P1_FIRED = "P1_FIRED"
    CRITICAL_FIRED = "CRITICAL_FIRED"
    STAGE_APPLIED = "STAGE_APPLIED"
    DEPLOYMENT_FAILED = "DEPLOYMENT_FAILED"
    DEADLINE_PASSED = "DEADLINE_PASSED"
    ALL_GREEN = "ALL_GREEN"
    VERIFY_WINDOW_PASSED = "VERIFY_WINDOW_PASSED"
    RESTORED = "RESTORED"
    APPROVAL_GRANTED = "APPROVAL_GRANTED"
    APPROVAL_DENIED = "APPROVAL_DENIED"
    MANUAL_LEVEL = "MANUAL_LEVEL"
    MANUAL_OVERRIDE = "MANUAL_OVERRIDE"

    @property
    def is_manual(self) -> bool:
        return self in MANUAL_EVENTS


MANUAL_EVENTS = frozenset(
    {EventKind.APPROVAL_GRANTED, EventKind.APPROVAL_DENIED, EventKind.MANUAL_LEVEL, EventKind.MANUAL_OVERRIDE}
)
AUTOMATIC_EVENTS = frozenset(EventKind) - MANUAL_EVENTS
FIRED_SEVERITY: Mapping[EventKind, Severity] = {
    EventKind.P2_FIRED: Severity.P2,
    EventKind.P1_FIRED: Severity.P1,
    EventKind.CRITICAL_FIRED: Severity.CRITICAL,
}


def fired_event_kind(severity: Severity) -> EventKind:
    return {severity: kind for kind, severity in FIRED_SEVERITY.items()}[severity]


_S = LifecycleState
_E = EventKind
_FIRED = tuple(FIRED_SEVERITY)
_INCIDENT_STATES = (_S.DEGRADED, _S.ROLLBACK_PENDING, _S.ROLLED_BACK, _S.RECOVERY_VERIFY)
_ENTERED = frozenset({_S.DEGRADED, _S.ROLLBACK_PENDING})

TRANSITIONS: Mapping[tuple[LifecycleState, EventKind], frozenset[LifecycleState]] = {
    **{(_S.NORMAL, fired): _ENTERED for fired in _FIRED},
    (_S.NORMAL, _E.MANUAL_LEVEL): _ENTERED,
    # DEGRADED: a degrade-only stage is pending or held.
    **{(_S.DEGRADED, fired): frozenset({_S.DEGRADED, _S.ROLLBACK_PENDING}) for fired in _FIRED},
    (_S.DEGRADED, _E.STAGE_APPLIED): frozenset({_S.DEGRADED}),
    (_S.DEGRADED, _E.DEPLOYMENT_FAILED): frozenset({_S.DEGRADED, _S.ROLLBACK_PENDING}),
    (_S.DEGRADED, _E.DEADLINE_PASSED): frozenset({_S.DEGRADED, _S.ROLLBACK_PENDING}),
    (_S.DEGRADED, _E.ALL_GREEN): frozenset({_S.RECOVERY_VERIFY}),
    # ROLLBACK_PENDING: a rollback stage is being deployed or awaits approval.
    **{(_S.ROLLBACK_PENDING, fired): frozenset({_S.ROLLBACK_PENDING}) for fired in _FIRED},
    (_S.ROLLBACK_PENDING, _E.STAGE_APPLIED): frozenset({_S.ROLLBACK_PENDING, _S.ROLLED_BACK}),
    (_S.ROLLBACK_PENDING, _E.DEPLOYMENT_FAILED): frozenset({_S.ROLLBACK_PENDING}),
    (_S.ROLLBACK_PENDING, _E.DEADLINE_PASSED): frozenset({_S.ROLLBACK_PENDING}),
    (_S.ROLLBACK_PENDING, _E.APPROVAL_GRANTED): frozenset({_S.ROLLBACK_PENDING}),
    (_S.ROLLBACK_PENDING, _E.APPROVAL_DENIED): frozenset({_S.DEGRADED, _S.ROLLED_BACK, _S.NORMAL}),
    # ROLLED_BACK: a rollback stage is in force; waiting for green or the deadline.
    **{(_S.ROLLED_BACK, fired): frozenset({_S.ROLLED_BACK, _S.ROLLBACK_PENDING}) for fired in _FIRED},
    (_S.ROLLED_BACK, _E.DEADLINE_PASSED): frozenset({_S.ROLLED_BACK, _S.ROLLBACK_PENDING}),
    (_S.ROLLED_BACK, _E.ALL_GREEN): frozenset({_S.RECOVERY_VERIFY}),
    # RECOVERY_VERIFY: green; the window must pass, then the restore is deployed.
    **{
        (_S.RECOVERY_VERIFY, fired): frozenset({_S.DEGRADED, _S.ROLLBACK_PENDING, _S.ROLLED_BACK})
        for fired in _FIRED
    },
    (_S.RECOVERY_VERIFY, _E.VERIFY_WINDOW_PASSED): frozenset({_S.RECOVERY_VERIFY}),
    (_S.RECOVERY_VERIFY, _E.DEPLOYMENT_FAILED): frozenset({_S.DEGRADED, _S.ROLLED_BACK}),
    (_S.RECOVERY_VERIFY, _E.RESTORED): frozenset({_S.NORMAL}),
    # The operator's levers, from any incident state.
    **{(state, _E.MANUAL_LEVEL): _ENTERED for state in _INCIDENT_STATES},
    **{(state, _E.MANUAL_OVERRIDE): frozenset({_S.NORMAL}) for state in _INCIDENT_STATES},
}


class LifecycleError(ValueError):
    pass


class IllegalTransitionError(LifecycleError):
    def __init__(self, state: LifecycleState, event: EventKind, why: str | None = None) -> None:
        self.state = state
        self.event = event
        detail = why or "the transition table has no such transition"
        super().__init__(f"event {event.value} is not allowed in state {state.value}: {detail}")


class Event(BaseModel):
    """Something that happened to a scope. `stage` is the entry stage of a fired trigger, the stage a
    deployment put in force, or the stage an operator chose."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: EventKind
    at: datetime
    actor: str = Field(..., min_length=1, max_length=128)
    reason: str = Field("", max_length=1024)
    incident_id: str | None = Field(None, min_length=1, max_length=80)
    stage: str | None = None


class LifecycleRecord(BaseModel):
    """The one record per scope. `stage` is the stage the scope is moving to or holding; `applied_stage`
    the last one confirmed in force."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: Scope
    state: LifecycleState = LifecycleState.NORMAL
    version: int = Field(0, ge=0)
    incident_id: str | None = None
    stage: str | None = None
    applied_stage: str | None = None
    approved_by: str | None = None
    deadline_at: datetime | None = None
    verify_window_seconds: int = Field(..., gt=0)
    verify_until: datetime | None = None
    restoring: bool = False
    refires: int = Field(0, ge=0)
    since: datetime | None = None

    @classmethod
    def new(cls, scope: Scope, plan: Plan) -> LifecycleRecord:
        return cls(scope=scope, verify_window_seconds=plan.verify.window_seconds)


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: str
    incident_id: str | None
    at: datetime
    actor: str
    reason: str
    event: EventKind
    manual: bool
    before_state: LifecycleState
    after_state: LifecycleState
    before_stage: str | None
    after_stage: str | None
    version: int
    note: str


class Transition(NamedTuple):
    record: LifecycleRecord
    audit: AuditEntry


class _Step(NamedTuple):
    changes: dict[str, Any]
    note: str


Handler = Callable[[LifecycleRecord, Event, Plan], _Step]


def transition(record: LifecycleRecord, event: Event, plan: Plan) -> Transition:
    """Apply one event to a scope's record: the new record (version + 1) and its audit entry."""
    allowed = TRANSITIONS.get((record.state, event.kind))
    if allowed is None:
        raise IllegalTransitionError(record.state, event.kind)
    if event.kind.is_manual and not event.reason.strip():
        raise IllegalTransitionError(record.state, event.kind, "a manual action needs a recorded reason")
    step = _HANDLERS[event.kind](record, event, plan)
    updated = record.model_copy(update={**step.changes, "version": record.version + 1})
    if updated.state not in allowed:
        raise LifecycleError(
            f"internal: {record.state.value} + {event.kind.value} led to {updated.state.value}"
        )
    if updated.state is not record.state:
        updated = updated.model_copy(update={"since": event.at})
    audit = AuditEntry(
        scope=record.scope.key,
        incident_id=updated.incident_id or record.incident_id,
        at=event.at,
        actor=event.actor,
        reason=event.reason,
        event=event.kind,
        manual=event.kind.is_manual,
        before_state=record.state,
        after_state=updated.state,
        before_stage=record.stage,
        after_stage=updated.stage,
        version=updated.version,
        note=step.note,
    )
    return Transition(updated, audit)


def _guard(record: LifecycleRecord, event: Event, condition: bool, why: str) -> None:
    if not condition:
        raise IllegalTransitionError(record.state, event.kind, why)


def _pending_state(stage: Stage) -> LifecycleState:
    return LifecycleState.DEGRADED if stage.degrade_only else LifecycleState.ROLLBACK_PENDING


def _held_state(stage: Stage) -> LifecycleState:
    return LifecycleState.DEGRADED if stage.degrade_only else LifecycleState.ROLLED_BACK


def _current(record: LifecycleRecord, plan: Plan) -> Stage:
    assert record.stage is not None, "an incident state always has a stage"
    return plan.stage(record.stage)


def _enter(stage: Stage, at: datetime) -> dict[str, Any]:
    """Move towards `stage`: it must be in force within its target time."""
    return {
        "state": _pending_state(stage),
        "stage": stage.name,
        "approved_by": None,
        "deadline_at": at + timedelta(seconds=stage.target_seconds),
        "verify_until": None,
        "restoring": False,
    }


def _hold(stage: Stage, at: datetime) -> dict[str, Any]:
    """`stage` is in force: green is expected before its recovery deadline."""
    return {
        "state": _held_state(stage),
        "stage": stage.name,
        "applied_stage": stage.name,
        "deadline_at": at + timedelta(seconds=stage.recovery.deadline_seconds),
        "verify_until": None,
        "restoring": False,
    }


def _normal(record: LifecycleRecord, plan: Plan) -> dict[str, Any]:
    fresh = LifecycleRecord.new(record.scope, plan)
    return fresh.model_dump(exclude={"scope", "version", "since"})


def _entry_stage(event: Event, plan: Plan) -> Stage:
    if event.stage is not None:
        return plan.stage(event.stage)
    return plan.entry_stage(FIRED_SEVERITY[event.kind])


def _on_fired(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    entry = _entry_stage(event, plan)
    if record.state is LifecycleState.NORMAL:
        _guard(
            record,
            event,
            event.incident_id is not None,
            "a trigger that opens an incident needs an incident_id",
        )
        return _Step({**_enter(entry, event.at), "incident_id": event.incident_id}, f"opened at {entry.name}")
    current = _current(record, plan)
    target = plan.stage(plan.higher(current.name, entry.name))
    if record.state is LifecycleState.RECOVERY_VERIFY:
        return _refire(record, event, plan, target)
    if target.name == current.name:
        return _Step({}, f"joined: {entry.name} is not above {current.name}")
    return _Step(
        _enter(target, event.at), f"escalated {current.name} -> {target.name} on a more severe trigger"
    )


def _refire(record: LifecycleRecord, event: Event, plan: Plan, target: Stage) -> _Step:
    """Hysteresis: a re-fire during verification goes back to the same or a later stage and widens the
    window the scope must stay green for."""
    window = plan.verify.widened(record.verify_window_seconds)
    common = {"verify_window_seconds": window, "refires": record.refires + 1}
    note = f"re-fired during verification; verify window {record.verify_window_seconds}s -> {window}s"
    if target.name == record.stage and not record.restoring:
        return _Step({**_hold(target, event.at), **common}, note)
    # A restore may have begun or a later stage is needed: the stage has to be deployed (again).
    return _Step(
        {**_enter(target, event.at), **common, "applied_stage": None}, f"{note}; redeploying {target.name}"
    )


def _on_stage_applied(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    current = _current(record, plan)
    path = [s.name for s in plan.path_to(current.name)]
    _guard(record, event, event.stage in path, f"stage {event.stage!r} is not on the way to {current.name}")
    applied = plan.stage(event.stage or "")
    _guard(
        record,
        event,
        not applied.requires_approval or record.approved_by is not None,
        f"stage {applied.name} needs approval before it is applied",
    )
    if applied.name != current.name:
        return _Step({"applied_stage": applied.name}, f"{applied.name} in force on the way to {current.name}")
    return _Step(_hold(current, event.at), f"{current.name} in force")


def _escalate(record: LifecycleRecord, event: Event, plan: Plan, why: str) -> _Step:
    current = _current(record, plan)
    following = plan.next_stage(current.name)
    if following is None:
        retry = (
            _enter(current, event.at) if record.applied_stage != current.name else _hold(current, event.at)
        )
        return _Step(retry, f"{why}; the plan is exhausted at {current.name}: humans are paged")
    return _Step(_enter(following, event.at), f"{why}; escalated {current.name} -> {following.name}")


def _on_deadline_passed(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    _guard(
        record,
        event,
        record.deadline_at is not None and event.at >= record.deadline_at,
        f"the deadline is {record.deadline_at.isoformat() if record.deadline_at else 'not set'}",
    )
    return _escalate(record, event, plan, "deadline passed")


def _on_deployment_failed(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    if record.state is LifecycleState.RECOVERY_VERIFY:
        _guard(record, event, record.restoring, "no restore is being deployed")
        return _Step(_hold(_current(record, plan), event.at), "the restore failed; the stage stays in force")
    _guard(record, event, record.applied_stage != record.stage, "the stage is already in force")
    return _escalate(record, event, plan, "deployment failed")


def _on_all_green(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    _guard(record, event, record.applied_stage == record.stage, f"stage {record.stage} is not in force yet")
    until = event.at + timedelta(seconds=record.verify_window_seconds)
    return _Step(
        {"state": LifecycleState.RECOVERY_VERIFY, "verify_until": until, "deadline_at": None},
        f"green; verifying for {record.verify_window_seconds}s",
    )


def _on_verify_window_passed(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    _guard(record, event, not record.restoring, "the restore is already under way")
    _guard(
        record,
        event,
        record.verify_until is not None and event.at >= record.verify_until,
        f"the verify window runs until {record.verify_until.isoformat() if record.verify_until else 'unset'}",
    )
    return _Step({"restoring": True}, "verify window passed; restoring")


def _on_restored(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    _guard(record, event, record.restoring, "the verify window has not passed")
    return _Step(_normal(record, plan), "restored")


def _on_approval_granted(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    current = _current(record, plan)
    _guard(record, event, current.requires_approval, f"stage {current.name} needs no approval")
    _guard(record, event, record.approved_by is None, f"stage {current.name} is already approved")
    return _Step({"approved_by": event.actor}, f"{current.name} approved by {event.actor}")


def _on_approval_denied(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    current = _current(record, plan)
    _guard(record, event, current.requires_approval, f"stage {current.name} needs no approval")
    _guard(record, event, record.approved_by is None, f"stage {current.name} is already approved")
    if record.applied_stage is None:
        return _Step(_normal(record, plan), f"{current.name} denied by {event.actor}; nothing was changed")
    held = plan.stage(record.applied_stage)
    return _Step(_hold(held, event.at), f"{current.name} denied by {event.actor}; holding {held.name}")


def _on_manual_level(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    _guard(record, event, event.stage is not None, "name the stage to run")
    target = plan.stage(event.stage or "")
    changes = _enter(target, event.at)
    if record.state is LifecycleState.NORMAL:
        _guard(
            record,
            event,
            event.incident_id is not None,
            "a manual level that opens an incident needs an incident_id",
        )
        changes["incident_id"] = event.incident_id
    return _Step(changes, f"{event.actor} chose {target.name}")


def _on_manual_override(record: LifecycleRecord, event: Event, plan: Plan) -> _Step:
    return _Step(_normal(record, plan), f"{event.actor} forced NORMAL")


_HANDLERS: Mapping[EventKind, Handler] = {
    **dict.fromkeys(_FIRED, _on_fired),
    _E.STAGE_APPLIED: _on_stage_applied,
    _E.DEPLOYMENT_FAILED: _on_deployment_failed,
    _E.DEADLINE_PASSED: _on_deadline_passed,
    _E.ALL_GREEN: _on_all_green,
    _E.VERIFY_WINDOW_PASSED: _on_verify_window_passed,
    _E.RESTORED: _on_restored,
    _E.APPROVAL_GRANTED: _on_approval_granted,
    _E.APPROVAL_DENIED: _on_approval_denied,
    _E.MANUAL_LEVEL: _on_manual_level,
    _E.MANUAL_OVERRIDE: _on_manual_override,
}
