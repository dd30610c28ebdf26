"""Sticky bucketing: stable, uniform, monotone in exposure, deterministic across processes."""

from __future__ import annotations

import json
import math
import os
import random
import string
import subprocess
import sys
from collections import Counter

import mmh3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from failsafe.domain.bucketing import (
    BUCKETS,
    DEFAULT_SALT,
    Bucketer,
    bucket_of,
    bucket_with_seed,
    exposure_threshold,
    in_exposure,
    seed_of,
)

_MASK = 0xFFFFFFFF


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _MASK


def _murmur3_32_reference(data: bytes, seed: int) -> int:
    """MurmurHash3_x86_32, transcribed from the reference (SMHasher's MurmurHash3.cpp), little-endian."""
    c1, c2 = 0xCC9E2D51, 0x1B873593

    def scramble(k: int) -> int:
        return (_rotl((k * c1) & _MASK, 15) * c2) & _MASK

    h = seed & _MASK
    body = len(data) // 4 * 4
    for i in range(0, body, 4):
        h = (_rotl(h ^ scramble(int.from_bytes(data[i : i + 4], "little")), 13) * 5 + 0xE6546B64) & _MASK
    tail = data[body:]
    if tail:
        h ^= scramble(int.from_bytes(tail, "little"))
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    return h ^ (h >> 16)


def _by_spec(salt: str, user_id: str) -> int:
    """The documented construction, from the reference transcription only (no mmh3)."""
    seed = _murmur3_32_reference(salt.encode("utf-8", "surrogatepass"), 0)
    return _murmur3_32_reference(user_id.encode("utf-8", "surrogatepass"), seed) % 10_000


def _chi_square_p_value(statistic: float, dof: int) -> float:
    """Upper-tail p-value of a chi-square statistic (Wilson-Hilferty approximation, good for dof > 30)."""
    z = ((statistic / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    return 0.5 * math.erfc(z / math.sqrt(2))


def _random_ids(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_@."
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(4, 24))) + str(i) for i in range(count)]


@pytest.mark.parametrize(
    ("data", "seed", "expected"),
    [
        (b"", 0, 0),
        (b"", 1, 0x514E28B7),
        (b"hello", 0, 0x248BFA47),
        (b"The quick brown fox jumps over the lazy dog", 0, 0x2E4FF723),
    ],
)
def test_the_reference_transcription_and_mmh3_give_the_published_murmur3_vectors(
    data: bytes, seed: int, expected: int
) -> None:
    # Given published MurmurHash3_x86_32 test vectors
    # When the test's transcription of the reference and the mmh3 package hash them
    # Then both give the published value, so the formula below is checked against the real function
    assert _murmur3_32_reference(data, seed) == expected
    assert mmh3.hash(data, seed, False) == expected


def test_bucket_follows_the_documented_murmur3_formula() -> None:
    # Given the documented construction: murmur3_32(utf8(user_id), murmur3_32(utf8(salt), 0)) mod 10 000
    # When / Then ASCII, non-ASCII, lone-surrogate, long and block-aligned ids agree with the formula
    for user_id in ["user-1", "user-2", "ユーザー", "a" * 200, "\udc80", "abcd", "abcdefgh", "é"]:
        assert bucket_of(DEFAULT_SALT, user_id) == _by_spec(DEFAULT_SALT, user_id), user_id


_ANY_CHARACTER = st.characters(exclude_categories=())  # lone surrogates included


@given(
    salt=st.text(alphabet=_ANY_CHARACTER, max_size=40),
    user_id=st.one_of(st.text(alphabet=_ANY_CHARACTER, max_size=80), st.text(max_size=80)),
)
def test_any_text_buckets_by_the_documented_formula(salt: str, user_id: str) -> None:
    # Given any salt and user id, lone surrogates and control characters included
    # When bucketed
    # Then the bucket is the reference formula's (ASCII text is hashed directly, the rest as UTF-8 bytes)
    assert bucket_of(salt, user_id) == _by_spec(salt, user_id)


def test_lone_surrogates_are_bucketed_without_crashing_the_interpreter() -> None:
    # Given mmh3 5.3, which segfaults when handed a str with a lone surrogate
    script = (
        "from failsafe.domain.bucketing import Bucketer, bucket_of\n"
        "print(bucket_of('s', '\\udc80x'), Bucketer('\\ud800')('u'))\n"
    )
    # When a fresh interpreter buckets user ids and salts with lone surrogates
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    # Then it exits normally with the documented buckets
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(_by_spec("s", "\udc80x")), str(_by_spec("\ud800", "u"))]


@pytest.mark.parametrize(
    ("salt", "user_id", "expected"),
    [
        ("failsafe.exposure.v2", "user-1", 1520),
        ("failsafe.exposure.v2", "user-2", 8773),
        ("failsafe.exposure.v2", "ユーザー", 3777),
        ("other-salt", "user-1", 6455),
        ("failsafe.exposure.v2", "\udc80", 1774),
    ],
)
def test_buckets_are_pinned_so_a_release_cannot_silently_reshuffle_users(
    salt: str, user_id: str, expected: int
) -> None:
    # Given a user bucketed by an earlier release (golden values of the v2, MurmurHash3, epoch)
    # When the bucket is computed now
    bucket = bucket_of(salt, user_id)
    # Then it is the same bucket
    assert bucket == expected


def test_salt_and_user_id_are_kept_apart() -> None:
    # Given two (salt, user) pairs whose plain concatenation is identical
    # When both are bucketed (the salt picks the seed, the id is the hashed data)
    # Then the buckets are independent draws (not forced equal)
    assert bucket_of("ab", "c") != bucket_of("a", "bc")


def test_buckets_are_uniform_over_100k_ids_chi_square() -> None:
    # Given 100 000 deterministic pseudo-random user ids
    ids = _random_ids(100_000, seed=20260907)

    # When they are bucketed and counted per percent (100 bins) and per bucket (10 000 bins)
    percent_bins = Counter(bucket_of(DEFAULT_SALT, user_id) // 100 for user_id in ids)
    bucket_bins = Counter(bucket_of(DEFAULT_SALT, user_id) for user_id in ids)

    # Then neither histogram departs from uniform at the 0.1 % significance level
    for bins, count in ((percent_bins, 100), (bucket_bins, BUCKETS)):
        expected = len(ids) / count
        statistic = sum((bins.get(b, 0) - expected) ** 2 / expected for b in range(count))
        assert _chi_square_p_value(statistic, count - 1) > 0.001, (count, statistic)


def test_chi_square_check_rejects_a_skewed_assignment() -> None:
    # Given a clearly non-uniform assignment (every id folded into the lower half)
    ids = _random_ids(20_000, seed=7)
    bins = Counter((bucket_of(DEFAULT_SALT, user_id) // 100) % 50 for user_id in ids)
    expected = len(ids) / 100
    # When the same statistic is computed over 100 bins
    statistic = sum((bins.get(b, 0) - expected) ** 2 / expected for b in range(100))
    # Then the test used above would reject it
    assert _chi_square_p_value(statistic, 99) < 0.001


@pytest.mark.parametrize("percent", [1, 10, 50, 75])
def test_exposure_admits_the_configured_share_of_users(percent: int) -> None:
    # Given 20 000 users and an exposure
    ids = _random_ids(20_000, seed=percent)
    # When we count who is inside
    inside = sum(in_exposure(bucket_of(DEFAULT_SALT, user_id), percent) for user_id in ids)
    # Then the share is the exposure within 4 standard deviations
    p = percent / 100
    sigma = math.sqrt(len(ids) * p * (1 - p))
    assert abs(inside - len(ids) * p) < 4 * sigma


@given(
    user_id=st.text(max_size=64),
    low=st.integers(min_value=0, max_value=100),
    high=st.integers(min_value=0, max_value=100),
)
def test_exposure_is_monotone_a_user_inside_stays_inside_when_exposure_grows(
    user_id: str, low: int, high: int
) -> None:
    # Given any user and two exposures, low <= high
    low, high = min(low, high), max(low, high)
    bucket = bucket_of(DEFAULT_SALT, user_id)
    # When the user is inside at the lower exposure
    # Then the user is inside at the higher one too
    if in_exposure(bucket, low):
        assert in_exposure(bucket, high)


def test_exposure_threshold_covers_zero_to_all_buckets() -> None:
    # Given the extremes and a middle exposure
    # When converted to bucket thresholds
    # Then 0 % admits nobody, 100 % everybody, and values are clamped
    assert exposure_threshold(0) == 0
    assert exposure_threshold(100) == BUCKETS
    assert exposure_threshold(10) == 1_000
    assert exposure_threshold(150) == BUCKETS
    assert exposure_threshold(-5) == 0
    assert not in_exposure(0, 0)
    assert in_exposure(BUCKETS - 1, 100)


def test_changing_the_salt_reshuffles_users() -> None:
    # Given 2 000 users bucketed under two salts
    ids = _random_ids(2_000, seed=3)
    # When the buckets are compared
    same = sum(bucket_of("salt-a", user_id) == bucket_of("salt-b", user_id) for user_id in ids)
    # Then almost none keep their bucket (1 in 10 000 would by chance)
    assert same < 10


def test_bucketer_hashes_with_its_salts_seed_and_keeps_no_state_per_user() -> None:
    # Given a bucketer for one salt
    bucketer = Bucketer("salt")
    ids = _random_ids(1_000, seed=11)
    # When 1 000 ids go through it twice
    first = [bucketer(user_id) for user_id in ids]
    second = [bucketer(user_id) for user_id in ids]
    # Then answers equal the reference function, its seed is the salt's, and it holds nothing per user
    assert first == second == [bucket_of("salt", user_id) for user_id in ids]
    assert bucketer.seed == seed_of("salt") == _murmur3_32_reference(b"salt", 0)
    assert first == [bucket_with_seed(bucketer.seed, user_id) for user_id in ids]
    assert not hasattr(bucketer, "__dict__")


def test_buckets_are_identical_in_another_process_with_another_hash_seed() -> None:
    # Given 5 000 ids bucketed here
    ids = _random_ids(5_000, seed=99)
    here = [bucket_of(DEFAULT_SALT, user_id) for user_id in ids]
    script = (
        "import json, sys\n"
        "from failsafe.domain.bucketing import DEFAULT_SALT, bucket_of\n"
        "ids = json.load(sys.stdin)\n"
        "json.dump([bucket_of(DEFAULT_SALT, i) for i in ids], sys.stdout)\n"
    )

    # When a fresh interpreter with a different PYTHONHASHSEED buckets the same ids
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(ids),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )

    # Then every bucket matches
    assert json.loads(result.stdout) == here
