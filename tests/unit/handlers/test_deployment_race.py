"""Two scopes share one AppConfig environment: a deployment computed from a stale read must not start."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.handlers.conftest import World
from tests.unit.handlers.helpers import (
    audit_actions,
    current_document,
    deploy_until_complete,
    execution_input,
    health,
    plan,
    principal_arn,
    signed,
    task,
    world_deployer,
)

from failsafe.aws.appconfig_deployer import DeploymentConflictError
from failsafe.controller import apply as apply_module
from failsafe.handlers import apply_toggles, manual_rollback


def _manual_level_2(scope: str, *, auto_restore: bool = False) -> dict[str, Any]:
    request = {
        "action": "rollback",
        "level": "2",
        "scope": scope,
        "reason": "regional drill",
        "requested_by": principal_arn("alice"),
        "auto_restore": auto_restore,
    }
    response: dict[str, Any] = manual_rollback.dispatch(signed(request))
    return response


def test_a_rollback_computed_before_another_scopes_deployment_is_recomputed_not_started(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given level 2 requested for us-east-1 and for eu-west-1, both planned
    us = execution_input(world, _manual_level_2("recommender/prod/region=us-east-1")["incident_id"])
    world.clock.advance(1)
    eu = execution_input(world, _manual_level_2("recommender/prod/region=eu-west-1")["incident_id"])
    plan(us, "begin")
    plan(eu, "begin")
    # And us-east-1 deploys to COMPLETE right after eu-west-1 has read the current document
    read = apply_module.current_document

    def read_then_let_us_east_deploy(rt: Any) -> Any:
        snapshot = read(rt)
        monkeypatch.setattr(apply_module, "current_document", read)
        deploy_until_complete(world, us)
        return snapshot

    monkeypatch.setattr(apply_module, "current_document", read_then_let_us_east_deploy)

    # When eu-west-1's apply goes on with its stale read
    # Then it is refused as a conflict, which the state machine retries
    with pytest.raises(DeploymentConflictError, match="started after this change was computed"):
        deploy_until_complete(world, eu)

    # When the state machine retries it
    deploy_until_complete(world, eu)

    # Then both regions' rollbacks are in force
    regions = sorted(tuple(o["scope"]["regions"]) for o in current_document(world)["overrides"])
    assert regions == [("eu-west-1",), ("us-east-1",)]


def test_the_head_is_not_settled_while_a_deployment_runs(world: World) -> None:
    # Given a gradual deployment in progress
    deployer = world_deployer(world)
    assert deployer.settled_head() == 0
    version = deployer.create_version({"v": 1}, "slow")
    number = deployer.start(version, deployer.target.gradual_strategy_id, "slow")

    # When a change asks for the settled head
    # Then it is told to wait for that deployment, by number
    with pytest.raises(DeploymentConflictError, match=f"deployment {number} is DEPLOYING"):
        deployer.settled_head()

    # And once it has finished, the head is that deployment
    deployer.wait(number, timeout=3600, poll=30)
    assert deployer.settled_head() == number


def test_a_start_expecting_an_older_head_is_refused_even_after_backing_off(world: World) -> None:
    # Given a change computed at head 0, and meanwhile a deployment that completed
    deployer = world_deployer(world)
    head = deployer.settled_head()
    first = deployer.create_version({"v": 1}, "first")
    deployer.start(first, deployer.target.immediate_strategy_id, "first")
    mine = deployer.create_version({"v": 2}, "mine")

    # When the change starts with its head
    # Then it is refused, and nothing new is deployed
    with pytest.raises(DeploymentConflictError, match=r"deployment 1 started after .* from deployment 0"):
        deployer.start(mine, deployer.target.immediate_strategy_id, "mine", expect_head=head)
    assert deployer.settled_head() == 1


def test_a_rollback_stops_another_incidents_gradual_restore_instead_of_waiting_behind_it(
    world: World,
) -> None:
    # Given us-east-1 rolled back and now restoring gradually (10 minutes plus 5 of bake)
    us_scope = "recommender/prod/region=us-east-1"
    us = execution_input(world, _manual_level_2(us_scope, auto_restore=True)["incident_id"])
    plan(us, "begin")
    deploy_until_complete(world, us)
    plan(us, "applied")
    world.serve_requests(us_scope)
    assert health(us)["status"] == "VERIFYING"
    world.clock.advance(900)
    world.serve_requests(us_scope)
    assert health(us)["status"] == "RECOVERED"
    us["deployment"] = task(apply_toggles, "restore", us)
    assert task(apply_toggles, "check", us)["state"] == "DEPLOYING"

    # When eu-west-1 rolls back
    world.clock.advance(1)
    eu = execution_input(world, _manual_level_2("recommender/prod/region=eu-west-1")["incident_id"])
    plan(eu, "begin")
    deploy_until_complete(world, eu)

    # Then the restore was stopped and rolled back, so both regions are rolled back, without waiting
    assert task(apply_toggles, "check", us)["rolled_back"] is True
    regions = sorted(tuple(o["scope"]["regions"]) for o in current_document(world)["overrides"])
    assert regions == [("eu-west-1",), ("us-east-1",)]
    assert "toggles:restore_preempted" in audit_actions(world)
