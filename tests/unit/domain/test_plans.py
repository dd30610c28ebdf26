from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.decision import ServingPolicy, effective_policy
from failsafe.domain.plans import (
    DEFAULT_PLAN,
    DEFAULT_PLAN_DATA,
    Level,
    Plan,
    PlanError,
    ScopeHeldError,
    Stage,
    StageAction,
    ToggleOverlay,
    apply_stage,
    apply_stages,
    apply_to_document,
    restore_document,
)
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import (
    CacheMode,
    FallbackLevel,
    Metadata,
    PolicyMode,
    ScopedOverride,
    ToggleDocument,
    ToggleSet,
    toggle_conflicts,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)
PROD = Scope.parse("recommender/prod")
EU = Scope.parse("recommender/prod/region=eu-west-1")
US = Scope.parse("recommender/prod/region=us-east-1")


def _document(
    toggles: ToggleSet | None = None, overrides: list[ScopedOverride] | None = None
) -> ToggleDocument:
    return ToggleDocument(
        metadata=Metadata(version=7, environment="prod", author="ops", reason="baseline", updated_at=AT),
        toggles=toggles or ToggleSet(),
        overrides=overrides or [],
    )


def _apply(document: ToggleDocument, stage: str, scope: Scope, incident: str = "inc-1", reason: str = "why"):
    return apply_to_document(
        document, DEFAULT_PLAN, stage, scope, incident_id=incident, author="controller", reason=reason, at=AT
    )


def _plan_data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(dict(DEFAULT_PLAN_DATA))
    data.update(changes)
    return data


# --- the default plan -------------------------------------------------------------------------------------


def test_default_plan_orders_seed_stages_then_revert_then_emergency() -> None:
    # Given / When
    names = DEFAULT_PLAN.stage_names

    # Then
    assert names == ("stage_1", "stage_2", "stage_3", "revert", "emergency")


@pytest.mark.parametrize(
    ("level", "stages", "target", "approvals"),
    [
        ("1", ["stage_1"], 120, []),
        ("2", ["stage_1", "stage_2"], 300, []),
        ("3", ["stage_1", "stage_2", "stage_3", "revert"], 600, ["revert"]),
        ("emergency", ["stage_1", "stage_2", "stage_3", "emergency"], 120, []),
    ],
)
def test_levels_map_onto_cumulative_stages_with_seed_target_times(
    level: str, stages: list[str], target: int, approvals: list[str]
) -> None:
    # Given / When
    path = DEFAULT_PLAN.stages_for_level(level)

    # Then
    assert [s.name for s in path] == stages
    assert path[-1].target_seconds == target
    assert [s.name for s in path if s.requires_approval] == approvals


def test_level_three_reverts_to_the_last_known_good_release_with_cto_approval() -> None:
    # Given / When
    revert = DEFAULT_PLAN.final_stage_of(Level.THREE)

    # Then
    assert revert.action is StageAction.REVERT_TO_LAST_KNOWN_GOOD
    assert revert.overlay is None
    assert revert.requires_approval is True
    assert revert.authorized_roles == ("engineering_manager", "cto")
    assert revert.approver_roles == ("cto",)


def test_emergency_needs_no_approval_but_a_reason() -> None:
    # Given / When
    emergency = DEFAULT_PLAN.stage("emergency")

    # Then
    assert emergency.requires_approval is False
    assert emergency.requires_reason is True


def test_stage_two_from_normal_is_seed_content_only_with_filter_pruning_at_75_percent() -> None:
    # Given
    normal = BASELINES[BaselineName.NORMAL]

    # When
    after = apply_stages(normal, DEFAULT_PLAN.stages_for_level("2"))

    # Then
    assert after.policy_mode is PolicyMode.CONTENT_ONLY
    assert after.disable_cf is True
    assert after.candidate_fallback_level is FallbackLevel.B
    assert after.exposure_percent == 75
    assert after.cache_mode is CacheMode.WARM_ONLY


def test_level_emergency_from_normal_agrees_with_the_emergency_baseline() -> None:
    # Given
    emergency = BASELINES[BaselineName.EMERGENCY]

    # When
    after = apply_stages(BASELINES[BaselineName.NORMAL], DEFAULT_PLAN.stages_for_level("emergency"))

    # Then
    for field in ("kill_switch", "exposure_percent", "policy_mode", "disable_cf", "candidate_fallback_level"):
        assert getattr(after, field) == getattr(emergency, field), field


def test_severity_and_kind_choose_the_entry_stage() -> None:
    # Given / When / Then
    assert DEFAULT_PLAN.entry_by_severity == {"P2": "stage_1", "P1": "stage_2", "critical": "emergency"}
    assert DEFAULT_PLAN.entry_by_kind == {"security": "emergency", "audit": "emergency"}


def test_unknown_stage_and_level_are_named() -> None:
    # Given / When / Then
    with pytest.raises(PlanError, match="has no stage 'stage_9'; stages: stage_1, stage_2"):
        DEFAULT_PLAN.stage("stage_9")
    with pytest.raises(ValueError, match="'7' is not a valid Level"):
        DEFAULT_PLAN.stages_for_level("7")


def test_next_stage_escalates_in_order_and_ends_after_emergency() -> None:
    # Given / When
    chain = [DEFAULT_PLAN.next_stage(name) for name in DEFAULT_PLAN.stage_names]

    # Then
    assert [s.name if s else None for s in chain] == ["stage_2", "stage_3", "revert", "emergency", None]


# --- normalisation ---------------------------------------------------------------------------------------


def test_switching_to_content_only_clears_alpha() -> None:
    # Given
    toggles = ToggleSet(alpha_override=0.7)

    # When
    after = apply_stage(toggles, DEFAULT_PLAN.stage("stage_2"))

    # Then
    assert after.policy_mode is PolicyMode.CONTENT_ONLY
    assert after.alpha_override is None


def test_a_rollback_never_switches_a_disabled_content_model_back_on() -> None:
    # Given content was switched off (it may be the broken model) before the incident
    toggles = ToggleSet(alpha_override=0.7, disable_content=True)

    # When stage 2 asks for content_only with CF off
    after = apply_stage(toggles, DEFAULT_PLAN.stage("stage_2"))

    # Then both sources stay off and the scope is served popularity instead
    assert after.disable_content is True
    assert after.disable_cf is True
    assert after.policy_mode is not PolicyMode.CONTENT_ONLY
    assert after.candidate_fallback_level.is_popularity


def test_content_only_under_a_disabled_content_model_with_cf_on_becomes_collab_only() -> None:
    # Given
    stage = Stage.model_validate(
        {**DEFAULT_PLAN_DATA["stages"][1], "overlay": {"policy_mode": "content_only"}}
    )
    toggles = ToggleSet(disable_content=True)

    # When
    after = apply_stage(toggles, stage)

    # Then
    assert after.disable_content is True
    assert after.policy_mode is PolicyMode.COLLAB_ONLY


def test_disabling_cf_under_collab_only_with_content_off_moves_to_hybrid_and_popularity() -> None:
    # Given
    plan = Plan.model_validate(
        _plan_data(
            stages=[
                {
                    **DEFAULT_PLAN_DATA["stages"][0],
                    "overlay": {"disable_cf": True, "disable_content": True},
                },
                *DEFAULT_PLAN_DATA["stages"][1:],
            ]
        )
    )
    toggles = ToggleSet(policy_mode=PolicyMode.COLLAB_ONLY)

    # When
    after = apply_stage(toggles, plan.stage("stage_1"))

    # Then
    assert after.policy_mode is PolicyMode.HYBRID_DEFAULT
    assert after.candidate_fallback_level is FallbackLevel.C


def test_a_stage_never_raises_exposure_or_lowers_the_fallback() -> None:
    # Given: a 20 % canary already on popularity
    canary = ToggleSet(exposure_percent=20, candidate_fallback_level=FallbackLevel.C)

    # When
    after = apply_stages(canary, DEFAULT_PLAN.stages_for_level("2"))

    # Then
    assert after.exposure_percent == 20
    assert after.candidate_fallback_level is FallbackLevel.C


def test_revert_action_leaves_toggles_unchanged() -> None:
    # Given
    toggles = ToggleSet(exposure_percent=50)

    # When
    after = apply_stage(toggles, DEFAULT_PLAN.stage("revert"))

    # Then
    assert after is toggles


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ({"kill_switch": False}, "kill_switch: an overlay can only switch it on"),
        ({"exposure_percent": None}, "exposure_percent: an overlay cannot set it to null"),
        ({}, "an overlay must set at least one toggle"),
        ({"region_scope": ["eu"]}, "region_scope"),
    ],
)
def test_overlay_rejects_loosening_null_empty_and_scope_fields(overlay: dict[str, Any], message: str) -> None:
    # Given / When / Then
    with pytest.raises(ValidationError, match=message):
        ToggleOverlay.model_validate(overlay)


def test_plan_refuses_an_overlay_that_cannot_apply_to_some_valid_set() -> None:
    # Given: fallback A cannot hold under a kill switch that was already on
    stages = copy.deepcopy(DEFAULT_PLAN_DATA["stages"])
    stages[0]["overlay"] = {"kill_switch": True, "policy_mode": "content_only", "disable_content": True}

    # When / Then
    with pytest.raises(ValidationError, match="stage stage_1: its overlay cannot be applied to a valid set"):
        Plan.model_validate(_plan_data(stages=stages))


def test_plan_refuses_an_alpha_overlay_that_would_switch_cf_back_on_for_a_content_only_scope() -> None:
    # Given a stage that only leans on alpha ("lean on content"), with no policy_mode of its own
    stages = copy.deepcopy(DEFAULT_PLAN_DATA["stages"])
    stages[0]["overlay"] = {"alpha_override": 0.2, "exposure_percent": 75}

    # When / Then the plan is refused, naming the stage, the field and the scope's mode it cannot keep
    with pytest.raises(ValidationError, match="stage stage_1") as error:
        Plan.model_validate(_plan_data(stages=stages))
    assert "its overlay sets alpha_override" in str(error.value)
    assert "policy_mode=content_only" in str(error.value)


def test_an_alpha_overlay_never_moves_a_content_only_scope_back_to_hybrid() -> None:
    # Given a stage outside any plan that sets only alpha, and a scope already off CF
    stage = Stage.model_validate({**DEFAULT_PLAN_DATA["stages"][0], "overlay": {"alpha_override": 0.2}})
    content_only = ToggleSet(policy_mode=PolicyMode.CONTENT_ONLY)

    # When / Then applying it is refused instead of serving collaborative filtering again
    with pytest.raises(PlanError, match="stage stage_1: its overlay sets alpha_override"):
        apply_stage(content_only, stage)


def test_plan_refuses_an_overlay_whose_normalisation_would_switch_content_on() -> None:
    # Given a stage that disables CF without naming the mode: a collab_only scope would move to content
    stages = copy.deepcopy(DEFAULT_PLAN_DATA["stages"])
    stages[0]["overlay"] = {"disable_cf": True}

    # When / Then the plan is refused and the message says how to fix the overlay
    with pytest.raises(ValidationError, match="stage stage_1") as error:
        Plan.model_validate(_plan_data(stages=stages))
    assert "switch content similarity back on for a scope serving collab_only" in str(error.value)
    assert "set policy_mode in the overlay" in str(error.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entry_by_severity": {"P2": "stage_1", "P1": "stage_9", "critical": "emergency"}}, "unknown stage"),
        ({"entry_by_severity": {"P2": "stage_1", "P1": "stage_2"}}, "has no stage for critical"),
    ],
)
def test_plan_refuses_inconsistent_entry_mappings(changes: dict[str, Any], message: str) -> None:
    # Given / When / Then
    with pytest.raises(ValidationError, match=message):
        Plan.model_validate(_plan_data(**changes))


def test_plan_refuses_repeated_stage_names_and_late_degrade_only_stages() -> None:
    # Given
    stages = copy.deepcopy(DEFAULT_PLAN_DATA["stages"])
    repeated = [*stages, stages[0]]
    late = [stages[1], stages[0], *stages[2:]]

    # When / Then
    with pytest.raises(ValidationError, match="stage names repeat: stage_1"):
        Plan.model_validate(_plan_data(stages=repeated))
    with pytest.raises(ValidationError, match="degrade-only stages must come before"):
        Plan.model_validate(_plan_data(stages=late))


def test_stage_needs_exactly_one_of_overlay_or_action() -> None:
    # Given
    stages = copy.deepcopy(DEFAULT_PLAN_DATA["stages"])
    stages[3]["overlay"] = {"exposure_percent": 10}

    # When / Then
    with pytest.raises(ValidationError, match="stage revert: give exactly one of overlay or action"):
        Plan.model_validate(_plan_data(stages=stages))


# --- properties ------------------------------------------------------------------------------------------

_toggle_values = st.fixed_dictionaries(
    {
        "kill_switch": st.booleans(),
        "policy_mode": st.sampled_from(PolicyMode),
        "alpha_override": st.none() | st.floats(0.0, 1.0),
        "disable_cf": st.booleans(),
        "disable_content": st.booleans(),
        "candidate_fallback_level": st.sampled_from(FallbackLevel),
        "exposure_percent": st.integers(0, 100),
        "cache_mode": st.sampled_from(CacheMode),
        "experiment_freeze": st.booleans(),
    }
)
valid_toggle_sets = _toggle_values.map(
    lambda v: ToggleSet.model_construct(**(ToggleSet().model_dump() | v))
).filter(lambda t: not toggle_conflicts(t))


@settings(max_examples=200, deadline=None)
@given(toggles=valid_toggle_sets, stage=st.sampled_from(DEFAULT_PLAN.stages))
def test_any_stage_applied_to_any_valid_set_is_valid(toggles: ToggleSet, stage: Any) -> None:
    # Given: a valid set and a stage of the default plan
    # When
    after = apply_stage(toggles, stage)

    # Then
    assert toggle_conflicts(after) == []
    ToggleSet.model_validate(after.model_dump())
    assert after.exposure_percent <= toggles.exposure_percent


@settings(max_examples=100, deadline=None)
@given(toggles=valid_toggle_sets, stage=st.sampled_from(DEFAULT_PLAN.stages))
def test_escalating_one_stage_at_a_time_reaches_the_same_toggles_as_jumping(
    toggles: ToggleSet, stage: Any
) -> None:
    # Given
    path = DEFAULT_PLAN.path_to(stage.name)

    # When
    jumped = apply_stages(toggles, path)
    stepped = toggles
    for step in path:
        stepped = apply_stage(stepped, step)

    # Then
    assert jumped == stepped


@settings(max_examples=50, deadline=None)
@given(stage=st.sampled_from(DEFAULT_PLAN.stages))
def test_emergency_baseline_stays_killed_on_popularity_whatever_stage_follows(stage: Any) -> None:
    # Given
    emergency = BASELINES[BaselineName.EMERGENCY]

    # When
    after = apply_stages(emergency, DEFAULT_PLAN.path_to(stage.name))

    # Then
    assert after.kill_switch is True
    assert after.candidate_fallback_level.is_popularity


# --- documents -------------------------------------------------------------------------------------------


def test_apply_to_document_overrides_exactly_the_scope_and_bumps_the_version() -> None:
    # Given
    us_override = ScopedOverride(scope=US, toggles=ToggleSet(exposure_percent=90), incident_id="inc-us")
    document = _document(overrides=[us_override])

    # When
    after = _apply(document, "stage_2", EU)

    # Then
    assert after.metadata.version == 8
    assert after.metadata.incident_id == "inc-1"
    assert after.metadata.updated_at == AT
    assert after.toggles == document.toggles
    assert after.toggles_for(US) == us_override.toggles
    eu = after.toggles_for(EU)
    assert eu.policy_mode is PolicyMode.CONTENT_ONLY
    assert [o.stage for o in after.overrides if o.scope == EU] == ["stage_2"]


def test_escalating_within_an_incident_replaces_its_override_from_the_pre_incident_toggles() -> None:
    # Given
    first = _apply(_document(), "stage_1", EU)

    # When
    escalated = _apply(first, "stage_3", EU)
    relaxed = _apply(escalated, "stage_1", EU)

    # Then
    assert len(escalated.overrides) == 1
    assert escalated.toggles_for(EU).exposure_percent == 50
    assert relaxed.toggles_for(EU) == first.toggles_for(EU)


def test_a_scope_held_by_another_incident_is_refused() -> None:
    # Given
    held = _apply(_document(), "stage_1", EU, incident="inc-1")

    # When / Then
    with pytest.raises(ScopeHeldError) as error:
        _apply(held, "stage_2", EU, incident="inc-2")
    assert str(error.value) == (
        "scope recommender/prod/region=eu-west-1 is held by incident inc-1; "
        "incident inc-2 must join it instead"
    )


def test_restore_removes_the_incident_override_and_puts_back_a_standing_one() -> None:
    # Given
    standing = ScopedOverride(scope=EU, toggles=ToggleSet(exposure_percent=40))
    document = _document(overrides=[standing])
    rolled_back = _apply(document, "stage_2", EU)

    # When
    restored = restore_document(
        rolled_back, EU, incident_id="inc-1", author="controller", reason="green", at=AT
    )

    # Then
    assert rolled_back.toggles_for(EU).exposure_percent == 40
    assert restored.overrides == [standing]
    assert restored.metadata.version == document.metadata.version + 2


def test_restore_refuses_an_incident_that_holds_nothing() -> None:
    # Given
    document = _apply(_document(), "stage_1", EU, incident="inc-1")

    # When / Then
    with pytest.raises(PlanError) as error:
        restore_document(document, EU, incident_id="inc-2", author="a", reason="r", at=AT)
    assert str(error.value) == (
        "restore recommender/prod/region=eu-west-1: incident inc-2 holds nothing there "
        "(an override of incident inc-1)"
    )


def test_kill_switch_stage_needs_a_recorded_reason() -> None:
    # Given
    document = _document()

    # When / Then
    with pytest.raises(PlanError, match="stage emergency: a kill switch always needs a recorded reason"):
        _apply(document, "emergency", PROD, reason="   ")


def test_scope_of_another_environment_is_refused() -> None:
    # Given
    document = _document()

    # When / Then
    with pytest.raises(PlanError, match="the document is for environment 'prod', not 'staging'"):
        _apply(document, "stage_1", Scope.parse("recommender/staging"))


def test_a_regional_rollback_starts_from_what_governs_the_region() -> None:
    # Given: an environment-wide canary override
    canary = ScopedOverride(scope=PROD, toggles=ToggleSet(exposure_percent=30))
    document = _document(overrides=[canary])

    # When
    after = _apply(document, "stage_1", EU)

    # Then
    assert after.toggles_for(EU).exposure_percent == 30
    assert after.toggles_for(PROD) == canary.toggles


_SOURCES = {
    ServingPolicy.HYBRID: {"cf", "content"},
    ServingPolicy.CONTENT_ONLY: {"content"},
    ServingPolicy.COLLAB_ONLY: {"cf"},
    ServingPolicy.POPULARITY: set(),
}
_overlays = st.fixed_dictionaries(
    {},
    optional={
        "kill_switch": st.just(True),
        "policy_mode": st.sampled_from(PolicyMode),
        "alpha_override": st.none() | st.floats(0.0, 1.0),
        "disable_cf": st.just(True),
        "disable_content": st.just(True),
        "candidate_fallback_level": st.sampled_from(FallbackLevel),
        "exposure_percent": st.integers(0, 100),
        "experiment_freeze": st.just(True),
    },
).filter(bool)


@settings(max_examples=500, deadline=None)
@given(toggles=valid_toggle_sets, overlay=_overlays)
def test_a_stage_serves_no_source_the_scope_did_not_unless_its_overlay_names_the_mode(
    toggles: ToggleSet, overlay: dict[str, Any]
) -> None:
    # Given any valid set and any overlay (in a stage outside a plan, so nothing was checked at load)
    stage = Stage.model_validate({**DEFAULT_PLAN_DATA["stages"][0], "overlay": overlay})
    named = (
        _SOURCES[effective_policy(ToggleSet(policy_mode=overlay["policy_mode"]))]
        if "policy_mode" in overlay
        else set()
    )

    # When it is applied
    try:
        after = apply_stage(toggles, stage)
    except PlanError:
        return  # refused, which a plan reports when it is loaded

    # Then every source served afterwards was served before or asked for by name
    assert _SOURCES[effective_policy(after)] <= _SOURCES[effective_policy(toggles)] | named
