"""One rollback-efficacy computation for the IncidentReport Lambda, `failsafe report` and the drill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from failsafe.domain import metrics
from failsafe.reporting.efficacy import LOOKBACK, before_after

ROLLBACK = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
END = ROLLBACK + timedelta(minutes=10)


def test_before_and_after_read_each_figure_over_its_window() -> None:
    # Given a reader that records what it was asked and answers by window
    asked: list[tuple[str, str, datetime, datetime]] = []

    def stat(metric: str, statistic: str, start: datetime, end: datetime) -> float | None:
        asked.append((metric, statistic, start, end))
        return 1.0 if end <= ROLLBACK else 2.0

    # When the efficacy of a rollback is computed with the default look-back
    result = before_after(stat, ROLLBACK, END)

    # Then every figure is read before (from LOOKBACK earlier) and after the rollback, with its statistic
    assert result["pre_rollback"].coverage == 1.0
    assert result["post_rollback"].p95_latency_ms == 2.0
    assert (metrics.LATENCY_MS, "p95", ROLLBACK - LOOKBACK, ROLLBACK) in asked
    assert (metrics.REQUESTS, "Sum", ROLLBACK, END) in asked
    assert {(m, s) for m, s, _, _ in asked} == {
        (metrics.COVERAGE, "Average"),
        (metrics.LATENCY_MS, "p95"),
        (metrics.FILL_RATE, "Average"),
        (metrics.REQUESTS, "Sum"),
    }


def test_a_known_incident_start_bounds_the_before_window() -> None:
    # Given the incident's start (a drill's injected fault)
    fault = ROLLBACK - timedelta(minutes=3)
    starts: list[datetime] = []

    def stat(metric: str, statistic: str, start: datetime, end: datetime) -> float | None:
        starts.append(start)
        return None

    # When the efficacy is computed from it / Then the before window starts there, and no data reads as None
    result = before_after(stat, ROLLBACK, END, before_start=fault)
    assert min(starts) == fault
    assert result["pre_rollback"].coverage is None
