"""`Recommender`: the reference recommender, usable in a Lambda, in a drill's process or in a test.

Per request: parse the request leniently, ask the toggle client for a `Decision` (kill switch, scope,
exposure, policy, alpha, fallback level and cache mode all come from there; nothing is re-decided here),
apply chaos if a drill has it on, rank through the candidate fallback pipeline (or the cache), build the
strict response and emit one EMF document. `serve` never raises: a failing model path is answered from the
last-resort global popular list and counted as an error.

Cache modes (from the decision)
-------------------------------
- ``cold``: no cache at all, neither read nor written; CacheHitRate is not emitted.
- ``prewarm``: read and written. The cache is warmed when the recommender starts (`prewarm_users` most
  active users of the catalog, each with their home region, cohort and client, through the same decision
  path as real requests) and on demand with `warm`.
- ``warm_only``: known keys are served from the cache; a miss is not computed but served segment/global
  popularity (level C), which needs no model.

A cache key is (user id, policy, alpha, fallback level, k), so a toggle change that alters what a user
should get (e.g. the kill switch turning them to popularity) can never be answered from a stale entry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol, cast

from failsafe.domain.decision import Decision, RequestContext, ServingPolicy
from failsafe.domain.toggles import CacheMode, FallbackLevel
from failsafe.recommender.chaos import ChaosConfig, ChaosControl, InjectedFaultError
from failsafe.recommender.dataset import Catalog, get_catalog
from failsafe.recommender.emf import EmfEmitter, EmfSink, RequestOutcome, stdout_sink
from failsafe.recommender.events import EventBuilder, EventSink
from failsafe.recommender.models import (
    REASON_ERROR,
    RecommendationRequest,
    RecommendationResponse,
    ResponseItem,
    ResponseReason,
)
from failsafe.recommender.ranking import (
    CfModel,
    ComponentUnavailableError,
    Ranked,
    UserView,
    cf_scores,
    rank,
    user_view,
)

DEFAULT_CACHE_ENTRIES: Final = 50_000
OTHER_REGION: Final = "other"

log = logging.getLogger("failsafe.recommender")

CacheKey = tuple[str | None, ServingPolicy, float, FallbackLevel, int]


class DecisionClient(Protocol):
    """What the recommender needs from `failsafe.client.ToggleClient`."""

    def decide(self, ctx: RequestContext) -> Decision: ...

    @property
    def config_version(self) -> int: ...

    @property
    def config_age_seconds(self) -> float: ...

    @property
    def ready(self) -> bool: ...

    @property
    def stale(self) -> bool: ...


class LogLike(Protocol):
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Served:
    """One answered request: the response and the outcome its metrics were computed from."""

    response: RecommendationResponse
    outcome: RequestOutcome
    decision: Decision


class ResultCache:
    """Bounded result cache; cleared in one step when full (no lock needed under the GIL)."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries: must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: dict[CacheKey, tuple[Ranked, ...]] = {}

    def get(self, key: CacheKey) -> tuple[Ranked, ...] | None:
        return self._entries.get(key)

    def put(self, key: CacheKey, value: tuple[Ranked, ...]) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


@dataclass(slots=True)
class RecommenderStats:
    requests: int = 0
    errors: int = 0
    cache_hits: int = 0
    cache_lookups: int = 0
    fallback_served: int = 0


def _failing_cf(catalog: Catalog, view: UserView) -> dict[int, float]:
    raise ComponentUnavailableError("collaborative filtering unavailable (chaos: cf_outage)")


class Recommender:
    """Top-K recommendations that honour the toggle client's decisions and emit the EMF contract.

    `sleep` and `timer` are injectable so tests can inject latency without waiting; `timestamp` (epoch
    seconds) stamps the EMF documents, so a drill on an accelerated clock gets metrics in its own time.
    `emf_sink=None` turns metrics off (e.g. for a micro-benchmark).
    """

    def __init__(
        self,
        client: DecisionClient,
        *,
        service: str = "recommender",
        environment: str = "dev",
        catalog: Catalog | None = None,
        chaos: ChaosControl | ChaosConfig | None = None,
        emf_sink: EmfSink | None = stdout_sink,
        metric_regions: frozenset[str] | None = None,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        prewarm_users: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        timer: Callable[[], float] = time.perf_counter,
        timestamp: Callable[[], float] = time.time,
        logger: LogLike | None = None,
        event_sink: EventSink | None = None,
    ) -> None:
        self.client = client
        self.event_sink = event_sink
        self._events = EventBuilder(service, environment, timestamp=timestamp)
        self.service = service
        self.environment = environment
        self.catalog = catalog if catalog is not None else get_catalog()
        self._log: LogLike = logger if logger is not None else log
        if isinstance(chaos, ChaosConfig):
            chaos = ChaosControl(
                environment=environment,
                config=chaos,
                warn=self._log.warning,
                now=lambda: datetime.fromtimestamp(timestamp(), tz=UTC),
            )
        self.chaos = chaos
        self.emitter = (
            EmfEmitter(service, environment, sink=emf_sink, timestamp=timestamp) if emf_sink else None
        )
        self.metric_regions = metric_regions
        self.cache = ResultCache(cache_entries)
        self.stats = RecommenderStats()
        self._stats_lock = threading.Lock()
        self._sleep = sleep
        self._timer = timer
        if prewarm_users > 0:
            self.warm(prewarm_users)

    # -- public API -------------------------------------------------------------------------------

    def recommend(self, request: object = None) -> RecommendationResponse:
        """The response for one request (any mapping or a `RecommendationRequest`). Never raises."""
        return self.serve(request).response

    def serve(self, request: object = None) -> Served:
        """Like `recommend`, with the request's outcome (what its metrics say) and decision. Never raises."""
        started = self._timer()
        try:
            return self._serve(request, started)
        except Exception as exc:  # a bug past the model path: still answer, and count it as an error
            log.exception("recommender: unexpected failure; answered from the global popular list")
            parsed = RecommendationRequest()
            decision = self.client.decide(parsed.context())
            response = self._response(
                parsed, self._last_resort(parsed.k), ServingPolicy.POPULARITY, REASON_ERROR, decision
            )
            outcome = RequestOutcome(
                region=None,
                k=parsed.k,
                k_returned=response.k_returned,
                latency_ms=(self._timer() - started) * 1000.0,
                error=True,
                answered=True,
                cache_hit=None,
                serve_full=False,
                config_version=decision.config_version,
                config_age_seconds=None,
            )
            self._emit(outcome)
            self._record(parsed, decision, response, outcome.latency_ms, exc, False)
            return Served(response=response, outcome=outcome, decision=decision)

    def _serve(self, request: object, started: float) -> Served:
        try:
            parsed = RecommendationRequest.parse(request)
        except Exception:  # a hostile mapping (raising __contains__/get): the default treatment
            parsed = RecommendationRequest()
        decision = self.client.decide(parsed.context())
        injected_ms = 0.0
        slept = 0.0
        cache_hit: bool | None = None
        error = False
        failure: Exception | None = None
        fired: list[str] = []
        policy = decision.policy
        reason = decision.reason.value
        try:
            control = self.chaos
            chaos = control.active() if control is not None else None
            if control is None or chaos is None or not control.hits(chaos, decision.policy):
                chaos = None
            cf: CfModel = cf_scores
            if chaos is not None and control is not None:
                if chaos.latency_ms > 0 and control.roll(chaos.latency_percent):
                    before = self._timer()
                    self._sleep(chaos.latency_ms / 1000.0)
                    slept = self._timer() - before
                    injected_ms = chaos.latency_ms
                    fired.append("latency")
                if control.roll(chaos.error_percent):
                    fired.append("error")
                    raise InjectedFaultError(f"injected error (chaos error_percent={chaos.error_percent})")
                if chaos.cf_outage:
                    cf = _failing_cf
            ranked, cache_hit, policy = self._ranked(parsed, decision, cf)
            if chaos is not None and chaos.coverage_percent < 100:
                ranked = ranked[: ChaosControl.cut(chaos, parsed.k)]
                fired.append("low_coverage")
        except Exception as exc:
            error = True
            failure = exc
            self._log.warning(
                "recommender: request for user %r failed (%s: %s); served the last-resort popular list",
                parsed.user_id,
                type(exc).__name__,
                exc,
            )
            ranked = self._last_resort(parsed.k)
            policy = ServingPolicy.POPULARITY
            reason = REASON_ERROR
        response = self._response(parsed, ranked, policy, reason, decision)
        elapsed_ms = (self._timer() - started - slept) * 1000.0
        latency_ms = elapsed_ms + max(injected_ms, slept * 1000.0)
        outcome = RequestOutcome(
            region=self._metric_region(parsed.region),
            k=parsed.k,
            k_returned=response.k_returned,
            latency_ms=latency_ms,
            error=error,
            answered=True,
            cache_hit=cache_hit,
            serve_full=decision.serve_full,
            config_version=decision.config_version,
            config_age_seconds=self._config_age(),
            properties=self._properties(parsed, decision, response, fired),
        )
        self._count(error, cache_hit, decision)
        self._emit(outcome)
        self._record(parsed, decision, response, latency_ms, failure, True)
        return Served(response=response, outcome=outcome, decision=decision)

    def warm(self, n_users: int, k: int | None = None) -> int:
        """Fill the cache for the `n_users` most active catalog users (home context); returns entries."""
        users = sorted(self.catalog.users, key=lambda u: (-len(u.history), u.index))[: max(0, n_users)]
        warmed = 0
        for user in users:
            request = RecommendationRequest(
                user_id=user.user_id, region=user.region, cohort=user.cohort, client=user.client
            )
            if k is not None:
                request = request.model_copy(update={"k": k})
            decision = self.client.decide(request.context())
            try:
                ranked = self._compute(request, decision, decision.policy, decision.fallback_level, cf_scores)
            except Exception as exc:
                self._log.warning("recommender: warming %s failed: %s", user.user_id, exc)
                continue
            self.cache.put(self._key(request, decision), ranked)
            warmed += 1
        return warmed

    # -- internals --------------------------------------------------------------------------------

    @staticmethod
    def _key(request: RecommendationRequest, decision: Decision) -> CacheKey:
        return (request.user_id, decision.policy, decision.alpha, decision.fallback_level, request.k)

    def _compute(
        self,
        request: RecommendationRequest,
        decision: Decision,
        policy: ServingPolicy,
        level: FallbackLevel,
        cf: CfModel,
    ) -> tuple[Ranked, ...]:
        view = user_view(self.catalog, request.user_id)
        return tuple(
            rank(self.catalog, view, policy=policy, alpha=decision.alpha, level=level, k=request.k, cf=cf)
        )

    def _ranked(
        self, request: RecommendationRequest, decision: Decision, cf: CfModel
    ) -> tuple[tuple[Ranked, ...], bool | None, ServingPolicy]:
        mode = decision.cache_mode
        if mode is CacheMode.COLD:
            return (
                self._compute(request, decision, decision.policy, decision.fallback_level, cf),
                None,
                (decision.policy),
            )
        key = self._key(request, decision)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, True, decision.policy
        if mode is CacheMode.WARM_ONLY:
            # A miss never runs the model: it is answered with segment popularity, and that answer is kept
            # warm under its own key. A stage that changes the policy changes every key, so without this
            # the cache would stay cold for the rest of the incident.
            popular_key = (request.user_id, ServingPolicy.POPULARITY, 0.0, FallbackLevel.C, request.k)
            popular = self.cache.get(popular_key)
            if popular is not None:
                return popular, True, ServingPolicy.POPULARITY
            ranked = self._compute(request, decision, ServingPolicy.POPULARITY, FallbackLevel.C, cf)
            self.cache.put(popular_key, ranked)
            return ranked, False, ServingPolicy.POPULARITY
        ranked = self._compute(request, decision, decision.policy, decision.fallback_level, cf)
        self.cache.put(key, ranked)
        return ranked, False, decision.policy

    def _last_resort(self, k: int) -> tuple[Ranked, ...]:
        view = UserView(user_id=None, segment=None, history=())
        return tuple(
            rank(self.catalog, view, policy=ServingPolicy.POPULARITY, alpha=0.0, level=FallbackLevel.D, k=k)
        )

    def _response(
        self,
        request: RecommendationRequest,
        ranked: tuple[Ranked, ...],
        policy: ServingPolicy,
        reason: str,
        decision: Decision,
    ) -> RecommendationResponse:
        items = self.catalog.items
        levels = [r.level for r in ranked]
        served_level = max(levels, key=lambda lv: lv.value) if levels else decision.fallback_level
        return RecommendationResponse.model_construct(
            items=[
                ResponseItem.model_construct(
                    item_id=items[r.index].item_id,
                    score=r.score,
                    title=items[r.index].title,
                    genre=items[r.index].genre,
                )
                for r in ranked
            ],
            k=request.k,
            k_returned=len(ranked),
            policy=policy.value,
            fallback_level=served_level.value,
            reason=cast("ResponseReason", reason),
            config_version=decision.config_version,
        )

    def _metric_region(self, region: str | None) -> str | None:
        if region is None:
            return None
        if self.metric_regions is not None:
            return region if region in self.metric_regions else OTHER_REGION
        return region if _is_scope_value(region) else OTHER_REGION

    def _config_age(self) -> float | None:
        try:
            return float(self.client.config_age_seconds)
        except Exception:
            return None

    def _properties(
        self,
        request: RecommendationRequest,
        decision: Decision,
        response: RecommendationResponse,
        fired: list[str],
    ) -> Mapping[str, Any]:
        properties: dict[str, Any] = {
            "PolicyMode": response.policy,
            "DecisionPolicy": decision.policy.value,
            "FallbackLevel": response.fallback_level,
            "DecisionFallbackLevel": decision.fallback_level.value,
            "Reason": response.reason,
            "CacheMode": decision.cache_mode.value,
            "Alpha": decision.alpha,
            "K": request.k,
            "KReturned": response.k_returned,
            "Cohort": request.cohort if request.cohort and _is_scope_value(request.cohort) else None,
            "Client": request.client if request.client and _is_scope_value(request.client) else None,
        }
        try:
            properties["ClientReady"] = bool(self.client.ready)
            properties["ClientStale"] = bool(self.client.stale)
        except Exception:
            properties["ClientReady"] = False
        # How many served documents the client refused (a `ToggleClient` counts them; other clients may not).
        rejected = getattr(self.client, "rejected_documents", None)
        if isinstance(rejected, int):
            properties["ClientRejectedDocuments"] = rejected
        if fired:
            properties["ChaosFired"] = fired
        return properties

    def _count(self, error: bool, cache_hit: bool | None, decision: Decision) -> None:
        with self._stats_lock:
            stats = self.stats
            stats.requests += 1
            stats.errors += error
            if cache_hit is not None:
                stats.cache_lookups += 1
                stats.cache_hits += cache_hit
            stats.fallback_served += not decision.serve_full

    def _record(  # noqa: PLR0917 (private, two call sites)
        self,
        request: RecommendationRequest,
        decision: Decision,
        response: RecommendationResponse,
        latency_ms: float,
        failure: BaseException | None,
        model_path: bool,
    ) -> None:
        """Hand the request's evidence events to the event sink (if any); never fails the request."""
        if self.event_sink is None:
            return
        try:
            self.event_sink.write(
                self._events.events(
                    region=_scope_or_none(request.region),
                    cohort=_scope_or_none(request.cohort),
                    client=_scope_or_none(request.client),
                    shadow=request.shadow,
                    decision=decision,
                    response=response,
                    latency_ms=latency_ms,
                    failure=failure,
                    model_path=model_path,
                )
            )
        except Exception as exc:
            self._log.warning("recommender: could not record events: %s", exc)

    def _emit(self, outcome: RequestOutcome) -> None:
        if self.emitter is None:
            return
        try:
            self.emitter.emit(outcome)
        except Exception as exc:  # metrics must never fail a request
            self._log.warning("recommender: could not emit metrics: %s", exc)


_SCOPE_VALUE_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")


def _scope_or_none(value: str | None) -> str | None:
    return value if value is not None and _is_scope_value(value) else None


def _is_scope_value(value: str) -> bool:
    """Matches `failsafe.domain.scope.ScopeValue` (1..64 of ``[A-Za-z0-9_.:-]``): safe as a dimension."""
    return 0 < len(value) <= 64 and all(ch in _SCOPE_VALUE_CHARS for ch in value)


__all__ = ["DecisionClient", "Recommender", "ResultCache", "Served"]
