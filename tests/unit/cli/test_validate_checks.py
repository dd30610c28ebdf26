"""Pure parts of `failsafe validate`: EventBridge pattern matching and the catalog consistency check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from failsafe.domain.audit import AuditEntry
from failsafe.domain.catalog import DEFAULT_CATALOG, GuardrailCatalog
from failsafe.domain.plans import Level
from failsafe_tools.cli.validate import (
    _pattern_matches_name,
    check_catalog_consistency,
    level_timing,
    timing_check,
    wait_for_level,
)

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


def _entry(seq: int, action: str, at: datetime, after: dict[str, object] | None = None) -> AuditEntry:
    return AuditEntry(
        chain="failsafe",
        seq=seq,
        at=at,
        prev_hash="p",
        hash="h",
        action=action,
        actor="failsafe:controller",
        reason="r",
        scope_key="recommender/prod/region=failsafe-shadow",
        incident_id="man-1",
        after=after or {},
    )


def test_timing_waits_for_the_stage_applied_audit_entry_and_measures_its_timestamps() -> None:
    # Given an incident whose STAGE_APPLIED entry reaches the audit log only on the third read (the record is
    # saved first, the entry appended after it: under load the first reads miss it)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    opened = _entry(1, "transition:MANUAL_LEVEL", t0, {"applied_stage": None})
    applied = _entry(2, "transition:STAGE_APPLIED", t0 + timedelta(seconds=37), {"applied_stage": "stage_1"})
    reads = [[opened], [opened], [opened, applied]]
    slept: list[float] = []

    # When the check waits for the level
    timing = wait_for_level(lambda: reads.pop(0), "stage_1", sleep=slept.append, monotonic=lambda: 0.0)

    # Then it measured the simulated time between the two entries' timestamps, after waiting for the second
    assert timing is not None
    assert timing.seconds == 37
    assert len(slept) == 2
    check = timing_check(Level.ONE, "stage_1", 120, "man-1", timing)
    assert (check.status, check.detail) == ("pass", "stage_1 applied in 37 s (target 120 s), incident man-1")


def test_timing_compares_the_recorded_time_with_the_target() -> None:
    # Given a level whose entries are 150 simulated seconds apart / When checked against a 120 s target
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    entries = [
        _entry(1, "transition:MANUAL_LEVEL", t0),
        _entry(2, "transition:STAGE_APPLIED", t0 + timedelta(seconds=150), {"applied_stage": "emergency"}),
    ]
    timing = level_timing(entries, "emergency")
    # Then it fails and says by how much; a level never applied fails naming the incident
    assert timing is not None
    assert timing_check(Level.EMERGENCY, "emergency", 120, "man-2", timing).status == "fail"
    missing = timing_check(Level.EMERGENCY, "emergency", 120, "man-2", level_timing(entries[:1], "emergency"))
    assert (missing.status, missing.fix) == ("fail", "failsafe report man-2")
