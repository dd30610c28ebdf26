"""A moto world for the controller's handlers and adapters: the resources template.yaml declares, created
directly with boto3 (DynamoDB tables, SNS topic with an SQS subscriber to read messages back, the PagerDuty
secret, the report bucket, a state machine, guardrail alarms, and AppConfig through failsafe's local
AppConfig), the handlers' environment variables, a ManualClock, and a PagerDuty Events v2 server on
127.0.0.1 that checks every payload against the v2 schema."""

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
import pytest
from moto import mock_aws

from failsafe.aws.reports import EfficacyReader
from failsafe.controller.runtime import shared_client
from failsafe.domain.catalog import DEFAULT_CATALOG
from failsafe.domain.metrics import NAMESPACE, REQUESTS
from failsafe.domain.scope import Scope
from failsafe.handlers._common import reset_runtimes
from failsafe_tools.local.appconfig import install
from failsafe_tools.local.clock import EPOCH_START, ManualClock, set_clock

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
REGION = "us-east-1"
ROUTING_KEY = "R0UT1NGKEY0000000000000000000000"
PREFIX = "failsafe-recommender-prod-"
SESSION = boto3.Session()
# The guardrail alarms the world creates (all of the catalog would only slow every test down).
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


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyServer]:
    with pagerduty_server() as server:
        yield server


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


# The world starts an hour after the sample events of events/ (stamped 2026-01-01T00:00-00:10Z), as a real
# controller reads alarm events after they happen: ingest drops events stamped further ahead of its clock
# than MAX_EVENT_CLOCK_SKEW_SECONDS.
WORLD_START = EPOCH_START + 3600


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    manual = ManualClock(start=WORLD_START)
    previous = set_clock(manual)
    yield manual
    set_clock(previous)


@dataclass
class World:
    env: dict[str, str]
    queue_url: str
    clock: ManualClock
    pagerduty: PagerDutyServer

    def client(self, name: str) -> Any:
        return shared_client(name, REGION)

    def sns_messages(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        out: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

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


def _table(ddb: Any, name: str, keys: list[tuple[str, str, str]], ttl: str | None = None) -> None:
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


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, clock: ManualClock, pagerduty: PagerDutyServer) -> Iterator[World]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "failsafe",
        "POWERTOOLS_METRICS_NAMESPACE": "Failsafe/Controller",
    }.items():
        monkeypatch.setenv(name, value)
    install()
    reset_runtimes()
    with mock_aws():
        ddb = shared_client("dynamodb", REGION)
        _table(ddb, "state", [("pk", "S", "HASH")])
        _table(ddb, "audit", [("chain", "S", "HASH"), ("seq", "N", "RANGE")])
        _table(ddb, "idempotency", [("id", "S", "HASH")], ttl="expiration")
        sns = shared_client("sns", REGION)
        topic = sns.create_topic(Name="failsafe")["TopicArn"]
        sqs = shared_client("sqs", REGION)
        queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        secret = shared_client("secretsmanager", REGION).create_secret(
            Name="pagerduty", SecretString=ROUTING_KEY
        )["ARN"]
        shared_client("s3", REGION).create_bucket(Bucket="reports")
        iam = shared_client("iam", REGION)
        for operator in ("alice", "bob", "carol", "dave"):
            iam.create_user(
                UserName=operator,
                Tags=[{"Key": "failsafe-roles", "Value": "on_call engineering_manager cto"}],
            )
        role = iam.create_role(
            RoleName="sfn",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        machine = shared_client("stepfunctions", REGION).create_state_machine(
            name="failsafe-rollback",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=role,
        )["stateMachineArn"]
        cw = shared_client("cloudwatch", REGION)
        for rule in (r for r in DEFAULT_CATALOG.rules if r.name in WORLD_ALARMS):
            cw.put_metric_alarm(
                AlarmName=PREFIX + rule.name,
                Namespace=NAMESPACE,
                MetricName=rule.metric,
                Dimensions=[
                    {"Name": "Service", "Value": "recommender"},
                    {"Name": "Environment", "Value": "prod"},
                ],
                Statistic="Average",
                Period=60,
                EvaluationPeriods=1,
                Threshold=DEFAULT_CATALOG.threshold_of(rule),
                ComparisonOperator=rule.comparison.cloudwatch_operator,
                TreatMissingData="notBreaching",
            )
            cw.set_alarm_state(AlarmName=PREFIX + rule.name, StateValue="OK", StateReason="init")
        appconfig = shared_client("appconfig", REGION)
        app = appconfig.create_application(Name="failsafe-recommender")["Id"]
        env_id = appconfig.create_environment(ApplicationId=app, Name="prod")["Id"]
        profile = appconfig.create_configuration_profile(
            ApplicationId=app, Name="toggles", LocationUri="hosted", Type="AWS.Freeform"
        )["Id"]
        immediate = appconfig.create_deployment_strategy(
            Name="immediate",
            DeploymentDurationInMinutes=0,
            FinalBakeTimeInMinutes=0,
            GrowthFactor=100,
            GrowthType="LINEAR",
            ReplicateTo="NONE",
        )["Id"]
        gradual = appconfig.create_deployment_strategy(
            Name="gradual",
            DeploymentDurationInMinutes=10,
            FinalBakeTimeInMinutes=5,
            GrowthFactor=20,
            GrowthType="LINEAR",
            ReplicateTo="NONE",
        )["Id"]
        env = {
            "FAILSAFE_SERVICE": "recommender",
            "FAILSAFE_ENVIRONMENT": "prod",
            "STATE_TABLE_NAME": "state",
            "AUDIT_TABLE_NAME": "audit",
            "IDEMPOTENCY_TABLE_NAME": "idempotency",
            "STATE_MACHINE_ARN": machine,
            "ALARM_NAME_PREFIX": PREFIX,
            "TOPIC_ARN": topic,
            "PAGERDUTY_SECRET_ARN": secret,
            "PAGERDUTY_BASE_URL": pagerduty.url,
            "REPORT_BUCKET": "reports",
            "APPCONFIG_APPLICATION_ID": app,
            "APPCONFIG_ENVIRONMENT_ID": env_id,
            "APPCONFIG_PROFILE_ID": profile,
            "APPCONFIG_IMMEDIATE_STRATEGY_ID": immediate,
            "APPCONFIG_GRADUAL_STRATEGY_ID": gradual,
            "HEALTH_CHECK_INTERVAL_SECONDS": "30",
            "DEPLOYMENT_POLL_SECONDS": "5",
            "APPROVAL_TIMEOUT_SECONDS": "600",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield World(env=env, queue_url=queue_url, clock=clock, pagerduty=pagerduty)
    reset_runtimes()
