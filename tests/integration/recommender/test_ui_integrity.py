"""Seed 000, "UI Field Integrity": 100 % of responses carry every required field with a valid type, in
every baseline, cache mode and injected fault, for known, cold-start, anonymous and odd requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from failsafe.recommender.chaos import ChaosConfig
from failsafe.recommender.models import RecommendationResponse
from failsafe.recommender.service import Recommender

REQUIRED = {"items", "k", "k_returned", "policy", "fallback_level", "reason", "config_version"}
ITEM_FIELDS = {"item_id", "score", "title", "genre"}

SCENARIOS: list[tuple[str, str | dict[str, Any], ChaosConfig | None]] = [
    ("normal", "normal", None),
    ("degraded", "degraded", None),
    ("content_only", "content_only", None),
    ("collab_only", "collab_only", None),
    ("emergency", "emergency", None),
    ("warm_only", {"cache_mode": "warm_only"}, None),
    ("cold_cache", {"cache_mode": "cold", "candidate_fallback_level": "C"}, None),
    ("errors_30pct", "normal", ChaosConfig(enabled=True, error_percent=30, seed=3)),
    ("cf_outage", "normal", ChaosConfig(enabled=True, cf_outage=True)),
    ("low_coverage", "normal", ChaosConfig(enabled=True, coverage_percent=60)),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_every_response_has_every_field_with_a_valid_type(
    toggles_file: Any,
    make_document: Callable[..., bytes],
    shadow_users: list[dict[str, Any]],
    scenario: tuple[str, str | dict[str, Any], ChaosConfig | None],
) -> None:
    # Given the scenario's toggles (and faults) and a recommender that prewarms a few users
    _, toggles, chaos = scenario
    toggles_file.deploy(make_document(toggles, version=4))
    recommender = Recommender(toggles_file.client(), emf_sink=None, chaos=chaos, prewarm_users=20)
    # When the shadow request mix is served and serialised as the UI receives it
    payloads = [
        json.loads(json.dumps(recommender.recommend(r).model_dump(mode="json"))) for r in shadow_users
    ]
    # Then 100 % of them validate against the strict response model and carry every field
    invalid = []
    for payload in payloads:
        try:
            RecommendationResponse.model_validate(payload)
        except ValidationError as exc:
            invalid.append(str(exc))
    assert invalid == []
    assert all(set(p) == REQUIRED for p in payloads)
    assert all(set(item) == ITEM_FIELDS for p in payloads for item in p["items"])
    # And no list is ever empty, even under faults
    assert all(p["k_returned"] >= 1 for p in payloads)
