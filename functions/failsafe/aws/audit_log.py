"""Append-only, hash-chained audit log in DynamoDB.

Table layout (see `AuditTable` in template.yaml): partition key `chain` (S), sort key `seq` (N). Entries of
one chain are numbered 1, 2, 3, ... with no gaps. Each entry stores `prev_hash`, the SHA-256 of the previous
entry's canonical JSON (`GENESIS` for the first), and `hash`, the SHA-256 of its own canonical JSON (every
field except `hash`). Entries are written with `attribute_not_exists(seq)`, so an entry can never be
overwritten; two concurrent writers racing for the same `seq` see one of them fail and retry on top.

`verify()` walks the chain and reports every entry whose content no longer matches its hash (tampering),
whose `prev_hash` does not match its predecessor (reordering or an insertion), and every missing sequence
number (deletion). The IAM policy of every function grants only `PutItem`/`Query`/`GetItem` on this table.

A chain alone cannot show that its newest entries were deleted, or rewritten with recomputed hashes by
someone holding `PutItem`: what remains is still a valid chain. So each append is also reported to a
*witness* (`failsafe.aws.audit_witness` writes it to the function's CloudWatch Logs, which the functions
can append to but not delete from), and `verify(witnessed=...)` checks every witnessed (seq, hash) against
the table: a witnessed entry that is missing or different is reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from failsafe.domain.audit import (
    DEFAULT_CHAIN,
    AuditAppendError,
    AuditEntry,
    AuditEvent,
    AuditWitness,
    VerifyResult,
    canonical,
    filter_entries,
    next_entry,
    verify_chain,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class AuditLog:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        chain: str = DEFAULT_CHAIN,
        *,
        witness: Callable[[AuditWitness], None] | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._chain = chain
        self._witness = witness

    @property
    def chain(self) -> str:
        return self._chain

    def append(self, event: AuditEvent, *, at: datetime | None = None, attempts: int = 10) -> AuditEntry:
        when = at or datetime.now(UTC)
        for _ in range(attempts):
            entry = next_entry(event, chain=self._chain, last=self.last(), at=when)
            seq = entry.seq
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        "chain": {"S": self._chain},
                        "seq": {"N": str(seq)},
                        "action": {"S": entry.action},
                        "at": {"S": entry.at.isoformat()},
                        "entry": {"S": canonical(entry.model_dump(mode="json"))},
                    },
                    ConditionExpression="attribute_not_exists(seq)",
                )
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if code == "ConditionalCheckFailedException":
                    continue
                raise
            if self._witness is not None:
                self._witness(AuditWitness(chain=self._chain, seq=seq, hash=entry.hash))
            return entry
        raise AuditAppendError(f"audit chain {self._chain!r}: could not append after {attempts} races")

    def last(self) -> AuditEntry | None:
        page = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#c = :c",
            ExpressionAttributeNames={"#c": "chain"},
            ExpressionAttributeValues={":c": {"S": self._chain}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = page.get("Items", [])
        return AuditEntry.model_validate_json(items[0]["entry"]["S"]) if items else None

    def _raw(self) -> list[tuple[int, dict[str, Any]]]:
        rows: list[tuple[int, dict[str, Any]]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#c = :c",
            "ExpressionAttributeNames": {"#c": "chain"},
            "ExpressionAttributeValues": {":c": {"S": self._chain}},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**kwargs)
            rows.extend((int(item["seq"]["N"]), json.loads(item["entry"]["S"])) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def entries(self, *, incident_id: str | None = None, scope_key: str | None = None) -> list[AuditEntry]:
        entries = (AuditEntry.model_validate(data) for _, data in self._raw())
        return filter_entries(entries, incident_id=incident_id, scope_key=scope_key)

    def verify(self, witnessed: Iterable[AuditWitness] = ()) -> VerifyResult:
        return verify_chain(self._chain, self._raw(), witnessed)
