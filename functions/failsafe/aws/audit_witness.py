"""The audit log's witness: each append is reported to CloudWatch Logs, outside the audit table.

The witness line goes to stdout as one JSON object (`{"audit_witness": {...}}`) through a logger of its own
(`failsafe.audit.witness`: its own stdout handler, no propagation, emitted at CRITICAL), so neither
`LogLevel` (Powertools) nor any level set on the `failsafe` loggers can silence it. Lambda sends stdout to
the function's log group.

A Lambda function's log group takes new events from the function but the function's role cannot delete
or change them, so the (chain, seq, hash) lines there show what the table held when each entry was
written. `read_witnesses` collects them from the functions' log groups for `AuditLog.verify`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from failsafe.aws.audit_log import AuditWitness

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

WITNESS_KEY = "audit_witness"

_witness_logger = logging.getLogger("failsafe.audit.witness")
_handler = logging.StreamHandler(sys.stdout)
_handler.setFormatter(logging.Formatter("%(message)s"))
_witness_logger.handlers[:] = [_handler]
_witness_logger.setLevel(logging.DEBUG)
_witness_logger.propagate = False


def log_witness(witness: AuditWitness, stream: TextIO | None = None) -> None:
    """Write `witness` as one JSON line to stdout (or `stream`); the function's log group keeps it."""
    line = json.dumps({WITNESS_KEY: witness.model_dump(mode="json")}, sort_keys=True)
    if stream is not None:
        print(line, file=stream, flush=True)
        return
    _witness_logger.critical(line)


def function_log_groups(function_names: Iterable[str]) -> list[str]:
    return [f"/aws/lambda/{name}" for name in function_names]


def read_witnesses(logs: CloudWatchLogsClient, log_groups: Iterable[str]) -> list[AuditWitness]:
    """Every witness line in `log_groups`; a group that does not exist yet (the function never ran) has
    none, and a line that does not parse as a witness is skipped."""
    witnesses: list[AuditWitness] = []
    for group in log_groups:
        for message in _messages(logs, group):
            witness = _parse(message)
            if witness is not None:
                witnesses.append(witness)
    return witnesses


def _messages(logs: CloudWatchLogsClient, group: str) -> Iterator[str]:
    paginator = logs.get_paginator("filter_log_events")
    try:
        for page in paginator.paginate(logGroupName=group, filterPattern=f'"{WITNESS_KEY}"'):
            for event in page.get("events", []):
                yield event.get("message", "")
    except logs.exceptions.ResourceNotFoundException:
        return


def _parse(message: str) -> AuditWitness | None:
    try:
        data: Any = json.loads(message)
        return AuditWitness.model_validate(data[WITNESS_KEY]) if isinstance(data, dict) else None
    except (ValueError, KeyError, ValidationError):
        return None
