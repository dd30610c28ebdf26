"""tests/unit means no AWS and no network: every test runs with sockets blocked (pytest-socket).

A test that serves HTTP on loopback to a client under test (and nothing else) opts in with
`@pytest.mark.loopback`: it may then reach 127.0.0.1 only. Nothing under tests/unit imports moto; the
ports' in-memory fakes (`tests/fakes.py`) stand in for AWS.
"""

from __future__ import annotations

from collections.abc import Iterator

import aws_xray_sdk.core  # noqa: F401  # its recorder opens a UDP socket at import (sends nothing): before the block
import pytest
from pytest_socket import disable_socket, enable_socket, socket_allow_hosts


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # boto3 resolves credentials when a client is built: never let that reach for a metadata service.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    if request.node.get_closest_marker("loopback") is not None:
        socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    else:
        disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
