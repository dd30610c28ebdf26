"""A manual level holds until a person recovers it; recovery needs traffic; a kill switch stops a restore."""

from __future__ import annotations

from typing import Any

from tests.unit.handlers.conftest import World, load_event
from tests.unit.handlers.helpers import (
    audit_actions,
    current_document,
    deploy_until_complete,
    execution_input,
    health,
    ingest,
    plan,
    signed,
    state_record,
    task,
)

from failsafe.handlers import apply_toggles, manual_rollback

SCOPE = "recommender/prod"


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = manual_rollback.dispatch(signed(event))
    return result


def _level_2(**extra: Any) -> dict[str, Any]:
    return {**load_event("manual-level-2.json"), "scope": SCOPE, **extra}


def _in_force(world: World, request: dict[str, Any]) -> dict[str, Any]:
    """Run the manual request, and its execution up to the stage in force."""
    state = execution_input(world, invoke(request)["incident_id"])
    plan(state, "begin")
    deploy_until_complete(world, state)
    plan(state, "applied")
    return state


def _restoring(world: World, state: dict[str, Any]) -> None:
    """Green with traffic for the verify window, then the gradual restore started (DEPLOYING)."""
    world.serve_requests()
    assert health(state)["status"] == "VERIFYING"
    world.clock.advance(900)
    world.serve_requests()
    assert health(state)["status"] == "RECOVERED"
    state["deployment"] = task(apply_toggles, "restore", state)
    assert task(apply_toggles, "check", state)["state"] == "DEPLOYING"


def _state(world: World) -> tuple[str, str | None]:
    record = state_record(world, SCOPE)
    assert record is not None
    return record["lifecycle"]["state"], record["lifecycle"]["stage"]


# -- item 7: a manual level holds; missing data is not green ----------------------------------------------


def test_a_kill_switch_pulled_by_hand_holds_until_an_operator_recovers_it(world: World) -> None:
    # Given a kill switch pulled by hand and in force, every alarm OK and the scope serving requests
    state = _in_force(world, load_event("kill-switch.json"))
    world.serve_requests()

    # When health is checked, again an hour later
    first = health(state)
    world.clock.advance(3600)
    world.serve_requests()
    later = health(state)

    # Then it never starts the automatic verify-and-restore: the kill switch stays in force, and says why
    assert (first["status"], later["status"]) == ("WAITING", "WAITING")
    assert "failsafe recover" in later["note"]
    assert _state(world) == ("ROLLED_BACK", "emergency")
    assert current_document(world)["overrides"][0]["toggles"]["kill_switch"] is True


def test_a_manual_level_with_auto_restore_recovers_by_itself(world: World) -> None:
    # Given level 2 requested with --auto-restore, in force, all green with traffic
    state = _in_force(world, _level_2(auto_restore=True))
    world.serve_requests()
    # When health is checked / Then verification starts as for an alarm
    assert health(state)["status"] == "VERIFYING"
    assert _state(world)[0] == "RECOVERY_VERIFY"


def test_alarms_ok_without_traffic_are_not_green(world: World) -> None:
    # Given an alarm-driven incident with stage 1 in force and its alarm back to OK, but no requests at all
    # (alarms with TreatMissingData=notBreaching are OK when nothing is served)
    state = execution_input(world, ingest(load_event("alarm-latency-p2.json"))["incident_id"])
    plan(state, "begin")
    deploy_until_complete(world, state)
    plan(state, "applied")
    world.set_alarm("latency-p2", "OK")

    # When health is checked / Then verification does not start
    waiting = health(state)
    assert waiting["status"] == "WAITING"
    assert "no requests" in waiting["note"]
    assert _state(world)[0] == "DEGRADED"

    # And once traffic flows it starts; a window that then passes with no traffic does not restore
    world.serve_requests()
    assert health(state)["status"] == "VERIFYING"
    world.clock.advance(900)
    assert health(state)["status"] == "VERIFYING"
    world.serve_requests()
    assert health(state)["status"] == "RECOVERED"


# -- item 2: a kill switch during a gradual restore ---------------------------------------------------------


def test_a_kill_switch_during_the_gradual_restore_stops_it_and_applies_at_once(world: World) -> None:
    # Given level 2 (auto-restore) whose gradual restore (10 min + 5 min bake) is deploying
    state = _in_force(world, _level_2(auto_restore=True))
    _restoring(world, state)

    # When the kill switch is pulled on that scope
    pulled = world.clock.time()
    joined = invoke(load_event("kill-switch.json"))
    assert joined["joined"] is True

    # Then the execution's next restore check stops the restore (StopDeployment) and plans the kill switch
    checked = task(apply_toggles, "check", state)
    assert (checked["rolled_back"], checked["retry"]) == (True, False)
    assert "restore stopped" in checked["detail"]
    state["deployment"] = checked
    replanned = plan(state, "restore_failed")
    assert (replanned["event"], replanned["next_step"]) == ("escalated", "apply")
    assert replanned["stage"] == "emergency"
    # And it is in force within the kill switch's 120 s, not after the restore's 15 minutes
    deploy_until_complete(world, state)
    assert plan(state, "applied")["state"] == "ROLLED_BACK"
    assert world.clock.time() - pulled <= 120
    assert _state(world) == ("ROLLED_BACK", "emergency")
    [override] = current_document(world)["overrides"]
    assert override["toggles"]["kill_switch"] is True
    assert "toggles:restore_preempted" in audit_actions(world)


def test_resolved_is_not_announced_while_the_scope_is_not_normal(world: World) -> None:
    # Given a restore that completes just as a kill switch moves the scope to ROLLBACK_PENDING
    state = _in_force(world, _level_2(auto_restore=True))
    _restoring(world, state)
    for _ in range(400):
        world.clock.advance(5)
        if task(apply_toggles, "check", state)["state"] == "COMPLETE":
            break
    state["deployment"] = task(apply_toggles, "check", state)
    invoke(load_event("kill-switch.json"))

    # When the execution marks the scope normal
    done = plan(state, "normal")

    # Then it does not say "resolved": the scope is still in the incident and the kill switch is applied next
    assert done["event"] != "resolved"
    assert (done["state"], done["next_step"], done["stage"]) == ("ROLLBACK_PENDING", "apply", "emergency")


def test_recover_immediate_during_the_gradual_restore_stops_it_and_restores_at_once(world: World) -> None:
    # Given level 2 (auto-restore) whose gradual restore is deploying
    state = _in_force(world, _level_2(auto_restore=True))
    _restoring(world, state)

    # When the operator recovers it with --immediate
    result = invoke({**load_event("manual-recover.json"), "scope": SCOPE, "immediate": True})

    # Then the gradual restore is stopped and the immediate one started: the scope is NORMAL
    assert result["state"] == "NORMAL"
    assert result["deployment"]["strategy"] == world.env["APPCONFIG_IMMEDIATE_STRATEGY_ID"]
    assert "toggles:restore_preempted" in audit_actions(world)
    assert _state(world)[0] == "NORMAL"


def test_the_auto_restore_sample_event_recovers_by_itself(world: World) -> None:
    # Given events/manual-level-2-auto-restore.json, in force, all green with traffic in its region
    event = load_event("manual-level-2-auto-restore.json")
    state = _in_force(world, event)
    world.serve_requests(event["scope"])
    # When health is checked / Then verification starts; the plain level 2 sample would hold instead
    assert health(state)["status"] == "VERIFYING"
