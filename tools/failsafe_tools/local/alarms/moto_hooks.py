"""`install()`: hook moto's CloudWatch (INSUFFICIENT_DATA start, clock-stamped data, SetAlarmState events,
GetMetricStatistics with exact dimensions and percentiles, PutCompositeAlarm)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

from failsafe_tools.local import eventbridge
from failsafe_tools.local.alarms import history
from failsafe_tools.local.alarms.common import (
    INITIAL_REASON,
    INSUFFICIENT_DATA,
    UnsupportedAlarmError,
    epoch,
    naive_utc,
)
from failsafe_tools.local.alarms.evaluation import check_supported
from failsafe_tools.local.alarms.evaluator import get_evaluator
from failsafe_tools.local.alarms.internals import assert_moto_internals
from failsafe_tools.local.alarms.metrics import MetricSpec, check_statistic, dims, series
from failsafe_tools.local.alarms.rules import parse_alarm_rule
from failsafe_tools.local.clock import get_clock
from failsafe_tools.local.eventbridge import MotoInternalsChanged

# --------------------------------------------------------------------------------------------------------
# install: hook moto's CloudWatch backend

_installed: dict[str, Any] = {}
_install_lock = threading.RLock()


def _put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
    from moto.cloudwatch.exceptions import ValidationError

    name = kwargs.get("name", args[0] if args else None)
    existing = self.alarms.get(name)
    alarm = _installed["put_metric_alarm"](self, *args, **kwargs)
    try:
        check_supported(alarm)
    except UnsupportedAlarmError as exc:
        if existing is not None:
            self.alarms[name] = existing
        else:
            self.alarms.pop(name, None)
        raise ValidationError(f"failsafe local CloudWatch: {exc}") from exc
    now = get_clock().time()
    alarm.configuration_updated_timestamp = naive_utc(now)
    history.record_configuration(self, alarm, created=existing is None, now=now)
    if existing is not None:
        alarm.state_transitioned_timestamp = getattr(
            existing, "state_transitioned_timestamp", existing.state_updated_timestamp
        )
        alarm.state_value = existing.state_value
        alarm.state_reason = existing.state_reason
        alarm.state_reason_data = existing.state_reason_data
        alarm.state_updated_timestamp = existing.state_updated_timestamp
        alarm.history = existing.history
    else:
        alarm.state_value = INSUFFICIENT_DATA
        alarm.state_reason = INITIAL_REASON
        alarm.state_reason_data = None
        alarm.state_updated_timestamp = naive_utc(now)
        alarm.state_transitioned_timestamp = naive_utc(now)
    return alarm


def _put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
    stamp = naive_utc(get_clock().time())
    stamped = [
        member if member.get("Timestamp") else {**member, "Timestamp": stamp} for member in metric_data
    ]
    _installed["put_metric_data"](self, namespace, stamped)


def _set_alarm_state(self: Any, alarm_name: str, reason: str, reason_data: str, state_value: str) -> None:
    alarm = self.alarms.get(alarm_name)
    previous = None
    if alarm is not None:
        previous = (
            str(alarm.state_value),
            str(alarm.state_reason),
            alarm.state_reason_data,
            epoch(alarm.state_updated_timestamp),
        )
    _installed["set_alarm_state"](self, alarm_name, reason, reason_data, state_value)
    if alarm is None or previous is None:
        return
    now = get_clock().time()
    alarm.state_updated_timestamp = naive_utc(now)
    if previous[0] == alarm.state_value:
        return
    evaluator = get_evaluator()
    evaluator._announce(self, alarm, previous, now)
    evaluator._evaluate_composites(self, now)


def _get_metric_statistics(self: Any) -> Any:
    """GetMetricStatistics as AWS answers it: exact dimension match (moto matches supersets, so a query on
    [Service, Environment] also counted the per-region copies), Statistics and ExtendedStatistics (pNN,
    which moto ignores), one datapoint per period that has data."""
    from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
    from moto.core.responses import ActionResult

    namespace = self._get_param("Namespace")
    metric_name = self._get_param("MetricName")
    start, end = epoch(self._get_param("StartTime")), epoch(self._get_param("EndTime"))
    period = self._get_int_param("Period")
    statistics = list(self._get_param("Statistics", []))
    extended = list(self._get_param("ExtendedStatistics", []))
    if not statistics and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    for stat in extended:
        check_statistic(stat)
    dimensions = dims(self._get_param("Dimensions", []))
    unit = self._get_param("Unit")
    starts = [start + i * period for i in range(math.ceil((end - start) / period))]
    datapoints: list[dict[str, Any]] = []
    series_by_stat = {
        stat: series(
            self.cloudwatch_backend,
            MetricSpec(namespace, metric_name, dimensions, stat, period, unit),
            starts,
        )
        for stat in [*statistics, *extended]
    }
    for index, window in enumerate(starts):
        points = {stat: values[index] for stat, values in series_by_stat.items()}
        if all(point.value is None for point in points.values()):
            continue
        datapoint: dict[str, Any] = {"Timestamp": naive_utc(window), "Unit": unit or "None"}
        for stat in statistics:
            datapoint[stat] = points[stat].value
        if extended:
            datapoint["ExtendedStatistics"] = {stat: points[stat].value for stat in extended}
        datapoints.append(datapoint)
    return ActionResult({"Label": metric_name, "Datapoints": datapoints})


def _put_composite_alarm(self: Any) -> Any:
    """moto 5.2.5 lacks PutCompositeAlarm; its put_metric_alarm handler already reads AlarmRule."""
    from moto.cloudwatch.exceptions import ValidationError

    rule = self._get_param("AlarmRule")
    if not rule:
        raise ValidationError("AlarmRule is required")
    try:
        parse_alarm_rule(rule)
    except UnsupportedAlarmError as exc:
        raise ValidationError(f"failsafe local CloudWatch: {exc}") from exc
    result = self.put_metric_alarm()
    backend = self.cloudwatch_backend
    get_evaluator()._evaluate_composites(backend, get_clock().time())
    return result


def _require(owner: Any, attribute: str, what: str) -> Any:
    value = getattr(owner, attribute, None)
    if value is None:
        import moto

        raise MotoInternalsChanged(
            f"moto {moto.__version__}: {owner.__module__}.{owner.__name__}.{attribute} is missing; "
            f"failsafe_tools.local.alarms hooks it to {what}. The local stack supports moto >=5.2.5,<5.3."
        )
    return value


def install() -> None:
    """Hook moto's CloudWatch (and, through `eventbridge.install`, EventBridge). Idempotent."""
    from moto.cloudwatch import models, responses

    eventbridge.install()
    with _install_lock:
        if _installed:
            return
        assert_moto_internals(_installed)
        backend = models.CloudWatchBackend
        _installed["set_alarm_state"] = backend.set_alarm_state
        _installed["put_metric_alarm"] = backend.put_metric_alarm
        _installed["put_metric_data"] = backend.put_metric_data
        _installed["put_composite_alarm"] = getattr(responses.CloudWatchResponse, "put_composite_alarm", None)
        _installed["get_metric_statistics"] = responses.CloudWatchResponse.get_metric_statistics
        responses.CloudWatchResponse.get_metric_statistics = _get_metric_statistics  # type: ignore[method-assign]
        backend.set_alarm_state = _set_alarm_state  # type: ignore[method-assign]
        backend.put_metric_alarm = _put_metric_alarm  # type: ignore[method-assign]
        backend.put_metric_data = _put_metric_data  # type: ignore[method-assign]
        if _installed["put_composite_alarm"] is None:
            responses.CloudWatchResponse.put_composite_alarm = _put_composite_alarm  # type: ignore[attr-defined]
        _installed["describe_alarm_history"] = getattr(
            responses.CloudWatchResponse, "describe_alarm_history", None
        )
        responses.CloudWatchResponse.describe_alarm_history = history.describe_alarm_history  # type: ignore[attr-defined]


def uninstall() -> None:
    """Restore moto's originals (tests of `install()` itself)."""
    from moto.cloudwatch import models, responses

    with _install_lock:
        if not _installed:
            eventbridge.uninstall()
            return
        backend = models.CloudWatchBackend
        backend.set_alarm_state = _installed["set_alarm_state"]  # type: ignore[method-assign]
        backend.put_metric_alarm = _installed["put_metric_alarm"]  # type: ignore[method-assign]
        backend.put_metric_data = _installed["put_metric_data"]  # type: ignore[method-assign]
        responses.CloudWatchResponse.get_metric_statistics = _installed["get_metric_statistics"]  # type: ignore[method-assign]
        if _installed["put_composite_alarm"] is None:
            delattr(responses.CloudWatchResponse, "put_composite_alarm")
        if _installed["describe_alarm_history"] is None:
            delattr(responses.CloudWatchResponse, "describe_alarm_history")
        else:
            responses.CloudWatchResponse.describe_alarm_history = _installed["describe_alarm_history"]  # type: ignore[attr-defined]
        _installed.clear()
    eventbridge.uninstall()


def installed() -> bool:
    return bool(_installed)


def iter_alarms() -> Iterator[tuple[str, str, Any]]:
    """(account, region, moto Alarm) for every alarm in every backend."""
    from moto.cloudwatch.models import cloudwatch_backends

    for account_id, regions in list(cloudwatch_backends.items()):
        for region, backend in list(regions.items()):
            for alarm in list(backend.alarms.values()):
                yield account_id, region, alarm
