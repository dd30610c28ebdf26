"""The real template.yaml on failsafe's local AWS, with the real ASL and handlers, on a ManualClock.

One stack per module (provisioning takes seconds); scenarios run one after another on it and each ends
with the scope back at NORMAL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.unit.handlers.conftest import ROUTING_KEY, PagerDutyServer, pagerduty_server

from failsafe.aws.reports import EfficacyReader
from failsafe.domain.metrics import NAMESPACE, REQUESTS
from failsafe.domain.scope import Scope
from failsafe.handlers._common import reset_runtimes
from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[3]


def sample_event(name: str, **changes: Any) -> dict[str, Any]:
    """A sample event of `events/` (the ones `sam local invoke` uses), with fields changed."""
    data: dict[str, Any] = json.loads((ROOT / "events" / name).read_text())
    return {**data, **changes}


def serve_requests(
    cloudwatch: Any, start: datetime, scope: str = "recommender/prod", minutes: int = 180
) -> None:
    """Requests served in `scope` once a minute from `start` for `minutes` (the Requests metric, as EMF)."""
    for first in range(0, minutes, 20):
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": REQUESTS,
                    "Dimensions": EfficacyReader.dimensions(Scope.parse(scope)),
                    "Timestamp": start + timedelta(minutes=minute),
                    "Value": 100.0,
                    "Unit": "Count",
                }
                for minute in range(first, min(first + 20, minutes))
            ],
        )


@dataclass
class Controller:
    stack: LocalStack
    clock: ManualClock
    queue_url: str
    pd: PagerDutyServer
    credentials: Path | None = None

    def serve_requests(self, scope: str = "recommender/prod", minutes: int = 180) -> None:
        """The recommender serves requests in `scope` every minute for the next `minutes` of simulated time
        (recovery is judged on traffic; the ManualClock moves only with the execution's Waits)."""
        serve_requests(self.client("cloudwatch"), self.clock.now(), scope, minutes)

    def client(self, name: str) -> Any:
        return self.stack.client(name)

    def call_as(self, who: str, url_output: str, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """POST `event` to the function URL `url_output`, SigV4-signed with the keys of demo operator `who`
        (alice and bob on call, erin engineering manager, carol CTO): (payload, failed) like `invoke`."""
        import tempfile

        from failsafe_tools.cli.function_url import Signer, UrlCallFailed, call
        from failsafe_tools.local.iam_auth import create_operators, write_credentials

        if self.credentials is None:
            folder = Path(tempfile.mkdtemp(prefix="failsafe-operators-"))
            self.credentials = write_credentials(create_operators(self.client("iam")), folder / "credentials")
        assert self.stack.function_urls is not None
        body = {k: v for k, v in event.items() if k not in ("requested_by", "approver")}
        signer = Signer(self.stack.region, credentials_file=str(self.credentials), profile=who)
        try:
            return call(
                self.outputs[url_output], body, signer=signer, gateway=self.stack.function_urls.url
            ), False
        except UrlCallFailed as exc:
            return {"errorType": exc.error_type, "errorMessage": exc.message, "status": exc.status}, True

    def invoke(self, function_output: str, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Invoke the function a stack output names, as `sam remote invoke` would: (payload, failed)."""
        response = self.client("lambda").invoke(
            FunctionName=self.outputs[function_output], Payload=json.dumps(event).encode()
        )
        payload: dict[str, Any] = json.loads(response["Payload"].read())
        return payload, "FunctionError" in response

    @property
    def outputs(self) -> dict[str, str]:
        return self.stack.outputs

    def sns_events(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        out: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(json.loads(message["Body"])["Message"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def wait_for_approval_request(self, scope: str, timeout: float = 20.0) -> dict[str, Any]:
        """Until the approval request was stored and notified (the request task has returned)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.record(scope)
            incident_id = record["lifecycle"]["incident_id"]
            notified = any(
                e["action"].startswith("notification:")
                and e["details"].get("event") == "approval_requested"
                and e["details"].get("channel") == "sns"
                for e in self.audit(incident_id)
            )
            if record.get("pending_approval") and notified:
                time.sleep(0.2)  # let the Lambda return its result to the waiting task
                return record
            time.sleep(0.05)
        raise AssertionError("the execution never asked for approval")

    def record(self, scope: str) -> dict[str, Any]:
        item = self.client("dynamodb").get_item(
            TableName=self.outputs["StateTableName"], Key={"pk": {"S": f"scope#{scope}"}}
        )["Item"]
        data: dict[str, Any] = json.loads(item["body"]["S"])
        return data

    def audit(self, incident_id: str) -> list[dict[str, Any]]:
        items = self.client("dynamodb").scan(TableName=self.outputs["AuditTableName"])["Items"]
        entries = [json.loads(i["entry"]["S"]) for i in items]
        return sorted((e for e in entries if e.get("incident_id") == incident_id), key=lambda e: e["seq"])

    def deployments(self) -> list[dict[str, Any]]:
        appconfig = self.client("appconfig")
        app, env = self.outputs["AppConfigApplicationId"], self.outputs["AppConfigEnvironmentId"]
        items = appconfig.list_deployments(ApplicationId=app, EnvironmentId=env)["Items"]
        return [
            appconfig.get_deployment(
                ApplicationId=app, EnvironmentId=env, DeploymentNumber=i["DeploymentNumber"]
            )
            for i in sorted(items, key=lambda i: i["DeploymentNumber"])
        ]


@pytest.fixture(scope="module")
def pd_module() -> Iterator[PagerDutyServer]:
    with pagerduty_server() as server:
        yield server


@pytest.fixture(scope="module")
def controller(pd_module: PagerDutyServer) -> Iterator[Controller]:
    reset_runtimes()
    clock = ManualClock()
    stack = LocalStack.start(
        ROOT / "template.yaml",
        {
            "PagerDutyBaseUrl": pd_module.url,
            "HealthCheckIntervalSeconds": 60,
            "DeploymentPollSeconds": 20,
            "ApprovalTimeoutSeconds": 600,
        },
        clock=clock,
        agent=False,
    )
    try:
        outputs = stack.outputs
        stack.client("secretsmanager").put_secret_value(
            SecretId=outputs["PagerDutySecretArn"], SecretString=ROUTING_KEY
        )
        sqs = stack.client("sqs")
        queue_url = sqs.create_queue(QueueName="controller-notifications")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        stack.client("sns").subscribe(TopicArn=outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn)
        yield Controller(stack=stack, clock=clock, queue_url=queue_url, pd=pd_module)
    finally:
        stack.stop()
        reset_runtimes()
