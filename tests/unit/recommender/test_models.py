"""Request parsing is lenient (never raises); the response model is strict (catches broken payloads)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from failsafe.recommender.dataset import MAX_K
from failsafe.recommender.models import DEFAULT_K, RecommendationRequest, RecommendationResponse


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (None, (None, None, None, None, DEFAULT_K)),
        ([1, 2], (None, None, None, None, DEFAULT_K)),
        ("user", (None, None, None, None, DEFAULT_K)),
        ({}, (None, None, None, None, DEFAULT_K)),
        ({"user_id": 42, "k": "7"}, ("42", None, None, None, 7)),
        ({"user_id": True, "region": ["eu"], "k": 2.0}, (None, None, None, None, 2)),
        ({"user_id": "u1", "k": 0}, ("u1", None, None, None, 1)),
        ({"user_id": "u1", "k": 10_000}, ("u1", None, None, None, MAX_K)),
        ({"user_id": "u1", "k": "ten"}, ("u1", None, None, None, DEFAULT_K)),
        ({"user_id": "u1", "k": float("nan")}, ("u1", None, None, None, DEFAULT_K)),
        ({"user_id": "u1", "k": 2.5}, ("u1", None, None, None, DEFAULT_K)),
        ({"user_id": "u1", "k": None}, ("u1", None, None, None, DEFAULT_K)),
        (
            {"user_id": "u1", "cohort": {"a": 1}, "client": "ios", "extra": 1},
            ("u1", None, None, "ios", DEFAULT_K),
        ),
    ],
)
def test_requests_get_the_documented_default_treatment(event: object, expected: tuple[Any, ...]) -> None:
    # When an odd event is parsed / Then it becomes the documented request and nothing raises
    request = RecommendationRequest.parse(event)
    assert (request.user_id, request.region, request.cohort, request.client, request.k) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "user_id": json_values,
                "region": json_values,
                "cohort": json_values,
                "client": json_values,
                "k": json_values,
            },
        ),
    )
)
def test_parse_never_raises(event: object) -> None:
    # When anything is parsed / Then a bounded request comes back
    request = RecommendationRequest.parse(event)
    assert 1 <= request.k <= MAX_K


def _response(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "items": [
            {"item_id": "i1", "score": 0.9, "title": "A", "genre": "drama"},
            {"item_id": "i2", "score": 0.5, "title": "B", "genre": "comedy"},
        ],
        "k": 2,
        "k_returned": 2,
        "policy": "hybrid",
        "fallback_level": "A",
        "reason": "primary",
        "config_version": 3,
    }
    base.update(changes)
    return base


def test_a_good_response_validates() -> None:
    assert RecommendationResponse.model_validate(_response()).k_returned == 2


@pytest.mark.parametrize(
    "changes",
    [
        {"k_returned": 3},
        {"k": "2"},
        {"config_version": None},
        {"policy": "bucket_gate"},
        {"fallback_level": "E"},
        {"reason": "because"},
        {"items": [{"item_id": "i1", "score": 0.1, "title": "A", "genre": "drama"}] * 2},
        {
            "items": [
                {"item_id": "i1", "score": 0.1, "title": "A", "genre": "drama"},
                {"item_id": "i2", "score": 0.5, "title": "B", "genre": "comedy"},
            ]
        },
        {"items": [{"item_id": "i1", "score": "0.9", "title": "A", "genre": "drama"}], "k_returned": 1},
        {"items": [{"item_id": "i1", "score": 0.9, "title": "", "genre": "drama"}], "k_returned": 1},
        {"items": [{"item_id": "i1", "score": 0.9, "title": "A"}], "k_returned": 1},
        {"extra": 1},
    ],
)
def test_broken_responses_are_caught(changes: dict[str, Any]) -> None:
    # When a response breaks a field rule / Then the strict model rejects it
    with pytest.raises(ValidationError):
        RecommendationResponse.model_validate(_response(**changes))
