"""Step Functions: one execution per incident, named with the incident id; task-token callbacks."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class ApprovalTokenError(Exception):
    """The task token is unknown, already used or timed out."""


def _code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


class ExecutionNameTakenError(RuntimeError):
    """An execution with the incident's name exists but was started for another incident."""


# What names an incident in an execution's input: the same incident started again (a redelivered alarm, a
# lost StartExecution response) carries the same values, though its stage or reason may have moved on;
# another incident that got the same name (two operators, another scope) does not.
INCIDENT_KEYS = ("incident_id", "scope", "source", "requested_by")


class HistoryEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime
    type: str
    name: str | None = None


class Executions:
    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def execution_arn(self, incident_id: str) -> str:
        return self._arn.replace(":stateMachine:", ":execution:") + f":{incident_id}"

    def start(self, incident_id: str, payload: dict[str, Any]) -> tuple[str, bool]:
        """Start the incident's execution. Returns (arn, started_now); an existing one is not restarted.

        An existing execution of that name counts as this incident's only if its input names this incident
        (`INCIDENT_KEYS` equal, read with DescribeExecution); otherwise `ExecutionNameTakenError`.
        """
        try:
            response = self._client.start_execution(
                stateMachineArn=self._arn, name=incident_id, input=json.dumps(payload, sort_keys=True)
            )
        except Exception as exc:
            if _code(exc) != "ExecutionAlreadyExists":
                raise
            arn = self.execution_arn(incident_id)
            existing = self._client.describe_execution(executionArn=arn)
            try:
                theirs = json.loads(existing.get("input") or "{}")
            except ValueError:
                theirs = {}
            ours = {key: payload.get(key) for key in INCIDENT_KEYS}
            found = {key: theirs.get(key) for key in INCIDENT_KEYS} if isinstance(theirs, dict) else {}
            if found != ours:
                raise ExecutionNameTakenError(
                    f"execution {arn} ({existing['status']}) already exists for another incident "
                    f"(its input names {found}; this incident is {ours}); open the incident again "
                    "so it gets a new incident id"
                ) from exc
            return arn, False
        return str(response["executionArn"]), True

    def status(self, execution_arn: str) -> str:
        return str(self._client.describe_execution(executionArn=execution_arn)["status"])

    def stop(self, execution_arn: str, cause: str, error: str = "ManualOverride") -> None:
        try:
            self._client.stop_execution(executionArn=execution_arn, error=error, cause=cause[:32768])
        except Exception as exc:
            if _code(exc) not in ("ExecutionDoesNotExist",):
                raise

    def history(self, execution_arn: str) -> list[HistoryEvent]:
        events: list[HistoryEvent] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn}
        while True:
            page = self._client.get_execution_history(**kwargs)
            for event in page.get("events", []):
                name = None
                for key, value in event.items():
                    if key.endswith("EventDetails") and isinstance(value, dict) and "name" in value:
                        name = str(value["name"])
                events.append(HistoryEvent(at=event["timestamp"], type=str(event["type"]), name=name))
            token = page.get("nextToken")
            if not token:
                return events
            kwargs["nextToken"] = token

    def send_success(self, task_token: str, output: dict[str, Any]) -> None:
        try:
            self._client.send_task_success(taskToken=task_token, output=json.dumps(output, sort_keys=True))
        except Exception as exc:
            if _code(exc) in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                raise ApprovalTokenError(f"approval token is no longer valid ({_code(exc)})") from exc
            raise

    def send_failure(self, task_token: str, error: str, cause: str) -> None:
        try:
            self._client.send_task_failure(taskToken=task_token, error=error, cause=cause[:32768])
        except Exception as exc:
            if _code(exc) in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                raise ApprovalTokenError(f"approval token is no longer valid ({_code(exc)})") from exc
            raise
