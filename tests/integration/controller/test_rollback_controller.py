"""The rollback controller end to end on the local stack: real ASL, real handlers, state read back from
DynamoDB, AppConfig, SNS, PagerDuty and S3."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from tests.integration.controller.conftest import Controller, sample_event

from failsafe_tools.local.stepfunctions import wait_for_execution

SCOPE = "recommender/prod"


def _wait_for_incident(controller: Controller, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        controller.stack.tick(0)
        item = (
            controller.client("dynamodb")
            .get_item(TableName=controller.outputs["StateTableName"], Key={"pk": {"S": f"scope#{SCOPE}"}})
            .get("Item")
        )
        if item is not None:
            record = json.loads(item["body"]["S"])
            if record["lifecycle"]["incident_id"] and record["execution_arn"]:
                return str(record["lifecycle"]["incident_id"])
        time.sleep(0.05)
    raise AssertionError("no incident was opened")


def _execution(controller: Controller, incident_id: str) -> dict[str, Any]:
    arn = controller.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{incident_id}"
    result: Any = wait_for_execution(controller.client("stepfunctions"), arn, timeout_s=60)
    return result


def test_p2_alarm_degrades_recovers_verifies_restores_and_reports(controller: Controller) -> None:
    # Given the deployed stack with every guardrail OK and the recommender serving requests
    cloudwatch = controller.client("cloudwatch")
    alarm = controller.outputs["AlarmNamePrefix"] + "latency-p2"
    controller.serve_requests()
    # When the latency P2 alarm goes into ALARM (and, with no more breaching data, back to OK)
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="p95 above 200 ms")
    incident_id = _wait_for_incident(controller)
    execution = _execution(controller, incident_id)
    # Then the execution named with the incident id succeeded and the scope is NORMAL again
    assert execution["status"] == "SUCCEEDED", execution
    record = controller.record(SCOPE)
    assert record["lifecycle"]["state"] == "NORMAL"
    assert record["last_known_good_version"] is not None
    # And the audit shows the lifecycle in order, and the chain verifies
    transitions = [
        e["action"] for e in controller.audit(incident_id) if e["action"].startswith("transition:")
    ]
    assert transitions == [
        "transition:P2_FIRED",
        "transition:STAGE_APPLIED",
        "transition:ALL_GREEN",
        "transition:VERIFY_WINDOW_PASSED",
        "transition:RESTORED",
    ]
    # And AppConfig got the stage 1 overlay immediately, then the restore gradually, both COMPLETE
    ours = [d for d in controller.deployments() if incident_id in d.get("Description", "")]
    assert [d["State"] for d in ours] == ["COMPLETE", "COMPLETE"]
    assert ours[0]["DeploymentStrategyId"] == controller.outputs["AppConfigImmediateStrategyId"]
    assert ours[1]["DeploymentStrategyId"] == controller.outputs["AppConfigGradualStrategyId"]
    # And SNS carried every transition; PagerDuty was triggered and resolved with dedup_key = incident id
    events = [m["event"] for m in controller.sns_events() if m["incident_id"] == incident_id]
    assert events[0] == "rollback_started"
    assert "stage_applied" in events
    assert events[-1] == "resolved"
    pages = [p for p in controller.pd.received if p["dedup_key"] == incident_id]
    assert pages[0]["event_action"] == "trigger"
    assert pages[-1]["event_action"] == "resolve"
    # And the incident report is in S3
    report = json.loads(
        controller.client("s3")
        .get_object(
            Bucket=controller.outputs["ReportBucketName"], Key=f"incidents/{incident_id}/report.json"
        )["Body"]
        .read()
    )
    assert report["final_state"] == "NORMAL"
    assert {"audit", "execution", "appconfig"} <= {t["source"] for t in report["timeline"]}


def test_manual_level_3_waits_for_an_approver_other_than_the_requester(controller: Controller) -> None:
    # Given the level 3 event (restoring by itself once green), invoked as `sam remote invoke` would
    controller.serve_requests()
    started, failed = controller.call_as(
        "erin", "ManualRollbackUrl", sample_event("manual-level-3.json", auto_restore=True)
    )
    assert not failed, started
    incident_id = started["incident_id"]
    # When the controller has applied stages 1-3 and asks for the revert's approval
    record = controller.wait_for_approval_request(SCOPE)
    assert record["lifecycle"]["applied_stage"] == "stage_3"
    [override] = _document(controller)["overrides"]
    assert (override["toggles"]["exposure_percent"], override["toggles"]["experiment_freeze"]) == (50, True)
    # Then the requester cannot approve, and the state is unchanged
    answer, failed = controller.call_as(
        "erin", "ApprovalCallbackUrl", sample_event("approval-by-requester.json", incident_id=incident_id)
    )
    assert failed
    assert "cannot approve" in answer["errorMessage"]
    assert controller.record(SCOPE)["pending_approval"] is not None
    # When carol (CTO) approves
    answer, failed = controller.call_as(
        "carol", "ApprovalCallbackUrl", sample_event("approval.json", incident_id=incident_id)
    )
    assert not failed, answer
    execution = _execution(controller, incident_id)
    # Then the approval is on the lifecycle, the revert ran against the last known good release (recorded
    # when the previous incident closed), the incident ran to its end, and the scope is NORMAL
    assert execution["status"] == "SUCCEEDED"
    audit = controller.audit(incident_id)
    granted = [e for e in audit if e["action"] == "transition:APPROVAL_GRANTED"]
    assert [e["actor"] for e in granted] == ["arn:aws:iam::123456789012:user/carol"]
    # (the local recommender has one published version, which is also the last known good one: the
    # revert has nothing earlier to go to and says so instead of escalating)
    assert "release:revert_skipped" in [e["action"] for e in audit]
    # (and the revert stage's transition says so too, rather than claiming a deployment)
    applied = [e["reason"] for e in audit if e["action"] == "transition:STAGE_APPLIED"]
    assert any("no earlier release to revert to" in reason for reason in applied), applied
    assert controller.record(SCOPE)["lifecycle"]["state"] == "NORMAL"
    assert _document(controller)["overrides"] == []


def test_unanswered_approval_times_out_notifies_and_stays_safe(controller: Controller) -> None:
    # Given a level 3 waiting for approval
    controller.serve_requests()
    started, _ = controller.call_as(
        "carol", "ManualRollbackUrl", sample_event("manual-level-3.json", auto_restore=True)
    )
    incident_id = started["incident_id"]
    controller.wait_for_approval_request(SCOPE)
    # When nobody answers within the approval timeout (600 s here)
    controller.stack.tick(660)
    execution = _execution(controller, incident_id)
    # Then it was recorded as denied by the timeout, notified, and stage 3 stayed in force until recovery
    assert execution["status"] == "SUCCEEDED"
    audit = controller.audit(incident_id)
    denied = [e for e in audit if e["action"] == "transition:APPROVAL_DENIED"]
    assert [e["actor"] for e in denied] == ["failsafe:approval-timeout"], [e["reason"] for e in denied]
    assert denied[0]["after"]["state"] == "ROLLED_BACK"
    assert denied[0]["after"]["applied_stage"] == "stage_3"
    assert "approval_timed_out" in [
        m["event"] for m in controller.sns_events() if m["incident_id"] == incident_id
    ]
    assert controller.record(SCOPE)["lifecycle"]["state"] == "NORMAL"


def test_kill_switch_applies_emergency_and_holds_until_an_operator_recovers_it(
    controller: Controller,
) -> None:
    # Given the kill switch event (no auto_restore) and the recommender serving requests
    controller.serve_requests()
    started, failed = controller.invoke("ManualRollbackFunctionName", sample_event("kill-switch.json"))
    assert not failed, started
    incident_id = started["incident_id"]
    # When emergency is in force and more than a verify window passes, every guardrail green with traffic
    applied_at = _wait_until(controller, lambda r: r["lifecycle"]["applied_stage"] == "emergency")
    _wait_until(controller, lambda r: controller.clock.time() - applied_at > 1800)
    # Then emergency was deployed (kill switch, 10 %, popularity) and is still held: no automatic restore
    deploys = [e for e in controller.audit(incident_id) if e["action"] == "toggles:deploy"]
    assert deploys[0]["after"]["stage"] == "emergency"
    changes = {c["field"]: c["after"] for d in deploys[0]["details"]["diff"] for c in d["changes"]}
    assert (changes["kill_switch"], changes["exposure_percent"], changes["candidate_fallback_level"]) == (
        True,
        10,
        "D",
    )
    held = controller.record(SCOPE)
    assert (held["lifecycle"]["state"], held["lifecycle"]["stage"]) == ("ROLLED_BACK", "emergency")
    assert "transition:ALL_GREEN" not in [e["action"] for e in controller.audit(incident_id)]
    # When an operator recovers it / Then the scope is NORMAL and the execution stopped
    answer, failed = controller.call_as(
        "erin", "ManualRollbackUrl", sample_event("manual-recover.json", scope=SCOPE, immediate=True)
    )
    assert not failed, answer
    assert controller.record(SCOPE)["lifecycle"]["state"] == "NORMAL"
    assert _execution(controller, incident_id)["status"] == "ABORTED"


def _wait_until(controller: Controller, predicate: Any, timeout: float = 60.0) -> float:
    """Poll the scope's record until `predicate(record)` (a hang guard in wall time); the clock time then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(controller.record(SCOPE)):
            return controller.clock.time()
        time.sleep(0.05)
    raise AssertionError(f"timed out; scope is {controller.record(SCOPE)['lifecycle']}")


def test_bad_manual_input_is_a_clear_function_error_and_changes_nothing(controller: Controller) -> None:
    # Given the stack at rest
    before = controller.record(SCOPE)
    # When the operator asks for level 7, or forgets the reason
    level7, failed7 = controller.invoke("ManualRollbackFunctionName", sample_event("manual-level-7.json"))
    noreason, failed_reason = controller.invoke(
        "ManualRollbackFunctionName", sample_event("manual-missing-reason.json")
    )
    # Then both fail with the reason, and the scope's record is unchanged
    assert failed7
    assert "choose one of 1, 2, 3, emergency" in level7["errorMessage"]
    assert failed_reason
    assert "reason is required" in noreason["errorMessage"]
    assert controller.record(SCOPE) == before


def _document(controller: Controller) -> dict[str, Any]:
    complete = [d for d in controller.deployments() if d["State"] == "COMPLETE"]
    appconfig = controller.client("appconfig")
    body = appconfig.get_hosted_configuration_version(
        ApplicationId=controller.outputs["AppConfigApplicationId"],
        ConfigurationProfileId=controller.outputs["AppConfigProfileId"],
        VersionNumber=int(complete[-1]["ConfigurationVersion"]),
    )["Content"].read()
    data: dict[str, Any] = json.loads(body)
    return data


def _latency_minutes(controller: Controller, start_minute: int, end_minute: int, value: float) -> None:
    """Put one p95-breaching LatencyMs datapoint per minute in [start, end) relative to the clock's now."""
    now = controller.clock.now()
    dims = [{"Name": "Service", "Value": "recommender"}, {"Name": "Environment", "Value": "prod"}]
    data = [
        {
            "MetricName": "LatencyMs",
            "Dimensions": dims,
            "Timestamp": now + timedelta(minutes=minute),
            "Values": [value] * 20,
            "Counts": [1.0] * 20,
            "Unit": "Milliseconds",
        }
        for minute in range(start_minute, end_minute)
    ]
    for chunk in range(0, len(data), 20):
        controller.client("cloudwatch").put_metric_data(
            Namespace="Failsafe/Recommender", MetricData=data[chunk : chunk + 20]
        )


def test_p2_still_firing_after_its_deadline_escalates_to_stage_2(controller: Controller) -> None:
    # Given p95 latency at 250 ms (above the 200 ms P2 target, below the 300 ms P1) for the past 10 minutes
    # and the next 7
    _latency_minutes(controller, -10, 7, 250.0)
    # When the alarms are evaluated and the controller runs on its own
    controller.stack.tick(60)
    incident_id = _wait_for_incident(controller)
    execution = _execution(controller, incident_id)
    # Then stage 1 did not help by its 5-minute deadline, so stage 2 went out and was held as ROLLED_BACK;
    # once the latency was gone the scope verified, restored and ended at NORMAL
    assert execution["status"] == "SUCCEEDED", execution
    audit = controller.audit(incident_id)
    transitions = [
        (e["action"], e["after"].get("state"), e["after"].get("stage"))
        for e in audit
        if e["action"].startswith("transition:")
    ]
    assert transitions[0] == ("transition:P2_FIRED", "DEGRADED", "stage_1")
    assert transitions[1] == ("transition:STAGE_APPLIED", "DEGRADED", "stage_1")
    assert transitions[2] == ("transition:DEADLINE_PASSED", "ROLLBACK_PENDING", "stage_2")
    assert transitions[3] == ("transition:STAGE_APPLIED", "ROLLED_BACK", "stage_2")
    assert transitions[-1][:2] == ("transition:RESTORED", "NORMAL")
    assert controller.record(SCOPE)["lifecycle"]["state"] == "NORMAL"
