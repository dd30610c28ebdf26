"""The recommender's evidence events: one ranking event per request, an error event per failed request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from failsafe.client.toggle_client import ToggleClient
from failsafe.domain.events import (
    COLUMNS,
    ERROR_TABLE,
    PARTITION_KEY,
    RANKING_TABLE,
    ErrorEvent,
    RankingEvent,
    row,
)
from failsafe.recommender.chaos import ChaosConfig
from failsafe.recommender.events import MemoryEventSink
from failsafe.recommender.service import Recommender

MakeClient = Callable[..., tuple[ToggleClient, Any]]
T0 = 1_796_688_000.0  # 2026-12-08T00:00:00Z


def _recommender(client: ToggleClient, sink: Any, **kwargs: Any) -> Recommender:
    return Recommender(client, emf_sink=None, event_sink=sink, timestamp=lambda: T0 + 1.5, **kwargs)


def test_a_served_request_records_one_ranking_event_with_the_seed_columns(make_client: MakeClient) -> None:
    # Given a recommender on config version 3 with an event sink
    client, _ = make_client("normal", version=3)
    sink = MemoryEventSink()
    recommender = _recommender(client, sink)
    # When a known user asks for 12 items
    served = recommender.serve(
        {"user_id": "u00010", "region": "eu-west-1", "cohort": "power", "client": "web", "k": 12}
    )
    # Then exactly one ranking event describes it, stamped with the recommender's clock
    (event,) = sink.events
    assert isinstance(event, RankingEvent)
    assert (event.event_date, event.timestamp_ms) == ("2026-12-08", 1_796_688_001_500)
    assert (event.service, event.environment, event.region, event.cohort, event.client) == (
        "recommender",
        "dev",
        "eu-west-1",
        "power",
        "web",
    )
    assert (event.k, event.k_returned, event.coverage) == (12, 12, 100.0)
    assert event.config_version == 3
    assert event.bucket == served.decision.bucket // 1000
    assert event.shadow is False
    assert event.latency_ms == pytest.approx(served.outcome.latency_ms, abs=1e-3)
    # And its row holds exactly the table's columns plus the partition key
    assert list(row(event)) == [name for name, _ in COLUMNS[RANKING_TABLE]] + [PARTITION_KEY]


def test_a_failed_request_adds_an_error_event_naming_the_component(make_client: MakeClient) -> None:
    # Given chaos that takes collaborative filtering down
    client, _ = make_client("normal", version=1)
    sink = MemoryEventSink()
    recommender = _recommender(client, sink, chaos=ChaosConfig(enabled=True, cf_outage=True))
    # When a known user is served by the hybrid model
    recommender.serve({"user_id": "u00010", "region": "eu-west-1", "k": 10})
    # Then a ranking event and an error event share the request id, and the error names CF
    ranking, error = sink.events
    assert isinstance(ranking, RankingEvent)
    assert isinstance(error, ErrorEvent)
    assert ranking.request_id == error.request_id
    assert (error.component, error.severity, error.error_type) == (
        "collaborative_filtering",
        "error",
        "ComponentUnavailableError",
    )
    assert list(row(error)) == [name for name, _ in COLUMNS[ERROR_TABLE]] + [PARTITION_KEY]


def test_shadow_requests_are_marked_and_unusable_scope_values_are_dropped(make_client: MakeClient) -> None:
    # Given a recommender with an event sink
    client, _ = make_client("normal", version=1)
    sink = MemoryEventSink()
    recommender = _recommender(client, sink)
    # When a shadow request arrives with a region that is not a scope value
    recommender.serve({"user_id": "u00010", "region": "eu' OR '1'='1", "shadow": True})
    # And a request says shadow with a non-boolean
    recommender.serve({"user_id": "u00010", "shadow": "yes"})
    # Then the first is shadow traffic without a region, the second is not shadow traffic
    first, second = sink.events
    assert (first.shadow, first.region) == (True, None)
    assert second.shadow is False


def test_a_sink_that_fails_never_fails_the_request(make_client: MakeClient) -> None:
    # Given an event sink that raises
    class Broken:
        def write(self, events: Any) -> None:
            raise OSError("disk full")

        def flush(self) -> None:
            return None

    client, _ = make_client("normal", version=1)
    recommender = _recommender(client, Broken())
    # When a request is served, Then it is answered in full
    assert recommender.recommend({"user_id": "u00010", "k": 5}).k_returned == 5


def test_an_event_whose_date_is_not_its_timestamps_date_is_refused() -> None:
    # Given a ranking event with event_date of another day, When it is built, Then it is refused
    with pytest.raises(ValidationError, match="is not the UTC date of timestamp_ms"):
        RankingEvent(
            event_date="2026-12-07",
            timestamp_ms=1_796_688_001_500,
            request_id="r1",
            service="recommender",
            environment="dev",
            region=None,
            cohort=None,
            client=None,
            bucket=1,
            config_version=1,
            shadow=False,
            coverage=100.0,
            k=10,
            k_returned=10,
            latency_ms=1.0,
            policy="hybrid",
        )
