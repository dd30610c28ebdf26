"""End to end on the local stack: an operator's level 3 reaches the reference recommender through
AppConfig, the recommender converges on the new config version while the revert waits for approval, and
after the approval and recovery it is back on the pre-incident toggles."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.controller.controller_stack import serve_requests

from failsafe.controller.runtime import cold_start
from failsafe.recommender import handler as recommender_handler
from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.stack import LocalStack
from failsafe_tools.local.stepfunctions import wait_for_execution

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]
SCOPE = "recommender/prod"


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    cold_start()
    clock = ManualClock()
    local = LocalStack.start(
        ROOT / "template.yaml", {"ApprovalTimeoutSeconds": 3600}, clock=clock, agent=False
    )
    recommender_handler.configure_runtime(timestamp=clock.time, sleep=clock.sleep, monotonic=clock.time)
    try:
        yield local
    finally:
        recommender_handler.configure_runtime()
        local.stop()
        cold_start()


def invoke(stack: LocalStack, output: str, event: dict[str, Any]) -> dict[str, Any]:
    response = stack.client("lambda").invoke(
        FunctionName=stack.outputs[output], Payload=json.dumps(event).encode()
    )
    assert "FunctionError" not in response, response["Payload"].read()
    data: dict[str, Any] = json.loads(response["Payload"].read())
    return data


def recommend(stack: LocalStack) -> list[dict[str, Any]]:
    return [
        invoke(stack, "RecommenderFunctionName", {"user_id": f"user-{i}", "region": "eu-west-1", "k": 10})
        for i in range(40)
    ]


def record(stack: LocalStack) -> dict[str, Any]:
    item = stack.client("dynamodb").get_item(
        TableName=stack.outputs["StateTableName"], Key={"pk": {"S": f"scope#{SCOPE}"}}
    )["Item"]
    data: dict[str, Any] = json.loads(item["body"]["S"])
    return data


def test_level_3_reaches_the_recommender_and_recovery_brings_it_back(stack: LocalStack) -> None:
    # Given the recommender serving the normal baseline the stack deployed
    # (asking for the automatic restore, and serving requests for it to judge recovery on)
    event = {**json.loads((ROOT / "events" / "manual-level-3.json").read_text()), "auto_restore": True}
    serve_requests(stack.client("cloudwatch"), stack.clock.now(), SCOPE)
    before = recommend(stack)
    assert {(r["reason"], r["fallback_level"]) for r in before} == {("primary", "A")}
    # When the operator runs level 3 and the controller applies stages 1-3 before asking for approval
    incident_id = invoke(stack, "ManualRollbackFunctionName", event)["incident_id"]
    deadline = time.monotonic() + 180
    while not record(stack).get("pending_approval"):
        assert time.monotonic() < deadline, "the controller never asked for approval"
        time.sleep(0.05)
    stack.tick(60)  # one poll interval: the recommender's toggle client refreshes
    during = recommend(stack)
    # Then every response is full (top-K filled) on the new config version, with stage 3's popularity
    # candidates, and part of the traffic is outside the 50 % exposure
    assert all(r["k_returned"] == r["k"] == 10 for r in during)
    assert min(r["config_version"] for r in during) > max(r["config_version"] for r in before)
    assert {r["fallback_level"] for r in during} == {"C"}
    outside = sum(1 for r in during if r["reason"] == "out_of_exposure")
    assert 0 < outside < len(during)
    # When someone else approves the revert and the scope recovers
    approval = {**json.loads((ROOT / "events" / "approval.json").read_text()), "incident_id": incident_id}
    invoke(stack, "ApprovalCallbackFunctionName", approval)
    arn = stack.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{incident_id}"
    result: Any = wait_for_execution(stack.client("stepfunctions"), arn, timeout_s=60)
    stack.tick(60)
    after = recommend(stack)
    # Then the incident is over and the recommender serves the pre-incident toggles again
    assert result["status"] == "SUCCEEDED"
    assert record(stack)["lifecycle"]["state"] == "NORMAL"
    assert {(r["reason"], r["fallback_level"]) for r in after} == {("primary", "A")}
    assert min(r["config_version"] for r in after) > max(r["config_version"] for r in during)
