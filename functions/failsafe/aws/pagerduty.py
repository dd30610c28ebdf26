"""PagerDuty Events API v2: trigger when a rollback begins, resolve at NORMAL.

The routing key lives in Secrets Manager and is fetched at call time through Powertools' `SecretsProvider`
(cached for `secret_max_age` seconds). It is never logged and never part of an exception message.
`dedup_key` is the incident id, so repeated triggers update one PagerDuty incident and the resolve closes it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from failsafe.clock import get_clock

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

DEFAULT_BASE_URL = "https://events.pagerduty.com"
PdSeverity = Literal["critical", "error", "warning", "info"]

# Trigger severity (catalog) -> PagerDuty severity.
SEVERITY_MAP: dict[str, PdSeverity] = {
    "critical": "critical",
    "emergency": "critical",
    "P1": "error",
    "P2": "warning",
    "manual": "error",
}


def pagerduty_severity(trigger_severity: str | None) -> PdSeverity:
    return SEVERITY_MAP.get(trigger_severity or "", "info")


class PagerDutyError(Exception):
    pass


class PagerDutyEvent(BaseModel):
    """What failsafe pages with; `to_v2` renders the Events API v2 body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str = Field(..., min_length=1, max_length=255)
    summary: str = Field(..., min_length=1)
    source: str = Field(..., min_length=1)
    severity: PdSeverity
    component: str | None = None
    group: str | None = None
    event_class: str | None = None
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    custom_details: dict[str, Any] = Field(default_factory=dict)

    def to_v2(self, routing_key: str, action: Literal["trigger", "acknowledge", "resolve"]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": self.incident_id,
        }
        if action == "trigger":
            payload: dict[str, Any] = {
                "summary": self.summary[:1024],
                "source": self.source,
                "severity": self.severity,
                "timestamp": self.timestamp.astimezone(UTC).isoformat(),
                "custom_details": self.custom_details,
            }
            for key, value in (
                ("component", self.component),
                ("group", self.group),
                ("class", self.event_class),
            ):
                if value:
                    payload[key] = value
            body["payload"] = payload
        return body


Sender = Callable[[str, bytes, float], tuple[int, bytes]]


def _urllib_send(url: str, data: bytes, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


class PagerDutyClient:
    def __init__(
        self,
        secrets: SecretsProvider,
        secret_id: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        secret_max_age: int = 300,
        attempts: int = 4,
        base_delay: float = 1.0,
        timeout: float = 5.0,
        send: Sender = _urllib_send,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._secrets = secrets
        self._secret_id = secret_id
        self._url = base_url.rstrip("/") + "/v2/enqueue"
        self._max_age = secret_max_age
        self._attempts = attempts
        self._base_delay = base_delay
        self._timeout = timeout
        self._send = send
        self._sleep = sleep or get_clock().sleep

    def _routing_key(self) -> str:
        value = self._secrets.get(self._secret_id, max_age=self._max_age)
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str) or not value.strip():
            raise PagerDutyError(f"secret {self._secret_id}: empty PagerDuty routing key")
        text = value.strip()
        if text.startswith("{"):
            parsed = json.loads(text)
            text = str(parsed.get("routing_key", ""))
            if not text:
                raise PagerDutyError(f"secret {self._secret_id}: JSON secret has no 'routing_key'")
        return text

    def trigger(self, event: PagerDutyEvent) -> dict[str, Any]:
        return self._post(event.to_v2(self._routing_key(), "trigger"))

    def resolve(self, event: PagerDutyEvent) -> dict[str, Any]:
        return self._post(event.to_v2(self._routing_key(), "resolve"))

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode("utf-8")
        delay = self._base_delay
        last = ""
        for attempt in range(1, self._attempts + 1):
            try:
                status, raw = self._send(self._url, data, self._timeout)
            except OSError as exc:
                status, raw = 0, str(exc).encode()
            if 200 <= status < 300:
                parsed = json.loads(raw or b"{}")
                return parsed if isinstance(parsed, dict) else {}
            last = f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}"
            if status not in (0, 429) and status < 500:
                raise PagerDutyError(
                    f"PagerDuty rejected {body['event_action']} for {body['dedup_key']}: {last}"
                )
            if attempt < self._attempts:
                self._sleep(delay)
                delay *= 2
        raise PagerDutyError(
            f"PagerDuty {body['event_action']} for {body['dedup_key']} failed "
            f"after {self._attempts} attempts: "
            f"{last}"
        )
