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
the table: a witnessed entry that is missing or different is reported, and so is every entry that was
never witnessed (one forged with a plain PutItem, however well chained).

An item at the head that does not parse (a plain PutItem by anyone holding the table's write access) does
not stop the controller: `append` chains after it by its key and stored hash, reports it on stderr, and
`verify` reports it as malformed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

GENESIS = "0" * 64
DEFAULT_CHAIN = "failsafe"


class AuditEvent(BaseModel):
    """What happened, by whom, why, and the before/after values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str = Field(..., min_length=1, max_length=64)
    actor: str = Field(..., min_length=1, max_length=512)
    reason: str = Field("", max_length=2048)
    scope_key: str | None = None
    incident_id: str | None = None
    before: dict[str, Any] = Field(default_factory=dict)
    after: dict[str, Any] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)


class AuditEntry(AuditEvent):
    chain: str
    seq: int = Field(..., ge=1)
    at: datetime
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"hash"})


class AuditAppendError(Exception):
    pass


class ChainProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    problem: str


class AuditWitness(BaseModel):
    """What an append reported outside the table: which entry it wrote and that entry's hash."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    chain: str
    seq: int = Field(..., ge=1)
    hash: str


class VerifyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    chain: str
    entries: int
    problems: list[ChainProblem]
    witnessed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


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
            seq, prev_hash = self._head()
            draft = AuditEntry.model_validate(
                {
                    **event.model_dump(),
                    "chain": self._chain,
                    "seq": seq,
                    "at": when.astimezone(UTC),
                    "prev_hash": prev_hash,
                    "hash": "",
                }
            )
            entry = draft.model_copy(update={"hash": entry_hash(draft.body())})
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

    def _head(self) -> tuple[int, str]:
        """(the next seq, the hash to chain to). A malformed head is chained after by its key and stored
        hash (or the hash of its raw text), reported, and left for `verify` to flag: never fatal."""
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
        if not items:
            return 1, GENESIS
        item = items[0]
        seq = int(item["seq"]["N"])
        raw = item.get("entry", {}).get("S", "")
        try:
            return seq + 1, AuditEntry.model_validate_json(raw).hash
        except ValueError as exc:
            data = _loads(raw)
            stored = data.get("hash") if isinstance(data.get("hash"), str) else None
            print(
                json.dumps(
                    {
                        "audit_head_malformed": {"chain": self._chain, "seq": seq},
                        "error": str(exc).splitlines()[0][:300],
                        "fix": "run `failsafe audit verify`; the chain continues after it",
                    }
                ),
                file=sys.stderr,
                flush=True,
            )
            return seq + 1, stored or hashlib.sha256(raw.encode("utf-8")).hexdigest()

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
            rows.extend(
                (int(item["seq"]["N"]), _loads(item.get("entry", {}).get("S", ""))) for item in page["Items"]
            )
            if "LastEvaluatedKey" not in page:
                return rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def entries(self, *, incident_id: str | None = None, scope_key: str | None = None) -> list[AuditEntry]:
        result = []
        for _, data in self._raw():
            try:
                result.append(AuditEntry.model_validate(data))
            except ValueError:
                continue  # a malformed item: `verify` reports it; the readable history stays readable
        if incident_id is not None:
            result = [e for e in result if e.incident_id == incident_id]
        if scope_key is not None:
            result = [e for e in result if e.scope_key == scope_key]
        return result

    def verify(self, witnessed: Iterable[AuditWitness] | None = None) -> VerifyResult:
        """Walk the chain. With `witnessed` (the witness lines), every entry must also have been witnessed
        with its current hash; without it, only the chain itself is checked."""
        problems: list[ChainProblem] = []
        prev_hash = GENESIS
        expected_seq = 1
        rows = self._raw()
        for seq, data in rows:
            if seq != expected_seq:
                missing = ", ".join(str(s) for s in range(expected_seq, seq)) or str(expected_seq)
                problems.append(ChainProblem(seq=seq, problem=f"entries missing before {seq}: {missing}"))
            if MALFORMED in data:
                problems.append(ChainProblem(seq=seq, problem=f"malformed entry ({data[MALFORMED]})"))
            stored_hash = data.get("hash")
            body = {k: v for k, v in data.items() if k != "hash"}
            if body.get("seq") != seq:
                problems.append(
                    ChainProblem(seq=seq, problem=f"stored at seq {seq} but claims seq {body.get('seq')}")
                )
            if entry_hash(body) != stored_hash:
                problems.append(ChainProblem(seq=seq, problem="content does not match its hash (tampered)"))
            if body.get("prev_hash") != prev_hash:
                problems.append(
                    ChainProblem(
                        seq=seq,
                        problem="prev_hash does not match the previous entry (reordered, inserted, deleted)",
                    )
                )
            prev_hash = stored_hash if isinstance(stored_hash, str) else ""
            expected_seq = seq + 1
        mine = sorted({(w.seq, w.hash) for w in witnessed or () if w.chain == self._chain})
        problems += _against_witnesses(mine, {seq: data.get("hash") for seq, data in rows})
        if witnessed is not None:
            seen = {seq for seq, _ in mine}
            problems += [
                ChainProblem(seq=seq, problem="never witnessed when written (forged, or its witness is lost)")
                for seq, _ in rows
                if seq not in seen
            ]
        return VerifyResult(chain=self._chain, entries=len(rows), problems=problems, witnessed=len(mine))


MALFORMED = "__malformed__"


def _loads(raw: str) -> dict[str, Any]:
    """An entry's stored JSON; `{MALFORMED: why}` for one that is not a JSON object."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {MALFORMED: f"not JSON: {exc.msg}"}
    return data if isinstance(data, dict) else {MALFORMED: "not a JSON object"}


def _against_witnesses(witnessed: list[tuple[int, str]], stored: dict[int, Any]) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    for seq, witnessed_hash in witnessed:
        if seq not in stored:
            problems.append(
                ChainProblem(seq=seq, problem="witnessed when written but missing now (deleted or truncated)")
            )
        elif stored[seq] != witnessed_hash:
            problems.append(
                ChainProblem(seq=seq, problem="differs from what was witnessed when written (rewritten)")
            )
    return problems
