"""AlarmIngest never lets bad input escape, lose an event or poison an alarm or a scope (issue 10)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from tests.integration.handlers.helpers import audit_actions, executions, ingest, state_record
from tests.integration.handlers.world import World, load_event

from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.records import AlarmObservation, ScopeRecord
from failsafe.domain.scope import Scope


def _alarm(**changes: Any) -> dict[str, Any]:
    """The P2 latency sample with its dimensions, name or state timestamp changed."""
    event = copy.deepcopy(load_event("alarm-latency-p2.json"))
    detail = event["detail"]
    if "dimensions" in changes:
        detail["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = changes["dimensions"]
    if "name" in changes:
        detail["alarmName"] = changes["name"]
    if "timestamp" in changes:
        detail["state"]["timestamp"] = changes["timestamp"]
    if "id" in changes:
        event["id"] = changes["id"]
    return event


def _nothing_started(world: World) -> None:
    assert world.client("dynamodb").scan(TableName="state")["Items"] == []
    assert executions(world) == []


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            _alarm(dimensions={"Service": "recommender", "Environment": "prod", "Region": "eu west 1"}),
            "grammar",
        ),
        (_alarm(dimensions={"Service": "r" * 65, "Environment": "prod"}), "grammar"),
        (_alarm(dimensions={"Service": "recommender", "Environment": "prod", "Cohort": "ü"}), "grammar"),
        (_alarm(dimensions={"Service": "recommender", "Environment": "prod", "Client": "x" * 2000}), "1024"),
        (_alarm(dimensions={f"D{i}": "v" for i in range(31)}), "30"),
        (_alarm(name="failsafe-recommender-prod-" + "x" * 300_000 + "-latency-p2"), "255"),
    ],
)
def test_dimensions_or_names_beyond_the_grammar_or_limits_are_dropped_audited_and_counted(
    world: World, capsys: pytest.CaptureFixture[str], event: dict[str, Any], reason: str
) -> None:
    # Given a NORMAL scope
    # When an alarm event arrives whose dimension values are outside the scope grammar, beyond
    # CloudWatch's limits, or whose alarm name is huge
    result = ingest(event)
    # Then it is dropped (never raised, so never retried and lost) with a reason, a metric and an audit
    # line, and nothing is claimed or started
    assert result["outcome"] == "dropped"
    assert reason in result["reason"]
    assert len(result["reason"]) <= 1024
    assert '"AlarmEventsDropped"' in capsys.readouterr().out
    assert audit_actions(world) == ["alarm:dropped"]
    _nothing_started(world)


@pytest.mark.parametrize(
    ("dimensions", "refused"),
    [
        ({"Service": "payments", "Environment": "prod"}, "service 'payments' in environment 'prod'"),
        ({"Service": "recommender", "Environment": "staging"}, "environment 'staging'"),
        ({"Service": "payments"}, "service 'payments'"),
    ],
)
def test_an_alarm_for_a_service_or_environment_this_stack_does_not_own_starts_nothing(
    world: World, capsys: pytest.CaptureFixture[str], dimensions: dict[str, str], refused: str
) -> None:
    # Given a stack that owns recommender/prod
    # When one of its alarms reports dimensions of another service or environment
    result = ingest(_alarm(dimensions=dimensions))
    # Then it is dropped with the reason, counted and audited; no execution starts
    assert result["outcome"] == "dropped"
    assert refused in result["reason"]
    assert "this stack owns service 'recommender' in environment 'prod'" in result["reason"]
    assert '"AlarmEventsDropped"' in capsys.readouterr().out
    assert audit_actions(world) == ["alarm:dropped"]
    _nothing_started(world)


def test_a_timestamp_without_timezone_then_a_normal_one_never_poisons_the_alarm(world: World) -> None:
    # Given an OK state change stamped without a timezone
    first = ingest(_alarm(id="naive", timestamp="2026-01-01T00:05:00.000"))
    # When the same alarm fires with a normal timestamp, and later goes OK again
    second = ingest(_alarm(id="aware", timestamp="2026-01-01T00:10:00.000+0000"))
    third = ingest({**load_event("alarm-ok.json"), "id": "ok-later"})
    # Then the naive one was read as UTC, the alarm still starts its incident, and later events still count
    assert first["outcome"] == "started"  # the sample is an ALARM: it opened the incident at 00:05 UTC
    assert second["outcome"] == "joined"
    assert third["outcome"] in {"recorded", "stale"}
    assert len(executions(world)) == 1


def test_a_timestamp_far_in_the_future_is_dropped_and_real_events_still_count(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the controller's clock an hour after the sample events
    # When an alarm event stamped in year 9999 arrives, then the real one
    bogus = ingest(_alarm(id="bogus", timestamp="9999-12-31T23:59:59.000+0000"))
    real = ingest(_alarm(id="real"))
    # Then the bogus one is dropped naming the bound, and the real one starts the incident
    assert bogus["outcome"] == "dropped"
    assert "MAX_EVENT_CLOCK_SKEW_SECONDS" in bogus["reason"]
    assert '"AlarmEventsDropped"' in capsys.readouterr().out
    assert real["outcome"] == "started"
    assert audit_actions(world) == ["alarm:dropped", "transition:P2_FIRED"]


def test_a_timestamp_a_little_ahead_of_the_clock_is_within_the_accepted_skew(world: World) -> None:
    # Given the controller's clock
    iso = (world.clock.now() + timedelta(minutes=4)).isoformat()
    # When an alarm stamped 4 minutes ahead (inside the default 5 minutes) arrives
    result = ingest(_alarm(timestamp=iso))
    # Then it is accepted
    assert result["outcome"] == "started"


@pytest.mark.parametrize(
    "stored_at", ["9999-12-31T23:59:59", "9999-12-31T23:59:59+00:00", "2026-01-01T00:05:00"]
)
def test_an_observation_already_stored_with_a_bad_timestamp_is_tolerated(
    world: World, stored_at: str
) -> None:
    # Given a scope record written before the bounds existed, holding a naive or year-9999 observation
    scope = Scope(service="recommender", environment="prod")
    name = "failsafe-recommender-prod-latency-p2"
    record = ScopeRecord.fresh(scope, DEFAULT_PLAN)
    body = json.loads(record.model_dump_json())
    body["alarms"] = {name: {"alarm_name": name, "state": "OK", "at": stored_at, "reason": "old"}}
    AlarmObservation.model_validate(body["alarms"][name])  # loads (the naive one as UTC)
    world.client("dynamodb").put_item(
        TableName="state",
        Item={
            "pk": {"S": f"scope#{scope.key}"},
            "kind": {"S": "scope"},
            "scope_key": {"S": scope.key},
            "version": {"N": "1"},
            "state": {"S": "NORMAL"},
            "updated_at": {"S": "2026-01-01T00:00:00+00:00"},
            "body": {"S": json.dumps({**body, "version": 1})},
        },
    )
    # When the alarm fires with a normal timestamp
    result = ingest(_alarm())
    # Then it is neither "stale" nor a TypeError: the incident starts
    assert result["outcome"] == "started"
    stored = state_record(world, scope.key)
    assert stored is not None
    assert stored["alarms"][name]["state"] == "ALARM"
