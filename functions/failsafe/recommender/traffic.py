"""Open-loop synthetic traffic against the reference `Recommender`: one module, two clocks.

Both drivers send request ``i`` when it is due (``start + i / rate``), whatever happened to earlier ones, so a
slow or failing service shows up as failed requests, never as less traffic offered (no coordinated
omission), and both count a request in the window it was due.

- `drive` runs on a wall-clock timer with worker threads and keeps one `Record` per request: benchmarks,
  integration tests and the command line below.
- `TrafficGenerator` runs on a simulated clock (the local stack's), behind the real `ToggleClient`, and keeps
  per-minute `MinuteStats` and every change of the client's applied config version (`VersionChange`): the
  drills, which measure client convergence from it. Each request's EMF document goes to a publisher (the
  local CloudWatch in a drill), as CloudWatch Logs extracts the EMF lines a Lambda prints.

In-process::

    result = drive(recommender, synthetic_requests(catalog), rate=200, seconds=10, actions={5.0: swap})
    result.per_window()        # [(served, failed), ...] per window, by when each request was due

Open loop: request ``i`` is due at ``start + i / rate`` and is sent by one of ``threads`` workers, so a slow
or failing service shows up as failures, never as less traffic offered. A request is *served* when it
returned a response that validates against `RecommendationResponse`, holds K items and came back within
``budget_ms``; anything else (an exception, an invalid or short response, too slow) is *failed*.

As a separate process (EMF lines on stdout, one summary JSON line on stderr at the end)::

    python -m failsafe.recommender.traffic --toggles-file toggles.json --rate 50 --seconds 30
    python -m failsafe.recommender.traffic --agent-url http://127.0.0.1:2772 \\
        --application failsafe --app-environment prod --profile toggles --environment prod --rate 50

The toggle client polls in the background every ``--refresh-seconds`` (default 1 s for drills). Chaos comes
from ``FAILSAFE_CHAOS`` or ``--chaos-file`` and obeys the same prod guard as the Lambda. The exit status is 1
when any request failed (not served in full within the budget), else 0.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from failsafe.client import ToggleClient
from failsafe.domain import metrics as contract
from failsafe.domain.decision import ServingPolicy
from failsafe.domain.scope import DIMENSION_ENVIRONMENT, DIMENSION_SERVICE
from failsafe.recommender.chaos import ChaosConfig, ChaosControl
from failsafe.recommender.dataset import Catalog, get_catalog
from failsafe.recommender.events import EventSink
from failsafe.recommender.models import RecommendationResponse
from failsafe.recommender.service import Recommender


@dataclass(frozen=True, slots=True)
class Record:
    """One request of a run (times from the run's `timer`)."""

    index: int
    window: int
    due: float
    started: float
    finished: float
    ok: bool
    error: str | None
    config_version: int | None
    policy: str | None
    reason: str | None
    k: int
    k_returned: int


@dataclass
class TrafficResult:
    rate: float
    window: float
    total: int
    start: float
    records: list[Record] = field(default_factory=list)
    actions_done: dict[float, float] = field(default_factory=dict)
    """For each action offset: the timer value when the action returned."""

    @property
    def n_windows(self) -> int:
        return max(1, round(self.total / self.rate / self.window))

    def per_window(self, by: str = "due") -> list[tuple[int, int]]:
        """(served, failed) per window, by when each request was due (``due``) or finished (``finished``)."""
        counts = [[0, 0] for _ in range(self.n_windows)]
        for record in self.records:
            at = record.window if by == "due" else int((record.finished - self.start) / self.window)
            if 0 <= at < self.n_windows:
                counts[at][0 if record.ok else 1] += 1
        return [(served, failed) for served, failed in counts]

    def summary(self) -> dict[str, Any]:
        served = sum(r.ok for r in self.records)
        return {
            "offered": self.total,
            "answered": len(self.records),
            "served": served,
            "failed": len(self.records) - served,
            "per_window": self.per_window(),
            "config_versions": sorted(
                {r.config_version for r in self.records if r.config_version is not None}
            ),
        }


def synthetic_requests(catalog: Catalog | None = None, n: int = 500, seed: int = 1) -> list[dict[str, Any]]:
    """A request mix: 80 % known users in their home context, 15 % cold-start ids, 5 % anonymous."""
    catalog = catalog or get_catalog()
    rng = random.Random(seed)
    requests: list[dict[str, Any]] = []
    for n_request in range(n):
        roll = rng.random()
        if roll < 0.80:
            user = catalog.users[rng.randrange(len(catalog.users))]
            requests.append(
                {"user_id": user.user_id, "region": user.region, "cohort": user.cohort, "client": user.client}
            )
        elif roll < 0.95:
            requests.append(
                {"user_id": f"visitor-{seed}-{n_request}", "region": rng.choice(("eu-west-1", "us-east-1"))}
            )
        else:
            requests.append({"region": "us-east-1"})
    return requests


def drive(
    recommender: Recommender,
    requests: Sequence[Mapping[str, Any]],
    *,
    rate: float,
    seconds: float,
    window: float = 1.0,
    threads: int = 4,
    budget_ms: float = 1000.0,
    actions: Mapping[float, Callable[[], None]] | None = None,
    timer: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> TrafficResult:
    """Send ``rate * seconds`` requests open-loop; run each action at its offset (seconds) from the start."""
    if rate <= 0 or seconds <= 0 or window <= 0 or threads < 1 or not requests:
        raise ValueError("drive: rate, seconds and window must be positive, threads >= 1, requests non-empty")
    result = TrafficResult(rate=rate, window=window, total=int(rate * seconds), start=timer() + 0.05)
    lock = threading.Lock()

    def worker(offset: int) -> None:
        for index in range(offset, result.total, threads):
            due = result.start + index / rate
            delay = due - timer()
            if delay > 0:
                sleep(delay)
            request = requests[index % len(requests)]
            record = _send(
                recommender, request, index=index, due=due, result=result, budget_ms=budget_ms, timer=timer
            )
            with lock:
                result.records.append(record)

    workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in workers:
        thread.start()
    for offset, action in sorted((actions or {}).items()):
        delay = result.start + offset - timer()
        if delay > 0:
            sleep(delay)
        action()
        result.actions_done[offset] = timer()
    for thread in workers:
        thread.join()
    result.records.sort(key=lambda r: r.index)
    return result


def _send(
    recommender: Recommender,
    request: Mapping[str, Any],
    *,
    index: int,
    due: float,
    result: TrafficResult,
    budget_ms: float,
    timer: Callable[[], float],
) -> Record:
    started = timer()
    error: str | None = None
    response: RecommendationResponse | None = None
    try:
        response = RecommendationResponse.model_validate(recommender.recommend(request).model_dump())
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    finished = timer()
    ok = (
        response is not None
        and response.k_returned == response.k
        and (finished - started) * 1000 <= budget_ms
    )
    return Record(
        index=index,
        window=int((due - result.start) / result.window),
        due=due,
        started=started,
        finished=finished,
        ok=ok,
        error=error,
        config_version=response.config_version if response else None,
        policy=response.policy if response else None,
        reason=response.reason if response else None,
        k=response.k if response else 0,
        k_returned=response.k_returned if response else 0,
    )


def catalog_users(catalog: Catalog | None = None, n: int = 400) -> list[dict[str, Any]]:
    """Requests of the catalog's first `n` known users, each in their home context (a drill's mix)."""
    catalog = catalog or get_catalog()
    return [
        {"user_id": u.user_id, "region": u.region, "cohort": u.cohort, "client": u.client}
        for u in catalog.users[:n]
    ]


DRILL_CHAOS_WINDOW = timedelta(hours=3)
"""A drill's faults expire on their own after this (simulated) time, inside chaos's 4-hour prod limit."""

EmfPublisher = Callable[[dict[str, Any]], None]


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
        hold: Callable[[], AbstractContextManager[object]] = nullcontext,
        event_sink: EventSink | None = None,
    ) -> None:
        """`hold`: entered while the generator serves a batch; a drill passes its clock's `working`, so
        simulated time does not pass while this machine computes the requests (none is dropped for a slow
        host, and the alarms see the same datapoints however loaded it is). `event_sink` receives each
        request's evidence events (flushed by `stop`)."""
        if rate <= 0:
            raise ValueError(f"rate {rate}: must be > 0 requests per simulated second")
        self.client = client
        self.clock_time = clock_time
        self.hold = hold
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
            event_sink=event_sink,
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
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self.recommender.event_sink is not None:
            try:
                self.recommender.event_sink.flush()
            except Exception as exc:  # the drill reports it; the events so far are lost, not the drill
                self.errors.append(f"event sink flush failed: {exc}")

    def _run(self) -> None:
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
            with self.hold():
                for _ in range(batch):
                    self.serve_one(arrival=due)
                    due += 1 / self.rate
            if backlog > self.max_batch:  # the machine cannot keep up: drop the missed slots, say so once
                skipped = backlog - self.max_batch
                due += skipped / self.rate
                self.errors.append(f"traffic fell behind by {skipped} requests at {now:.0f}")

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


def main(argv: Sequence[str] | None = None) -> int:
    from failsafe.client.sources import AgentHttpSource, ConfigSource, FileSource
    from failsafe.client.toggle_client import ToggleClient
    from failsafe.recommender.chaos import ChaosControl, env_loader, source_loader

    parser = argparse.ArgumentParser(
        prog="python -m failsafe.recommender.traffic", description=__doc__.split("\n")[0]
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--toggles-file", help="toggles JSON file (FileSource)")
    where.add_argument("--agent-url", help="AppConfig agent base URL (AgentHttpSource)")
    parser.add_argument("--application", default="failsafe")
    parser.add_argument("--app-environment", help="AppConfig environment (default: --environment)")
    parser.add_argument("--profile", default="toggles")
    parser.add_argument("--service", default="recommender")
    parser.add_argument("--environment", default="dev")
    parser.add_argument("--chaos-file", help="chaos JSON file (default: the FAILSAFE_CHAOS variable)")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--refresh-seconds", type=float, default=1.0)
    parser.add_argument("--prewarm-users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    source: ConfigSource
    if args.toggles_file:
        source = FileSource(args.toggles_file)
    else:
        source = AgentHttpSource(
            args.application, args.app_environment or args.environment, args.profile, base_url=args.agent_url
        )
    client = ToggleClient(
        source, refresh_interval=args.refresh_seconds, service=args.service, environment=args.environment
    )
    chaos = ChaosControl(
        environment=args.environment,
        loader=source_loader(FileSource(args.chaos_file)) if args.chaos_file else env_loader(),
        warn=lambda message: print(message, file=sys.stderr),
    )
    with client:
        client.wait_until_ready(timeout=5.0)
        recommender = Recommender(
            client,
            service=args.service,
            environment=args.environment,
            chaos=chaos,
            prewarm_users=args.prewarm_users,
        )
        result = drive(
            recommender,
            synthetic_requests(n=max(100, int(args.rate * 10)), seed=args.seed),
            rate=args.rate,
            seconds=args.seconds,
            window=args.window,
            threads=args.threads,
            actions=dict.fromkeys(_every(args.refresh_seconds, args.seconds), lambda: _refresh(chaos)),
        )
    print(json.dumps(result.summary()), file=sys.stderr)
    return 0 if result.summary()["failed"] == 0 else 1


def _refresh(chaos: Any) -> None:
    chaos.refresh()


def _every(interval: float, seconds: float) -> list[float]:
    steps = int(seconds / interval) if interval > 0 else 0
    return [interval * (n + 1) for n in range(steps)]


if __name__ == "__main__":
    raise SystemExit(main())
