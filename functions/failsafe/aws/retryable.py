"""AWS errors worth retrying (throttling, a 5xx, a dropped connection), named for Step Functions to retry.

A Lambda task's error name is its exception's class name, so a botocore `ClientError` reaches the state
machine as `ClientError` whatever its code: a `ThrottlingException` on StartDeployment looked like any
other failure, and the Apply catch escalated stage_1 to stage_2. `retryable_aws_errors` re-raises the
retryable ones as `AwsRetryableError` (the original stays chained as its cause), and every task of
`rollback.asl.json` retries that error with backoff well within a stage's target time. The rules are
botocore's own (`botocore.retries.standard`): its throttling codes, its transient codes and statuses, and
its transient exception classes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

P = ParamSpec("P")
R = TypeVar("R")

_THROTTLED = ThrottledRetryableChecker()
_TRANSIENT = TransientRetryableChecker()


class AwsRetryableError(Exception):
    """An AWS call failed with a retryable error; the state machine retries the task (ASL Retry)."""


def is_retryable(exc: BaseException) -> bool:
    """True for what botocore's standard retry mode retries: throttling, transient codes and 5xx
    statuses, connection errors and timeouts."""
    if isinstance(exc, ClientError):
        response: dict[str, Any] = dict(exc.response)
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        context = RetryContext(
            attempt_number=1,
            parsed_response=response,
            http_response=SimpleNamespace(status_code=status) if isinstance(status, int) else None,
        )
        return bool(_THROTTLED.is_retryable(context) or _TRANSIENT.is_retryable(context))
    return bool(_TRANSIENT.is_retryable(RetryContext(attempt_number=1, caught_exception=exc)))  # type: ignore[arg-type]


def retryable_aws_errors(handler: Callable[P, R]) -> Callable[P, R]:
    """Re-raise a retryable AWS error of `handler` as `AwsRetryableError` (message names the call)."""

    @functools.wraps(handler)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        except Exception as exc:
            if not is_retryable(exc):
                raise
            operation = getattr(exc, "operation_name", None) or "an AWS call"
            raise AwsRetryableError(
                f"{operation} failed with a retryable error, retried by the state machine: "
                f"{type(exc).__name__}: {str(exc)[:500]}"
            ) from exc

    return wrapped
