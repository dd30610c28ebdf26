"""`ToggleClient`: keeps the current toggles snapshot fresh in the background and decides requests.

Why not Powertools' AppConfig provider or FeatureFlags
-----------------------------------------------------
`aws_lambda_powertools.utilities.parameters.get_app_config` and `FeatureFlags` fetch on the request path
(behind a TTL cache): once the cache has expired, an unreachable AppConfig makes `get_app_config` raise
and `FeatureFlags.evaluate` answer with the caller's hard-coded default, and every evaluation walks the
feature's rules and conditions (microseconds per flag, tens for a full decision; see
benchmarks/RESULTS.md). A recommender needs the opposite trade-offs: the request path must never do
I/O or raise, a bad or missing document must leave the last known good in place rather than a
hard-coded default, and a decision must cost a few hundred nanoseconds. So the client polls off the
request path, validates with the domain model, precompiles the snapshot once per version, and swaps it
in with a single reference assignment.

Refresh interval: 15 seconds by default
---------------------------------------
15 s is the shortest poll AppConfig's data plane accepts (`RequiredMinimumPollIntervalInSeconds` has a
floor of 15), so it is the fastest a kill switch can reach a client through `appconfigdata` without being
throttled, and the issue's promise is "within one poll interval". Against the agent or Lambda extension a
15 s read is a localhost request, practically free; the agent's own upstream poll
(`AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS`, 45 s unless set) then bounds freshness, so set it to
15 s as well where kill-switch latency matters. The interval is a constructor argument; a longer
NextPollIntervalInSeconds from the service always wins.

States
------
- **Cold start** (nothing ever loaded, no usable backup): the snapshot is
  ``cold_start_snapshot(COLD_START_BASELINE)``: every request gets the popularity fallback of the
  emergency baseline, reason ``no_config``, config version 0. ``ready`` is False and ``stale`` is True.
- **Backup**: with ``backup_path`` set, every applied document is written there atomically, and a new
  client loads it first (same validation). It is real configuration, so ``ready`` is True; it stays
  ``stale`` until a poll succeeds.
- **Fresh**: the last successful poll is younger than ``stale_after`` (3 intervals by default, or 3
  of the source's NextPollIntervalInSeconds when that is longer), and the document the source serves is
  the one applied. While the source serves a document the client rejects, the client is ``stale`` (it
  is not running what AppConfig says is deployed) and ``serving_rejected`` is True, until the source
  serves an acceptable document again.

Invalid documents (too large, wrong content type, not JSON, not an object, failing `ToggleDocument`
validation, or for another environment) are rejected with one WARNING line and one ``ConfigRejected``
metric per distinct document (``rejected_documents`` counts them, for the recommender's EMF); the last
known good stays. An unreachable source counts
``ConfigFetchFailed`` and also keeps the last known good.

Threading: one background thread writes (refreshes are serialised by a lock). Readers take no lock: a
snapshot is immutable (its memos only ever hold exact answers), and `client.decide` is a closure bound to
one snapshot, replaced by a single attribute assignment, which is atomic. A reader therefore decides on
the old or the new snapshot, never a mix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from failsafe.client.sources import ConfigSource, Fetched, SourceUnavailable
from failsafe.domain.acceptance import MAX_DOCUMENT_BYTES, DocumentRejected, accept_document
from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.bucketing import DEFAULT_SALT
from failsafe.domain.decision import (
    DEFAULT_ALPHA,
    Decision,
    RequestContext,
    Snapshot,
    cold_start_snapshot,
    compile_snapshot,
)
from failsafe.domain.toggles import ToggleDocument, ToggleSet

log = logging.getLogger("failsafe.client")

DEFAULT_REFRESH_INTERVAL_SECONDS: Final = 15.0
DEFAULT_MAX_DOCUMENT_BYTES: Final = MAX_DOCUMENT_BYTES
"""1 MiB, the cap of the shared acceptance rule (`failsafe.domain.acceptance`) that the validator applies."""

COLD_START_BASELINE: Final[ToggleSet] = BASELINES[BaselineName.EMERGENCY]
"""What a client serves before it has any configuration: the emergency baseline, i.e. kill switch on and
a global-popularity (D) fallback for every request, which needs neither the CF nor the content model."""

# Metric names the client reports through `metric_sink`.
METRIC_CONFIG_APPLIED: Final = "ConfigApplied"
METRIC_CONFIG_REJECTED: Final = "ConfigRejected"
METRIC_CONFIG_FETCH_FAILED: Final = "ConfigFetchFailed"

MetricSink = Callable[[str, float], None]


class RefreshOutcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class ClientStats:
    polls: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    fetch_failed: int = 0


@dataclass(frozen=True, slots=True)
class _Applied:
    """What the client currently serves, swapped as one object."""

    snapshot: Snapshot
    origin: str
    raw: bytes | None
    loaded_at: float  # wall-clock seconds when this version was fetched


def parse_document(
    body: bytes,
    *,
    content_type: str | None = None,
    max_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    environment: str | None = None,
) -> ToggleDocument:
    """Validate raw bytes into a `ToggleDocument`, or raise `DocumentRejected` with a one-line reason.

    The rule is `failsafe.domain.acceptance.accept_document`, the one the AppConfig validator uses too.
    """
    return accept_document(body, environment=environment, content_type=content_type, max_bytes=max_bytes)


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old or the new file, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class ToggleClient:
    """Polls a `ConfigSource`, keeps the last known good snapshot, and decides requests lock-free."""

    def __init__(
        self,
        source: ConfigSource,
        *,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL_SECONDS,
        stale_after: float | None = None,
        service: str | None = None,
        environment: str | None = None,
        salt: str = DEFAULT_SALT,
        default_alpha: float = DEFAULT_ALPHA,
        backup_path: str | os.PathLike[str] | None = None,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        baseline: ToggleSet = COLD_START_BASELINE,
        metric_sink: MetricSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if refresh_interval <= 0:
            raise ValueError(f"refresh_interval: must be positive, got {refresh_interval}")
        if not 0.0 <= default_alpha <= 1.0:
            raise ValueError(f"default_alpha: must be within 0..1, got {default_alpha}")
        self.source = source
        self.refresh_interval = refresh_interval
        self.stale_after = stale_after if stale_after is not None else 3 * refresh_interval
        self.service = service
        self.environment = environment
        self.salt = salt
        self.default_alpha = default_alpha
        self.backup_path = Path(backup_path) if backup_path is not None else None
        self.max_document_bytes = max_document_bytes
        self._metric_sink = metric_sink
        self._clock = clock
        self._wall_clock = wall_clock
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._ready_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_poll_hint: float | None = None
        self._last_success: float | None = None
        self._last_rejected: bytes | None = None
        self._serving_rejected = False
        self._failing = False
        self.last_error: str | None = None
        self.stats = ClientStats()
        cold = cold_start_snapshot(baseline, salt=salt)
        self._applied = _Applied(snapshot=cold, origin="baseline", raw=None, loaded_at=wall_clock())
        self.decide = cold.decider
        if self.backup_path is not None:
            self._load_backup(self.backup_path)

    # -- the read path: no locks -------------------------------------------------------------------

    decide: Callable[[RequestContext], Decision]
    """``client.decide(ctx) -> Decision``: the decision for one request on the current snapshot.

    Never raises, never blocks. It is the current snapshot's `Snapshot.decider` (the domain's `decide`
    bound to that snapshot), swapped together with the snapshot, so a call always decides on one whole
    snapshot and costs a single function call.
    """

    @property
    def snapshot(self) -> Snapshot:
        return self._applied.snapshot

    @property
    def document(self) -> ToggleDocument | None:
        return self._applied.snapshot.document

    @property
    def config_version(self) -> int:
        """The applied document's `metadata.version`; 0 while serving the cold-start baseline."""
        return self._applied.snapshot.version

    @property
    def config_age_seconds(self) -> float:
        """Seconds since the applied version was fetched.

        For a backup: since the backup was written; for the cold-start baseline: since the client
        started.
        """
        return max(0.0, self._wall_clock() - self._applied.loaded_at)

    @property
    def origin(self) -> str:
        """Where the applied snapshot came from: ``baseline``, ``backup:<path>`` or the source's name."""
        return self._applied.origin

    @property
    def ready(self) -> bool:
        """True once real configuration (fetched or from the backup) is applied."""
        return self._applied.snapshot.document is not None

    @property
    def seconds_since_success(self) -> float | None:
        last = self._last_success
        return None if last is None else max(0.0, self._clock() - last)

    @property
    def serving_rejected(self) -> bool:
        """The source's current document was rejected: the client runs an older one than deployed."""
        return self._serving_rejected

    @property
    def rejected_documents(self) -> int:
        """How many distinct documents (fetched or backup) this client has rejected so far."""
        return self.stats.rejected

    @property
    def stale(self) -> bool:
        """Not ready, no successful poll within `stale_after` seconds, or the source serves a document
        this client rejected (so what it applies is not what AppConfig deployed).

        When the source asks for a longer poll interval (NextPollIntervalInSeconds), the limit grows to
        three of those intervals, so honouring the service's pace never reads as staleness.
        """
        since = self.seconds_since_success
        limit = max(self.stale_after, 3 * (self._next_poll_hint or 0.0))
        return not self.ready or self._serving_rejected or since is None or since > limit

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        return self._ready_event.wait(timeout)

    # -- the write path ---------------------------------------------------------------------------

    def refresh(self) -> RefreshOutcome:
        """Poll the source once and apply what it returns if it is valid. Never raises."""
        with self._write_lock:
            self._count(polls=1)
            try:
                fetched = self.source.fetch()
            except Exception as exc:
                return self._unavailable(exc)
            self._last_success = self._clock()
            self._next_poll_hint = fetched.next_poll_seconds
            if self._failing:
                log.info("failsafe.client: %s reachable again", self.source.name)
                self._failing = False
            try:
                return self._consider(fetched)
            except Exception as exc:  # a bug must not stop refreshes or disturb serving
                self._last_rejected = fetched.body
                self._serving_rejected = True
                self.last_error = f"internal error applying config: {exc!r}"
                self._count(rejected=1)
                self._emit(METRIC_CONFIG_REJECTED)
                log.exception("failsafe.client: could not apply config from %s", self.source.name)
                return RefreshOutcome.REJECTED

    def _consider(self, fetched: Fetched) -> RefreshOutcome:
        body = fetched.body
        if body is None:  # nothing new: still the document of the last poll, applied or rejected
            self._count(unchanged=1)
            return RefreshOutcome.UNCHANGED
        if body == self._applied.raw:
            self._serving_rejected = False  # the source is back on the document we serve
            self._count(unchanged=1)
            return RefreshOutcome.UNCHANGED
        if body == self._last_rejected:
            self._serving_rejected = True
            return RefreshOutcome.REJECTED  # already logged and counted once
        try:
            document = parse_document(
                body,
                content_type=fetched.content_type,
                max_bytes=self.max_document_bytes,
                environment=self.environment,
            )
        except DocumentRejected as exc:
            self._last_rejected = body
            self._serving_rejected = True
            self.last_error = str(exc)
            self._count(rejected=1)
            log.warning(
                "failsafe.client: rejected config from %s (label %s): %s; keeping version %d (%s)",
                self.source.name,
                fetched.version_label or "-",
                exc,
                self.config_version,
                self.origin,
            )
            self._emit(METRIC_CONFIG_REJECTED)
            return RefreshOutcome.REJECTED
        self._apply(document, body, origin=self.source.name, loaded_at=self._wall_clock())
        self._count(applied=1)
        self._emit(METRIC_CONFIG_APPLIED)
        if self.backup_path is not None:
            try:
                write_atomically(self.backup_path, body)
            except OSError as exc:
                log.warning("failsafe.client: could not write backup %s: %s", self.backup_path, exc)
        return RefreshOutcome.APPLIED

    def _unavailable(self, exc: BaseException) -> RefreshOutcome:
        self.last_error = str(exc)
        self._count(fetch_failed=1)
        self._emit(METRIC_CONFIG_FETCH_FAILED)
        if not self._failing:
            self._failing = True
            level = logging.WARNING if isinstance(exc, SourceUnavailable) else logging.ERROR
            log.log(
                level,
                "failsafe.client: cannot fetch config (%s); keeping version %d (%s)",
                exc,
                self.config_version,
                self.origin,
                exc_info=not isinstance(exc, SourceUnavailable),
            )
        return RefreshOutcome.UNAVAILABLE

    def _apply(self, document: ToggleDocument, raw: bytes, *, origin: str, loaded_at: float) -> None:
        current = self._applied.snapshot
        previous = current if current.document is not None else None
        snapshot = compile_snapshot(
            document,
            service=self.service,
            environment=self.environment,
            salt=self.salt,
            default_alpha=self.default_alpha,
            previous=previous,
        )
        # The swap readers see: two reference assignments. `_applied` (snapshot and its metadata, one
        # immutable object) first, then the decider bound to the same snapshot.
        self._applied = _Applied(snapshot=snapshot, origin=origin, raw=raw, loaded_at=loaded_at)
        self.decide = snapshot.decider
        self._last_rejected = None
        self._serving_rejected = False
        self._ready_event.set()
        log.info("failsafe.client: applied config version %d from %s", snapshot.version, origin)

    def _load_backup(self, path: Path) -> None:
        try:
            body = path.read_bytes()
            loaded_at = path.stat().st_mtime
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("failsafe.client: cannot read backup %s: %s", path, exc)
            return
        try:
            document = parse_document(body, max_bytes=self.max_document_bytes, environment=self.environment)
        except DocumentRejected as exc:
            self._reject_backup(path, str(exc))
            return
        except Exception as exc:  # a bad backup file must never stop the client from starting
            log.exception("failsafe.client: unexpected error parsing backup %s", path)
            self._reject_backup(path, f"unexpected {type(exc).__name__}")
            return
        self._apply(document, body, origin=f"backup:{path}", loaded_at=loaded_at)

    def _reject_backup(self, path: Path, why: str) -> None:
        log.warning("failsafe.client: ignoring backup %s: %s", path, why)
        self._count(rejected=1)
        self._emit(METRIC_CONFIG_REJECTED)

    def _count(self, **increments: int) -> None:
        current = self.stats
        self.stats = ClientStats(
            polls=current.polls + increments.get("polls", 0),
            applied=current.applied + increments.get("applied", 0),
            unchanged=current.unchanged + increments.get("unchanged", 0),
            rejected=current.rejected + increments.get("rejected", 0),
            fetch_failed=current.fetch_failed + increments.get("fetch_failed", 0),
        )

    def _emit(self, metric: str) -> None:
        if self._metric_sink is None:
            return
        try:
            self._metric_sink(metric, 1.0)
        except Exception:
            log.exception("failsafe.client: metric sink failed for %s", metric)

    # -- the background thread --------------------------------------------------------------------

    def start(self) -> Self:
        """Start refreshing in a daemon thread (first poll immediately). Idempotent."""
        if self._thread is not None and self._thread.is_alive():
            return self
        # A fresh Event per thread: a loop that outlived stop()'s join (stuck in fetch) keeps its own,
        # already set, Event and exits when fetch returns instead of running beside the new loop.
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name="failsafe-toggle-refresh", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.refresh()
            except Exception:  # refresh never raises; this guards the thread against a bug anyway
                log.exception("failsafe.client: refresh failed unexpectedly")
            hint = self._next_poll_hint or 0.0
            stop.wait(max(self.refresh_interval, hint))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"ToggleClient(source={self.source.name!r}, version={self.config_version}, "
            f"ready={self.ready}, stale={self.stale})"
        )
