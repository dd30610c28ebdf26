"""Scoring modes and the candidate fallback pipeline: K distinct valid items, sorted, never blank."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failsafe.domain.decision import ServingPolicy
from failsafe.domain.toggles import FallbackLevel
from failsafe.recommender.dataset import MAX_K, Catalog, get_catalog
from failsafe.recommender.ranking import (
    BANDS,
    ComponentUnavailableError,
    Ranked,
    UserView,
    cf_scores,
    content_scores,
    personalised,
    rank,
    start_level,
    user_view,
)

POLICIES = list(ServingPolicy)
LEVELS = list(FallbackLevel)


def _assert_valid_top_k(catalog: Catalog, ranked: list[Ranked], k: int) -> None:
    ids = [r.index for r in ranked]
    scores = [r.score for r in ranked]
    assert len(ranked) == k
    assert len(set(ids)) == k
    assert all(catalog.items[i].available for i in ids)
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("user_id", ["u00042", "u04999", "never-seen-user", None])
def test_every_policy_and_level_fills_k(
    catalog: Catalog, policy: ServingPolicy, level: FallbackLevel, user_id: str | None
) -> None:
    # Given a user (known, unknown or anonymous)
    view = user_view(catalog, user_id)
    # When any policy ranks from any fallback level
    ranked = rank(catalog, view, policy=policy, alpha=0.5, level=level, k=25)
    # Then K distinct, available items come back sorted by score
    _assert_valid_top_k(catalog, ranked, 25)
    # And no level above the starting one was used
    first = LEVELS.index(start_level(policy, level))
    assert all(LEVELS.index(r.level) >= first for r in ranked)


@settings(max_examples=60, deadline=None)
@given(
    user_id=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["u00001", "u01234", "u03333"])),
    policy=st.sampled_from(POLICIES),
    level=st.sampled_from(LEVELS),
    k=st.integers(min_value=1, max_value=MAX_K),
    alpha=st.floats(min_value=0.0, max_value=1.0),
)
def test_property_k_results_guaranteed(
    user_id: str | None, policy: ServingPolicy, level: FallbackLevel, k: int, alpha: float
) -> None:
    # Given any user, policy, level, alpha and K within bounds
    catalog = get_catalog()
    # When ranked / Then K valid items come back
    ranked = rank(catalog, user_view(catalog, user_id), policy=policy, alpha=alpha, level=level, k=k)
    _assert_valid_top_k(catalog, ranked, k)


def test_levels_never_interleave(catalog: Catalog) -> None:
    # Given a cold-start user under collab_only (no history: A is empty, B content fills)
    view = user_view(catalog, "brand-new-user")
    # When 100 items are ranked from level A
    ranked = rank(catalog, view, policy=ServingPolicy.COLLAB_ONLY, alpha=1.0, level=FallbackLevel.A, k=100)
    # Then the bands follow the levels: every item of a deeper level scores below the shallower ones
    bands = [BANDS[r.level] for r in ranked]
    assert bands == sorted(bands, reverse=True)
    assert {r.level for r in ranked} == {FallbackLevel.B}


def test_known_user_history_is_not_recommended(catalog: Catalog) -> None:
    # Given a user with a history
    user = catalog.users[7]
    view = user_view(catalog, user.user_id)
    # When each model policy ranks at level A
    for policy in (ServingPolicy.HYBRID, ServingPolicy.CONTENT_ONLY, ServingPolicy.COLLAB_ONLY):
        ranked = rank(catalog, view, policy=policy, alpha=0.5, level=FallbackLevel.A, k=50)
        # Then nothing they already saw comes back
        assert not {r.index for r in ranked} & set(user.history)


def test_hybrid_alpha_extremes_match_the_single_models(catalog: Catalog) -> None:
    # Given a known user
    view = user_view(catalog, catalog.users[11].user_id)
    # When hybrid runs with alpha 1 and alpha 0
    cf_only = list(personalised(catalog, view, ServingPolicy.HYBRID, 1.0))
    content_only = list(personalised(catalog, view, ServingPolicy.HYBRID, 0.0))
    # Then the orders equal collab_only and content_only respectively
    assert [i for i, _ in cf_only] == [
        i for i, _ in personalised(catalog, view, ServingPolicy.COLLAB_ONLY, 0)
    ]
    assert [i for i, _ in content_only] == [
        i for i, _ in personalised(catalog, view, ServingPolicy.CONTENT_ONLY, 0)
    ]
    # And a blend differs from both
    blend = [i for i, _ in personalised(catalog, view, ServingPolicy.HYBRID, 0.5)][:20]
    assert blend != [i for i, _ in cf_only][:20]
    assert blend != [i for i, _ in content_only][:20]


def test_collab_only_scores_come_from_co_occurrence(catalog: Catalog) -> None:
    # Given a known user and their CF scores
    view = user_view(catalog, catalog.users[3].user_id)
    scores = cf_scores(catalog, view)
    # When collab_only ranks at level A
    ranked = list(personalised(catalog, view, ServingPolicy.COLLAB_ONLY, 1.0))
    # Then every candidate is a co-occurrence neighbour of the history, best first
    assert ranked
    assert all(i in scores for i, _ in ranked)
    assert ranked[0][1] == max(s for i, s in scores.items() if i in dict(ranked))


def _cf_down(catalog: Catalog, view: UserView) -> dict[int, float]:
    raise ComponentUnavailableError("cf down")


@pytest.mark.parametrize(
    ("policy", "raises"),
    [
        (ServingPolicy.HYBRID, True),
        (ServingPolicy.COLLAB_ONLY, True),
        (ServingPolicy.CONTENT_ONLY, False),
        (ServingPolicy.POPULARITY, False),
    ],
)
def test_cf_outage_only_hits_policies_that_use_cf(
    catalog: Catalog, policy: ServingPolicy, raises: bool
) -> None:
    # Given a CF model that is down
    view = user_view(catalog, "u00100")
    # When each policy ranks from level A / Then only the CF users fail
    if raises:
        with pytest.raises(ComponentUnavailableError):
            rank(catalog, view, policy=policy, alpha=0.5, level=FallbackLevel.A, k=10, cf=_cf_down)
    else:
        ranked = rank(catalog, view, policy=policy, alpha=0.5, level=FallbackLevel.A, k=10, cf=_cf_down)
        _assert_valid_top_k(catalog, ranked, 10)


def test_popularity_policy_starts_at_segment_popular(catalog: Catalog) -> None:
    # Given a popularity decision that (wrongly) carries level A
    view = user_view(catalog, "u00200")
    # When ranked
    ranked = rank(catalog, view, policy=ServingPolicy.POPULARITY, alpha=0.0, level=FallbackLevel.A, k=10)
    # Then no model ran: the items are the user's segment's most popular unseen ones
    segment = catalog.users[200].segment
    expected = [i for i in catalog.segment_popular[segment] if i not in catalog.users[200].history][:10]
    assert [r.index for r in ranked] == expected
    assert {r.level for r in ranked} == {FallbackLevel.C}


def test_global_popular_for_anonymous(catalog: Catalog) -> None:
    # Given no user at all / When ranked at level C
    ranked = rank(
        catalog,
        UserView(None, None, ()),
        policy=ServingPolicy.POPULARITY,
        alpha=0,
        level=FallbackLevel.C,
        k=5,
    )
    # Then it is the global top 5
    assert [r.index for r in ranked] == list(catalog.global_popular[:5])


def test_k_below_one_is_empty(catalog: Catalog) -> None:
    # The service clamps k to 1..MAX_K; the ranker itself returns nothing for k < 1
    assert (
        rank(
            catalog,
            user_view(catalog, "u1"),
            policy=ServingPolicy.HYBRID,
            alpha=0.5,
            level=FallbackLevel.A,
            k=0,
        )
        == []
    )


def test_collab_only_expansion_keeps_cf_first_then_content(catalog: Catalog) -> None:
    # Given a known user under the collab-only baseline's level B (CF with content expansion)
    view = user_view(catalog, catalog.users[21].user_id)
    cf = cf_scores(catalog, view)
    # When 100 items are ranked from level B
    ranked = rank(catalog, view, policy=ServingPolicy.COLLAB_ONLY, alpha=1.0, level=FallbackLevel.B, k=100)
    # Then the list starts with CF candidates and any content expansion only follows them
    from_cf = [r.index in cf for r in ranked]
    assert from_cf[0]
    assert from_cf == sorted(from_cf, reverse=True)
    # And it differs from the content-only expansion
    content = rank(catalog, view, policy=ServingPolicy.CONTENT_ONLY, alpha=0.0, level=FallbackLevel.B, k=100)
    assert [r.index for r in ranked[:10]] != [r.index for r in content[:10]]


def test_sparse_content_scores_equal_the_full_cosine(catalog: Catalog) -> None:
    # Given a known user's profile (the normalised mean of their history's vectors)
    user = catalog.users[33]
    summed = [sum(column) for column in zip(*(catalog.items[i].vector for i in user.history), strict=True)]
    norm = sum(x * x for x in summed) ** 0.5
    profile = [x / norm for x in summed]
    # When content scores are computed from the six sparse terms
    pool = list(range(0, 2000, 7))
    scores = content_scores(catalog, user_view(catalog, user.user_id), pool)
    # Then they equal the dense dot product with every item vector
    for i in pool:
        dense = sum(p * v for p, v in zip(profile, catalog.items[i].vector, strict=True))
        assert scores[i] == pytest.approx(dense, abs=1e-12)
