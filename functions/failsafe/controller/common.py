"""Helpers shared by the controller's services: incident ids, transitions with their audit entries."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from failsafe.controller.ports import Ports
from failsafe.domain.audit import AuditEvent
from failsafe.domain.lifecycle import Event, EventKind, Transition, transition
from failsafe.domain.records import ScopeRecord, snapshot
from failsafe.domain.scope import Scope

SYSTEM_ACTOR = "failsafe"


def incident_id_for(scope: Scope, at: datetime, prefix: str = "inc") -> str:
    """`inc-20260101T000000123456Z-1a2b3c4d-9f8e7d6c`: unique, and sortable by time within a prefix.

    The UTC time to the microsecond comes first, then the scope's digest, then 32 random bits, so two
    incidents of one scope opened in the same instant (level 1, recover, emergency within a second; or a
    late alarm) never share an id. It is a valid Step Functions execution name (<= 80, [A-Za-z0-9_-]), a
    PagerDuty dedup_key and a report key.
    """
    digest = hashlib.sha256(scope.key.encode("utf-8")).hexdigest()[:8]
    moment = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{prefix}-{moment}-{digest}-{secrets.token_hex(4)}"


def apply_event(
    rt: Ports,
    record: ScopeRecord,
    kind: EventKind,
    *,
    actor: str = SYSTEM_ACTOR,
    reason: str = "",
    stage: str | None = None,
    incident_id: str | None = None,
    at: datetime | None = None,
) -> Transition:
    event = Event(
        kind=kind,
        at=at or rt.now(),
        actor=actor,
        reason=reason,
        incident_id=incident_id,
        stage=stage,
    )
    return transition(record.lifecycle, event, rt.plan)


def audit_transition(
    rt: Ports,
    before: ScopeRecord,
    after: ScopeRecord,
    moved: Transition,
    details: dict[str, Any] | None = None,
) -> None:
    entry = moved.audit
    rt.record(
        AuditEvent(
            action=f"transition:{entry.event.value}",
            actor=entry.actor,
            reason=entry.reason,
            scope_key=before.scope_key,
            incident_id=entry.incident_id,
            before=snapshot(before),
            after=snapshot(after),
            details={"note": entry.note, "manual": entry.manual, **(details or {})},
        )
    )
