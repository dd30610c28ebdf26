"""Applying a plan's stages to the AppConfig toggles document, and restoring it.

`apply_to_document` puts a stage in force for one scope (a scoped override, a new document version);
`restore_document` takes the scope's rollback out again. A scope held by another incident, or a document of
another environment, is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from failsafe.domain.plans import Plan, PlanError, Stage, apply_stages
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import (
    Metadata,
    ScopedOverride,
    ToggleDocument,
)


class ScopeHeldError(PlanError):
    pass


def apply_to_document(
    document: ToggleDocument,
    plan: Plan,
    stage_name: str,
    scope: Scope,
    *,
    incident_id: str,
    author: str,
    reason: str,
    at: datetime,
) -> ToggleDocument:
    """A new document in which exactly `scope` is governed by its pre-incident toggles with
    `plan.path_to(stage_name)` applied.

    The version is bumped. An override this incident already holds for the scope is replaced (escalation or
    a manual level change); an override held by another incident is refused. A standing override the
    incident replaces is kept in `replaces`, so `restore_document` can put it back. A standing override of a
    narrower scope inside `scope` (one region of a service-wide rollback) would outrank the rollback there,
    so it gets the same stages on top of its own toggles, held by the incident the same way. Overrides of
    scopes outside `scope`, and those of other incidents, are untouched.
    """
    path = plan.path_to(stage_name)
    _check_scope_environment(document, scope)
    needs_reason = [s.name for s in path if s.requires_reason]
    if needs_reason and not reason.strip():
        raise PlanError(f"stage {needs_reason[-1]}: a kill switch always needs a recorded reason")
    existing = _override_for(document, scope)
    if existing is not None and existing.incident_id not in (None, incident_id):
        raise ScopeHeldError(
            f"scope {scope.key} is held by incident {existing.incident_id}; "
            f"incident {incident_id} must join it instead"
        )
    others = [o for o in document.overrides if o.scope != scope]
    if existing is not None and existing.incident_id == incident_id:
        replaces = existing.replaces
    else:
        replaces = existing.toggles if existing is not None else None
    before_incident = replaces or document.model_copy(update={"overrides": others}).effective_toggles(scope)
    override = ScopedOverride(
        scope=scope,
        toggles=apply_stages(before_incident, path),
        incident_id=incident_id,
        stage=stage_name,
        replaces=replaces,
    )
    inside = [_rolled_back_inside(o, scope, path, incident_id, stage_name) for o in others]
    return _next_version(
        document, [*inside, override], author=author, reason=reason, incident_id=incident_id, at=at
    )


def _rolled_back_inside(
    override: ScopedOverride, scope: Scope, path: Sequence[Stage], incident_id: str, stage_name: str
) -> ScopedOverride:
    if not scope.contains(override.scope):
        return override
    if override.incident_id is None:
        standing = override.toggles
    elif override.incident_id == incident_id and override.replaces is not None:
        standing = override.replaces
    else:
        return override
    return ScopedOverride(
        scope=override.scope,
        toggles=apply_stages(standing, path),
        incident_id=incident_id,
        stage=stage_name,
        replaces=standing,
    )


def restore_document(
    document: ToggleDocument, scope: Scope, *, incident_id: str, author: str, reason: str, at: datetime
) -> ToggleDocument:
    """The inverse of `apply_to_document` for one incident: drop its overrides, put back what they
    replaced."""
    existing = _override_for(document, scope)
    if existing is None or existing.incident_id != incident_id:
        holder = "no override" if existing is None else f"an override of incident {existing.incident_id}"
        raise PlanError(f"restore {scope.key}: incident {incident_id} holds nothing there ({holder})")
    kept = [o for o in document.overrides if o.incident_id != incident_id]
    released = [
        ScopedOverride(scope=o.scope, toggles=o.replaces)
        for o in document.overrides
        if o.incident_id == incident_id and o.replaces is not None
    ]
    return _next_version(
        document, [*kept, *released], author=author, reason=reason, incident_id=incident_id, at=at
    )


def _override_for(document: ToggleDocument, scope: Scope) -> ScopedOverride | None:
    return next((o for o in document.overrides if o.scope == scope), None)


def _check_scope_environment(document: ToggleDocument, scope: Scope) -> None:
    if scope.environment != document.metadata.environment:
        raise PlanError(
            f"scope {scope.key}: the document is for environment {document.metadata.environment!r}, "
            f"not {scope.environment!r}"
        )


def _next_version(
    document: ToggleDocument,
    overrides: list[ScopedOverride],
    *,
    author: str,
    reason: str,
    incident_id: str,
    at: datetime,
) -> ToggleDocument:
    metadata = Metadata(
        version=document.metadata.version + 1,
        environment=document.metadata.environment,
        author=author,
        reason=reason,
        incident_id=incident_id,
        updated_at=at,
    )
    ordered = sorted(overrides, key=lambda o: o.scope.key)
    return ToggleDocument(metadata=metadata, toggles=document.toggles, overrides=ordered)
