"""Seed 000, "Kill Switch Functionality": the next poll after the deployment puts 100 % of requests on the
emergency baseline with a 100 % fill rate, and no request fails during the switch (concurrent traffic)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from failsafe.domain import metrics as contract
from failsafe.recommender.service import Recommender
from failsafe.recommender.traffic import drive


def test_next_poll_moves_all_traffic_to_the_emergency_baseline(
    toggles_file: Any, make_document: Callable[..., bytes], shadow_users: list[dict[str, Any]]
) -> None:
    # Given normal toggles and 4 threads of traffic
    toggles_file.deploy(make_document("normal", version=1))
    client = toggles_file.client()
    docs: list[dict[str, Any]] = []
    recommender = Recommender(client, emf_sink=docs.append)
    polls: dict[str, str] = {}

    def deploy_kill_switch() -> None:
        toggles_file.deploy(make_document("emergency", version=2))

    def next_poll() -> None:
        polls["outcome"] = client.refresh().value

    # When the emergency baseline is deployed mid-traffic and the client polls once
    run = drive(
        recommender,
        shadow_users,
        rate=300.0,
        seconds=1.2,
        window=0.2,
        threads=4,
        actions={0.5: deploy_kill_switch, 0.55: next_poll},
    )
    done = run.actions_done
    # Then that poll applied it
    assert polls["outcome"] == "applied"
    # And no request failed at any point (before, during or after the switch)
    assert len(run.records) == run.total
    assert all(r.ok for r in run.records), [r for r in run.records if not r.ok][:3]
    # And 100 % of the requests that started after the poll are on the emergency baseline, full
    after = [r for r in run.records if r.started > done[0.55]]
    assert len(after) > 100
    assert all((r.config_version, r.policy, r.reason) == (2, "popularity", "kill_switch") for r in after)
    assert all(r.k_returned == r.k for r in after)
    # And the metrics agree: every request after the switch reports a fallback with a 100 % fill rate
    switched = [d for d in docs if d[contract.CONFIG_VERSION] == [2.0]]
    assert len(switched) >= len(after)
    assert all(d[contract.FALLBACK_SERVED] == [100.0] and d[contract.FILL_RATE] == [100.0] for d in switched)
    # And before the deployment nobody was on it
    assert {r.config_version for r in run.records if r.finished < done[0.5]} == {1}


def test_background_poller_picks_up_the_kill_switch_within_one_interval(
    toggles_file: Any, make_document: Callable[..., bytes]
) -> None:
    # Given a client polling in the background every 100 ms
    toggles_file.deploy(make_document("normal", version=1))
    client = toggles_file.client(refresh_interval=0.1)
    recommender = Recommender(client, emf_sink=None)
    with client:
        assert recommender.recommend({"user_id": "u00001"}).reason == "primary"
        # When the kill switch is deployed
        toggles_file.deploy(make_document("emergency", version=2))
        deadline = time.monotonic() + 120  # a hang guard, not a measurement (timing is in benchmarks/)
        while client.config_version != 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        # Then the background poll picked it up by itself, and every request is on it from then on
        assert client.config_version == 2
        responses = [
            recommender.recommend({"user_id": f"u{n:05d}", "region": "eu-west-1"}) for n in range(300)
        ]
    assert all((r.reason, r.policy, r.k_returned) == ("kill_switch", "popularity", r.k) for r in responses)


def test_a_regional_kill_switch_leaves_other_regions_alone(
    toggles_file: Any, make_document: Callable[..., bytes]
) -> None:
    # Given a kill switch scoped to eu-west-1 only
    toggles_file.deploy(make_document("normal", version=3, overrides={("eu-west-1",): "emergency"}))
    recommender = Recommender(toggles_file.client(), emf_sink=None)
    # When users in two regions ask
    eu = [recommender.recommend({"user_id": f"u{n:05d}", "region": "eu-west-1"}) for n in range(200)]
    us = [recommender.recommend({"user_id": f"u{n:05d}", "region": "us-east-1"}) for n in range(200)]
    # Then eu-west-1 is fully on the emergency baseline, us-east-1 untouched, both full
    assert all((r.reason, r.policy) == ("kill_switch", "popularity") for r in eu)
    assert all((r.reason, r.policy) == ("primary", "hybrid") for r in us)
    assert all(r.k_returned == r.k for r in eu + us)
