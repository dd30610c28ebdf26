from __future__ import annotations

import pytest

from failsafe.domain.baselines import BASELINES, BaselineName, UnknownBaselineError, baseline
from failsafe.domain.toggles import CacheMode, FallbackLevel, PolicyMode, ToggleSet, toggle_conflicts


def test_every_baseline_is_a_complete_valid_toggle_set() -> None:
    # Given / When
    names = set(BASELINES)

    # Then
    assert names == set(BaselineName)
    for toggles in BASELINES.values():
        assert isinstance(toggles, ToggleSet)
        assert toggle_conflicts(toggles) == []


def test_emergency_baseline_is_kill_switch_ten_percent_content_only_global_popularity() -> None:
    # Given / When
    emergency = baseline("emergency")

    # Then
    assert emergency.kill_switch is True
    assert emergency.exposure_percent == 10
    assert emergency.policy_mode is PolicyMode.CONTENT_ONLY
    assert emergency.candidate_fallback_level is FallbackLevel.D
    assert emergency.candidate_fallback_level.is_popularity


def test_degraded_baseline_is_half_traffic_content_only_with_filter_pruning() -> None:
    # Given / When
    degraded = baseline("degraded")

    # Then
    assert degraded.kill_switch is False
    assert degraded.exposure_percent == 50
    assert degraded.policy_mode is PolicyMode.CONTENT_ONLY
    assert degraded.disable_cf is True
    assert degraded.candidate_fallback_level is FallbackLevel.B


@pytest.mark.parametrize(
    ("name", "mode"), [("content_only", PolicyMode.CONTENT_ONLY), ("collab_only", PolicyMode.COLLAB_ONLY)]
)
def test_single_source_baselines_expand_with_content_neighbours(name: str, mode: PolicyMode) -> None:
    # Given / When
    toggles = baseline(name)

    # Then
    assert toggles.policy_mode is mode
    assert toggles.candidate_fallback_level is FallbackLevel.B
    assert toggles.exposure_percent == 100


def test_normal_baseline_is_the_model_default() -> None:
    # Given / When
    normal = baseline("normal")

    # Then
    assert normal == ToggleSet()
    assert normal.cache_mode is CacheMode.PREWARM


def test_unknown_baseline_names_the_choices() -> None:
    # Given
    name = "panic"

    # When / Then
    with pytest.raises(UnknownBaselineError) as error:
        baseline(name)
    assert str(error.value) == (
        "baseline 'panic': choose one of normal, emergency, degraded, content_only, collab_only"
    )
