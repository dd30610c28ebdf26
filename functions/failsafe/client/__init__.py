"""What recommender services import: config sources, `ToggleClient` and the per-request `Decision`.

The OpenFeature provider lives in `failsafe.client.openfeature_provider` (needs the `openfeature` extra).
"""

from failsafe.client.sources import (
    AgentHttpSource,
    AppConfigDataSource,
    ConfigSource,
    Fetched,
    FileSource,
    SourceUnavailable,
)
from failsafe.client.toggle_client import (
    COLD_START_BASELINE,
    DEFAULT_REFRESH_INTERVAL_SECONDS,
    ClientStats,
    RefreshOutcome,
    ToggleClient,
    parse_document,
)
from failsafe.domain.acceptance import DocumentRejected
from failsafe.domain.decision import Decision, DecisionReason, RequestContext, ServingPolicy

__all__ = [
    "COLD_START_BASELINE",
    "DEFAULT_REFRESH_INTERVAL_SECONDS",
    "AgentHttpSource",
    "AppConfigDataSource",
    "ClientStats",
    "ConfigSource",
    "Decision",
    "DecisionReason",
    "DocumentRejected",
    "Fetched",
    "FileSource",
    "RefreshOutcome",
    "RequestContext",
    "ServingPolicy",
    "SourceUnavailable",
    "ToggleClient",
    "parse_document",
]
