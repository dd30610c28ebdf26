"""Pure parts of `failsafe validate`: EventBridge pattern matching and the catalog consistency check."""

from __future__ import annotations

import pytest

from failsafe.domain.catalog import DEFAULT_CATALOG, GuardrailCatalog
from failsafe_tools.cli.validate import _pattern_matches_name, check_catalog_consistency

PATTERN = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "detail": {"alarmName": [{"prefix": "failsafe-recommender-prod-"}]},
}


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        (PATTERN, "failsafe-recommender-prod-latency-p1", True),
        (PATTERN, "failsafe-recommender-dev-latency-p1", False),
        ({**PATTERN, "detail": {"alarmName": ["exact-name"]}}, "exact-name", True),
        ({**PATTERN, "detail": {}}, "anything", True),
        ({**PATTERN, "source": ["aws.ec2"]}, "failsafe-recommender-prod-latency-p1", False),
        ({**PATTERN, "detail-type": ["EC2 Instance State-change"]}, "failsafe-recommender-prod-x", False),
    ],
)
def test_which_alarms_an_eventbridge_rule_delivers(
    pattern: dict[str, object], name: str, matches: bool
) -> None:
    # Given a rule pattern and an alarm name / When matched / Then prefix and exact filters apply
    assert _pattern_matches_name(pattern, name) is matches


def test_the_shipped_catalog_is_consistent() -> None:
    # Given the default catalog / When checked / Then one passing check
    checks = check_catalog_consistency(DEFAULT_CATALOG)
    assert [(c.status, c.group) for c in checks] == [("pass", "catalog")]


def test_a_severity_inversion_fails_the_catalog_check() -> None:
    # Given seed 000's literal latency pair: P1 at the target, P2 at 1.5x (P2 stricter than P1)
    data = DEFAULT_CATALOG.model_dump(mode="json")
    for rule in data["rules"]:
        if rule["name"] == "latency-p1":
            rule["threshold"] = {"target": "latency_p95_ms", "factor": 1.0}
        if rule["name"] == "latency-p2":
            rule["threshold"] = {"target": "latency_p95_ms", "factor": 1.5}
    inverted = GuardrailCatalog.model_validate(data)  # parse_catalog would refuse it outright

    # When checked
    checks = check_catalog_consistency(inverted)

    # Then it fails and names the rules
    assert checks
    assert all(c.status == "fail" for c in checks)
    assert any("latency-p1" in c.detail and "latency-p2" in c.detail for c in checks)
