"""The audit log's witness: each append is reported to CloudWatch Logs, outside the audit table.

A Lambda function's log group takes new events from the function but the function's role cannot delete
or change them, so the (chain, seq, hash) lines there show what the table held when each entry was
written. `read_witnesses` collects them from the functions' log groups for `AuditLog.verify`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from failsafe.domain.audit import AuditWitness

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

WITNESS_KEY = "audit_witness"
_logger = Logger(service="failsafe-audit")


def log_witness(witness: AuditWitness) -> None:
    """Write `witness` as one structured log line (the function's log group is the witness store)."""
    _logger.info("audit entry appended", extra={WITNESS_KEY: witness.model_dump(mode="json")})


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
