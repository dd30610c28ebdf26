"""Simulated clocks for the embedded AWS: alarm evaluation, AppConfig progression and Step Functions waits.

`SpeedClock` runs `speed` simulated seconds per wall second (a drill at 60x turns a 15-minute verify window
into 15 s). `ManualClock` only moves when a test calls `advance`. Code that needs time asks `get_clock()`;
nothing in `failsafe_tools.local` calls `time.time()` or `time.sleep()` directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime

from failsafe.clock import Clock, get_clock, on_clock_change, set_clock

__all__ = [
    "EPOCH_START",
    "Clock",
    "ClockTicker",
    "ManualClock",
    "SpeedClock",
    "get_clock",
    "on_clock_change",
    "set_clock",
]

EPOCH_START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()

_log = logging.getLogger(__name__)


class SpeedClock:
    """`speed` simulated seconds per wall second, except while the stack works.

    Simulated time does not pass while a thread holds `working()` (the local Lambda runtime holds it for each
    invocation): what a handler computes, and its calls to the local AWS, take no simulated time however busy
    the host is, so a drill's scorecard does not depend on the machine. A working thread that sleeps on this
    clock is waiting, not working: its hold is released for the sleep. Lambda's own duration is modelled by
    the runtime (`failsafe_tools.local.lambda_runtime.MODELLED_INVOCATION_SECONDS`).
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed {speed}: must be > 0 (1 = real time, 60 = a minute per second)")
        self.speed = speed
        self._origin_sim = time.time() if start is None else start
        self._origin_wall = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()
        self._holds: dict[int, int] = {}  # thread id -> depth of working()
        self._frozen_since: float | None = None
        self._frozen_total = 0.0

    def time(self) -> float:
        with self._lock:
            return self._origin_sim + self._running_wall() * self.speed + self._offset

    def _running_wall(self) -> float:
        now = time.monotonic()
        frozen = self._frozen_total + (now - self._frozen_since if self._frozen_since is not None else 0.0)
        return now - self._origin_wall - frozen

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        depth = self._set_hold(threading.get_ident(), 0)
        try:
            target = self.time() + seconds
            while (remaining := target - self.time()) > 0:
                time.sleep(min(remaining / self.speed, 0.01))
        finally:
            self._set_hold(threading.get_ident(), depth)

    def advance(self, seconds: float) -> None:
        """Jump forward without waiting (a drill skipping a quiet stretch)."""
        with self._lock:
            self._offset += seconds

    @contextmanager
    def working(self) -> Iterator[None]:
        """Simulated time stands still while the calling thread runs this block (outside its sleeps)."""
        ident = threading.get_ident()
        self._set_hold(ident, self._holds.get(ident, 0) + 1)
        try:
            yield
        finally:
            self._set_hold(ident, max(0, self._holds.get(ident, 1) - 1))

    @property
    def frozen(self) -> bool:
        with self._lock:
            return self._frozen_since is not None

    def _set_hold(self, ident: int, depth: int) -> int:
        """Set the calling thread's hold depth; return the previous one."""
        with self._lock:
            previous = self._holds.pop(ident, 0)
            if depth:
                self._holds[ident] = depth
            now = time.monotonic()
            if self._holds and self._frozen_since is None:
                self._frozen_since = now
            elif not self._holds and self._frozen_since is not None:
                self._frozen_total += now - self._frozen_since
                self._frozen_since = None
            return previous


class ManualClock:
    """Time stands still until `advance`; `sleep` advances it (so single-threaded code never blocks)."""

    def __init__(self, start: float = EPOCH_START) -> None:
        self._now = start
        self._lock = threading.Condition()

    def time(self) -> float:
        with self._lock:
            return self._now

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"advance({seconds}): time only moves forward")
        with self._lock:
            self._now += seconds
            self._lock.notify_all()


class ClockTicker:
    """Calls `step()` every `interval` simulated seconds of the local clock, on a daemon thread.

    It only watches the clock (never `clock.sleep`, which would move a ManualClock), so it works with a
    SpeedClock (a drill at 60x steps a 60 s interval every wall second) and with a ManualClock that a test
    advances. A SpeedClock stands still while a step computes (`working`): an evaluation that a busy host
    makes slow takes no simulated time. Errors are kept in `errors` and do not stop the ticker.
    """

    def __init__(self, step: Callable[[], object], interval: float, *, name: str, poll: float = 0.02) -> None:
        if interval <= 0:
            raise ValueError(f"{name} interval {interval}: must be > 0 simulated seconds")
        self._step = step
        self.interval = interval
        self.poll = poll
        self.name = name
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        due = get_clock().time()
        while not self._stop.is_set():
            now = get_clock().time()
            if now >= due:
                # The next due time counts from the instant read *before* stepping: a clock moved during the
                # step (a test advancing a ManualClock) must still be stepped at the next poll.
                due = now + self.interval
                working = getattr(get_clock(), "working", None)
                try:
                    with working() if working is not None else nullcontext():
                        self._step()
                except Exception as exc:
                    self.errors.append(exc)
                    _log.exception("%s: step failed", self.name)
            self._stop.wait(self.poll)
