"""The manual recover does the close-out the stopped execution never reaches: monitors, page, SNS, report."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.unit.handlers.conftest import World, load_event
from tests.unit.handlers.helpers import (
    current_document,
    execution_input,
    ingest,
    notify_event,
    plan,
    principal_arn,
    signed,
    state_record,
    task,
)

from failsafe.handlers import apply_toggles, manual_rollback

SCOPE = "recommender/prod"
RECOVER = {
    "action": "recover",
    "scope": SCOPE,
    "reason": "false alarm",
    "requested_by": principal_arn("alice"),
}


def _audit(world: World) -> list[dict[str, Any]]:
    items = world.client("dynamodb").scan(TableName="audit")["Items"]
    entries = [json.loads(i["entry"]["S"]) for i in sorted(items, key=lambda i: int(i["seq"]["N"]))]
    return [{"action": e["action"], "actor": e["actor"]} for e in entries]


def _monitors(world: World, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """Attach one guardrail monitor to the environment and tell the controller about it."""
    alarm_arn = world.client("cloudwatch").describe_alarms(
        AlarmNames=["failsafe-recommender-prod-coverage-p1"]
    )["MetricAlarms"][0]["AlarmArn"]
    monitors = [{"AlarmArn": alarm_arn, "AlarmRoleArn": "arn:aws:iam::123456789012:role/monitor"}]
    world.client("appconfig").update_environment(**_env_ids(world), Monitors=monitors)
    monkeypatch.setenv("APPCONFIG_MONITORS", json.dumps(monitors))
    return monitors


def _env_ids(world: World) -> dict[str, str]:
    return {
        "ApplicationId": world.env["APPCONFIG_APPLICATION_ID"],
        "EnvironmentId": world.env["APPCONFIG_ENVIRONMENT_ID"],
    }


def _rollback_deployed(world: World) -> dict[str, Any]:
    """A P1 coverage incident whose immediate rollback deployment ran; its check step never ran."""
    started = ingest(load_event("alarm-coverage-p1.json"))
    state = execution_input(world, started["incident_id"])
    plan(state, "begin")
    notify_event(state, "rollback_started")
    state["deployment"] = task(apply_toggles, "apply", state)
    world.clock.advance(5)
    assert current_document(world)["overrides"], "the rollback toggles are in force"
    world.sns_messages()
    return state


def test_recover_reattaches_the_monitors_before_the_restore(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given guardrail monitors that the incident's immediate rollback deployment detached
    monitors = _monitors(world, monkeypatch)
    _rollback_deployed(world)
    assert world.client("appconfig").get_environment(**_env_ids(world)).get("Monitors", []) == []

    # When the operator recovers the scope before the execution's check step re-attached them
    result = manual_rollback.dispatch(signed(RECOVER))

    # Then the monitors are attached again, by the operator, before the restore deployment started
    assert world.client("appconfig").get_environment(**_env_ids(world))["Monitors"] == monitors
    assert result["deployment"]["strategy"] == world.env["APPCONFIG_GRADUAL_STRATEGY_ID"]
    audit = _audit(world)
    actions = [a["action"] for a in audit]
    attached = actions.index("appconfig:monitors_attached")
    assert attached < actions.index("toggles:restore")
    assert audit[attached]["actor"] == principal_arn("alice")
    # ... and the guarded restore takes the rollback toggles out
    world.clock.advance(16 * 60)
    assert current_document(world)["overrides"] == []


def test_recover_resolves_the_page_and_tells_sns(world: World) -> None:
    # Given an incident that paged (PagerDuty trigger sent)
    state = _rollback_deployed(world)
    assert [b["event_action"] for b in world.pagerduty.received] == ["trigger"]

    # When the operator recovers the scope by hand
    result = manual_rollback.dispatch(signed(RECOVER))

    # Then PagerDuty gets the resolve for the same incident (dedup key), and SNS the closing message
    trigger, resolve = world.pagerduty.received
    assert resolve["event_action"] == "resolve"
    assert resolve["dedup_key"] == trigger["dedup_key"] == state["incident_id"]
    [message] = [json.loads(m["Message"]) for m in world.sns_messages()]
    assert message["event"] == "manual_override"
    assert message["incident_id"] == state["incident_id"]
    assert message["state_after"] == "NORMAL"
    assert message["actor"] == principal_arn("alice")
    assert result["notification"]["sent"] == ["sns", "pagerduty:resolve"]
    # ... audited like the state machine's Notify task
    sent = [a for a in _audit(world) if a["action"] == "notification:sent"]
    assert len(sent) >= 4  # trigger + SNS at the start, SNS + resolve at the recover
    record = state_record(world, SCOPE)
    assert record is not None
    assert record["lifecycle"]["state"] == "NORMAL"


def test_recover_writes_the_incident_report(world: World) -> None:
    # Given an incident with its rollback deployed
    state = _rollback_deployed(world)

    # When the operator recovers the scope by hand
    result = manual_rollback.dispatch(signed(RECOVER))

    # Then the incident report is written to S3, as the state machine's IncidentReport task does, and audited
    assert result["report"] is not None
    body = world.client("s3").get_object(Bucket="reports", Key=result["report"]["json_key"])["Body"].read()
    report = json.loads(body)
    assert report["incident_id"] == state["incident_id"]
    assert report["final_state"] == "NORMAL"
    assert report["source"] == "alarm"
    assert report["trigger"]["severity"] == state["trigger"]["severity"]
    assert "transition:MANUAL_OVERRIDE" in [t["what"] for t in report["timeline"]]
    assert [a["action"] for a in _audit(world)][-1] == "report:written"


def test_a_failed_report_is_audited_and_the_recover_still_succeeds(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an incident with its rollback deployed, and no report bucket
    _rollback_deployed(world)
    world.client("s3").delete_bucket(Bucket="reports")

    # When the operator recovers the scope by hand
    result = manual_rollback.dispatch(signed(RECOVER))

    # Then the scope is NORMAL, the page resolved, and the report failure is audited with its cause
    assert (result["state"], result["report"]) == ("NORMAL", None)
    assert "pagerduty:resolve" in result["notification"]["sent"]
    assert [a["action"] for a in _audit(world)][-1] == "report:failed"


def test_recover_while_another_deployment_runs_changes_nothing_and_says_when_to_retry(world: World) -> None:
    # Given an incident with its rollback in force, and a 15-minute deployment of the environment running
    _rollback_deployed(world)
    before = state_record(world, SCOPE)
    appconfig = world.client("appconfig")
    version = appconfig.create_hosted_configuration_version(
        ApplicationId=world.env["APPCONFIG_APPLICATION_ID"],
        ConfigurationProfileId=world.env["APPCONFIG_PROFILE_ID"],
        Content=json.dumps(current_document(world)).encode(),
        ContentType="application/json",
    )["VersionNumber"]
    appconfig.start_deployment(
        **_env_ids(world),
        DeploymentStrategyId=world.env["APPCONFIG_GRADUAL_STRATEGY_ID"],
        ConfigurationProfileId=world.env["APPCONFIG_PROFILE_ID"],
        ConfigurationVersion=str(version),
    )

    # When the operator recovers the scope by hand
    # Then it is refused with the deployment named and when to retry, and the scope is exactly as it was
    with pytest.raises(ValueError, match=r"is DEPLOYING; .* nothing was changed\. Recover again once"):
        manual_rollback.dispatch(signed(RECOVER))
    assert state_record(world, SCOPE) == before
    assert current_document(world)["overrides"]
