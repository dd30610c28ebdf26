"""AlarmIngest with the sample events from events/."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from tests.integration.handlers.helpers import audit_actions, executions, ingest, state_record
from tests.integration.handlers.world import World, load_event

from failsafe.controller.ingest import ingest as controller_ingest
from failsafe.handlers._common import runtime
from failsafe.handlers.alarm_ingest import AlarmIngestEnv


def _variant(event: dict[str, Any], i: int, minute: int) -> dict[str, Any]:
    clone = copy.deepcopy(event)
    clone["id"] = f"dup-{i}"
    clone["detail"]["state"]["timestamp"] = f"2026-01-01T00:{minute:02d}:00.000+0000"
    return clone


def test_p2_latency_alarm_claims_the_scope_and_starts_one_execution(world: World) -> None:
    # Given a NORMAL scope
    event = load_event("alarm-latency-p2.json")
    # When the latency P2 alarm state change arrives
    result = ingest(event)
    # Then the scope is DEGRADED at stage 1 and one execution named with the incident id runs
    assert result["outcome"] == "started"
    record = state_record(world, "recommender/prod")
    assert record is not None
    assert (record["lifecycle"]["state"], record["lifecycle"]["stage"]) == ("DEGRADED", "stage_1")
    [execution] = executions(world)
    assert execution["name"] == result["incident_id"] == record["lifecycle"]["incident_id"]
    assert audit_actions(world) == ["transition:P2_FIRED"]


@pytest.mark.parametrize(
    ("event_file", "state", "stage"),
    [
        ("alarm-coverage-p1.json", "ROLLBACK_PENDING", "stage_2"),
        ("alarm-security-critical.json", "ROLLBACK_PENDING", "emergency"),
    ],
)
def test_p1_and_security_alarms_enter_their_stage(
    world: World, event_file: str, state: str, stage: str
) -> None:
    # Given a NORMAL scope
    # When a P1 coverage or a critical security alarm arrives
    result = ingest(load_event(event_file))
    # Then the lifecycle enters stage 2 or goes straight to emergency
    record = state_record(world, "recommender/prod")
    assert record is not None
    assert result["outcome"] == "started"
    assert (record["lifecycle"]["state"], record["lifecycle"]["stage"]) == (state, stage)


def test_ok_transition_is_recorded_and_never_starts_a_rollback(world: World) -> None:
    # Given a NORMAL scope
    # When an OK state change arrives
    result = ingest(load_event("alarm-ok.json"))
    # Then it is recorded on the scope, the scope stays NORMAL and nothing is started
    assert result["outcome"] == "recorded"
    record = state_record(world, "recommender/prod")
    assert record is not None
    assert record["lifecycle"]["state"] == "NORMAL"
    assert record["alarms"]["failsafe-recommender-prod-latency-p2"]["state"] == "OK"
    assert executions(world) == []


def test_500_duplicate_and_out_of_order_events_make_exactly_one_execution(world: World) -> None:
    # Given 500 copies of the P2 alarm and the OK that ended it, with distinct ids and shuffled times
    alarm, ok = load_event("alarm-latency-p2.json"), load_event("alarm-ok.json")
    events = [_variant(alarm, i, 10) for i in range(450)] + [_variant(ok, 1000 + i, 5) for i in range(50)]
    random.Random(7).shuffle(events)
    # When all of them are ingested (the service behind the handler; each event has its own id, so the
    # idempotency table plays no part and the conditional writes alone must hold)
    rt = runtime(AlarmIngestEnv)
    outcomes = [controller_ingest(rt, e).outcome for e in events]
    # Then exactly one execution exists and every other event joined, was recorded or was stale
    assert outcomes.count("started") == 1
    assert len(executions(world)) == 1
    assert set(outcomes) <= {"started", "duplicate", "recorded", "stale"}


def test_redelivered_event_is_answered_from_the_idempotency_table(world: World) -> None:
    # Given one ingested event
    event = load_event("alarm-latency-p2.json")
    first = ingest(event)
    # When EventBridge delivers the very same event (same id) again
    second = ingest(event)
    # Then the stored result comes back and nothing new happens
    assert second == first
    assert len(executions(world)) == 1
    assert audit_actions(world) == ["transition:P2_FIRED"]


def test_later_alarm_for_an_open_incident_is_recorded_and_escalates_it(world: World) -> None:
    # Given an open P2 incident
    started = ingest(load_event("alarm-latency-p2.json"))
    # When a P1 coverage alarm fires for the same scope
    joined = ingest(load_event("alarm-coverage-p1.json"))
    # Then no second execution starts; the record the execution reads shows the alarm and stage 2
    assert joined["outcome"] == "joined"
    assert joined["incident_id"] == started["incident_id"]
    assert len(executions(world)) == 1
    record = state_record(world, "recommender/prod")
    assert record is not None
    assert set(record["alarms"]) == {
        "failsafe-recommender-prod-latency-p2",
        "failsafe-recommender-prod-coverage-p1",
    }
    assert (record["lifecycle"]["state"], record["lifecycle"]["stage"]) == ("ROLLBACK_PENDING", "stage_2")


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"hello": "world"},
        {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}},
        {
            "source": "aws.cloudwatch",
            "detail-type": "CloudWatch Alarm State Change",
            "detail": {"alarmName": "x"},
        },
        "not even an object",
    ],
)
def test_malformed_or_foreign_events_are_dropped_with_a_metric(
    world: World, event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a NORMAL scope
    # When a malformed or foreign event arrives
    result = ingest(event)
    # Then it is dropped with a reason, counted, and nothing is written or started
    assert result["outcome"] == "dropped"
    assert result["reason"]
    assert '"AlarmEventsDropped"' in capsys.readouterr().out
    assert world.client("dynamodb").scan(TableName="state")["Items"] == []
    assert executions(world) == []


def test_unknown_alarm_is_dropped(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an alarm that is not one of this stack's guardrails
    event = load_event("alarm-unknown.json")
    # When it arrives
    result = ingest(event)
    # Then it is dropped with the reason and a metric, and nothing changes
    assert result["outcome"] == "dropped"
    assert "not a failsafe guardrail" in result["reason"]
    assert "AlarmEventsDropped" in capsys.readouterr().out
    assert state_record(world, "recommender/prod") is None
    assert json.dumps(executions(world)) == "[]"
