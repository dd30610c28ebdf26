"""infra/queries/*.sql: one Athena source per query, parsed by both dialects, run on DuckDB with bound
values, agreeing with a direct computation over the same events."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from failsafe.domain.events import ErrorEvent, Event, RankingEvent, event_date
from failsafe.domain.queries import QueryName, QueryParameterError, QueryValues, bind, parameter_names
from failsafe_tools.evidence.duckdb_engine import DuckDbEvidence, load_query, to_duckdb
from failsafe_tools.evidence.parquet import ParquetEventSink

QUERIES = Path(__file__).resolve().parents[3] / "infra" / "queries"
T0 = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
ROLLBACK = T0 + timedelta(minutes=10)
HOSTILE = "eu-west-1' OR '1'='1"


def _ranking(at: datetime, n: int, **fields: object) -> RankingEvent:
    ms = int(at.timestamp() * 1000)
    base: dict[str, object] = {
        "event_date": event_date(ms),
        "timestamp_ms": ms,
        "request_id": f"r{n}",
        "service": "recommender",
        "environment": "prod",
        "region": "eu-west-1",
        "cohort": "power",
        "client": "web",
        "bucket": n % 3,
        "config_version": 1,
        "shadow": False,
        "coverage": 100.0,
        "k": 10,
        "k_returned": 10,
        "latency_ms": 20.0,
        "policy": "hybrid",
    }
    return RankingEvent.model_validate(base | fields)


def _error(of: RankingEvent, component: str = "collaborative_filtering") -> ErrorEvent:
    data = of.model_dump(include=set(ErrorEvent.model_fields) - {"kind"})
    return ErrorEvent.model_validate(
        data | {"component": component, "severity": "error", "error_type": "ComponentUnavailableError"}
    )


def incident_events() -> list[Event]:
    """Ten minutes of a CF outage (half the requests short and slow, a quarter failing), then ten minutes
    healthy after the rollback; plus shadow traffic and another region that the queries must ignore."""
    events: list[Event] = []
    for n in range(400):
        at = T0 + timedelta(seconds=3 * n)
        if at < ROLLBACK:
            bad = n % 2 == 0
            event = _ranking(
                at,
                n,
                k_returned=6 if bad else 10,
                coverage=60.0 if bad else 100.0,
                latency_ms=300.0 + n if bad else 20.0 + n % 7,
            )
            events.append(event)
            if n % 4 == 0:
                events.append(_error(event))
        else:
            events.append(_ranking(at, n, latency_ms=15.0 + n % 5, config_version=2))
        events.append(_ranking(at, 10_000 + n, shadow=True, coverage=0.0, k_returned=0, latency_ms=9999.0))
        events.append(_ranking(at, 20_000 + n, region="us-east-1", coverage=10.0, k_returned=1))
    return events


@pytest.fixture
def evidence(tmp_path: Path) -> DuckDbEvidence:
    sink = ParquetEventSink(tmp_path / "events", flush_every=500)
    sink.write(incident_events())
    sink.flush()
    return DuckDbEvidence(tmp_path / "events", QUERIES)


def values(**overrides: object) -> QueryValues:
    base: dict[str, object] = {
        "service": "recommender",
        "environment": "prod",
        "region": "eu-west-1",
        "since": T0,
        "until": T0 + timedelta(minutes=20),
        "rollback_at": ROLLBACK,
    }
    return QueryValues.model_validate(base | overrides)


def _in_scope(events: list[Event], start: datetime, end: datetime) -> list[RankingEvent]:
    lo, hi = start.timestamp() * 1000, end.timestamp() * 1000
    return [
        e
        for e in events
        if isinstance(e, RankingEvent)
        and not e.shadow
        and e.region == "eu-west-1"
        and lo <= e.timestamp_ms < hi
    ]


@pytest.mark.parametrize("name", list(QueryName))
def test_every_query_parses_in_athena_and_trino_and_transpiles_to_duckdb(name: QueryName) -> None:
    # Given the query file
    sql = load_query(name, QUERIES)
    # When it is parsed as Athena and Trino, and transpiled to DuckDB
    trees = [sqlglot.parse_one(sql, read=dialect) for dialect in ("athena", "trino")]
    duck = sqlglot.parse_one(to_duckdb(sql), read="duckdb")
    # Then every form has exactly as many placeholders as the header declares parameters
    declared = len(parameter_names(sql))
    assert declared > 0
    for tree in [*trees, duck]:
        assert len(list(tree.find_all(exp.Placeholder))) == declared
    # And no form holds a string-formatting slot (the seed's '{rollback_time}')
    assert "{" not in to_duckdb(sql)


def test_there_is_one_file_per_query_and_nothing_else() -> None:
    # Given infra/queries, Then it holds exactly the four queries
    assert sorted(p.stem for p in QUERIES.glob("*.sql")) == sorted(q.value for q in QueryName)


def test_coverage_agrees_with_a_direct_computation(evidence: DuckDbEvidence) -> None:
    # Given the incident's events, When the coverage query runs over the pre-rollback window
    (result,) = evidence.run(QueryName.COVERAGE, values(until=ROLLBACK))
    # Then it matches the direct computation (shadow traffic and the other region excluded)
    rows = _in_scope(incident_events(), T0, ROLLBACK)
    assert result["requests"] == len(rows) == 200
    assert result["avg_coverage"] == pytest.approx(statistics.fmean(e.coverage for e in rows))
    underfill = 100.0 * sum(e.k_returned < e.k for e in rows) / len(rows)
    assert result["underfill_rate"] == pytest.approx(underfill) == pytest.approx(50.0)


def test_latency_is_p95_by_bucket_and_cohort(evidence: DuckDbEvidence) -> None:
    # Given the incident's events, When the latency query runs over the whole window
    result = evidence.run(QueryName.LATENCY, values())
    # Then there is one row per (bucket, cohort), each with its request count and a p95 near the exact one
    rows = _in_scope(incident_events(), T0, T0 + timedelta(minutes=20))
    assert [(r["bucket"], r["cohort"]) for r in result] == [(0, "power"), (1, "power"), (2, "power")]
    for r in result:
        group = sorted(e.latency_ms for e in rows if e.bucket == r["bucket"])
        assert r["requests"] == len(group)
        exact = statistics.quantiles(group, n=100, method="inclusive")[94]
        assert r["p95_latency_ms"] == pytest.approx(exact, rel=0.05)


def test_errors_are_per_1k_requests_by_component_and_severity(evidence: DuckDbEvidence) -> None:
    # Given the incident's events, When the errors query runs over the pre-rollback window
    (result,) = evidence.run(QueryName.ERRORS, values(until=ROLLBACK))
    # Then 50 errors over 200 requests are 250 per 1 000 requests
    assert (result["component"], result["severity"]) == ("collaborative_filtering", "error")
    assert (result["errors"], result["requests"]) == (50, 200)
    assert result["errors_per_1k"] == pytest.approx(250.0)


def test_efficacy_compares_before_and_after_the_rollback(evidence: DuckDbEvidence) -> None:
    # Given the incident's events, When the efficacy query runs around the rollback instant
    pre, post = evidence.run(QueryName.EFFICACY, values())
    # Then each period matches the direct computation
    everything = incident_events()
    for result, (start, end) in ((pre, (T0, ROLLBACK)), (post, (ROLLBACK, T0 + timedelta(minutes=20)))):
        rows = _in_scope(everything, start, end)
        errors = [
            e
            for e in everything
            if isinstance(e, ErrorEvent)
            and e.region == "eu-west-1"
            and start.timestamp() * 1000 <= e.timestamp_ms < end.timestamp() * 1000
        ]
        assert result["requests"] == len(rows)
        assert result["avg_coverage"] == pytest.approx(statistics.fmean(e.coverage for e in rows))
        assert result["fill_rate"] == pytest.approx(
            100.0 * sum(e.k_returned >= e.k for e in rows) / len(rows)
        )
        assert result["error_rate"] == pytest.approx(100.0 * len(errors) / len(rows))
        exact = statistics.quantiles([e.latency_ms for e in rows], n=100, method="inclusive")[94]
        assert result["p95_latency_ms"] == pytest.approx(exact, rel=0.05)
    # And the rollback cured it
    assert (pre["period"], post["period"]) == ("pre_rollback", "post_rollback")
    assert (pre["fill_rate"], post["fill_rate"], post["error_rate"]) == (50.0, 100.0, 0.0)


@pytest.mark.parametrize("name", list(QueryName))
@pytest.mark.parametrize("field", ["region", "cohort", "client", "service"])
def test_a_hostile_value_is_bound_never_spliced(
    evidence: DuckDbEvidence, name: QueryName, field: str
) -> None:
    # Given a scope value built to break out of a string literal
    sql = load_query(name, QUERIES)
    # When it is passed through the query
    rows = evidence.run(name, values(**{field: HOSTILE}))
    # Then the SQL text DuckDB ran is the transpiled file, unchanged
    assert evidence.executed == [to_duckdb(sql)]
    assert HOSTILE not in evidence.executed[0]
    # And the value was compared as data: nothing matches it
    assert all(row.get("requests", 0) in (0, None) for row in rows)
    assert HOSTILE in bind(sql, values(**{field: HOSTILE}))


def test_efficacy_without_a_rollback_instant_says_what_to_give() -> None:
    # Given no rollback instant, When the efficacy query is bound, Then the error names the fix
    sql = load_query(QueryName.EFFICACY, QUERIES)
    with pytest.raises(QueryParameterError, match=r"rollback_ms \(give the rollback instant"):
        bind(sql, values(rollback_at=None))


def test_a_naive_or_inverted_window_is_refused() -> None:
    # Given a window without a timezone or ending before it starts, Then it is refused with the reason
    with pytest.raises(ValueError, match="give a timezone"):
        values(since=datetime(2026, 12, 8, 10, 0))
    with pytest.raises(ValueError, match="must be after since"):
        values(until=T0)


def test_an_empty_event_directory_answers_zero_requests(tmp_path: Path) -> None:
    # Given no events at all, When the coverage query runs, Then it says 0 requests instead of failing
    (result,) = DuckDbEvidence(tmp_path / "nothing", QUERIES).run(QueryName.COVERAGE, values())
    assert result["requests"] == 0
    assert result["avg_coverage"] is None
