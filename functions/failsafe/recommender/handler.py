"""Lambda entry point of the reference recommender: ``failsafe.recommender.handler.handler``.

Event: ``{"user_id", "region", "cohort", "client", "k"}`` (`RecommendationRequest`, lenient: any event,
even ``null`` or a list, is answered with the documented default treatment). Response: the JSON form of
`RecommendationResponse`. The handler never raises: anything unexpected is logged and answered from the
global popular list, so the UI never goes blank.

One `Recommender` per configuration lives for the life of the sandbox (built on the first invocation:
catalog, toggle client and its first poll, cache prewarm). Before each request the toggle client and the
chaos control are refreshed when their interval has passed; with the AppConfig agent or extension that
is a localhost read, with ``appconfigdata`` the source itself answers "unchanged" until the service's
NextPollIntervalInSeconds has passed. A Lambda is frozen between invocations, so polling on the
invocation (rather than on a background thread) is what keeps "one poll interval" true there.

Drills that run this handler in-process on an accelerated clock call `configure_runtime` first, so that
EMF timestamps, injected latency and refresh timing follow the drill's clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer

from failsafe.client.sources import (
    AgentHttpSource,
    AppConfigDataSource,
    ConfigSource,
    Fetched,
    FileSource,
    SourceUnavailable,
)
from failsafe.client.toggle_client import ToggleClient
from failsafe.domain.decision import ServingPolicy
from failsafe.domain.toggles import FallbackLevel
from failsafe.recommender.chaos import ChaosControl, ChaosLoader, env_loader, source_loader
from failsafe.recommender.dataset import CatalogSpec, get_catalog
from failsafe.recommender.events import EventSink
from failsafe.recommender.models import REASON_ERROR, RecommendationRequest
from failsafe.recommender.ranking import UserView, rank
from failsafe.recommender.service import Recommender
from failsafe.recommender.settings import RecommenderSettings, SourceKind

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="recommender")
tracer = Tracer(service="recommender")


@dataclass(slots=True)
class _Runtime:
    timestamp: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


_runtime = _Runtime()


def configure_runtime(
    *,
    timestamp: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    monotonic: Callable[[], float] | None = None,
) -> None:
    """Use these clocks for recommenders built from now on (drills on an accelerated clock)."""
    _runtime.timestamp = timestamp or time.time
    _runtime.sleep = sleep or time.sleep
    _runtime.monotonic = monotonic or time.monotonic
    reset()


class _Unconfigured:
    """The source of a recommender whose configuration could not be built: always unavailable, so the
    client serves its documented cold-start baseline (emergency popularity)."""

    def __init__(self, why: str) -> None:
        self.why = why

    @property
    def name(self) -> str:
        return "unconfigured"

    def fetch(self) -> Fetched:
        raise SourceUnavailable(f"no toggles source: {self.why}")


def _source(settings: RecommenderSettings, profile: str, file: str | None) -> ConfigSource:
    kind = settings.resolved_source
    if kind is SourceKind.FILE:
        if not file:
            raise ValueError(f"source 'file' needs a file for profile {profile!r}")
        return FileSource(file)
    if kind is SourceKind.AGENT:
        return AgentHttpSource(
            settings.appconfig_application,
            settings.appconfig_environment_name,
            profile,
            base_url=settings.agent_url,
        )
    import boto3

    client = boto3.client("appconfigdata", region_name=settings.aws_region)
    return AppConfigDataSource(
        client,
        settings.appconfig_application,
        settings.appconfig_environment_name,
        profile,
        required_minimum_poll_interval=max(15, int(settings.refresh_seconds)),
        clock=_runtime.monotonic,
    )


def _chaos_loader(settings: RecommenderSettings) -> ChaosLoader:
    if settings.resolved_source is SourceKind.FILE and settings.chaos_file:
        return source_loader(FileSource(settings.chaos_file))
    if settings.appconfig_chaos_profile and settings.resolved_source is not SourceKind.FILE:
        return source_loader(_source(settings, settings.appconfig_chaos_profile, None))
    return env_loader()


class _Service:
    """One configured recommender plus its refresh schedule."""

    def __init__(self, settings: RecommenderSettings) -> None:
        self.settings = settings
        for problem in settings.problems:
            logger.warning("recommender settings: %s", problem)
        try:
            source = _source(settings, settings.appconfig_profile, settings.toggles_file)
        except Exception as exc:
            logger.error(
                "recommender: cannot build the toggles source (%s); serving the cold-start baseline", exc
            )
            source = _Unconfigured(str(exc))
        self.client = ToggleClient(
            source,
            refresh_interval=settings.refresh_seconds,
            service=settings.service,
            environment=settings.environment,
            backup_path=settings.backup_path,
            wall_clock=_runtime.timestamp,
            clock=_runtime.monotonic,
        )
        self.client.refresh()
        try:
            loader = _chaos_loader(settings)
        except Exception as exc:
            logger.warning("recommender: chaos source unavailable (%s); chaos off", exc)
            loader = env_loader({})
        self.chaos = ChaosControl(
            environment=settings.environment,
            loader=loader,
            warn=logger.warning,
            now=lambda: _now_utc(_runtime.timestamp),
        )
        self.event_sink = _event_sink(settings)
        self.recommender = Recommender(
            self.client,
            service=settings.service,
            environment=settings.environment,
            catalog=get_catalog(CatalogSpec(seed=settings.catalog_seed)),
            chaos=self.chaos,
            metric_regions=frozenset(settings.metric_regions) if settings.metric_regions else None,
            prewarm_users=settings.prewarm_users,
            sleep=_runtime.sleep,
            timestamp=_runtime.timestamp,
            logger=logger,
            event_sink=self.event_sink,
        )
        self._last_refresh = _runtime.monotonic()
        self._lock = threading.Lock()

    def refresh_if_due(self) -> None:
        now = _runtime.monotonic()
        if now - self._last_refresh < self.settings.refresh_seconds:
            return
        with self._lock:
            if now - self._last_refresh < self.settings.refresh_seconds:
                return
            self._last_refresh = now
        self.client.refresh()
        self.chaos.refresh()


def _event_sink(settings: RecommenderSettings) -> EventSink | None:
    """Firehose delivery of the evidence events when both streams are configured (template.yaml)."""
    if not (settings.ranking_events_stream and settings.error_events_stream):
        return None
    import boto3

    from failsafe.aws.event_stream import FirehoseEventSink
    from failsafe.domain.events import ERROR_TABLE, RANKING_TABLE

    return FirehoseEventSink(
        boto3.client("firehose", region_name=settings.aws_region),
        {RANKING_TABLE: settings.ranking_events_stream, ERROR_TABLE: settings.error_events_stream},
    )


def _now_utc(timestamp: Callable[[], float]) -> datetime:
    return datetime.fromtimestamp(timestamp(), tz=UTC)


_services: dict[RecommenderSettings, _Service] = {}
_services_lock = threading.Lock()


def get_service(settings: RecommenderSettings | None = None) -> _Service:
    """The sandbox's recommender for `settings` (default: from the environment), built once."""
    settings = settings or RecommenderSettings.from_env()
    key = settings.model_copy(update={"chaos": None})  # the chaos document is re-read, not a new service
    service = _services.get(key)
    if service is None:
        with _services_lock:
            service = _services.get(key)
            if service is None:
                service = _Service(settings)
                _services[key] = service
    return service


def reset() -> None:
    """Forget every built recommender (tests, `configure_runtime`)."""
    with _services_lock:
        _services.clear()


def _emergency_response(event: object) -> dict[str, Any]:
    """Answer without any configured component: global popular from the default catalog."""
    request = RecommendationRequest.parse(event)
    catalog = get_catalog()
    ranked = rank(
        catalog,
        UserView(user_id=None, segment=None, history=()),
        policy=ServingPolicy.POPULARITY,
        alpha=0.0,
        level=FallbackLevel.D,
        k=request.k,
    )
    items = [
        {
            "item_id": catalog.items[r.index].item_id,
            "score": r.score,
            "title": catalog.items[r.index].title,
            "genre": catalog.items[r.index].genre,
        }
        for r in ranked
    ]
    return {
        "items": items,
        "k": request.k,
        "k_returned": len(items),
        "policy": "popularity",
        "fallback_level": "D",
        "reason": REASON_ERROR,
        "config_version": 0,
    }


@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: Mapping[str, Any] | Any, context: LambdaContext) -> dict[str, Any]:
    """Serve one recommendation request. Never raises."""
    try:
        service = get_service()
        service.refresh_if_due()
        served = service.recommender.serve(event)
        logger.append_keys(
            policy=served.response.policy,
            reason=served.response.reason,
            config_version=served.response.config_version,
        )
        return served.response.model_dump(mode="json")
    except Exception:
        logger.exception("recommender: unexpected failure; answered from the global popular list")
        return _emergency_response(event)
