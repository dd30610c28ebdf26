"""AWS-side fault injection (`failsafe_tools.local.faults`): the error AWS would answer, for N calls or a
window, to in-process clients and to clients of the local server alike, botocore's retries on the local
clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from pydantic import ValidationError

from failsafe_tools.local import faults
from failsafe_tools.local.clock import ManualClock, set_clock

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    clock = ManualClock()
    previous = set_clock(clock)
    faults.install()
    try:
        with mock_aws():
            yield clock
    finally:
        faults.uninstall()
        set_clock(previous)


def table(client: Any) -> str:
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "t"


def test_a_counted_fault_fails_the_next_n_calls_with_the_aws_error_then_clears(clock: ManualClock) -> None:
    # Given a DynamoDB table and a fault: the next 2 PutItem calls are throttled
    ddb = boto3.client("dynamodb", region_name="us-east-1", config=NO_RETRIES)
    name = table(ddb)
    injector = faults.get_injector()
    rule = injector.add(
        faults.Fault(
            service="dynamodb",
            operation="PutItem",
            code="ProvisionedThroughputExceededException",
            count=2,
        )
    )

    # When PutItem is called three times, and GetItem once in between
    codes = []
    for n in range(3):
        try:
            ddb.put_item(TableName=name, Item={"pk": {"S": str(n)}})
            codes.append("ok")
        except ClientError as exc:
            codes.append(exc.response["Error"]["Code"])
        ddb.get_item(TableName=name, Key={"pk": {"S": "0"}})

    # Then the first two answered DynamoDB's own throttling error (parsed by botocore), the third went
    # through, other operations were untouched, and each hit is recorded with its simulated instant
    assert codes == [
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceededException",
        "ok",
    ]
    assert [h.operation for h in injector.hits(rule)] == ["PutItem", "PutItem"]
    assert injector.hits(rule)[0].at == clock.now()
    assert "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "2"}})


def test_a_window_fault_fails_every_call_until_the_simulated_window_ends(clock: ManualClock) -> None:
    # Given SNS Publish failing with a 500 for 60 simulated seconds, on a query-protocol service
    sns = boto3.client("sns", region_name="us-east-1", config=NO_RETRIES)
    topic = sns.create_topic(Name="pages")["TopicArn"]
    faults.get_injector().add(
        faults.Fault(service="sns", operation="Publish", code="InternalError", status=500, window_seconds=60)
    )

    # When Publish is called inside the window and after it
    with pytest.raises(ClientError) as inside:
        sns.publish(TopicArn=topic, Message="page")
    clock.advance(61)
    after = sns.publish(TopicArn=topic, Message="page")

    # Then inside the window botocore parsed SNS's XML error with its status; after it, Publish works
    assert inside.value.response["Error"]["Code"] == "InternalError"
    assert inside.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert after["MessageId"]


def test_botocore_retries_back_off_on_the_local_clock(clock: ManualClock) -> None:
    # Given StartExecution throttled for 3 calls and a client with botocore's standard retries (4 attempts)
    sfn = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 4, "mode": "standard"}),
    )
    faults.get_injector().add(
        faults.Fault(
            service="stepfunctions", operation="ListStateMachines", code="ThrottlingException", count=3
        )
    )
    before = clock.time()

    # When the client calls it once
    sfn.list_state_machines()

    # Then botocore retried through the throttling and its backoff moved the simulated clock (a ManualClock
    # only moves when something sleeps on it): the waits are simulated time, not wall time
    assert clock.time() > before
    assert len(faults.get_injector().hits()) == 3


def test_the_local_server_serves_the_same_fault_over_http(clock: ManualClock) -> None:
    # Given moto's server over the same backends and ListStateMachines throttled once
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        remote = boto3.client(
            "stepfunctions",
            endpoint_url=f"http://{host}:{port}",
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=NO_RETRIES,
        )
        faults.get_injector().add(
            faults.Fault(
                service="stepfunctions", operation="ListStateMachines", code="ThrottlingException", count=1
            )
        )

        # When another process's client calls it twice
        with pytest.raises(ClientError) as first:
            remote.list_state_machines()
        second = remote.list_state_machines()
    finally:
        server.stop()

    # Then the first call got Step Functions' throttling error over HTTP, the second went through
    assert first.value.response["Error"]["Code"] == "ThrottlingException"
    assert second["stateMachines"] == []


def test_a_fault_must_end() -> None:
    # Given / When a fault with neither a count nor a window / Then it is refused, naming the fix
    with pytest.raises(ValidationError, match="give count"):
        faults.Fault(service="sns", operation="Publish", code="InternalError")
