"""Scoring modes and the candidate fallback pipeline of the reference recommender.

Scoring modes (`ServingPolicy`)
-------------------------------
- ``content_only``: cosine similarity between the user's profile (mean of the feature vectors of the
  items in their history, or their segment's favourite genres when they have none) and each candidate.
- ``collab_only``: item-item co-occurrence CF: the sum, over the user's history, of the cosine-normalised
  session co-occurrence weight between the history item and the candidate.
- ``hybrid``: ``alpha * CF + (1 - alpha) * content``, each component scaled to [0, 1] over the candidate
  pool first (negatives clamped, divided by the maximum) so that neither scale dominates.
- ``popularity``: segment popularity (level C) or global popularity (level D) only; never touches a model.

Candidate fallback levels (`FallbackLevel`)
-------------------------------------------
The pipeline starts at the decision's level (a popularity policy starts at C at the earliest) and walks
down until it holds K distinct valid items:

- **A personalised**: the policy's model over its candidate pool (content: the items of the user's three
  strongest genres; CF: the co-occurrence neighbours of their history), with every filter on: not already
  seen, at least `MIN_ITEM_INTERACTIONS` interactions, a positive score.
- **B expanded content neighbours (filter pruning)**: the policy's model with its filters pruned (no genre
  pool, no quality filter; only "not seen" remains) and its pool expanded by content neighbours over the
  whole catalog: content_only is content over everything; collab_only ranks its CF candidates first and
  fills behind them with content neighbours ("collaborative-only with content expansion"); hybrid blends
  over the union.
- **C segment popular**: the most popular items of the user's segment, not seen.
- **D global popular**: every available item by global popularity, not seen; then, only if a tiny catalog
  could still not fill K, the seen items too. The catalog guarantees more than `MAX_K` available items, so
  K is always filled: a response is never blank or short.

A valid item is in the catalog, available and not already in the list. Scores are banded by level so that
the list is sorted by score and levels never interleave: an item found at level L with relative score
``s`` in [0, 1] within its level scores ``(band(L) + 0.999 * s) / 4`` with bands A=3, B=2, C=1, D=0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from heapq import heapify, heappop
from operator import neg
from typing import Final

from failsafe.domain.decision import ServingPolicy
from failsafe.domain.toggles import FallbackLevel
from failsafe.recommender.dataset import GENRES, Catalog

LEVELS: Final = (FallbackLevel.A, FallbackLevel.B, FallbackLevel.C, FallbackLevel.D)
BANDS: Final = {FallbackLevel.A: 3, FallbackLevel.B: 2, FallbackLevel.C: 1, FallbackLevel.D: 0}
MIN_ITEM_INTERACTIONS: Final = 2
"""Level A's quality filter: items with fewer interactions are pruned until level B."""
GENRE_POOL_SIZE: Final = 3


class ComponentUnavailableError(RuntimeError):
    """A model component (CF or content) cannot answer; raised by an injected outage."""


@dataclass(frozen=True, slots=True)
class Ranked:
    """One recommended item: catalog index, banded score and the level it was found at."""

    index: int
    score: float
    level: FallbackLevel


@dataclass(frozen=True, slots=True)
class UserView:
    """What the ranker knows about the requesting user."""

    user_id: str | None
    segment: int | None
    history: tuple[int, ...]


def user_view(catalog: Catalog, user_id: str | None) -> UserView:
    """Known users bring their segment and history; unknown ids get a stable segment and no history."""
    if not user_id:
        return UserView(user_id=None, segment=None, history=())
    user = catalog.user(user_id)
    if user is None:
        return UserView(user_id=user_id, segment=catalog.segment_of_unknown(user_id), history=())
    return UserView(user_id=user_id, segment=user.segment, history=user.history)


def _profile(catalog: Catalog, view: UserView) -> tuple[float, ...] | None:
    if view.history:
        vectors = [catalog.items[i].vector for i in view.history]
    elif view.segment is not None:
        dims = len(catalog.items[0].vector)
        vectors = []
        for genre in catalog.segment_genres[view.segment]:
            vector = [0.0] * dims
            vector[genre] = 1.0
            vectors.append(tuple(vector))
    else:
        return None
    summed = [math.fsum(column) for column in zip(*vectors, strict=True)]
    norm = math.sqrt(math.fsum(x * x for x in summed)) or 1.0
    return tuple(x / norm for x in summed)


def content_scores(catalog: Catalog, view: UserView, pool: Iterable[int]) -> dict[int, float]:
    """Cosine similarity of the user's profile with each item of `pool` (both are unit vectors)."""
    profile = _profile(catalog, view)
    if profile is None:
        return {}
    p = profile
    q0, q1, q2, q3 = profile[len(GENRES) : len(GENRES) + 4]
    indexes = list(pool)
    return {
        i: p[g1] * w1 + p[g2] * w2 + q0 * l0 + q1 * l1 + q2 * l2 + q3 * l3
        for i, (g1, w1, g2, w2, l0, l1, l2, l3) in zip(
            indexes, map(catalog.content_terms.__getitem__, indexes), strict=True
        )
    }


def content_pool(catalog: Catalog, view: UserView) -> list[int]:
    """Level A content candidates: the available items of the user's strongest genres."""
    profile = _profile(catalog, view)
    if profile is None:
        return []
    genre_weights = profile[: len(catalog.genre_items)]
    top = sorted(range(len(genre_weights)), key=lambda g: (-genre_weights[g], g))[:GENRE_POOL_SIZE]
    return list(dict.fromkeys(i for g in top for i in catalog.genre_items[g]))


def cf_scores(catalog: Catalog, view: UserView) -> dict[int, float]:
    """Item-item co-occurrence CF: candidate -> summed neighbour weight over the user's history."""
    scores: dict[int, float] = {}
    neighbours = catalog.neighbours
    for seen in view.history:
        for neighbour, weight in neighbours[seen]:
            scores[neighbour] = scores.get(neighbour, 0.0) + weight
    return scores


def _scale(scores: dict[int, float]) -> dict[int, float]:
    """A blend component on [0, 1]: negatives clamped to 0, divided by the maximum (order preserved)."""
    high = max(scores.values(), default=0.0)
    if high <= 0:
        return {}
    return {i: max(0.0, s) / high for i, s in scores.items()}


def _normalise(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    if span <= 0:
        return dict.fromkeys(scores, 1.0)
    return {i: (s - low) / span for i, s in scores.items()}


CfModel = Callable[[Catalog, UserView], dict[int, float]]


def personalised(
    catalog: Catalog, view: UserView, policy: ServingPolicy, alpha: float, cf: CfModel = cf_scores
) -> Iterator[tuple[int, float]]:
    """Level A: the policy's model over its pool with every filter on; (index, relevance), best first."""
    seen = set(view.history)
    counts = catalog.item_counts
    if policy is ServingPolicy.CONTENT_ONLY:
        raw = content_scores(catalog, view, content_pool(catalog, view))
    elif policy is ServingPolicy.COLLAB_ONLY:
        raw = cf(catalog, view)
    elif policy is ServingPolicy.HYBRID:
        collab = _scale(cf(catalog, view)) if alpha > 0 else {}
        content = _scale(content_scores(catalog, view, content_pool(catalog, view))) if alpha < 1 else {}
        raw = {i: alpha * collab.get(i, 0.0) + (1 - alpha) * content.get(i, 0.0) for i in collab | content}
    else:
        return iter(())
    items = catalog.items
    kept = {
        i: s
        for i, s in raw.items()
        if s > 0 and i not in seen and items[i].available and counts[i] >= MIN_ITEM_INTERACTIONS
    }
    return best_first(kept)


def best_first(scores: Mapping[int, float]) -> Iterator[tuple[int, float]]:
    """(index, score) by descending score, ties by index; lazy (a heap popped only as far as read)."""
    heap = list(zip(map(neg, scores.values()), scores.keys(), strict=True))
    heapify(heap)
    while heap:
        negative, index = heappop(heap)
        yield index, -negative


def expanded(
    catalog: Catalog, view: UserView, policy: ServingPolicy, alpha: float, cf: CfModel = cf_scores
) -> Iterator[tuple[int, float]]:
    """Level B: the policy's model with its filters pruned, its pool expanded by content neighbours.

    Relevance is non-increasing down the list: for ``collab_only`` the CF candidates come first (relevance
    in (0.5, 1]) and the content expansion fills behind them (in [0, 0.5]).
    """
    seen = set(view.history)
    unseen = [i for i in catalog.global_popular if i not in seen]
    if policy is ServingPolicy.HYBRID:
        collab = _scale(cf(catalog, view)) if alpha > 0 else {}
        content = _scale(content_scores(catalog, view, unseen)) if alpha < 1 else {}
        blended = {
            i: alpha * collab.get(i, 0.0) + (1 - alpha) * content.get(i, 0.0)
            for i in collab | content
            if i not in seen and catalog.items[i].available
        }
        positive = {i: s for i, s in blended.items() if s > 0}
        yield from best_first(positive)
        yield from _content_tail(catalog, view, unseen, set(positive), 1.0)
        return
    if policy is ServingPolicy.COLLAB_ONLY:
        collab = {i: s for i, s in _scale(cf(catalog, view)).items() if s > 0 and i not in seen}
        collab = {i: s for i, s in collab.items() if catalog.items[i].available}
        yield from ((i, 0.5 + 0.5 * s) for i, s in best_first(collab))
        yield from _content_tail(catalog, view, unseen, set(collab), 0.5)
        return
    yield from _content_tail(catalog, view, unseen, set(), 1.0)


def _content_tail(
    catalog: Catalog, view: UserView, unseen: list[int], taken: set[int], ceiling: float
) -> Iterator[tuple[int, float]]:
    """Content neighbours of `unseen` minus `taken`, best first, relevance min-max scaled into [0, ceiling].

    Lazy: a heap is built in one pass and popped only as far as the pipeline reads (usually K items).
    """
    scores = content_scores(catalog, view, (i for i in unseen if i not in taken))
    if not scores:
        return
    low, high = min(scores.values()), max(scores.values())
    span = (high - low) or 1.0
    for index, score in best_first(scores):
        yield index, ceiling * (score - low) / span


def segment_popular(catalog: Catalog, view: UserView) -> Iterator[tuple[int, float]]:
    """Level C, lazily: the pipeline stops reading as soon as K is filled."""
    if view.segment is None:
        return
    counts = catalog.segment_counts[view.segment]
    seen = set(view.history)
    for i in catalog.segment_popular[view.segment]:
        if i not in seen:
            yield i, float(counts[i])


def global_popular(catalog: Catalog, view: UserView) -> Iterator[tuple[int, float]]:
    """Level D, lazily; after every unseen item, the seen ones (a last resort for tiny catalogs)."""
    seen = set(view.history)
    counts = catalog.item_counts
    for i in catalog.global_popular:
        if i not in seen:
            yield i, float(counts[i])
    for i in catalog.global_popular:
        if i in seen:
            yield i, float(counts[i])


def start_level(policy: ServingPolicy, level: FallbackLevel) -> FallbackLevel:
    """Where the walk starts: the decision's level, but a popularity policy never runs a model."""
    if policy is ServingPolicy.POPULARITY and not level.is_popularity:
        return FallbackLevel.C
    return level


def rank(
    catalog: Catalog,
    view: UserView,
    *,
    policy: ServingPolicy,
    alpha: float,
    level: FallbackLevel,
    k: int,
    cf: CfModel = cf_scores,
) -> list[Ranked]:
    """Top-`k` for `view`: walk the fallback levels from `level` until `k` distinct valid items are held.

    Raises only what a model component raises (e.g. `ComponentUnavailableError` from an injected CF
    outage); the popularity levels use no model.
    """
    if k < 1:
        return []
    chosen: list[Ranked] = []
    taken: set[int] = set()
    items = catalog.items
    first = LEVELS.index(start_level(policy, level))
    for current in LEVELS[first:]:
        candidates: Iterable[tuple[int, float]]
        if current is FallbackLevel.A:
            candidates = personalised(catalog, view, policy, alpha, cf)
        elif current is FallbackLevel.B:
            candidates = expanded(catalog, view, policy, alpha, cf)
        elif current is FallbackLevel.C:
            candidates = segment_popular(catalog, view)
        else:
            candidates = global_popular(catalog, view)
        picked: list[tuple[int, float]] = []
        for index, relevance in candidates:
            if len(chosen) + len(picked) >= k:
                break
            if index in taken or not 0 <= index < len(items) or not items[index].available:
                continue
            taken.add(index)
            picked.append((index, relevance))
        chosen.extend(_banded(picked, current))
        if len(chosen) >= k:
            break
    chosen.sort(key=lambda r: -r.score)  # stable: already sorted except in the seen-items last resort
    return chosen


def _banded(picked: list[tuple[int, float]], level: FallbackLevel) -> list[Ranked]:
    if not picked:
        return []
    relevance = _normalise(dict(picked))
    band = BANDS[level]
    return [Ranked(i, round((band + 0.999 * relevance[i]) / 4, 6), level) for i, _ in picked]
