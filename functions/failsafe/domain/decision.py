"""The per-request decision: which policy serves this request, under the current toggle document.

``compile_snapshot(document) -> Snapshot`` does all the work that does not depend on the request, once
per config version. ``decide(snapshot, ctx) -> Decision`` then only picks the governing toggle set, checks
scope, hashes the user's sticky bucket and returns a shared, immutable ``Decision``. It never raises.

Precedence (the order of the checks in ``decide``)
--------------------------------------------------
1. **Governing set.** The most specific ``ScopedOverride`` whose scope matches the request's region,
   cohort and client (``Scope.matches``; ties go to the more cautious set, ``ToggleSet.caution``, so of
   two overlapping rollbacks the further one governs; then to the override listed first), else the document's
   default toggles. The kill switch comes first here too: when the defaults, or any override the
   request matches, have ``kill_switch`` on, that set governs (defaults first, then the most specific
   killed override), so a region's stage-1 override cannot shield its traffic from a service-wide kill.
   Overrides for another service or environment are dropped at compile time when ``compile_snapshot``
   is given ``service`` / ``environment``.
2. **Kill switch.** ``kill_switch`` on the governing set: fallback, reason ``kill_switch``.
3. **Scope.** ``region_scope`` / ``cohort_scope`` / ``client_scope`` of the governing set (empty = all).
   A request outside any non-empty list, or without a value for it, gets the fallback, reason
   ``out_of_scope``.
4. **User.** A request without a usable user id (``None``, not a ``str``, empty, or longer than
   ``MAX_USER_ID_LENGTH``) cannot be bucketed: fallback, reason ``missing_user``, bucket ``NO_BUCKET``.
5. **Exposure.** Sticky bucket (``failsafe.domain.bucketing``) below ``exposure_percent * 100``: primary.
   Otherwise fallback, reason ``out_of_exposure``.
6. **Mode and disable flags** give the primary policy: ``hybrid_default`` and ``bucket_gate`` blend
   (``hybrid``; in ``bucket_gate`` the exposure bucket of step 5 is the gate); ``disable_cf`` in a
   blending mode gives ``content_only``; ``disable_content`` gives ``collab_only``; both give
   ``popularity``. ``content_only`` and ``collab_only`` are served as named.
7. **Fallback level.** The primary decision carries ``candidate_fallback_level``; a popularity policy
   always carries a popularity level (C or D, else D).
8. **Alpha** (the CF weight of the blend): ``alpha_override`` if set, else the service's default alpha
   (``default_alpha``, data passed to ``compile_snapshot``). Non-blending policies carry a fixed alpha:
   ``content_only`` and ``popularity`` 0.0, ``collab_only`` 1.0.

The fallback policy
-------------------
Killed, out-of-scope, out-of-exposure and user-less requests are served ``popularity`` with alpha 0.0,
``serve_full=False``, the governing set's ``cache_mode``, and the set's ``candidate_fallback_level`` when
it is a popularity level (C segment popular, D global popular), else D. Popularity needs neither the CF
nor the content model, so it can always fill top-K.

Cold start
----------
``cold_start_snapshot(toggles)`` is what a client serves before it has ever loaded a document: every
request gets the fallback built from ``toggles`` with reason ``no_config`` and ``config_version`` 0.

Experiment freeze
-----------------
Each toggle set is bucketed under a salt. Normally that is the salt the service configures
(``compile_snapshot(salt=...)``), so buckets are stable across config versions and restarts, and a new
salt starts a new experiment (every user reshuffled). While a set has ``experiment_freeze`` on, its salt
is pinned to the salt in force for that scope in the *previous* snapshot, i.e. the salt of the config
version in which the freeze began: neither a new salt nor a new config version moves any user's bucket
(and so their exposure and experiment arm). Lifting the freeze lets the
configured salt take effect again. The pinned salt lives in the snapshot chain (``previous=``); a
process that starts while a freeze is on pins the salt it is configured with.

Performance
-----------
Nothing is cached per request or per user: real traffic is mostly users the process has never seen, and
hashing a user id (MurmurHash3, ``failsafe.domain.bucketing``) costs about as much as a dict lookup. What
is computed once and reused:

- per config version: everything request-independent (``compile_snapshot``);
- per route, i.e. per (region, cohort, client), or per region when nothing in the document looks at
  the cohort or the client: the governing set, its scope verdict, its hash seed and the table of
  decisions by bucket (``Snapshot.routes``, at most ``max_routes`` entries, evicted one at a
  time by CLOCK, an approximation of least-recently-used: a route used since the hand last passed it gets
  a second chance);
- per (set, scope verdict, bucket): the immutable ``Decision`` (a list of ``BUCKETS`` slots, filled on
  first use, so bounded by construction).

So the steady state of ``decide`` for any user is: one route lookup, one hash, one list index
(``bench_decide``'s "every user new" workload measures exactly that against a hand-written floor).
Caches only ever hold exact answers; the hot path takes no lock under the GIL, the slow path inserts and
evicts routes under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, NamedTuple

from mmh3 import hash as _murmur3_32
from pydantic import BaseModel, ConfigDict, field_validator

from failsafe.domain.bucketing import BUCKETS, DEFAULT_SALT, Bucketer, exposure_threshold
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import (
    BLENDING_MODES,
    CacheMode,
    FallbackLevel,
    PolicyMode,
    ToggleDocument,
    ToggleSet,
)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MAX_ROUTES",
    "MAX_USER_ID_LENGTH",
    "NO_BUCKET",
    "CompiledSet",
    "Decision",
    "DecisionReason",
    "RequestContext",
    "RequestContextModel",
    "Route",
    "ServingPolicy",
    "Snapshot",
    "cold_start_snapshot",
    "compile_snapshot",
    "decide",
    "effective_policy",
    "fallback_level_for_popularity",
    "lenient_text",
]

DEFAULT_ALPHA: Final = 0.5
"""CF weight of the hybrid blend when neither the toggles nor the service configure one."""

NO_BUCKET: Final = -1
"""`Decision.bucket` of a request that could not be bucketed (no usable user id, or a bad context)."""

DEFAULT_MAX_ROUTES: Final = 4_096
"""Distinct (region, cohort, client) triples memoised per snapshot (CLOCK eviction beyond that)."""

MAX_USER_ID_LENGTH: Final = 256
"""Longer user ids are treated as missing: they are not real ids, and hashing costs time per character."""


class ServingPolicy(StrEnum):
    """The ranking policy a request is served with."""

    HYBRID = "hybrid"
    CONTENT_ONLY = "content_only"
    COLLAB_ONLY = "collab_only"
    POPULARITY = "popularity"


class DecisionReason(StrEnum):
    """Why a request got its decision. Everything but `primary` is a fallback."""

    PRIMARY = "primary"
    KILL_SWITCH = "kill_switch"
    OUT_OF_SCOPE = "out_of_scope"
    OUT_OF_EXPOSURE = "out_of_exposure"
    MISSING_USER = "missing_user"
    NO_CONFIG = "no_config"
    INVALID_CONTEXT = "invalid_context"


class RequestContext(NamedTuple):
    """What `decide` needs to know about a request. A plain tuple: constructing one is cheap."""

    user_id: str | None = None
    region: str | None = None
    cohort: str | None = None
    client: str | None = None


def lenient_text(value: object) -> str | None:
    """A request attribute as text: strings kept, integers (not booleans) as their digits, else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


class RequestContextModel(BaseModel):
    """Boundary parsing of a request context (an API event, a query string).

    Lenient by design, so bad input never fails a request: strings are kept, integers become strings,
    anything else (lists, floats, booleans, objects) becomes ``None`` and gets the documented default
    treatment in ``decide``. Unknown keys are ignored.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: str | None = None
    region: str | None = None
    cohort: str | None = None
    client: str | None = None

    @field_validator("user_id", "region", "cohort", "client", mode="before")
    @classmethod
    def _coerce(cls, value: object) -> str | None:
        return lenient_text(value)

    def to_context(self) -> RequestContext:
        return RequestContext(self.user_id, self.region, self.cohort, self.client)

    @classmethod
    def context_from(cls, data: Mapping[str, object] | None) -> RequestContext:
        """Parse a mapping into a `RequestContext`; never raises."""
        if not isinstance(data, Mapping):
            return RequestContext()
        return cls.model_validate({key: data.get(key) for key in RequestContext._fields}).to_context()


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one request. Immutable; instances are cached and shared between requests."""

    serve_full: bool
    policy: ServingPolicy
    alpha: float
    fallback_level: FallbackLevel
    cache_mode: CacheMode
    reason: DecisionReason
    config_version: int
    bucket: int
    experiment_frozen: bool

    @property
    def is_fallback(self) -> bool:
        return not self.serve_full

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for logs, metrics and the OpenFeature `decision` flag."""
        return {
            "serve_full": self.serve_full,
            "policy": self.policy.value,
            "alpha": self.alpha,
            "fallback_level": self.fallback_level.value,
            "cache_mode": self.cache_mode.value,
            "reason": self.reason.value,
            "config_version": self.config_version,
            "bucket": self.bucket,
            "experiment_frozen": self.experiment_frozen,
        }


def _negated(caution: tuple[bool, int, int]) -> tuple[int, int, int]:
    killed, lower_exposure, sources_off = caution
    return -int(killed), -lower_exposure, -sources_off


def effective_policy(toggles: ToggleSet) -> ServingPolicy:
    """The primary policy of a toggle set: mode, narrowed by the disable flags."""
    cf = not toggles.disable_cf
    content = not toggles.disable_content
    mode = toggles.policy_mode
    if mode in BLENDING_MODES:
        if cf and content:
            return ServingPolicy.HYBRID
        if content:
            return ServingPolicy.CONTENT_ONLY
        if cf:
            return ServingPolicy.COLLAB_ONLY
        return ServingPolicy.POPULARITY
    if mode is PolicyMode.CONTENT_ONLY:
        return ServingPolicy.CONTENT_ONLY if content else ServingPolicy.POPULARITY
    return ServingPolicy.COLLAB_ONLY if cf else ServingPolicy.POPULARITY


def fallback_level_for_popularity(level: FallbackLevel) -> FallbackLevel:
    """A popularity policy serves popularity candidates: C or D as configured, else global popular D."""
    return level if level.is_popularity else FallbackLevel.D


def _alpha_for(policy: ServingPolicy, toggles: ToggleSet, default_alpha: float) -> float:
    if policy is ServingPolicy.HYBRID:
        return toggles.alpha_override if toggles.alpha_override is not None else default_alpha
    if policy is ServingPolicy.COLLAB_ONLY:
        return 1.0
    return 0.0


def _scope_set(values: list[str]) -> frozenset[str] | None:
    return frozenset(values) if values else None


class CompiledSet:
    """One toggle set, precompiled: everything `decide` needs, plus its decision tables by bucket."""

    __slots__ = (
        "_fallback_fields",
        "_primary_fields",
        "bucketer",
        "clients",
        "cohorts",
        "forced_reason",
        "missing_user",
        "regions",
        "scope",
        "scoped",
        "tables",
        "threshold",
        "toggles",
        "version",
    )

    def __init__(
        self,
        toggles: ToggleSet,
        *,
        version: int,
        scope: Scope | None,
        bucketer: Bucketer,
        default_alpha: float,
        forced_reason: DecisionReason | None = None,
    ) -> None:
        self.toggles = toggles
        self.version = version
        self.scope = scope
        self.bucketer = bucketer
        self.regions = _scope_set(toggles.region_scope)
        self.cohorts = _scope_set(toggles.cohort_scope)
        self.clients = _scope_set(toggles.client_scope)
        self.threshold = exposure_threshold(toggles.exposure_percent)
        if forced_reason is None and toggles.kill_switch:
            forced_reason = DecisionReason.KILL_SWITCH
        self.forced_reason = forced_reason
        # The kill switch (or a cold start) comes before scope: a forced set never checks scope.
        self.scoped = forced_reason is None and any(
            s is not None for s in (self.regions, self.cohorts, self.clients)
        )
        policy = effective_policy(toggles)
        level = toggles.candidate_fallback_level
        self._primary_fields = (
            True,
            policy,
            _alpha_for(policy, toggles, default_alpha),
            fallback_level_for_popularity(level) if policy is ServingPolicy.POPULARITY else level,
            toggles.cache_mode,
        )
        self._fallback_fields = (
            False,
            ServingPolicy.POPULARITY,
            0.0,
            fallback_level_for_popularity(level),
            toggles.cache_mode,
        )
        self.missing_user: dict[bool, Decision] = {
            in_scope: self._fallback(self._no_user_reason(in_scope), NO_BUCKET) for in_scope in (True, False)
        }
        # One decision per (in scope?, bucket), filled on first use: at most 2 x BUCKETS entries.
        self.tables: dict[bool, list[Decision | None]] = {True: [None] * BUCKETS, False: [None] * BUCKETS}

    @property
    def salt(self) -> str:
        return self.bucketer.salt

    @property
    def seed(self) -> int:
        return self.bucketer.seed

    def table(self, in_scope: bool) -> list[Decision | None]:
        """The decisions of this set by bucket for requests in (or out of) its scope, filled on first use."""
        return self.tables[in_scope or self.forced_reason is not None]

    def _no_user_reason(self, in_scope: bool) -> DecisionReason:
        if self.forced_reason is not None:
            return self.forced_reason
        return DecisionReason.MISSING_USER if in_scope else DecisionReason.OUT_OF_SCOPE

    def _fallback(self, reason: DecisionReason, bucket: int) -> Decision:
        serve_full, policy, alpha, level, cache_mode = self._fallback_fields
        return Decision(
            serve_full,
            policy,
            alpha,
            level,
            cache_mode,
            reason,
            self.version,
            bucket,
            self.toggles.experiment_freeze,
        )

    def in_scope(self, region: object, cohort: object, client: object) -> bool:
        """Is a request inside this set's region/cohort/client scope? (Always, for a forced set.)"""
        if not self.scoped:
            return True
        regions, cohorts, clients = self.regions, self.cohorts, self.clients
        return (
            (regions is None or region in regions)
            and (cohorts is None or cohort in cohorts)
            and (clients is None or client in clients)
        )

    def decision_for(self, bucket: int, in_scope: bool) -> Decision:
        """The decision for a bucket (`NO_BUCKET`: no usable user), from the per-bucket table."""
        if bucket == NO_BUCKET:
            return self.missing_user[in_scope]
        table = self.table(in_scope)
        decision = table[bucket]
        if decision is None:
            decision = self._build(bucket, in_scope)
            table[bucket] = decision
        return decision

    def _build(self, bucket: int, in_scope: bool) -> Decision:
        if self.forced_reason is not None:
            return self._fallback(self.forced_reason, bucket)
        if not in_scope:
            return self._fallback(DecisionReason.OUT_OF_SCOPE, bucket)
        if bucket >= self.threshold:
            return self._fallback(DecisionReason.OUT_OF_EXPOSURE, bucket)
        serve_full, policy, alpha, level, cache_mode = self._primary_fields
        return Decision(
            serve_full,
            policy,
            alpha,
            level,
            cache_mode,
            DecisionReason.PRIMARY,
            self.version,
            bucket,
            self.toggles.experiment_freeze,
        )

    def bucket_of(self, user_id: object) -> int:
        """The user's bucket, or `NO_BUCKET` when the id is unusable."""
        if not isinstance(user_id, str) or not user_id or len(user_id) > MAX_USER_ID_LENGTH:
            return NO_BUCKET
        return self.bucketer(user_id)

    def __repr__(self) -> str:
        where = self.scope.key if self.scope is not None else "default"
        return f"CompiledSet({where}, v{self.version}, salt={self.salt!r})"


RouteKey = tuple[object, object, object]
Route = tuple["CompiledSet", bool]
"""Where a request's (region, cohort, client) leads: its governing set and whether it is in scope."""

RouteEntry = list[Any]
"""A memoised route as the hot path reads it: ``[seed, table, referenced, compiled set, in scope]``.

A list, not an object, because indexing a list is the cheapest read CPython has: the decider reads the
seed (``[0]``) and the set's decision table for the scope verdict (``[1]``), and sets the CLOCK reference
bit (``[2]``)."""
_SEED, _TABLE, _REFERENCED, _COMPILED, _IN_SCOPE = range(5)

_UNKNOWN_ROUTE: Final[RouteEntry] = [0, [None] * BUCKETS, False, None, False]
"""What the decider reads for a route it has not memoised: a table without decisions, so the request
takes the slow path. Never stored in a memo (its reference bit is written and never read)."""
OverrideEntry = tuple[frozenset[str] | None, frozenset[str] | None, frozenset[str] | None, CompiledSet]


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """A toggle document compiled for `decide`. Immutable once built; swap whole snapshots to update.

    One bounded memo: `routes` maps (region, cohort, client) to its `RouteEntry`; when full, CLOCK evicts
    one entry at a time (never the whole memo). Decisions live in the compiled sets' per-bucket tables.
    """

    version: int
    default: CompiledSet
    overrides: tuple[OverrideEntry, ...]
    document: ToggleDocument | None
    bucketers: Mapping[str, Bucketer]
    invalid_context: Decision
    max_routes: int = DEFAULT_MAX_ROUTES
    routes: dict[object, RouteEntry] = field(default_factory=dict, init=False, repr=False)
    """Memoised routes, keyed by `route_key`: the region alone when `by_region`, else the triple."""
    by_region: bool = field(init=False)
    """True when no set or override of the snapshot looks at the cohort or the client, so the region
    alone decides the route (the common case; the decider then skips building a key tuple)."""
    _routes_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    decider: Callable[[RequestContext], Decision] = field(init=False, repr=False)
    """`decide` bound to this snapshot as a closure: ``snapshot.decider(ctx) == decide(snapshot, ctx)``."""

    def __post_init__(self) -> None:
        if self.max_routes < 1:
            raise ValueError(f"max_routes: must be at least 1, got {self.max_routes}")
        sets = [self.default, *(compiled for *_, compiled in self.overrides)]
        by_region = all(
            cohorts is None and clients is None for _, cohorts, clients, _ in self.overrides
        ) and all(compiled.cohorts is None and compiled.clients is None for compiled in sets)
        object.__setattr__(self, "by_region", by_region)
        object.__setattr__(self, "decider", _make_decider(self))

    @property
    def is_cold_start(self) -> bool:
        return self.document is None

    def set_for(self, scope: Scope | None) -> CompiledSet:
        """The compiled set of an exact override scope, else the default set."""
        if scope is not None:
            for *_, compiled in self.overrides:
                if compiled.scope == scope:
                    return compiled
        return self.default

    def governing(self, region: object, cohort: object, client: object) -> CompiledSet:
        """The set that governs a request: a killed set it falls under (the defaults, then the most specific
        matching override with the kill switch on), else the most specific matching override, else the
        default. A narrower override never shields its traffic from a broader kill switch."""
        if self.default.forced_reason is not None:
            return self.default
        found: CompiledSet | None = None
        for regions, cohorts, clients, compiled in self.overrides:
            if (
                (regions is None or region in regions)
                and (cohorts is None or cohort in cohorts)
                and (clients is None or client in clients)
            ):
                if compiled.forced_reason is not None:
                    return compiled
                if found is None:
                    found = compiled
        return found if found is not None else self.default

    def governing_set(self, ctx: RequestContext) -> CompiledSet:
        _, region, cohort, client = ctx
        return self.governing(region, cohort, client)

    def route(self, region: object, cohort: object, client: object) -> Route:
        """The governing set of a (region, cohort, client) and its scope verdict, memoised."""
        entry = self._route_entry(region, cohort, client)
        return entry[_COMPILED], entry[_IN_SCOPE]

    def route_key(self, region: object, cohort: object, client: object) -> object:
        """The key of a request's route in `routes`."""
        return region if self.by_region else (region, cohort, client)

    def _route_entry(self, region: object, cohort: object, client: object) -> RouteEntry:
        key = self.route_key(region, cohort, client)
        entry = self.routes.get(key)
        if entry is None:
            compiled = self.governing(region, cohort, client)
            in_scope = compiled.in_scope(region, cohort, client)
            entry = [compiled.seed, compiled.table(in_scope), False, compiled, in_scope]
            # Only well-formed values are memoised, so odd (possibly huge) values cannot bloat the memo.
            if _small(region) and _small(cohort) and _small(client):
                self._remember(key, entry)
        return entry

    def _remember(self, key: object, entry: RouteEntry) -> None:
        """Insert a route, first evicting by CLOCK while the memo is full.

        The dict's insertion order is the clock; its oldest entry is under the hand. A route used since
        the hand last passed (reference bit set by the decider) loses its bit and goes to the back; the
        first route found unused is evicted. Each pass clears a bit, so this ends within two laps.
        """
        with self._routes_lock:
            routes = self.routes
            if key in routes:
                return
            while len(routes) >= self.max_routes:
                oldest = next(iter(routes))
                candidate = routes.pop(oldest)
                if candidate[_REFERENCED]:
                    candidate[_REFERENCED] = False
                    routes[oldest] = candidate
            routes[key] = entry

    def resolve(self, ctx: RequestContext) -> Decision:
        """The slow path of `decide`: apply the precedence rules to a context, filling the memos."""
        user_id, region, cohort, client = ctx
        entry = self._route_entry(region, cohort, client)
        compiled: CompiledSet = entry[_COMPILED]
        return compiled.decision_for(compiled.bucket_of(user_id), entry[_IN_SCOPE])


def _small(value: object) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= MAX_USER_ID_LENGTH)


def _bucketer(salt: str, pool: dict[str, Bucketer], previous: Snapshot | None) -> Bucketer:
    found = pool.get(salt)
    if found is None:
        found = previous.bucketers.get(salt) if previous is not None else None
        if found is None:
            found = Bucketer(salt)
        pool[salt] = found
    return found


def _salt_for(scope: Scope | None, toggles: ToggleSet, salt: str, previous: Snapshot | None) -> str:
    if toggles.experiment_freeze and previous is not None:
        return previous.set_for(scope).salt
    return salt


def compile_snapshot(
    document: ToggleDocument,
    *,
    service: str | None = None,
    environment: str | None = None,
    salt: str = DEFAULT_SALT,
    default_alpha: float = DEFAULT_ALPHA,
    previous: Snapshot | None = None,
    max_routes: int = DEFAULT_MAX_ROUTES,
) -> Snapshot:
    """Precompile a validated document for `decide`.

    `service` / `environment` drop overrides scoped to other services or environments. `salt` is the
    service's bucketing salt; `previous` (the snapshot being replaced) pins the salt of frozen sets.
    `max_routes` bounds the route memo (distinct region, cohort and client triples).
    """
    if not 0.0 <= default_alpha <= 1.0:
        raise ValueError(f"default_alpha: must be within 0..1, got {default_alpha}")
    version = document.metadata.version
    pool: dict[str, Bucketer] = {}

    def compiled(scope: Scope | None, toggles: ToggleSet) -> CompiledSet:
        bucketer = _bucketer(_salt_for(scope, toggles, salt, previous), pool, previous)
        return CompiledSet(
            toggles,
            version=version,
            scope=scope,
            bucketer=bucketer,
            default_alpha=default_alpha,
        )

    relevant = [
        override
        for override in document.overrides
        if (service is None or override.scope.service == service)
        and (environment is None or override.scope.environment == environment)
    ]
    # Most specific first, then the most cautious (overlapping rollbacks: the further one governs);
    # `sorted` is stable, so remaining ties keep document order.
    relevant.sort(key=lambda override: (-override.scope.specificity, _negated(override.toggles.caution)))
    overrides = tuple(
        (
            frozenset(o.scope.regions) or None,
            frozenset(o.scope.cohorts) or None,
            frozenset(o.scope.clients) or None,
            compiled(o.scope, o.toggles),
        )
        for o in relevant
    )
    default = compiled(None, document.toggles)
    return Snapshot(
        version=version,
        default=default,
        overrides=overrides,
        document=document,
        bucketers=pool,
        invalid_context=default._fallback(DecisionReason.INVALID_CONTEXT, NO_BUCKET),
        max_routes=max_routes,
    )


def cold_start_snapshot(
    toggles: ToggleSet,
    *,
    salt: str = DEFAULT_SALT,
    max_routes: int = DEFAULT_MAX_ROUTES,
) -> Snapshot:
    """The snapshot of a client that has never loaded a document: fallback from `toggles`, `no_config`."""
    bucketer = Bucketer(salt)
    default = CompiledSet(
        toggles,
        version=0,
        scope=None,
        bucketer=bucketer,
        default_alpha=DEFAULT_ALPHA,
        forced_reason=DecisionReason.NO_CONFIG,
    )
    return Snapshot(
        version=0,
        default=default,
        overrides=(),
        document=None,
        bucketers={salt: bucketer},
        invalid_context=default._fallback(DecisionReason.INVALID_CONTEXT, NO_BUCKET),
        max_routes=max_routes,
    )


def _make_decider(snapshot: Snapshot) -> Callable[[RequestContext], Decision]:
    """`decide` compiled for one snapshot: a closure over its route memo, with the hash inlined.

    The fast path serves a request whose user id is a plain ASCII ``str`` of 1..MAX_USER_ID_LENGTH
    characters and whose route is memoised: one dict lookup (by region alone when the snapshot allows
    it), one MurmurHash3 call (exactly ``failsafe.domain.bucketing.bucket_with_seed``; a property test
    checks they agree), one list index. Everything else (a new route, the first user of a bucket, a
    missing, non-ASCII or odd user id, an odd context) takes `Snapshot.resolve`. A client swaps this
    callable in with the snapshot, so its read path is a single call.
    """
    routes_get = snapshot.routes.get
    resolve = snapshot.resolve
    invalid = snapshot.invalid_context
    unknown = _UNKNOWN_ROUTE
    murmur3_32 = _murmur3_32
    buckets = BUCKETS
    max_length = MAX_USER_ID_LENGTH
    text = str

    # The two bodies differ only in the route key; the reference bit is route[2] (_REFERENCED), the seed
    # route[0] (_SEED) and the table route[1] (_TABLE): literal indices are the cheapest loads.
    def decide_by_region(ctx: RequestContext) -> Decision:
        try:
            user_id, region, _cohort, _client = ctx
            if user_id.__class__ is text and user_id.isascii() and 0 < len(user_id) <= max_length:
                route = routes_get(region, unknown)
                route[2] = True
                decision: Decision | None = route[1][murmur3_32(user_id, route[0], False) % buckets]
                if decision is not None:
                    return decision
            return resolve(ctx)
        except Exception:
            return invalid

    def decide_by_triple(ctx: RequestContext) -> Decision:
        try:
            user_id, region, cohort, client = ctx
            if user_id.__class__ is text and user_id.isascii() and 0 < len(user_id) <= max_length:
                route = routes_get((region, cohort, client), unknown)
                route[2] = True
                decision: Decision | None = route[1][murmur3_32(user_id, route[0], False) % buckets]
                if decision is not None:
                    return decision
            return resolve(ctx)
        except Exception:
            return invalid

    return decide_by_region if snapshot.by_region else decide_by_triple


def decide(snapshot: Snapshot, ctx: RequestContext) -> Decision:
    """The decision for one request under a compiled snapshot. Never raises.

    The same as ``snapshot.decider(ctx)``: route (region, cohort, client) to the governing set and its
    scope verdict (memoised per route), bucket the user, and take the decision from the set's per-bucket
    table.
    """
    return snapshot.decider(ctx)
