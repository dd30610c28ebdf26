"""Config sources: the AppConfig agent HTTP endpoint (a real local HTTP server) and the local file."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from failsafe.client import (
    AgentHttpSource,
    ConfigSource,
    FileSource,
    RefreshOutcome,
    SourceUnavailable,
    ToggleClient,
)
from failsafe.domain.decision import DecisionReason, RequestContext


def document(version: int, **toggles: Any) -> bytes:
    return json.dumps(
        {
            "metadata": {"version": version, "environment": "prod", "author": "t", "reason": "r"},
            "toggles": toggles,
        }
    ).encode()


@dataclass
class AgentState:
    """What the fake agent serves, and what it saw."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    version: str = "1"
    delay: float = 0.0
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def agent() -> Iterator[tuple[str, AgentState]]:
    state = AgentState()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            if state.delay:
                time.sleep(state.delay)
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", state.content_type)
                self.send_header("Configuration-Version", state.version)
                self.send_header("Content-Length", str(len(state.body)))
                self.end_headers()
                self.wfile.write(state.body)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up (the timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_source_satisfies_the_one_small_protocol(tmp_path: Path) -> None:
    # Given one source of each local kind
    sources = [AgentHttpSource("app", "env", "profile"), FileSource(tmp_path / "x.json")]
    # When / Then each is a ConfigSource
    assert all(isinstance(source, ConfigSource) for source in sources)


@pytest.mark.loopback
def test_agent_source_reads_the_configuration_from_the_documented_path(agent: tuple[str, AgentState]) -> None:
    # Given an agent serving version 3 of a profile
    base_url, state = agent
    state.body = document(3)
    state.version = "3"
    source = AgentHttpSource("recommender", "prod env", "toggles", base_url=base_url)
    # When the source fetches
    fetched = source.fetch()
    # Then it asked for /applications/{app}/environments/{env}/configurations/{profile} and got the bytes
    assert state.paths == ["/applications/recommender/environments/prod%20env/configurations/toggles"]
    assert fetched.body == document(3)
    assert fetched.content_type == "application/json"
    assert fetched.version_label == "3"


def test_agent_source_defaults_to_the_extension_port_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the Lambda extension's port variable
    monkeypatch.setenv("AWS_APPCONFIG_EXTENSION_HTTP_PORT", "2999")
    # When a source is built without a base URL
    source = AgentHttpSource("a", "e", "p")
    # Then it targets that localhost port
    assert source.url == "http://localhost:2999/applications/a/environments/e/configurations/p"


def test_agent_source_defaults_to_port_2772(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no port variable
    monkeypatch.delenv("AWS_APPCONFIG_EXTENSION_HTTP_PORT", raising=False)
    # When / Then the agent's documented default port is used
    assert AgentHttpSource("a", "e", "p").url.startswith("http://localhost:2772/")


@pytest.mark.loopback
@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_agent_errors_are_reported_as_unavailable(agent: tuple[str, AgentState], status: int) -> None:
    # Given an agent answering with an HTTP error
    base_url, state = agent
    state.status = status
    # When the source fetches
    # Then it raises SourceUnavailable naming the status
    with pytest.raises(SourceUnavailable, match=f"HTTP {status}"):
        AgentHttpSource("a", "e", "p", base_url=base_url).fetch()


@pytest.mark.loopback
def test_an_unreachable_agent_is_reported_as_unavailable() -> None:
    # Given nothing listening on the port
    source = AgentHttpSource("a", "e", "p", base_url=f"http://127.0.0.1:{free_port()}", timeout=1)
    # When / Then
    with pytest.raises(SourceUnavailable, match="unreachable"):
        source.fetch()


@pytest.mark.loopback
def test_a_slow_agent_times_out_quickly(agent: tuple[str, AgentState]) -> None:
    # Given an agent that takes longer than the timeout
    base_url, state = agent
    state.delay = 1.0
    source = AgentHttpSource("a", "e", "p", base_url=base_url, timeout=0.1)
    # When the source fetches
    # Then it gave up on its timeout, before the agent answered (how fast is measured in benchmarks/)
    with pytest.raises(SourceUnavailable, match="timed out"):
        source.fetch()


@pytest.mark.loopback
def test_client_over_the_agent_applies_rejects_and_survives_an_outage(agent: tuple[str, AgentState]) -> None:
    # Given a client reading a real HTTP agent that serves version 1
    base_url, state = agent
    state.body = document(1)
    client = ToggleClient(
        AgentHttpSource("a", "prod", "p", base_url=base_url, timeout=0.5), environment="prod"
    )
    assert client.refresh() is RefreshOutcome.APPLIED
    # When the agent serves garbage, then an error status
    state.body = b"<html>oops</html>"
    state.content_type = "text/html"
    rejected = client.refresh()
    state.status = 500
    unavailable = client.refresh()
    # Then the client keeps version 1 throughout
    assert (rejected, unavailable) == (RefreshOutcome.REJECTED, RefreshOutcome.UNAVAILABLE)
    assert client.config_version == 1
    # And when the agent serves a kill switch, the next poll applies it
    state.status = 200
    state.content_type = "application/json"
    state.body = document(2, kill_switch=True, candidate_fallback_level="D")
    assert client.refresh() is RefreshOutcome.APPLIED
    assert client.decide(RequestContext("u1")).reason is DecisionReason.KILL_SWITCH


@pytest.mark.loopback
def test_agent_source_stops_reading_past_its_limit(agent: tuple[str, AgentState]) -> None:
    # Given an agent serving 10 kB and a source that reads at most 1 kB
    base_url, state = agent
    state.body = b"x" * 10_000
    # When the source fetches
    fetched = AgentHttpSource("a", "e", "p", base_url=base_url, read_limit=1_000).fetch()
    # Then it read just past the limit, enough for the client to call it oversized
    assert fetched.body is not None
    assert len(fetched.body) == 1_001


def test_file_source_reports_unchanged_until_the_file_changes(tmp_path: Path) -> None:
    # Given a file source over a document
    path = tmp_path / "toggles.json"
    path.write_bytes(document(1))
    source = FileSource(path)
    # When it is fetched twice, then after the file is rewritten
    first = source.fetch()
    second = source.fetch()
    path.write_bytes(document(22))
    os.utime(path, ns=(time.time_ns() + 10_000_000, time.time_ns() + 10_000_000))
    third = source.fetch()
    # Then it reads, reports unchanged, then reads the new content
    assert first.body == document(1)
    assert second.body is None
    assert third.body == document(22)


def test_a_missing_file_is_unavailable(tmp_path: Path) -> None:
    # Given / When / Then
    with pytest.raises(SourceUnavailable, match="file:"):
        FileSource(tmp_path / "absent.json").fetch()
