"""The 12 runtime toggles of the recommender safety spec, and the AppConfig document that carries them.

This module is the single source of truth: `infra/appconfig/toggles.schema.json` is generated from
`ToggleDocument` (see `failsafe.domain.schema`), and a test fails when the checked-in file drifts.

Precedence when a request is decided (see `failsafe.domain.decision`):
kill switch > scope (region/cohort/client) > exposure > policy mode and disable flags
> candidate fallback level > alpha.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from failsafe.domain.scope import Scope


class PolicyMode(StrEnum):
    BUCKET_GATE = "bucket_gate"
    CONTENT_ONLY = "content_only"
    COLLAB_ONLY = "collab_only"
    HYBRID_DEFAULT = "hybrid_default"


class FallbackLevel(StrEnum):
    """Candidate fallback stages, from most to least personalised."""

    A = "A"  # personalised candidates
    B = "B"  # expanded content neighbours (filter pruning)
    C = "C"  # segment popular
    D = "D"  # global popular

    @property
    def is_popularity(self) -> bool:
        return self in (FallbackLevel.C, FallbackLevel.D)


class CacheMode(StrEnum):
    COLD = "cold"
    PREWARM = "prewarm"
    WARM_ONLY = "warm_only"


BLENDING_MODES = frozenset({PolicyMode.HYBRID_DEFAULT, PolicyMode.BUCKET_GATE})

ScopeList = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=64)]


class ToggleConflictError(ValueError):
    """An invalid combination of toggles; `fields` names every toggle involved."""

    def __init__(self, fields: tuple[str, ...], message: str) -> None:
        self.fields = fields
        super().__init__(f"{' + '.join(fields)}: {message}")


class ToggleSet(BaseModel):
    """One complete, valid set of the 12 runtime toggles."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    kill_switch: bool = Field(
        False, description="Global emergency off switch: every request gets the fallback."
    )
    policy_mode: PolicyMode = Field(PolicyMode.HYBRID_DEFAULT, description="Algorithm mode.")
    alpha_override: float | None = Field(
        None, ge=0.0, le=1.0, description="Hard-set alpha blend (CF weight); only in blending modes."
    )
    disable_cf: bool = Field(False, description="Disable collaborative filtering.")
    disable_content: bool = Field(False, description="Disable content similarity.")
    candidate_fallback_level: FallbackLevel = Field(
        FallbackLevel.A,
        description="Force the candidate fallback stage (A personalised .. D global popular).",
    )
    exposure_percent: int = Field(
        100, ge=0, le=100, description="Share of traffic served the primary policy."
    )
    cache_mode: CacheMode = Field(CacheMode.PREWARM, description="Cache behaviour.")
    experiment_freeze: bool = Field(False, description="Freeze experiment bucket assignment.")
    region_scope: ScopeList = Field(default_factory=list, description="Limit to these regions (empty: all).")
    cohort_scope: ScopeList = Field(default_factory=list, description="Limit to these cohorts (empty: all).")
    client_scope: ScopeList = Field(default_factory=list, description="Limit to these clients (empty: all).")

    @model_validator(mode="after")
    def _check_interactions(self) -> Self:
        for conflict in toggle_conflicts(self):
            raise conflict
        return self

    @property
    def caution(self) -> tuple[bool, int, int]:
        """How far the set has rolled back, for ordering equally specific overrides that overlap (the more
        cautious one governs): the kill switch, then lower exposure, then fewer model sources served."""
        blending = self.policy_mode in BLENDING_MODES
        cf = not self.disable_cf and (blending or self.policy_mode is PolicyMode.COLLAB_ONLY)
        content = not self.disable_content and (blending or self.policy_mode is PolicyMode.CONTENT_ONLY)
        return self.kill_switch, -self.exposure_percent, 2 - int(cf) - int(content)


def toggle_conflicts(toggles: ToggleSet) -> list[ToggleConflictError]:
    """Every interaction rule the set breaks, each naming its fields. The interaction matrix lives here."""
    conflicts: list[ToggleConflictError] = []
    mode = toggles.policy_mode
    if toggles.disable_cf and mode is PolicyMode.COLLAB_ONLY:
        conflicts.append(
            ToggleConflictError(
                ("disable_cf", "policy_mode"),
                "collab_only mode needs collaborative filtering; "
                "set policy_mode=content_only or disable_cf=false",
            )
        )
    if toggles.disable_content and mode is PolicyMode.CONTENT_ONLY:
        conflicts.append(
            ToggleConflictError(
                ("disable_content", "policy_mode"),
                "content_only mode needs content similarity; "
                "set policy_mode=collab_only or disable_content=false",
            )
        )
    if toggles.disable_cf and toggles.disable_content and not toggles.candidate_fallback_level.is_popularity:
        conflicts.append(
            ToggleConflictError(
                ("disable_cf", "disable_content", "candidate_fallback_level"),
                "both sources are disabled, so candidate_fallback_level must be "
                "a popularity fallback (C or D)",
            )
        )
    if toggles.alpha_override is not None and mode not in BLENDING_MODES:
        conflicts.append(
            ToggleConflictError(
                ("alpha_override", "policy_mode"),
                f"alpha only blends in hybrid_default or bucket_gate, not {mode.value}; "
                "set alpha_override=null",
            )
        )
    if toggles.kill_switch and not toggles.candidate_fallback_level.is_popularity:
        conflicts.append(
            ToggleConflictError(
                ("kill_switch", "candidate_fallback_level"),
                "the kill switch serves popularity, so candidate_fallback_level must be C or D",
            )
        )
    return conflicts


class Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(..., ge=1, description="Monotonic document version.")
    environment: str = Field(..., min_length=1, max_length=64)
    author: str = Field(..., min_length=1, max_length=128)
    reason: str = Field(..., min_length=1, max_length=1024)
    incident_id: str | None = Field(None, min_length=1, max_length=80)
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class ScopedOverride(BaseModel):
    """A complete toggle set that replaces the defaults for requests inside `scope` (e.g. one region)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: Scope
    toggles: ToggleSet
    incident_id: str | None = Field(None, min_length=1, max_length=80)
    stage: str | None = Field(None, min_length=1, max_length=32)
    replaces: ToggleSet | None = Field(
        None, description="The standing override of this scope that the incident replaced; restored after it."
    )


class ToggleDocument(BaseModel):
    """The content of the AppConfig toggles profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    metadata: Metadata
    toggles: ToggleSet
    overrides: list[ScopedOverride] = Field(default_factory=list, max_length=256)

    @model_validator(mode="after")
    def _check_document(self) -> Self:
        killed = self.toggles.kill_switch or any(o.toggles.kill_switch for o in self.overrides)
        if killed and not self.metadata.reason.strip():
            raise ValueError("kill_switch + metadata.reason: a kill switch always needs a recorded reason")
        seen: set[Scope] = set()
        for override in self.overrides:
            if override.scope in seen:
                raise ValueError(
                    f"overrides: two overrides share the scope {override.scope.label}; merge them into one"
                )
            seen.add(override.scope)
        return self

    def toggles_for(self, scope: Scope) -> ToggleSet:
        """The toggle set an exact scope is governed by: its own override, else the defaults."""
        for override in self.overrides:
            if override.scope == scope:
                return override.toggles
        return self.toggles

    def effective_toggles(self, scope: Scope) -> ToggleSet:
        """What governs all of `scope`'s traffic: its own override, else the most specific override that
        contains it (ties: the most cautious, then the first listed), else the defaults. The kill switch
        comes first, as in `failsafe.domain.decision`: killed defaults, else the most specific killed
        override that contains the scope, govern it even when a narrower override exists."""
        containing = [o for o in self.overrides if o.scope.contains(scope)]
        if self.toggles.kill_switch:
            return self.toggles
        killed = [o for o in containing if o.toggles.kill_switch]
        candidates = killed or containing
        if not candidates:
            return self.toggles
        return max(
            candidates, key=lambda o: (o.scope == scope, o.scope.specificity, o.toggles.caution)
        ).toggles


MAX_JSON_DEPTH = 32
"""How deeply a toggles document may nest objects and arrays; a valid one needs 5 levels."""


def _json_depth(value: object) -> int:
    """The nesting depth of parsed JSON, walked without recursion so that any depth is measured safely."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth) for child in children)
    return deepest


def _check_depth(data: object) -> None:
    depth = _json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise ValidationError.from_exception_data(
            "ToggleDocument",
            [
                {
                    "type": PydanticCustomError(
                        "json_too_deep",
                        "JSON nested {depth} levels deep, more than the {limit} allowed; "
                        "a toggles document needs at most 5",
                        {"depth": depth, "limit": MAX_JSON_DEPTH},
                    ),
                    "loc": (),
                    "input": "<too deep to show>",
                }
            ],
        )


def _json_integers(value: object) -> object:
    """JSON Schema counts ``50.0`` as an integer and pydantic's strict mode does not: make those ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _json_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_integers(item) for item in value]
    return value


def document_from_json_data(data: object) -> ToggleDocument:
    """Validate a parsed JSON document (``json.loads``) with the types of the JSON Schema, not Python's.

    `ToggleDocument.model_validate` is lax: it turns ``"50"`` or ``true`` into an exposure of 50 or 1 %,
    and ``"true"`` or ``1`` into a kill switch. The checked-in JSON Schema (the AppConfig validator)
    rejects all of those, so a document read from AppConfig, a file or a backup is validated strictly
    here: booleans are only ``true``/``false``, numbers are never strings or booleans, enums are their
    string values. Integral floats (``50.0``) count as integers, as in JSON Schema. Nesting deeper than
    `MAX_JSON_DEPTH` is refused before anything recurses into it. Raises pydantic's `ValidationError`.
    """
    _check_depth(data)  # before the recursive walks below, which a deep document would exhaust
    normalised = _json_integers(data)
    metadata = normalised.get("metadata") if isinstance(normalised, dict) else None
    if isinstance(metadata, dict) and "updated_at" in metadata:
        # The schema does not assert the date-time format: read the stamp as leniently as AppConfig does,
        # so that (say) a date-only stamp never makes clients refuse a document AppConfig deployed.
        with contextlib.suppress(ValidationError):  # else the model reports it under its own field name
            metadata["updated_at"] = _LENIENT_TIMESTAMP.validate_python(metadata["updated_at"]).isoformat()
    return ToggleDocument.model_validate_json(json.dumps(normalised), strict=True)


_LENIENT_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(datetime)
