"""`assert_moto_internals()`: fail loudly when a moto CloudWatch internal the hooks rely on has changed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from failsafe_tools.local.eventbridge import MotoInternalsChanged


def _require(owner: Any, attribute: str, what: str) -> Any:
    value = getattr(owner, attribute, None)
    if value is None:
        import moto

        raise MotoInternalsChanged(
            f"moto {moto.__version__}: {owner.__module__}.{owner.__name__}.{attribute} is missing; "
            f"failsafe_tools.local.alarms hooks it to {what}. The local stack supports moto >=5.2.5,<5.3."
        )
    return value


def assert_moto_internals(originals: Mapping[str, Any] | None = None) -> None:
    """Fail loudly if any moto CloudWatch internal the hooks rely on has changed.

    `originals`: moto's functions that `moto_hooks.install()` replaced, checked instead of the hooks."""
    installed = dict(originals or {})
    import inspect

    from moto.cloudwatch import models, responses

    def params(function: Callable[..., Any]) -> list[str]:
        return list(inspect.signature(function).parameters)

    checks: list[tuple[Any, str, str, list[str]]] = [
        (
            models.CloudWatchBackend,
            "set_alarm_state",
            "emit events on SetAlarmState",
            ["self", "alarm_name", "reason", "reason_data", "state_value"],
        ),
        (models.CloudWatchBackend, "put_metric_alarm", "start alarms in INSUFFICIENT_DATA", ["self", "name"]),
        (
            models.CloudWatchBackend,
            "put_metric_data",
            "stamp datapoints from the local clock",
            ["self", "namespace", "metric_data"],
        ),
        (models.CloudWatchBackend, "get_all_metrics", "read stored datapoints", ["self"]),
        (
            responses.CloudWatchResponse,
            "get_metric_statistics",
            "answer GetMetricStatistics with exact dimensions and percentiles",
            ["self"],
        ),
        (
            models.Alarm,
            "update_state",
            "store state changes",
            ["self", "reason", "reason_data", "state_value"],
        ),
        (responses.CloudWatchResponse, "put_metric_alarm", "serve PutCompositeAlarm", ["self"]),
    ]
    for owner, attribute, what, expected in checks:
        function = (
            installed.get(attribute) if attribute in installed and owner is models.CloudWatchBackend else None
        )
        function = function or _require(owner, attribute, what)
        got = params(function)
        if got[: len(expected)] != expected:
            raise MotoInternalsChanged(
                f"moto {owner.__name__}.{attribute} signature changed: {got}, expected {expected}"
            )
    alarm_params = params(models.Alarm.__init__)
    for name in (
        "metric_data_queries",
        "comparison_operator",
        "evaluation_periods",
        "datapoints_to_alarm",
        "period",
        "threshold",
        "statistic",
        "extended_statistic",
        "dimensions",
        "treat_missing_data",
        "evaluate_low_sample_count_percentile",
        "threshold_metric_id",
        "rule",
        "unit",
        "actions_enabled",
    ):
        if name not in alarm_params:
            raise MotoInternalsChanged(f"moto Alarm.__init__ lost parameter {name!r}: {alarm_params}")
    source = inspect.getsource(models.Alarm.__init__)
    for attribute in (
        "self.state_value",
        "self.state_reason_data",
        "self.state_updated_timestamp",
        "self.alarm_arn",
    ):
        if attribute not in source:
            raise MotoInternalsChanged(f"moto Alarm no longer sets {attribute}")
    for cls, names in (
        (models.MetricDatum, ("value", "timestamp", "dimensions", "unit")),
        (models.MetricAggregatedDatum, ("min_stat", "max_stat", "sample_count", "sum_stat")),
    ):
        got = params(cls.__init__)
        missing = [
            name for name in names if name not in got and name not in params(models.MetricDatumBase.__init__)
        ]
        if missing:
            raise MotoInternalsChanged(f"moto {cls.__name__} lost {missing}")
    if "self.alarms" not in inspect.getsource(models.CloudWatchBackend.__init__):
        raise MotoInternalsChanged("moto CloudWatchBackend no longer keeps alarms in `self.alarms`")
    _require(models, "cloudwatch_backends", "find every CloudWatch backend")
