"""Reference-recommender traffic for drills, paced on the local clock.

`TrafficGenerator` runs the real `failsafe.recommender.service.Recommender` behind the real
`failsafe.client.ToggleClient`, which polls AppConfig through the local agent endpoint every
`refresh_seconds` of simulated time. Every request's EMF document goes through `failsafe_tools.local.emf` into
the local CloudWatch, where the guardrail alarms evaluate it, exactly as CloudWatch Logs extracts the EMF
lines a Lambda prints.

Requests are open-loop: `rate` per simulated second, so request volume does not depend on how fast the
machine is. On a drill's `SpeedClock` the generator is an actor: it holds the clock while it serves, wakes
every `ACTOR_STEP_SECONDS` of simulated time to serve the slots that came due, and refreshes the client
exactly every `refresh_seconds`, so it never falls behind and its client polls at the same instants
whatever the host's load. What the generator observes is kept per simulated minute (`MinuteStats`) and
every change of the client's applied config version is recorded with its instant (`VersionChange`): that
is how a drill measures client convergence.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from failsafe.client import ToggleClient
from failsafe.domain import metrics as contract
from failsafe.domain.decision import ServingPolicy
from failsafe.domain.scope import DIMENSION_ENVIRONMENT, DIMENSION_SERVICE
from failsafe.recommender.chaos import ChaosConfig, ChaosControl
from failsafe.recommender.service import Recommender
from failsafe_tools.local.clock import SpeedClock

DRILL_CHAOS_WINDOW = timedelta(hours=3)
"""A drill's faults expire on their own after this (simulated) time, inside chaos's 4-hour prod limit."""

EmfPublisher = Callable[[dict[str, Any]], None]

ACTOR_STEP_SECONDS = 1.0
"""On a SpeedClock: simulated seconds between two wake-ups (each serves the slots due since the last)."""


class ComponentChaos(ChaosControl):
    """Chaos that hits only requests served by `affected` policies (the component that is faulty)."""

    def __init__(
        self, *, environment: str, affected: frozenset[ServingPolicy], now: Callable[[], datetime]
    ) -> None:
        super().__init__(environment=environment, now=now)
        self.affected = affected

    def hits(self, config: ChaosConfig, policy: ServingPolicy) -> bool:
        return policy in self.affected


@dataclass
class MinuteStats:
    minute: int
    requests: int = 0
    errors: int = 0
    full: int = 0
    fallback: int = 0
    latency_ms_total: float = 0.0
    versions: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class VersionChange:
    at: datetime
    version: int
    previous: int


class TrafficGenerator:
    def __init__(
        self,
        *,
        client: ToggleClient,
        publish: EmfPublisher,
        clock_time: Callable[[], float],
        service: str,
        environment: str,
        users: list[dict[str, Any]],
        rate: float = 2.0,
        refresh_seconds: float = 15.0,
        max_batch: int = 400,
        prewarm_users: int = 0,
        clock: SpeedClock | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate {rate}: must be > 0 requests per simulated second")
        self.client = client
        self.clock_time = clock_time
        self.clock = clock
        self.rate = rate
        self.refresh_seconds = refresh_seconds
        self.max_batch = max_batch
        self.users = users
        self.service = service
        self.environment = environment
        self._publish = publish
        self._signals: dict[str, float] = {}
        self._healthy_signals: dict[str, float] = {}
        self._signal_policies: frozenset[ServingPolicy] = frozenset()
        self.chaos = ComponentChaos(
            environment=environment,
            affected=frozenset(),
            now=lambda: datetime.fromtimestamp(clock_time(), tz=UTC),
        )
        self.recommender = Recommender(
            client,
            service=service,
            environment=environment,
            chaos=self.chaos,
            emf_sink=self._sink,
            sleep=lambda _seconds: None,
            timestamp=self._arrival,
            prewarm_users=prewarm_users,
        )
        self.minutes: dict[int, MinuteStats] = {}
        self.version_changes: list[VersionChange] = []
        self.errors: list[str] = []
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(11)
        self._last_version = client.config_version
        self._last_refresh = clock_time()
        self._slot: float | None = None

    # -- faults --------------------------------------------------------------------------------------------
    def inject(
        self,
        chaos: ChaosConfig | None,
        affected: frozenset[ServingPolicy],
        signals: Mapping[str, float],
        healthy: Mapping[str, float],
    ) -> None:
        self.chaos.affected = affected
        if chaos is not None:
            # The prod guard of `failsafe.recommender.chaos`: a deliberate, reasoned, self-expiring drill.
            expires = datetime.fromtimestamp(self.clock_time(), tz=UTC) + DRILL_CHAOS_WINDOW
            chaos = chaos.model_copy(
                update={"allow_prod": True, "expires_at": expires, "reason": chaos.reason or "failsafe drill"}
            )
        if chaos is not None and not self.chaos.apply(chaos):
            raise RuntimeError(f"the recommender refused the drill's chaos: {self.chaos.refused}")
        with self._lock:
            self._signals = dict(signals)
            self._healthy_signals = dict(healthy)
            self._signal_policies = affected

    def repair(self) -> None:
        self.chaos.apply(ChaosConfig())
        with self._lock:
            self._signals = dict(self._healthy_signals)

    # -- the loop ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="failsafe-drill-traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.clock is not None:
            self.clock.wake()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        if self.clock is not None:
            self._run_as_actor(self.clock)
            return
        due = self.clock_time()
        while not self._stop.is_set():
            now = self.clock_time()
            if now - self._last_refresh >= self.refresh_seconds:
                self._refresh(now)
            backlog = int((now - due) * self.rate)
            if backlog <= 0:
                time.sleep(0.005)
                continue
            batch = min(backlog, self.max_batch)
            for _ in range(batch):
                self.serve_one(arrival=due)
                due += 1 / self.rate
            if backlog > self.max_batch:  # the machine cannot keep up: drop the missed slots, say so once
                skipped = backlog - self.max_batch
                due += skipped / self.rate
                self.errors.append(f"traffic fell behind by {skipped} requests at {now:.0f}")

    def _run_as_actor(self, clock: SpeedClock) -> None:
        with clock.working():
            due = clock.time()
            next_refresh = self._last_refresh + self.refresh_seconds
            while not self._stop.is_set():
                now = clock.time()
                if now >= next_refresh:
                    self._refresh(now)
                    next_refresh += self.refresh_seconds * max(
                        1, int((now - next_refresh) // self.refresh_seconds) + 1
                    )
                while due <= now:
                    self.serve_one(arrival=due)
                    due += 1 / self.rate
                wake = min(next_refresh, max(due, now + ACTOR_STEP_SECONDS))
                clock.sleep(wake - clock.time(), cancel=self._stop)

    def _refresh(self, now: float) -> None:
        self._last_refresh = now
        self.client.refresh()
        version = self.client.config_version
        if version != self._last_version:
            change = VersionChange(
                at=datetime.fromtimestamp(self.clock_time(), tz=UTC),
                version=version,
                previous=self._last_version,
            )
            with self._lock:
                self.version_changes.append(change)
            self._last_version = version

    def _arrival(self) -> float:
        """When the request being served arrived: its slot in the open-loop schedule. A request the
        generator sends late still counts in the minute it was due (no coordinated omission)."""
        slot = self._slot
        return self.clock_time() if slot is None else slot

    def serve_one(self, arrival: float | None = None) -> None:
        self._slot = arrival
        try:
            self._serve(self.users[self._rng.randrange(len(self.users))])
        finally:
            self._slot = None

    def _serve(self, request: dict[str, Any]) -> None:
        served = self.recommender.serve(request)
        outcome = served.outcome
        minute = int(self._arrival() // 60)
        with self._lock:
            stats = self.minutes.get(minute)
            if stats is None:
                stats = self.minutes[minute] = MinuteStats(minute)
            stats.requests += 1
            stats.errors += outcome.error
            stats.full += outcome.k_returned >= outcome.k
            stats.fallback += not outcome.serve_full
            stats.latency_ms_total += outcome.latency_ms
            stats.versions.add(outcome.config_version)
            self.sent += 1
            signals = (
                self._signals if served.decision.policy in self._signal_policies else self._healthy_signals
            )
        if signals:
            self._emit_signals(signals)

    def _emit_signals(self, signals: Mapping[str, float]) -> None:
        emitter = self.recommender.emitter
        if emitter is None:
            return
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(self._arrival() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": contract.NAMESPACE,
                        "Dimensions": [[DIMENSION_SERVICE, DIMENSION_ENVIRONMENT]],
                        "Metrics": [{"Name": name, "Unit": "None"} for name in signals],
                    }
                ],
            },
            DIMENSION_SERVICE: self.service,
            DIMENSION_ENVIRONMENT: self.environment,
            **signals,
        }
        self._sink(document)

    def _sink(self, document: dict[str, Any]) -> None:
        try:
            self._publish(document)
        except Exception as exc:  # metrics must never fail a request; the drill reports it
            if len(self.errors) < 20:
                self.errors.append(f"EMF publish failed: {exc}")

    # -- what it saw ---------------------------------------------------------------------------------------
    def snapshot(self) -> dict[int, MinuteStats]:
        with self._lock:
            return {
                m: MinuteStats(
                    s.minute, s.requests, s.errors, s.full, s.fallback, s.latency_ms_total, set(s.versions)
                )
                for m, s in self.minutes.items()
            }

    def changes(self) -> list[VersionChange]:
        with self._lock:
            return list(self.version_changes)
