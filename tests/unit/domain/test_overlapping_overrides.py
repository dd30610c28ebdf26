"""Overrides that overlap: a rollback must reach all of its scope's traffic, and no further.

A narrower standing override inside a rollback's scope gets the rollback's stages on top of its own
toggles (and gets them back on restore); of two equally specific overrides a request falls in, the more
cautious set governs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from failsafe.domain.decision import RequestContext, ServingPolicy, compile_snapshot, decide
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plan_documents import apply_to_document, restore_document
from failsafe.domain.plans import apply_stages
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import Metadata, PolicyMode, ScopedOverride, ToggleDocument, ToggleSet

AT = datetime(2026, 1, 1, tzinfo=UTC)
PROD = Scope.parse("recommender/prod")
EU = Scope.parse("recommender/prod/region=eu-west-1")
US = Scope.parse("recommender/prod/region=us-east-1")
BETA = Scope.parse("recommender/prod/cohort=beta")
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")


def _document(overrides: list[ScopedOverride]) -> ToggleDocument:
    return ToggleDocument(
        metadata=Metadata(version=3, environment="prod", author="ops", reason="standing", updated_at=AT),
        toggles=ToggleSet(),
        overrides=overrides,
    )


def _apply(document: ToggleDocument, stage: str, scope: Scope, incident: str) -> ToggleDocument:
    return apply_to_document(
        document, DEFAULT_PLAN, stage, scope, incident_id=incident, author="controller", reason="r", at=AT
    )


def _restore(document: ToggleDocument, scope: Scope, incident: str) -> ToggleDocument:
    return restore_document(document, scope, incident_id=incident, author="controller", reason="g", at=AT)


def _policy(document: ToggleDocument, region: str, cohort: str | None = None) -> ServingPolicy:
    snapshot = compile_snapshot(document, service="recommender", environment="prod")
    return decide(snapshot, RequestContext("user-1", region, cohort, "web")).policy


def test_a_service_wide_rollback_reaches_a_region_with_a_standing_override() -> None:
    # Given eu-west-1's standing override: 30 % exposure, hybrid
    standing = ScopedOverride(scope=EU, toggles=ToggleSet(exposure_percent=30))
    document = _document([standing])

    # When the whole service rolls back to stage 2
    rolled_back = _apply(document, "stage_2", PROD, "inc-prod")

    # Then eu-west-1 is content-only too, keeps its own lower exposure, and is held by the incident
    [eu] = [o for o in rolled_back.overrides if o.scope == EU]
    assert (eu.toggles.policy_mode, eu.toggles.disable_cf) == (PolicyMode.CONTENT_ONLY, True)
    assert eu.toggles.exposure_percent == 30
    assert (eu.incident_id, eu.stage, eu.replaces) == ("inc-prod", "stage_2", standing.toggles)
    assert rolled_back.effective_toggles(EU) == eu.toggles

    # When the incident escalates and then restores
    escalated = _apply(rolled_back, "stage_3", PROD, "inc-prod")
    restored = _restore(escalated, PROD, "inc-prod")

    # Then the escalation started again from the standing toggles, and the restore put them back exactly
    [eu_escalated] = [o for o in escalated.overrides if o.scope == EU]
    assert eu_escalated.replaces == standing.toggles
    assert restored.overrides == [standing]


def test_a_regional_rollback_leaves_other_regions_overrides_alone() -> None:
    # Given standing overrides for eu-west-1 and for the beta cohort
    eu = ScopedOverride(scope=EU, toggles=ToggleSet(exposure_percent=30))
    beta = ScopedOverride(scope=BETA, toggles=ToggleSet(exposure_percent=60))
    document = _document([eu, beta])

    # When us-east-1 rolls back
    rolled_back = _apply(document, "stage_2", US, "inc-us")

    # Then neither standing override changed: neither lies inside us-east-1
    assert [o for o in rolled_back.overrides if o.scope != US] == [beta, eu]


def test_of_two_overlapping_rollbacks_the_further_one_governs_their_common_traffic() -> None:
    # Given the beta cohort at stage 1, then eu-west-1 at stage 2 (collaborative filtering off)
    document = _apply(_document([]), "stage_1", BETA, "inc-beta")
    document = _apply(document, "stage_2", EU, "inc-eu")

    # When a beta user in eu-west-1 is served
    # Then stage 2 governs them, whatever the document order
    assert _policy(document, "eu-west-1", "beta") is ServingPolicy.CONTENT_ONLY
    reordered = document.model_copy(update={"overrides": list(reversed(document.overrides))})
    assert _policy(reordered, "eu-west-1", "beta") is ServingPolicy.CONTENT_ONLY
    # And each rollback alone governs the rest of its own scope
    assert _policy(document, "us-east-1", "beta") is ServingPolicy.HYBRID
    assert _policy(document, "eu-west-1", "gold") is ServingPolicy.CONTENT_ONLY


_standing = st.lists(
    st.tuples(st.sampled_from(REGIONS), st.integers(0, 100), st.sampled_from(list(PolicyMode))),
    unique_by=lambda t: t[0],
    max_size=3,
)
_overlay_stages = st.sampled_from([s.name for s in DEFAULT_PLAN.stages if s.overlay is not None])


def _region(region: str) -> Scope:
    return Scope(service="recommender", environment="prod", regions=(region,))


@settings(max_examples=150, deadline=None)
@given(standing=_standing, rolled_back_region=st.none() | st.sampled_from(REGIONS), stage=_overlay_stages)
def test_every_region_in_a_rolled_back_scope_gets_the_stage_and_restore_undoes_it(
    standing: list[tuple[str, int, PolicyMode]], rolled_back_region: str | None, stage: str
) -> None:
    # Given standing regional overrides and a rollback of the whole service or of one region
    overrides = [
        ScopedOverride(scope=_region(region), toggles=ToggleSet(exposure_percent=exposure, policy_mode=mode))
        for region, exposure, mode in standing
    ]
    document = _document(sorted(overrides, key=lambda o: o.scope.key))
    scope = PROD if rolled_back_region is None else _region(rolled_back_region)

    # When the stage is applied
    rolled_back = _apply(document, stage, scope, "inc-1")

    # Then every region inside the scope is governed by its own toggles with the stage's path applied,
    # every region outside it by what governed it before, and the restore gives back the overrides
    path = DEFAULT_PLAN.path_to(stage)
    for region in map(_region, REGIONS):
        before = document.effective_toggles(region)
        expected = apply_stages(before, path) if scope.contains(region) else before
        assert rolled_back.effective_toggles(region) == expected
    assert _restore(rolled_back, scope, "inc-1").overrides == document.overrides
