"""The AWS adapters against moto (and failsafe's local AppConfig), one behaviour per test."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from tests.integration.handlers.helpers import world_deployer
from tests.integration.handlers.world import REGION, ROUTING_KEY, World

from failsafe.aws.appconfig_deployer import (
    DeploymentConflictError,
    DeploymentRolledBackError,
)
from failsafe.aws.audit_log import AuditLog
from failsafe.aws.notifier import MESSAGE_SCHEMA, Notification, Notifier
from failsafe.aws.pagerduty import PagerDutyClient, PagerDutyError, PagerDutyEvent, pagerduty_severity
from failsafe.aws.releases import ReleaseManager
from failsafe.aws.state_store import StateStore
from failsafe.controller.runtime import shared_client
from failsafe.domain.audit import GENESIS, AuditEvent
from failsafe.domain.lifecycle import LifecycleState
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.records import ConcurrentUpdateError, ScopeRecord
from failsafe.domain.scope import Scope

SCOPE = Scope.parse("recommender/prod/region=eu-west-1")


def _ddb() -> Any:
    return shared_client("dynamodb", REGION)


# -- state store ------------------------------------------------------------------------------------


def test_state_store_creates_then_rejects_a_second_create(world: World) -> None:
    # Given an empty state table
    store = StateStore(_ddb(), "state", DEFAULT_PLAN)
    record = ScopeRecord.fresh(SCOPE, DEFAULT_PLAN)
    # When two writers both create the scope's record
    stored = store.put(record, expected_version=None)
    # Then the first wins with version 1 and the second gets a typed conflict
    assert stored.version == 1
    with pytest.raises(ConcurrentUpdateError, match="expected the record absent"):
        store.put(record, expected_version=None)
    assert store.get(SCOPE.key) == stored


def test_state_store_optimistic_concurrency_conflict_leaves_the_winner(world: World) -> None:
    # Given a stored record read by two writers at version 1
    store = StateStore(_ddb(), "state", DEFAULT_PLAN)
    first = store.put(ScopeRecord.fresh(SCOPE, DEFAULT_PLAN), expected_version=None)
    lifecycle = first.lifecycle.model_copy(update={"state": LifecycleState.DEGRADED})
    # When both write based on version 1
    winner = store.save(first, first.model_copy(update={"lifecycle": lifecycle, "reason": "winner"}))
    # Then the second write fails and the stored record is the winner's
    with pytest.raises(ConcurrentUpdateError, match="at version 1"):
        store.save(first, first.model_copy(update={"reason": "loser"}))
    got = store.get(SCOPE.key)
    assert got is not None
    assert (
        (got.version, got.reason, got.state)
        == (2, "winner", "DEGRADED")
        == (winner.version, "winner", "DEGRADED")
    )


def test_state_store_mutate_retries_after_a_conflict(world: World) -> None:
    # Given a record and a change function that loses one race
    store = StateStore(_ddb(), "state", DEFAULT_PLAN)
    store.put(ScopeRecord.fresh(SCOPE, DEFAULT_PLAN), expected_version=None)
    calls: list[int] = []

    def change(record: ScopeRecord) -> ScopeRecord:
        calls.append(record.version)
        if len(calls) == 1:  # someone else writes between our read and our write
            store.save(record, record.model_copy(update={"reason": "other"}))
        return record.model_copy(update={"requested_by": "me"})

    # When mutating
    result = store.mutate(SCOPE, change)
    # Then it re-read (version 2) and applied the change on top of the other write
    assert calls == [1, 2]
    assert (result.version, result.reason, result.requested_by) == (3, "other", "me")


# -- audit log --------------------------------------------------------------------------------------


def _filled_log(n: int = 4) -> AuditLog:
    log = AuditLog(_ddb(), "audit")
    for i in range(n):
        log.append(
            AuditEvent(
                action=f"step{i}", actor="alice", reason=f"why {i}", before={"i": i}, after={"i": i + 1}
            ),
            at=datetime(2026, 1, 1, 0, i, tzinfo=UTC),
        )
    return log


def test_audit_chain_links_each_entry_to_the_previous_hash(world: World) -> None:
    # Given four appended entries
    log = _filled_log()
    # When reading them back
    entries = log.entries()
    # Then they are numbered 1..4, chained by hash, and verify
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert log.verify().ok


def test_audit_detects_a_tampered_entry(world: World) -> None:
    # Given a verified chain
    log = _filled_log()
    ddb = _ddb()
    item = ddb.get_item(TableName="audit", Key={"chain": {"S": "failsafe"}, "seq": {"N": "2"}})["Item"]
    body = json.loads(item["entry"]["S"])
    # When someone edits entry 2's reason in place
    body["reason"] = "nothing to see here"
    item["entry"] = {"S": json.dumps(body)}
    ddb.put_item(TableName="audit", Item=item)
    # Then verification names entry 2 as tampered
    result = log.verify()
    assert not result.ok
    assert [(p.seq, "tampered" in p.problem) for p in result.problems] == [(2, True)]


def test_audit_detects_a_deleted_entry(world: World) -> None:
    # Given a chain of four
    log = _filled_log()
    # When entry 3 is deleted
    _ddb().delete_item(TableName="audit", Key={"chain": {"S": "failsafe"}, "seq": {"N": "3"}})
    # Then verification reports the gap and the broken link at 4
    problems = log.verify().problems
    assert any(p.seq == 4 and "missing before 4: 3" in p.problem for p in problems)
    assert any(p.seq == 4 and "prev_hash" in p.problem for p in problems)


def test_audit_detects_reordered_entries(world: World) -> None:
    # Given a chain of four
    log = _filled_log()
    ddb = _ddb()
    second = ddb.get_item(TableName="audit", Key={"chain": {"S": "failsafe"}, "seq": {"N": "2"}})["Item"]
    third = ddb.get_item(TableName="audit", Key={"chain": {"S": "failsafe"}, "seq": {"N": "3"}})["Item"]
    # When entries 2 and 3 swap places
    second["seq"], third["seq"] = third["seq"], second["seq"]
    ddb.put_item(TableName="audit", Item=second)
    ddb.put_item(TableName="audit", Item=third)
    # Then verification flags both positions
    flagged = {p.seq for p in log.verify().problems}
    assert {2, 3} <= flagged


def test_audit_entries_cannot_be_overwritten_by_the_adapter(world: World) -> None:
    # Given an entry at seq 1
    log = _filled_log(1)
    # When a conditional put tries the same seq again
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        _ddb().put_item(
            TableName="audit",
            Item={"chain": {"S": "failsafe"}, "seq": {"N": "1"}, "entry": {"S": "{}"}},
            ConditionExpression="attribute_not_exists(seq)",
        )
    # Then the original entry is intact and the next append goes to seq 2
    assert log.append(AuditEvent(action="next", actor="bob")).seq == 2
    assert log.verify().ok


# -- AppConfig deployer -----------------------------------------------------------------------------


def test_deployer_deploys_immediately_to_complete_and_reads_it_back(world: World) -> None:
    # Given nothing deployed yet
    deployer = world_deployer(world)
    assert deployer.latest_complete_version() is None
    # When deploying a document with the immediate strategy
    status = deployer.deploy(
        {"hello": "world"}, strategy_id=deployer.target.immediate_strategy_id, description="test"
    )
    # Then it is COMPLETE, it is the latest complete version, and its content round-trips
    assert status.complete
    assert deployer.latest_complete_version() == status.config_version
    assert deployer.read_version(status.config_version) == {"hello": "world"}


def test_deployer_gradual_waits_on_the_clock(world: World) -> None:
    # Given a gradual strategy of 10 minutes + 5 minutes bake
    deployer = world_deployer(world)
    started = world.clock.time()
    # When deploying with it and waiting
    status = deployer.deploy({"v": 2}, strategy_id=deployer.target.gradual_strategy_id, description="restore")
    # Then it completes only after the simulated 15 minutes have passed
    assert status.complete
    assert world.clock.time() - started >= 15 * 60


def test_deployer_conflict_backs_off_then_raises(world: World) -> None:
    # Given a gradual deployment in progress
    deployer = world_deployer(world)
    version = deployer.create_version({"v": 1}, "first")
    deployer.start(version, deployer.target.gradual_strategy_id, "slow")
    before = world.clock.time()
    # When another deployment starts with 3 attempts
    with pytest.raises(DeploymentConflictError, match="another deployment is in progress"):
        deployer.start(version, deployer.target.immediate_strategy_id, "blocked", attempts=3, base_delay=2)
    # Then it slept 2 + 4 simulated seconds between attempts
    assert world.clock.time() - before == pytest.approx(6)


def test_deployer_detects_a_rollback_by_a_monitor(world: World) -> None:
    # Given an environment monitored by an alarm that is in ALARM
    env = world.env
    appconfig = shared_client("appconfig", REGION)
    alarm_arn = shared_client("cloudwatch", REGION).describe_alarms(
        AlarmNames=["failsafe-recommender-prod-coverage-p1"]
    )["MetricAlarms"][0]["AlarmArn"]
    appconfig.update_environment(
        ApplicationId=env["APPCONFIG_APPLICATION_ID"],
        EnvironmentId=env["APPCONFIG_ENVIRONMENT_ID"],
        Monitors=[{"AlarmArn": alarm_arn, "AlarmRoleArn": "arn:aws:iam::123456789012:role/monitor"}],
    )
    world.set_alarm("coverage-p1", "ALARM")
    deployer = world_deployer(world)
    # When a gradual deployment runs
    version = deployer.create_version({"v": 1}, "monitored")
    number = deployer.start(version, deployer.target.gradual_strategy_id, "monitored")
    # Then waiting reports ROLLED_BACK instead of COMPLETE
    with pytest.raises(DeploymentRolledBackError, match="ROLLED_BACK"):
        deployer.wait(number, timeout=3600, poll=30)


# -- SNS notifier -----------------------------------------------------------------------------------


def test_sns_message_is_structured_with_a_human_subject(world: World) -> None:
    # Given a notification about a transition
    note = Notification(
        event="stage_applied",
        incident_id="inc-1",
        scope="recommender/prod",
        state_before="ROLLBACK_PENDING",
        state_after="ROLLED_BACK",
        stage="stage_2",
        severity="P1",
        kind="coverage",
        reason="coverage-p1 fired",
    )
    # When it is published
    Notifier(shared_client("sns", REGION), world.env["TOPIC_ARN"]).publish(note)
    # Then the subscriber gets a short subject and the JSON message with its schema
    [delivered] = world.sns_messages()
    assert (
        delivered["Subject"]
        == "[failsafe] P1 coverage recommender/prod: ROLLBACK_PENDING -> ROLLED_BACK (stage_2)"
    )
    message = json.loads(delivered["Message"])
    assert message["schema"] == MESSAGE_SCHEMA
    assert (message["incident_id"], message["state_after"], message["stage"]) == (
        "inc-1",
        "ROLLED_BACK",
        "stage_2",
    )


def test_sns_subject_is_clipped_to_100_ascii_characters() -> None:
    # Given a very long scope and a non-ASCII reason
    note = Notification(event="x", scope="s/" + "é" * 300, state_after="NORMAL")
    # When the subject is rendered
    subject = note.subject()
    # Then it fits SNS's limit and is printable ASCII
    assert len(subject) <= 100
    assert subject.isascii()
    assert "\n" not in subject


# -- PagerDuty --------------------------------------------------------------------------------------


def _pd(world: World, **kwargs: Any) -> PagerDutyClient:
    secrets = SecretsProvider(boto3_client=shared_client("secretsmanager", REGION))
    return PagerDutyClient(
        secrets,
        world.env["PAGERDUTY_SECRET_ARN"],
        base_url=world.pagerduty.url,
        sleep=world.clock.sleep,
        **kwargs,
    )


def _page(severity: str = "P1") -> PagerDutyEvent:
    return PagerDutyEvent(
        incident_id="inc-20260101T000000Z-abcdef12",
        summary="failsafe recommender/prod: rollback started",
        source="failsafe/recommender/prod",
        severity=pagerduty_severity(severity),
        component="recommender",
        group="prod",
        event_class="coverage",
        custom_details={"stage": "stage_2"},
    )


def test_pagerduty_trigger_and_resolve_share_the_dedup_key(world: World) -> None:
    # Given the local PagerDuty server that validates the v2 schema
    client = _pd(world)
    # When triggering and resolving one incident
    client.trigger(_page())
    client.resolve(_page())
    # Then both were accepted, with the routing key from Secrets Manager and dedup_key = incident id
    trigger, resolve = world.pagerduty.received
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == "inc-20260101T000000Z-abcdef12"
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["class"] == "coverage"
    assert "payload" not in resolve


@pytest.mark.parametrize(
    ("trigger", "expected"), [("critical", "critical"), ("P1", "error"), ("P2", "warning"), ("other", "info")]
)
def test_pagerduty_severity_mapping(trigger: str, expected: str) -> None:
    # Given a trigger severity from the catalog
    # When mapped to PagerDuty
    # Then critical pages as critical, P1 as error, P2 as warning, anything else as info
    assert pagerduty_severity(trigger) == expected


def test_pagerduty_retries_server_errors_with_backoff(world: World) -> None:
    # Given a server failing twice with 500 and 429
    world.pagerduty.fail_next.extend([500, 429])
    client = _pd(world, base_delay=1.0)
    before = world.clock.time()
    # When triggering
    client.trigger(_page())
    # Then the third attempt succeeds after 1 + 2 seconds of backoff
    assert len(world.pagerduty.received) == 1
    assert world.clock.time() - before == pytest.approx(3)


def test_pagerduty_rejection_is_a_clear_error_without_the_routing_key(world: World) -> None:
    # Given a routing key PagerDuty rejects (wrong length)
    shared_client("secretsmanager", REGION).put_secret_value(
        SecretId=world.env["PAGERDUTY_SECRET_ARN"], SecretString="short-key"
    )
    client = _pd(world)
    # When triggering
    with pytest.raises(PagerDutyError) as error:
        client.trigger(_page())
    # Then the error names the problem and never contains the key
    assert "routing_key" in str(error.value)
    assert "short-key" not in str(error.value)


# -- releases ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "previous"), [("3", "2"), ("2", "1"), ("1", None), ("$LATEST", None)])
def test_release_previous_version(version: str, previous: str | None) -> None:
    # Given a function version
    # When asking for the one before it
    # Then it is the previous published number, or None when there is none
    assert ReleaseManager.previous(version) == previous


def test_release_revert_points_the_alias_back(world: World) -> None:
    # Given a function with two published versions and its alias on the second
    lam = shared_client("lambda", REGION)
    iam = shared_client("iam", REGION)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(
        FunctionName="rec", Runtime="python3.11", Role=role, Handler="h.h", Code={"ZipFile": b"x"}
    )
    lam.publish_version(FunctionName="rec")
    lam.update_function_configuration(FunctionName="rec", Description="v2")
    lam.publish_version(FunctionName="rec")
    lam.create_alias(FunctionName="rec", Name="live", FunctionVersion="2")
    releases = ReleaseManager(lam, "rec", "live")
    # When reverting to version 1
    before = releases.revert_to("1")
    # Then the alias moved and the old version is reported
    assert (before, releases.current()) == ("2", "1")
