from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from failsafe.domain.diff import (
    FieldChange,
    TrafficShares,
    blast_radius,
    diff_documents,
    diff_toggles,
    primary_share,
    scope_share,
)
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plan_documents import apply_to_document
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import FallbackLevel, Metadata, ScopedOverride, ToggleDocument, ToggleSet

AT = datetime(2026, 1, 1, tzinfo=UTC)
PROD = Scope.parse("recommender/prod")
EU = Scope.parse("recommender/prod/region=eu-west-1")
US = Scope.parse("recommender/prod/region=us-east-1")
TRAFFIC = TrafficShares(regions={"eu-west-1": 0.3, "us-east-1": 0.5, "ap-south-1": 0.2})


def _document(overrides: list[ScopedOverride] | None = None) -> ToggleDocument:
    return ToggleDocument(
        metadata=Metadata(version=1, environment="prod", author="a", reason="r", updated_at=AT),
        toggles=ToggleSet(),
        overrides=overrides or [],
    )


def test_diff_toggles_lists_changed_fields_in_model_order_as_json_values() -> None:
    # Given
    before = ToggleSet()
    after = ToggleSet(exposure_percent=75, candidate_fallback_level=FallbackLevel.B, region_scope=["eu"])

    # When
    changes = diff_toggles(before, after)

    # Then
    assert changes == (
        FieldChange(field="candidate_fallback_level", before="A", after="B"),
        FieldChange(field="exposure_percent", before=100, after=75),
        FieldChange(field="region_scope", before=(), after=("eu",)),
    )


def test_diff_documents_reports_only_the_changed_scope() -> None:
    # Given
    before = _document([ScopedOverride(scope=US, toggles=ToggleSet(exposure_percent=90))])

    # When
    after = apply_to_document(
        before, DEFAULT_PLAN, "stage_1", EU, incident_id="inc", author="a", reason="r", at=AT
    )
    diffs = diff_documents(before, after)

    # Then
    assert [d.label for d in diffs] == ["recommender/prod/region=eu-west-1"]
    assert {c.field: (c.before, c.after) for c in diffs[0].changes} == {
        "exposure_percent": (100, 75),
        "cache_mode": ("prewarm", "warm_only"),
    }


def test_diff_documents_labels_default_changes() -> None:
    # Given
    before = _document()
    after = before.model_copy(update={"toggles": ToggleSet(experiment_freeze=True)})

    # When
    diffs = diff_documents(before, after)

    # Then
    assert [(d.label, [c.field for c in d.changes]) for d in diffs] == [("(defaults)", ["experiment_freeze"])]


def test_blast_radius_of_stage_1_on_the_whole_environment() -> None:
    # Given
    before = ToggleSet()
    after = ToggleSet(exposure_percent=75)

    # When
    blast = blast_radius(before, after, PROD)

    # Then
    assert blast.scope_share == 1.0
    assert blast.fallback_share == pytest.approx(0.25)
    assert blast.changed_share == pytest.approx(0.25)
    assert blast.environment_changed_share == pytest.approx(0.25)


def test_blast_radius_in_one_region_uses_its_traffic_share() -> None:
    # Given
    before = ToggleSet()
    after = ToggleSet(kill_switch=True, candidate_fallback_level=FallbackLevel.D)

    # When
    blast = blast_radius(before, after, EU, TRAFFIC)

    # Then
    assert blast.scope_share == pytest.approx(0.3)
    assert blast.fallback_share == 1.0
    assert blast.changed_share == 1.0
    assert blast.environment_fallback_share == pytest.approx(0.3)


def test_blast_radius_is_unknown_rather_than_guessed_without_traffic_shares() -> None:
    # Given / When
    blast = blast_radius(ToggleSet(), ToggleSet(exposure_percent=50), EU)

    # Then
    assert blast.scope_share is None
    assert blast.environment_changed_share is None
    assert blast.changed_share == pytest.approx(0.5)


def test_no_change_has_no_blast_radius() -> None:
    # Given / When
    blast = blast_radius(ToggleSet(), ToggleSet(), PROD)

    # Then
    assert blast.changed_share == 0.0


def test_equal_shares_spread_traffic_evenly() -> None:
    # Given
    traffic = TrafficShares.equal(regions=["a", "b", "c", "d"])

    # When
    share = scope_share(Scope.parse("recommender/prod/region=a,b"), traffic)

    # Then
    assert share == pytest.approx(0.5)


def test_dimensions_multiply() -> None:
    # Given
    traffic = TrafficShares.equal(regions=["a", "b"], cohorts=["x", "y", "z", "w"])

    # When
    share = scope_share(Scope.parse("recommender/prod/region=a/cohort=x"), traffic)

    # Then
    assert share == pytest.approx(0.125)


def test_a_toggle_sets_own_region_list_limits_the_primary_share() -> None:
    # Given
    toggles = ToggleSet(exposure_percent=50, region_scope=["eu-west-1"])

    # When
    whole = primary_share(toggles, PROD, TRAFFIC)
    inside = primary_share(toggles, EU, TRAFFIC)
    outside = primary_share(toggles, US, TRAFFIC)

    # Then
    assert whole == pytest.approx(0.15)
    assert inside == pytest.approx(0.5)
    assert outside == 0.0


def test_traffic_shares_must_be_fractions_that_fit_in_one() -> None:
    # Given / When / Then
    with pytest.raises(ValidationError, match=r"regions: shares add up to 1\.2, more than 1"):
        TrafficShares(regions={"a": 0.6, "b": 0.6})
    with pytest.raises(ValidationError, match="cohorts: every share must be between 0 and 1"):
        TrafficShares(cohorts={"a": 1.5})
