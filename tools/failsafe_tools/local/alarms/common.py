"""Constants, the error type and the time and number formats shared by the local CloudWatch."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
STATIC_OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
ANOMALY_OPERATORS = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
TREAT_MISSING = ("missing", "ignore", "breaching", "notBreaching")
EXTRA_RANGE_PERIODS = 2
PERCENTILE = re.compile(r"^p(\d{1,3}(?:\.\d{1,10})?)$")
INITIAL_REASON = "Unchecked: Initial alarm creation"


class UnsupportedAlarmError(ValueError):
    """An alarm uses a CloudWatch feature the local evaluator does not implement."""


# --------------------------------------------------------------------------------------------------------
# time helpers


def naive_utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC).replace(tzinfo=None)


def epoch(value: datetime) -> float:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.timestamp()


def ms_stamp(epoch: float) -> str:
    """AWS's alarm timestamp format: 2019-10-02T17:04:40.989+0000."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def event_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reason_stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%d/%m/%y %H:%M:%S")


def compact(data: dict[str, Any]) -> str:
    """reasonData is compact JSON in AWS's events."""
    return json.dumps(data, separators=(",", ":"))


def fmt(value: float) -> str:
    return repr(float(value))
