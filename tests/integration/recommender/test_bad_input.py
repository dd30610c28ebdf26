"""Bad input: a malformed, oversized, wrongly typed, incomplete or unknown-toggle config is rejected
without disturbing serving (one clear log line each), and odd request contexts never raise."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failsafe.recommender.models import RecommendationResponse
from failsafe.recommender.service import Recommender


def _valid_dict(make_document: Callable[..., bytes]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(make_document("normal", version=2))
    return document


def _bad_documents(make_document: Callable[..., bytes]) -> dict[str, tuple[bytes, str]]:
    good = _valid_dict(make_document)
    unknown = json.loads(json.dumps(good))
    unknown["toggles"]["turbo_mode"] = True
    wrong_type = json.loads(json.dumps(good))
    wrong_type["toggles"]["exposure_percent"] = "lots"
    missing = {k: v for k, v in good.items() if k != "metadata"}
    conflict = json.loads(json.dumps(good))
    conflict["toggles"].update(policy_mode="collab_only", disable_cf=True)
    other_env = json.loads(json.dumps(good))
    other_env["metadata"]["environment"] = "prod"
    return {
        "malformed": (b'{"metadata": {"version": 2,', "not valid JSON"),
        "too_large": (json.dumps(good).encode() + b" " * (1024 * 1024 + 1), "too large"),
        "not_an_object": (b"[1, 2, 3]", "wrong type"),
        "wrong_field_type": (json.dumps(wrong_type).encode(), "exposure_percent"),
        "missing_fields": (json.dumps(missing).encode(), "metadata"),
        "unknown_toggle": (json.dumps(unknown).encode(), "turbo_mode"),
        "invalid_combination": (json.dumps(conflict).encode(), "disable_cf"),
        "other_environment": (json.dumps(other_env).encode(), "prod"),
    }


CASES = [
    "malformed",
    "too_large",
    "not_an_object",
    "wrong_field_type",
    "missing_fields",
    "unknown_toggle",
    "invalid_combination",
    "other_environment",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_config_is_rejected_without_disturbing_serving(
    toggles_file: Any, make_document: Callable[..., bytes], caplog: pytest.LogCaptureFixture, case: str
) -> None:
    # Given a recommender serving version 1
    toggles_file.deploy(make_document({"exposure_percent": 60}, version=1))
    client = toggles_file.client()
    recommender = Recommender(client, emf_sink=None)
    users = [{"user_id": f"u{n:05d}", "region": "eu-west-1"} for n in range(0, 3000, 60)]
    before = [recommender.recommend(u).model_dump() for u in users]
    body, needle = _bad_documents(make_document)[case]
    # When a bad document is deployed and polled (twice: the second poll must not log again)
    toggles_file.deploy(body)
    with caplog.at_level(logging.WARNING, logger="failsafe.client"):
        caplog.clear()
        outcome = client.refresh().value
        client.refresh()
    # Then it is rejected with exactly one clear log line naming the problem
    assert outcome == "rejected"
    lines = [
        r.getMessage() for r in caplog.records if r.name == "failsafe.client" and r.levelno >= logging.WARNING
    ]
    assert len(lines) == 1, lines
    assert needle in lines[0]
    assert "keeping version 1" in lines[0]
    # And serving is undisturbed: still version 1, identical answers, all full
    after = [recommender.recommend(u).model_dump() for u in users]
    assert client.config_version == 1
    assert after == before
    assert all(r["k_returned"] == r["k"] for r in after)
    # And the next good document is applied normally
    toggles_file.deploy(make_document("emergency", version=3))
    assert client.refresh().value == "applied"
    assert recommender.recommend(users[0]).reason == "kill_switch"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
odd_events = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "user_id": st.one_of(json_values, st.sampled_from(["u00001", "", " ", "u" * 300, "\udcff", "☃"])),
            "region": st.one_of(json_values, st.sampled_from(["eu-west-1", "EU-WEST-1", "", "a/b"])),
            "cohort": json_values,
            "client": json_values,
            "k": st.one_of(json_values, st.integers(-(10**12), 10**12)),
        },
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=odd_events)
def test_odd_request_contexts_never_raise(
    toggles_file: Any, make_document: Callable[..., bytes], event: object
) -> None:
    # Given a recommender with a region-scoped config (so scope checks run on odd values too)
    if not toggles_file.path.exists():
        toggles_file.deploy(make_document("normal", version=1, overrides={("eu-west-1",): "content_only"}))
    recommender = _shared(toggles_file)
    # When any event is served / Then a valid, full response comes back
    response = RecommendationResponse.model_validate(recommender.recommend(event).model_dump())
    assert response.k_returned == response.k


_recommenders: dict[str, Recommender] = {}


def _shared(toggles_file: Any) -> Recommender:
    key = str(toggles_file.path)
    if key not in _recommenders:
        _recommenders[key] = Recommender(toggles_file.client(), emf_sink=None)
    return _recommenders[key]
