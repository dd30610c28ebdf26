"""A kill switch, manual level or more severe alarm while the execution waits on the Level 3 revert approval
(waitForTaskToken) answers the parked task with `Superseded`, so the new stage deploys at once instead of
after the approval is answered or times out."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from tests.unit.handlers.conftest import World, load_event
from tests.unit.handlers.helpers import (
    audit_actions,
    deploy_until_complete,
    execution_input,
    ingest,
    plan,
    principal_arn,
    signed,
    state_record,
    task,
)

from failsafe.aws.executions import ApprovalTokenError, Executions
from failsafe.controller.approval import SUPERSEDED_ERROR, Superseded, SupersedeError
from failsafe.handlers import manual_rollback, notify

TOKEN = "tok-revert"


class Signals:
    """Records what reaches a parked task (moto has no waiting task to answer)."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.failures: list[tuple[str, str, dict[str, Any]]] = []
        self.successes: list[str] = []
        self.fail_with = fail_with

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Signals:
        signals = self

        def send_failure(_: Executions, token: str, error: str, cause: str) -> None:
            if signals.fail_with is not None:
                raise signals.fail_with
            signals.failures.append((token, error, json.loads(cause)))

        def send_success(_: Executions, token: str, output: dict[str, Any]) -> None:
            signals.successes.append(token)

        monkeypatch.setattr(Executions, "send_failure", send_failure)
        monkeypatch.setattr(Executions, "send_success", send_success)
        return self


def _parked_on_revert_approval(world: World) -> dict[str, Any]:
    """Alice's Level 3 with stages 1-3 in force, waiting on the revert approval."""
    started = manual_rollback.dispatch(signed(load_event("manual-level-3.json")))
    state = execution_input(world, started["incident_id"])
    assert plan(state, "begin")["next_step"] == "apply"
    deploy_until_complete(world, state)
    assert plan(state, "applied")["next_step"] == "request_approval"
    task(notify, "request_approval", state, task_token=TOKEN)
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["pending_approval"]["task_token"] == TOKEN
    return state


def _kill_switch(by: str = principal_arn("bob")) -> dict[str, Any]:
    result: dict[str, Any] = manual_rollback.dispatch(
        signed({**load_event("kill-switch.json"), "requested_by": by})
    )
    return result


def _superseded(state: dict[str, Any], signals: Signals) -> dict[str, Any]:
    """What the ASL does on the `Superseded` catch: the error in $.approval_error, then PlanStage."""
    [(_, error, cause)] = signals.failures
    state["approval_error"] = {"Error": error, "Cause": json.dumps(cause)}
    return plan(state, "approval_superseded")


def test_kill_switch_wakes_the_execution_parked_on_the_revert_approval(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given alice's Level 3 parked on the revert approval
    signals = Signals().install(monkeypatch)
    state = _parked_on_revert_approval(world)
    # When bob pulls the kill switch
    ks = _kill_switch()
    # Then the parked task is failed with Superseded (no approval answer), the pending approval is cleared
    # in the same write that moved the scope to emergency, and the join says so
    assert signals.failures == [
        (
            TOKEN,
            SUPERSEDED_ERROR,
            {
                "superseded_stage": "revert",
                "stage": "emergency",
                "by": principal_arn("bob"),
                "reason": load_event("kill-switch.json")["reason"],
                "requested_by": principal_arn("alice"),
            },
        )
    ]
    assert signals.successes == []
    assert ks["joined"] is True
    assert ks["superseded_approval"] == {
        "superseded_stage": "revert",
        "stage": "emergency",
        "delivered": True,
    }
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["pending_approval"] is None
    assert record["lifecycle"]["stage"] == "emergency"
    assert "approval:superseded" in audit_actions(world)
    # When the execution takes the Superseded catch
    replanned = _superseded(state, signals)
    # Then it plans the emergency overlay right away and it is in force within the stage's target
    assert (replanned["next_step"], replanned["overlay_stages"]) == ("apply", ["emergency"])
    asked_at = world.clock.now()
    deploy_until_complete(world, state)
    applied = plan(state, "applied")
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["lifecycle"]["applied_stage"] == "emergency", applied
    assert (world.clock.now() - asked_at).total_seconds() <= replanned["target_seconds"]
    assert "approval:superseded_replanned" in audit_actions(world)


def test_critical_alarm_wakes_the_execution_parked_on_the_revert_approval(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given alice's Level 3 parked on the revert approval
    signals = Signals().install(monkeypatch)
    state = _parked_on_revert_approval(world)
    # When a security (critical) alarm fires on the scope
    result = ingest(load_event("alarm-security-critical.json"))
    # Then it escalates to emergency and the parked task is failed with Superseded
    assert result["outcome"] == "joined"
    [(token, error, cause)] = signals.failures
    assert (token, error, cause["superseded_stage"], cause["stage"]) == (
        TOKEN,
        SUPERSEDED_ERROR,
        "revert",
        "emergency",
    )
    assert cause["by"] == "failsafe:alarm-ingest"
    record = state_record(world, state["scope"])
    assert record is not None
    assert (record["pending_approval"], record["lifecycle"]["stage"]) == (None, "emergency")
    # the alarm chose emergency: no operator is recorded as its requester
    assert record["level_requested_by"] is None
    assert _superseded(state, signals)["overlay_stages"] == ["emergency"]


def test_join_at_the_same_stage_keeps_the_approval_waiting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given alice's Level 3 parked on the revert approval
    signals = Signals().install(monkeypatch)
    state = _parked_on_revert_approval(world)
    # When bob asks for Level 3 as well
    joined = manual_rollback.dispatch(
        signed({**load_event("manual-level-3.json"), "requested_by": principal_arn("bob")})
    )
    # Then the approval still waits (same stage): nothing is sent to the parked task
    assert joined["superseded_approval"] is None
    assert signals.failures == []
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["pending_approval"]["task_token"] == TOKEN


def test_a_task_no_longer_waiting_is_audited_and_the_join_succeeds(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the revert approval was answered (or expired) just before the kill switch
    Signals(fail_with=ApprovalTokenError("approval token is no longer valid (TaskTimedOut)")).install(
        monkeypatch
    )
    state = _parked_on_revert_approval(world)
    # When bob pulls the kill switch
    ks = _kill_switch()
    # Then the join still moves the scope to emergency (the execution re-plans from the record) and the
    # undelivered signal is audited
    assert ks["superseded_approval"]["delivered"] is False
    record = state_record(world, state["scope"])
    assert record is not None
    assert (record["pending_approval"], record["lifecycle"]["stage"]) == (None, "emergency")
    items = world.client("dynamodb").scan(TableName="audit")["Items"]
    superseded = [json.loads(i["entry"]["S"]) for i in items if i["action"]["S"] == "approval:superseded"]
    assert [e["details"]["delivered"] for e in superseded] == [False]


def test_failing_to_wake_the_execution_restores_the_approval_and_names_the_fix(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Step Functions refuses SendTaskFailure (e.g. a missing IAM permission)
    Signals(fail_with=RuntimeError("AccessDeniedException: states:SendTaskFailure")).install(monkeypatch)
    state = _parked_on_revert_approval(world)
    # When bob pulls the kill switch
    with pytest.raises(SupersedeError) as raised:
        _kill_switch()
    # Then the error says what happened and what to do; the scope is at emergency, the approval is back
    # (an approver or the timeout still wakes the execution) and the failure is audited
    message = str(raised.value)
    assert "moved to emergency" in message
    assert "AccessDeniedException" in message
    assert "reject the pending approval" in message
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["lifecycle"]["stage"] == "emergency"
    assert record["pending_approval"]["task_token"] == TOKEN
    assert "approval:supersede_failed" in audit_actions(world)


def test_approval_requested_after_the_scope_moved_fails_its_task_as_superseded(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given alice's Level 3 about to ask for the revert approval (stages 1-3 in force)
    Signals().install(monkeypatch)
    started = manual_rollback.dispatch(signed(load_event("manual-level-3.json")))
    state = execution_input(world, started["incident_id"])
    plan(state, "begin")
    deploy_until_complete(world, state)
    assert plan(state, "applied")["next_step"] == "request_approval"
    # When the kill switch gets in before the approval request stores its token
    _kill_switch()
    # Then the approval request fails its task with Superseded (the ASL catches it and plans emergency)
    with pytest.raises(Superseded) as raised:
        task(notify, "request_approval", state, task_token=TOKEN)
    assert json.loads(str(raised.value))["stage"] == "emergency"
    record = state_record(world, state["scope"])
    assert record is not None
    assert record["pending_approval"] is None
    state["approval_error"] = {"Error": SUPERSEDED_ERROR, "Cause": str(raised.value)}
    assert plan(state, "approval_superseded")["overlay_stages"] == ["emergency"]


def test_records_written_before_level_requested_by_still_load(world: World) -> None:
    # Given a stored record without the new field
    from failsafe.aws.state_store import ScopeRecord

    body = {
        "scope_key": "recommender/prod",
        "version": 3,
        "lifecycle": {
            "scope": {"service": "recommender", "environment": "prod"},
            "verify_window_seconds": 900,
        },
        "updated_at": datetime(2026, 1, 1).isoformat(),
    }
    # When it is loaded / Then the field defaults to None
    assert ScopeRecord.model_validate_json(json.dumps(body)).level_requested_by is None
