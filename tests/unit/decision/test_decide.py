"""decide(): precedence kill switch > scope > exposure > mode/disable flags > fallback level > alpha."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.bucketing import DEFAULT_SALT, bucket_of
from failsafe.domain.decision import (
    DEFAULT_ALPHA,
    MAX_USER_ID_LENGTH,
    NO_BUCKET,
    Decision,
    DecisionReason,
    RequestContext,
    RequestContextModel,
    ServingPolicy,
    Snapshot,
    cold_start_snapshot,
    compile_snapshot,
    decide,
    effective_policy,
)
from failsafe.domain.toggles import CacheMode, FallbackLevel, PolicyMode, ToggleDocument, ToggleSet

SERVICE = "recommender"


def document(
    toggles: dict[str, Any] | None = None, *overrides: dict[str, Any], version: int = 7
) -> ToggleDocument:
    return ToggleDocument.model_validate(
        {
            "metadata": {"version": version, "environment": "prod", "author": "test", "reason": "unit test"},
            "toggles": toggles or {},
            "overrides": list(overrides),
        }
    )


def override(toggles: dict[str, Any], service: str = SERVICE, **scope: list[str]) -> dict[str, Any]:
    return {"scope": {"service": service, "environment": "prod", **scope}, "toggles": toggles}


def users_split(exposure_percent: int, count: int = 400) -> tuple[list[str], list[str]]:
    """Users inside and outside an exposure, by their sticky bucket."""
    ids = [f"user-{i}" for i in range(count)]
    inside = [u for u in ids if bucket_of(DEFAULT_SALT, u) < exposure_percent * 100]
    outside = [u for u in ids if bucket_of(DEFAULT_SALT, u) >= exposure_percent * 100]
    return inside, outside


def test_default_toggles_serve_the_hybrid_primary_to_everyone() -> None:
    # Given the model's default toggles (hybrid, 100 % exposure, level A)
    snapshot = compile_snapshot(document())
    # When a request with a user is decided
    decision = decide(snapshot, RequestContext("user-1", "eu-west-1", "c1", "web"))
    # Then it gets the full hybrid policy with the default alpha
    assert decision == Decision(
        serve_full=True,
        policy=ServingPolicy.HYBRID,
        alpha=DEFAULT_ALPHA,
        fallback_level=FallbackLevel.A,
        cache_mode=CacheMode.PREWARM,
        reason=DecisionReason.PRIMARY,
        config_version=7,
        bucket=bucket_of(DEFAULT_SALT, "user-1"),
        experiment_frozen=False,
    )


def test_kill_switch_serves_the_popularity_fallback_to_every_request() -> None:
    # Given a killed toggle set with a segment-popular fallback
    snapshot = compile_snapshot(document({"kill_switch": True, "candidate_fallback_level": "C"}))
    # When many users are decided
    decisions = [decide(snapshot, RequestContext(f"user-{i}")) for i in range(200)]
    # Then all get popularity at level C, never the full policy
    assert {(d.serve_full, d.policy, d.fallback_level, d.reason, d.alpha) for d in decisions} == {
        (False, ServingPolicy.POPULARITY, FallbackLevel.C, DecisionReason.KILL_SWITCH, 0.0)
    }


def test_kill_switch_comes_before_scope_and_exposure() -> None:
    # Given a killed set that is also scoped to one region and 10 % exposure
    snapshot = compile_snapshot(
        document(
            {
                "kill_switch": True,
                "candidate_fallback_level": "D",
                "region_scope": ["eu-west-1"],
                "exposure_percent": 10,
            }
        )
    )
    # When requests inside and outside the scope, and without a user, are decided
    reasons = {
        decide(snapshot, ctx).reason
        for ctx in [RequestContext("u1", "eu-west-1"), RequestContext("u1", "us-east-1"), RequestContext()]
    }
    # Then the reason is always the kill switch
    assert reasons == {DecisionReason.KILL_SWITCH}


@pytest.mark.parametrize(
    ("ctx", "expected"),
    [
        (RequestContext("u1", "eu-west-1", "beta", "ios"), DecisionReason.PRIMARY),
        (RequestContext("u1", "us-east-1", "beta", "ios"), DecisionReason.OUT_OF_SCOPE),
        (RequestContext("u1", None, "beta", "ios"), DecisionReason.OUT_OF_SCOPE),
        (RequestContext("u1", "eu-west-1", "gamma", "ios"), DecisionReason.OUT_OF_SCOPE),
        (RequestContext("u1", "eu-west-1", "beta", "web"), DecisionReason.OUT_OF_SCOPE),
        (RequestContext(None, "us-east-1", "beta", "ios"), DecisionReason.OUT_OF_SCOPE),
        (RequestContext(None, "eu-west-1", "beta", "ios"), DecisionReason.MISSING_USER),
    ],
)
def test_scope_lists_limit_the_primary_policy_to_matching_requests(
    ctx: RequestContext, expected: DecisionReason
) -> None:
    # Given a set scoped to one region, one cohort and one client
    snapshot = compile_snapshot(
        document({"region_scope": ["eu-west-1"], "cohort_scope": ["beta"], "client_scope": ["ios"]})
    )
    # When the request is decided
    decision = decide(snapshot, ctx)
    # Then only a request matching every list gets the primary; scope is checked before the user
    assert decision.reason is expected
    assert decision.serve_full is (expected is DecisionReason.PRIMARY)


def test_empty_scope_lists_admit_every_request() -> None:
    # Given a set with no scope lists
    snapshot = compile_snapshot(document())
    # When requests from any region, or none, are decided
    decisions = [decide(snapshot, RequestContext("u1", region)) for region in ["eu-west-1", "x", None]]
    # Then all are primary
    assert all(d.reason is DecisionReason.PRIMARY for d in decisions)


def test_users_below_the_exposure_threshold_get_the_primary_and_the_rest_the_fallback() -> None:
    # Given 30 % exposure
    snapshot = compile_snapshot(document({"exposure_percent": 30}))
    inside, outside = users_split(30)
    # When users on both sides are decided
    inside_decisions = [decide(snapshot, RequestContext(u)) for u in inside]
    outside_decisions = [decide(snapshot, RequestContext(u)) for u in outside]
    # Then the sticky bucket alone sorts them
    assert inside
    assert outside
    assert all(d.serve_full and d.reason is DecisionReason.PRIMARY for d in inside_decisions)
    assert all(
        not d.serve_full
        and d.reason is DecisionReason.OUT_OF_EXPOSURE
        and d.policy is ServingPolicy.POPULARITY
        for d in outside_decisions
    )
    assert all(d.bucket < 3_000 for d in inside_decisions)
    assert all(d.bucket >= 3_000 for d in outside_decisions)


def test_widening_exposure_keeps_every_user_who_was_already_inside() -> None:
    # Given the same users under 10 % and then 50 % exposure (two config versions)
    at_10 = compile_snapshot(document({"exposure_percent": 10}, version=1))
    at_50 = compile_snapshot(document({"exposure_percent": 50}, version=2), previous=at_10)
    ids = [f"user-{i}" for i in range(2_000)]
    # When both versions decide
    inside_10 = {u for u in ids if decide(at_10, RequestContext(u)).serve_full}
    inside_50 = {u for u in ids if decide(at_50, RequestContext(u)).serve_full}
    # Then the 10 % group is a subset of the 50 % group
    assert inside_10 < inside_50


@pytest.mark.parametrize(("percent", "served"), [(0, 0), (100, 300)])
def test_zero_exposure_serves_nobody_and_full_exposure_everybody(percent: int, served: int) -> None:
    # Given an exposure at an extreme
    snapshot = compile_snapshot(document({"exposure_percent": percent}))
    # When 300 users are decided
    count = sum(decide(snapshot, RequestContext(f"u{i}")).serve_full for i in range(300))
    # Then nobody / everybody gets the primary
    assert count == served


@pytest.mark.parametrize(
    ("toggles", "policy", "alpha", "level"),
    [
        ({}, ServingPolicy.HYBRID, DEFAULT_ALPHA, FallbackLevel.A),
        ({"policy_mode": "bucket_gate"}, ServingPolicy.HYBRID, DEFAULT_ALPHA, FallbackLevel.A),
        ({"alpha_override": 0.2}, ServingPolicy.HYBRID, 0.2, FallbackLevel.A),
        ({"disable_cf": True}, ServingPolicy.CONTENT_ONLY, 0.0, FallbackLevel.A),
        ({"disable_content": True}, ServingPolicy.COLLAB_ONLY, 1.0, FallbackLevel.A),
        (
            {"disable_cf": True, "disable_content": True, "candidate_fallback_level": "C"},
            ServingPolicy.POPULARITY,
            0.0,
            FallbackLevel.C,
        ),
        ({"policy_mode": "content_only"}, ServingPolicy.CONTENT_ONLY, 0.0, FallbackLevel.A),
        (
            {"policy_mode": "content_only", "disable_cf": True},
            ServingPolicy.CONTENT_ONLY,
            0.0,
            FallbackLevel.A,
        ),
        (
            {"policy_mode": "collab_only", "candidate_fallback_level": "B"},
            ServingPolicy.COLLAB_ONLY,
            1.0,
            FallbackLevel.B,
        ),
        (
            {"policy_mode": "collab_only", "disable_content": True},
            ServingPolicy.COLLAB_ONLY,
            1.0,
            FallbackLevel.A,
        ),
    ],
)
def test_mode_and_disable_flags_give_the_primary_policy_alpha_and_level(
    toggles: dict[str, Any], policy: ServingPolicy, alpha: float, level: FallbackLevel
) -> None:
    # Given a toggle set from the interaction matrix
    snapshot = compile_snapshot(document(toggles))
    # When an exposed user is decided
    decision = decide(snapshot, RequestContext("user-1"))
    # Then the policy, alpha and fallback level follow the documented rules
    assert (decision.serve_full, decision.policy, decision.alpha, decision.fallback_level) == (
        True,
        policy,
        alpha,
        level,
    )


def test_default_alpha_is_data_and_alpha_override_wins_over_it() -> None:
    # Given a service default alpha of 0.8
    plain = compile_snapshot(document(), default_alpha=0.8)
    overridden = compile_snapshot(document({"alpha_override": 0.1}), default_alpha=0.8)
    # When an exposed user is decided under each
    # Then the default applies unless the toggles override it
    assert decide(plain, RequestContext("u")).alpha == 0.8
    assert decide(overridden, RequestContext("u")).alpha == 0.1


def test_default_alpha_outside_zero_to_one_is_rejected() -> None:
    # Given / When / Then a nonsensical service default is a configuration error naming the field
    with pytest.raises(ValueError, match="default_alpha"):
        compile_snapshot(document(), default_alpha=1.5)


@pytest.mark.parametrize(
    ("configured", "fallback_level"),
    [("A", FallbackLevel.D), ("B", FallbackLevel.D), ("C", FallbackLevel.C), ("D", FallbackLevel.D)],
)
def test_fallback_keeps_a_popularity_level_and_otherwise_uses_global_popular(
    configured: str, fallback_level: FallbackLevel
) -> None:
    # Given a set at 0 % exposure (everyone falls back) and a configured candidate level
    snapshot = compile_snapshot(
        document({"exposure_percent": 0, "candidate_fallback_level": configured, "cache_mode": "warm_only"})
    )
    # When a user is decided
    decision = decide(snapshot, RequestContext("user-1"))
    # Then the fallback is popularity at C or D, with the set's cache mode
    assert decision.policy is ServingPolicy.POPULARITY
    assert decision.fallback_level is fallback_level
    assert decision.cache_mode is CacheMode.WARM_ONLY


def test_the_most_specific_matching_override_governs_and_ties_go_to_the_more_cautious() -> None:
    # Given a default, a region override, a cohort override and a region+cohort override
    snapshot = compile_snapshot(
        document(
            {},
            override({"exposure_percent": 0}, regions=["eu-west-1"]),
            override({"policy_mode": "content_only"}, cohorts=["beta"]),
            override(
                {"kill_switch": True, "candidate_fallback_level": "D"},
                regions=["eu-west-1"],
                cohorts=["beta"],
            ),
        )
    )
    # When requests hit each combination
    both = decide(snapshot, RequestContext("u1", "eu-west-1", "beta"))
    region_only = decide(snapshot, RequestContext("u1", "eu-west-1", "alpha"))
    cohort_only = decide(snapshot, RequestContext("u1", "us-east-1", "beta"))
    neither = decide(snapshot, RequestContext("u1", "us-east-1", "alpha"))
    # Then the two-dimension override beats both one-dimension ones; unmatched requests get defaults
    assert both.reason is DecisionReason.KILL_SWITCH
    assert region_only.reason is DecisionReason.OUT_OF_EXPOSURE
    assert cohort_only.policy is ServingPolicy.CONTENT_ONLY
    assert neither.policy is ServingPolicy.HYBRID

    # And when two equally specific overrides both match, the more cautious one wins in either order
    closed = override({"exposure_percent": 0}, regions=["eu-west-1"])
    content_only = override({"policy_mode": "content_only"}, cohorts=["beta"])
    for overrides in ((closed, content_only), (content_only, closed)):
        tie = compile_snapshot(document({}, *overrides))
        assert decide(tie, RequestContext("u1", "eu-west-1", "beta")).reason is DecisionReason.OUT_OF_EXPOSURE


def test_overrides_for_another_service_do_not_touch_this_one() -> None:
    # Given a kill switch scoped to another service's eu-west-1
    doc = document(
        {},
        override(
            {"kill_switch": True, "candidate_fallback_level": "D"}, service="search", regions=["eu-west-1"]
        ),
    )
    # When this service compiles the document for itself
    mine = compile_snapshot(doc, service=SERVICE, environment="prod")
    everything = compile_snapshot(doc)
    # Then its eu-west-1 traffic is untouched (a rollback in one scope must not touch another)
    assert decide(mine, RequestContext("u1", "eu-west-1")).reason is DecisionReason.PRIMARY
    assert decide(everything, RequestContext("u1", "eu-west-1")).reason is DecisionReason.KILL_SWITCH


@pytest.mark.parametrize("user_id", [None, "", 12345, 3.5, b"bytes", "x" * (MAX_USER_ID_LENGTH + 1)])
def test_missing_or_odd_user_ids_get_the_missing_user_fallback(user_id: Any) -> None:
    # Given a normal set
    snapshot = compile_snapshot(document())
    # When the request has no usable user id
    decision = decide(snapshot, RequestContext(user_id, "eu-west-1"))
    # Then it is served the popularity fallback without a bucket
    assert decision.reason is DecisionReason.MISSING_USER
    assert decision.policy is ServingPolicy.POPULARITY
    assert decision.bucket == NO_BUCKET


@pytest.mark.parametrize(
    "ctx",
    [
        ["not", "a", "context"],
        RequestContext("u1", ["unhashable"]),  # type: ignore[arg-type]
        None,
        ("too", "short"),
        42,
    ],
)
def test_a_malformed_context_gets_a_fallback_instead_of_an_exception(ctx: Any) -> None:
    # Given a snapshot
    snapshot = compile_snapshot(document())
    # When a malformed context is decided
    decision = decide(snapshot, ctx)
    # Then the answer is the invalid-context fallback, and the bound decider agrees
    assert decision.reason is DecisionReason.INVALID_CONTEXT
    assert not decision.serve_full
    assert snapshot.decider(ctx) == decision


def test_cold_start_snapshot_serves_the_baseline_fallback_with_reason_no_config() -> None:
    # Given the cold-start snapshot built from the emergency baseline
    snapshot = cold_start_snapshot(BASELINES[BaselineName.EMERGENCY])
    # When any request is decided
    decisions = [decide(snapshot, RequestContext(u, "eu-west-1")) for u in ["u1", "u2", None]]
    # Then it is the global-popular fallback, version 0, reason no_config
    assert snapshot.is_cold_start
    assert {(d.reason, d.policy, d.fallback_level, d.config_version, d.serve_full) for d in decisions} == {
        (DecisionReason.NO_CONFIG, ServingPolicy.POPULARITY, FallbackLevel.D, 0, False)
    }


def test_a_decision_is_immutable_and_serialisable() -> None:
    # Given a decision
    decision = decide(compile_snapshot(document()), RequestContext("u1"))
    # When someone tries to change it
    # Then it refuses, and its dict form carries every field as plain JSON values
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.alpha = 0.9  # type: ignore[misc]
    assert decision.as_dict()["policy"] == "hybrid"
    assert set(decision.as_dict()) == {f.name for f in dataclasses.fields(Decision)}


def test_the_route_memo_stays_bounded_and_answers_stay_exact() -> None:
    # Given a snapshot whose route memo holds 2 routes
    doc = document({"exposure_percent": 50, "region_scope": ["eu-west-1"]})
    small = dataclasses.replace(compile_snapshot(doc), max_routes=2)
    reference = compile_snapshot(doc)
    ctxs = [RequestContext(f"u{i}", f"r{i % 5}" if i % 2 else "eu-west-1") for i in range(500)]
    # When many distinct contexts over 6 routes go through it twice
    answers = [decide(small, ctx) for ctx in ctxs * 2]
    # Then every answer equals the unbounded snapshot's and the memo never outgrows its bound
    assert answers == [decide(reference, ctx) for ctx in ctxs * 2]
    assert len(small.routes) <= 2


def _routes(snapshot: Snapshot) -> list[object]:
    return [key if isinstance(key, str) else key[0] for key in snapshot.routes]  # type: ignore[index]


def test_a_full_route_memo_evicts_one_route_at_a_time() -> None:
    # Given a route memo of 3, full with three regions' routes
    snapshot = dataclasses.replace(compile_snapshot(document()), max_routes=3)
    for region in ["r1", "r2", "r3"]:
        decide(snapshot, RequestContext("u1", region))
    # When a fourth region comes
    decide(snapshot, RequestContext("u1", "r4"))
    # Then only the oldest route makes room: the other two stay memoised (not the whole memo dropped)
    assert _routes(snapshot) == ["r2", "r3", "r4"]


def test_clock_gives_a_route_used_since_the_hand_passed_a_second_chance() -> None:
    # Given a full route memo of 3 whose oldest route was used again after it was memoised
    snapshot = dataclasses.replace(compile_snapshot(document()), max_routes=3)
    for region in ["r1", "r2", "r3", "r1"]:
        decide(snapshot, RequestContext("u1", region))
    # When two new regions come
    decide(snapshot, RequestContext("u1", "r4"))
    after_one = _routes(snapshot)
    decide(snapshot, RequestContext("u1", "r5"))
    # Then the used route survives and the unused ones are evicted in turn, oldest first
    assert after_one == ["r3", "r1", "r4"]
    assert _routes(snapshot) == ["r1", "r4", "r5"]


def test_a_snapshot_without_room_for_a_route_is_rejected() -> None:
    # Given / When / Then a route memo that could hold nothing is a configuration error naming the field
    with pytest.raises(ValueError, match="max_routes"):
        compile_snapshot(document(), max_routes=0)


KILL = {"kill_switch": True, "candidate_fallback_level": "D"}


@pytest.mark.parametrize(
    ("doc", "by_region"),
    [
        (
            document({"region_scope": ["eu-west-1"]}, override(KILL, regions=["us-east-1"])),
            True,
        ),
        (document({}, override(KILL, regions=["eu-west-1"], cohorts=["beta"])), False),
        (document({"client_scope": ["web"]}), False),
    ],
)
def test_routes_are_keyed_by_region_alone_only_when_nothing_looks_at_cohort_or_client(
    doc: ToggleDocument, by_region: bool
) -> None:
    # Given documents scoped by region only, or also by cohort or client
    snapshot, reference = compile_snapshot(doc), compile_snapshot(doc)
    ctxs = [
        RequestContext(f"u{i}", region, cohort, client)
        for i, (region, cohort, client) in enumerate(
            [(r, c, k) for r in ["eu-west-1", "us-east-1"] for c in ["beta", None] for k in ["web", "ios"]]
            * 3
        )
    ]
    # When the same requests are decided twice (memoised routes the second time) and once fresh
    answers = [decide(snapshot, ctx) for ctx in ctxs * 2]
    # Then the memo is keyed as documented, and memoised answers equal fresh ones (cohort and client honoured)
    assert snapshot.by_region is by_region
    assert answers == [decide(reference, ctx) for ctx in ctxs] * 2
    assert answers == [compile_snapshot(doc).resolve(ctx) for ctx in ctxs * 2]


@given(user_id=st.text(alphabet=st.characters(exclude_categories=()), min_size=1, max_size=40))
def test_the_fast_path_and_the_slow_path_bucket_every_user_by_the_documented_hash(user_id: str) -> None:
    # Given a snapshot with a custom salt, and any non-empty user id (non-ASCII and lone surrogates too)
    snapshot = compile_snapshot(document({"exposure_percent": 50}), salt="salt-h")
    ctx = RequestContext(user_id, "eu-west-1")
    # When the user is decided twice (the first fills the route and bucket tables, the second reads them)
    first, second = decide(snapshot, ctx), decide(snapshot, ctx)
    # Then both carry the user's bucket under the salt, and the same decision
    assert first.bucket == second.bucket == bucket_of("salt-h", user_id)
    assert first is second


def test_every_decision_carries_the_config_version() -> None:
    # Given version 42
    snapshot = compile_snapshot(document(version=42))
    # When requests are decided, including fallbacks
    versions = {decide(snapshot, ctx).config_version for ctx in [RequestContext("u"), RequestContext()]}
    # Then all carry 42
    assert versions == {42}


def test_request_context_model_parses_boundary_input_leniently() -> None:
    # Given raw request data with odd types and unknown keys
    raw = {"user_id": 123, "region": ["eu"], "cohort": "beta", "client": None, "extra": "ignored"}
    # When parsed at the boundary
    ctx = RequestContextModel.context_from(raw)
    # Then integers become strings, junk becomes None, and nothing raises
    assert ctx == RequestContext("123", None, "beta", None)
    assert RequestContextModel.context_from(None) == RequestContext()  # type: ignore[arg-type]


def test_effective_policy_treats_a_disabled_named_source_as_popularity() -> None:
    # Given sets whose named source is off (only constructible without validation)
    content_off = ToggleSet.model_construct(policy_mode=PolicyMode.CONTENT_ONLY, disable_content=True)
    cf_off = ToggleSet.model_construct(policy_mode=PolicyMode.COLLAB_ONLY, disable_cf=True)
    # When their primary policy is derived
    # Then it degrades to popularity rather than serving a disabled source
    assert effective_policy(content_off) is ServingPolicy.POPULARITY
    assert effective_policy(cf_off) is ServingPolicy.POPULARITY


class TestExperimentFreeze:
    """experiment_freeze pins the bucketing salt to the one in force when the freeze began."""

    def test_without_freeze_a_new_salt_reshuffles_users(self) -> None:
        # Given v1 under salt A and v2 under salt B, no freeze
        v1 = compile_snapshot(document(version=1), salt="salt-a")
        v2 = compile_snapshot(document(version=2), salt="salt-b", previous=v1)
        # When the same users are decided
        moved = sum(
            decide(v1, RequestContext(f"u{i}")).bucket != decide(v2, RequestContext(f"u{i}")).bucket
            for i in range(200)
        )
        # Then nearly everybody moved
        assert moved > 190

    def test_freeze_keeps_the_salt_of_the_version_where_it_began_until_lifted(self) -> None:
        # Given v1 (salt A, not frozen), then v2 and v3 frozen while the configured salt changes to B, C
        v1 = compile_snapshot(document({}, version=1), salt="salt-a")
        v2 = compile_snapshot(document({"experiment_freeze": True}, version=2), salt="salt-b", previous=v1)
        v3 = compile_snapshot(
            document({"experiment_freeze": True, "exposure_percent": 40}, version=3),
            salt="salt-c",
            previous=v2,
        )
        v4 = compile_snapshot(document({}, version=4), salt="salt-c", previous=v3)
        ids = [f"u{i}" for i in range(300)]
        # When users are decided under each version
        buckets = {v.version: [decide(v, RequestContext(u)).bucket for u in ids] for v in (v1, v2, v3, v4)}
        # Then v2 and v3 keep v1's assignment and say so; v4 (lifted) uses the configured salt
        assert buckets[1] == buckets[2] == buckets[3]
        assert buckets[4] == [bucket_of("salt-c", u) for u in ids]
        assert decide(v3, RequestContext("u1")).experiment_frozen
        assert not decide(v4, RequestContext("u1")).experiment_frozen
        assert v3.default.salt == "salt-a"

    def test_a_frozen_override_keeps_the_salt_its_traffic_had(self) -> None:
        # Given v1 with no override (eu traffic governed by the defaults, salt A)
        v1 = compile_snapshot(document({}, version=1), salt="salt-a")
        # When v2 adds a frozen eu override while the configured salt moves to B
        v2 = compile_snapshot(
            document({}, override({"experiment_freeze": True}, regions=["eu-west-1"]), version=2),
            salt="salt-b",
            previous=v1,
        )
        # Then eu users keep their salt-A buckets while everyone else moves to salt B
        assert decide(v2, RequestContext("u1", "eu-west-1")).bucket == bucket_of("salt-a", "u1")
        assert decide(v2, RequestContext("u1", "us-east-1")).bucket == bucket_of("salt-b", "u1")

    def test_a_freeze_with_no_previous_snapshot_uses_the_configured_salt(self) -> None:
        # Given a process that starts while a freeze is on
        snapshot = compile_snapshot(document({"experiment_freeze": True}), salt="salt-z")
        # When a user is decided
        # Then the configured salt is what gets pinned from here on
        assert decide(snapshot, RequestContext("u1")).bucket == bucket_of("salt-z", "u1")


def test_odd_huge_context_values_are_answered_but_never_memoised() -> None:
    # Given a snapshot
    snapshot = compile_snapshot(document({"region_scope": ["eu-west-1"]}))
    huge = "r" * 100_000
    # When requests with huge region, cohort or client values are decided
    decisions = [
        decide(snapshot, RequestContext("u1", huge)),
        decide(snapshot, RequestContext("u1", "eu-west-1", huge)),
        decide(snapshot, RequestContext("u1", "eu-west-1", None, huge)),
    ]
    # Then they get their normal answer and nothing of them is kept
    assert decisions[0].reason is DecisionReason.OUT_OF_SCOPE
    assert decisions[1].reason is DecisionReason.PRIMARY
    assert not snapshot.routes


def test_full_decisions_are_identical_in_a_fresh_process() -> None:
    # Given a scoped, partially exposed document with an override, and 3 000 requests decided here
    doc = document(
        {"exposure_percent": 35, "region_scope": ["eu-west-1", "us-east-1"], "alpha_override": 0.6},
        override({"policy_mode": "content_only", "exposure_percent": 80}, regions=["us-east-1"]),
    )
    regions = ["eu-west-1", "us-east-1", "ap-southeast-2"]
    ctxs = [RequestContext(f"user-{i}", regions[i % 3], None, "web") for i in range(3_000)]
    here = [decide(compile_snapshot(doc), ctx).as_dict() for ctx in ctxs]
    script = (
        "import json, sys\n"
        "from failsafe.domain.decision import RequestContext, compile_snapshot, decide\n"
        "from failsafe.domain.toggles import ToggleDocument\n"
        "payload = json.load(sys.stdin)\n"
        "snapshot = compile_snapshot(ToggleDocument.model_validate_json(payload['doc']))\n"
        "json.dump([decide(snapshot, RequestContext(*c)).as_dict() for c in payload['ctxs']], sys.stdout)\n"
    )

    # When a fresh interpreter with another hash seed decides the same requests
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps({"doc": doc.model_dump_json(), "ctxs": ctxs}),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "4242"},
        check=True,
        timeout=60,
    )

    # Then there is 0 % inconsistency
    assert json.loads(result.stdout) == here


def test_a_narrower_override_never_shields_its_traffic_from_a_broader_kill_switch() -> None:
    # Given a stage-1-like override for eu-west-1 and then a kill switch on the whole service (its own
    # override, as apply_to_document writes it) and, separately, a kill switch in the defaults
    scoped_kill = compile_snapshot(
        document(
            {},
            override({"kill_switch": True, "exposure_percent": 10, "candidate_fallback_level": "D"}),
            override({"exposure_percent": 75, "cache_mode": "warm_only"}, regions=["eu-west-1"]),
            override({"policy_mode": "content_only"}, cohorts=["beta"]),
        ),
        service=SERVICE,
        environment="prod",
    )
    default_kill = compile_snapshot(
        document(
            {"kill_switch": True, "candidate_fallback_level": "D"},
            override({"exposure_percent": 75}, regions=["eu-west-1"]),
        )
    )
    # When requests from the narrowed region (and a narrowed cohort) arrive
    # Then every one of them is killed: the kill switch comes before scope
    for snapshot in (scoped_kill, default_kill):
        for ctx in (
            RequestContext("u1", "eu-west-1"),
            RequestContext("u1", "us-east-1", "beta"),
            RequestContext("u1", "us-east-1"),
        ):
            decision = decide(snapshot, ctx)
            assert decision.reason is DecisionReason.KILL_SWITCH, (ctx, decision)
            assert decision.policy is ServingPolicy.POPULARITY
            assert snapshot.decider(ctx) == decision


def test_a_kill_switch_on_one_of_two_overlapping_overrides_wins_for_their_shared_traffic() -> None:
    # Given two equally specific overrides; the one listed second kills the beta cohort
    snapshot = compile_snapshot(
        document(
            {},
            override({"exposure_percent": 0}, regions=["eu-west-1"]),
            override({"kill_switch": True, "candidate_fallback_level": "C"}, cohorts=["beta"]),
        )
    )
    # When / Then eu-west-1 beta traffic is killed; eu-west-1 alpha traffic keeps its region override
    assert decide(snapshot, RequestContext("u1", "eu-west-1", "beta")).reason is DecisionReason.KILL_SWITCH
    assert (
        decide(snapshot, RequestContext("u1", "eu-west-1", "alpha")).reason is DecisionReason.OUT_OF_EXPOSURE
    )
