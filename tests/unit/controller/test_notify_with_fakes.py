"""The notify use case on the in-memory fakes of its ports (no AWS, no network)."""

from __future__ import annotations

import pytest
from tests.fakes import FakePorts

from failsafe.controller.context import ExecutionContext, TriggerInfo
from failsafe.controller.notify import notify
from failsafe.controller.settings import Settings
from failsafe_tools.local.clock import ManualClock

SCOPE = "recommender/prod"


@pytest.fixture
def ports() -> FakePorts:
    settings = Settings.from_env({"FAILSAFE_SERVICE": "recommender", "FAILSAFE_ENVIRONMENT": "prod"})
    return FakePorts(settings, ManualClock())


def _context() -> ExecutionContext:
    return ExecutionContext(
        incident_id="inc-1",
        scope=SCOPE,
        source="alarm",
        entry_stage="stage_1",
        requested_by="failsafe",
        reason="latency p95 above target",
        trigger=TriggerInfo(severity="P2", kind="latency", alarm_name="failsafe-recommender-prod-latency-p2"),
    )


def test_a_rollback_start_goes_to_sns_and_pages(ports: FakePorts) -> None:
    # Given an incident that has just started its rollback
    # When it is notified
    result = notify(ports, "rollback_started", _context())
    # Then SNS and PagerDuty got it, with the trigger's severity, and nothing failed
    assert result.sent == ["sns", "pagerduty:trigger"]
    assert result.failed == []
    [note] = ports.notifier.published
    assert (note.event, note.severity, note.incident_id) == ("rollback_started", "P2", "inc-1")
    [(action, page)] = ports.pagerduty.events
    assert (action, page.incident_id, page.component) == ("trigger", "inc-1", "recommender")


def test_a_failing_channel_is_audited_and_never_raised(ports: FakePorts) -> None:
    # Given an SNS topic that refuses every message
    def refuse(_: object) -> str:
        raise RuntimeError("AuthorizationError")

    ports.notifier.publish = refuse  # type: ignore[method-assign]
    # When a rollback start is notified
    result = notify(ports, "rollback_started", _context())
    # Then PagerDuty still gets it, and the SNS failure is returned and audited with its channel
    assert result.sent == ["pagerduty:trigger"]
    assert result.failed == ["sns"]
    failures = [e for e in ports.audit.entries(incident_id="inc-1") if e.action == "notification:failed"]
    assert [e.details["channel"] for e in failures] == ["sns"]
    assert ports.audit.verify().ok
