"""Fault injection for drills: added latency, an error rate, a CF outage and low coverage.

The faults live in their own `ChaosConfig`, never in the toggles profile, so a toggle deployment can never
switch chaos on and a chaos change can never disturb the toggles. Sources, in order:

1. an explicit `ChaosConfig` passed to `Recommender` (tests, in-process drills);
2. a loader callable (e.g. a separate AppConfig profile fetched through one of `failsafe.client`'s sources),
   re-read by `ChaosControl.refresh`;
3. the ``FAILSAFE_CHAOS`` environment variable holding the JSON document.

Chaos is OFF by default: no document, an empty document, an invalid document (one warning log line) or
``enabled: false`` all mean no faults.

Prod guard
----------
In a production environment (``prod`` or ``production``, case-insensitive, also as one token of a
longer name such as ``prod-eu-west-1``) a document is refused (and
chaos stays off, with one warning) unless **all** of these hold:

- ``allow_prod: true``;
- ``expires_at`` is set, in the future, and at most `MAX_PROD_WINDOW` (4 hours) ahead;
- ``reason`` is set (who runs the drill and why).

In every environment a document whose ``expires_at`` has passed is off, so a forgotten drill ends itself.

Which requests the faults hit
-----------------------------
With ``target: personalised`` (the default) faults hit only requests served by a model (policies hybrid,
content_only and collab_only): the staged rollback can then actually cure them (content_only cures a CF
outage, popularity cures everything), which is what a drill exercises. ``target: all`` hits every request
and shows what happens when rollback cannot help.

- ``latency_ms`` on ``latency_percent`` of the requests: the request sleeps that long (the sleep function is
  injectable, so tests do not really wait) and the reported LatencyMs includes it.
- ``error_percent``: the model path raises `InjectedFaultError`; the request is answered from the
  last-resort global popular list and counted as an error (ErrorRate 100).
- ``cf_outage``: every CF call raises `ComponentUnavailableError`; policies that use CF fail like above,
  content_only and popularity are unaffected.
- ``coverage_percent`` below 100: the response is cut to that share of K (at least one item), so Coverage
  and FillRate drop.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from failsafe.client.sources import ConfigSource, SourceUnavailable
from failsafe.domain.decision import ServingPolicy

CHAOS_ENV_VAR: Final = "FAILSAFE_CHAOS"
PROD_ENVIRONMENTS: Final = frozenset({"prod", "production"})
MAX_PROD_WINDOW: Final = timedelta(hours=4)
MAX_DOCUMENT_BYTES: Final = 16 * 1024


class InjectedFaultError(RuntimeError):
    """A failure injected by the chaos configuration."""


class ChaosTarget(StrEnum):
    PERSONALISED = "personalised"
    ALL = "all"


class ChaosConfig(BaseModel):
    """One chaos document. Every field defaults to "no fault"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    latency_ms: float = Field(0.0, ge=0.0, le=30_000.0, description="Latency added to affected requests.")
    latency_percent: float = Field(100.0, ge=0.0, le=100.0, description="Share of requests that get it.")
    error_percent: float = Field(0.0, ge=0.0, le=100.0, description="Share of requests that fail.")
    cf_outage: bool = Field(False, description="Every collaborative-filtering call fails.")
    coverage_percent: float = Field(
        100.0, ge=0.0, le=100.0, description="Responses are cut to this share of K (at least one item)."
    )
    target: ChaosTarget = ChaosTarget.PERSONALISED
    allow_prod: bool = Field(False, description="Must be true to run in a production environment.")
    expires_at: datetime | None = Field(None, description="After this instant the document is ignored.")
    reason: str | None = Field(None, min_length=1, max_length=512)
    seed: int | None = Field(None, description="Seed of the fault sampling (reproducible drills).")

    @property
    def has_faults(self) -> bool:
        return self.enabled and (
            self.latency_ms > 0 or self.error_percent > 0 or self.cf_outage or self.coverage_percent < 100
        )


CHAOS_OFF: Final = ChaosConfig()


class ChaosRefusedError(ValueError):
    """A chaos document that must not run here (prod guard, expiry)."""


def is_production(environment: str) -> bool:
    """True for ``prod``/``production`` and any name with such a token (``prod-eu``, ``eu_production``).

    Fails closed: an environment named after prod with a region or a suffix is still production.
    """
    tokens = re.split(r"[^a-z0-9]+", environment.strip().lower())
    return any(token in PROD_ENVIRONMENTS for token in tokens)


def check_allowed(config: ChaosConfig, environment: str, now: datetime) -> None:
    """Raise `ChaosRefusedError` naming the missing guard when `config` must not run here."""
    if not config.enabled:
        return
    expires = config.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires is not None and expires <= now:
        raise ChaosRefusedError(f"chaos expired at {expires.isoformat()}")
    if not is_production(environment):
        return
    missing = []
    if not config.allow_prod:
        missing.append("allow_prod=true")
    if expires is None:
        missing.append("expires_at")
    elif expires - now > MAX_PROD_WINDOW:
        missing.append(f"expires_at within {MAX_PROD_WINDOW} (got {expires.isoformat()})")
    if config.reason is None:
        missing.append("reason")
    if missing:
        raise ChaosRefusedError(
            f"chaos refused in environment {environment!r}: production needs {', '.join(missing)}"
        )


def parse_chaos(raw: bytes | str | Mapping[str, object] | None) -> ChaosConfig:
    """Parse a chaos document; empty means off. Raises `ValueError` with the reason when invalid."""
    if raw is None:
        return CHAOS_OFF
    if isinstance(raw, Mapping):
        data: object = dict(raw)
    else:
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > MAX_DOCUMENT_BYTES:
            raise ValueError(f"chaos document is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}")
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.strip():
            return CHAOS_OFF
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"chaos document is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"chaos document must be a JSON object, got {type(data).__name__}")
    try:
        return ChaosConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()
        )
        raise ValueError(f"chaos document rejected: {problems}") from None


ChaosLoader = Callable[[], bytes | str | Mapping[str, object] | None]


def env_loader(environ: Mapping[str, str] | None = None) -> ChaosLoader:
    """A loader reading ``FAILSAFE_CHAOS`` (from `environ`, default ``os.environ``) on each refresh."""

    def load() -> str | None:
        return (os.environ if environ is None else environ).get(CHAOS_ENV_VAR)

    return load


def source_loader(source: ConfigSource) -> ChaosLoader:
    """A loader over one of `failsafe.client`'s sources (a separate AppConfig chaos profile, a file).

    "Unchanged" answers keep the last document; an unreachable source keeps it too (an enabled drill is
    bounded by its own ``expires_at``), and a source that never answered means chaos off.
    """
    last: list[bytes | None] = [None]

    def load() -> bytes | None:
        try:
            fetched = source.fetch()
        except SourceUnavailable:
            return last[0]
        if fetched.body is not None:
            last[0] = fetched.body
        return last[0]

    return load


class ChaosControl:
    """The chaos in force for one recommender, with the prod guard applied and the fault sampling.

    `refresh()` re-reads the loader; anything invalid or refused turns chaos off with one warning line
    (through `warn`) and never raises. `active(now)` re-checks expiry on every request.
    """

    def __init__(
        self,
        *,
        environment: str,
        loader: ChaosLoader | None = None,
        config: ChaosConfig | None = None,
        warn: Callable[[str], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.environment = environment
        self._loader = loader
        self._warn = warn or (lambda message: None)
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._config = CHAOS_OFF
        self._rng = random.Random()
        self.refused: str | None = None
        if config is not None:
            self.apply(config)
        elif loader is not None:
            self.refresh()

    def apply(self, config: ChaosConfig) -> bool:
        """Put `config` in force if the guard allows it; returns whether it did (else chaos is off)."""
        try:
            check_allowed(config, self.environment, self._now())
        except ChaosRefusedError as error:
            self._set(CHAOS_OFF, str(error))
            self._warn(str(error))
            return False
        self._set(config, None)
        return True

    def refresh(self) -> ChaosConfig:
        if self._loader is None:
            return self._config
        try:
            config = parse_chaos(self._loader())
        except Exception as error:  # a broken chaos source must never disturb serving
            self._set(CHAOS_OFF, str(error))
            self._warn(f"chaos off: {error}")
            return self._config
        self.apply(config)
        return self._config

    def _set(self, config: ChaosConfig, refused: str | None) -> None:
        with self._lock:
            self._config = config
            self.refused = refused
            self._rng = random.Random(config.seed)

    @property
    def config(self) -> ChaosConfig:
        return self._config

    def active(self) -> ChaosConfig | None:
        """The config to apply to this request, or None when no fault can fire."""
        config = self._config
        if not config.has_faults:
            return None
        if config.expires_at is not None:
            expires = config.expires_at
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            if expires <= self._now():
                self._set(CHAOS_OFF, f"chaos expired at {expires.isoformat()}")
                return None
        return config

    def hits(self, config: ChaosConfig, policy: ServingPolicy) -> bool:
        return config.target == ChaosTarget.ALL or policy != ServingPolicy.POPULARITY

    def roll(self, percent: float) -> bool:
        """True with probability `percent` / 100 (exactly never at 0 and always at 100)."""
        if percent <= 0:
            return False
        if percent >= 100:
            return True
        return self._rng.random() * 100 < percent

    @staticmethod
    def cut(config: ChaosConfig, k: int) -> int:
        """How many items a response keeps under `coverage_percent` (at least one)."""
        return max(1, min(k, math.floor(k * config.coverage_percent / 100)))
