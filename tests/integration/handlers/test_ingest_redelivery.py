"""AlarmIngest when StartExecution fails after the claim was saved, and the same alarm event comes again."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from tests.integration.handlers.helpers import audit_actions, executions, ingest, state_record
from tests.integration.handlers.world import World, load_event

from failsafe.aws.executions import Executions
from failsafe.controller.execution_start import ExecutionNotStartedError

SCOPE = "recommender/prod"


def _throttled(self: Executions, incident_id: str, payload: dict[str, Any]) -> tuple[str, bool]:
    raise ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "StartExecution"
    )


def _idempotency_items(world: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = world.client("dynamodb").scan(TableName="idempotency")["Items"]
    return items


def test_redelivery_after_a_throttled_start_starts_the_execution(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an alarm whose claim was saved but whose StartExecution was throttled (the invocation raised)
    event = load_event("alarm-latency-p2.json")
    real_start = Executions.start
    monkeypatch.setattr(Executions, "start", _throttled)
    with pytest.raises(ExecutionNotStartedError, match="ThrottlingException after 5 attempt"):
        ingest(event)
    claimed = state_record(world, SCOPE)
    assert claimed is not None
    assert claimed["lifecycle"]["incident_id"]
    assert claimed["execution_arn"] is None
    assert executions(world) == []
    # ... and the idempotency layer kept no result for the failed invocation (so a retry is processed)
    assert _idempotency_items(world) == []
    monkeypatch.setattr(Executions, "start", real_start)

    # When Lambda retries the very same event (same event id)
    result = ingest(event)

    # Then the incident's execution is started, named with the incident id, and its ARN recorded
    incident_id = claimed["lifecycle"]["incident_id"]
    assert result["outcome"] == "started"
    assert result["incident_id"] == incident_id
    [execution] = executions(world)
    assert execution["name"] == incident_id
    record = state_record(world, SCOPE)
    assert record is not None
    assert record["execution_arn"] == execution["executionArn"]
    assert (
        json.loads(
            world.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"]
        )["incident_id"]
        == incident_id
    )
    # ... audited
    assert "execution:resumed" in audit_actions(world)
    # ... the successful result is now stored, and another delivery (new event id) is a plain duplicate
    assert [i["status"]["S"] for i in _idempotency_items(world)] == ["COMPLETED"]
    again = ingest({**event, "id": "redelivered-with-a-new-id"})
    assert again["outcome"] == "duplicate"
    assert len(executions(world)) == 1


def test_redelivery_after_a_lost_start_response_records_the_existing_execution(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an alarm whose execution did start, but the StartExecution response was lost (read timeout)
    event = load_event("alarm-latency-p2.json")
    real_start = Executions.start

    def lost(self: Executions, incident_id: str, payload: dict[str, Any]) -> tuple[str, bool]:
        real_start(self, incident_id, {**payload, "reason": "first attempt"})  # input differs from a retry's
        raise ReadTimeoutError(endpoint_url="https://states.us-east-1.amazonaws.com")

    monkeypatch.setattr(Executions, "start", lost)
    with pytest.raises(ExecutionNotStartedError, match="ReadTimeoutError after 1 attempt"):
        ingest(event)
    assert len(executions(world)) == 1
    monkeypatch.setattr(Executions, "start", real_start)

    # When the event is redelivered (a new event id, e.g. EventBridge's retry)
    result = ingest({**event, "id": "redelivered"})

    # Then no second execution starts: the existing one (ExecutionAlreadyExists) is recorded on the scope
    [execution] = executions(world)
    assert result["outcome"] == "joined"
    assert result["execution_arn"] == execution["executionArn"]
    record = state_record(world, SCOPE)
    assert record is not None
    assert record["execution_arn"] == execution["executionArn"]
    assert "execution:resumed" in audit_actions(world)
