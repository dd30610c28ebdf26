"""The audit trail's records and its hash chain, independent of where the chain is stored.

An audit chain numbers its entries 1, 2, 3, ... with no gaps. Each entry carries `prev_hash`, the SHA-256 of
the previous entry's canonical JSON (`GENESIS` for the first), and `hash`, the SHA-256 of its own canonical
JSON (every field except `hash`). `next_entry` builds the entry that follows another; `verify_chain` walks
stored entries and reports tampering, reordering, insertions and deletions, and checks them against the
(seq, hash) pairs a witness saw when they were written. Storage adapters (`failsafe.aws.audit_log`, the
in-memory fake in the tests) only persist entries and hand them back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

GENESIS = "0" * 64
DEFAULT_CHAIN = "failsafe"


class AuditEvent(BaseModel):
    """What happened, by whom, why, and the before/after values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str = Field(..., min_length=1, max_length=64)
    actor: str = Field(..., min_length=1, max_length=128)
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
    """What an append reported outside the store: which entry it wrote and that entry's hash."""

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


def next_entry(event: AuditEvent, *, chain: str, last: AuditEntry | None, at: datetime) -> AuditEntry:
    """The entry recording `event` right after `last` (None: the chain is empty), hashed and linked."""
    draft = AuditEntry.model_validate(
        {
            **event.model_dump(),
            "chain": chain,
            "seq": 1 if last is None else last.seq + 1,
            "at": at.astimezone(UTC),
            "prev_hash": GENESIS if last is None else last.hash,
            "hash": "",
        }
    )
    return draft.model_copy(update={"hash": entry_hash(draft.body())})


def verify_chain(
    chain: str, rows: Sequence[tuple[int, dict[str, Any]]], witnessed: Iterable[AuditWitness] = ()
) -> VerifyResult:
    """Check stored `(seq, entry as JSON)` rows of `chain`, in seq order, and the witnesses of `chain`."""
    problems: list[ChainProblem] = []
    prev_hash = GENESIS
    expected_seq = 1
    for seq, data in rows:
        if seq != expected_seq:
            missing = ", ".join(str(s) for s in range(expected_seq, seq)) or str(expected_seq)
            problems.append(ChainProblem(seq=seq, problem=f"entries missing before {seq}: {missing}"))
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
    mine = sorted({(w.seq, w.hash) for w in witnessed if w.chain == chain})
    problems += _against_witnesses(mine, {seq: data.get("hash") for seq, data in rows})
    return VerifyResult(chain=chain, entries=len(rows), problems=problems, witnessed=len(mine))


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


def filter_entries(
    entries: Iterable[AuditEntry], *, incident_id: str | None = None, scope_key: str | None = None
) -> list[AuditEntry]:
    result = list(entries)
    if incident_id is not None:
        result = [e for e in result if e.incident_id == incident_id]
    if scope_key is not None:
        result = [e for e in result if e.scope_key == scope_key]
    return result
