"""The synthetic catalog: deterministic from its seed, shaped as documented, fast to build."""

from __future__ import annotations

import pytest

from failsafe.recommender.dataset import (
    GENRES,
    MAX_K,
    Catalog,
    CatalogSpec,
    build_catalog,
    get_catalog,
)


def test_same_seed_same_catalog_and_different_seed_differs() -> None:
    # Given a small spec built twice, and the same spec with another seed
    spec = CatalogSpec(seed=3, n_items=600, n_users=400)
    first, again = build_catalog(spec), build_catalog(spec)
    other = build_catalog(CatalogSpec(seed=4, n_items=600, n_users=400))
    # Then the same seed reproduces everything and another seed does not
    assert again.items == first.items
    assert again.users == first.users
    assert again.neighbours == first.neighbours
    assert again.global_popular == first.global_popular
    assert other.users != first.users
    assert other.items != first.items


def test_default_shape(catalog: Catalog) -> None:
    # Given the default catalog
    spec = catalog.spec
    # Then it has the documented sizes and around 100k interactions
    assert len(catalog.items) == spec.n_items == 2_000
    assert len(catalog.users) == spec.n_users == 5_000
    assert 90_000 <= catalog.n_interactions <= 110_000
    assert {item.genre for item in catalog.items} == set(GENRES)
    assert {user.segment for user in catalog.users} == set(range(spec.n_segments))
    assert all(abs(sum(x * x for x in item.vector) - 1.0) < 1e-9 for item in catalog.items)
    # And every ranking holds only available items
    assert all(catalog.items[i].available for i in catalog.global_popular)
    assert len(catalog.global_popular) == catalog.available_count > MAX_K
    assert not any(catalog.items[i].available is False for genre in catalog.genre_items for i in genre)


def test_popularity_is_skewed(catalog: Catalog) -> None:
    # Given the interaction counts
    counts = sorted(catalog.item_counts, reverse=True)
    # When the top 5 % of items are compared with the whole
    top = sum(counts[: len(counts) // 20])
    # Then they carry far more than 5 % of the interactions (Zipf skew)
    assert top / sum(counts) > 0.25


def test_cf_neighbours_are_symmetric_weights_and_sorted(catalog: Catalog) -> None:
    # Given the co-occurrence neighbours
    for index, edges in enumerate(catalog.neighbours[:200]):
        weights = [w for _, w in edges]
        # Then each list is sorted strongest first, bounded, and never names the item itself
        assert weights == sorted(weights, reverse=True)
        assert len(edges) <= catalog.spec.neighbours_per_item
        assert all(n != index and w > 0 for n, w in edges)


def test_build_is_cached() -> None:
    # Given a spec that has not been built in this process
    spec = CatalogSpec(seed=12345)
    # When it is built through the process cache (its build time is measured in benchmarks/, not here)
    first = get_catalog(spec)
    # Then the second call returns the same object
    assert get_catalog(spec) is first


def test_unknown_users_get_a_stable_segment(catalog: Catalog) -> None:
    # Given ids the log has never seen
    ids = [f"visitor-{n}" for n in range(200)]
    # When their segments are computed twice
    first = [catalog.segment_of_unknown(i) for i in ids]
    second = [catalog.segment_of_unknown(i) for i in ids]
    # Then they are stable, in range, and spread over the segments
    assert first == second
    assert set(first) <= set(range(catalog.spec.n_segments))
    assert len(set(first)) > 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_items": 0}, "must be positive"),
        ({"min_interactions": 10, "max_interactions": 5}, "min <= max"),
        ({"unavailable_share": 1.0}, "unavailable_share"),
    ],
)
def test_invalid_specs_are_refused(changes: dict[str, float], message: str) -> None:
    # When a spec breaks a rule / Then construction names it
    with pytest.raises(ValueError, match=message):
        CatalogSpec(**changes)  # type: ignore[arg-type]


def test_a_catalog_too_small_to_fill_max_k_is_refused() -> None:
    # When a catalog could not fill MAX_K for every user / Then it is refused at build time
    with pytest.raises(ValueError, match="available items"):
        build_catalog(CatalogSpec(n_items=50, n_users=10))
