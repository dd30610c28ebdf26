"""Retryable AWS errors reach Step Functions as `AwsRetryableError`, which every task retries (issue 10,
item 5); other errors keep their own name."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from failsafe.aws.retryable import AwsRetryableError, is_retryable, retryable_aws_errors


def _client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "StartDeployment")


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (_client_error("ThrottlingException", 400), True),
        (_client_error("TooManyRequestsException", 429), True),
        (_client_error("ProvisionedThroughputExceededException", 400), True),
        (_client_error("InternalServerException", 500), True),
        (_client_error("ServiceUnavailable", 503), True),
        (EndpointConnectionError(endpoint_url="https://appconfig.us-east-1.amazonaws.com"), True),
        (_client_error("AccessDeniedException", 403), False),
        (_client_error("ConflictException", 409), False),
        (_client_error("ResourceNotFoundException", 404), False),
        (ValueError("bad input"), False),
    ],
)
def test_retryable_is_what_botocore_standard_mode_retries(error: Exception, retryable: bool) -> None:
    # Given an error an AWS call raised
    # Then it is retryable exactly when botocore's standard retry mode would retry it
    assert is_retryable(error) is retryable


def test_a_throttled_call_is_raised_as_aws_retryable_error_naming_the_call() -> None:
    # Given a handler whose StartDeployment was throttled
    @retryable_aws_errors
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        raise _client_error("ThrottlingException", 400)

    # When it runs
    with pytest.raises(AwsRetryableError) as raised:
        handler({}, None)
    # Then the state machine sees AwsRetryableError (its Retry), naming the call and the original error
    assert "StartDeployment" in str(raised.value)
    assert "ThrottlingException" in str(raised.value)
    assert isinstance(raised.value.__cause__, ClientError)


def test_other_errors_keep_their_name() -> None:
    # Given a handler failing with a non-retryable error
    @retryable_aws_errors
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        raise _client_error("AccessDeniedException", 403)

    # Then it is raised as it was (the state machine's catch handles it)
    with pytest.raises(ClientError):
        handler({}, None)
