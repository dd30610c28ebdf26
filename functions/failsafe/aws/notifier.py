"""SNS notifications: one structured JSON message with a short human subject for every transition."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

MESSAGE_SCHEMA = "failsafe.notification/1"
SUBJECT_LIMIT = 100  # SNS: ASCII, no line breaks, at most 100 characters


class Notification(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str = Field(..., description="transition, approval_requested, deployment_failed, ...")
    incident_id: str | None = None
    scope: str
    state_before: str | None = None
    state_after: str | None = None
    stage: str | None = None
    severity: str | None = None
    kind: str | None = None
    actor: str = "failsafe"
    reason: str = ""
    config_version: int | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    details: dict[str, Any] = Field(default_factory=dict)

    def subject(self) -> str:
        parts = ["[failsafe]"]
        if self.severity:
            parts.append(self.severity)
        if self.kind:
            parts.append(self.kind)
        parts.append(f"{self.scope}:")
        if self.state_after:
            arrow = f"{self.state_before} -> {self.state_after}" if self.state_before else self.state_after
            parts.append(arrow)
        else:
            parts.append(self.event.replace("_", " "))
        if self.stage:
            parts.append(f"({self.stage})")
        text = " ".join(parts)
        text = re.sub(r"[^\x20-\x7e]", "?", text)
        return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."

    def message(self) -> dict[str, Any]:
        return {"schema": MESSAGE_SCHEMA, **self.model_dump(mode="json")}


class Notifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, notification: Notification) -> str:
        attributes: dict[str, Any] = {
            "event": {"DataType": "String", "StringValue": notification.event},
            "scope": {"DataType": "String", "StringValue": notification.scope},
        }
        if notification.severity:
            attributes["severity"] = {"DataType": "String", "StringValue": notification.severity}
        response = self._client.publish(
            TopicArn=self._topic_arn,
            Subject=notification.subject(),
            Message=json.dumps(notification.message(), sort_keys=True),
            MessageAttributes=attributes,
        )
        return str(response["MessageId"])
