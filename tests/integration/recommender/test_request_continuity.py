"""Seed 000, "Request Volume Continuity": the served request volume varies by less than 20 % across a
toggle change (steady open-loop traffic through a swap from normal to the Stage 2 content-only toggles)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from failsafe.recommender.service import Recommender
from failsafe.recommender.traffic import drive

MAX_VARIATION = 0.20


def _variation(windows: list[tuple[int, int]], reference: float) -> float:
    return max(abs(served - reference) / reference for served, _ in windows)


def test_volume_is_continuous_across_a_toggle_change(
    toggles_file: Any, make_document: Callable[..., bytes], shadow_users: list[dict[str, Any]]
) -> None:
    # Given steady traffic of 150 requests/s against the normal toggles (cache prewarmed)
    toggles_file.deploy(make_document("normal", version=1))
    client = toggles_file.client()
    recommender = Recommender(client, emf_sink=None, prewarm_users=50)
    stage2 = make_document(
        {"policy_mode": "content_only", "disable_cf": True, "candidate_fallback_level": "B"}, version=2
    )

    def swap() -> None:
        toggles_file.deploy(stage2)
        assert client.refresh().value == "applied"

    # When the toggles are swapped halfway through
    run = drive(recommender, shadow_users, rate=150.0, seconds=2.0, window=0.25, actions={1.0: swap})
    done = run.actions_done
    # Then no request failed in any window
    by_due = run.per_window("due")
    assert all(failed == 0 for _, failed in by_due), by_due
    assert not [r.error for r in run.records if r.error]
    # And the served volume per window stays within 20 % of the pre-change mean (served = answered in full,
    # valid, within a 1 s client timeout; windows by when the request was sent)
    before = [served for served, _ in by_due[:4]]
    reference = sum(before) / len(before)
    assert _variation(by_due, reference) < MAX_VARIATION, by_due
    # And the change really happened mid-run: requests after the swap are on version 2, content-only
    after = [r for r in run.records if r.started > done[1.0]]
    assert after
    assert {(r.config_version, r.policy) for r in after if r.reason == "primary"} == {(2, "content_only")}
    assert {r.config_version for r in run.records if r.finished < done[1.0] - 0.01} == {1}
