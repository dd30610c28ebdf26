"""Drive the controller's task handlers the way the state machine does, step by step."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.handlers.conftest import REGION, FakeContext, World

from failsafe.aws.appconfig_deployer import AppConfigDeployer, AppConfigTarget
from failsafe.controller.runtime import shared_client
from failsafe.handlers import alarm_ingest, apply_toggles, health_check, notify, plan_stage


def ingest(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = alarm_ingest.handler(event, FakeContext())
    return result


def execution_input(world: World, incident_id: str) -> dict[str, Any]:
    sfn = world.client("stepfunctions")
    arn = world.env["STATE_MACHINE_ARN"].replace(":stateMachine:", ":execution:") + f":{incident_id}"
    data: dict[str, Any] = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    return data


def task(module: Any, action: str, state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = module.handler({"action": action, "context": state, **extra}, FakeContext())
    return result


def plan(state: dict[str, Any], action: str) -> dict[str, Any]:
    state["plan"] = task(plan_stage, action, state)
    return state["plan"]


def deploy_until_complete(world: World, state: dict[str, Any], action: str = "apply") -> dict[str, Any]:
    """Apply (or restore), then check until COMPLETE or rolled back, moving the clock like the Wait state."""
    state["deployment"] = task(apply_toggles, action, state)
    for _ in range(200):
        state["deployment"] = task(apply_toggles, "check", state)
        if state["deployment"]["state"] == "COMPLETE" or state["deployment"]["rolled_back"]:
            return state["deployment"]
        world.clock.advance(state["plan"]["deployment_poll_seconds"])
    raise AssertionError("deployment never finished")


def health(state: dict[str, Any]) -> dict[str, Any]:
    state["health"] = task(health_check, "check", state)
    return state["health"]


def notify_event(state: dict[str, Any], event: str) -> dict[str, Any]:
    return task(notify, "notify", state, event=event)


def current_document(world: World) -> dict[str, Any]:
    appconfig = world.client("appconfig")
    env = world.env
    items = appconfig.list_deployments(
        ApplicationId=env["APPCONFIG_APPLICATION_ID"], EnvironmentId=env["APPCONFIG_ENVIRONMENT_ID"]
    )["Items"]
    complete = [i for i in items if i["State"] == "COMPLETE"]
    latest = max(complete, key=lambda i: i["DeploymentNumber"])
    version = int(latest["ConfigurationVersion"])
    body = appconfig.get_hosted_configuration_version(
        ApplicationId=env["APPCONFIG_APPLICATION_ID"],
        ConfigurationProfileId=env["APPCONFIG_PROFILE_ID"],
        VersionNumber=version,
    )["Content"].read()
    data: dict[str, Any] = json.loads(body)
    return data


def state_record(world: World, scope: str) -> dict[str, Any] | None:
    item = (
        world.client("dynamodb").get_item(TableName="state", Key={"pk": {"S": f"scope#{scope}"}}).get("Item")
    )
    return None if item is None else json.loads(item["body"]["S"])


def executions(world: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = world.client("stepfunctions").list_executions(
        stateMachineArn=world.env["STATE_MACHINE_ARN"]
    )["executions"]
    return items


def audit_actions(world: World) -> list[str]:
    items = world.client("dynamodb").scan(TableName="audit")["Items"]
    return [i["action"]["S"] for i in sorted(items, key=lambda i: int(i["seq"]["N"]))]


class RecordingExecutions:
    """Stands in for Step Functions' SendTaskSuccess/Failure (moto has no waiting task to answer)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def send_success(self, token: str, output: dict[str, Any]) -> None:
        self.calls.append(("success", token, output))

    def send_failure(self, token: str, error: str, cause: str) -> None:
        self.calls.append(("failure", token, (error, json.loads(cause))))


def world_deployer(world: World) -> AppConfigDeployer:
    """An AppConfig deployer on the world's environment, on its clock."""
    env = world.env
    return AppConfigDeployer(
        shared_client("appconfig", REGION),
        AppConfigTarget(
            application_id=env["APPCONFIG_APPLICATION_ID"],
            environment_id=env["APPCONFIG_ENVIRONMENT_ID"],
            profile_id=env["APPCONFIG_PROFILE_ID"],
            immediate_strategy_id=env["APPCONFIG_IMMEDIATE_STRATEGY_ID"],
            gradual_strategy_id=env["APPCONFIG_GRADUAL_STRATEGY_ID"],
        ),
        clock=world.clock,
    )


ACCOUNT = "123456789012"
# The world's operators (IAM users tagged with every failsafe role: these tests are about the controller;
# the authorization matrix has its own tests in tests/unit/domain and tests/integration/controller).
OPERATORS = ("alice", "bob", "carol", "dave")


def principal_arn(who: str) -> str:
    """The ARN of the world's IAM user `who` (`alice` or `alice@example.com`); an ARN is kept."""
    return who if who.startswith("arn:") else f"arn:aws:iam::{ACCOUNT}:user/{who.split('@', 1)[0]}"


def signed(event: dict[str, Any], who: str | None = None, *, default: str = "alice") -> dict[str, Any]:
    """`event` as the function URL event Lambda builds for a request signed by IAM user `who` (a name in
    the body's legacy `requested_by`/`approver`, else `default`): the verified caller is in
    `requestContext.authorizer.iam`, the body carries no identity."""
    body = dict(event)
    named = body.pop("requested_by", None) or body.pop("approver", None)
    user = principal_arn(who or named or default)
    return {
        "version": "2.0",
        "rawPath": "/",
        "body": json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {
            "http": {"method": "POST", "path": "/"},
            "authorizer": {"iam": {"userArn": user, "accountId": ACCOUNT}},
        },
    }
