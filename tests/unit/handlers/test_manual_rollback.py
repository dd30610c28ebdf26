"""ManualRollback with events/manual-level-*.json, events/kill-switch.json and events/manual-recover.json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.unit.handlers.conftest import FakeContext, World, load_event
from tests.unit.handlers.helpers import (
    audit_actions,
    current_document,
    deploy_until_complete,
    execution_input,
    executions,
    plan,
    principal_arn,
    signed,
    state_record,
)

from failsafe.controller.manual import ForeignScopeError, ManualRequestError
from failsafe.handlers import manual_rollback


def invoke(event: Any) -> dict[str, Any]:
    result: dict[str, Any] = manual_rollback.dispatch(signed(event))
    return result


def _nothing_changed(world: World) -> None:
    assert world.client("dynamodb").scan(TableName="state")["Items"] == []
    assert audit_actions(world) == []
    assert executions(world) == []
    env = world.env
    assert (
        world.client("appconfig").list_deployments(
            ApplicationId=env["APPCONFIG_APPLICATION_ID"], EnvironmentId=env["APPCONFIG_ENVIRONMENT_ID"]
        )["Items"]
        == []
    )


def test_dry_run_returns_the_plan_and_changes_nothing(world: World) -> None:
    # Given the level 2 dry run for eu-west-1
    event = load_event("manual-level-2-dry-run.json")
    # When it is invoked
    result = invoke(event)
    # Then the plan shows the toggle diff for that scope only, the deployment, approvals, time and radius
    assert (result["dry_run"], result["changed"], result["level"]) == (True, False, "2")
    [scope_diff] = result["toggle_diff"]
    assert scope_diff["scope"]["regions"] == ["eu-west-1"]
    changed = {c["field"]: c["after"] for c in scope_diff["changes"]}
    assert changed["policy_mode"] == "content_only"
    assert changed["exposure_percent"] == 75
    assert result["deployment_plan"][0]["strategy"] == "immediate"
    assert result["approvals_needed"] == []
    assert result["target_seconds"] == 300
    assert result["blast_radius"]["changed_share"] == 1.0
    # And nothing was written, deployed or started
    _nothing_changed(world)


def test_level_3_dry_run_needs_an_approval_by_someone_else(world: World) -> None:
    # Given a level 3 dry run
    event = {**load_event("manual-level-3.json"), "dry_run": True}
    # When it is invoked
    result = invoke(event)
    # Then the revert is in the plan and waits for an approver other than the requester
    assert [a["stage"] for a in result["approvals_needed"]] == ["revert"]
    assert result["approvals_needed"][0]["approver"] == "anyone but arn:aws:iam::123456789012:user/alice"
    assert result["target_seconds"] == 600
    _nothing_changed(world)


@pytest.mark.parametrize(
    ("event_file", "stage", "state", "approvals"),
    [
        ("manual-level-1.json", "stage_1", "DEGRADED", []),
        ("manual-level-2.json", "stage_2", "ROLLBACK_PENDING", []),
        ("manual-level-3.json", "revert", "ROLLBACK_PENDING", ["revert"]),
        ("kill-switch.json", "emergency", "ROLLBACK_PENDING", []),
    ],
)
def test_levels_claim_the_scope_and_start_an_execution(
    world: World, event_file: str, stage: str, state: str, approvals: list[str]
) -> None:
    # Given a NORMAL scope
    event = load_event(event_file)
    # When the operator runs the level
    result = invoke(event)
    # Then the scope moved to the level's stage, one execution runs, and the audit names who and why
    assert (result["stage"], result["state"], result["approvals_needed"]) == (stage, state, approvals)
    record = state_record(world, event["scope"])
    assert record is not None
    assert record["requested_by"] == principal_arn("alice")
    [execution] = executions(world)
    assert execution["name"] == result["incident_id"]
    assert execution_input(world, result["incident_id"])["reason"] == event["reason"]
    assert audit_actions(world) == ["transition:MANUAL_LEVEL"]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (load_event("manual-level-7.json"), "level '7': choose one of 1, 2, 3, emergency"),
        (load_event("manual-missing-reason.json"), "reason is required"),
        ({**load_event("kill-switch.json"), "reason": "   "}, "reason: Value error, must not be blank"),
        ({**load_event("manual-level-1.json"), "scope": "just-a-service"}, "expected 'service/environment"),
        (
            {
                **load_event("manual-level-1.json"),
                "scope": "recommender/prod/region=" + ",".join(f"r{i}" for i in range(100)),
            },
            "more than the 64 a scope may list",
        ),
        (
            {
                **load_event("manual-level-1.json"),
                "scope": "recommender/prod/region=" + ",".join(f"region-{i}" for i in range(5000)),
            },
            "scope: String should have at most 1024 characters",
        ),
        ({**load_event("manual-level-1.json"), "level": None}, "level is required"),
    ],
)
def test_bad_requests_are_clear_errors_and_change_nothing(
    world: World, event: dict[str, Any], message: str
) -> None:
    # Given a bad manual request
    # When it is invoked
    with pytest.raises(ManualRequestError) as error:
        invoke(event)
    # Then the error says what is wrong and nothing changed
    assert message in str(error.value)
    _nothing_changed(world)


@pytest.mark.parametrize(
    ("scope", "refused"),
    [
        ("payments/prod", "not service 'payments' in environment 'prod'"),
        ("recommender/staging", "not service 'recommender' in environment 'staging'"),
        ("payments/prod/region=eu-west-1", "not service 'payments'"),
    ],
)
@pytest.mark.parametrize("event_file", ["manual-level-1.json", "kill-switch.json", "manual-recover.json"])
def test_a_scope_of_another_service_or_environment_is_refused_audited_and_counted(
    world: World, capsys: pytest.CaptureFixture[str], scope: str, refused: str, event_file: str
) -> None:
    # Given a stack that owns recommender/prod
    # When an operator asks for a level, the kill switch or a recovery of another service's or
    # environment's scope
    answer = manual_rollback.handler(signed({**load_event(event_file), "scope": scope}), FakeContext())
    # Then it is refused (400) with the reason, counted, and audited once; no record, execution or deployment
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["error"] == ForeignScopeError.__name__
    assert refused in json.loads(answer["body"])["message"]
    assert '"ManualRequestsRefused"' in capsys.readouterr().out
    assert audit_actions(world) == ["request:refused"]
    assert world.client("dynamodb").scan(TableName="state")["Items"] == []
    assert executions(world) == []


def test_manual_recover_is_an_audited_override_that_restores_the_toggles(world: World) -> None:
    # Given level 2 applied in eu-west-1
    started = invoke(load_event("manual-level-2.json"))
    state = execution_input(world, started["incident_id"])
    plan(state, "begin")
    deploy_until_complete(world, state)
    assert plan(state, "applied")["state"] == "ROLLED_BACK"
    assert current_document(world)["overrides"]
    # When the operator recovers the scope by hand
    result = invoke(load_event("manual-recover.json"))
    # Then the scope is NORMAL, the execution is stopped, the pre-incident toggles are deploying, all audited
    assert (result["state"], result["override"]) == ("NORMAL", True)
    assert result["deployment"]["strategy"] == world.env["APPCONFIG_GRADUAL_STRATEGY_ID"]
    assert executions(world)[0]["status"] in ("ABORTED", "SUCCEEDED")
    actions = audit_actions(world)
    assert "transition:MANUAL_OVERRIDE" in actions
    # (the close-out follows the restore: notifications, then the report; see test_recover_closeout.py)
    assert actions.index("toggles:restore") < actions.index("report:written") == len(actions) - 1
    world.clock.advance(16 * 60)
    assert current_document(world)["overrides"] == []


def test_recover_of_a_normal_scope_is_refused(world: World) -> None:
    # Given a NORMAL scope
    # When the operator asks to recover it
    with pytest.raises(ManualRequestError, match="already NORMAL"):
        invoke(load_event("manual-recover.json"))
    # Then nothing changed
    _nothing_changed(world)
