"""Lifecycle state per scope in DynamoDB, with optimistic concurrency.

Table layout (see `StateTable` in template.yaml): partition key `pk` (S). Two item kinds share it:

- `scope#<scope key>`: the `ScopeRecord` of one scope. `version` (N) is a top-level attribute used in every
  `ConditionExpression`; the whole record is also stored as canonical JSON in `body` so the schema can grow
  without migrations. `state` and `incident_id` are top-level too, for console readers.
- `incident#<incident id>`: an `IncidentPointer` from an incident id (the Step Functions execution name) to
  its scope, written once with `attribute_not_exists(pk)`.

Every write is conditional: a record is created only if absent and replaced only if its stored `version` is
the one the writer read. A lost race raises `ConcurrentUpdateError`; callers re-read and decide again.

The records themselves (and `ConcurrentUpdateError`, the store contract's error) live in
`failsafe.domain.records`; this adapter only persists them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from failsafe.domain.plans import Plan
from failsafe.domain.records import ConcurrentUpdateError, IncidentPointer, ScopeRecord
from failsafe.domain.scope import Scope

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


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
    """Persists `ScopeRecord`s; `plan` shapes the fresh record of a scope that has none yet."""

    def __init__(self, client: DynamoDBClient, table_name: str, plan: Plan) -> None:
        self._client = client
        self._table = table_name
        self._plan = plan

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

    @property
    def plan(self) -> Plan:
        return self._plan

    def get_or_fresh(self, scope: Scope) -> ScopeRecord:
        return self.get(scope.key) or ScopeRecord.fresh(scope, self._plan)

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
        attempts: int = 8,
    ) -> ScopeRecord:
        """Read-modify-write with retries on conflicts. `change` returns None to leave the record as is."""
        last: ConcurrentUpdateError | None = None
        for _ in range(attempts):
            current = self.get(scope.key)
            base = current or ScopeRecord.fresh(scope, self._plan)
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
