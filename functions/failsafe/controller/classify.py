"""Classify an alarm for the controller: the domain trigger plus the plan's entry stage.

`failsafe.domain.triggers` does the classification (rule by name, scope from the dimensions). This module
adds the controller's own rule: only alarms named with this stack's prefix
(`failsafe-<service>-<environment>-`, see template.yaml) are ours; anything else is a foreign alarm.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from failsafe.domain.catalog import GuardrailCatalog
from failsafe.domain.lifecycle import EventKind, fired_event_kind
from failsafe.domain.plans import Plan
from failsafe.domain.scope import ScopeError
from failsafe.domain.triggers import Trigger, UnknownAlarmError, entry_stage_for
from failsafe.domain.triggers import classify as classify_trigger

__all__ = ["Classification", "UnknownAlarmError", "classify"]


class Classification(BaseModel):
    model_config = ConfigDict(frozen=True)

    trigger: Trigger
    entry_stage: str

    @property
    def severity(self) -> str:
        return self.trigger.severity.value

    @property
    def kind(self) -> str:
        return self.trigger.kind.value

    @property
    def fired_event(self) -> EventKind:
        return fired_event_kind(self.trigger.severity)


def classify(
    alarm_name: str,
    dimensions: Mapping[str, str],
    *,
    prefix: str,
    catalog: GuardrailCatalog,
    plan: Plan,
    default_environment: str | None = None,
) -> Classification:
    if not alarm_name.startswith(prefix):
        raise UnknownAlarmError(
            f"alarm {alarm_name!r} is not a failsafe guardrail of this stack (prefix {prefix!r})"
        )
    try:
        trigger = classify_trigger(alarm_name, dimensions, catalog, default_environment)
    except (ScopeError, ValidationError) as exc:  # dimensions outside the scope grammar: not our alarm
        raise UnknownAlarmError(f"alarm {alarm_name!r}: {exc}") from exc
    return Classification(trigger=trigger, entry_stage=entry_stage_for(trigger, plan).name)
