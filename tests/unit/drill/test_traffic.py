"""The drill's traffic generator: the real recommender and toggle client, paced on a simulated clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from failsafe.client import FileSource, ToggleClient
from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.queries import QueryName, QueryValues
from failsafe.domain.toggles import Metadata, ToggleDocument
from failsafe.recommender.dataset import get_catalog
from failsafe.recommender.traffic import TrafficGenerator
from failsafe_tools.drill.scenarios import get_scenario
from failsafe_tools.evidence.duckdb_engine import DuckDbEvidence
from failsafe_tools.evidence.parquet import ParquetEventSink


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now


def write(path: Path, baseline: BaselineName, version: int) -> None:
    document = ToggleDocument(
        metadata=Metadata(version=version, environment="prod", author="test", reason="test"),
        toggles=BASELINES[baseline],
    )
    path.write_text(document.model_dump_json())


def generator(
    tmp_path: Path, clock: FakeClock, published: list[dict[str, Any]], **kwargs: Any
) -> TrafficGenerator:
    toggles = tmp_path / "toggles.json"
    write(toggles, BaselineName.NORMAL, 1)
    client = ToggleClient(FileSource(toggles), service="recommender", environment="prod", clock=clock.time)
    client.refresh()
    users = [
        {"user_id": u.user_id, "region": u.region, "cohort": u.cohort, "client": u.client}
        for u in get_catalog().users[:50]
    ]
    return TrafficGenerator(
        client=client,
        publish=published.append,
        clock_time=clock.time,
        service="recommender",
        environment="prod",
        users=users,
        rate=2.0,
        **kwargs,
    )


def latency_of(document: dict[str, Any]) -> float:
    value = document["LatencyMs"]
    return float(value[0] if isinstance(value, list) else value)


def test_every_request_publishes_one_emf_document_stamped_with_its_arrival(tmp_path: Path) -> None:
    # Given a generator on a clock at t
    clock = FakeClock()
    published: list[dict[str, Any]] = []
    traffic = generator(tmp_path, clock, published)

    # When two requests are served, one of them late for its slot 90 s earlier
    traffic.serve_one()
    traffic.serve_one(arrival=clock.now - 90)

    # Then each EMF document carries its arrival time and is counted in its own minute
    stamps = [doc["_aws"]["Timestamp"] for doc in published]
    assert stamps == [int(clock.now * 1000), int((clock.now - 90) * 1000)]
    minutes = traffic.snapshot()
    assert sum(s.requests for s in minutes.values()) == 2
    assert len(minutes) == 2
    assert traffic.sent == 2


def test_component_fault_hits_cf_requests_and_a_content_only_rollback_routes_around_it(
    tmp_path: Path,
) -> None:
    # Given the latency scenario injected on normal (hybrid) toggles
    clock = FakeClock()
    published: list[dict[str, Any]] = []
    traffic = generator(tmp_path, clock, published)
    scenario = get_scenario("latency")
    traffic.inject(scenario.chaos, scenario.affected_policies, scenario.signals, scenario.healthy_signals)

    # When requests are served before and after Stage 2 (content-only) is picked up by the client
    for _ in range(20):
        traffic.serve_one()
    before = [latency_of(d) for d in published]
    write(tmp_path / "toggles.json", BaselineName.DEGRADED, 2)
    clock.now += 20
    traffic._refresh(clock.now)
    published.clear()
    for _ in range(20):
        traffic.serve_one()
    after = [latency_of(d) for d in published]

    # Then the fault slowed hybrid requests only, and the version change was recorded with its instant
    assert min(before) >= 450
    assert max(after) < 450
    changes = traffic.changes()
    assert [(c.previous, c.version) for c in changes] == [(1, 2)]
    assert changes[0].at.timestamp() == clock.now


def test_signals_follow_the_component_and_stop_when_repaired(tmp_path: Path) -> None:
    # Given the cost scenario (CF costs 6x)
    clock = FakeClock()
    published: list[dict[str, Any]] = []
    traffic = generator(tmp_path, clock, published)
    scenario = get_scenario("cost")
    traffic.inject(scenario.chaos, scenario.affected_policies, scenario.signals, scenario.healthy_signals)

    # When a request is served, then the fault is repaired and another is served
    traffic.serve_one()
    faulty = [d["CostSpikeRatio"] for d in published if "CostSpikeRatio" in d]
    traffic.repair()
    published.clear()
    traffic.serve_one()
    repaired = [d["CostSpikeRatio"] for d in published if "CostSpikeRatio" in d]

    # Then the signal was over budget while faulty and is back to 100 % after the repair
    assert faulty == [600.0]
    assert repaired == [100.0]


def test_chaos_is_armed_with_the_prod_guard_and_expires(tmp_path: Path) -> None:
    # Given the errors scenario in a prod environment
    clock = FakeClock()
    traffic = generator(tmp_path, clock, [])
    scenario = get_scenario("errors")

    # When injected
    traffic.inject(scenario.chaos, scenario.affected_policies, scenario.signals, scenario.healthy_signals)

    # Then chaos is on with allow_prod, a reason and an expiry within the 4-hour limit
    config = traffic.chaos.config
    assert config.enabled
    assert config.allow_prod
    assert config.reason
    assert config.expires_at is not None
    assert 0 < config.expires_at.timestamp() - clock.now <= 4 * 3600


def test_the_requests_evidence_events_land_as_parquet_when_the_generator_stops(tmp_path: Path) -> None:
    # Given a generator with a Parquet event sink, on a clock at t
    clock = FakeClock()
    traffic = generator(tmp_path, clock, [], event_sink=ParquetEventSink(tmp_path / "events"))
    # When it serves 30 requests and stops
    for n in range(30):
        traffic.serve_one(arrival=clock.now + n)
    traffic.stop()
    # Then the coverage query over the local events counts all 30 at their arrival times
    queries = Path(__file__).resolve().parents[3] / "infra" / "queries"
    values = QueryValues(
        service="recommender",
        environment="prod",
        since=datetime.fromtimestamp(clock.now, tz=UTC),
        until=datetime.fromtimestamp(clock.now + 30, tz=UTC),
    )
    (row,) = DuckDbEvidence(tmp_path / "events", queries).run(QueryName.COVERAGE, values)
    assert row["requests"] == 30
    assert traffic.errors == []
