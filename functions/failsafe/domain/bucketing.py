"""Sticky bucketing: a user id always lands in the same bucket in 0..9999.

The hash
--------
``bucket_of(salt, user_id) = murmur3_32(utf8(user_id), seed(salt)) mod BUCKETS``, where

- ``murmur3_32`` is MurmurHash3 x86_32 (Austin Appleby's reference, as in SMHasher), read as an unsigned
  32-bit integer, computed by the ``mmh3`` package (a pinned runtime dependency);
- ``utf8`` encodes with ``surrogatepass``, so any ``str`` (even one with a lone surrogate) has a bucket and
  bucketing never raises;
- ``seed(salt) = murmur3_32(utf8(salt), 0)``: the salt selects the seed, so it never has to be hashed
  again per request and no separator is needed between salt and user id.

MurmurHash3 is specified, byte-order independent as computed by ``mmh3`` on every platform Lambda runs
(x86_64 and arm64 are little-endian), and does not depend on ``PYTHONHASHSEED`` or the Python version: a
bucket computed today in one process is the bucket every other process, host and release computes (a test
checks ``mmh3`` against a pure-Python transcription of the reference). Python's built-in ``hash()`` is
salted per process and must never be used here. Reducing 2**32 values to 10 000 buckets favours the
first 7 296 buckets by one value in 429 497 (2.3e-6 relative): irrelevant. Two salts collide (share a
seed) with probability 2**-32.

Never give ``mmh3`` a ``str`` that is not ASCII: ``mmh3`` 5.3 crashes the interpreter (a segfault, not an
exception) on a lone surrogate. ``bucket_of`` hashes ASCII text directly (the same bytes as its UTF-8
encoding) and everything else as encoded bytes.

Hash change (issue 14): buckets were BLAKE2b
---------------------------------------------
Earlier releases bucketed with ``blake2b(salt || 0x1f || user_id, digest_size=8)``, which costs about
0.5 µs a request in CPython against 0.07 µs for MurmurHash3 (benchmarks/RESULTS.md, ``bench_decide``).
Changing the hash reshuffles every user, so the default salt moved from ``failsafe.exposure.v1`` to
``failsafe.exposure.v2`` to name the new assignment epoch. A service that configures its own salt gets
reshuffled by the upgrade too: give it a new salt name at the same time, and do not upgrade a client
while an ``experiment_freeze`` is on (a freeze pins the salt, not the hash).

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

from typing import Final

from mmh3 import hash as _murmur3_32

__all__ = [
    "BUCKETS",
    "DEFAULT_SALT",
    "Bucketer",
    "bucket_of",
    "bucket_with_seed",
    "exposure_threshold",
    "in_exposure",
    "seed_of",
]

BUCKETS: Final = 10_000
"""Buckets per assignment: 0..9999, i.e. a resolution of 0.01 % of traffic."""

DEFAULT_SALT: Final = "failsafe.exposure.v2"
"""The salt a service uses when it configures none (v2: MurmurHash3; v1 was the BLAKE2b epoch)."""


def seed_of(salt: str) -> int:
    """The MurmurHash3 seed a salt selects: ``murmur3_32(utf8(salt), 0)``, unsigned."""
    seed: int = _murmur3_32(salt.encode("utf-8", "surrogatepass"), 0, False)
    return seed


def bucket_with_seed(seed: int, user_id: str) -> int:
    """The bucket of `user_id` under a precomputed seed (`seed_of`). The one place the hash is applied."""
    if user_id.isascii():
        bucket: int = _murmur3_32(user_id, seed, False) % BUCKETS
    else:
        bucket = _murmur3_32(user_id.encode("utf-8", "surrogatepass"), seed, False) % BUCKETS
    return bucket


def bucket_of(salt: str, user_id: str) -> int:
    """The sticky bucket of `user_id` under `salt`, in ``0..BUCKETS-1``."""
    return bucket_with_seed(seed_of(salt), user_id)


def exposure_threshold(exposure_percent: float) -> int:
    """The bucket bound of an exposure: buckets strictly below it are exposed. Clamped to 0..BUCKETS."""
    threshold = round(exposure_percent * (BUCKETS // 100))
    return max(0, min(BUCKETS, threshold))


def in_exposure(bucket: int, exposure_percent: float) -> bool:
    """Is a bucket inside an exposure percentage? Monotone in `exposure_percent`."""
    return bucket < exposure_threshold(exposure_percent)


class Bucketer:
    """`bucket_of` for one salt, with the salt's seed computed once.

    Stateless and so thread-safe: there is no per-user memo, because hashing an id (about 70 ns) costs
    about as much as looking it up in a dict and a memo of user ids only grows.
    """

    __slots__ = ("salt", "seed")

    def __init__(self, salt: str) -> None:
        self.salt = salt
        self.seed = seed_of(salt)

    def __call__(self, user_id: str) -> int:
        return bucket_with_seed(self.seed, user_id)

    def __repr__(self) -> str:
        return f"Bucketer(salt={self.salt!r}, seed={self.seed})"
