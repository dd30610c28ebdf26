"""Seed 000's rollback efficacy: coverage, p95 latency, fill rate and requests before and after the rollback.

One computation for every report (the IncidentReport Lambda, `failsafe report`, the drill): which figures,
with which statistic, over which windows. Where the numbers come from is the caller's `StatReader`: the
CloudWatch API (`failsafe.aws.reports.EfficacyReader.stat_reader`) or, in a drill, the local CloudWatch's
own series.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from failsafe.domain import metrics

# (metric, statistic, start, end) -> the statistic over the window, None when there is no data.
StatReader = Callable[[str, str, datetime, datetime], float | None]

# How far before the rollback the "before" window starts when nothing earlier marks the incident's start.
LOOKBACK = timedelta(minutes=30)


class Efficacy(BaseModel):
    """The same figures for one window (before or after the rollback)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coverage: float | None = None
    p95_latency_ms: float | None = None
    fill_rate: float | None = None
    requests: float | None = None


def window(stat: StatReader, start: datetime, end: datetime) -> Efficacy:
    return Efficacy(
        coverage=stat(metrics.COVERAGE, "Average", start, end),
        p95_latency_ms=stat(metrics.LATENCY_MS, "p95", start, end),
        fill_rate=stat(metrics.FILL_RATE, "Average", start, end),
        requests=stat(metrics.REQUESTS, "Sum", start, end),
    )


def before_after(
    stat: StatReader, rollback_at: datetime, end: datetime, *, before_start: datetime | None = None
) -> dict[str, Efficacy]:
    """`pre_rollback` from `before_start` (default: `LOOKBACK` before the rollback) to the rollback, and
    `post_rollback` from the rollback to `end`."""
    return {
        "pre_rollback": window(stat, before_start or rollback_at - LOOKBACK, rollback_at),
        "post_rollback": window(stat, rollback_at, end),
    }
