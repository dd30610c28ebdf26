"""Rollback plans: ordered stages, each a toggle overlay or an action, as data.

Default plan (seed 000's stages, seed 004's levels mapped onto them):

| stage     | level     | change                                                   | target | approval |
|-----------|-----------|----------------------------------------------------------|--------|----------|
| stage_1   | 1         | exposure 75 %, cache warm_only                           | 120 s  | no       |
| stage_2   | 2         | content_only, CF off, fallback B (filter pruning)        | 300 s  | no       |
| stage_3   | 3         | exposure 50 %, fallback C (popularity), experiments frozen | 600 s | no       |
| revert    | 3         | action: revert to the last known good release            | 600 s  | yes      |
| emergency | emergency | kill switch, exposure 10 %, content_only, fallback D     | 120 s  | no, reason |

Where Stage 3 sits: seed 004's Level 3 ("full rollback to the previous release, with approval") follows
seed 000's Stage 3 toggles. Toggle changes never wait for a human, so Level 3 first applies the Stage 3
overlay and then asks for approval to revert the release; the overlay keeps protecting users while the
approval is pending. The revert is an action for the controller (roll the service back to its last known
good release); it leaves the toggles as they are until recovery restores them. Emergency's target time
is not in the seeds: a kill switch is a toggle change like Level 1, so it gets Level 1's 2 minutes.

Stages are cumulative and only ever tighten. A stage is entered by applying, to the toggles in force
before the incident, every overlay stage before it and then the stage itself (`Plan.path_to`), so a scope
reaches the same toggles whether it escalated or jumped, and a manual move to a lower level loosens only
what the incident had tightened. Within an overlay `exposure_percent` is a ceiling, `candidate_fallback_level`
a floor (A < B < C < D), and `kill_switch`, `disable_cf`, `disable_content` and `experiment_freeze` can only
be switched on: a rollback never makes a scope less safe than it was (a 20 % canary stays at 20 %).

Normalisation (`apply_stage`): the fields the overlay sets win; the others give way so that the result is
always valid, and a source the scope had switched off is never switched back on (it may be the broken
component). Switching to content_only clears `alpha_override`; content_only under a disabled content model
becomes collab_only, or popularity (hybrid_default with both sources off and fallback C) when CF is off
too; disabling CF under collab_only moves to hybrid_default if content is off too (to content_only only
when the overlay names it, see below); a kill
switch or both sources off moves a non-popularity fallback to D or C, overriding the stage's own floor.
Normalisation never moves to another mode to keep an overlay's alpha (from content_only that would switch
CF back on), and never serves a source the scope did not serve unless the overlay names a policy_mode that
uses it: such an overlay is refused. A plan whose overlay could still produce an invalid set, or switch a
source back on, on some valid input is refused when the plan is built (every combination of the
interacting toggles is tried).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from failsafe.domain.catalog import GuardrailKind, Severity
from failsafe.domain.decision import ServingPolicy, effective_policy
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import (
    CacheMode,
    FallbackLevel,
    Metadata,
    PolicyMode,
    ScopedOverride,
    ToggleConflictError,
    ToggleDocument,
    ToggleSet,
    toggle_conflicts,
)


class Level(StrEnum):
    """The operator's vocabulary (seed 004): `failsafe plan --level 1|2|3|emergency`."""

    ONE = "1"
    TWO = "2"
    THREE = "3"
    EMERGENCY = "emergency"


class StageAction(StrEnum):
    REVERT_TO_LAST_KNOWN_GOOD = "revert_to_last_known_good"


class NotifyChannel(StrEnum):
    SLACK = "slack"
    EMAIL = "email"
    PAGERDUTY = "pagerduty"
    PHONE = "phone"


class PlanError(ValueError):
    pass


_SWITCH_ON_ONLY = frozenset({"kill_switch", "disable_cf", "disable_content", "experiment_freeze"})


class ToggleOverlay(BaseModel):
    """The toggle fields a stage sets. Fields left out keep their value; scope lists belong to the scope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kill_switch: bool | None = None
    policy_mode: PolicyMode | None = None
    alpha_override: float | None = Field(None, ge=0.0, le=1.0, description="Set to null to clear it.")
    disable_cf: bool | None = None
    disable_content: bool | None = None
    candidate_fallback_level: FallbackLevel | None = None
    exposure_percent: int | None = Field(None, ge=0, le=100)
    cache_mode: CacheMode | None = None
    experiment_freeze: bool | None = None

    @model_validator(mode="after")
    def _tightening_only(self) -> Self:
        for name in self.model_fields_set - {"alpha_override"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name}: an overlay cannot set it to null; leave it out to keep its value")
        for name in _SWITCH_ON_ONLY & self.model_fields_set:
            if getattr(self, name) is False:
                raise ValueError(
                    f"{name}: an overlay can only switch it on; restoring the scope switches it off"
                )
        if not self.model_fields_set:
            raise ValueError("an overlay must set at least one toggle")
        return self

    @model_serializer(mode="wrap")
    def _only_what_is_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {name: value for name, value in data.items() if name in self.model_fields_set}

    @property
    def pinned(self) -> frozenset[str]:
        """The fields normalisation must not move (the ceiling and the floor may move further to safety)."""
        return frozenset(self.model_fields_set) - {"exposure_percent", "candidate_fallback_level"}

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class RecoveryCheck(BaseModel):
    """How recovery is judged after a stage is in force: these guardrail kinds OK before the deadline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    guardrail_kinds: tuple[GuardrailKind, ...] = Field(..., min_length=1)
    deadline_seconds: int = Field(..., gt=0, description="Escalate to the next stage when not green by then.")


StageName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StageName
    title: str = Field(..., min_length=1)
    level: Level
    overlay: ToggleOverlay | None = None
    action: StageAction | None = None
    target_seconds: int = Field(..., gt=0, description="The stage must be in force within this time.")
    requires_approval: bool = False
    requires_reason: bool = False
    authorized_roles: tuple[str, ...] = Field(..., min_length=1, description="Who may run it by hand.")
    approver_roles: tuple[str, ...] = Field((), description="Who may approve it (domain/authorization.py).")
    notify: tuple[NotifyChannel, ...] = ()
    degrade_only: bool = Field(False, description="Trims load without rolling back: the scope is DEGRADED.")
    recovery: RecoveryCheck

    @model_validator(mode="after")
    def _overlay_or_action(self) -> Self:
        if (self.overlay is None) == (self.action is None):
            raise ValueError(f"stage {self.name}: give exactly one of overlay or action")
        if self.requires_approval and not self.approver_roles:
            raise ValueError(f"stage {self.name}: requires_approval needs approver_roles (who may approve)")
        return self


class VerifyPolicy(BaseModel):
    """Recovery verification with hysteresis: each re-fire multiplies the green window, up to a cap."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_seconds: int = Field(..., gt=0)
    refire_factor: float = Field(..., ge=1.0)
    max_window_seconds: int = Field(..., gt=0)

    @model_validator(mode="after")
    def _cap_covers_window(self) -> Self:
        if self.max_window_seconds < self.window_seconds:
            raise ValueError("max_window_seconds must be at least window_seconds")
        return self

    def widened(self, window_seconds: int) -> int:
        return min(self.max_window_seconds, round(window_seconds * self.refire_factor))


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1)
    stages: tuple[Stage, ...] = Field(..., min_length=1)
    entry_by_severity: dict[Severity, str]
    entry_by_kind: dict[GuardrailKind, str] = Field(
        default_factory=dict, description="Kinds that enter at a fixed stage whatever their severity."
    )
    verify: VerifyPolicy
    break_glass_levels: tuple[Level, ...] = Field(
        (Level.EMERGENCY,),
        description="Levels a direct lambda:InvokeFunction (caller unknown) may run, besides dry runs.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [stage.name for stage in self.stages]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"plan {self.name}: stage names repeat: {', '.join(duplicates)}")
        for source, entries in (
            ("entry_by_severity", self.entry_by_severity),
            ("entry_by_kind", self.entry_by_kind),
        ):
            for key, entry in entries.items():
                if entry not in names:
                    raise ValueError(f"plan {self.name}: {source}[{key}] names unknown stage {entry!r}")
        missing = [severity.value for severity in Severity if severity not in self.entry_by_severity]
        if missing:
            raise ValueError(f"plan {self.name}: entry_by_severity has no stage for {', '.join(missing)}")
        flags = [stage.degrade_only for stage in self.stages]
        if flags != sorted(flags, reverse=True):
            raise ValueError(f"plan {self.name}: degrade-only stages must come before every rollback stage")
        for stage in self.stages:
            if stage.overlay is not None:
                _check_overlay_always_applies(stage)
        return self

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise PlanError(f"plan {self.name} has no stage {name!r}; stages: {', '.join(self.stage_names)}")

    @cached_property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)

    def index(self, name: str) -> int:
        self.stage(name)
        return self.stage_names.index(name)

    def next_stage(self, name: str) -> Stage | None:
        """The stage to escalate to from `name`, or None when the plan is exhausted."""
        index = self.index(name)
        return self.stages[index + 1] if index + 1 < len(self.stages) else None

    def higher(self, first: str, second: str) -> str:
        """The later (more drastic) of two stages."""
        return first if self.index(first) >= self.index(second) else second

    def path_to(self, name: str) -> tuple[Stage, ...]:
        """The stages to apply, in order, to the pre-incident toggles to enter `name`: every overlay stage
        before it, then the stage itself (earlier actions are not repeated)."""
        target = self.stage(name)
        earlier = self.stages[: self.index(name)]
        return (*(s for s in earlier if s.overlay is not None), target)

    def final_stage_of(self, level: Level | str) -> Stage:
        wanted = Level(level)
        matching = [stage for stage in self.stages if stage.level is wanted]
        if not matching:
            raise PlanError(f"plan {self.name} has no stage for level {wanted.value}")
        return matching[-1]

    def stages_for_level(self, level: Level | str) -> tuple[Stage, ...]:
        return self.path_to(self.final_stage_of(level).name)

    def entry_stage(self, severity: Severity, kind: GuardrailKind | None = None) -> Stage:
        if kind is not None and kind in self.entry_by_kind:
            return self.stage(self.entry_by_kind[kind])
        return self.stage(self.entry_by_severity[severity])


# The fixes for each interaction rule, in order of preference; the first whose field the overlay does
# not set is used. Keys are the `fields` of `ToggleConflictError`. No fix ever switches a source back on:
# a component the scope had disabled may be the broken one.
Fix = tuple[str, Callable[[dict[str, Any]], Any]]
_FIXES: Mapping[tuple[str, ...], tuple[Fix, ...]] = {
    ("disable_cf", "policy_mode"): (
        (
            "policy_mode",
            lambda v: PolicyMode.HYBRID_DEFAULT if v["disable_content"] else PolicyMode.CONTENT_ONLY,
        ),
    ),
    ("disable_content", "policy_mode"): (
        ("policy_mode", lambda v: PolicyMode.HYBRID_DEFAULT if v["disable_cf"] else PolicyMode.COLLAB_ONLY),
    ),
    ("disable_cf", "disable_content", "candidate_fallback_level"): (
        ("candidate_fallback_level", lambda _: FallbackLevel.C),
    ),
    # Never moved to a blending mode to keep an overlay's alpha: from content_only or collab_only that
    # would switch the other source back on. An overlay that sets alpha must set a blending mode too.
    ("alpha_override", "policy_mode"): (("alpha_override", lambda _: None),),
    ("kill_switch", "candidate_fallback_level"): (("candidate_fallback_level", lambda _: FallbackLevel.D),),
}
# Toggles a stage never loosens. When one of them, inherited from the scope, conflicts with what the overlay
# sets, the overlay's value gives way (e.g. content_only under a disabled content model becomes popularity).
_NEVER_LOOSENED = frozenset({"kill_switch", "disable_cf", "disable_content", "experiment_freeze"})
_MAX_FIX_ROUNDS = 8


def apply_stage(toggles: ToggleSet, stage: Stage) -> ToggleSet:
    """The toggle set after `stage`; always valid (see the module docstring for the normalisation)."""
    if stage.overlay is None:
        return toggles
    return _apply_overlay(toggles, stage.overlay, stage.name)


def apply_stages(toggles: ToggleSet, stages: Sequence[Stage]) -> ToggleSet:
    for stage in stages:
        toggles = apply_stage(toggles, stage)
    return toggles


_FALLBACK_ORDER = tuple(FallbackLevel)


def _merge(toggles: ToggleSet, overlay: ToggleOverlay) -> dict[str, Any]:
    values = toggles.model_dump()
    for name, value in overlay.values().items():
        if name == "exposure_percent":
            values[name] = min(values[name], value)
        elif name == "candidate_fallback_level":
            values[name] = max(values[name], value, key=_FALLBACK_ORDER.index)
        else:
            values[name] = value
    return values


def _apply_overlay(toggles: ToggleSet, overlay: ToggleOverlay, stage_name: str) -> ToggleSet:
    values = _merge(toggles, overlay)
    pinned = overlay.pinned
    for _ in range(_MAX_FIX_ROUNDS):
        candidate = ToggleSet.model_construct(**values)
        conflicts = toggle_conflicts(candidate)
        if not conflicts:
            result = ToggleSet.model_validate(values)
            _check_no_source_switched_on(stage_name, overlay, toggles, result)
            return result
        values = _fix(values, conflicts[0], pinned, stage_name)
    raise PlanError(f"stage {stage_name}: normalisation did not converge for {values}")


def _fix(
    values: dict[str, Any], conflict: ToggleConflictError, pinned: frozenset[str], stage_name: str
) -> dict[str, Any]:
    fixes = _FIXES[conflict.fields]
    for field, value_of in fixes:
        if field not in pinned:
            return values | {field: value_of(values)}
    inherited = set(conflict.fields) - pinned
    if inherited and inherited <= _NEVER_LOOSENED:
        field, value_of = fixes[0]
        return values | {field: value_of(values)}
    if inherited:
        raise PlanError(
            f"stage {stage_name}: its overlay sets {', '.join(sorted(set(conflict.fields) & pinned))}, "
            f"which conflicts with the scope's {_describe(values, sorted(inherited))} ({conflict}); "
            f"giving way would switch a source back on, so set {', '.join(sorted(inherited))} in the "
            "overlay too or drop the conflicting toggle"
        )
    raise PlanError(
        f"stage {stage_name}: its overlay sets {', '.join(conflict.fields)} and they conflict ({conflict}); "
        "change the overlay"
    )


def _describe(values: Mapping[str, Any], names: Sequence[str]) -> str:
    return ", ".join(f"{name}={values[name]!s}" for name in names)


# Every value the interaction rules look at; the other toggles cannot cause a conflict.
_INTERACTING_VALUES: Mapping[str, tuple[Any, ...]] = {
    "kill_switch": (False, True),
    "policy_mode": tuple(PolicyMode),
    "alpha_override": (None, 0.5),
    "disable_cf": (False, True),
    "disable_content": (False, True),
    "candidate_fallback_level": tuple(FallbackLevel),
}


def _valid_interacting_sets() -> list[ToggleSet]:
    names = list(_INTERACTING_VALUES)
    sets = []
    for combination in itertools.product(*_INTERACTING_VALUES.values()):
        candidate = ToggleSet.model_construct(
            **(ToggleSet().model_dump() | dict(zip(names, combination, strict=True)))
        )
        if not toggle_conflicts(candidate):
            sets.append(candidate)
    return sets


def _check_overlay_always_applies(stage: Stage) -> None:
    assert stage.overlay is not None
    for base in _VALID_INTERACTING_SETS:
        try:
            _apply_overlay(base, stage.overlay, stage.name)
        except (PlanError, ValueError) as error:
            raise ValueError(
                f"stage {stage.name}: its overlay cannot be applied to a valid set "
                f"({_describe_interacting(base)}): {error}"
            ) from None


def _sources(toggles: ToggleSet) -> frozenset[str]:
    return _POLICY_SOURCES[effective_policy(toggles)]


def _check_no_source_switched_on(
    stage_name: str, overlay: ToggleOverlay, before: ToggleSet, after: ToggleSet
) -> None:
    """Normalisation never serves a source the scope did not; only a policy_mode the overlay names may."""
    asked = _MODE_SOURCES[overlay.policy_mode] if overlay.policy_mode else frozenset()
    switched_on = _sources(after) - _sources(before) - asked
    if switched_on:
        raise PlanError(
            f"stage {stage_name}: its overlay sets {', '.join(sorted(overlay.model_fields_set))}, which "
            f"would switch {' and '.join(sorted(switched_on))} back on for a scope serving "
            f"{effective_policy(before)}; set policy_mode in the overlay to the mode the stage serves"
        )


def _describe_interacting(toggles: ToggleSet) -> str:
    return ", ".join(f"{name}={getattr(toggles, name)!s}" for name in _INTERACTING_VALUES)


_VALID_INTERACTING_SETS = _valid_interacting_sets()
_POLICY_SOURCES: Mapping[ServingPolicy, frozenset[str]] = {
    ServingPolicy.HYBRID: frozenset({"collaborative filtering", "content similarity"}),
    ServingPolicy.CONTENT_ONLY: frozenset({"content similarity"}),
    ServingPolicy.COLLAB_ONLY: frozenset({"collaborative filtering"}),
    ServingPolicy.POPULARITY: frozenset(),
}
_MODE_SOURCES = {mode: _sources(ToggleSet(policy_mode=mode)) for mode in PolicyMode}


_TOGGLE_GUARDRAILS = ("coverage", "latency", "errors", "cache", "availability")

DEFAULT_PLAN_DATA: Mapping[str, Any] = {
    "name": "recommender-default",
    "stages": [
        {
            "name": "stage_1",
            "title": "Stage 1: throttle traffic to 75 %, serve warm cache only",
            "level": "1",
            "overlay": {"exposure_percent": 75, "cache_mode": "warm_only"},
            "target_seconds": 120,
            "authorized_roles": ["on_call", "engineering_manager", "cto"],
            "notify": ["slack"],
            "degrade_only": True,
            "recovery": {"guardrail_kinds": _TOGGLE_GUARDRAILS, "deadline_seconds": 300},
        },
        {
            "name": "stage_2",
            "title": "Stage 2: content-only, collaborative filtering off, filter pruning",
            "level": "2",
            "overlay": {"policy_mode": "content_only", "disable_cf": True, "candidate_fallback_level": "B"},
            "target_seconds": 300,
            "authorized_roles": ["engineering_manager", "cto"],
            "notify": ["slack", "email"],
            "recovery": {"guardrail_kinds": _TOGGLE_GUARDRAILS, "deadline_seconds": 300},
        },
        {
            "name": "stage_3",
            "title": "Stage 3: throttle to 50 %, popularity fallback, freeze experiments",
            "level": "3",
            "overlay": {"exposure_percent": 50, "candidate_fallback_level": "C", "experiment_freeze": True},
            "target_seconds": 600,
            "authorized_roles": ["engineering_manager", "cto"],
            "notify": ["slack", "email", "pagerduty"],
            "recovery": {"guardrail_kinds": _TOGGLE_GUARDRAILS, "deadline_seconds": 300},
        },
        {
            "name": "revert",
            "title": "Level 3: revert to the last known good release",
            "level": "3",
            "action": "revert_to_last_known_good",
            "target_seconds": 600,
            "requires_approval": True,
            "authorized_roles": ["engineering_manager", "cto"],
            "approver_roles": ["cto"],
            "notify": ["slack", "email", "pagerduty"],
            "recovery": {"guardrail_kinds": _TOGGLE_GUARDRAILS, "deadline_seconds": 300},
        },
        {
            "name": "emergency",
            "title": "Emergency: kill switch, 10 % traffic, content-only, popularity fallback",
            "level": "emergency",
            "overlay": {
                "kill_switch": True,
                "exposure_percent": 10,
                "policy_mode": "content_only",
                "disable_cf": True,
                "candidate_fallback_level": "D",
            },
            "target_seconds": 120,
            "requires_reason": True,
            "authorized_roles": ["on_call", "engineering_manager", "cto"],
            "notify": ["slack", "email", "pagerduty", "phone"],
            "recovery": {
                "guardrail_kinds": (*_TOGGLE_GUARDRAILS, "security", "audit"),
                "deadline_seconds": 300,
            },
        },
    ],
    # A direct lambda:InvokeFunction (sam remote invoke) cannot name its caller: only these levels.
    "break_glass_levels": ["emergency"],
    "entry_by_severity": {"P2": "stage_1", "P1": "stage_2", "critical": "emergency"},
    "entry_by_kind": {"security": "emergency", "audit": "emergency"},
    # Seed 000: metrics back in the green zone within 15 minutes.
    "verify": {"window_seconds": 900, "refire_factor": 2.0, "max_window_seconds": 3600},
}

DEFAULT_PLAN = Plan.model_validate(DEFAULT_PLAN_DATA)


# --- applying stages to the AppConfig document ------------------------------------------------------------


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
