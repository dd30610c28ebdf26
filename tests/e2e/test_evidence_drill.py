"""A drill leaves its evidence: the controller's metrics in the local CloudWatch, and the recommender's
events as Parquet on which seed 000's efficacy SQL (DuckDB) agrees with a direct computation."""

from __future__ import annotations

import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from failsafe.domain import metrics
from failsafe.domain.queries import QueryName, QueryValues
from failsafe.domain.scope import Scope
from failsafe_tools.drill import runner
from failsafe_tools.drill.runner import DEFAULT_SPEED, DrillOptions, run_drill
from failsafe_tools.drill.scenarios import DEFAULT_SCENARIO, get_scenario
from failsafe_tools.evidence.duckdb_engine import DuckDbEvidence

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
QUICK_RECOVERY = {
    "LogLevel": "WARNING",
    "VerifyWindowSeconds": "300",
    "RestoreDurationMinutes": "2",
    "RestoreBakeMinutes": "1",
}


def test_a_drill_records_controller_metrics_and_events_the_efficacy_sql_agrees_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built_package: tuple[Path, Path]
) -> None:
    # Given the default drill (the built package), writing its events under tmp_path
    seen: dict[str, Any] = {}
    finish = runner.finish

    def spy(drill: Any, *args: Any, **kwargs: Any) -> Any:
        listed = drill.stack.client("cloudwatch").list_metrics(Namespace=metrics.CONTROLLER_NAMESPACE)
        seen["metrics"] = {m["MetricName"] for m in listed["Metrics"]}
        return finish(drill, *args, **kwargs)

    monkeypatch.setattr(runner, "finish", spy)
    options = DrillOptions(
        scenario=get_scenario(DEFAULT_SCENARIO),
        speed=DEFAULT_SPEED,
        parameters=dict(QUICK_RECOVERY),
        template=built_package[0],
        lambda_python=built_package[1],
        report_dir=tmp_path / "reports",
        events_dir=tmp_path / "events",
    )
    # When it runs end to end
    result = run_drill(options)
    assert result.final_state == "NORMAL", result.scorecard.failures()
    # Then the controller's rollback metrics are in the local CloudWatch
    assert {
        metrics.ROLLBACK_DURATION,
        metrics.ROLLBACK_TARGET,
        metrics.ROLLBACK_SUCCEEDED,
        metrics.TIME_TO_MITIGATE,
        metrics.TIME_TO_CONVERGE,
        metrics.USER_IMPACT,
        metrics.RECOVERY_VERIFY_DURATION,
        metrics.RECOVERY_DURATION,
        metrics.INCIDENT_OPEN,
        metrics.CLIENTS_NOT_CONVERGED,
    } <= seen["metrics"]
    # And the efficacy SQL over the drill's events agrees with a direct computation over the same rows
    milestones = result.scorecard.milestones
    rollback_at, started, ended = milestones.deployed, milestones.fault, milestones.normal
    assert rollback_at is not None
    assert started is not None
    assert ended is not None
    scope = Scope.parse(result.report.scope or "")
    values = QueryValues(
        service=scope.service,
        environment=scope.environment,
        since=started,
        until=ended,
        rollback_at=rollback_at,
    )
    pre, post = DuckDbEvidence(tmp_path / "events", REPO / "infra" / "queries").run(
        QueryName.EFFICACY, values
    )
    rows = duckdb.sql(
        "SELECT timestamp_ms, coverage, latency_ms, k, k_returned FROM read_parquet(?) WHERE NOT shadow",
        params=[str(tmp_path / "events" / "ranking_events" / "*" / "*.parquet")],
    ).fetchall()
    for result_row, (lo, hi) in ((pre, (started, rollback_at)), (post, (rollback_at, ended))):
        window = [r for r in rows if _ms(lo) <= r[0] < _ms(hi)]
        assert result_row["requests"] == len(window) > 0
        assert result_row["avg_coverage"] == pytest.approx(statistics.fmean(r[1] for r in window))
        assert result_row["fill_rate"] == pytest.approx(
            100.0 * sum(r[4] >= r[3] for r in window) / len(window)
        )
        # approx_percentile is approximate in rank (t-digest), not in value: ~95 % of requests at or below
        at_or_below = sum(r[2] <= result_row["p95_latency_ms"] for r in window) / len(window)
        assert 0.93 <= at_or_below <= 0.97


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
