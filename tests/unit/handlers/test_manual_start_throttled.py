"""ManualRollback when StartExecution is throttled: retried with backoff, paged if it still fails, resumed."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.unit.handlers.conftest import PagerDutyServer, World, load_event
from tests.unit.handlers.helpers import audit_actions, executions, principal_arn, signed, state_record

from failsafe.aws.executions import Executions
from failsafe.controller.execution_start import ExecutionNotStartedError
from failsafe.handlers import manual_rollback
from failsafe_tools.local.clock import ManualClock

SCOPE = "recommender/prod"


def invoke(event: Any) -> dict[str, Any]:
    result: dict[str, Any] = manual_rollback.dispatch(signed(event))
    return result


def _throttle(monkeypatch: pytest.MonkeyPatch, times: int) -> list[str]:
    """StartExecution answers ThrottlingException `times` times, then works; returns the calls made."""
    real_start = Executions.start
    calls: list[str] = []

    def start(self: Executions, incident_id: str, payload: dict[str, Any]) -> tuple[str, bool]:
        calls.append(incident_id)
        if len(calls) <= times:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "StartExecution"
            )
        return real_start(self, incident_id, payload)

    monkeypatch.setattr(Executions, "start", start)
    return calls


def test_a_throttled_start_is_retried_with_backoff_on_the_clock(
    world: World, monkeypatch: pytest.MonkeyPatch, clock: ManualClock, pagerduty: PagerDutyServer
) -> None:
    # Given StartExecution throttled twice
    calls = _throttle(monkeypatch, 2)
    before = clock.time()

    # When the kill switch is pulled
    result = invoke(load_event("kill-switch.json"))

    # Then the third attempt started the execution after 1 s + 2 s of backoff (on the clock), nobody paged
    [execution] = executions(world)
    assert len(calls) == 3
    assert clock.time() - before == pytest.approx(3.0)
    assert result["execution_arn"] == execution["executionArn"]
    record = state_record(world, SCOPE)
    assert record is not None
    assert record["execution_arn"] == execution["executionArn"]
    assert pagerduty.received == []


def test_a_start_that_stays_throttled_pages_and_the_next_request_resumes_it(
    world: World, monkeypatch: pytest.MonkeyPatch, pagerduty: PagerDutyServer
) -> None:
    # Given StartExecution throttled on every retry of the first request
    _throttle(monkeypatch, 5)

    # When the kill switch is pulled
    with pytest.raises(ExecutionNotStartedError, match="ThrottlingException after 5 attempt") as failed:
        invoke(load_event("kill-switch.json"))

    # Then the error names the claimed incident and the fix, on-call was paged, and the claim stands
    record = state_record(world, SCOPE)
    assert record is not None
    incident_id = record["lifecycle"]["incident_id"]
    assert incident_id in str(failed.value)
    assert "Send the same request again" in str(failed.value)
    assert record["execution_arn"] is None
    assert executions(world) == []
    [page] = pagerduty.received
    assert (page["event_action"], page["dedup_key"]) == ("trigger", incident_id)
    assert "controller failed" in page["payload"]["summary"]
    assert "execution:start_failed" in audit_actions(world)

    # When a second operator asks for level 2 on the same scope (StartExecution works again)
    second = invoke(
        {
            **load_event("manual-level-2.json"),
            "scope": SCOPE,
            "requested_by": principal_arn("bob"),
        }
    )

    # Then it does not "join" an execution that does not exist: the claim's execution is started and recorded
    [execution] = executions(world)
    assert execution["name"] == incident_id
    assert (second["joined"], second["resumed"]) == (False, True)
    assert second["execution_arn"] == execution["executionArn"]
    record = state_record(world, SCOPE)
    assert record is not None
    assert record["execution_arn"] == execution["executionArn"]
    assert "execution:resumed" in audit_actions(world)
