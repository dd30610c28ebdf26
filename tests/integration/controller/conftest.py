"""The real template.yaml on failsafe's local AWS, with the real ASL and handlers, on a ManualClock.

One stack per module (provisioning takes seconds); scenarios run one after another on it and each ends
with the scope back at NORMAL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.controller.controller_stack import (
    ROOT,
    Controller,
)
from tests.integration.handlers.world import ROUTING_KEY, PagerDutyServer, pagerduty_server

from failsafe.controller.runtime import cold_start
from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.stack import LocalStack


@pytest.fixture(scope="module")
def pd_module() -> Iterator[PagerDutyServer]:
    with pagerduty_server() as server:
        yield server


@pytest.fixture(scope="module")
def controller(pd_module: PagerDutyServer) -> Iterator[Controller]:
    cold_start()
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
        cold_start()
