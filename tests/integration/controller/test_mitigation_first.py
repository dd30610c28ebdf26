"""Mitigation first, on the local stack with the real ASL and handlers (issue 10, items 1, 5 and 6): the
toggle deployment starts before any notification, a throttled StartDeployment is retried instead of
escalating, and a failed approval request is a controller failure, not a rejection."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from tests.integration.controller.conftest import Controller, sample_event

from failsafe.controller import notify as notify_use_case
from failsafe.controller.runtime import shared_client
from failsafe_tools.local.stepfunctions import wait_for_execution

SCOPE = "recommender/prod"


def _arn(controller: Controller, incident_id: str) -> str:
    return controller.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{incident_id}"


def _run(controller: Controller, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    started, failed = controller.call_as("erin", "ManualRollbackUrl", event)
    assert not failed, started
    incident_id = str(started["incident_id"])
    execution = wait_for_execution(
        controller.client("stepfunctions"), _arn(controller, incident_id), timeout_s=60
    )
    return incident_id, dict(execution)


def _entered(controller: Controller, incident_id: str) -> list[str]:
    """State names in the order the execution entered them (its history)."""
    events = controller.client("stepfunctions").get_execution_history(
        executionArn=_arn(controller, incident_id), maxResults=1000
    )["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def _region(controller: Controller) -> str:
    return controller.outputs["StateMachineArn"].split(":")[3]


def test_pagerduty_failing_does_not_come_before_or_hold_up_the_deployment(controller: Controller) -> None:
    # Given PagerDuty answering 503 to every attempt of the first page (4 attempts with backoff), and a
    # probe noting, at each PagerDuty request, which deployments AppConfig had started by then
    seen_at_page: list[list[str]] = []
    controller.pd.fail_next[:] = [503, 503, 503, 503]
    controller.pd.on_request = lambda: seen_at_page.append(
        [str(d.get("Description", "")) for d in controller.deployments()]
    )
    controller.serve_requests()
    try:
        # When the kill switch is pulled (with automatic restore, so the incident runs to its end)
        incident_id, execution = _run(controller, sample_event("kill-switch.json", auto_restore=True))
    finally:
        controller.pd.on_request = None
        controller.pd.fail_next[:] = []
    assert execution["status"] == "SUCCEEDED", execution
    # Then PagerDuty was called (and failed), and at every one of its requests the emergency deployment of
    # this incident had already been started
    assert seen_at_page
    assert all(any(incident_id in d for d in descriptions) for descriptions in seen_at_page)
    # And on the local clock the deployment started within 1 s of the execution, the 4 failed attempts and
    # their backoff (7 s) notwithstanding
    [deployment] = [
        d
        for d in controller.deployments()
        if d.get("Description", "").endswith(f"{SCOPE} -> emergency") and incident_id in d["Description"]
    ]
    delay = (deployment["StartedAt"] - execution["startDate"]).total_seconds()
    assert delay <= 1.0, delay
    # And in the execution, Apply ran before the first Notify
    entered = _entered(controller, incident_id)
    assert entered.index("Apply") < entered.index("Notify")
    # And in the audit, the deployment precedes every notification, and the failed page is recorded
    audit = controller.audit(incident_id)
    actions = [e["action"] for e in audit]
    first_deploy = actions.index("toggles:deploy")
    notifications = [i for i, a in enumerate(actions) if a.startswith("notification:")]
    assert notifications
    assert first_deploy < min(notifications)
    failed = [e for e in audit if e["action"] == "notification:failed"]
    assert [e["details"]["channel"] for e in failed] == ["pagerduty:trigger"]
    # And the emergency stage was applied, and SNS still carried the transitions
    deployed = [e["after"]["stage"] for e in audit if e["action"] == "toggles:deploy"]
    assert deployed == ["emergency"]
    assert "rollback_started" in [
        m["event"] for m in controller.sns_events() if m["incident_id"] == incident_id
    ]
    assert controller.record(SCOPE)["lifecycle"]["state"] == "NORMAL"


@pytest.fixture
def throttle_start_deployment(controller: Controller) -> Iterator[list[str]]:
    """StartDeployment answers ThrottlingException once, after the SDK's own retry layer (as when the SDK
    gave up), on the client every in-process function shares. Yields the calls it throttled."""
    client = shared_client("appconfig", _region(controller))
    throttled: list[str] = []

    def once(**kwargs: Any) -> tuple[Any, dict[str, Any]] | None:
        if throttled:
            return None
        throttled.append(str(kwargs.get("params", {}).get("body", "")))
        error = {"Code": "ThrottlingException", "Message": "Rate exceeded"}
        parsed = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return SimpleNamespace(status_code=400, headers={}, content=b""), parsed

    event = "before-call.appconfig.StartDeployment"
    client.meta.events.register_first(event, once, unique_id="test-throttle-start-deployment")
    try:
        yield throttled
    finally:
        client.meta.events.unregister(event, unique_id="test-throttle-start-deployment")


def test_a_throttled_start_deployment_is_retried_and_does_not_escalate(
    controller: Controller, throttle_start_deployment: list[str]
) -> None:
    # Given StartDeployment throttled once, and the recommender serving requests
    controller.serve_requests()
    # When level 1 is requested with automatic restore and the incident runs to its end
    incident_id, execution = _run(
        controller, {**sample_event("manual-level-1.json", auto_restore=True), "scope": SCOPE}
    )
    # Then the throttle happened, and the controller retried the deployment of stage_1
    assert len(throttle_start_deployment) == 1
    assert execution["status"] == "SUCCEEDED", execution
    audit = controller.audit(incident_id)
    actions = [e["action"] for e in audit]
    assert "transition:DEPLOYMENT_FAILED" not in actions
    # And stage_1 was applied; nothing escalated to stage_2
    deployed = [e["after"]["stage"] for e in audit if e["action"] == "toggles:deploy"]
    assert deployed == ["stage_1"]
    applied = [e["after"]["applied_stage"] for e in audit if e["action"] == "transition:STAGE_APPLIED"]
    assert applied == ["stage_1"]
    assert _entered(controller, incident_id).count("ApplyFailed") == 0
    assert controller.record(SCOPE)["lifecycle"]["state"] == "NORMAL"


def test_a_failed_approval_request_pages_and_keeps_what_is_in_force(
    controller: Controller, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (last in this module: it leaves the scope held by the failed incident, as a real one would)
    # Given the approval request failing (the request task raises before anyone could be asked)
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected: the approval request could not be stored")

    monkeypatch.setattr(notify_use_case, "request_approval", broken)
    # When level 3 reaches the revert, which needs an approval
    incident_id, execution = _run(controller, sample_event("manual-level-3.json"))
    monkeypatch.undo()
    # Then the execution ended as a controller failure, not as a rejection
    assert (execution["status"], execution.get("error")) == ("FAILED", "ControllerFailed")
    audit = controller.audit(incident_id)
    actions = [e["action"] for e in audit]
    assert "transition:APPROVAL_DENIED" not in actions
    assert "ApprovalRejected" not in _entered(controller, incident_id)
    # And on-call was paged with the error, and SNS said what is in force
    [page] = [
        p
        for p in controller.pd.received
        if p["dedup_key"] == incident_id and "controller failed" in p["payload"]["summary"]
    ]
    assert page["payload"]["custom_details"]["error"]["error"] == "RuntimeError"
    assert "could not be stored" in page["payload"]["custom_details"]["error"]["message"]
    [message] = [
        m
        for m in controller.sns_events()
        if m["incident_id"] == incident_id and m["event"] == "controller_failed"
    ]
    # And stage 3 stays in force (nothing undone, nothing closed), the revert still waiting for a person
    record = controller.record(SCOPE)
    assert message["state_after"] == record["lifecycle"]["state"] == "ROLLBACK_PENDING"
    assert record["lifecycle"]["incident_id"] == incident_id
    assert (record["lifecycle"]["stage"], record["lifecycle"]["applied_stage"]) == ("revert", "stage_3")
