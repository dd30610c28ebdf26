"""Seed 000, "Manual Toggle Verification": content-only, collaborative-only and emergency popularity modes
each produce a valid top-K with a 100 % fill rate, and the UI fields stay intact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from failsafe.domain import metrics as contract
from failsafe.recommender.dataset import Catalog
from failsafe.recommender.models import RecommendationResponse
from failsafe.recommender.ranking import cf_scores, user_view
from failsafe.recommender.service import Recommender

MODES = [
    # baseline, expected policy, expected reason, levels it may serve from
    ("content_only", "content_only", "primary", {"B", "C", "D"}),
    ("collab_only", "collab_only", "primary", {"B", "C", "D"}),
    ("emergency", "popularity", "kill_switch", {"D"}),
]


@pytest.mark.parametrize("mode", MODES, ids=[m[0] for m in MODES])
def test_mode_gives_full_valid_top_k(
    toggles_file: Any,
    make_document: Callable[..., bytes],
    catalog: Catalog,
    shadow_users: list[dict[str, Any]],
    mode: tuple[str, str, str, set[str]],
) -> None:
    baseline_name, policy, reason, levels = mode
    # Given the baseline deployed to the toggles file and a recommender polling it
    toggles_file.deploy(make_document(baseline_name, version=2))
    client = toggles_file.client()
    docs: list[dict[str, Any]] = []
    recommender = Recommender(client, emf_sink=docs.append)
    # When the shadow request mix is served
    responses = [recommender.recommend(request) for request in shadow_users]
    # Then every response is a valid top-K (distinct ids, all in the catalog, sorted by score) and full
    for request, raw in zip(shadow_users, responses, strict=True):
        response = RecommendationResponse.model_validate(raw.model_dump())
        ids = [item.item_id for item in response.items]
        assert response.k_returned == response.k, request
        assert len(set(ids)) == len(ids)
        assert all(i in catalog.item_index and catalog.items[catalog.item_index[i]].available for i in ids)
        assert [i.score for i in response.items] == sorted((i.score for i in response.items), reverse=True)
        assert response.config_version == 2
    # And requests with a usable user id got the mode's policy from the expected levels
    with_user = [
        r
        for q, r in zip(shadow_users, responses, strict=True)
        if isinstance(q.get("user_id"), str | int) and q.get("user_id") != ""
    ]
    assert all((r.policy, r.reason) == (policy, reason) for r in with_user)
    assert {r.fallback_level for r in with_user} <= levels
    # And the metrics say fill rate 100 % and coverage 100 % for every request
    assert len(docs) == len(shadow_users)
    assert all(d[contract.FILL_RATE] == [100.0] and d[contract.COVERAGE] == [100.0] for d in docs)
    assert all(d[contract.ERROR_RATE] == [0.0] for d in docs)


def test_collab_only_is_collaborative_and_content_only_is_content_based(
    toggles_file: Any, make_document: Callable[..., bytes], catalog: Catalog
) -> None:
    # Given known users with histories
    users = catalog.users[:200:5]
    toggles_file.deploy(make_document("collab_only", version=2))
    collab = Recommender(toggles_file.client(), emf_sink=None)
    # When the collab-only baseline serves them
    responses = {u.user_id: collab.recommend({"user_id": u.user_id}) for u in users}
    # Then their first item is a co-occurrence neighbour of their history (CF-based)
    for user in users:
        scores = cf_scores(catalog, user_view(catalog, user.user_id))
        first = catalog.item(responses[user.user_id].items[0].item_id)
        assert first is not None
        assert first.index in scores
    # And under the content-only baseline the lists differ and follow the users' genres
    toggles_file.deploy(make_document("content_only", version=3))
    content = Recommender(toggles_file.client(), emf_sink=None)
    differs = 0
    for user in users:
        response = content.recommend({"user_id": user.user_id})
        differs += [i.item_id for i in response.items] != [i.item_id for i in responses[user.user_id].items]
        history_genres = {catalog.items[i].genre for i in user.history} | {
            catalog.items[i].secondary_genre for i in user.history
        }
        assert response.items[0].genre in history_genres
    assert differs == len(users)
