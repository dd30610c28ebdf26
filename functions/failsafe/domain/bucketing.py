"""Sticky bucketing: a user id always lands in the same bucket in 0..9999.

Why this hash
-------------
The bucket is ``blake2b(salt || 0x1f || user_id, digest_size=8)`` read as a big-endian unsigned 64-bit
integer, modulo ``BUCKETS``. BLAKE2b is specified (RFC 7693), ships with every CPython through
``hashlib``, and does not depend on ``PYTHONHASHSEED``, the platform's byte order or the Python version,
so a bucket computed today in one process is the bucket every other process, host and release computes.
Python's built-in ``hash()`` is salted per process and must never be used here. The modulo bias of
reducing 2**64 values to 10 000 buckets is below 1e-15 and irrelevant.

Text is encoded as UTF-8 with ``surrogatepass``, so any ``str`` (even one with a lone surrogate) has a
bucket and bucketing never raises. The ``0x1f`` unit separator keeps ``("ab", "c")`` and ``("a", "bc")``
apart.

Exposure
--------
A request is inside an exposure of ``p`` percent when ``bucket < p * 100`` (``exposure_threshold``).
The bucket does not depend on the exposure, only on ``(salt, user_id)``, so the rule is monotone: a
user inside at 10 % is inside at 50 %, and widening or narrowing the exposure only moves the users at
the edge.

Salt and experiment freeze
--------------------------
The salt names an assignment epoch. Keeping it fixed keeps every user's bucket; changing it reshuffles
every user (a new experiment). ``experiment_freeze`` pins the salt: see
``failsafe.domain.decision.compile_snapshot``.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Final

BUCKETS: Final = 10_000
"""Buckets per assignment: 0..9999, i.e. a resolution of 0.01 % of traffic."""

DEFAULT_SALT: Final = "failsafe.exposure.v1"
"""The salt a service uses when it configures none."""

DEFAULT_CACHE_SIZE: Final = 65_536

_SEPARATOR: Final = "\x1f"


def bucket_of(salt: str, user_id: str) -> int:
    """The sticky bucket of `user_id` under `salt`, in ``0..BUCKETS-1``."""
    data = (salt + _SEPARATOR + user_id).encode("utf-8", "surrogatepass")
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big") % BUCKETS


def exposure_threshold(exposure_percent: float) -> int:
    """The bucket bound of an exposure: buckets strictly below it are exposed. Clamped to 0..BUCKETS."""
    threshold = round(exposure_percent * (BUCKETS // 100))
    return max(0, min(BUCKETS, threshold))


def in_exposure(bucket: int, exposure_percent: float) -> bool:
    """Is a bucket inside an exposure percentage? Monotone in `exposure_percent`."""
    return bucket < exposure_threshold(exposure_percent)


class Bucketer:
    """`bucket_of` for one salt, memoised in a bounded dict.

    The cache is an optimisation only: a hit returns exactly what `bucket_of` would. When it reaches
    `max_entries` it is cleared in one step, which keeps the per-call cost constant and needs no lock
    (dict get/set/clear are atomic under the GIL; a racing reader at worst recomputes a bucket).
    """

    __slots__ = ("_cache", "_prefix", "max_entries", "salt")

    def __init__(self, salt: str, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries: must be at least 1, got {max_entries}")
        self.salt = salt
        self.max_entries = max_entries
        self._cache: dict[str, int] = {}
        # The hash state after absorbing `salt || 0x1f`; copying it halves the cost of a cache miss.
        self._prefix = blake2b((salt + _SEPARATOR).encode("utf-8", "surrogatepass"), digest_size=8)

    def __call__(self, user_id: str) -> int:
        cache = self._cache
        bucket = cache.get(user_id)
        if bucket is None:
            state = self._prefix.copy()
            state.update(user_id.encode("utf-8", "surrogatepass"))
            bucket = int.from_bytes(state.digest(), "big") % BUCKETS
            if len(cache) >= self.max_entries:
                cache.clear()
            cache[user_id] = bucket
        return bucket

    @property
    def cache(self) -> dict[str, int]:
        """The memo itself, for callers that inline the lookup on their hot path."""
        return self._cache

    def __len__(self) -> int:
        return len(self._cache)

    def __repr__(self) -> str:
        return f"Bucketer(salt={self.salt!r}, cached={len(self._cache)})"
