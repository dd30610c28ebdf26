"""A small, deterministic synthetic catalog and interaction log for the reference recommender.

Everything is generated from one integer seed with ``random.Random(seed)``: nothing is downloaded, and
the same seed gives the same catalog, users and interactions in every process, host and Python release
(``random.Random`` with an int seed is stable across CPython versions for the methods used here).

Shape (defaults in `CatalogSpec`): 2,000 items across 12 genres, each with a primary and a secondary genre
and a unit feature vector (genre weights + a few latent dimensions); 5,000 users in 8 taste segments, each
with a home region, cohort and client; ~100k interactions with a Zipf popularity skew (75 % of a user's
interactions come from the segment's three favourite genres, the rest from global popularity). About 3 %
of the items are withdrawn (``available=False``) and are never recommended.

Precomputed indexes (built once per process by `get_catalog`, well under a second):

- global and per-segment popularity rankings of the available items;
- items per genre;
- item-item co-occurrence neighbours (sessions of consecutive interactions, cosine-normalised, top
  ``neighbours_per_item`` kept per item) for collaborative filtering.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

GENRES: Final = (
    "action",
    "adventure",
    "animation",
    "comedy",
    "crime",
    "documentary",
    "drama",
    "family",
    "fantasy",
    "horror",
    "romance",
    "sci-fi",
)
REGIONS: Final = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
COHORTS: Final = ("new", "casual", "engaged", "power")
CLIENTS: Final = ("web", "ios", "android", "tv")
LATENT_DIMENSIONS: Final = 4
MAX_K: Final = 100
"""The largest K a request may ask for; the catalog guarantees at least this many available items."""

_ADJECTIVES: Final = (
    "Silent",
    "Crimson",
    "Hidden",
    "Last",
    "Golden",
    "Broken",
    "Distant",
    "Electric",
    "Frozen",
    "Midnight",
    "Wild",
    "Quiet",
    "Burning",
    "Lost",
    "Paper",
    "Iron",
)
_NOUNS: Final = (
    "Harbor",
    "Empire",
    "Garden",
    "Signal",
    "River",
    "Machine",
    "Kingdom",
    "Letter",
    "Horizon",
    "Circus",
    "Orbit",
    "Island",
    "Promise",
    "Shadow",
    "Frontier",
    "Carnival",
)


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """The knobs of the synthetic data; the defaults are the reference recommender's catalog."""

    seed: int = 7
    n_items: int = 2_000
    n_users: int = 5_000
    n_segments: int = 8
    min_interactions: int = 5
    max_interactions: int = 35
    segment_share: float = 0.75
    zipf_exponent: float = 0.9
    unavailable_share: float = 0.03
    session_window: int = 3
    neighbours_per_item: int = 40

    def __post_init__(self) -> None:
        if self.n_items < 1 or self.n_users < 1 or self.n_segments < 1:
            raise ValueError(f"CatalogSpec {self}: n_items, n_users and n_segments must be positive")
        if not 1 <= self.min_interactions <= self.max_interactions:
            raise ValueError(
                f"min_interactions={self.min_interactions}, max_interactions={self.max_interactions}: "
                "need 1 <= min <= max"
            )
        if not 0.0 <= self.unavailable_share < 1.0 or not 0.0 <= self.segment_share <= 1.0:
            raise ValueError("unavailable_share must be in [0, 1) and segment_share in [0, 1]")


@dataclass(frozen=True, slots=True)
class Item:
    index: int
    item_id: str
    title: str
    genre: str
    secondary_genre: str
    vector: tuple[float, ...]
    available: bool


@dataclass(frozen=True, slots=True)
class User:
    index: int
    user_id: str
    segment: int
    region: str
    cohort: str
    client: str
    history: tuple[int, ...]
    """Distinct item indexes the user interacted with, oldest first."""


ContentTerms = tuple[int, float, int, float, float, float, float, float]


@dataclass(slots=True)
class Catalog:
    spec: CatalogSpec
    items: tuple[Item, ...]
    users: tuple[User, ...]
    n_interactions: int
    item_counts: tuple[int, ...]
    segment_genres: tuple[tuple[int, ...], ...]
    """The favourite genre indexes of each segment."""
    global_popular: tuple[int, ...]
    """Every available item, most interacted first (ties by index)."""
    segment_popular: tuple[tuple[int, ...], ...]
    """Per segment: the available items its users interacted with, most interacted first."""
    segment_counts: tuple[dict[int, int], ...]
    genre_items: tuple[tuple[int, ...], ...]
    """Per genre index: available items whose primary or secondary genre it is, most popular first."""
    neighbours: tuple[tuple[tuple[int, float], ...], ...]
    content_terms: tuple[ContentTerms, ...]
    """Per item, the non-zero components of its unit vector: (genre, weight, secondary genre, weight,
    latent 0..3). Content similarity against a profile is computed from these six terms."""
    """Per item: (neighbour index, cosine co-occurrence weight), strongest first."""
    user_index: dict[str, int] = field(repr=False)
    item_index: dict[str, int] = field(repr=False)

    @property
    def available_count(self) -> int:
        return len(self.global_popular)

    def user(self, user_id: str) -> User | None:
        index = self.user_index.get(user_id)
        return None if index is None else self.users[index]

    def item(self, item_id: str) -> Item | None:
        index = self.item_index.get(item_id)
        return None if index is None else self.items[index]

    def segment_of_unknown(self, user_id: str) -> int:
        """A stable segment for a user the interaction log has never seen (not `hash()`: it is salted)."""
        digest = 0
        for byte in user_id.encode("utf-8", "surrogatepass"):
            digest = (digest * 131 + byte) % 1_000_000_007
        return digest % self.spec.n_segments


def _unit(vector: list[float]) -> tuple[float, ...]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return tuple(x / norm for x in vector)


def _make_items(spec: CatalogSpec, rng: random.Random) -> list[Item]:
    n_genres = len(GENRES)
    items: list[Item] = []
    for index in range(spec.n_items):
        primary = rng.randrange(n_genres)
        secondary = rng.randrange(n_genres - 1)
        secondary += secondary >= primary
        weights = [0.0] * n_genres
        weights[primary] = 1.0
        weights[secondary] = 0.5
        latent = [rng.uniform(-0.4, 0.4) for _ in range(LATENT_DIMENSIONS)]
        title = f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        items.append(
            Item(
                index=index,
                item_id=f"i{index:05d}",
                title=f"{title} ({1970 + rng.randrange(56)})",
                genre=GENRES[primary],
                secondary_genre=GENRES[secondary],
                vector=_unit(weights + latent),
                available=rng.random() >= spec.unavailable_share,
            )
        )
    return items


def _cumulative(indexes: list[int], weights: list[float]) -> list[float]:
    cumulative: list[float] = []
    total = 0.0
    for index in indexes:
        total += weights[index]
        cumulative.append(total)
    return cumulative


@dataclass(slots=True)
class _Log:
    """The simulated interaction log and the counts the indexes are built from."""

    users: list[User]
    item_counts: list[int]
    segment_counters: list[Counter[int]]
    pair_counts: Counter[tuple[int, int]]
    n_interactions: int


def _simulate(
    spec: CatalogSpec,
    rng: random.Random,
    popularity: list[float],
    segment_genres: tuple[tuple[int, ...], ...],
    by_genre: list[list[int]],
) -> _Log:
    segment_pools = []
    for genres in segment_genres:
        pool = sorted({index for g in genres for index in by_genre[g]})
        segment_pools.append((pool, _cumulative(pool, popularity)))
    all_items = list(range(spec.n_items))
    global_cumulative = _cumulative(all_items, popularity)
    log = _Log([], [0] * spec.n_items, [Counter() for _ in range(spec.n_segments)], Counter(), 0)
    for index in range(spec.n_users):
        segment = rng.randrange(spec.n_segments)
        n = rng.randint(spec.min_interactions, spec.max_interactions)
        n_segment = sum(1 for _ in range(n) if rng.random() < spec.segment_share)
        pool, cumulative = segment_pools[segment]
        drawn = rng.choices(pool, cum_weights=cumulative, k=n_segment)
        drawn += rng.choices(all_items, cum_weights=global_cumulative, k=n - n_segment)
        rng.shuffle(drawn)
        log.n_interactions += len(drawn)
        history = tuple(dict.fromkeys(drawn))
        for item_index in history:
            log.item_counts[item_index] += 1
        log.segment_counters[segment].update(history)
        for offset in range(1, spec.session_window):
            log.pair_counts.update(zip(history, history[offset:], strict=False))
        log.users.append(
            User(
                index=index,
                user_id=f"u{index:05d}",
                segment=segment,
                region=rng.choice(REGIONS),
                cohort=rng.choice(COHORTS),
                client=rng.choice(CLIENTS),
                history=history,
            )
        )
    return log


def _by_popularity(indexes: Iterable[int], counts: Sequence[int] | Mapping[int, int]) -> tuple[int, ...]:
    return tuple(sorted(indexes, key=lambda i: (-counts[i], i)))


def _neighbours(
    spec: CatalogSpec, pair_counts: Counter[tuple[int, int]], item_counts: list[int]
) -> tuple[tuple[tuple[int, float], ...], ...]:
    adjacency: list[list[tuple[int, float]]] = [[] for _ in range(spec.n_items)]
    for (a, b), count in pair_counts.items():
        if a == b:
            continue
        weight = count / math.sqrt(item_counts[a] * item_counts[b])
        adjacency[a].append((b, weight))
        adjacency[b].append((a, weight))
    return tuple(
        tuple(sorted(_merge(edges), key=lambda e: (-e[1], e[0]))[: spec.neighbours_per_item])
        for edges in adjacency
    )


def build_catalog(spec: CatalogSpec | None = None) -> Catalog:
    """Generate the catalog, users and interaction log of `spec` and precompute the serving indexes."""
    spec = spec or CatalogSpec()
    rng = random.Random(spec.seed)
    n_genres = len(GENRES)
    items = _make_items(spec, rng)
    available = [item.index for item in items if item.available]
    if len(available) < MAX_K + spec.max_interactions:
        raise ValueError(
            f"CatalogSpec: only {len(available)} available items; need at least MAX_K + max_interactions "
            f"= {MAX_K + spec.max_interactions} so that every request can be filled"
        )
    # Zipf popularity over a random permutation of the items.
    order = list(range(spec.n_items))
    rng.shuffle(order)
    popularity = [0.0] * spec.n_items
    for position, index in enumerate(order):
        popularity[index] = 1.0 / (position + 1) ** spec.zipf_exponent
    genre_of = {name: g for g, name in enumerate(GENRES)}
    by_genre: list[list[int]] = [[] for _ in range(n_genres)]
    for item in items:
        by_genre[genre_of[item.genre]].append(item.index)
        by_genre[genre_of[item.secondary_genre]].append(item.index)
    segment_genres = tuple(tuple(rng.sample(range(n_genres), 3)) for _ in range(spec.n_segments))
    log = _simulate(spec, rng, popularity, segment_genres, by_genre)

    available_set = set(available)
    segment_counts = tuple(
        {i: c for i, c in counter.items() if i in available_set} for counter in log.segment_counters
    )
    return Catalog(
        spec=spec,
        items=tuple(items),
        users=tuple(log.users),
        n_interactions=log.n_interactions,
        item_counts=tuple(log.item_counts),
        segment_genres=segment_genres,
        global_popular=_by_popularity(available, log.item_counts),
        segment_popular=tuple(_by_popularity(counts, counts) for counts in segment_counts),
        segment_counts=segment_counts,
        genre_items=tuple(
            _by_popularity((i for i in members if i in available_set), log.item_counts)
            for members in by_genre
        ),
        neighbours=_neighbours(spec, log.pair_counts, log.item_counts),
        content_terms=tuple(_terms(item, genre_of) for item in items),
        user_index={user.user_id: user.index for user in log.users},
        item_index={item.item_id: item.index for item in items},
    )


def _terms(item: Item, genre_of: Mapping[str, int]) -> ContentTerms:
    g1, g2 = genre_of[item.genre], genre_of[item.secondary_genre]
    n = len(GENRES)
    v = item.vector
    return (g1, v[g1], g2, v[g2], v[n], v[n + 1], v[n + 2], v[n + 3])


def _merge(edges: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """(a, b) and (b, a) are counted separately in the session pairs; add their weights."""
    merged: dict[int, float] = {}
    for neighbour, weight in edges:
        merged[neighbour] = merged.get(neighbour, 0.0) + weight
    return list(merged.items())


_cache: dict[CatalogSpec, Catalog] = {}
_lock = threading.Lock()


def get_catalog(spec: CatalogSpec | None = None) -> Catalog:
    """The catalog of `spec`, built on first use and then shared by the whole process."""
    spec = spec or CatalogSpec()
    catalog = _cache.get(spec)
    if catalog is None:
        with _lock:
            catalog = _cache.get(spec)
            if catalog is None:
                catalog = build_catalog(spec)
                _cache[spec] = catalog
    return catalog
