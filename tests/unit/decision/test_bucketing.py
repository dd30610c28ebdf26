"""Sticky bucketing: stable, uniform, monotone in exposure, deterministic across processes."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import string
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failsafe.domain.bucketing import (
    BUCKETS,
    DEFAULT_SALT,
    Bucketer,
    bucket_of,
    exposure_threshold,
    in_exposure,
)


def _chi_square_p_value(statistic: float, dof: int) -> float:
    """Upper-tail p-value of a chi-square statistic (Wilson-Hilferty approximation, good for dof > 30)."""
    z = ((statistic / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
    return 0.5 * math.erfc(z / math.sqrt(2))


def _random_ids(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_@."
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(4, 24))) + str(i) for i in range(count)]


def test_bucket_follows_the_documented_blake2b_formula() -> None:
    # Given the documented construction: blake2b(salt 0x1f user_id, 8 bytes), big-endian, mod 10 000
    def by_spec(salt: str, user_id: str) -> int:
        digest = hashlib.blake2b(f"{salt}\x1f{user_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % 10_000

    # When / Then every id agrees with the formula
    for user_id in ["user-1", "user-2", "ユーザー", "a" * 200]:
        assert bucket_of(DEFAULT_SALT, user_id) == by_spec(DEFAULT_SALT, user_id)


@pytest.mark.parametrize(
    ("salt", "user_id", "expected"),
    [
        ("failsafe.exposure.v1", "user-1", 1545),
        ("failsafe.exposure.v1", "user-2", 185),
        ("failsafe.exposure.v1", "ユーザー", 9579),
        ("other-salt", "user-1", 5529),
        ("failsafe.exposure.v1", "\udc80", 7597),
    ],
)
def test_buckets_are_pinned_so_a_release_cannot_silently_reshuffle_users(
    salt: str, user_id: str, expected: int
) -> None:
    # Given a user bucketed by an earlier release (golden values)
    # When the bucket is computed now
    bucket = bucket_of(salt, user_id)
    # Then it is the same bucket
    assert bucket == expected


def test_separator_keeps_salt_and_user_id_apart() -> None:
    # Given two (salt, user) pairs whose plain concatenation is identical
    # When both are bucketed
    # Then their inputs differ, so the buckets are independent draws (not forced equal)
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


def test_bucketer_memo_is_exact_and_bounded() -> None:
    # Given a bucketer with room for 100 ids
    bucketer = Bucketer("salt", max_entries=100)
    ids = _random_ids(1_000, seed=11)
    # When 1 000 ids go through it twice
    first = [bucketer(user_id) for user_id in ids]
    second = [bucketer(user_id) for user_id in ids]
    # Then answers equal the uncached function and the memo never exceeds its bound
    assert first == second == [bucket_of("salt", user_id) for user_id in ids]
    assert 0 < len(bucketer) <= 100


def test_bucketer_rejects_a_zero_sized_memo() -> None:
    # Given / When / Then a memo that could hold nothing is a configuration error
    with pytest.raises(ValueError, match="max_entries"):
        Bucketer("salt", max_entries=0)


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


@given(salt=st.text(max_size=40), user_id=st.text(max_size=80))
def test_the_memoised_bucketer_always_agrees_with_the_reference_function(salt: str, user_id: str) -> None:
    # Given any salt and user id, including surrogates and control characters
    bucketer = Bucketer(salt)
    # When bucketed through the prefix-hashing memo (cold, then warm)
    cold, warm = bucketer(user_id), bucketer(user_id)
    # Then both equal the reference construction
    assert cold == warm == bucket_of(salt, user_id)
