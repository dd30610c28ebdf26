"""An AppConfig Agent / Lambda extension look-alike: a small HTTP server on 127.0.0.1.

`GET /applications/{app}/environments/{env}/configurations/{profile}` (names or ids) answers with the
deployed content, its Content-Type, Version-Label and Configuration-Version. Like the real agent it
keeps one AppConfig Data session per configuration, polls GetLatestConfiguration at most every
`poll_interval_seconds` of the local clock and serves its cache in between
(an empty poll body means "unchanged").

By default it calls the in-process AppConfig Data backend directly (same semantics as the API:
sessions, single-use tokens, rollout percentages). Pass `client=boto3.client("appconfigdata", ...)`
to poll over HTTP instead, e.g. a moto server started with `endpoint_url`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from moto.core.exceptions import ServiceException
from moto.core.models import DEFAULT_ACCOUNT_ID

from failsafe_tools.local.clock import get_clock

from .models import MIN_POLL_INTERVAL_SECONDS

DEFAULT_AGENT_POLL_INTERVAL_SECONDS = 45  # the real agent's POLL_INTERVAL default
_ROUTE = re.compile(r"^/applications/([^/]+)/environments/([^/]+)/configurations/([^/]+)/?$")


class AgentError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Poll:
    token: str
    configuration: bytes
    content_type: str | None
    version_label: str | None
    configuration_version: str | None = None


class DataPlane(Protocol):
    def start_session(self, app: str, env: str, profile: str, poll_interval: int) -> str: ...

    def poll(self, token: str) -> _Poll: ...


class BackendDataPlane:
    """AppConfig Data answered by the in-process moto backend (no HTTP, no credentials)."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def _backend(self) -> Any:
        from .responses import _backend

        return _backend(self.account_id, self.region)

    def start_session(self, app: str, env: str, profile: str, poll_interval: int) -> str:
        try:
            return str(self._backend().start_configuration_session(app, env, profile, poll_interval))
        except ServiceException as exc:
            raise AgentError(404 if "NotFound" in exc.code else 400, exc.message) from exc

    def poll(self, token: str) -> _Poll:
        try:
            latest = self._backend().get_latest_configuration(token)
        except ServiceException as exc:
            raise AgentError(400, exc.message) from exc
        return _Poll(
            latest.next_token,
            latest.configuration,
            latest.content_type,
            latest.version_label,
            latest.configuration_version,
        )


class ClientDataPlane:
    """AppConfig Data over HTTP through a boto3 `appconfigdata` client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def start_session(self, app: str, env: str, profile: str, poll_interval: int) -> str:
        from botocore.exceptions import ClientError

        try:
            response = self.client.start_configuration_session(
                ApplicationIdentifier=app,
                EnvironmentIdentifier=env,
                ConfigurationProfileIdentifier=profile,
                RequiredMinimumPollIntervalInSeconds=poll_interval,
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            raise AgentError(404 if code == "ResourceNotFoundException" else 400, str(exc)) from exc
        return str(response["InitialConfigurationToken"])

    def poll(self, token: str) -> _Poll:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_latest_configuration(ConfigurationToken=token)
        except ClientError as exc:
            raise AgentError(400, str(exc)) from exc
        return _Poll(
            response["NextPollConfigurationToken"],
            response["Configuration"].read(),
            response.get("ContentType"),
            response.get("VersionLabel"),
        )


@dataclass
class _Cached:
    token: str
    next_poll_at: float
    content: bytes | None = None
    content_type: str | None = None
    version_label: str | None = None
    configuration_version: str | None = None


class AppConfigAgent:
    """Start with `start()` (returns the base URL), stop with `stop()`; also a context manager."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        poll_interval_seconds: int = DEFAULT_AGENT_POLL_INTERVAL_SECONDS,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = "us-east-1",
        client: Any = None,
    ) -> None:
        self.host = host
        self.port = port
        self.poll_interval_seconds = poll_interval_seconds
        self.data_plane: DataPlane = (
            ClientDataPlane(client) if client is not None else BackendDataPlane(account_id, region)
        )
        self._cache: dict[tuple[str, str, str], _Cached] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the AppConfig agent is not running; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fetch(self, app: str, env: str, profile: str) -> tuple[bytes, str | None, str | None, str | None]:
        """(content, content type, version label, configuration version) as the agent serves it (the AWS
        agent sends the last two as the Version-Label and Configuration-Version headers).

        Raises AgentError."""
        key = (app, env, profile)
        now = get_clock().time()
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                token = self.data_plane.start_session(
                    app, env, profile, max(MIN_POLL_INTERVAL_SECONDS, self.poll_interval_seconds)
                )
                cached = _Cached(token=token, next_poll_at=now)
                self._cache[key] = cached
            if now >= cached.next_poll_at:
                polled = self.data_plane.poll(cached.token)
                cached.token = polled.token
                # the next token is usable once the session's poll interval has passed
                cached.next_poll_at = now + max(MIN_POLL_INTERVAL_SECONDS, self.poll_interval_seconds)
                if polled.configuration:
                    cached.content = polled.configuration
                    cached.content_type = polled.content_type
                    cached.version_label = polled.version_label
                    cached.configuration_version = polled.configuration_version
            if cached.content is None:
                raise AgentError(
                    404, f"No configuration has been deployed for {profile} in environment {env} of {app}"
                )
            return cached.content, cached.content_type, cached.version_label, cached.configuration_version

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                match = _ROUTE.match(urlsplit(self.path).path)
                if match is None:
                    self._send(
                        404,
                        json.dumps(
                            {
                                "message": f"Unknown path {self.path}; use "
                                "/applications/{app}/environments/{env}/configurations/{profile}"
                            }
                        ).encode(),
                        {"Content-Type": "application/json"},
                    )
                    return
                app, env, profile = (unquote(part) for part in match.groups())
                try:
                    content, content_type, version_label, version = agent.fetch(app, env, profile)
                except AgentError as exc:
                    self._send(
                        exc.status,
                        json.dumps({"message": exc.message}).encode(),
                        {"Content-Type": "application/json"},
                    )
                    return
                headers = {"Content-Type": content_type or "application/octet-stream"}
                if version_label:
                    headers["Version-Label"] = version_label
                if version:
                    headers["Configuration-Version"] = version
                self._send(200, content, headers)

        return Handler

    def start(self) -> str:
        if self._server is not None:
            return self.url
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="appconfig-agent", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> AppConfigAgent:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_agent(**kwargs: Any) -> AppConfigAgent:
    """Start an agent on 127.0.0.1 (ephemeral port unless `port=`); its base URL is `agent.url`."""
    agent = AppConfigAgent(**kwargs)
    agent.start()
    return agent
