"""`Recommender`: decisions honoured, cache modes, chaos faults and the EMF contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from failsafe.client.toggle_client import ToggleClient
from failsafe.domain import metrics as contract
from failsafe.domain.decision import DecisionReason
from failsafe.recommender.chaos import ChaosConfig
from failsafe.recommender.dataset import Catalog
from failsafe.recommender.models import RecommendationResponse
from failsafe.recommender.service import Recommender
from failsafe_tools.local.emf_logs import parse_emf_document

MakeClient = Callable[..., tuple[ToggleClient, Any]]
CONTRACT_METRICS = {
    contract.COVERAGE,
    contract.FILL_RATE,
    contract.LATENCY_MS,
    contract.ERROR_RATE,
    contract.CACHE_HIT_RATE,
    contract.AVAILABILITY,
    contract.REQUESTS,
    contract.CONFIG_VERSION,
    contract.CONFIG_AGE_SECONDS,
    contract.FALLBACK_SERVED,
}


class FakeTime:
    """A perf_counter whose time only moves when `sleep` is called (so injected latency costs nothing)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def timer(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _recommender(client: ToggleClient, docs: list[dict[str, Any]], **kwargs: Any) -> Recommender:
    return Recommender(client, emf_sink=docs.append, **kwargs)


def _valid(response: RecommendationResponse) -> RecommendationResponse:
    return RecommendationResponse.model_validate(response.model_dump())


def test_normal_traffic_is_personalised_and_emits_the_contract(make_client: MakeClient) -> None:
    # Given the normal baseline
    client, _ = make_client("normal", version=4)
    docs: list[dict[str, Any]] = []
    recommender = _recommender(client, docs)
    # When a known user asks for 12 items in a region
    served = recommender.serve({"user_id": "u00010", "region": "eu-west-1", "cohort": "power", "k": 12})
    # Then the hybrid model answers at level A with 12 items
    response = _valid(served.response)
    assert (response.policy, response.fallback_level, response.reason) == ("hybrid", "A", "primary")
    assert response.k_returned == 12
    assert response.config_version == 4
    # And one EMF document carries exactly the contract, in both dimension sets
    (doc,) = docs
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == contract.NAMESPACE
    assert directive["Dimensions"] == [list(contract.SERVICE_DIMENSIONS), list(contract.REGION_DIMENSIONS)]
    assert {m["Name"] for m in directive["Metrics"]} == CONTRACT_METRICS
    assert (doc["Service"], doc["Environment"], doc["Region"]) == ("recommender", "dev", "eu-west-1")
    assert doc["PolicyMode"] == "hybrid"
    assert doc["Cohort"] == "power"
    # And the local stack's EMF parser (CloudWatch's rules) extracts every metric in both sets
    data = parse_emf_document(json.loads(json.dumps(doc)))
    assert len(data) == 2 * len(CONTRACT_METRICS)


def test_a_rejected_served_document_shows_as_stale_with_its_count_in_the_emf(
    make_client: MakeClient, make_document: Callable[..., bytes]
) -> None:
    # Given a recommender on version 4
    client, source = make_client("normal", version=4)
    docs: list[dict[str, Any]] = []
    recommender = _recommender(client, docs)
    # When AppConfig serves a document for another environment, which the client refuses
    source.body = make_document("normal", version=5, environment="prod")
    client.refresh()
    recommender.serve({"user_id": "u00010", "region": "eu-west-1", "k": 12})
    # Then the request's EMF document says the client is stale and has rejected one document
    (doc,) = docs
    assert client.config_version == 4
    assert (doc["ClientStale"], doc["ClientRejectedDocuments"]) == (True, 1)


def test_rates_are_zero_or_hundred_per_request(make_client: MakeClient) -> None:
    # Given a normal recommender with the cache consulted
    client, _ = make_client("normal")
    docs: list[dict[str, Any]] = []
    recommender = _recommender(client, docs)
    # When the same request is served twice
    recommender.serve({"user_id": "u00011", "region": "us-east-1"})
    recommender.serve({"user_id": "u00011", "region": "us-east-1"})
    # Then the first is a cache miss and the second a hit, full, error-free, not a fallback
    assert [d[contract.CACHE_HIT_RATE] for d in docs] == [[0.0], [100.0]]
    for doc in docs:
        assert doc[contract.FILL_RATE] == [100.0]
        assert doc[contract.COVERAGE] == [100.0]
        assert doc[contract.ERROR_RATE] == [0.0]
        assert doc[contract.AVAILABILITY] == [100.0]
        assert doc[contract.FALLBACK_SERVED] == [0.0]
        assert doc[contract.REQUESTS] == [1.0]
        assert doc[contract.CONFIG_VERSION] == [1.0]


def test_no_powertools_service_dimension_sneaks_in(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given POWERTOOLS_SERVICE_NAME set, as template.yaml's Globals do
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "failsafe")
    client, _ = make_client("normal")
    docs: list[dict[str, Any]] = []
    # When a request is served
    _recommender(client, docs).serve({"user_id": "u1"})
    # Then the dimension sets are still exactly the contract's
    assert docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        list(contract.SERVICE_DIMENSIONS),
        list(contract.REGION_DIMENSIONS),
    ]
    assert "service" not in docs[0]


def test_kill_switch_serves_popularity_and_reports_fallback(make_client: MakeClient) -> None:
    # Given the emergency baseline (kill switch on)
    client, _ = make_client("emergency", version=9)
    docs: list[dict[str, Any]] = []
    recommender = _recommender(client, docs)
    # When a known user asks
    response = _valid(recommender.recommend({"user_id": "u00010", "region": "eu-west-1"}))
    # Then popularity answers at level D, full, and the fallback metric says so
    assert (response.policy, response.fallback_level, response.reason) == ("popularity", "D", "kill_switch")
    assert response.k_returned == response.k == 10
    assert docs[0][contract.FALLBACK_SERVED] == [100.0]
    assert docs[0][contract.FILL_RATE] == [100.0]


def test_exposure_splits_users_by_bucket(make_client: MakeClient) -> None:
    # Given 30 % exposure
    client, _ = make_client({"exposure_percent": 30})
    recommender = _recommender(client, [])
    # When 600 users are served
    served = [recommender.serve({"user_id": f"u{n:05d}"}) for n in range(600)]
    # Then about 30 % get the primary policy and the rest popularity, as the decision says
    primary = [s for s in served if s.decision.reason is DecisionReason.PRIMARY]
    assert 0.22 < len(primary) / len(served) < 0.38
    assert all(s.response.policy == "hybrid" for s in primary)
    assert all(
        s.response.policy == "popularity" and s.response.reason == "out_of_exposure"
        for s in served
        if s not in primary
    )


def test_region_scope_is_honoured(make_client: MakeClient) -> None:
    # Given toggles scoped to eu-west-1
    client, _ = make_client({"region_scope": ["eu-west-1"]})
    recommender = _recommender(client, [])
    # When users in and out of the region ask / Then only eu-west-1 gets the model
    assert recommender.recommend({"user_id": "u1", "region": "eu-west-1"}).policy == "hybrid"
    outside = recommender.recommend({"user_id": "u1", "region": "us-east-1"})
    assert (outside.policy, outside.reason) == ("popularity", "out_of_scope")
    assert recommender.recommend({"user_id": "u1"}).reason == "out_of_scope"


def test_cold_mode_never_touches_the_cache(make_client: MakeClient) -> None:
    # Given cache_mode cold
    client, _ = make_client({"cache_mode": "cold"})
    docs: list[dict[str, Any]] = []
    recommender = _recommender(client, docs, prewarm_users=0)
    # When a user asks twice
    recommender.serve({"user_id": "u00001"})
    recommender.serve({"user_id": "u00001"})
    # Then nothing was cached and no cache-hit metric was emitted
    assert len(recommender.cache) == 0
    assert all(contract.CACHE_HIT_RATE not in d for d in docs)


def test_prewarm_warms_the_most_active_users(make_client: MakeClient, catalog: Catalog) -> None:
    # Given cache_mode prewarm and a recommender that prewarms 20 users
    client, _ = make_client({"cache_mode": "prewarm"})
    docs: list[dict[str, Any]] = []
    recommender = _recommender(client, docs, prewarm_users=20)
    most_active = sorted(catalog.users, key=lambda u: (-len(u.history), u.index))[:20]
    # When those users ask (in their home region) and one other user asks
    for user in most_active:
        recommender.serve({"user_id": user.user_id, "region": user.region})
    recommender.serve({"user_id": "someone-else"})
    # Then the warmed users hit and the other one misses
    assert [d[contract.CACHE_HIT_RATE] for d in docs] == [[100.0]] * 20 + [[0.0]]
    assert recommender.stats.cache_hits == 20


def test_warm_only_serves_cached_keys_else_popularity(make_client: MakeClient, catalog: Catalog) -> None:
    # Given cache_mode warm_only and 5 warmed users
    client, _ = make_client({"cache_mode": "warm_only"})
    recommender = _recommender(client, [], prewarm_users=5)
    warmed = sorted(catalog.users, key=lambda u: (-len(u.history), u.index))[0]
    # When a warmed and a cold user ask
    hit = recommender.serve({"user_id": warmed.user_id})
    miss = recommender.serve({"user_id": "u04321"})
    # Then the warmed user gets the personalised cached list, the other popularity (level C), both full
    assert (hit.outcome.cache_hit, hit.response.policy, hit.response.fallback_level) == (True, "hybrid", "A")
    assert (miss.outcome.cache_hit, miss.response.policy, miss.response.fallback_level) == (
        False,
        "popularity",
        "C",
    )
    assert miss.response.k_returned == miss.response.k
    # And the model was not run for the miss: only its popularity answer was kept warm
    assert len(recommender.cache) == 6
    again = recommender.serve({"user_id": "u04321"})
    assert (again.outcome.cache_hit, again.response.policy, again.response.fallback_level) == (
        True,
        "popularity",
        "C",
    )
    assert [i.item_id for i in again.response.items] == [i.item_id for i in miss.response.items]


def test_warm_only_recovers_its_hit_rate_after_a_stage_changes_the_policy(
    make_client: MakeClient, make_document: Callable[..., bytes]
) -> None:
    # Given warm_only traffic from 20 repeating users, then a stage that switches to content_only
    client, source = make_client({"cache_mode": "warm_only"})
    recommender = _recommender(client, [], prewarm_users=0)
    users = [f"u{n:05d}" for n in range(20)]
    for user in users:
        recommender.serve({"user_id": user})
    source.body = make_document(
        {"cache_mode": "warm_only", "policy_mode": "content_only", "disable_cf": True}, version=2
    )
    assert client.refresh().value == "applied"

    # When the same users come back twice after the change
    outcomes = [recommender.serve({"user_id": user}).outcome for _ in range(2) for user in users]

    # Then only each user's first request after the change could miss: the hit rate is back at 50 %+
    hits = sum(1 for outcome in outcomes if outcome.cache_hit)
    assert hits >= len(users)
    assert all(outcome.config_version == 2 for outcome in outcomes)


def test_injected_latency_is_reported_without_really_waiting(make_client: MakeClient) -> None:
    # Given 250 ms of injected latency and a fake clock
    client, _ = make_client("normal")
    fake = FakeTime()
    docs: list[dict[str, Any]] = []
    recommender = _recommender(
        client, docs, chaos=ChaosConfig(enabled=True, latency_ms=250), sleep=fake.sleep, timer=fake.timer
    )
    # When a request is served
    served = recommender.serve({"user_id": "u00001"})
    # Then the sleep was asked for 0.25 s and LatencyMs reports the observed 250 ms
    assert fake.sleeps == [0.25]
    assert served.outcome.latency_ms == pytest.approx(250.0)
    assert docs[0][contract.LATENCY_MS] == [250.0]
    assert docs[0]["ChaosFired"] == ["latency"]


def test_latency_with_a_sleep_that_returns_early_still_counts_the_injection(make_client: MakeClient) -> None:
    # Given a sleep that does nothing (a test double) and a timer that does not move
    client, _ = make_client("normal")
    recommender = _recommender(
        client, [], chaos=ChaosConfig(enabled=True, latency_ms=80), sleep=lambda s: None, timer=lambda: 5.0
    )
    # When served / Then the injected 80 ms are in the reported latency
    assert recommender.serve({"user_id": "u2"}).outcome.latency_ms == pytest.approx(80.0)


def test_error_injection_answers_from_last_resort_and_counts_an_error(make_client: MakeClient) -> None:
    # Given every personalised request failing
    client, _ = make_client("normal")
    docs: list[dict[str, Any]] = []
    recommender = _recommender(client, docs, chaos=ChaosConfig(enabled=True, error_percent=100))
    # When a request is served
    response = _valid(recommender.recommend({"user_id": "u00001", "k": 7}))
    # Then it is still full (never blank) but marked as an error in the response and the metrics
    assert (response.reason, response.policy, response.fallback_level) == ("error", "popularity", "D")
    assert response.k_returned == 7
    assert docs[0][contract.ERROR_RATE] == [100.0]
    assert docs[0][contract.AVAILABILITY] == [100.0]
    assert recommender.stats.errors == 1


def test_kill_switch_cures_personalised_faults(make_client: MakeClient) -> None:
    # Given the same fault under the kill switch
    client, _ = make_client("emergency")
    docs: list[dict[str, Any]] = []
    recommender = _recommender(
        client, docs, chaos=ChaosConfig(enabled=True, error_percent=100, cf_outage=True)
    )
    # When served / Then popularity is untouched by the personalised-target chaos
    assert recommender.recommend({"user_id": "u00001"}).reason == "kill_switch"
    assert docs[0][contract.ERROR_RATE] == [0.0]


@pytest.mark.parametrize(
    ("toggles", "fails"), [("normal", True), ("collab_only", True), ("content_only", False)]
)
def test_cf_outage_fails_only_cf_policies(make_client: MakeClient, toggles: str, fails: bool) -> None:
    # Given a CF outage and no cache
    client, _ = make_client(toggles)
    recommender = _recommender(client, [], chaos=ChaosConfig(enabled=True, cf_outage=True))
    # When a known user asks (cold cache: the model must run)
    served = recommender.serve({"user_id": "u00077"})
    # Then only policies that use CF fail (and are still answered in full)
    assert served.outcome.error is fails
    assert served.response.k_returned == served.response.k


def test_low_coverage_cuts_the_list(make_client: MakeClient) -> None:
    # Given coverage injected at 40 %
    client, _ = make_client("normal")
    docs: list[dict[str, Any]] = []
    recommender = _recommender(client, docs, chaos=ChaosConfig(enabled=True, coverage_percent=40))
    # When 10 items are asked for
    response = _valid(recommender.recommend({"user_id": "u00001", "k": 10}))
    # Then 4 come back and Coverage/FillRate say so
    assert response.k_returned == 4
    assert docs[0][contract.COVERAGE] == [40.0]
    assert docs[0][contract.FILL_RATE] == [0.0]


def test_chaos_in_prod_is_refused(make_client: MakeClient) -> None:
    # Given a chaos config without the prod guards, in prod
    client, _ = make_client("normal")
    warnings: list[str] = []

    class Log:
        def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
            warnings.append(msg % args if args else msg)

    recommender = Recommender(
        client,
        environment="prod",
        emf_sink=None,
        chaos=ChaosConfig(enabled=True, error_percent=100),
        logger=Log(),
    )
    # When served / Then no fault fires and the refusal was logged once
    assert recommender.recommend({"user_id": "u1"}).reason == "primary"
    assert len(warnings) == 1
    assert "refused" in warnings[0]


def test_a_broken_metrics_sink_never_fails_a_request(make_client: MakeClient) -> None:
    # Given a sink that raises
    client, _ = make_client("normal")

    def broken(doc: dict[str, Any]) -> None:
        raise OSError("stdout closed")

    # When served / Then the response is still complete
    assert Recommender(client, emf_sink=broken).recommend({"user_id": "u1"}).k_returned == 10


def test_odd_regions_are_reported_safely(make_client: MakeClient) -> None:
    # Given region values that are not scope values, and a metric region allow-list
    client, _ = make_client("normal")
    docs: list[dict[str, Any]] = []
    Recommender(client, emf_sink=docs.append).serve({"user_id": "u1", "region": "eu west/1 ☃"})
    Recommender(client, emf_sink=docs.append, metric_regions=frozenset({"eu-west-1"})).serve(
        {"user_id": "u1", "region": "ap-south-9"}
    )
    Recommender(client, emf_sink=docs.append).serve({"user_id": "u1"})
    # Then they become "other" (or "unknown" when missing), never a raw high-cardinality value
    assert [d["Region"] for d in docs] == ["other", "other", "unknown"]


def test_emf_timestamps_follow_the_injected_clock(make_client: MakeClient) -> None:
    # Given a drill clock far from the wall clock
    client, _ = make_client("normal")
    docs: list[dict[str, Any]] = []
    recommender = Recommender(client, emf_sink=docs.append, timestamp=lambda: 1_767_225_600.5)
    # When served / Then the EMF timestamp is the drill's, in epoch milliseconds
    recommender.serve({"user_id": "u1"})
    assert docs[0]["_aws"]["Timestamp"] == 1_767_225_600_500


def test_a_hostile_mapping_gets_the_default_treatment(make_client: MakeClient) -> None:
    # Given a mapping whose lookups raise
    class Hostile(dict):  # type: ignore[type-arg]
        def __contains__(self, key: object) -> bool:
            raise RuntimeError("no")

    client, _ = make_client("normal")
    # When served / Then the anonymous default answers in full
    response = Recommender(client, emf_sink=None).recommend(Hostile(user_id="u1"))
    assert (response.reason, response.k_returned) == ("missing_user", 10)


def test_an_unexpected_bug_is_still_answered_and_counted(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a recommender whose response properties blow up (a bug outside the model path)
    client, _ = make_client("normal")
    docs: list[dict[str, Any]] = []
    recommender = Recommender(client, emf_sink=docs.append)

    def broken(*args: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(recommender, "_properties", broken)
    # When served / Then a full popular list comes back with reason error, and the error is counted
    response = _valid(recommender.recommend({"user_id": "u1", "region": "eu-west-1"}))
    assert (response.reason, response.policy, response.k_returned) == ("error", "popularity", 10)
    assert docs[-1][contract.ERROR_RATE] == [100.0]
