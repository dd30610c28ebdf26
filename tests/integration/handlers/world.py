"""The handlers' test world: moto, the local AppConfig, a PagerDuty stand-in on loopback, helpers.

Test modules import these names from here; `conftest.py` only holds the fixtures built from them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
from tests.support import drain_queue

from failsafe.aws.reports import EfficacyReader
from failsafe.controller.runtime import shared_client
from failsafe.domain.metrics import NAMESPACE, REQUESTS
from failsafe.domain.scope import Scope
from failsafe_tools.local.clock import EPOCH_START, ManualClock

ROOT = Path(__file__).resolve().parents[3]


EVENTS = ROOT / "events"


REGION = "us-east-1"


ROUTING_KEY = "R0UT1NGKEY0000000000000000000000"


PREFIX = "failsafe-recommender-prod-"


SESSION = boto3.Session()


WORLD_ALARMS = ("latency-p2", "latency-p1", "coverage-p1", "coverage-p2", "pii-detection-failure")


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


class FakeContext:
    function_name = "test-function"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


V2_SEVERITIES = {"critical", "error", "warning", "info"}


def v2_problems(body: Any) -> list[str]:
    """Problems with a PagerDuty Events API v2 request body (empty when valid)."""
    problems: list[str] = []
    if not isinstance(body, dict):
        return ["body is not an object"]
    if not isinstance(body.get("routing_key"), str) or len(body["routing_key"]) != 32:
        problems.append("routing_key must be a 32-character string")
    action = body.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        problems.append(f"event_action {action!r}")
    if not isinstance(body.get("dedup_key"), str) or not body["dedup_key"] or len(body["dedup_key"]) > 255:
        problems.append("dedup_key must be a non-empty string <= 255")
    allowed = {
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "images",
        "links",
        "client",
        "client_url",
    }
    if set(body) - allowed:
        problems.append(f"unknown keys {sorted(set(body) - allowed)}")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*problems, "trigger needs a payload"]
        for key in ("summary", "source", "severity"):
            if not isinstance(payload.get(key), str) or not payload[key]:
                problems.append(f"payload.{key} is required")
        if payload.get("severity") not in V2_SEVERITIES:
            problems.append(f"payload.severity {payload.get('severity')!r}")
        if len(str(payload.get("summary", ""))) > 1024:
            problems.append("payload.summary longer than 1024")
        extra = set(payload) - {
            "summary",
            "source",
            "severity",
            "timestamp",
            "component",
            "group",
            "class",
            "custom_details",
        }
        if extra:
            problems.append(f"unknown payload keys {sorted(extra)}")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("payload.custom_details must be an object")
    return problems


@dataclass
class PagerDutyServer:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    # Called at the start of every request, answered or failed (a test observes what had happened by then).
    on_request: Callable[[], None] | None = None


@contextmanager
def pagerduty_server() -> Iterator[PagerDutyServer]:
    """A PagerDuty Events API v2 endpoint on 127.0.0.1 that rejects payloads outside the v2 schema."""
    state = PagerDutyServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if state.on_request is not None:
                state.on_request()
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if state.fail_next:
                status = state.fail_next.pop(0)
                self._reply(status, {"status": "error", "message": "injected"})
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._reply(400, {"status": "invalid event", "errors": ["not JSON"]})
                return
            problems = v2_problems(body) if self.path == "/v2/enqueue" else [f"path {self.path}"]
            if problems:
                self._reply(400, {"status": "invalid event", "errors": problems})
                return
            state.received.append(body)
            self._reply(
                202, {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}
            )

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


WORLD_START = EPOCH_START + 3600


@dataclass
class World:
    env: dict[str, str]
    queue_url: str
    clock: ManualClock
    pagerduty: PagerDutyServer

    def client(self, name: str) -> Any:
        return shared_client(name, REGION)

    def sns_messages(self) -> list[dict[str, Any]]:
        return drain_queue(self.client("sqs"), self.queue_url)

    def set_alarm(self, rule: str, state: str) -> None:
        self.client("cloudwatch").set_alarm_state(
            AlarmName=PREFIX + rule, StateValue=state, StateReason="test"
        )

    def serve_requests(self, scope: str = "recommender/prod", count: int = 100) -> None:
        """The recommender served `count` requests in `scope` a second ago (its Requests metric, as EMF)."""
        parsed = Scope.parse(scope)
        self.client("cloudwatch").put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": REQUESTS,
                    "Dimensions": EfficacyReader.dimensions(parsed),
                    "Timestamp": self.clock.now() - timedelta(seconds=1),
                    "Value": float(count),
                    "Unit": "Count",
                }
            ],
        )


def create_table(ddb: Any, name: str, keys: list[tuple[str, str, str]], ttl: str | None = None) -> None:
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t, _ in keys],
        KeySchema=[{"AttributeName": n, "KeyType": k} for n, _, k in keys],
    )
    if ttl:
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
        )
