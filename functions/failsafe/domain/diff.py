"""What a change does: toggle diffs per scope and the blast radius.

Blast radius assumptions, stated once:
- Shares of traffic by region, cohort and client come from `TrafficShares` (data). Without it a narrowed
  dimension's share is unknown (None), never guessed; `TrafficShares.equal` spreads traffic evenly over
  the listed values when that is the best knowledge.
- Dimensions are independent: the share of `region=a, cohort=b` is share(a) x share(b).
- Bucketing is sticky and monotone in exposure, so a change of exposure alone moves exactly the
  difference in exposure between the primary policy and the fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from failsafe.domain.scope import Scope
from failsafe.domain.toggles import ToggleDocument, ToggleSet

ToggleValue = bool | int | float | str | None | tuple[str, ...]
TOGGLE_FIELDS: tuple[str, ...] = tuple(ToggleSet.model_fields)
_DIMENSIONS = (("regions", "region_scope"), ("cohorts", "cohort_scope"), ("clients", "client_scope"))


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    before: ToggleValue
    after: ToggleValue


class ScopeDiff(BaseModel):
    """The changes for one scope; `scope` None is the document's defaults."""

    model_config = ConfigDict(frozen=True)

    scope: Scope | None
    changes: tuple[FieldChange, ...]

    @property
    def label(self) -> str:
        return self.scope.key if self.scope is not None else "(defaults)"


def plain(value: object) -> ToggleValue:
    """A toggle value as it appears in the JSON document."""
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    raise TypeError(f"not a toggle value: {value!r}")


def diff_toggles(before: ToggleSet, after: ToggleSet) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(field=name, before=plain(getattr(before, name)), after=plain(getattr(after, name)))
        for name in TOGGLE_FIELDS
        if getattr(before, name) != getattr(after, name)
    )


def diff_documents(before: ToggleDocument, after: ToggleDocument) -> tuple[ScopeDiff, ...]:
    """Per scope, what governs it before and after: the defaults first, then scopes by key."""
    diffs: list[ScopeDiff] = []
    defaults = diff_toggles(before.toggles, after.toggles)
    if defaults:
        diffs.append(ScopeDiff(scope=None, changes=defaults))
    scopes = {o.scope for o in before.overrides} | {o.scope for o in after.overrides}
    for scope in sorted(scopes, key=lambda s: s.key):
        changes = diff_toggles(before.effective_toggles(scope), after.effective_toggles(scope))
        if changes:
            diffs.append(ScopeDiff(scope=scope, changes=changes))
    return tuple(diffs)


class TrafficShares(BaseModel):
    """Share of a service/environment's traffic by region, cohort and client (each in [0, 1])."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regions: dict[str, float] = Field(default_factory=dict)
    cohorts: dict[str, float] = Field(default_factory=dict)
    clients: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shares(self) -> Self:
        for name in ("regions", "cohorts", "clients"):
            shares: dict[str, float] = getattr(self, name)
            if any(not 0.0 <= share <= 1.0 for share in shares.values()):
                raise ValueError(f"{name}: every share must be between 0 and 1")
            if sum(shares.values()) > 1.0 + 1e-9:
                raise ValueError(f"{name}: shares add up to {sum(shares.values()):g}, more than 1")
        return self

    @classmethod
    def equal(
        cls, regions: Iterable[str] = (), cohorts: Iterable[str] = (), clients: Iterable[str] = ()
    ) -> TrafficShares:
        def spread(values: Iterable[str]) -> dict[str, float]:
            unique = sorted(set(values))
            return {value: 1.0 / len(unique) for value in unique}

        return cls(regions=spread(regions), cohorts=spread(cohorts), clients=spread(clients))

    def share_of(self, dimension: str, values: Iterable[str]) -> float | None:
        shares: Mapping[str, float] = getattr(self, dimension)
        wanted = set(values)
        if not shares or not wanted <= set(shares):
            return None
        return sum(shares[value] for value in wanted)


class BlastRadius(BaseModel):
    """`scope_share` is the scope's share of its environment's traffic; the other two are shares of the
    scope's traffic. None means unknown (no traffic shares for a narrowed dimension)."""

    model_config = ConfigDict(frozen=True)

    scope_share: float | None
    fallback_share: float | None
    changed_share: float | None

    @property
    def environment_fallback_share(self) -> float | None:
        return _times(self.scope_share, self.fallback_share)

    @property
    def environment_changed_share(self) -> float | None:
        return _times(self.scope_share, self.changed_share)


def scope_share(scope: Scope, traffic: TrafficShares | None = None) -> float | None:
    share: float | None = 1.0
    for dimension, _ in _DIMENSIONS:
        values: tuple[str, ...] = getattr(scope, dimension)
        if values:
            share = _times(share, traffic.share_of(dimension, values) if traffic else None)
    return share


def primary_share(toggles: ToggleSet, scope: Scope, traffic: TrafficShares | None = None) -> float | None:
    """Share of the scope's traffic served the primary policy under `toggles`."""
    if toggles.kill_switch:
        return 0.0
    share: float | None = toggles.exposure_percent / 100.0
    for dimension, toggle_field in _DIMENSIONS:
        limit: list[str] = getattr(toggles, toggle_field)
        if limit:
            share = _times(share, _share_within(dimension, getattr(scope, dimension), limit, traffic))
    return share


def blast_radius(
    before: ToggleSet, after: ToggleSet, scope: Scope, traffic: TrafficShares | None = None
) -> BlastRadius:
    primary_before = primary_share(before, scope, traffic)
    primary_after = primary_share(after, scope, traffic)
    fallback = None if primary_after is None else 1.0 - primary_after
    changed_fields = {change.field for change in diff_toggles(before, after)}
    changed: float | None
    if not changed_fields:
        changed = 0.0
    elif changed_fields == {"exposure_percent"}:
        changed = (
            None if primary_before is None or primary_after is None else abs(primary_before - primary_after)
        )
    else:
        changed = 1.0
    return BlastRadius(
        scope_share=scope_share(scope, traffic), fallback_share=fallback, changed_share=changed
    )


def _share_within(
    dimension: str, scope_values: tuple[str, ...], limit: list[str], traffic: TrafficShares | None
) -> float | None:
    """Share of the scope's traffic inside a toggle set's own region/cohort/client list."""
    if scope_values:
        inside = set(scope_values) & set(limit)
        if inside == set(scope_values):
            return 1.0
        if not inside:
            return 0.0
        whole = traffic.share_of(dimension, scope_values) if traffic else None
        part = traffic.share_of(dimension, inside) if traffic else None
        return None if whole is None or part is None or whole == 0 else part / whole
    return traffic.share_of(dimension, limit) if traffic else None


def _times(first: float | None, second: float | None) -> float | None:
    return None if first is None or second is None else first * second
