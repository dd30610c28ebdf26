"""Properties of decide() over arbitrary valid toggle documents and arbitrary request contexts."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.bucketing import exposure_threshold
from failsafe.domain.decision import (
    NO_BUCKET,
    Decision,
    DecisionReason,
    RequestContext,
    ServingPolicy,
    compile_snapshot,
    decide,
)
from failsafe.domain.toggles import FallbackLevel, ToggleDocument, ToggleSet

REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]
COHORTS = ["alpha", "beta"]
CLIENTS = ["web", "ios"]

odd_text = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    st.text(alphabet=st.characters(categories=["Cs", "Co", "Zs", "Cc"]), max_size=4),  # surrogates, controls
    st.sampled_from(REGIONS + COHORTS + CLIENTS),
)
contexts = st.builds(RequestContext, odd_text, odd_text, odd_text, odd_text)
junk = st.one_of(st.integers(), st.floats(allow_nan=True), st.binary(max_size=8), st.booleans(), st.none())
odd_contexts = st.one_of(
    contexts,
    st.tuples(junk, junk, junk, junk),
    st.builds(RequestContext, st.text(min_size=200, max_size=400), odd_text, odd_text, odd_text),
)

toggle_dicts = st.fixed_dictionaries(
    {},
    optional={
        "kill_switch": st.booleans(),
        "policy_mode": st.sampled_from(["bucket_gate", "content_only", "collab_only", "hybrid_default"]),
        "alpha_override": st.none() | st.floats(0.0, 1.0),
        "disable_cf": st.booleans(),
        "disable_content": st.booleans(),
        "candidate_fallback_level": st.sampled_from(["A", "B", "C", "D"]),
        "exposure_percent": st.integers(0, 100),
        "cache_mode": st.sampled_from(["cold", "prewarm", "warm_only"]),
        "experiment_freeze": st.booleans(),
        "region_scope": st.lists(st.sampled_from(REGIONS), max_size=2, unique=True),
        "cohort_scope": st.lists(st.sampled_from(COHORTS), max_size=1, unique=True),
        "client_scope": st.lists(st.sampled_from(CLIENTS), max_size=1, unique=True),
    },
)


def valid_toggles(data: dict[str, Any]) -> ToggleSet:
    try:
        return ToggleSet.model_validate(data)
    except ValidationError:
        assume(False)
        raise


@st.composite
def documents(draw: st.DrawFn) -> ToggleDocument:
    default = valid_toggles(draw(toggle_dicts))
    scopes = draw(
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "regions": st.lists(st.sampled_from(REGIONS), min_size=1, max_size=2, unique=True),
                    "cohorts": st.lists(st.sampled_from(COHORTS), min_size=1, max_size=1, unique=True),
                },
            ),
            max_size=3,
            unique_by=lambda s: (tuple(sorted(s.get("regions", []))), tuple(s.get("cohorts", []))),
        )
    )
    overrides = [
        {
            "scope": {"service": "recommender", "environment": "prod", **scope},
            "toggles": valid_toggles(draw(toggle_dicts)).model_dump(),
        }
        for scope in scopes
    ]
    return ToggleDocument.model_validate(
        {
            "metadata": {
                "version": draw(st.integers(1, 10_000)),
                "environment": "prod",
                "author": "h",
                "reason": "p",
            },
            "toggles": default.model_dump(),
            "overrides": overrides,
        }
    )


def check_invariants(snapshot_doc: ToggleDocument, decision: Decision) -> None:
    assert isinstance(decision, Decision)
    assert decision.config_version == snapshot_doc.metadata.version
    assert decision.bucket == NO_BUCKET or 0 <= decision.bucket < 10_000
    if decision.serve_full:
        assert decision.reason is DecisionReason.PRIMARY
        assert decision.bucket != NO_BUCKET
    else:
        assert decision.reason is not DecisionReason.PRIMARY
        assert decision.policy is ServingPolicy.POPULARITY
        assert decision.fallback_level.is_popularity
        assert decision.alpha == 0.0
    if decision.policy is ServingPolicy.POPULARITY:
        assert decision.fallback_level.is_popularity
    assert 0.0 <= decision.alpha <= 1.0


@settings(max_examples=120, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(doc=documents(), ctx=odd_contexts)
def test_decide_never_raises_and_every_decision_is_coherent(doc: ToggleDocument, ctx: Any) -> None:
    # Given any valid document, compiled
    snapshot = compile_snapshot(doc)
    # When any context (None, empty, unicode, surrogates, junk types, oversized ids) is decided
    decision = decide(snapshot, ctx)
    # Then a coherent decision comes back; the fast path (memoised route and bucket table) gives the same
    # answer as the precedence rules applied from scratch on a fresh snapshot
    check_invariants(doc, decision)
    assert snapshot.decider(ctx) == decision
    assert decide(snapshot, ctx) == decision  # memoised answer is the same answer
    try:
        from_scratch = compile_snapshot(doc).resolve(ctx)
    except Exception:  # a malformed context: the decider answers invalid_context instead of raising
        from_scratch = snapshot.invalid_context
    assert from_scratch == decision


@settings(max_examples=120, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(doc=documents(), ctx=contexts)
def test_primary_is_served_only_inside_scope_and_exposure_of_an_unkilled_governing_set(
    doc: ToggleDocument, ctx: RequestContext
) -> None:
    # Given any document and the set that governs this request
    snapshot = compile_snapshot(doc)
    governing = snapshot.governing_set(ctx).toggles
    # When the request is decided
    decision = decide(snapshot, ctx)
    # Then the reason is the first rule of the precedence order that applies
    in_scope = all(
        not allowed or value in allowed
        for allowed, value in (
            (governing.region_scope, ctx.region),
            (governing.cohort_scope, ctx.cohort),
            (governing.client_scope, ctx.client),
        )
    )
    if governing.kill_switch:
        expected = DecisionReason.KILL_SWITCH
    elif not in_scope:
        expected = DecisionReason.OUT_OF_SCOPE
    elif decision.bucket == NO_BUCKET:
        expected = DecisionReason.MISSING_USER
    elif decision.bucket < exposure_threshold(governing.exposure_percent):
        expected = DecisionReason.PRIMARY
    else:
        expected = DecisionReason.OUT_OF_EXPOSURE
    assert decision.reason is expected


emergency_like = st.builds(
    lambda data: valid_toggles({**data, "kill_switch": True}),
    toggle_dicts.map(lambda d: {k: v for k, v in d.items() if k != "kill_switch"}),
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.filter_too_much])
@given(toggles=emergency_like, ctx=odd_contexts, k=st.integers(1, 50))
def test_a_kill_switch_set_always_yields_a_popularity_fallback_that_fills_top_k(
    toggles: ToggleSet, ctx: Any, k: int
) -> None:
    # Given any valid toggle set with the kill switch on (the emergency baseline is one of them)
    doc = ToggleDocument.model_validate(
        {
            "metadata": {"version": 1, "environment": "prod", "author": "h", "reason": "incident"},
            "toggles": toggles.model_dump(),
        }
    )
    decision = decide(compile_snapshot(doc), ctx)
    # When a popularity ranking of a catalog with at least K items serves it
    catalog = [f"item-{i}" for i in range(k + 10)]
    popularity = {FallbackLevel.C: catalog[::-1], FallbackLevel.D: catalog}
    served = popularity[decision.fallback_level][:k]
    # Then the decision is popularity (independent of CF and content models) and top-K is full
    assert not decision.serve_full
    assert decision.policy is ServingPolicy.POPULARITY
    assert decision.fallback_level in popularity
    assert decision.alpha == 0.0
    assert len(served) == k
    assert decision.reason in {DecisionReason.KILL_SWITCH, DecisionReason.INVALID_CONTEXT}


@given(ctx=odd_contexts)
def test_the_emergency_baseline_yields_global_popularity_for_every_request(ctx: Any) -> None:
    # Given the emergency baseline as the document's defaults
    doc = ToggleDocument.model_validate(
        {
            "metadata": {"version": 3, "environment": "prod", "author": "h", "reason": "incident"},
            "toggles": BASELINES[BaselineName.EMERGENCY].model_dump(),
        }
    )
    # When any request is decided
    decision = decide(compile_snapshot(doc), ctx)
    # Then it is the global popular fallback
    assert (decision.serve_full, decision.policy, decision.fallback_level) == (
        False,
        ServingPolicy.POPULARITY,
        FallbackLevel.D,
    )
