"""What ships is what runs: every function of the `sam build` output, in a sandbox process of a Python that
has only boto3 (what the Lambda runtime has), imports and answers its sample events from `events/`.

`make test` builds the package first (`make build`: sam build, bytecode, contents check) and the Lambda Python
(`make lambda-python`). Nothing here imports handlers from the source tree.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from failsafe_tools.local import lambda_runtime
from failsafe_tools.local.clock import EPOCH_START, ManualClock
from failsafe_tools.local.stack import LocalStack
from failsafe_tools.package import FORBIDDEN, built_functions

pytestmark = pytest.mark.e2e

EVENTS = Path(__file__).resolve().parents[2] / "events"
# The sample alarm events are stamped 2026-01-01T00:00-00:10; the stack's clock starts an hour later.
START = EPOCH_START + 3600


@pytest.fixture(scope="module")
def stack(built_package: tuple[Path, Path]) -> Iterator[LocalStack]:
    template, python = built_package
    local = LocalStack.start(template, clock=ManualClock(START), ticker=False, lambda_python=python)
    try:
        yield local
    finally:
        local.stop()


def function_name(stack: LocalStack, logical_id: str) -> str:
    [name] = [n for n in stack.provisioned.function_code if n.startswith(f"failsafe-{logical_id}-")]
    return name


def invoke(stack: LocalStack, logical_id: str, payload: bytes) -> tuple[str | None, Any]:
    response = stack.client("lambda").invoke(FunctionName=function_name(stack, logical_id), Payload=payload)
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_no_built_package_holds_tools_or_tests(built_package: tuple[Path, Path]) -> None:
    # Given every function of the build
    template, _ = built_package
    functions = built_functions(template.parent)
    assert len(functions) == 10

    # Then each holds its handler module and bytecode, and none of the tools or tests
    for function in functions:
        assert function.handler_module.is_file(), function.logical_id
        assert list(function.code_dir.glob("failsafe/handlers/__pycache__/*.pyc")), function.logical_id
        for forbidden in FORBIDDEN:
            assert not (function.code_dir / forbidden).exists(), (function.logical_id, forbidden)


@pytest.mark.parametrize(
    ("event_file", "outcome"),
    [
        ("alarm-coverage-p1.json", "started"),
        ("alarm-latency-p2.json", "joined"),
        ("alarm-ok.json", "recorded"),
        ("alarm-security-critical.json", "joined"),
        ("alarm-unknown.json", "dropped"),
    ],
)
def test_alarm_ingest_answers_its_sample_events(stack: LocalStack, event_file: str, outcome: str) -> None:
    # When the built AlarmIngest gets the sample EventBridge event
    error, body = invoke(stack, "AlarmIngestFunction", (EVENTS / event_file).read_bytes())

    # Then it classified it as the events README says
    assert error is None, body
    assert body["outcome"] == outcome, body


def test_manual_rollback_answers_its_sample_events(stack: LocalStack) -> None:
    # When the built ManualRollback gets the dry run of level 2
    error, body = invoke(
        stack, "ManualRollbackFunction", (EVENTS / "manual-level-2-dry-run.json").read_bytes()
    )
    # Then it shows the plan and changes nothing
    assert error is None, body
    assert body["dry_run"] is True
    assert body["changed"] is False
    assert body["stages"] == ["stage_1", "stage_2"]

    # And bad requests are refused by the handler's own validation, not by a broken package
    for bad in ("manual-level-7.json", "manual-missing-reason.json"):
        error, body = invoke(stack, "ManualRollbackFunction", (EVENTS / bad).read_bytes())
        assert error == "Unhandled"
        assert body["errorType"] == "ManualRequestError", body


def test_approval_callback_answers_its_sample_events(stack: LocalStack) -> None:
    # Given the sample approvals, which carry a placeholder incident id
    for event_file in ("approval.json", "approval-reject.json", "approval-by-requester.json"):
        error, body = invoke(stack, "ApprovalCallbackFunction", (EVENTS / event_file).read_bytes())
        # Then the built handler looked the incident up and said it does not exist
        assert error == "Unhandled"
        assert body["errorType"] == "ApprovalError", body
        assert "no such incident" in body["errorMessage"]


@pytest.mark.parametrize(
    "logical_id",
    [
        "PlanStageFunction",
        "ApplyTogglesFunction",
        "HealthCheckFunction",
        "NotifyFunction",
        "ToggleValidatorFunction",
        "IncidentReportFunction",
    ],
)
def test_task_functions_import_and_validate_their_input(stack: LocalStack, logical_id: str) -> None:
    # Given a function with no sample event (Step Functions and AppConfig build its input)
    # When invoked with an empty event
    error, body = invoke(stack, logical_id, b"{}")

    # Then the built package imported and its own input model refused the event: no Runtime.* fault
    assert error == "Unhandled"
    assert not body["errorType"].startswith(("Runtime.", "Sandbox.")), body


def test_a_package_missing_a_dependency_fails_as_lambda_does(stack: LocalStack, tmp_path: Path) -> None:
    # Given the AlarmIngest package without pydantic (as if requirements.txt had lost it)
    name = function_name(stack, "AlarmIngestFunction")
    broken = tmp_path / "package"
    shutil.copytree(stack.provisioned.function_code[name], broken)
    shutil.rmtree(broken / "pydantic")
    lambda_runtime.register_code_root(name, broken)
    try:
        # When invoked
        error, body = invoke(stack, "AlarmIngestFunction", (EVENTS / "alarm-unknown.json").read_bytes())
    finally:
        lambda_runtime.register_code_root(name, stack.provisioned.function_code[name])

    # Then the sandbox could not import the handler, exactly as on AWS (the Lambda Python has no pydantic)
    assert error == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "pydantic" in body["errorMessage"]
