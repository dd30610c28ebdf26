"""Lambda sandboxes as processes (`failsafe_tools.local.lambda_sandbox`): INIT, answers, errors, logs, the
stack's clock inside the sandbox, and timeouts. The sandboxes run this interpreter here; the package check
in tests/e2e/test_built_package.py runs the real build on a boto3-only one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.lambda_sandbox import PackageRuntime, Sandbox, SandboxPool

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"
HANDLERS = """
import os, time
from failsafe.clock import get_clock

def echo(event, context):
    print("echo got", event)
    return {"event": event, "remaining_ms": context.get_remaining_time_in_millis(),
            "request_id": os.environ["_X_AMZN_REQUEST_ID"], "function": context.function_name}

def sleepy(event, context):
    get_clock().sleep(event["seconds"])
    return {"now": get_clock().time()}

def boom(event, context):
    raise ValueError("bad input: " + str(event))

def hang(event, context):
    while True:
        time.sleep(0.05)

def unserialisable(event, context):
    return {1, 2}
"""
CONTEXT = {
    "function_name": "fn",
    "function_version": "$LATEST",
    "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
    "memory_limit_in_mb": 128,
    "aws_request_id": "req-1",
    "log_group_name": "/aws/lambda/fn",
    "log_stream_name": "s",
}


@pytest.fixture
def clock_start() -> float:
    return 1_000_000.0


@pytest.fixture
def code_root(tmp_path: Path) -> Path:
    (tmp_path / "sbx.py").write_text(HANDLERS)
    return tmp_path


@pytest.fixture
def runtime() -> PackageRuntime:
    return PackageRuntime(Path(sys.executable), "http://127.0.0.1:1")


def start(runtime: PackageRuntime, code_root: Path, handler: str) -> Sandbox:
    return Sandbox(runtime, handler=handler, code_roots=[code_root, FUNCTIONS], environment={"FOO": "bar"})


def call(sandbox: Sandbox, event: object, deadline: float, expired: bool = False) -> object:
    return sandbox.invoke(
        event, request_id="req-1", context=CONTEXT, deadline=deadline, expired=lambda: expired
    )


def test_a_handler_answers_with_its_log_and_the_stack_clock(
    runtime: PackageRuntime, code_root: Path, clock: ManualClock
) -> None:
    # Given a warm sandbox of a handler that echoes its event
    sandbox = start(runtime, code_root, "sbx.echo")
    try:
        # When invoked with 30 s left on the stack's clock
        outcome = sandbox.invoke(
            {"a": 1}, request_id="req-1", context=CONTEXT, deadline=clock.time() + 30, expired=lambda: False
        )
    finally:
        sandbox.kill()

    # Then it answered from its own process, counting down on the stack's clock, and its print is the log
    assert outcome.error is None
    body = json.loads(outcome.payload)
    assert body == {"event": {"a": 1}, "remaining_ms": 30_000, "request_id": "req-1", "function": "fn"}
    assert "echo got {'a': 1}" in outcome.log


def test_sleeping_in_the_sandbox_moves_the_stack_clock(
    runtime: PackageRuntime, code_root: Path, clock: ManualClock
) -> None:
    # Given a handler that sleeps 90 s on failsafe.clock, and a ManualClock on the stack
    sandbox = start(runtime, code_root, "sbx.sleepy")
    before = clock.time()
    try:
        outcome = sandbox.invoke(
            {"seconds": 90}, request_id="r", context=CONTEXT, deadline=before + 300, expired=lambda: False
        )
    finally:
        sandbox.kill()

    # Then the stack's clock moved by the 90 s (a ManualClock's sleep advances it) and the handler saw it
    assert clock.time() == before + 90
    assert json.loads(outcome.payload) == {"now": before + 90}


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("sbx.boom", "ValueError", "bad input: {'x': 1}"),
        ("sbx.unserialisable", "Runtime.MarshalError", "Unable to marshal response"),
        ("missing_module.handler", "Runtime.ImportModuleError", "Unable to import module 'missing_module'"),
        ("sbx.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'sbx'"),
        ("nodot", "Runtime.MalformedHandlerName", "Bad handler 'nodot'"),
    ],
)
@pytest.mark.usefixtures("clock")
def test_faults_answer_as_lambda_does(
    runtime: PackageRuntime, code_root: Path, handler: str, error_type: str, message: str
) -> None:
    # Given a sandbox whose handler fails (or cannot be loaded)
    sandbox = start(runtime, code_root, handler)
    try:
        outcome = call(sandbox, {"x": 1}, 10**10)
    finally:
        sandbox.kill()

    # Then the answer carries Lambda's errorType and a message naming the cause
    assert outcome.error is not None
    assert outcome.error["errorType"] == error_type
    assert message in outcome.error["errorMessage"]


def test_a_handler_past_its_timeout_is_killed(
    runtime: PackageRuntime, code_root: Path, clock: ManualClock
) -> None:
    # Given a handler that never returns, and a deadline the runtime says has passed
    sandbox = start(runtime, code_root, "sbx.hang")

    # When invoked
    outcome = call(sandbox, {}, clock.time() + 3, expired=True)

    # Then the invocation timed out and the sandbox is gone (its state cannot leak into the next call)
    assert outcome.timed_out
    assert not sandbox.alive


def test_a_pool_reuses_a_warm_sandbox_and_throttles_past_reserved_concurrency(
    runtime: PackageRuntime, code_root: Path, clock: ManualClock
) -> None:
    from moto.awslambda.exceptions import LambdaClientError

    # Given a pool and a function with a reserved concurrency of 1
    pool = SandboxPool(runtime)
    roots = [code_root, FUNCTIONS]
    first = pool.acquire("fn", handler="sbx.echo", code_roots=roots, environment={}, reserved=1)
    try:
        # When a second synchronous invocation arrives while the first runs
        # Then it is throttled as AWS throttles it
        with pytest.raises(LambdaClientError, match="TooManyRequestsException"):
            pool.acquire("fn", handler="sbx.echo", code_roots=roots, environment={}, reserved=1)
        # And once the first is done, the next invocation gets the same warm sandbox (no second cold start)
        pool.release("fn", first)
        again = pool.acquire("fn", handler="sbx.echo", code_roots=roots, environment={}, reserved=1)
        assert again is first
        assert pool.cold_starts == 1
        pool.release("fn", again)
    finally:
        pool.shutdown()
