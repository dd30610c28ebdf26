"""Lambda in-process: moto's Invoke runs fixture handlers in this process, as Lambda would."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from datetime import timedelta
from types import ModuleType

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.integration.runtime.functions_support import REGION, FunctionFactory

from failsafe_tools.local import lambda_runtime
from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.lambda_runtime import MotoHookError, invoke_function


def _lambda() -> object:
    return boto3.client("lambda", region_name=REGION)


def test_invoke_runs_the_handler_in_process_with_its_environment_and_context(
    make_function: FunctionFactory,
) -> None:
    # Given a function with its own environment variable and a 7 s timeout
    arn = make_function("echo-fn", "rt_handlers.echo", env={"FAILSAFE_MARKER": "from-template"}, timeout=7)
    assert "FAILSAFE_MARKER" not in os.environ
    client = boto3.client("lambda", region_name=REGION)

    # When it is invoked with LogType=Tail
    response = client.invoke(
        FunctionName="echo-fn",
        Payload=json.dumps({"env_keys": ["FAILSAFE_MARKER", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION"]}),
        LogType="Tail",
    )

    # Then the handler saw the function's environment and a Lambda context
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    body = json.loads(response["Payload"].read())
    assert body["env"] == {
        "FAILSAFE_MARKER": "from-template",
        "AWS_LAMBDA_FUNCTION_NAME": "echo-fn",
        "AWS_REGION": REGION,
    }
    context = body["context"]
    assert context["function_name"] == "echo-fn"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == arn
    assert context["memory_limit_in_mb"] == 128
    assert context["log_group_name"] == "/aws/lambda/echo-fn"
    assert context["log_stream_name"].startswith("2026/01/01/[$LATEST]")
    assert context["remaining_ms"] == 7000
    # And the environment is restored afterwards
    assert "FAILSAFE_MARKER" not in os.environ
    # And the log tail holds what the handler printed on stdout and stderr, framed as Lambda does
    tail = base64.b64decode(response["LogResult"]).decode()
    request_id = context["aws_request_id"]
    assert tail.startswith(f"START RequestId: {request_id} Version: $LATEST\n")
    assert 'echo called with {"env_keys"' in tail
    assert "a line on stderr" in tail
    assert f"END RequestId: {request_id}\n" in tail
    assert f"REPORT RequestId: {request_id}\tDuration: " in tail
    # And the same lines are in CloudWatch Logs
    logs = boto3.client("logs", region_name=REGION)
    events = logs.get_log_events(logGroupName="/aws/lambda/echo-fn", logStreamName=context["log_stream_name"])
    messages = [e["message"] for e in events["events"]]
    assert messages[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert "a line on stderr" in messages


def test_without_log_type_tail_there_is_no_log_result(make_function: FunctionFactory) -> None:
    # Given a function
    make_function("quiet-fn", "rt_handlers.echo")

    # When it is invoked without LogType
    response = boto3.client("lambda", region_name=REGION).invoke(FunctionName="quiet-fn", Payload=b"{}")

    # Then no LogResult comes back
    assert "LogResult" not in response
    assert json.loads(response["Payload"].read())["event"] == {}


def test_a_handler_exception_comes_back_as_an_unhandled_function_error(
    make_function: FunctionFactory,
) -> None:
    # Given a function whose handler raises a custom exception
    make_function("fail-fn", "rt_handlers.fail")

    # When it is invoked
    response = boto3.client("lambda", region_name=REGION).invoke(
        FunctionName="fail-fn", Payload=json.dumps({"message": "recsys cache down"}), LogType="Tail"
    )

    # Then Lambda's error shape comes back: FunctionError Unhandled and the exception's type and message
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "TransientDependencyError"
    assert body["errorMessage"] == "recsys cache down"
    assert body["requestId"]
    assert len(body["stackTrace"]) == 1
    assert 'rt_handlers.py", line' in body["stackTrace"][0]
    assert "in fail" in body["stackTrace"][0]
    assert (
        "[ERROR] TransientDependencyError: recsys cache down"
        in base64.b64decode(response["LogResult"]).decode()
    )


def test_a_handler_running_past_its_timeout_fails_with_lambdas_timeout_error(
    make_function: FunctionFactory, clock: ManualClock
) -> None:
    # Given a 3 s function whose handler spends 5 s (on the local clock)
    make_function("slow-fn", "rt_handlers.slow", timeout=3)
    start = clock.time()

    # When it is invoked
    response = boto3.client("lambda", region_name=REGION).invoke(
        FunctionName="slow-fn", Payload=json.dumps({"sleep": 5}), LogType="Tail"
    )

    # Then Lambda's timeout error comes back
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Error: Task timed out after 3.00 seconds")
    assert "Task timed out after 3.00 seconds" in base64.b64decode(response["LogResult"]).decode()
    assert clock.time() - start == 5


def test_remaining_time_counts_down_on_the_local_clock(make_function: FunctionFactory) -> None:
    # Given a 3 s function whose handler spends 1 s on the clock before reading its remaining time
    make_function("countdown-fn", "rt_handlers.slow", timeout=3)

    # When it is invoked
    result = invoke_function("countdown-fn", {"sleep": 1})

    # Then 2 s were left
    assert result.function_error is None
    assert result.json() == {"remaining_ms": 2000}


def test_runtime_faults_use_lambdas_runtime_error_types(make_function: FunctionFactory) -> None:
    # Given functions with a missing module, a missing handler and an unserialisable result
    make_function("no-module-fn", "no_such_module.handler")
    make_function("no-handler-fn", "rt_handlers.no_such_handler")
    make_function("marshal-fn", "rt_handlers.not_serialisable")

    # When each is invoked
    results = {name: invoke_function(name, {}) for name in ("no-module-fn", "no-handler-fn", "marshal-fn")}

    # Then each fails with the runtime error type Lambda uses
    assert {name: (r.function_error, r.error_type) for name, r in results.items()} == {
        "no-module-fn": ("Unhandled", "Runtime.ImportModuleError"),
        "no-handler-fn": ("Unhandled", "Runtime.HandlerNotFound"),
        "marshal-fn": ("Unhandled", "Runtime.MarshalError"),
    }
    assert (
        results["no-module-fn"].json()["errorMessage"].startswith("Unable to import module 'no_such_module'")
    )
    assert results["no-handler-fn"].json()["errorMessage"] == (
        "Handler 'no_such_handler' missing on module 'rt_handlers'"
    )


def test_a_payload_that_is_not_json_is_rejected_like_lambda_does(make_function: FunctionFactory) -> None:
    # Given a function
    make_function("json-fn", "rt_handlers.echo")

    # When it is invoked with a payload that is not JSON
    with pytest.raises(ClientError) as caught:
        boto3.client("lambda", region_name=REGION).invoke(FunctionName="json-fn", Payload=b"{not json")

    # Then the request is refused with InvalidRequestContentException
    assert caught.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_an_event_invocation_returns_202_and_runs_the_handler_asynchronously(
    make_function: FunctionFactory, handlers: ModuleType
) -> None:
    # Given a function that records the token it receives
    make_function("async-fn", "rt_handlers.record_token")

    # When it is invoked with InvocationType=Event
    response = boto3.client("lambda", region_name=REGION).invoke(
        FunctionName="async-fn", InvocationType="Event", Payload=json.dumps({"token": "t-1"})
    )
    lambda_runtime.drain_async()

    # Then the caller got 202 with an empty body and the handler ran
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert handlers.TOKENS == ["t-1"]


def test_an_invocation_finishing_late_keeps_variables_other_threads_set_meanwhile(
    make_function: FunctionFactory, handlers: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an Event invocation that is still running
    make_function("gate-fn", "rt_handlers.gate", env={"FAILSAFE_MARKER": "gate"})
    handlers.GATE_ENTERED.clear()
    handlers.GATE_OPEN.clear()
    boto3.client("lambda", region_name=REGION).invoke(FunctionName="gate-fn", InvocationType="Event")
    assert handlers.GATE_ENTERED.wait(timeout=10)

    # When another thread sets credentials and a marker meanwhile, and then the invocation finishes
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "set-while-the-handler-ran")
    monkeypatch.setenv("FAILSAFE_SET_ELSEWHERE", "kept")
    handlers.GATE_OPEN.set()
    lambda_runtime.drain_async()

    # Then only the function's own variables were put back; what the other thread set is kept
    assert os.environ["AWS_ACCESS_KEY_ID"] == "set-while-the-handler-ran"
    assert os.environ["FAILSAFE_SET_ELSEWHERE"] == "kept"
    assert "FAILSAFE_MARKER" not in os.environ


def test_invoke_function_runs_a_function_by_arn_for_the_local_stacks_own_delivery(
    make_function: FunctionFactory,
) -> None:
    # Given a function
    arn = make_function("direct-fn", "rt_handlers.echo", env={"FAILSAFE_MARKER": "direct"})

    # When the local stack invokes it directly by ARN with a dict payload
    result = invoke_function(arn, {"env_keys": ["FAILSAFE_MARKER"]})

    # Then the result carries what the Invoke API would answer
    assert result.status_code == 200
    assert result.function_error is None
    assert result.json()["env"] == {"FAILSAFE_MARKER": "direct"}
    assert result.json()["context"]["aws_request_id"] == result.request_id
    assert base64.b64decode(result.log_result or "").decode().startswith("START RequestId: ")


def test_invoke_function_of_an_unknown_function_raises_resource_not_found(aws: None) -> None:
    # Given no function named ghost
    # When the local stack invokes it
    # Then moto's ResourceNotFoundException is raised
    with pytest.raises(Exception, match="Function not found") as caught:
        invoke_function("ghost", {})
    assert caught.type.__name__ == "UnknownFunctionException"


def test_a_handler_can_invoke_another_function_synchronously(make_function: FunctionFactory) -> None:
    # Given an outer function with its own environment that invokes an inner one with another environment
    make_function("inner-fn", "rt_handlers.echo", env={"MARKER": "inner"})
    make_function("outer-fn", "rt_handlers.call_other", env={"MARKER": "outer"}, timeout=10)

    # When the outer function is invoked
    result = invoke_function(
        "outer-fn", {"target": "inner-fn", "payload": {"env_keys": ["MARKER", "AWS_LAMBDA_FUNCTION_NAME"]}}
    )

    # Then the nested invocation ran with its own environment and the outer one was restored after it
    assert result.function_error is None, result.payload
    body = result.json()
    assert body["inner"]["env"] == {"MARKER": "inner", "AWS_LAMBDA_FUNCTION_NAME": "inner-fn"}
    assert body["outer_marker"] == "outer"
    assert "MARKER" not in os.environ


def test_emf_lines_a_handler_prints_become_cloudwatch_metrics(
    make_function: FunctionFactory, clock: ManualClock
) -> None:
    # Given a function that prints one EMF document (an array of latencies, a count, two dimension sets)
    make_function("emf-fn", "rt_handlers.emf")
    timestamp_ms = int(clock.time() * 1000)

    # When it is invoked
    result = invoke_function("emf-fn", {"timestamp_ms": timestamp_ms})
    assert result.function_error is None

    # Then CloudWatch has the datapoints at the EMF timestamp, per dimension set
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    now = clock.now()
    stats = cloudwatch.get_metric_statistics(
        Namespace="Failsafe/Test",
        MetricName="latency_ms",
        Dimensions=[{"Name": "service", "Value": "recommender"}, {"Name": "region", "Value": "eu-west-1"}],
        StartTime=now - timedelta(minutes=1),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount", "Sum", "Maximum", "Average"],
    )["Datapoints"]
    assert len(stats) == 1
    assert stats[0]["SampleCount"] == 3
    assert stats[0]["Sum"] == 600
    assert stats[0]["Maximum"] == 300
    assert stats[0]["Average"] == 200
    assert stats[0]["Unit"] == "Milliseconds"
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "Failsafe/Test",
                        "MetricName": "errors",
                        "Dimensions": [
                            {"Name": "service", "Value": "recommender"},
                            {"Name": "region", "Value": "eu-west-1"},
                        ],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=1),
        EndTime=now + timedelta(minutes=1),
    )["MetricDataResults"]
    assert data[0]["Values"] == [2.0]
    listed = cloudwatch.list_metrics(Namespace="Failsafe/Test", MetricName="errors")["Metrics"]
    assert sorted(len(m.get("Dimensions", [])) for m in listed) == [0, 2]


def test_emf_a_handler_stamps_with_its_wall_clock_lands_at_the_stack_clocks_now(
    make_function: FunctionFactory, clock: ManualClock
) -> None:
    # Given a function that stamps its EMF with the host's wall clock (as Powertools does: datetime.now()),
    # while the stack runs on a simulated clock months away from it
    make_function("emf-wall", "rt_handlers.emf")
    assert abs(clock.time() - time.time()) > 3600

    # When it is invoked
    result = invoke_function("emf-wall", {"timestamp_ms": int(time.time() * 1000)})
    assert result.function_error is None

    # Then the datapoints are stored at the stack clock's now, where the alarms evaluate (at the wall
    # instant, no alarm of the stack would ever see them: NotificationFailures never fired in a drill)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    now = clock.now()
    stats = cloudwatch.get_metric_statistics(
        Namespace="Failsafe/Test",
        MetricName="errors",
        Dimensions=[{"Name": "service", "Value": "recommender"}, {"Name": "region", "Value": "eu-west-1"}],
        StartTime=now - timedelta(minutes=1),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    assert [point["Sum"] for point in stats] == [2.0]


def test_install_fails_loudly_when_the_hooked_moto_method_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a moto whose LambdaFunction has no invoke method
    from moto.awslambda.models import LambdaFunction

    monkeypatch.delattr(LambdaFunction, "invoke")

    # When the in-process runtime is installed
    # Then it refuses, naming the moto internal
    with pytest.raises(MotoHookError, match=r"LambdaFunction\.invoke is missing"):
        lambda_runtime.install()


def test_install_fails_loudly_when_the_hooked_moto_method_changed_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a moto whose LambdaFunction.invoke takes other parameters
    from moto.awslambda.models import LambdaFunction

    def changed(self: object, event: object) -> bytes:
        return b""

    monkeypatch.setattr(LambdaFunction, "invoke", changed)

    # When the in-process runtime is installed
    # Then it refuses, naming the expected signature
    with pytest.raises(MotoHookError, match=r"LambdaFunction\.invoke takes \('self', 'event'\)"):
        lambda_runtime.install()


def test_install_is_idempotent(aws: None) -> None:
    # Given the runtime is installed
    from moto.awslambda.models import LambdaFunction

    hooked = LambdaFunction.invoke

    # When it is installed again
    lambda_runtime.install()

    # Then the hook is the same single wrapper
    assert LambdaFunction.invoke is hooked
    assert lambda_runtime.is_installed()


def test_a_powertools_handler_logs_and_publishes_metrics_through_the_runtime(
    make_function: FunctionFactory,
) -> None:
    # Given a function written with Powertools Logger and Metrics
    make_function(
        "powertools-fn",
        "rt_powertools.handler",
        env={"POWERTOOLS_SERVICE_NAME": "recommender", "POWERTOOLS_METRICS_NAMESPACE": "Failsafe/Powertools"},
    )

    # When it is invoked
    result = invoke_function("powertools-fn", {"cohort": "new-users", "fallbacks": 3})

    # Then its structured log line carries the Lambda context and its EMF metric reached CloudWatch
    assert result.function_error is None, result.payload
    log_line = next(line for line in result.log.splitlines() if '"serving"' in line)
    record = json.loads(log_line)
    assert record["function_name"] == "powertools-fn"
    assert record["function_request_id"] == result.request_id
    assert record["cohort"] == "new-users"
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    listed = cloudwatch.list_metrics(Namespace="Failsafe/Powertools", MetricName="fallback_served")["Metrics"]
    assert len(listed) == 1
    dimensions = {d["Name"]: d["Value"] for d in listed[0]["Dimensions"]}
    assert dimensions == {"service": "recommender", "cohort": "new-users"}


def test_a_handler_blocking_past_its_timeout_in_wall_time_is_cut_off(
    make_function: FunctionFactory, handlers: ModuleType
) -> None:
    # Given a 1 s function whose handler blocks for 20 s of wall time (the ManualClock does not move)
    make_function("blocking-fn", "rt_handlers.block", timeout=1)
    handlers.BLOCK_FINISHED.clear()

    # When it is invoked
    result = invoke_function("blocking-fn", {"seconds": 20})

    # Then Lambda's timeout error comes back while the handler is still blocked (cut off, not waited for)
    assert result.error_type == "Sandbox.Timedout"
    assert not handlers.BLOCK_FINISHED.is_set()


def test_concurrent_invocations_each_see_only_their_own_environment(make_function: FunctionFactory) -> None:
    # Given two functions with different values of the same variable
    make_function("tenant-a-fn", "rt_handlers.echo", env={"MARKER": "a"})
    make_function("tenant-b-fn", "rt_handlers.echo", env={"MARKER": "b"})
    results: dict[str, list[str | None]] = {"tenant-a-fn": [], "tenant-b-fn": []}

    def hammer(name: str) -> None:
        for _ in range(10):
            body = invoke_function(name, {"env_keys": ["MARKER"]}).json()
            results[name].append(body["env"]["MARKER"])

    # When both are invoked from several threads at once
    threads = [threading.Thread(target=hammer, args=(name,)) for name in results for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    # Then every invocation saw its own function's value
    assert results == {"tenant-a-fn": ["a"] * 20, "tenant-b-fn": ["b"] * 20}


def test_log_result_is_the_last_4_kb_of_the_log(make_function: FunctionFactory) -> None:
    # Given a function that prints more than 4 KB
    make_function("chatty-fn", "rt_handlers.echo")

    # When it is invoked with LogType=Tail
    response = boto3.client("lambda", region_name=REGION).invoke(
        FunctionName="chatty-fn", Payload=json.dumps({"filler": "x" * 6000}), LogType="Tail"
    )

    # Then LogResult holds exactly the last 4096 bytes, ending with the REPORT line
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096
    assert tail.decode().splitlines()[-1].startswith("REPORT RequestId: ")


def test_invoke_function_also_runs_functions_of_motos_simple_lambda_backend(
    clock: ManualClock, handlers: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given moto configured with its Docker-free "simple" Lambda backend and a function in it
    from moto import mock_aws
    from tests.integration.runtime.functions_support import FIXTURES, make_zip

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    was_installed = lambda_runtime.is_installed()
    lambda_runtime.install()
    with mock_aws(config={"lambda": {"use_docker": False}}):
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="simple", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="simple-fn",
            Runtime="python3.11",
            Role=role,
            Handler="rt_handlers.echo",
            Code={"ZipFile": make_zip()},
            Environment={"Variables": {"MARKER": "simple"}},
        )
        lambda_runtime.register_code_root("simple-fn", FIXTURES)
        try:
            # When the local stack invokes it directly
            result = invoke_function("simple-fn", {"env_keys": ["MARKER"]})
        finally:
            lambda_runtime.unregister_code_root("simple-fn")
            if not was_installed:
                lambda_runtime.uninstall()

    # Then the handler ran in-process
    assert result.function_error is None
    assert result.json()["env"] == {"MARKER": "simple"}
