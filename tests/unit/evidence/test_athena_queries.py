"""`AthenaQueryRunner`: the SQL file goes to Athena unchanged, every value as one execution parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from failsafe.aws.athena_queries import AthenaQueryError, AthenaQueryRunner, athena_literal
from failsafe.domain.queries import QueryName, QueryValues, bind
from failsafe_tools.evidence.duckdb_engine import load_query

QUERIES = Path(__file__).resolve().parents[3] / "infra" / "queries"
HOSTILE = "eu-west-1' OR '1'='1"


class FakeAthena:
    """Answers StartQueryExecution, reports `states` in turn, then one page of results."""

    def __init__(self, states: list[str], reason: str = "") -> None:
        self.states = states
        self.reason = reason
        self.started: list[dict[str, Any]] = []
        self.stopped: list[str] = []

    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"QueryExecution": {"Status": {"State": state, "StateChangeReason": self.reason}}}

    def stop_query_execution(self, QueryExecutionId: str) -> None:
        self.stopped.append(QueryExecutionId)

    def get_paginator(self, name: str) -> Any:
        assert name == "get_query_results"

        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                header = {"Data": [{"VarCharValue": "requests"}, {"VarCharValue": "avg_coverage"}]}
                row = {"Data": [{"VarCharValue": "42"}, {}]}
                meta = {"ColumnInfo": [{"Name": "requests"}, {"Name": "avg_coverage"}]}
                return [{"ResultSet": {"Rows": [header, row], "ResultSetMetadata": meta}}]

        return Pages()


def values(**overrides: object) -> QueryValues:
    t0 = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
    base: dict[str, object] = {
        "service": "recommender",
        "environment": "prod",
        "since": t0,
        "until": t0 + timedelta(minutes=20),
        "rollback_at": t0 + timedelta(minutes=10),
    }
    return QueryValues.model_validate(base | overrides)


@pytest.mark.parametrize("name", list(QueryName))
def test_a_hostile_scope_goes_as_one_quoted_parameter_and_the_sql_is_unchanged(name: QueryName) -> None:
    # Given a query with a hostile region value
    sql = load_query(name, QUERIES)
    athena = FakeAthena(["RUNNING", "SUCCEEDED"])
    runner = AthenaQueryRunner(athena, workgroup="wg", database="db", sleep=lambda _s: None)  # type: ignore[arg-type]
    # When it runs on Athena
    runner.run(sql, bind(sql, values(region=HOSTILE)))
    # Then the query string is the file's text, and the value is one literal with its quotes doubled
    (call,) = athena.started
    assert call["QueryString"] == sql
    assert (call["WorkGroup"], call["QueryExecutionContext"]) == ("wg", {"Database": "db"})
    assert "'eu-west-1'' OR ''1''=''1'" in call["ExecutionParameters"]
    assert len(call["ExecutionParameters"]) == sql.count("?")


def test_rows_come_back_as_dicts_without_the_header_row() -> None:
    # Given a query that succeeds, When it runs, Then its rows are dicts (NULL as None)
    runner = AthenaQueryRunner(FakeAthena(["SUCCEEDED"]), workgroup="wg", database="db")  # type: ignore[arg-type]
    assert runner.run("SELECT 1", []) == [{"requests": "42", "avg_coverage": None}]


def test_a_failed_query_raises_with_athenas_reason() -> None:
    # Given Athena fails the query, Then the error names the query, the workgroup and the reason
    runner = AthenaQueryRunner(
        FakeAthena(["FAILED"], reason="TABLE_NOT_FOUND"),
        workgroup="wg",
        database="db",  # type: ignore[arg-type]
    )
    with pytest.raises(AthenaQueryError, match=r"q-1 in workgroup 'wg' FAILED: TABLE_NOT_FOUND"):
        runner.run("SELECT 1", [])


def test_a_query_past_the_timeout_is_stopped() -> None:
    # Given a query that never finishes and a 3 s timeout on a fake sleep
    athena = FakeAthena(["RUNNING"])
    runner = AthenaQueryRunner(
        athena,
        workgroup="wg",
        database="db",
        poll_seconds=1,
        timeout_seconds=3,
        sleep=lambda _s: None,  # type: ignore[arg-type]
    )
    # When it runs, Then it is stopped and the error says how to narrow it
    with pytest.raises(AthenaQueryError, match="narrow the window"):
        runner.run("SELECT 1", [])
    assert athena.stopped == ["q-1"]


def test_literals() -> None:
    # Given strings and integers, Then strings are quoted with quotes doubled, integers are digits
    assert athena_literal("o'brien") == "'o''brien'"
    assert athena_literal(1_796_688_000_000) == "1796688000000"
    with pytest.raises(TypeError):
        athena_literal(True)
