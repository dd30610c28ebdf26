"""Read the current state of the guardrail alarms that watch one scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from failsafe.domain.metrics import NAMESPACE
from failsafe.domain.scope import Scope, ScopeError, scope_of_alarm

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


class GuardrailAlarm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    state: str
    metric_name: str | None
    scope_key: str
    actions_enabled: bool
    treat_missing_data: str | None

    @property
    def firing(self) -> bool:
        return self.state == "ALARM"


class AlarmStateReader:
    def __init__(self, client: CloudWatchClient, name_prefix: str, namespace: str = NAMESPACE) -> None:
        self._client = client
        self._prefix = name_prefix
        self._namespace = namespace

    def all_alarms(self) -> list[GuardrailAlarm]:
        alarms: list[GuardrailAlarm] = []
        kwargs: dict[str, Any] = {"AlarmNamePrefix": self._prefix, "AlarmTypes": ["MetricAlarm"]}
        while True:
            page = self._client.describe_alarms(**kwargs)
            for alarm in page.get("MetricAlarms", []):
                if alarm.get("Namespace") != self._namespace:
                    continue
                dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
                try:
                    scope = scope_of_alarm(dims)
                except ScopeError:
                    continue
                alarms.append(
                    GuardrailAlarm(
                        name=alarm["AlarmName"],
                        state=alarm["StateValue"],
                        metric_name=alarm.get("MetricName"),
                        scope_key=scope.key,
                        actions_enabled=bool(alarm.get("ActionsEnabled", True)),
                        treat_missing_data=alarm.get("TreatMissingData"),
                    )
                )
            token = page.get("NextToken")
            if not token:
                return sorted(alarms, key=lambda a: a.name)
            kwargs["NextToken"] = token

    def for_scope(self, scope: Scope) -> list[GuardrailAlarm]:
        """Alarms whose traffic can overlap `scope` (a service-wide alarm watches every region too)."""
        return [a for a in self.all_alarms() if Scope.parse(a.scope_key).overlaps(scope)]

    def firing(self, scope: Scope) -> list[GuardrailAlarm]:
        return [a for a in self.for_scope(scope) if a.firing]
