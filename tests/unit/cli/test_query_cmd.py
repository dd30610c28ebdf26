"""`failsafe query`: seed 000's queries over local Parquet events, by scope, window or incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from failsafe.domain.events import RankingEvent, event_date
from failsafe.reporting.report import IncidentReport
from failsafe.reporting.timeline import Timeline, TimelineEvent
from failsafe_tools.cli.app import build_app
from failsafe_tools.drill.runner import write_report
from failsafe_tools.evidence.parquet import ParquetEventSink

QUERIES = Path(__file__).resolve().parents[3] / "infra" / "queries"
T0 = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
ROLLBACK = T0 + timedelta(minutes=10)
INCIDENT = "inc-20261208T100000Z-abc"


def ranking(at: datetime, n: int, *, full: bool) -> RankingEvent:
    ms = int(at.timestamp() * 1000)
    return RankingEvent(
        event_date=event_date(ms),
        timestamp_ms=ms,
        request_id=f"r{n}",
        service="recommender",
        environment="prod",
        region="eu-west-1",
        cohort=None,
        client=None,
        bucket=n % 10,
        config_version=1 if at < ROLLBACK else 2,
        shadow=False,
        coverage=100.0 if full else 50.0,
        k=10,
        k_returned=10 if full else 5,
        latency_ms=20.0,
        policy="hybrid",
    )


@pytest.fixture
def events_dir(tmp_path: Path) -> Path:
    """Twenty minutes of events: before the rollback half the requests are short, after it none is."""
    sink = ParquetEventSink(tmp_path / "events")
    sink.write(
        [
            ranking(
                T0 + timedelta(seconds=6 * n), n, full=T0 + timedelta(seconds=6 * n) >= ROLLBACK or n % 2 == 1
            )
            for n in range(200)
        ]
    )
    sink.flush()
    return tmp_path / "events"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["query", *args])
    return result.exit_code, result.output


def test_coverage_over_a_window_prints_json_rows(events_dir: Path) -> None:
    # Given local events, When coverage is queried for the pre-rollback window as JSON
    code, out = run(
        "coverage",
        "--scope",
        "recommender/prod/region=eu-west-1",
        "--since",
        T0.isoformat(),
        "--until",
        ROLLBACK.isoformat(),
        "--events-dir",
        str(events_dir),
        "--queries-dir",
        str(QUERIES),
        "--json",
    )
    # Then it prints the query's one row: half the requests were underfilled
    assert code == 0, out
    (row,) = json.loads(out)
    assert (row["requests"], row["underfill_rate"], row["avg_coverage"]) == (100, 50.0, 75.0)


def test_efficacy_for_an_incident_uses_its_scope_and_rollback_instant(
    events_dir: Path, tmp_path: Path
) -> None:
    # Given a drill's saved report whose toggles were in force at ROLLBACK (after a baseline deployment)
    write_report(
        IncidentReport(
            incident_id=INCIDENT,
            scope="recommender/prod/region=eu-west-1",
            final_state="NORMAL",
            started_at=T0,
            ended_at=T0 + timedelta(minutes=20),
            timeline=Timeline(
                events=[
                    # the drill's baseline, deployed before the incident started: not the rollback
                    TimelineEvent(
                        at=T0 - timedelta(hours=1),
                        source="appconfig",
                        kind="deployment:complete",
                        title="base",
                    ),
                    TimelineEvent(at=ROLLBACK, source="appconfig", kind="deployment:complete", title="done"),
                ]
            ),
        ),
        tmp_path / "reports",
    )
    # When efficacy is queried for the incident
    code, out = run(
        "efficacy",
        "--incident",
        INCIDENT,
        "--drill-reports",
        str(tmp_path / "reports"),
        "--window",
        "10m",
        "--events-dir",
        str(events_dir),
        "--queries-dir",
        str(QUERIES),
        "--json",
    )
    # Then before and after the rollback are compared on the incident's scope
    assert code == 0, out
    pre, post = json.loads(out)
    assert (pre["period"], pre["requests"], pre["fill_rate"]) == ("pre_rollback", 100, 50.0)
    assert (post["period"], post["requests"], post["fill_rate"], post["error_rate"]) == (
        "post_rollback",
        100,
        100.0,
        0.0,
    )


def test_efficacy_without_a_rollback_instant_names_the_fix(events_dir: Path) -> None:
    # Given no --incident and no --at, When efficacy is queried, Then the error says what to give
    code, out = run(
        "efficacy",
        "--scope",
        "recommender/prod",
        "--events-dir",
        str(events_dir),
        "--queries-dir",
        str(QUERIES),
    )
    assert code == 2
    assert "--incident or --at" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["coverag", "--scope", "recommender/prod"], "choose one of coverage, latency, errors, efficacy"),
        (["coverage", "--scope", "recommender/prod/region=eu' OR '1'='1"], "--scope"),
        (["coverage", "--scope", "recommender/prod", "--since", "yesterday"], "--since yesterday"),
        (["coverage"], "give the scope to query"),
    ],
)
def test_bad_input_is_refused_with_one_line_naming_it(
    events_dir: Path, args: list[str], message: str
) -> None:
    # Given a bad query name, a hostile scope, an unreadable time or no scope, Then exit 2 naming the input
    code, out = run(*args, "--events-dir", str(events_dir), "--queries-dir", str(QUERIES))
    assert code == 2
    assert message in " ".join(out.split())


def test_stack_target_runs_the_file_on_athena_in_the_stacks_workgroup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a deployed stack (its outputs) whose Athena answers one row
    from tests.unit.evidence.test_athena_queries import FakeAthena

    from failsafe_tools import target as target_module
    from failsafe_tools.target import Target

    athena = FakeAthena(["SUCCEEDED"])
    stack = Target(
        kind="stack",
        description="stack failsafe (eu-west-1)",
        region="eu-west-1",
        outputs={"AthenaWorkGroupName": "failsafe-evidence", "EventsDatabaseName": "failsafe_events"},
        factory=lambda service: athena,
    )
    monkeypatch.setattr(target_module, "resolve", lambda **_: stack)
    # When coverage is queried with --stack
    code, out = run(
        "coverage", "--scope", "recommender/prod/region=eu-west-1", "--stack", "failsafe",
        "--queries-dir", str(QUERIES), "--json",
    )  # fmt: skip
    # Then the file's text ran in the stack's workgroup and database, the scope bound as a parameter
    assert code == 0, out
    assert json.loads(out) == [{"requests": "42", "avg_coverage": None}]
    (call,) = athena.started
    assert call["QueryString"] == (QUERIES / "coverage.sql").read_text()
    assert (call["WorkGroup"], call["QueryExecutionContext"]) == (
        "failsafe-evidence",
        {"Database": "failsafe_events"},
    )
    assert "'eu-west-1'" in call["ExecutionParameters"]
