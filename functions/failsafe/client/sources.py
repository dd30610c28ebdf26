"""Where a `ToggleClient` reads the toggles document from. Three sources behind one small protocol.

- `AgentHttpSource`: the AppConfig agent (EC2, ECS, EKS) or the AppConfig Lambda extension, a local HTTP
  endpoint that polls AppConfig itself and caches the latest deployed configuration. The recommended
  path: reads are local and cheap, and the agent deals with sessions, tokens and throttling.
- `AppConfigDataSource`: the `appconfigdata` API through a boto3 client passed in by the caller.
  StartConfigurationSession once, then GetLatestConfiguration with the single-use token each response
  hands back; an empty body means "unchanged"; NextPollIntervalInSeconds is honoured.
- `FileSource`: a JSON file on disk, for development and drills.

A source only transports bytes. It returns `Fetched(body=None)` when it knows nothing changed and raises
`SourceUnavailable` when it could not reach its backend. Parsing, validation, size limits and last known
good are the client's job, so every source gets the same rules.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mypy_boto3_appconfigdata import AppConfigDataClient

DEFAULT_AGENT_PORT = "2772"
AGENT_PORT_ENV = "AWS_APPCONFIG_EXTENSION_HTTP_PORT"
DEFAULT_TIMEOUT_SECONDS = 2.0
DEFAULT_READ_LIMIT = 4 * 1024 * 1024
"""Sources stop reading after this many bytes (the client rejects far smaller documents anyway)."""


class SourceUnavailable(Exception):
    """The backend could not be reached or answered with an error; the client keeps what it has."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """One poll's answer. `body is None` means "unchanged since the previous poll of this source"."""

    body: bytes | None
    content_type: str | None = None
    version_label: str | None = None
    next_poll_seconds: float | None = None


@runtime_checkable
class ConfigSource(Protocol):
    """Anything that can fetch the raw toggles document."""

    @property
    def name(self) -> str: ...

    def fetch(self) -> Fetched: ...


def _read_limited(read: Callable[[int], bytes], limit: int) -> bytes:
    # Read one byte past the limit so the client can tell "exactly at the limit" from "oversized".
    return read(limit + 1)


class AgentHttpSource:
    """The AppConfig agent / Lambda extension: GET /applications/{app}/environments/{env}/configurations/{p}.

    `base_url` defaults to ``http://localhost:{AWS_APPCONFIG_EXTENSION_HTTP_PORT or 2772}``, the
    extension's own setting. The agent always answers with the full configuration; the client notices
    an unchanged body itself.
    """

    def __init__(
        self,
        application: str,
        environment: str,
        profile: str,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        read_limit: int = DEFAULT_READ_LIMIT,
    ) -> None:
        if base_url is None:
            base_url = f"http://localhost:{os.environ.get(AGENT_PORT_ENV, DEFAULT_AGENT_PORT)}"
        quote = urllib.parse.quote
        self.url = (
            f"{base_url.rstrip('/')}/applications/{quote(application, safe='')}"
            f"/environments/{quote(environment, safe='')}/configurations/{quote(profile, safe='')}"
        )
        self.timeout = timeout
        self.read_limit = read_limit

    @property
    def name(self) -> str:
        return f"agent:{self.url}"

    def fetch(self) -> Fetched:
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = _read_limited(response.read, self.read_limit)
                headers = response.headers
                return Fetched(
                    body=body,
                    content_type=headers.get("Content-Type"),
                    version_label=headers.get("Configuration-Version") or headers.get("Version-Label"),
                )
        except urllib.error.HTTPError as exc:
            raise SourceUnavailable(f"{self.name}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceUnavailable(f"{self.name}: unreachable ({reason})") from exc


class AppConfigDataSource:
    """The `appconfigdata` data plane through a caller-supplied boto3 client.

    Tokens are single use: each GetLatestConfiguration returns the token for the next call, which is
    stored before the body is read. After any error the session is dropped and the next fetch starts a
    new one, which answers with the full latest configuration. Calls made before the last
    NextPollIntervalInSeconds has elapsed are answered locally as "unchanged" instead of being sent
    (AppConfig would reject them: BadRequestException, PollIntervalNotSatisfied).
    """

    def __init__(
        self,
        client: AppConfigDataClient,
        application: str,
        environment: str,
        profile: str,
        *,
        required_minimum_poll_interval: int | None = None,
        read_limit: int = DEFAULT_READ_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.application = application
        self.environment = environment
        self.profile = profile
        self.required_minimum_poll_interval = required_minimum_poll_interval
        self.read_limit = read_limit
        self._clock = clock
        self._token: str | None = None
        self._not_before = float("-inf")
        self.sessions_started = 0

    @property
    def name(self) -> str:
        return f"appconfigdata:{self.application}/{self.environment}/{self.profile}"

    def _start_session(self) -> str:
        params: dict[str, Any] = {
            "ApplicationIdentifier": self.application,
            "EnvironmentIdentifier": self.environment,
            "ConfigurationProfileIdentifier": self.profile,
        }
        if self.required_minimum_poll_interval is not None:
            params["RequiredMinimumPollIntervalInSeconds"] = self.required_minimum_poll_interval
        response = self._client.start_configuration_session(**params)
        self.sessions_started += 1
        return response["InitialConfigurationToken"]

    def fetch(self) -> Fetched:
        now = self._clock()
        if now < self._not_before:
            return Fetched(body=None, next_poll_seconds=self._not_before - now)
        try:
            token = self._token if self._token is not None else self._start_session()
            self._token = None  # single use: never resend a token, even if this call fails
            response = self._client.get_latest_configuration(ConfigurationToken=token)
            self._token = response["NextPollConfigurationToken"]
            interval = float(response.get("NextPollIntervalInSeconds", 0))
            self._not_before = now + interval
            body = _read_limited(response["Configuration"].read, self.read_limit)
        except Exception as exc:
            # Whatever failed (the call, or reading the body after the next token was stored), a new
            # session is the only way to be sure the next answer is not an "unchanged" for content
            # this client never received.
            self._token = None
            raise SourceUnavailable(f"{self.name}: {exc}") from exc
        return Fetched(
            body=body or None,
            content_type=response.get("ContentType"),
            version_label=response.get("VersionLabel"),
            next_poll_seconds=interval,
        )


class FileSource:
    """A JSON document on disk. Unchanged (same size and mtime) files are reported as unchanged."""

    def __init__(self, path: str | os.PathLike[str], *, read_limit: int = DEFAULT_READ_LIMIT) -> None:
        self.path = Path(path)
        self.read_limit = read_limit
        self._seen: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    def fetch(self) -> Fetched:
        try:
            with self.path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                stamp = (stat.st_mtime_ns, stat.st_size)
                if stamp == self._seen:
                    return Fetched(body=None)
                body = _read_limited(handle.read, self.read_limit)
        except OSError as exc:
            raise SourceUnavailable(f"{self.name}: {exc.strerror or exc}") from exc
        self._seen = stamp
        return Fetched(body=body, content_type="application/json")
