"""Helpers shared by test folders (fixtures are in tests/conftest.py)."""

from __future__ import annotations

import json
from typing import Any


def drain_queue(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive and delete every message of `queue_url`; each body parsed as JSON, in arrival order."""
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


STACK_TEMPLATE: dict[str, Any] = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "NotificationTopicArn": {"Value": {"Ref": "Topic"}},
        "ServiceName": {"Value": "recommender"},
        "EnvironmentName": {"Value": "prod"},
    },
}
"""A one-topic stack with the outputs `--stack` resolution reads (the CLI target tests)."""
