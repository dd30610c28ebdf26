"""The real template served by the local AWS in server mode, and boto3 clients that reach it only through
`endpoint_url`, as another process would (issue 13: every API a real client calls answers as AWS does).

One stack serves the whole package (provisioning the template is the slow part); tests create their own
resources next to the provisioned ones where they need a clean slate. The clock is a ManualClock without
the background ticker, so a test moves time with `server.clock.advance(...)` and nothing moves by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.stack import LocalStack

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "template.yaml"

Remote = Callable[[str], Any]


@pytest.fixture(scope="package")
def server() -> Iterator[LocalStack]:
    stack = LocalStack.start(TEMPLATE, clock=ManualClock(), ticker=False, server=True)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="package")
def remote(server: LocalStack) -> Remote:
    """`remote("appconfig")`: a boto3 client bound to the server's endpoint only; no retries, so a 5xx shows
    as it was answered."""
    clients: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in clients:
            clients[service] = boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=server.endpoint_url,
                region_name=server.region,
                aws_access_key_id="fidelity",
                aws_secret_access_key="fidelity",
                config=Config(retries={"max_attempts": 1, "mode": "standard"}),
            )
        return clients[service]

    return make


@pytest.fixture(scope="package")
def clock(server: LocalStack) -> ManualClock:
    assert isinstance(server.clock, ManualClock)
    return server.clock
