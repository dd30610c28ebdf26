"""The real ASL on the local stack: a kill switch while a Level 3 waits on the revert approval deploys the
emergency stage at once, with nobody answering the approval (the parked task is failed with `Superseded`)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from tests.integration.controller.conftest import Controller, sample_event

from failsafe_tools.local.stepfunctions import wait_for_execution

SCOPE = "recommender/prod"


def _wait_for_stage_in_force(
    controller: Controller, incident_id: str, stage: str, timeout: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in controller.audit(incident_id):
            if entry["action"] == "transition:STAGE_APPLIED" and entry["after"].get("applied_stage") == stage:
                return entry
        time.sleep(0.05)
    actions = [e["action"] for e in controller.audit(incident_id)]
    raise AssertionError(f"{stage} was never in force; audit: {actions}")


def test_kill_switch_during_a_pending_revert_approval_deploys_emergency_without_an_answer(
    controller: Controller,
) -> None:
    # Given carol's Level 3 with stages 1-3 in force, parked on the revert approval
    started, failed = controller.call_as("carol", "ManualRollbackUrl", sample_event("manual-level-3.json"))
    assert not failed, started
    incident_id = started["incident_id"]
    record = controller.wait_for_approval_request(SCOPE)
    assert record["lifecycle"]["applied_stage"] == "stage_3"
    asked_at = controller.clock.now()
    # When bob pulls the kill switch (nobody answers the approval)
    joined, failed = controller.call_as("bob", "ManualRollbackUrl", sample_event("kill-switch.json"))
    # Then the request joined the incident and the emergency stage is in force within its target (120 s),
    # on the local clock
    assert not failed, joined
    assert (joined["joined"], joined["stage"]) == (True, "emergency")
    applied = _wait_for_stage_in_force(controller, incident_id, "emergency")
    elapsed = datetime.fromisoformat(applied["at"]) - asked_at
    assert elapsed <= timedelta(seconds=120), elapsed
    # because the join woke the parked execution
    assert joined["superseded_approval"] == {
        "superseded_stage": "revert",
        "stage": "emergency",
        "delivered": True,
    }
    audit = controller.audit(incident_id)
    actions = [e["action"] for e in audit]
    deployed = [e["after"]["stage"] for e in audit if e["action"] == "toggles:deploy"]
    assert deployed[-1] == "emergency"
    assert "approval:superseded" in actions
    assert "approval:superseded_replanned" in actions
    # without any approval answer
    assert not [a for a in actions if a in ("approval:approve", "approval:reject")]
    assert "transition:APPROVAL_GRANTED" not in actions
    assert "transition:APPROVAL_DENIED" not in actions
    assert "approval_superseded" in [
        m["event"] for m in controller.sns_events() if m["incident_id"] == incident_id
    ]
    # When an operator recovers the scope (a kill switch pulled by hand holds until then)
    answer, failed = controller.call_as(
        "erin", "ManualRollbackUrl", sample_event("manual-recover.json", scope=SCOPE, immediate=True)
    )
    # Then the execution is stopped and the scope is back at NORMAL
    assert not failed, answer
    arn = controller.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{incident_id}"
    execution = wait_for_execution(controller.client("stepfunctions"), arn, timeout_s=60)
    assert execution["status"] == "ABORTED"
    assert controller.record(SCOPE)["lifecycle"]["state"] == "NORMAL"
