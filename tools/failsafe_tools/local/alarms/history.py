"""Alarm history and `DescribeAlarmHistory` (moto 5.2 has neither the operation nor the records).

Each moto CloudWatch backend keeps its alarms' history in `backend.failsafe_alarm_history` (so it lives and
dies with the backend, as the alarms do). Items follow AWS's documented shapes:

- `ConfigurationUpdate` when PutMetricAlarm / PutCompositeAlarm creates or updates an alarm
  (summary `Alarm "name" created` / `updated`);
- `StateUpdate` on every state change, from the evaluator or SetAlarmState (summary
  `Alarm updated from OK to ALARM`; HistoryData holds `oldState` and `newState` with their reasons);
- `Action` for each alarm action run (summary `Successfully executed action <arn>` or
  `Failed to execute action <arn>`).

Timestamps come from the local clock. `DescribeAlarmHistory` filters by AlarmName, AlarmTypes (only
MetricAlarm when absent, as AWS documents), HistoryItemType and [StartDate, EndDate], orders by ScanBy
(TimestampDescending by default), pages by MaxRecords (1..100, default 100) with a NextToken, and answers
an unknown NextToken with `InvalidNextToken`.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.core.exceptions import ServiceException

from failsafe_tools.local.alarms.common import epoch, naive_utc

HISTORY_ATTRIBUTE = "failsafe_alarm_history"
MAX_RECORDS = 100
_lock = threading.Lock()


class InvalidNextToken(ServiceException):
    code = "InvalidNextToken"


class InvalidParameterValue(ServiceException):
    code = "InvalidParameterValue"


@dataclass(frozen=True)
class HistoryItem:
    alarm_name: str
    alarm_type: str  # MetricAlarm | CompositeAlarm
    timestamp: float
    item_type: str  # ConfigurationUpdate | StateUpdate | Action
    summary: str
    data: dict[str, Any]

    def to_aws(self) -> dict[str, Any]:
        return {
            "AlarmName": self.alarm_name,
            "AlarmType": self.alarm_type,
            "Timestamp": naive_utc(self.timestamp),
            "HistoryItemType": self.item_type,
            "HistorySummary": self.summary,
            "HistoryData": json.dumps(self.data, separators=(",", ":")),
        }


def alarm_type(alarm: Any) -> str:
    return "CompositeAlarm" if alarm.rule is not None else "MetricAlarm"


def items(backend: Any) -> list[HistoryItem]:
    with _lock:
        if not hasattr(backend, HISTORY_ATTRIBUTE):
            setattr(backend, HISTORY_ATTRIBUTE, [])
        return list(getattr(backend, HISTORY_ATTRIBUTE))


def _append(backend: Any, item: HistoryItem) -> None:
    with _lock:
        if not hasattr(backend, HISTORY_ATTRIBUTE):
            setattr(backend, HISTORY_ATTRIBUTE, [])
        getattr(backend, HISTORY_ATTRIBUTE).append(item)


def record_configuration(backend: Any, alarm: Any, *, created: bool, now: float) -> None:
    kind = "created" if created else "updated"
    _append(
        backend,
        HistoryItem(
            alarm_name=alarm.name,
            alarm_type=alarm_type(alarm),
            timestamp=now,
            item_type="ConfigurationUpdate",
            summary=f'Alarm "{alarm.name}" {kind}',
            data={"version": "1.0", "type": "Create" if created else "Update", "alarmName": alarm.name},
        ),
    )


def record_state(backend: Any, alarm: Any, previous: tuple[str, str, str | None, float], now: float) -> None:
    old_state: dict[str, Any] = {"stateValue": previous[0], "stateReason": previous[1]}
    if previous[2]:
        old_state["stateReasonData"] = _json_or_text(previous[2])
    new_state: dict[str, Any] = {"stateValue": alarm.state_value, "stateReason": alarm.state_reason}
    if alarm.state_reason_data:
        new_state["stateReasonData"] = _json_or_text(alarm.state_reason_data)
    _append(
        backend,
        HistoryItem(
            alarm_name=alarm.name,
            alarm_type=alarm_type(alarm),
            timestamp=now,
            item_type="StateUpdate",
            summary=f"Alarm updated from {previous[0]} to {alarm.state_value}",
            data={"version": "1.0", "oldState": old_state, "newState": new_state},
        ),
    )


def record_action(backend: Any, alarm: Any, action_arn: str, *, ok: bool, detail: str, now: float) -> None:
    summary = f"{'Successfully executed' if ok else 'Failed to execute'} action {action_arn}"
    _append(
        backend,
        HistoryItem(
            alarm_name=alarm.name,
            alarm_type=alarm_type(alarm),
            timestamp=now,
            item_type="Action",
            summary=summary,
            data={
                "actionState": "Succeeded" if ok else "Failed",
                "notificationResource": action_arn,
                "stateUpdateTimestamp": int(epoch(alarm.state_updated_timestamp) * 1000),
                "error": None if ok else detail,
            },
        ),
    )


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"failsafe-history:{offset}".encode()).decode()


def _offset(token: str) -> int:
    try:
        prefix, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix != "failsafe-history":
            raise ValueError(prefix)
        return int(number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidNextToken(f"The NextToken {token!r} is invalid") from exc


def describe(
    backend: Any,
    *,
    alarm_name: str | None = None,
    alarm_types: list[str] | None = None,
    item_type: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    max_records: int | None = None,
    next_token: str | None = None,
    scan_by: str | None = None,
) -> dict[str, Any]:
    """The DescribeAlarmHistory answer for `backend` (see the module docstring)."""
    size = MAX_RECORDS if max_records is None else int(max_records)
    if not 1 <= size <= MAX_RECORDS:
        raise InvalidParameterValue(f"MaxRecords {size} must be between 1 and {MAX_RECORDS}")
    order = scan_by or "TimestampDescending"
    if order not in ("TimestampDescending", "TimestampAscending"):
        raise InvalidParameterValue(f"ScanBy {order!r} must be TimestampDescending or TimestampAscending")
    types = set(alarm_types or ["MetricAlarm"])
    low = epoch(start) if start is not None else None
    high = epoch(end) if end is not None else None
    selected = [
        item
        for item in items(backend)
        if (alarm_name is None or item.alarm_name == alarm_name)
        and item.alarm_type in types
        and (item_type is None or item.item_type == item_type)
        and (low is None or item.timestamp >= low)
        and (high is None or item.timestamp <= high)
    ]
    # stable: items recorded at the same instant keep the order they happened in
    selected.sort(key=lambda item: item.timestamp, reverse=order == "TimestampDescending")
    if order == "TimestampDescending":
        # equal timestamps: the later-recorded item first, as it happened later
        selected = _reverse_ties(selected)
    offset = _offset(next_token) if next_token else 0
    if offset > len(selected):
        raise InvalidNextToken(f"The NextToken {next_token!r} is invalid")
    page = selected[offset : offset + size]
    answer: dict[str, Any] = {"AlarmHistoryItems": [item.to_aws() for item in page]}
    if offset + size < len(selected):
        answer["NextToken"] = _token(offset + size)
    return answer


def _reverse_ties(ordered: list[HistoryItem]) -> list[HistoryItem]:
    out: list[HistoryItem] = []
    run: list[HistoryItem] = []
    for item in ordered:
        if run and run[-1].timestamp != item.timestamp:
            out.extend(reversed(run))
            run = []
        run.append(item)
    out.extend(reversed(run))
    return out


def describe_alarm_history(self: Any) -> Any:
    """CloudWatchResponse.describe_alarm_history (installed by `moto_hooks.install()`)."""
    from moto.core.responses import ActionResult

    return ActionResult(
        describe(
            self.cloudwatch_backend,
            alarm_name=self._get_param("AlarmName"),
            alarm_types=self._get_param("AlarmTypes"),
            item_type=self._get_param("HistoryItemType"),
            start=self._get_param("StartDate"),
            end=self._get_param("EndDate"),
            max_records=self._get_param("MaxRecords"),
            next_token=self._get_param("NextToken"),
            scan_by=self._get_param("ScanBy"),
        )
    )
