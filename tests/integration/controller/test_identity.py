"""Issue 12 on the local stack: operators are AWS principals. Every request below is SigV4-signed with a
local IAM principal's keys and sent to the AWS_IAM function URLs; the local gateway verifies the signature
against local IAM and the functions read the roles from the principals' `failsafe-roles` tags."""

from __future__ import annotations

import configparser
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.controller.conftest import Controller, sample_event

from failsafe.domain.authorization import ROLE_TAG_KEY
from failsafe.domain.principal import parse_principal
from failsafe_tools.cli.function_url import Signer, UrlCallFailed, call
from failsafe_tools.local.iam_auth import DEMO_OPERATORS, Operator, create_operators, write_credentials

SCOPE = "recommender/prod"
LEVEL_3 = {"action": "rollback", "level": "3", "scope": SCOPE, "reason": "release corrupts rankings"}


class Operators:
    def __init__(self, controller: Controller, credentials: Path, people: dict[str, Operator]) -> None:
        self.controller = controller
        self.credentials = credentials
        self.people = people

    def arn(self, name: str) -> str:
        """The principal's normalised ARN (an IAM user's path dropped), as the audit records it."""
        return parse_principal(self.people[name].arn).arn

    def call(self, who: str, url_output: str, payload: dict[str, Any]) -> dict[str, Any]:
        stack = self.controller.stack
        assert stack.function_urls is not None
        signer = Signer(stack.region, credentials_file=str(self.credentials), profile=who)
        return call(
            self.controller.outputs[url_output], payload, signer=signer, gateway=stack.function_urls.url
        )

    def refused(self, who: str, url_output: str, payload: dict[str, Any]) -> UrlCallFailed:
        with pytest.raises(UrlCallFailed) as caught:
            self.call(who, url_output, payload)
        return caught.value


@pytest.fixture(scope="module")
def operators(controller: Controller, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operators]:
    # Seed 004's demo operators plus a second engineering manager (frank) and a CTO role's session (dana).
    people = create_operators(
        controller.client("iam"), (*DEMO_OPERATORS, Operator("frank", ("engineering_manager",)))
    )
    path = write_credentials(people, tmp_path_factory.mktemp("aws") / "credentials")
    iam, sts = controller.client("iam"), controller.client("sts")
    role = iam.create_role(
        RoleName="FailsafeCto",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        Tags=[{"Key": ROLE_TAG_KEY, "Value": "cto"}],
    )["Role"]
    session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="dana")
    config = configparser.ConfigParser()
    config.read(path)
    creds = session["Credentials"]
    config["dana"] = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    with path.open("w", encoding="utf-8") as handle:
        config.write(handle)
    by_name = {p.name: p for p in people}
    by_name["dana"] = Operator("dana", ("cto",), session["AssumedRoleUser"]["Arn"])
    return Operators(controller, path, by_name)


def test_unsigned_and_forged_requests_never_reach_the_function(
    controller: Controller, operators: Operators
) -> None:
    # Given a request signed with a secret local IAM does not hold for alice's access key
    forged = Path(operators.credentials.parent / "forged")
    alice = operators.people["alice"]
    write_credentials([Operator("alice", (), alice.arn, alice.access_key_id, "not-her-secret")], forged)
    signer = Signer(controller.stack.region, credentials_file=str(forged), profile="alice")
    assert controller.stack.function_urls is not None
    # When it is sent, Then the gateway answers 403 as Lambda does and nothing was audited
    with pytest.raises(UrlCallFailed) as caught:
        call(
            controller.outputs["ManualRollbackUrl"],
            sample_event("kill-switch.json", dry_run=True),
            signer=signer,
            gateway=controller.stack.function_urls.url,
        )
    assert caught.value.status == 403
    assert "signature" in caught.value.message


def test_on_call_cannot_run_level_2_and_the_refusal_names_the_missing_role(
    controller: Controller, operators: Operators
) -> None:
    # Given alice, on call
    # When she asks for Level 2
    refused = operators.refused(
        "alice", "ManualRollbackUrl", {"action": "rollback", "level": "2", "scope": SCOPE, "reason": "errors"}
    )
    # Then it is refused (403), naming her principal and the role she lacks, and nothing started
    assert refused.status == 403
    assert operators.arn("alice") in refused.message
    assert "(roles: on_call) lacks the role cto or engineering_manager" in refused.message
    assert controller.record(SCOPE)["lifecycle"]["incident_id"] is None
    # And the refusal is audited under her ARN
    items = controller.client("dynamodb").scan(TableName=controller.outputs["AuditTableName"])["Items"]
    refusals = [json.loads(i["entry"]["S"]) for i in items]
    refusals = [e for e in refusals if e["action"] == "request:refused"]
    assert refusals[-1]["actor"] == operators.arn("alice")
    assert refusals[-1]["details"]["roles_needed"] == ["cto", "engineering_manager"]


def test_level_3_needs_a_cto_approval_by_another_principal(
    controller: Controller, operators: Operators
) -> None:
    # Given erin, an engineering manager, asks for Level 3 (a body naming someone else is refused outright)
    named = operators.refused("erin", "ManualRollbackUrl", {**LEVEL_3, "requested_by": "carol"})
    assert (named.status, named.error_type) == (400, "BadRequestError")
    started = operators.call("erin", "ManualRollbackUrl", LEVEL_3)
    incident = started["incident_id"]
    record = controller.wait_for_approval_request(SCOPE)
    assert record["requested_by"] == operators.arn("erin")
    decision = {"incident_id": incident, "decision": "approve", "reason": "ok"}
    # When erin approves her own request, Then it is refused
    own = operators.refused("erin", "ApprovalCallbackUrl", decision)
    assert own.status == 403
    assert "requested revert and cannot approve it" in own.message
    # and no body may name an approver, in any spelling
    for spelling in ("erin", "Erin", "erin ", " erin", "er\u200bin", "\uff45rin", operators.arn("carol")):
        named = operators.refused("erin", "ApprovalCallbackUrl", {**decision, "approver": spelling})
        assert (named.status, named.error_type) == (400, "BadRequestError"), spelling
    # When frank, another engineering manager, approves, Then it is refused for lack of the CTO role
    manager = operators.refused("frank", "ApprovalCallbackUrl", decision)
    assert manager.status == 403
    assert f"{operators.arn('frank')} (roles: engineering_manager) lacks the role cto" in manager.message
    # When alice (on call) approves, Then too
    assert "lacks the role cto" in operators.refused("alice", "ApprovalCallbackUrl", decision).message
    # When the break-glass direct invoke approves, Then it is refused: it cannot prove who calls
    answer, failed = controller.invoke("ApprovalCallbackFunctionName", decision)
    assert failed
    assert "must come from a verified principal" in answer["errorMessage"]
    # When carol, the CTO, approves, Then it goes through under her ARN
    approved = operators.call("carol", "ApprovalCallbackUrl", decision)
    assert approved["decided_by"] == operators.arn("carol")
    audit = controller.audit(incident)
    [grant] = [e for e in audit if e["action"] == "approval:approve"]
    assert grant["actor"] == operators.arn("carol")
    assert grant["details"]["requested_by"] == operators.arn("erin")
    refused = [e for e in audit if e["action"] == "approval:refused"]
    assert [e["actor"] for e in refused] == [
        operators.arn("erin"),
        operators.arn("frank"),
        operators.arn("alice"),
        "break-glass:lambda:InvokeFunction",
    ]
    assert refused[1]["details"]["roles_needed"] == ["cto"]
    # And erin recovers the scope through the URL
    recovered = operators.call(
        "erin",
        "ManualRollbackUrl",
        {"action": "recover", "scope": SCOPE, "reason": "done", "immediate": True},
    )
    assert recovered["requested_by"] == operators.arn("erin")


def test_break_glass_runs_only_the_kill_switch_and_dry_runs(
    controller: Controller, operators: Operators
) -> None:
    # Given a direct invoke (sam remote invoke), whose caller the function cannot see
    # When it asks for Level 2, Then it is refused
    answer, failed = controller.invoke("ManualRollbackFunctionName", {**LEVEL_3, "level": "2"})
    assert failed
    assert "direct invoke may run only level emergency and dry runs" in answer["errorMessage"]
    # When it names a requester, Then that is refused as well
    answer, failed = controller.invoke(
        "ManualRollbackFunctionName", sample_event("kill-switch.json", requested_by="alice", dry_run=True)
    )
    assert failed
    assert "requested_by" in answer["errorMessage"]
    # When it runs a dry run, Then it gets the plan, recorded as break-glass
    event = {**LEVEL_3, "dry_run": True}
    plan, failed = controller.invoke("ManualRollbackFunctionName", event)
    assert not failed, plan
    assert plan["requested_by"] == "break-glass:lambda:InvokeFunction"
    assert plan["approvals_needed"] == [
        {"stage": "revert", "approver": "anyone but break-glass:lambda:InvokeFunction", "roles": ["cto"]}
    ]
    assert plan["may_run"] == ["engineering_manager", "cto"]


def test_an_assumed_role_session_is_its_own_principal(controller: Controller, operators: Operators) -> None:
    # Given dana, a session of the role FailsafeCto (tagged cto)
    # When she asks for a Level 3 dry run, Then the verified requester is her session ARN
    plan = operators.call("dana", "ManualRollbackUrl", {**LEVEL_3, "dry_run": True})
    assert plan["requested_by"] == operators.arn("dana")
    assert plan["requested_by"].startswith("arn:aws:sts::")
