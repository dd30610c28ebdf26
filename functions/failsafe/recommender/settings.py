"""The recommender Lambda's environment, as one typed model.

| Variable | Default | Meaning |
| --- | --- | --- |
| ``FAILSAFE_SERVICE`` (else ``POWERTOOLS_SERVICE_NAME``) | ``recommender`` | Service dimension and scope |
| ``FAILSAFE_ENVIRONMENT`` | ``dev`` | Environment dimension; the client rejects documents for another |
| ``APPCONFIG_APPLICATION_ID`` | ``failsafe`` | AppConfig application (id or name) |
| ``APPCONFIG_ENVIRONMENT_ID`` | = environment | AppConfig environment (id or name) |
| ``APPCONFIG_PROFILE_ID`` | ``toggles`` | The toggles profile |
| ``APPCONFIG_CHAOS_PROFILE_ID`` | unset | Optional separate chaos profile (same source kind) |
| ``FAILSAFE_TOGGLES_SOURCE`` | ``auto`` | ``agent``, ``appconfigdata``, ``file`` or ``auto`` (below) |
| ``FAILSAFE_AGENT_URL`` | unset | Base URL of the AppConfig agent / Lambda extension |
| ``FAILSAFE_TOGGLES_FILE`` | unset | Toggles JSON file (source ``file``) |
| ``FAILSAFE_CHAOS_FILE`` | unset | Chaos JSON file (source ``file``) |
| ``FAILSAFE_CHAOS`` | unset | Chaos JSON document (see `failsafe.recommender.chaos`) |
| ``FAILSAFE_REFRESH_SECONDS`` | ``15`` | Toggle poll interval (see `failsafe.client.toggle_client`) |
| ``FAILSAFE_BACKUP_PATH`` | unset | Last known good backup file, read first on a cold start |
| ``FAILSAFE_CATALOG_SEED`` | ``7`` | Seed of the synthetic catalog |
| ``FAILSAFE_PREWARM_USERS`` | ``200`` | Users warmed into the cache at start |
| ``FAILSAFE_METRIC_REGIONS`` | unset | Comma list; other regions are reported as ``other`` |

``auto`` picks ``file`` when a toggles file is set, else ``agent`` when an agent URL is set (or the
extension's ``AWS_APPCONFIG_EXTENSION_HTTP_PORT`` is), else ``appconfigdata``.

A malformed value never stops the function: it is replaced by its default and named in
`RecommenderSettings.problems`, which the handler logs once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_AGENT_PORT: Final = "AWS_APPCONFIG_EXTENSION_HTTP_PORT"


class SourceKind(StrEnum):
    AUTO = "auto"
    AGENT = "agent"
    APPCONFIGDATA = "appconfigdata"
    FILE = "file"


_ENV_NAMES: Final = {
    "service": ("FAILSAFE_SERVICE", "POWERTOOLS_SERVICE_NAME"),
    "environment": ("FAILSAFE_ENVIRONMENT",),
    "appconfig_application": ("APPCONFIG_APPLICATION_ID", "APPCONFIG_APPLICATION"),
    "appconfig_environment": ("APPCONFIG_ENVIRONMENT_ID", "APPCONFIG_ENVIRONMENT"),
    "appconfig_profile": ("APPCONFIG_PROFILE_ID", "APPCONFIG_PROFILE"),
    "appconfig_chaos_profile": ("APPCONFIG_CHAOS_PROFILE_ID", "APPCONFIG_CHAOS_PROFILE"),
    "source": ("FAILSAFE_TOGGLES_SOURCE",),
    "agent_url": ("FAILSAFE_AGENT_URL", "APPCONFIG_AGENT_URL"),
    "toggles_file": ("FAILSAFE_TOGGLES_FILE",),
    "chaos_file": ("FAILSAFE_CHAOS_FILE",),
    "chaos": ("FAILSAFE_CHAOS",),
    "refresh_seconds": ("FAILSAFE_REFRESH_SECONDS",),
    "backup_path": ("FAILSAFE_BACKUP_PATH",),
    "catalog_seed": ("FAILSAFE_CATALOG_SEED",),
    "prewarm_users": ("FAILSAFE_PREWARM_USERS",),
    "metric_regions": ("FAILSAFE_METRIC_REGIONS",),
    "aws_region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "ranking_events_stream": ("RANKING_EVENTS_STREAM",),
    "error_events_stream": ("ERROR_EVENTS_STREAM",),
}


class RecommenderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field("recommender", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
    environment: str = Field("dev", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
    appconfig_application: str = Field("failsafe", min_length=1)
    appconfig_environment: str | None = None
    appconfig_profile: str = Field("toggles", min_length=1)
    appconfig_chaos_profile: str | None = None
    source: SourceKind = SourceKind.AUTO
    agent_url: str | None = None
    toggles_file: str | None = None
    chaos_file: str | None = None
    chaos: str | None = None
    refresh_seconds: float = Field(15.0, gt=0, le=3600)
    backup_path: str | None = None
    catalog_seed: int = 7
    prewarm_users: int = Field(200, ge=0, le=5000)
    metric_regions: tuple[str, ...] | None = None
    aws_region: str = "us-east-1"
    ranking_events_stream: str | None = None
    """Firehose delivery streams of the evidence events; both set: events are delivered, else not recorded."""
    error_events_stream: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def resolved_source(self) -> SourceKind:
        if self.source is not SourceKind.AUTO:
            return self.source
        if self.toggles_file:
            return SourceKind.FILE
        if self.agent_url or os.environ.get(ENV_AGENT_PORT):
            return SourceKind.AGENT
        return SourceKind.APPCONFIGDATA

    @property
    def appconfig_environment_name(self) -> str:
        return self.appconfig_environment or self.environment

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RecommenderSettings:
        """Read the environment; a bad value falls back to its default and is listed in `problems`."""
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for name, keys in _ENV_NAMES.items():
            for key in keys:
                value = env.get(key)
                if value is not None and value.strip():
                    raw[name] = value.strip()
                    break
        if "metric_regions" in raw:
            raw["metric_regions"] = tuple(r.strip() for r in raw["metric_regions"].split(",") if r.strip())
        problems: list[str] = []
        while True:
            try:
                return cls.model_validate({**raw, "problems": tuple(problems)})
            except ValidationError as error:
                bad = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
                if not bad or not bad & raw.keys():
                    raise
                for name in sorted(bad & raw.keys()):
                    problems.append(f"{_ENV_NAMES[name][0]}={raw.pop(name)!r} is invalid; using the default")
