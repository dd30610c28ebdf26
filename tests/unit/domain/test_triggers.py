from __future__ import annotations

import pytest

from failsafe.domain.catalog import DEFAULT_CATALOG, Comparison, GuardrailKind, Severity
from failsafe.domain.plans import DEFAULT_PLAN
from failsafe.domain.scope import Scope, ScopeError
from failsafe.domain.triggers import (
    AlarmDescriptor,
    UnknownAlarmError,
    alarm_name_for,
    classify,
    entry_stage_for,
    rule_for_alarm,
)

DIMENSIONS = {"Service": "recommender", "Environment": "prod", "Region": "eu-west-1"}


def test_classify_reads_severity_kind_and_scope_from_a_stack_alarm() -> None:
    # Given
    name = "failsafe-recommender-prod-coverage-p1"

    # When
    trigger = classify(name, DIMENSIONS)

    # Then
    assert trigger.rule == "coverage-p1"
    assert trigger.severity is Severity.P1
    assert trigger.kind is GuardrailKind.COVERAGE
    assert trigger.scope == Scope.parse("recommender/prod/region=eu-west-1")
    assert trigger.threshold == 95.0
    assert trigger.duration_seconds == 180


def test_the_longest_matching_rule_name_wins() -> None:
    # Given: "system-error-rate" must not be read as a shorter rule
    name = "failsafe-recommender-prod-system-error-rate"

    # When
    rule = rule_for_alarm(name)

    # Then
    assert rule.name == "system-error-rate"
    assert rule.severity is Severity.CRITICAL


def test_an_alarm_named_otherwise_is_matched_by_what_it_watches() -> None:
    # Given
    descriptor = AlarmDescriptor(
        name="legacy-latency-alarm", metric_name="LatencyMs", comparison=Comparison.GT, threshold=300.0
    )

    # When
    trigger = classify(descriptor, DIMENSIONS)

    # Then
    assert trigger.rule == "latency-p1"
    assert trigger.alarm_name == "legacy-latency-alarm"


def test_an_alarm_on_the_emitted_latency_metric_is_matched_by_what_it_watches() -> None:
    # Given an alarm on the latency metric the recommender emits, at the P2 threshold
    descriptor = AlarmDescriptor(
        name="legacy-latency-alarm", metric_name="LatencyMs", comparison=Comparison.GT, threshold=200.0
    )

    # When
    trigger = classify(descriptor, DIMENSIONS)

    # Then
    assert trigger.rule == "latency-p2"
    assert trigger.metric == "LatencyMs"


def test_unknown_alarm_is_a_clear_error() -> None:
    # Given
    name = "some-other-teams-alarm"

    # When / Then
    with pytest.raises(UnknownAlarmError) as error:
        classify(name, DIMENSIONS)
    assert str(error.value).startswith(
        "alarm 'some-other-teams-alarm' matches no guardrail rule: name it after a rule "
        "(e.g. 'failsafe-<scope>-coverage-p1') or add a rule to the catalog; rules: coverage-p1, coverage-p2"
    )


def test_a_rule_name_inside_a_word_does_not_match() -> None:
    # Given
    name = "failsafe-recommender-prod-xavailability"

    # When / Then
    with pytest.raises(UnknownAlarmError):
        rule_for_alarm(name)


def test_alarm_without_service_dimension_names_the_missing_dimensions() -> None:
    # Given
    dimensions = {"Region": "eu-west-1"}

    # When / Then
    with pytest.raises(ScopeError, match="need 'Service' and 'Environment'"):
        classify("failsafe-x-coverage-p1", dimensions)


@pytest.mark.parametrize(
    ("rule", "stage"),
    [
        ("coverage-p2", "stage_1"),
        ("cache-hit-rate-p2", "stage_1"),
        ("coverage-p1", "stage_2"),
        ("latency-p1", "stage_2"),
        ("availability", "emergency"),
        ("gdpr-compliance", "emergency"),
        ("audit-trail-integrity", "emergency"),
        ("cost-overrun", "stage_1"),
        ("cost-spike", "stage_2"),
    ],
)
def test_entry_stage_follows_severity_and_kind(rule: str, stage: str) -> None:
    # Given
    trigger = classify(f"failsafe-recommender-prod-{rule}", DIMENSIONS)

    # When
    entry = entry_stage_for(trigger, DEFAULT_PLAN)

    # Then
    assert entry.name == stage


def test_security_kind_enters_at_emergency_even_when_its_severity_is_milder() -> None:
    # Given
    trigger = classify("failsafe-recommender-prod-security-score", DIMENSIONS).model_copy(
        update={"severity": Severity.P2}
    )

    # When
    entry = entry_stage_for(trigger)

    # Then
    assert entry.name == "emergency"


def test_conventional_alarm_names_classify_back_to_their_rule() -> None:
    # Given
    scope = Scope.parse("recommender/prod")

    # When
    names = {rule.name: alarm_name_for(rule, scope) for rule in DEFAULT_CATALOG.rules}

    # Then
    for rule_name, alarm in names.items():
        assert rule_for_alarm(alarm).name == rule_name
