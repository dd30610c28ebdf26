"""PlanStage, ApplyToggles, HealthCheck and Notify, driven step by step as the state machine drives them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.unit.handlers.conftest import World, load_event
from tests.unit.handlers.helpers import (
    audit_actions,
    current_document,
    deploy_until_complete,
    execution_input,
    health,
    ingest,
    notify_event,
    plan,
    principal_arn,
    signed,
    state_record,
    task,
)

from failsafe.aws.appconfig_deployer import DeploymentConflictError, DeploymentTimeoutError
from failsafe.handlers import apply_toggles, manual_rollback
from failsafe.handlers._common import reset_runtimes

SCOPE = "recommender/prod"


def _open_p2(world: World) -> dict[str, Any]:
    started = ingest(load_event("alarm-latency-p2.json"))
    state = execution_input(world, started["incident_id"])
    world.set_alarm("latency-p2", "ALARM")
    return state


def _lifecycle(world: World) -> dict[str, Any]:
    record = state_record(world, SCOPE)
    assert record is not None
    life: dict[str, Any] = record["lifecycle"]
    return life


def test_p2_applies_stage_1_then_escalates_to_stage_2_after_its_deadline(world: World) -> None:
    # Given a P2 incident whose alarm keeps firing
    state = _open_p2(world)
    # When the controller plans, deploys and checks health
    assert plan(state, "begin")["overlay_stages"] == ["stage_1"]
    deploy_until_complete(world, state)
    applied = plan(state, "applied")
    # Then stage 1 is in force: DEGRADED, 75 % exposure in the scope, and the pre-incident version recorded
    assert (applied["state"], applied["next_step"]) == ("DEGRADED", "hold")
    document = current_document(world)
    [override] = document["overrides"]
    assert override["toggles"]["exposure_percent"] == 75
    assert override["toggles"]["cache_mode"] == "warm_only"
    assert health(state)["status"] == "FIRING"
    # When the stage's deadline passes with the alarm still firing
    world.clock.advance(301)
    # Then it escalates to stage 2 (content-only, CF off) and holds it as ROLLED_BACK
    assert health(state)["status"] == "ESCALATE"
    assert plan(state, "plan")["overlay_stages"] == ["stage_2"]
    deploy_until_complete(world, state)
    assert plan(state, "applied")["state"] == "ROLLED_BACK"
    [override] = current_document(world)["overrides"]
    assert (override["toggles"]["policy_mode"], override["toggles"]["disable_cf"]) == ("content_only", True)
    assert override["stage"] == "stage_2"
    assert "toggles:deploy" in audit_actions(world)


def _rolled_back(world: World) -> dict[str, Any]:
    state = _open_p2(world)
    plan(state, "begin")
    deploy_until_complete(world, state)
    plan(state, "applied")
    return state


def test_green_for_the_verify_window_restores_gradually_and_returns_to_normal(world: World) -> None:
    # Given stage 1 in force, every guardrail OK and the scope serving requests
    state = _rolled_back(world)
    world.set_alarm("latency-p2", "OK")
    world.serve_requests()
    # When health is checked: verification starts, and is not done one second before the window ends
    assert health(state)["status"] == "VERIFYING"
    assert _lifecycle(world)["state"] == "RECOVERY_VERIFY"
    world.clock.advance(899)
    assert health(state)["status"] == "VERIFYING"
    world.clock.advance(1)
    world.serve_requests()
    # Then at 15 minutes it is RECOVERED, the restore goes out gradually and the scope returns to NORMAL
    assert health(state)["status"] == "RECOVERED"
    before = world.clock.time()
    deployment = deploy_until_complete(world, state, "restore")
    assert deployment["kind"] == "restore"
    assert world.clock.time() - before >= 15 * 60  # gradual: 10 min + 5 min bake
    done = plan(state, "normal")
    assert (done["state"], done["next_step"]) == ("NORMAL", "done")
    assert current_document(world)["overrides"] == []
    record = state_record(world, SCOPE)
    assert record is not None
    assert record["last_known_good_version"] == deployment["config_version"]


def test_refire_during_verification_goes_back_with_a_longer_window(world: World) -> None:
    # Given a scope in RECOVERY_VERIFY
    state = _rolled_back(world)
    world.set_alarm("latency-p2", "OK")
    world.serve_requests()
    health(state)
    # When the alarm fires again during the window
    world.clock.advance(300)
    world.set_alarm("latency-p2", "ALARM")
    result = health(state)
    # Then it is back at the same stage, held, with the verify window doubled (hysteresis)
    assert result["transitioned"] is True
    life = _lifecycle(world)
    assert (life["state"], life["stage"], life["verify_window_seconds"], life["refires"]) == (
        "DEGRADED",
        "stage_1",
        1800,
        1,
    )
    # And after it is green again, 15 minutes are no longer enough
    world.set_alarm("latency-p2", "OK")
    world.serve_requests()
    health(state)
    world.clock.advance(900)
    world.serve_requests()
    assert health(state)["status"] == "VERIFYING"
    world.clock.advance(900)
    world.serve_requests()
    assert health(state)["status"] == "RECOVERED"


def _monitor_with(world: World, rule: str) -> None:
    """Make the guardrail alarm of `rule` the AppConfig environment's monitor."""
    env = world.env
    alarm_arn = world.client("cloudwatch").describe_alarms(AlarmNames=[f"failsafe-recommender-prod-{rule}"])[
        "MetricAlarms"
    ][0]["AlarmArn"]
    world.client("appconfig").update_environment(
        ApplicationId=env["APPCONFIG_APPLICATION_ID"],
        EnvironmentId=env["APPCONFIG_ENVIRONMENT_ID"],
        Monitors=[{"AlarmArn": alarm_arn, "AlarmRoleArn": "arn:aws:iam::123456789012:role/monitor"}],
    )


def test_a_deployment_rolled_back_by_appconfig_is_retried_then_escalated(world: World) -> None:
    # Given a P2 incident whose deployments AppConfig keeps rolling back
    state = _open_p2(world)
    plan(state, "begin")
    _monitor_with(world, "coverage-p1")
    world.set_alarm("coverage-p1", "ALARM")
    attempts = 0
    while True:
        state["deployment"] = task(apply_toggles, "apply", state)
        world.clock.advance(5)
        state["deployment"] = task(apply_toggles, "check", state)
        attempts += 1
        assert state["deployment"]["rolled_back"] is True
        if not state["deployment"]["retry"]:
            break
    # When the retries are exhausted and the failure is planned
    failed = plan(state, "apply_failed")
    # Then it tried 4 times, escalated to stage 2 and never claimed ROLLED_BACK
    assert attempts == 4
    assert (failed["state"], failed["stage"], failed["next_step"]) == ("ROLLBACK_PENDING", "stage_2", "apply")
    assert _lifecycle(world)["applied_stage"] is None
    assert audit_actions(world).count("toggles:rolled_back") == 4


def test_a_stage_that_needed_retries_leaves_the_next_stage_all_of_its_own(world: World) -> None:
    # Given a P2 incident whose first deployment AppConfig rolls back once (a monitor in ALARM)
    state = _open_p2(world)
    plan(state, "begin")
    _monitor_with(world, "coverage-p1")
    world.set_alarm("coverage-p1", "ALARM")
    state["deployment"] = task(apply_toggles, "apply", state)
    world.clock.advance(5)
    assert task(apply_toggles, "check", state)["rolled_back"] is True
    # When the retry completes and stage 1 is in force
    world.set_alarm("coverage-p1", "OK")
    assert deploy_until_complete(world, state)["attempt"] == 2
    plan(state, "applied")
    # Then escalating to stage 2 starts again at attempt 1
    world.clock.advance(301)
    assert health(state)["status"] == "ESCALATE"
    plan(state, "plan")
    assert task(apply_toggles, "apply", state)["attempt"] == 1


def test_a_concurrent_deployment_raises_a_retryable_conflict(world: World) -> None:
    # Given another deployment in progress in the environment
    state = _open_p2(world)
    plan(state, "begin")
    env = world.env
    appconfig = world.client("appconfig")
    version = appconfig.create_hosted_configuration_version(
        ApplicationId=env["APPCONFIG_APPLICATION_ID"],
        ConfigurationProfileId=env["APPCONFIG_PROFILE_ID"],
        Content=b"{}",
        ContentType="application/json",
    )["VersionNumber"]
    appconfig.start_deployment(
        ApplicationId=env["APPCONFIG_APPLICATION_ID"],
        EnvironmentId=env["APPCONFIG_ENVIRONMENT_ID"],
        DeploymentStrategyId=env["APPCONFIG_GRADUAL_STRATEGY_ID"],
        ConfigurationProfileId=env["APPCONFIG_PROFILE_ID"],
        ConfigurationVersion=str(version),
    )
    # When the controller applies
    with pytest.raises(DeploymentConflictError):
        task(apply_toggles, "apply", state)
    # Then the scope is unchanged (still pending stage 1, nothing in force)
    life = _lifecycle(world)
    assert (life["state"], life["applied_stage"]) == ("DEGRADED", None)


def test_a_rollback_deployment_still_running_past_its_stage_target_fails_loudly(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a P2 incident whose "immediate" strategy is in fact a 10-minute linear one
    monkeypatch.setenv("APPCONFIG_IMMEDIATE_STRATEGY_ID", world.env["APPCONFIG_GRADUAL_STRATEGY_ID"])
    reset_runtimes()
    state = _open_p2(world)
    plan(state, "begin")
    state["deployment"] = task(apply_toggles, "apply", state)
    # When the deployment is still running at stage 1's 120 s target
    world.clock.advance(119)
    assert task(apply_toggles, "check", state)["state"] == "DEPLOYING"
    world.clock.advance(2)
    # Then the check raises, naming the deployment and its deadline, so the state machine pages a human
    with pytest.raises(DeploymentTimeoutError, match=r"deployment 1 still DEPLOYING .* after its deadline"):
        task(apply_toggles, "check", state)


def test_notifications_go_to_sns_and_pagerduty_and_resolve_at_the_end(world: World) -> None:
    # Given a P2 incident
    state = _open_p2(world)
    plan(state, "begin")
    # When the rollback starts and later resolves
    started = notify_event(state, "rollback_started")
    state["plan"] = {**state["plan"], "next_step": "done", "state": "NORMAL"}
    resolved = notify_event(state, "resolved")
    # Then SNS carried both, and PagerDuty got a trigger and a resolve with dedup_key = incident id
    assert started["sent"] == ["sns", "pagerduty:trigger"]
    assert resolved["sent"] == ["sns", "pagerduty:resolve"]
    messages = [json.loads(m["Message"]) for m in world.sns_messages()]
    assert [m["event"] for m in messages] == ["rollback_started", "resolved"]
    trigger, resolve = world.pagerduty.received
    assert trigger["dedup_key"] == resolve["dedup_key"] == state["incident_id"]
    assert trigger["payload"]["severity"] == "warning"  # P2


def test_a_failed_page_is_recorded_and_alarmed_but_not_raised(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given PagerDuty answering 500 to every attempt
    state = _open_p2(world)
    plan(state, "begin")
    world.pagerduty.fail_next.extend([500] * 4)
    # When the rollback start is notified
    result = notify_event(state, "rollback_started")
    # Then SNS still went out, the page failure is audited and counted, and nothing raised
    assert result["sent"] == ["sns"]
    assert result["failed"] == ["pagerduty:trigger"]
    assert "notification:failed" in audit_actions(world)
    assert '"NotificationFailed"' in capsys.readouterr().out


def test_a_rollback_deploys_while_the_guardrails_alarm_and_the_monitors_come_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an environment monitored by a P1 guardrail that is in ALARM, and the controller told about it
    env = world.env
    alarm_arn = world.client("cloudwatch").describe_alarms(
        AlarmNames=["failsafe-recommender-prod-coverage-p1"]
    )["MetricAlarms"][0]["AlarmArn"]
    monitors = [{"AlarmArn": alarm_arn, "AlarmRoleArn": "arn:aws:iam::123456789012:role/monitor"}]
    appconfig = world.client("appconfig")
    ids = {"ApplicationId": env["APPCONFIG_APPLICATION_ID"], "EnvironmentId": env["APPCONFIG_ENVIRONMENT_ID"]}
    appconfig.update_environment(**ids, Monitors=monitors)
    monkeypatch.setenv("APPCONFIG_MONITORS", json.dumps(monitors))
    started = ingest(load_event("alarm-coverage-p1.json"))
    world.set_alarm("coverage-p1", "ALARM")
    state = execution_input(world, started["incident_id"])
    plan(state, "begin")
    # When the stage 2 rollback is deployed
    deployment = deploy_until_complete(world, state)
    # Then AppConfig did not roll it back, the monitors are attached again, and both moves are audited
    assert deployment["state"] == "COMPLETE"
    assert appconfig.get_environment(**ids)["Monitors"] == monitors
    actions = audit_actions(world)
    assert actions.index("appconfig:monitors_detached") < actions.index("appconfig:monitors_attached")
    assert plan(state, "applied")["state"] == "ROLLED_BACK"


def test_a_more_severe_alarm_during_an_incident_is_applied_by_the_running_execution(world: World) -> None:
    # Given stage 1 in force for a P2 incident
    state = _rolled_back(world)
    # When a P1 coverage alarm arrives for the same scope
    ingest(load_event("alarm-coverage-p1.json"))
    # Then the execution's next health check asks for stage 2 and the plan deploys it
    assert health(state)["status"] == "ESCALATE"
    assert plan(state, "plan")["overlay_stages"] == ["stage_2"]
    deploy_until_complete(world, state)
    assert plan(state, "applied")["state"] == "ROLLED_BACK"


def test_health_check_ends_when_the_incident_was_closed_by_hand(world: World) -> None:
    # Given stage 1 in force
    state = _rolled_back(world)
    # When the operator recovers the scope by hand
    manual_rollback.dispatch(
        signed(
            {
                "action": "recover",
                "scope": SCOPE,
                "reason": "fixed",
                "requested_by": principal_arn("alice"),
            }
        )
    )
    # Then the running execution's next health check ends it
    assert health(state)["status"] == "ENDED"
