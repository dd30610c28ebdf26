"""The audit log's witness: what a valid-looking chain cannot show (its newest entries deleted or rewritten
with recomputed hashes) shows against the (seq, hash) lines written to CloudWatch Logs at append time."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from tests.unit.handlers.conftest import REGION, World

from failsafe.aws import audit_witness
from failsafe.aws.audit_log import AuditEvent, AuditLog, AuditWitness, entry_hash
from failsafe.aws.audit_witness import read_witnesses
from failsafe.controller.runtime import shared_client


def _log_with_witnesses(count: int) -> tuple[AuditLog, list[AuditWitness]]:
    witnessed: list[AuditWitness] = []
    log = AuditLog(shared_client("dynamodb", REGION), "audit", witness=witnessed.append)
    for n in range(count):
        log.append(AuditEvent(action=f"op{n}", actor="alice", reason="drill"))
    return log, witnessed


def _forge(seq: int, reason: str) -> None:
    """Rewrite entry `seq` with a recomputed hash, as someone holding PutItem could."""
    ddb = shared_client("dynamodb", REGION)
    key = {"chain": {"S": "failsafe"}, "seq": {"N": str(seq)}}
    item = ddb.get_item(TableName="audit", Key=key)["Item"]
    entry = json.loads(item["entry"]["S"])
    entry["reason"] = reason
    entry["hash"] = entry_hash({k: v for k, v in entry.items() if k != "hash"})
    item["entry"] = {"S": json.dumps(entry)}
    ddb.put_item(TableName="audit", Item=item)


def test_every_append_is_witnessed_and_an_intact_chain_matches_its_witnesses(world: World) -> None:
    # Given three appends with a witness
    log, witnessed = _log_with_witnesses(3)

    # When the chain is verified against them
    result = log.verify(witnessed)

    # Then each append was witnessed with its hash, and all match
    assert [(w.seq, w.hash) for w in witnessed] == [(e.seq, e.hash) for e in log.entries()]
    assert result.ok
    assert (result.entries, result.witnessed) == (3, 3)


def test_the_newest_entry_deleted_is_caught_only_by_its_witness(world: World) -> None:
    # Given three witnessed entries, the newest of which someone deletes
    log, witnessed = _log_with_witnesses(3)
    shared_client("dynamodb", REGION).delete_item(
        TableName="audit", Key={"chain": {"S": "failsafe"}, "seq": {"N": "3"}}
    )

    # When the chain is verified with and without its witnesses
    # Then the chain alone looks fine, and the witness names the missing entry
    assert log.verify().ok
    [problem] = log.verify(witnessed).problems
    assert (problem.seq, problem.problem) == (
        3,
        "witnessed when written but missing now (deleted or truncated)",
    )


def test_an_entry_rewritten_with_a_recomputed_hash_is_caught_by_its_witness(world: World) -> None:
    # Given three witnessed entries, the newest rewritten with a consistent hash
    log, witnessed = _log_with_witnesses(3)
    _forge(3, "nothing to see here")

    # When the chain is verified against its witnesses
    problems = log.verify(witnessed).problems

    # Then the rewrite is named
    assert [(p.seq, p.problem) for p in problems] == [
        (3, "differs from what was witnessed when written (rewritten)")
    ]


def test_witness_lines_are_read_back_from_cloudwatch_logs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a witness line as a function logs it, stored in its log group beside other lines
    stream = io.StringIO()
    audit_witness.log_witness(AuditWitness(chain="failsafe", seq=7, hash="ab" * 32), stream)
    [line] = stream.getvalue().splitlines()
    logs = shared_client("logs", REGION)
    now_ms = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
    logs.create_log_group(logGroupName="/aws/lambda/notify")
    logs.create_log_stream(logGroupName="/aws/lambda/notify", logStreamName="s")
    logs.put_log_events(
        logGroupName="/aws/lambda/notify",
        logStreamName="s",
        logEvents=[
            {"timestamp": now_ms, "message": "START RequestId: r"},
            {"timestamp": now_ms + 1, "message": line},
            {"timestamp": now_ms + 2, "message": '{"audit_witness": "not a witness"}'},
        ],
    )

    # When the witnesses are read from that group and from a group that does not exist yet
    witnesses = read_witnesses(logs, ["/aws/lambda/notify", "/aws/lambda/never-ran"])

    # Then exactly the witness line comes back
    assert witnesses == [AuditWitness(chain="failsafe", seq=7, hash="ab" * 32)]


def test_the_witness_is_written_whatever_the_log_level(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the functions' loggers at ERROR (LogLevel WARNING and ERROR are allowed by the template)
    out = io.StringIO()
    handler = getattr(audit_witness, "_handler", None)
    if handler is not None:
        monkeypatch.setattr(handler, "stream", out)
    logging.getLogger("failsafe-audit").setLevel(logging.ERROR)
    logging.getLogger("failsafe").setLevel(logging.ERROR)
    try:
        log = AuditLog(shared_client("dynamodb", REGION), "audit", witness=audit_witness.log_witness)
        # When an entry is appended
        entry = log.append(AuditEvent(action="op", actor="alice", reason="drill"))
    finally:
        logging.getLogger("failsafe-audit").setLevel(logging.NOTSET)
        logging.getLogger("failsafe").setLevel(logging.NOTSET)
    # Then its witness line is on stdout (the log group) all the same
    written = out.getvalue() + capsys.readouterr().out
    lines = [json.loads(line) for line in written.splitlines() if "audit_witness" in line]
    assert lines == [{"audit_witness": {"chain": "failsafe", "seq": 1, "hash": entry.hash}}]


def test_a_forged_correctly_chained_entry_is_caught_as_unwitnessed(world: World) -> None:
    # Given three witnessed entries and a fourth put with a plain PutItem, chained and hashed correctly
    log, witnessed = _log_with_witnesses(3)
    forger = AuditLog(shared_client("dynamodb", REGION), "audit")  # no witness: it bypassed the functions
    forger.append(AuditEvent(action="approval:approve", actor="mallory", reason="forged"))
    assert log.verify().ok  # the chain alone cannot tell
    # When the chain is verified against the witnesses
    problems = log.verify(witnessed).problems
    # Then the forged entry is named
    assert [(p.seq, p.problem) for p in problems] == [
        (4, "never witnessed when written (forged, or its witness is lost)")
    ]


def test_a_malformed_head_is_reported_not_fatal(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # Given two witnessed entries and a malformed item written at the head with a plain PutItem
    log, witnessed = _log_with_witnesses(2)
    shared_client("dynamodb", REGION).put_item(
        TableName="audit",
        Item={"chain": {"S": "failsafe"}, "seq": {"N": "3"}, "entry": {"S": '{"seq": 3, "junk": true}'}},
    )
    # When the controller appends again
    entry = log.append(AuditEvent(action="transition:STAGE_APPLIED", actor="failsafe", reason="next step"))
    # Then the append succeeds after it, the head is reported, and verify names the malformed entry
    assert entry.seq == 4
    assert "audit_head_malformed" in capsys.readouterr().err
    assert [e.seq for e in log.entries()] == [1, 2, 4]
    problems = {(p.seq, p.problem) for p in log.verify([*witnessed]).problems}
    assert (3, "content does not match its hash (tampered)") in problems
    assert (3, "never witnessed when written (forged, or its witness is lost)") in problems
