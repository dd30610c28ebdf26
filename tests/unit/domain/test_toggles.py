from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from failsafe.domain.scope import Scope
from failsafe.domain.toggles import (
    FallbackLevel,
    Metadata,
    PolicyMode,
    ScopedOverride,
    ToggleConflictError,
    ToggleDocument,
    ToggleSet,
    document_from_json_data,
    toggle_conflicts,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _metadata(reason: str = "test") -> Metadata:
    return Metadata(version=1, environment="prod", author="tester", reason=reason, updated_at=AT)


def test_defaults_are_the_normal_full_traffic_hybrid_set() -> None:
    # Given / When
    toggles = ToggleSet()

    # Then
    assert toggles.kill_switch is False
    assert toggles.policy_mode is PolicyMode.HYBRID_DEFAULT
    assert toggles.exposure_percent == 100
    assert toggles.candidate_fallback_level is FallbackLevel.A


def test_unknown_toggle_is_rejected_by_name() -> None:
    # Given
    data = {"kill_swich": True}

    # When
    with pytest.raises(ValidationError) as error:
        ToggleSet.model_validate(data)

    # Then
    assert "kill_swich" in str(error.value)
    assert "Extra inputs are not permitted" in str(error.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("exposure_percent", 101),
        ("exposure_percent", -1),
        ("alpha_override", 1.5),
        ("alpha_override", -0.1),
        ("policy_mode", "popular_only"),
        ("candidate_fallback_level", "E"),
        ("cache_mode", "hot"),
    ],
)
def test_out_of_range_values_are_rejected_naming_the_field(field: str, value: object) -> None:
    # Given
    data = {field: value}

    # When
    with pytest.raises(ValidationError) as error:
        ToggleSet.model_validate(data)

    # Then
    assert field in str(error.value)


@pytest.mark.parametrize(
    ("data", "fields", "fix"),
    [
        (
            {"disable_cf": True, "policy_mode": PolicyMode.COLLAB_ONLY},
            ("disable_cf", "policy_mode"),
            "set policy_mode=content_only or disable_cf=false",
        ),
        (
            {"disable_content": True, "policy_mode": PolicyMode.CONTENT_ONLY},
            ("disable_content", "policy_mode"),
            "set policy_mode=collab_only or disable_content=false",
        ),
        (
            {"disable_cf": True, "disable_content": True, "candidate_fallback_level": FallbackLevel.B},
            ("disable_cf", "disable_content", "candidate_fallback_level"),
            "must be a popularity fallback (C or D)",
        ),
        (
            {"alpha_override": 0.3, "policy_mode": PolicyMode.CONTENT_ONLY},
            ("alpha_override", "policy_mode"),
            "set alpha_override=null",
        ),
        (
            {"kill_switch": True, "candidate_fallback_level": FallbackLevel.A},
            ("kill_switch", "candidate_fallback_level"),
            "must be C or D",
        ),
    ],
)
def test_interaction_rules_reject_the_combination_naming_every_field(
    data: dict[str, object], fields: tuple[str, ...], fix: str
) -> None:
    # Given
    candidate = ToggleSet.model_construct(**(ToggleSet().model_dump() | data))

    # When
    conflicts = toggle_conflicts(candidate)
    with pytest.raises(ValidationError) as error:
        ToggleSet.model_validate(data)

    # Then
    assert [c.fields for c in conflicts] == [fields]
    assert " + ".join(fields) in str(error.value)
    assert fix in str(error.value)


def test_alpha_override_outside_blending_modes_is_an_error_not_a_warning() -> None:
    # Given
    data = {"alpha_override": 0.5, "policy_mode": "collab_only"}

    # When / Then
    with pytest.raises(ValidationError, match="alpha only blends in hybrid_default or bucket_gate"):
        ToggleSet.model_validate(data)


@pytest.mark.parametrize("mode", ["hybrid_default", "bucket_gate"])
def test_alpha_override_is_allowed_in_blending_modes(mode: str) -> None:
    # Given / When
    toggles = ToggleSet.model_validate({"alpha_override": 0.25, "policy_mode": mode})

    # Then
    assert toggles.alpha_override == 0.25


def test_both_sources_off_is_valid_with_a_popularity_fallback() -> None:
    # Given / When
    toggles = ToggleSet(disable_cf=True, disable_content=True, candidate_fallback_level=FallbackLevel.C)

    # Then
    assert toggle_conflicts(toggles) == []


def test_conflict_error_keeps_its_fields() -> None:
    # Given
    error = ToggleConflictError(("a", "b"), "why")

    # When / Then
    assert error.fields == ("a", "b")
    assert str(error) == "a + b: why"


def test_document_rejects_two_overrides_for_one_scope() -> None:
    # Given
    scope = Scope.parse("recommender/prod/region=eu-west-1")
    override = ScopedOverride(scope=scope, toggles=ToggleSet())

    # When / Then
    with pytest.raises(
        ValidationError, match="two overrides share the scope recommender/prod/region=eu-west-1"
    ):
        ToggleDocument(metadata=_metadata(), toggles=ToggleSet(), overrides=[override, override])


def test_effective_toggles_prefer_the_exact_then_the_most_specific_containing_override() -> None:
    # Given
    environment_wide = ToggleSet(exposure_percent=80)
    regional = ToggleSet(exposure_percent=60)
    document = ToggleDocument(
        metadata=_metadata(),
        toggles=ToggleSet(),
        overrides=[
            ScopedOverride(scope=Scope.parse("recommender/prod"), toggles=environment_wide),
            ScopedOverride(
                scope=Scope.parse("recommender/prod/region=eu-west-1,us-east-1"), toggles=regional
            ),
        ],
    )

    # When
    narrow = document.effective_toggles(Scope.parse("recommender/prod/region=eu-west-1"))
    other_region = document.effective_toggles(Scope.parse("recommender/prod/region=ap-south-1"))
    other_service = document.effective_toggles(Scope.parse("search/prod"))

    # Then
    assert narrow == regional
    assert other_region == environment_wide
    assert other_service == ToggleSet()


def test_effective_toggles_put_a_broader_kill_switch_before_a_narrower_override() -> None:
    # Given a service-wide kill switch and a standing stage-1-like override for eu-west-1
    killed = ToggleSet(kill_switch=True, candidate_fallback_level=FallbackLevel.D)
    regional = ToggleSet(exposure_percent=75)
    eu = Scope.parse("recommender/prod/region=eu-west-1")
    document = ToggleDocument(
        metadata=_metadata(),
        toggles=ToggleSet(),
        overrides=[
            ScopedOverride(scope=Scope.parse("recommender/prod"), toggles=killed),
            ScopedOverride(scope=eu, toggles=regional),
        ],
    )
    killed_defaults = document.model_copy(update={"toggles": killed, "overrides": document.overrides[1:]})

    # When / Then eu-west-1's traffic is governed by the kill switch, as decide() serves it
    assert document.toggles_for(eu) == regional
    assert document.effective_toggles(eu) == killed
    assert killed_defaults.effective_toggles(eu) == killed


# --- JSON boundary: the schema's types, not Python's coercions ---------------------------------------------


def _json_document(**toggles: object) -> dict[str, object]:
    return {
        "metadata": {"version": 2, "environment": "prod", "author": "ops", "reason": "test"},
        "toggles": toggles,
    }


@pytest.mark.parametrize(
    ("toggles", "field"),
    [
        ({"exposure_percent": True}, "exposure_percent"),
        ({"exposure_percent": "50"}, "exposure_percent"),
        ({"kill_switch": "true", "candidate_fallback_level": "D"}, "kill_switch"),
        ({"kill_switch": 1, "candidate_fallback_level": "D"}, "kill_switch"),
        ({"alpha_override": False}, "alpha_override"),
    ],
)
def test_json_documents_reject_values_the_schema_rejects(toggles: dict[str, object], field: str) -> None:
    # Given a document that the lax model would coerce (true -> 1 %, "true" -> kill switch on)
    data = _json_document(**toggles)
    assert ToggleDocument.model_validate(data)  # the coercion this boundary must not do
    # When / Then it is refused, naming the field
    with pytest.raises(ValidationError) as error:
        document_from_json_data(data)
    assert f"toggles.{field}" in {".".join(str(p) for p in e["loc"]) for e in error.value.errors()}


def test_json_documents_accept_what_the_schema_accepts() -> None:
    # Given integral floats (JSON Schema integers) and a date-only stamp (format is not asserted)
    data = _json_document(exposure_percent=10.0, alpha_override=1)
    data["metadata"] = {"version": 2, "environment": "prod", "author": "ops", "reason": "test"} | {
        "updated_at": "2026-01-01"
    }
    # When
    document = document_from_json_data(data)
    # Then
    assert document.toggles.exposure_percent == 10
    assert document.toggles.alpha_override == 1.0
    assert document.metadata.updated_at == datetime(2026, 1, 1)


@pytest.mark.parametrize("depth", [33, 600, 100_000])
def test_json_documents_nested_too_deeply_are_refused_without_recursing(depth: int) -> None:
    # Given a parsed document with a value nested `depth` lists deep (built without json.loads' limit)
    nested: list[object] = []
    for _ in range(depth - 2):
        nested = [nested]
    data = _json_document() | {"padding": nested}

    # When / Then it is a ValidationError that names the depth and the limit, not a RecursionError
    with pytest.raises(ValidationError, match=f"JSON nested {depth} levels deep, more than the 32 allowed"):
        document_from_json_data(data)
