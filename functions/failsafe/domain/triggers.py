"""Triggers: an alarm classified by the guardrail catalog (severity, kind, scope) and its entry stage.

An alarm is matched to a catalog rule by name: the alarm name is the rule name, or ends with it after a
separator (`failsafe-recommender-prod-coverage-p1` is rule `coverage-p1`; the longest rule name wins).
An alarm named otherwise can be matched by what it watches (metric, comparison and threshold).
Its scope comes from the metric's dimensions (`scope_of_alarm`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from failsafe.domain.catalog import (
    DEFAULT_CATALOG,
    Comparison,
    GuardrailCatalog,
    GuardrailKind,
    GuardrailRule,
    Severity,
)
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plans import Plan, Stage
from failsafe.domain.scope import Scope, scope_of_alarm

ALARM_NAME_SEPARATORS = ("-", "_", "/", ":", ".")


class UnknownAlarmError(ValueError):
    pass


class AlarmDescriptor(BaseModel):
    """What an alarm state-change event says about the alarm."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1)
    metric_name: str | None = None
    comparison: Comparison | None = None
    threshold: float | None = None


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alarm_name: str
    rule: str
    severity: Severity
    kind: GuardrailKind
    scope: Scope
    metric: str
    threshold: float
    duration_seconds: int


def alarm_name_for(rule: GuardrailRule, scope: Scope, prefix: str = "failsafe") -> str:
    """The conventional alarm name for a rule in a scope; `classify` recognises it."""
    return f"{prefix}-{scope.key}-{rule.name}"


def rule_for_alarm(
    alarm: str | AlarmDescriptor, catalog: GuardrailCatalog = DEFAULT_CATALOG
) -> GuardrailRule:
    descriptor = alarm if isinstance(alarm, AlarmDescriptor) else AlarmDescriptor(name=alarm)
    by_name = [rule for rule in catalog.rules if _names_rule(descriptor.name, rule.name)]
    if by_name:
        return max(by_name, key=lambda rule: len(rule.name))
    by_signal = [rule for rule in catalog.rules if _watches(descriptor, rule, catalog)]
    if len(by_signal) == 1:
        return by_signal[0]
    raise UnknownAlarmError(
        f"alarm {descriptor.name!r} matches no guardrail rule: name it after a rule "
        f"(e.g. 'failsafe-<scope>-coverage-p1') or add a rule to the catalog; "
        f"rules: {', '.join(rule.name for rule in catalog.rules)}"
    )


def classify(
    alarm: str | AlarmDescriptor,
    dimensions: Mapping[str, str],
    catalog: GuardrailCatalog = DEFAULT_CATALOG,
    default_environment: str | None = None,
) -> Trigger:
    """Severity, kind and scope of an alarm. Raises UnknownAlarmError or ScopeError with the fix."""
    rule = rule_for_alarm(alarm, catalog)
    name = alarm.name if isinstance(alarm, AlarmDescriptor) else alarm
    return Trigger(
        alarm_name=name,
        rule=rule.name,
        severity=rule.severity,
        kind=rule.kind,
        scope=scope_of_alarm(dimensions, default_environment),
        metric=rule.metric,
        threshold=catalog.threshold_of(rule),
        duration_seconds=rule.duration_seconds,
    )


def entry_stage_for(trigger: Trigger, plan: Plan = DEFAULT_PLAN) -> Stage:
    """The stage a trigger starts (or escalates) its scope at: by kind first (security and audit go to the
    kill switch), else by severity (P2 Stage 1, P1 Stage 2, critical Emergency)."""
    return plan.entry_stage(trigger.severity, trigger.kind)


def _names_rule(alarm_name: str, rule_name: str) -> bool:
    if alarm_name == rule_name:
        return True
    return any(alarm_name.endswith(separator + rule_name) for separator in ALARM_NAME_SEPARATORS)


def _watches(descriptor: AlarmDescriptor, rule: GuardrailRule, catalog: GuardrailCatalog) -> bool:
    if descriptor.metric_name is None or descriptor.threshold is None or descriptor.comparison is None:
        return False
    return (
        descriptor.metric_name == rule.metric
        and descriptor.comparison is rule.comparison
        and math.isclose(descriptor.threshold, catalog.threshold_of(rule), rel_tol=1e-9, abs_tol=1e-12)
    )
