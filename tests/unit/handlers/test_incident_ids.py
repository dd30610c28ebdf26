"""Incident ids are unique, and an existing execution is this incident's only if its input names it
(issue 10, item 4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.unit.handlers.conftest import World, load_event
from tests.unit.handlers.helpers import execution_input, executions, principal_arn, signed, state_record

from failsafe.aws.executions import ExecutionNameTakenError, Executions
from failsafe.controller.common import incident_id_for
from failsafe.domain.scope import Scope
from failsafe.handlers import manual_rollback

SCOPE = load_event("manual-level-1.json")["scope"]
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def invoke(event: Any) -> dict[str, Any]:
    result: dict[str, Any] = manual_rollback.dispatch(signed(event))
    return result


def test_ids_of_one_scope_in_one_instant_differ_and_sort_by_time() -> None:
    # Given one scope and one instant
    scope = Scope.parse("recommender/prod")
    at = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    # When ids are made for it several times, and once a second later
    same_instant = {incident_id_for(scope, at, prefix="man") for _ in range(50)}
    later = incident_id_for(scope, at + timedelta(seconds=1), prefix="man")
    # Then every id differs, each is a valid execution name (and so a dedup_key and report key)
    assert len(same_instant) == 50
    assert all(EXECUTION_NAME.match(i) for i in [*same_instant, later])
    # And ids sort by time
    assert all(i < later for i in same_instant)


def test_level_1_recover_then_emergency_in_the_same_second_starts_a_new_execution(world: World) -> None:
    # Given level 1 opened and recovered by hand, with the clock not moving (all within one second)
    level_1 = invoke(load_event("manual-level-1.json"))
    recovered = invoke(load_event("manual-recover.json"))
    assert recovered["state"] == "NORMAL"
    # When the kill switch is pulled on that scope in that same second
    emergency = invoke({**load_event("kill-switch.json"), "scope": SCOPE})
    # Then it is a new incident with its own execution, running, whose input is the emergency
    assert emergency["incident_id"] != level_1["incident_id"]
    assert emergency["joined"] is False
    started = execution_input(world, emergency["incident_id"])
    assert (started["incident_id"], started["entry_stage"]) == (emergency["incident_id"], "emergency")
    by_name = {e["name"]: e for e in executions(world)}
    assert by_name[emergency["incident_id"]]["status"] == "RUNNING"
    # And the scope's record holds that incident and that execution
    record = state_record(world, SCOPE)
    assert record is not None
    assert record["lifecycle"]["incident_id"] == emergency["incident_id"]
    assert record["execution_arn"] == by_name[emergency["incident_id"]]["executionArn"]


def _payload(incident_id: str, **changes: Any) -> dict[str, Any]:
    base = {
        "incident_id": incident_id,
        "scope": "recommender/prod",
        "source": "manual",
        "entry_stage": "stage_1",
        "requested_by": principal_arn("alice"),
        "reason": "coverage dropped",
    }
    return {**base, **changes}


def test_an_existing_execution_is_ours_only_if_its_input_names_this_incident(world: World) -> None:
    # Given an execution named man-x, started for alice's level 1
    adapter = Executions(world.client("stepfunctions"), world.env["STATE_MACHINE_ARN"])
    arn, started = adapter.start("man-x", _payload("man-x"))
    assert started
    # When the same incident is started again (a retry whose first response was lost; its stage and reason
    # may have moved on)
    again, started_again = adapter.start(
        "man-x", _payload("man-x", entry_stage="stage_2", reason="coverage still dropping")
    )
    # Then it is that execution, not a new one
    assert (again, started_again) == (arn, False)
    # When another incident (bob's kill switch) gets the same name
    with pytest.raises(ExecutionNameTakenError) as error:
        adapter.start(
            "man-x",
            _payload(
                "man-x",
                entry_stage="emergency",
                requested_by=principal_arn("bob"),
                reason="PII leak",
            ),
        )
    # Then it is not joined to it: the error names the execution and what its input says
    assert arn in str(error.value)
    assert principal_arn("alice") in str(error.value)
    assert len(executions(world)) == 1
