"""Step Functions: moto's ASL interpreter runs real ASL with Lambda tasks, on the local clock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from tests.integration.runtime.functions_support import FIXTURES, REGION, FunctionFactory

from failsafe_tools.local import stepfunctions
from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.lambda_runtime import MotoHookError
from failsafe_tools.local.stepfunctions import (
    UnresolvedSubstitutionError,
    render_definition,
    wait_for_execution,
)

StartExecution = Callable[..., str]


def _asl(name: str, **substitutions: object) -> str:
    return render_definition((FIXTURES / name).read_text(), substitutions)


def _sfn() -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def start(role_arn: str) -> StartExecution:
    """Create a state machine from a rendered definition and start one execution; returns its ARN."""
    counter = iter(range(1000))

    def run(definition: str, payload: dict[str, Any] | None = None) -> str:
        n = next(counter)
        machine = _sfn().create_state_machine(name=f"sm-{n}", definition=definition, roleArn=role_arn)
        execution = _sfn().start_execution(
            stateMachineArn=machine["stateMachineArn"], name=f"incident-{n}", input=json.dumps(payload or {})
        )
        return str(execution["executionArn"])

    return run


def _history(execution_arn: str) -> list[dict[str, Any]]:
    return list(_sfn().get_execution_history(executionArn=execution_arn)["events"])


def _wait_for_event(execution_arn: str, event_type: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(e["type"] == event_type for e in _history(execution_arn)):
            return
        time.sleep(0.005)
    raise AssertionError(f"no {event_type} in {[e['type'] for e in _history(execution_arn)]}")


def _stays_running(execution_arn: str, settle_s: float = 0.1) -> bool:
    time.sleep(settle_s)
    return bool(_sfn().describe_execution(executionArn=execution_arn)["status"] == "RUNNING")


# -- DefinitionSubstitutions ------------------------------------------------------------------------------


def test_render_definition_resolves_placeholders_like_sam() -> None:
    # Given the ASL text with a string, a number and a literal ${!...} escape
    text = (FIXTURES / "retry_catch_wait.asl.json").read_text()

    # When it is rendered
    rendered = json.loads(
        render_definition(
            text,
            {
                "ApplyFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:apply",
                "VerifySeconds": 900,
            },
        )
    )

    # Then the string and the number are substituted and the escape becomes a literal
    assert rendered["States"]["Apply"]["Parameters"]["FunctionName"].endswith(":function:apply")
    assert rendered["States"]["VerifyWindow"]["Seconds"] == 900
    assert rendered["States"]["Escalate"]["Cause"] == "apply failed; literal ${NotASubstitution}"


def test_render_definition_names_every_unresolved_placeholder() -> None:
    # Given the ASL text and substitutions missing two names
    text = (FIXTURES / "wait_for_token_heartbeat.asl.json").read_text()

    # When it is rendered
    # Then rendering fails, naming both
    with pytest.raises(
        UnresolvedSubstitutionError, match=r"\$\{TimeoutSeconds\}, \$\{HeartbeatSeconds\}"
    ) as caught:
        render_definition(text, {"RecordTokenArn": "arn:aws:lambda:us-east-1:123456789012:function:x"})
    assert caught.value.names == ["TimeoutSeconds", "HeartbeatSeconds"]


def test_render_definition_rejects_a_result_that_is_not_json() -> None:
    # Given a substitution that breaks the JSON
    # When it is rendered
    # Then the broken spot is named
    with pytest.raises(ValueError, match="not valid JSON"):
        render_definition('{"Seconds": ${S}}', {"S": "ten"})


# -- Task + Retry + Catch + Wait --------------------------------------------------------------------------


def test_retry_on_a_custom_error_then_a_15_minute_wait_completes_at_once_under_a_manual_clock(
    make_function: FunctionFactory, start: StartExecution, clock: ManualClock
) -> None:
    # Given a state machine whose Lambda task fails twice with TransientDependencyError, then a 900 s Wait
    arn = make_function("apply-fn", "rt_handlers.flaky")
    definition = _asl("retry_catch_wait.asl.json", ApplyFunctionArn=arn, VerifySeconds=900)
    started_at = clock.time()

    # When an execution runs
    execution = start(definition, {"key": "scope-a", "failures": 2})
    result = wait_for_execution(_sfn(), execution, timeout_s=120)

    # Then it succeeds after two retries, with 10 s and 30 s backoff and the 900 s wait on the local clock
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["applied"] == {"key": "scope-a", "attempts": 3}
    assert clock.time() - started_at == 10 + 30 + 900
    # And the history is on the local clock
    history = _history(execution)
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failed] == ["TransientDependencyError"] * 2
    scheduled = [e["timestamp"].timestamp() - started_at for e in history if e["type"] == "TaskScheduled"]
    assert scheduled == [0, 10, 40]
    wait_exit = next(e for e in history if e["type"] == "WaitStateExited")
    assert wait_exit["timestamp"].timestamp() - started_at == 940
    assert result["startDate"].timestamp() == started_at
    assert result["stopDate"].timestamp() == started_at + 940


def test_retries_exhausted_go_to_the_catch(
    make_function: FunctionFactory, start: StartExecution, clock: ManualClock
) -> None:
    # Given the same state machine and a task that keeps failing
    arn = make_function("apply-fn", "rt_handlers.flaky")
    definition = _asl("retry_catch_wait.asl.json", ApplyFunctionArn=arn, VerifySeconds=900)

    # When an execution runs
    execution = start(definition, {"key": "scope-b", "failures": 99})
    result = wait_for_execution(_sfn(), execution, timeout_s=120)

    # Then after the initial attempt and 3 retries the Catch routes to the Fail state
    assert result["status"] == "FAILED"
    assert result["error"] == "Escalated"
    failed = [e for e in _history(execution) if e["type"] == "TaskFailed"]
    assert len(failed) == 4
    assert (
        json.loads(failed[-1]["taskFailedEventDetails"]["cause"])["errorType"] == "TransientDependencyError"
    )


def test_a_direct_function_arn_task_retries_and_catches_by_error_type(
    make_function: FunctionFactory, start: StartExecution, clock: ManualClock
) -> None:
    # Given a Task whose Resource is the function ARN and whose handler raises PermanentDependencyError
    arn = make_function("permanent-fn", "rt_handlers.permanent")
    definition = _asl("direct_arn_retry.asl.json", FunctionArn=arn)
    started_at = clock.time()

    # When an execution runs
    execution = start(definition, {"key": "scope-c"})
    result = wait_for_execution(_sfn(), execution, timeout_s=120)

    # Then the Retry (for another error) does not apply and the Catch does
    assert result["status"] == "SUCCEEDED"
    error = json.loads(result["output"])["error"]
    assert error["Error"] == "PermanentDependencyError"
    assert json.loads(error["Cause"])["errorMessage"] == "scope-c is gone for good"
    assert [e["type"] for e in _history(execution)].count("LambdaFunctionFailed") == 1
    assert clock.time() == started_at


def test_a_lambda_timeout_reaches_the_state_machine_as_sandbox_timedout(
    make_function: FunctionFactory, start: StartExecution
) -> None:
    # Given a direct-ARN task whose 3 s function spends 10 s
    arn = make_function("slow-fn", "rt_handlers.slow", timeout=3)
    definition = json.dumps(
        {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": arn, "End": True}}}
    )

    # When an execution runs with that input
    execution = start(definition, {"sleep": 10})
    result = wait_for_execution(_sfn(), execution, timeout_s=120)

    # Then it fails with Lambda's timeout error type
    assert result["status"] == "FAILED"
    assert result["error"] == "Sandbox.Timedout"


def test_timestamp_and_seconds_path_waits_use_the_local_clock(
    start: StartExecution, clock: ManualClock
) -> None:
    # Given a Wait until a timestamp 2 hours ahead on the local clock, then a SecondsPath wait of 60 s
    definition = _asl("timestamp_wait.asl.json")
    started_at = clock.time()
    until = clock.now().replace(hour=2).strftime("%Y-%m-%dT%H:%M:%SZ")

    # When an execution runs
    execution = start(definition, {"until": until, "seconds": 60})
    result = wait_for_execution(_sfn(), execution, timeout_s=120)

    # Then the clock moved exactly to the timestamp plus 60 s
    assert result["status"] == "SUCCEEDED"
    assert clock.time() - started_at == 2 * 3600 + 60


# -- waitForTaskToken -------------------------------------------------------------------------------------


def _token_task(
    make_function: FunctionFactory, start: StartExecution, handlers: ModuleType, **subs: object
) -> str:
    arn = make_function("approval-fn", "rt_handlers.record_token")
    name = "wait_for_token_heartbeat.asl.json" if "HeartbeatSeconds" in subs else "wait_for_token.asl.json"
    execution = start(_asl(name, RecordTokenArn=arn, **subs), {"incident": "inc-1"})
    _wait_for_event(execution, "TaskSubmitted")
    assert len(handlers.TOKENS) == 1
    return execution


def test_wait_for_task_token_resumes_on_send_task_success(
    make_function: FunctionFactory, start: StartExecution, handlers: ModuleType, clock: ManualClock
) -> None:
    # Given an execution waiting for an approval token (TimeoutSeconds 3600)
    execution = _token_task(make_function, start, handlers, TimeoutSeconds=3600)
    clock.advance(600)
    assert _stays_running(execution)

    # When the approver sends task success
    _sfn().send_task_success(taskToken=handlers.TOKENS[0], output=json.dumps({"approved_by": "oncall"}))
    result = wait_for_execution(_sfn(), execution, timeout_s=120)

    # Then the execution continues with the approver's output
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"incident": "inc-1", "approval": {"approved_by": "oncall"}}


def test_wait_for_task_token_fails_with_the_senders_error_on_send_task_failure(
    make_function: FunctionFactory, start: StartExecution, handlers: ModuleType
) -> None:
    # Given an execution waiting for an approval token
    execution = _token_task(make_function, start, handlers, TimeoutSeconds=3600)

    # When the approver rejects it
    _sfn().send_task_failure(taskToken=handlers.TOKENS[0], error="Rejected", cause="not during peak")
    result = wait_for_execution(_sfn(), execution, timeout_s=120)

    # Then the execution fails with that error
    assert result["status"] == "FAILED"
    assert result["error"] == "Rejected"
    assert result["cause"] == "not during peak"


def test_wait_for_task_token_times_out_on_the_local_clock(
    make_function: FunctionFactory, start: StartExecution, handlers: ModuleType, clock: ManualClock
) -> None:
    # Given an execution waiting for a token with TimeoutSeconds 300
    execution = _token_task(make_function, start, handlers, TimeoutSeconds=300)

    # When 299 s pass on the clock it still waits
    clock.advance(299)
    assert _stays_running(execution)

    # And when 2 more seconds pass
    clock.advance(2)
    result = wait_for_execution(_sfn(), execution, timeout_s=120)

    # Then it fails with States.Timeout
    assert result["status"] == "FAILED"
    assert result["error"] == "States.Timeout"


def test_heartbeats_keep_a_token_task_alive_until_one_is_missed(
    make_function: FunctionFactory, start: StartExecution, handlers: ModuleType, clock: ManualClock
) -> None:
    # Given an execution waiting for a token with HeartbeatSeconds 60 and TimeoutSeconds 600
    started_at = clock.time()
    execution = _token_task(make_function, start, handlers, TimeoutSeconds=600, HeartbeatSeconds=60)
    token = handlers.TOKENS[0]
    _send_first_heartbeat(token)

    # When heartbeats arrive every 50 s
    clock.advance(50)
    _sfn().send_task_heartbeat(taskToken=token)
    clock.advance(50)
    assert _stays_running(execution)

    # And then none comes for 61 s
    clock.advance(11)
    result = wait_for_execution(_sfn(), execution, timeout_s=120)

    # Then the task times out 111 s in, long before its TimeoutSeconds (moto reports States.Timeout for both)
    assert result["status"] == "FAILED"
    assert result["error"] == "States.Timeout"
    timed_out = next(e for e in _history(execution) if e["type"] == "TaskTimedOut")
    assert timed_out["timestamp"].timestamp() - started_at == 111


def _send_first_heartbeat(token: str) -> None:
    """The heartbeat endpoint exists right after TaskSubmitted; retry briefly as a worker would."""
    deadline = time.monotonic() + 60
    while True:
        try:
            _sfn().send_task_heartbeat(taskToken=token)
            return
        except _sfn().exceptions.InvalidToken:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


# -- wait_for_execution and install -----------------------------------------------------------------------


def test_wait_for_execution_gives_up_naming_the_execution_and_its_last_event(
    make_function: FunctionFactory, start: StartExecution, handlers: ModuleType
) -> None:
    # Given an execution waiting for a token nobody sends
    execution = _token_task(make_function, start, handlers, TimeoutSeconds=3600)

    # When we wait for it with a short wall budget
    # Then the timeout names the execution, its status and its last event
    with pytest.raises(
        stepfunctions.ExecutionWaitTimeout, match=r"incident-\d+ still RUNNING .*TaskSubmitted"
    ):
        wait_for_execution(_sfn(), execution, timeout_s=0.05)


@pytest.mark.parametrize(
    ("module", "attribute"),
    [
        ("moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function", "WaitFunction"),
        ("moto.stepfunctions.parser.asl.eval.callback.callback", "HeartbeatEndpoint"),
        ("moto.stepfunctions.parser.asl.component.common.retry.retrier_decl", "time"),
    ],
)
def test_install_fails_loudly_when_a_hooked_moto_internal_is_missing(
    module: str, attribute: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a moto without one of the internals the clock hooks into
    monkeypatch.delattr(f"{module}.{attribute}")

    # When the Step Functions hooks are installed
    # Then installation refuses, naming it
    with pytest.raises(MotoHookError, match=rf"\.{attribute} is missing"):
        stepfunctions.install()


def test_install_fails_loudly_when_the_wait_hook_changed_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a moto whose WaitFunction._wait_interval takes other parameters
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def changed(self: object, env: object) -> None:
        return None

    monkeypatch.setattr(WaitFunction, "_wait_interval", changed)

    # When the Step Functions hooks are installed
    # Then installation refuses
    with pytest.raises(MotoHookError, match=r"WaitFunction\._wait_interval takes \('self', 'env'\)"):
        stepfunctions.install()


def test_a_wait_at_60x_speed_lasts_its_seconds_on_the_simulated_clock(start: StartExecution) -> None:
    # Given the local clock running at 60x and a 60 s Wait
    from failsafe_tools.local.clock import SpeedClock, set_clock

    fast = SpeedClock(speed=60)
    previous = set_clock(fast)
    try:
        definition = json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
        )
        started_sim = fast.time()

        # When an execution runs (a 60 s Wait is a second of wall time at 60x; the timeout is a hang guard)
        execution = start(definition)
        result = wait_for_execution(_sfn(), execution, timeout_s=120)
        history = _history(execution)
    finally:
        set_clock(previous)
    # Then the Wait lasted 60 s on the simulated clock, as its history timestamps (local clock) show
    assert result["status"] == "SUCCEEDED"
    entered = next(e["timestamp"] for e in history if e["type"] == "WaitStateEntered")
    exited = next(e["timestamp"] for e in history if e["type"] == "WaitStateExited")
    assert (exited - entered).total_seconds() >= 60
    assert fast.time() - started_sim >= 60


def test_stop_execution_interrupts_a_long_wait(start: StartExecution) -> None:
    # Given the clock at real speed and an execution in a one-hour Wait
    from failsafe_tools.local.clock import SpeedClock, set_clock

    previous = set_clock(SpeedClock(speed=1))
    try:
        definition = json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
        )
        execution = start(definition)
        _wait_for_event(execution, "WaitStateEntered")

        # When it is stopped
        _sfn().stop_execution(executionArn=execution, error="Operator", cause="drill over")
        result = wait_for_execution(_sfn(), execution, timeout_s=120)
    finally:
        set_clock(previous)

    # Then it is aborted at once
    assert result["status"] == "ABORTED"


def test_uninstall_puts_every_hooked_moto_internal_back() -> None:
    # Given moto as it is without the hooks
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.callback import callback
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    was_installed = stepfunctions.is_installed()
    stepfunctions.uninstall()
    before = (
        WaitFunction.__dict__["_wait_interval"],
        callback.__dict__["Event"],
        callback.HeartbeatEndpoint,
        EventManager.__dict__["_get_current_timestamp"],
    )

    # When the hooks are installed and uninstalled
    stepfunctions.install()
    hooked = WaitFunction.__dict__["_wait_interval"]
    stepfunctions.uninstall()
    after = (
        WaitFunction.__dict__["_wait_interval"],
        callback.__dict__["Event"],
        callback.HeartbeatEndpoint,
        EventManager.__dict__["_get_current_timestamp"],
    )
    if was_installed:
        stepfunctions.install()

    # Then the hooks were in place in between and moto is exactly as before afterwards
    assert hooked is not before[0]
    assert after == before
    assert isinstance(after[3], staticmethod)
