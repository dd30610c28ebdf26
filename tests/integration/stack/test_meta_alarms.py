"""Each alarm on the rollback itself fires on the local stack from the controller's own EMF metrics, and
pages the escalation topic."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from failsafe.controller import rollback_metrics
from failsafe.domain import metrics
from failsafe.domain.scope import Scope
from failsafe_tools.local import emf_logs as emf
from failsafe_tools.local.alarms import get_evaluator
from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.stack import LocalStack

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
SCOPE = Scope.parse("recommender/prod")

# alarm suffix -> the controller document that should fire it (name, value, level)
CASES = {
    "rollback-target-missed": (metrics.ROLLBACK_TARGET_MISSED, 1, "2"),
    "rollback-failed": (metrics.ROLLBACK_FAILED, 1, "1"),
    "incomplete-recovery": (metrics.INCIDENT_OPEN, 4 * 3600 + 60, None),
    "health-degraded-during-rollback": (metrics.HEALTH_DEGRADED, 1, None),
}


@pytest.mark.parametrize("suffix", sorted(CASES))
def test_the_meta_alarm_fires_from_the_controllers_metric(suffix: str) -> None:
    # Given the real template on the local stack, and its escalation topic
    clock = ManualClock()
    with LocalStack.start(TEMPLATE, clock=clock, ticker=False, agent=False) as stack:
        cloudwatch = stack.client("cloudwatch")
        name = f"failsafe-controller-recommender-prod-{suffix}"
        evaluator = get_evaluator()
        evaluator.evaluate_all()
        assert cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] != "ALARM"
        # When the controller emits the metric's breaching value (as its EMF line, parsed as CloudWatch does)
        metric, value, level = CASES[suffix]
        unit = MetricUnit.Seconds if metric == metrics.INCIDENT_OPEN else MetricUnit.Count
        document = rollback_metrics.document(metric, value, unit, scope=SCOPE, at=clock.now(), level=level)
        emf.put_emf_metrics(emf.parse_emf_document(document), stack.account_id, stack.region)
        period = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["Period"]
        clock.advance(period)
        evaluator.evaluate_all()
        alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        # Then the alarm is in ALARM and its only action is the escalation topic
        assert alarm["StateValue"] == "ALARM", alarm["StateReason"]
        assert alarm["AlarmActions"] == [stack.outputs["EscalationTopicArn"]]
