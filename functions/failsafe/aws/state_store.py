"""Lifecycle state per scope in DynamoDB, with optimistic concurrency.

Table layout (see `StateTable` in template.yaml): partition key `pk` (S). Two item kinds share it:

- `scope#<scope key>`: the `ScopeRecord` of one scope. `version` (N) is a top-level attribute used in every
  `ConditionExpression`; the whole record is also stored as canonical JSON in `body` so the schema can grow
  without migrations. `state` and `incident_id` are top-level too, for console readers.
- `incident#<incident id>`: an `IncidentPointer` from an incident id (the Step Functions execution name) to
  its scope, written once with `attribute_not_exists(pk)`.

Every write is conditional: a record is created only if absent and replaced only if its stored `version` is
the one the writer read. A lost race raises `ConcurrentUpdateError`; callers re-read and decide again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from failsafe.domain.lifecycle import LifecycleRecord
from failsafe.domain.plans import DEFAULT_PLAN, Plan
from failsafe.domain.scope import Scope

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

AlarmStateValue = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]


class ConcurrentUpdateError(Exception):
    """Someone else changed the record between our read and our conditional write."""

    def __init__(self, key: str, expected_version: int | None) -> None:
        self.key = key
        self.expected_version = expected_version
        what = "absent" if expected_version is None else f"at version {expected_version}"
        super().__init__(f"{key}: expected the record {what}, but it changed concurrently; re-read and retry")


class AlarmObservation(BaseModel):
    """The latest state change seen for one alarm of a scope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alarm_name: str
    state: AlarmStateValue
    previous_state: AlarmStateValue | None = None
    at: datetime
    severity: str | None = None
    kind: str | None = None
    reason: str = ""

    @field_validator("at", mode="after")
    @classmethod
    def _utc(cls, at: datetime) -> datetime:
        # Records written before timestamps were normalised may hold a naive one: read it as UTC (what
        # CloudWatch stamps), so comparing it with an aware one never raises.
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at


class PendingApproval(BaseModel):
    """A Step Functions task token waiting for a human decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_token: str
    stage: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime


class ScopeRecord(BaseModel):
    """Everything the controller knows about one scope: the domain `LifecycleRecord` plus the facts the
    controller needs around it (execution, deployments, versions to restore, alarms seen, approvals).

    `version` is the store's optimistic-concurrency counter, bumped on every write (recording an alarm is
    a write without a lifecycle transition); `lifecycle.version` counts lifecycle transitions.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope_key: str
    version: int = Field(0, ge=0)
    lifecycle: LifecycleRecord
    execution_arn: str | None = None
    trigger_severity: str | None = None
    trigger_kind: str | None = None
    trigger_alarm: str | None = None
    source: Literal["alarm", "manual"] | None = None
    requested_by: str | None = None
    reason: str | None = None
    pre_incident_config_version: int | None = None
    deployed_config_version: int | None = None
    deployment_number: int | None = None
    deployment_kind: Literal["apply", "restore", "revert"] | None = None
    deployment_deadline: datetime | None = None
    deploy_attempts: int = 0
    last_known_good_version: int | None = None
    last_known_good_release: str | None = None
    release_before_revert: str | None = None
    pending_approval: PendingApproval | None = None
    # Who asked for the lifecycle's current stage when a person did (a manual level, including one that
    # joined an open incident); None when the stage came from an alarm or the controller. That person can
    # never approve the stage (`controller.approval.barred_approvers`). Records written before the field
    # existed load with None.
    level_requested_by: str | None = None
    approval_declined: bool = False
    # A manual level or kill switch holds until an operator recovers it (`failsafe recover`): the health
    # check does not start the automatic verify-and-restore while this is True. False for alarm-driven
    # incidents and for manual levels requested with `--auto-restore`.
    hold_until_recovered: bool = False
    alarms: dict[str, AlarmObservation] = Field(default_factory=dict)
    incident_started_at: datetime | None = None
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_by: str = "failsafe"

    @classmethod
    def fresh(cls, scope: Scope, plan: Plan) -> ScopeRecord:
        return cls(scope_key=scope.key, lifecycle=LifecycleRecord.new(scope, plan))

    @property
    def scope(self) -> Scope:
        return self.lifecycle.scope

    @property
    def state(self) -> str:
        return self.lifecycle.state.value

    @property
    def incident_id(self) -> str | None:
        return self.lifecycle.incident_id

    @property
    def has_open_incident(self) -> bool:
        return self.lifecycle.incident_id is not None

    def firing_alarms(self) -> list[AlarmObservation]:
        return sorted((o for o in self.alarms.values() if o.state == "ALARM"), key=lambda o: o.alarm_name)


class IncidentPointer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str
    scope_key: str
    created_at: datetime


def _scope_pk(scope_key: str) -> str:
    return f"scope#{scope_key}"


def _incident_pk(incident_id: str) -> str:
    return f"incident#{incident_id}"


def _is_conditional_failure(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    return (
        isinstance(response, dict)
        and response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    )


class StateStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    def get(self, scope_key: str) -> ScopeRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": _scope_pk(scope_key)}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return ScopeRecord.model_validate_json(item["body"]["S"])

    def get_or_fresh(self, scope: Scope, plan: Plan = DEFAULT_PLAN) -> ScopeRecord:
        return self.get(scope.key) or ScopeRecord.fresh(scope, plan)

    def put(self, record: ScopeRecord, *, expected_version: int | None) -> ScopeRecord:
        """Write `record` as the next version; `expected_version=None` means "only if absent".

        Returns the stored record (with `version` bumped). Raises `ConcurrentUpdateError` on a lost race.
        """
        new_version = 1 if expected_version is None else expected_version + 1
        stored = record.model_copy(update={"version": new_version})
        item: dict[str, Any] = {
            "pk": {"S": _scope_pk(record.scope_key)},
            "kind": {"S": "scope"},
            "scope_key": {"S": record.scope_key},
            "version": {"N": str(new_version)},
            "state": {"S": record.lifecycle.state.value},
            "updated_at": {"S": stored.updated_at.isoformat()},
            "body": {"S": stored.model_dump_json()},
        }
        if record.incident_id:
            item["incident_id"] = {"S": record.incident_id}
        if expected_version is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#v = :expected",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        try:
            self._client.put_item(TableName=self._table, Item=item, **condition)
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            raise ConcurrentUpdateError(record.scope_key, expected_version) from exc
        except Exception as exc:
            if _is_conditional_failure(exc):
                raise ConcurrentUpdateError(record.scope_key, expected_version) from exc
            raise
        return stored

    def save(self, current: ScopeRecord | None, new: ScopeRecord) -> ScopeRecord:
        """Replace `current` (as read) by `new`; `current=None` or version 0 means the scope had no record."""
        expected = None if current is None or current.version == 0 else current.version
        return self.put(new, expected_version=expected)

    def mutate(
        self,
        scope: Scope,
        change: Callable[[ScopeRecord], ScopeRecord | None],
        *,
        plan: Plan = DEFAULT_PLAN,
        attempts: int = 8,
    ) -> ScopeRecord:
        """Read-modify-write with retries on conflicts. `change` returns None to leave the record as is."""
        last: ConcurrentUpdateError | None = None
        for _ in range(attempts):
            current = self.get(scope.key)
            base = current or ScopeRecord.fresh(scope, plan)
            new = change(base)
            if new is None:
                return base
            try:
                return self.save(current, new)
            except ConcurrentUpdateError as exc:
                last = exc
        assert last is not None
        raise last

    def list_scopes(self) -> list[ScopeRecord]:
        records: list[ScopeRecord] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#k = :scope",
            "ExpressionAttributeNames": {"#k": "kind"},
            "ExpressionAttributeValues": {":scope": {"S": "scope"}},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.scan(**kwargs)
            records.extend(
                ScopeRecord.model_validate_json(item["body"]["S"]) for item in page.get("Items", [])
            )
            if "LastEvaluatedKey" not in page:
                return sorted(records, key=lambda r: r.scope_key)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def register_incident(self, incident_id: str, scope_key: str, at: datetime) -> IncidentPointer:
        pointer = IncidentPointer(incident_id=incident_id, scope_key=scope_key, created_at=at)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": _incident_pk(incident_id)},
                    "kind": {"S": "incident"},
                    "scope_key": {"S": scope_key},
                    "body": {"S": pointer.model_dump_json()},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            existing = self.find_incident(incident_id)
            if existing is None or existing.scope_key != scope_key:
                raise ConcurrentUpdateError(_incident_pk(incident_id), None) from exc
            return existing
        return pointer

    def find_incident(self, incident_id: str) -> IncidentPointer | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": _incident_pk(incident_id)}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else IncidentPointer.model_validate_json(item["body"]["S"])


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
