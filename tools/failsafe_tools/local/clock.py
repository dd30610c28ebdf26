"""Simulated clocks for the embedded AWS: alarm evaluation, AppConfig progression and Step Functions waits.

`SpeedClock` runs `speed` simulated seconds per wall second (a drill at 60x turns a 15-minute verify window
into 15 s). `ManualClock` only moves when a test calls `advance`. Code that needs time asks `get_clock()`;
nothing in `failsafe_tools.local` calls `time.time()` or `time.sleep()` directly.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from failsafe.clock import Clock, get_clock, on_clock_change, set_clock

__all__ = [
    "EPOCH_START",
    "Clock",
    "ClockTicker",
    "Hold",
    "ManualClock",
    "SpeedClock",
    "get_clock",
    "on_clock_change",
    "set_clock",
]

EPOCH_START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()

_log = logging.getLogger(__name__)


class Hold:
    """One anonymous hold on a `SpeedClock` (a hand-off to a thread that is about to start work)."""

    def __init__(self, clock: SpeedClock) -> None:
        self._clock = clock
        self._held = True

    def release(self) -> None:
        """Give the hold back (idempotent)."""
        if self._held:
            self._held = False
            self._clock._release_token()


@dataclass(order=True)
class _Sleeper:
    target: float
    seq: int
    ident: int = field(compare=False)
    depth: int = field(compare=False)
    woken: bool = field(default=False, compare=False)


class SpeedClock:
    """Virtual time for drills: at most `speed` simulated seconds a wall second, and only while nobody works.

    The drill's scorecard must not depend on the host, so time follows a discrete-event rule:

    - **Simulated time stands still while any actor works.** A thread holds the clock with `working()` (the
      local Lambda runtime for each invocation, the alarm/AppConfig ticker for each step, the drill's traffic
      and its operator loop, each Step Functions execution between its waits); `hold()` is an anonymous hold
      a thread hands to one it starts, so nothing slips through the gap before the new thread holds.
    - **A sleeping actor wakes exactly on time.** `sleep(s)` gives up the caller's hold and registers a
      wake-up; the clock never passes a wake-up before that sleeper has woken with its hold back (the hold is
      restored by the clock itself, at the wake-up instant). So an alarm evaluation, a client poll or a
      drill step happens at the same simulated instant however late the host schedules the thread.
    - **Between events, time runs at `speed`** (a drill at 600x waits 0.1 s of wall time for a one-minute
      gap); the speed only changes how long the drill takes, never what it measures.
    - Inside `working(jump_sleeps=True)` (a Lambda invocation) a sleep is modelled instead: it moves the
      clock forward at once (`advance`), as a retry backoff inside Lambda takes simulated time without
      anything else running in between. The invocation's own duration is modelled the same way by the
      runtime (`failsafe_tools.local.lambda_runtime.MODELLED_INVOCATION_SECONDS`).
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if not speed > 0 or speed == float("inf"):
            raise ValueError(
                f"clock speed {speed}: must be > 0 and finite (1 = real time, 60 = a minute a second)"
            )
        self.speed = speed
        self._now = time.time() if start is None else start
        self._anchor = time.monotonic()
        self._cond = threading.Condition(threading.Lock())
        self._holds: dict[int, int] = {}  # thread id -> depth of working()
        self._jumping: dict[int, int] = {}  # thread id -> depth of working(jump_sleeps=True)
        self._tokens = 0  # anonymous holds (hand-offs)
        self._sleepers: list[_Sleeper] = []
        self._seq = 0

    # -- reading --------------------------------------------------------------------------------------------
    def time(self) -> float:
        with self._cond:
            self._sync()
            return self._now

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    @property
    def frozen(self) -> bool:
        with self._cond:
            return self._busy()

    # -- moving ---------------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Jump forward without waiting (a modelled duration). Sleepers passed by the jump wake at once."""
        if seconds < 0:
            raise ValueError(f"advance({seconds}): time only moves forward")
        with self._cond:
            self._sync()
            self._now += seconds
            self._wake_due()

    def sleep(self, seconds: float, *, cancel: threading.Event | None = None) -> None:
        """Wait `seconds` of simulated time (not working meanwhile); return early once `cancel` is set."""
        if seconds <= 0:
            return
        ident = threading.get_ident()
        with self._cond:
            if self._jumping.get(ident):
                self._sync()
                self._now += seconds
                self._wake_due()
                return
            self._sync()
            self._seq += 1
            sleeper = _Sleeper(self._now + seconds, self._seq, ident, self._holds.pop(ident, 0))
            heapq.heappush(self._sleepers, sleeper)
            self._cond.notify_all()
            while not sleeper.woken:
                if cancel is not None and cancel.is_set():
                    self._sleepers.remove(sleeper)
                    heapq.heapify(self._sleepers)
                    if sleeper.depth:
                        self._holds[ident] = sleeper.depth
                    return
                self._cond.wait(self._wall_wait())
                self._sync()

    @contextmanager
    def working(self, *, jump_sleeps: bool = False) -> Iterator[None]:
        """Simulated time stands still while the calling thread runs this block (outside its sleeps)."""
        ident = threading.get_ident()
        with self._cond:
            self._sync()
            self._holds[ident] = self._holds.get(ident, 0) + 1
            if jump_sleeps:
                self._jumping[ident] = self._jumping.get(ident, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                self._sync()
                if jump_sleeps:
                    self._drop(self._jumping, ident)
                self._drop(self._holds, ident)
                self._cond.notify_all()

    @contextmanager
    def idle(self) -> Iterator[None]:
        """The calling thread waits on another actor for this block: its hold is suspended meanwhile and
        taken back at the end (whoever wakes it hands it a `hold()` to close the gap)."""
        ident = threading.get_ident()
        with self._cond:
            self._sync()
            depth = self._holds.pop(ident, 0)
            self._cond.notify_all()
        try:
            yield
        finally:
            if depth:
                with self._cond:
                    self._sync()
                    self._holds[ident] = self._holds.get(ident, 0) + depth

    def wake(self) -> None:
        """Nudge sleepers to look at their `cancel` events now rather than at their next wall poll."""
        with self._cond:
            self._cond.notify_all()

    def hold(self) -> Hold:
        """An anonymous hold: time stands still until `release()` (hand it to a thread you start)."""
        with self._cond:
            self._sync()
            self._tokens += 1
        return Hold(self)

    # -- internals (called with self._cond held) ------------------------------------------------------------
    def _release_token(self) -> None:
        with self._cond:
            self._sync()
            self._tokens -= 1
            self._cond.notify_all()

    @staticmethod
    def _drop(counts: dict[int, int], ident: int) -> None:
        depth = counts.get(ident, 1) - 1
        if depth > 0:
            counts[ident] = depth
        else:
            counts.pop(ident, None)

    def _busy(self) -> bool:
        return bool(self._holds) or self._tokens > 0

    def _sync(self) -> None:
        """Bring `_now` up to date: run at `speed` while nobody works, stop at the first due sleeper."""
        wall = time.monotonic()
        if not self._busy():
            candidate = self._now + (wall - self._anchor) * self.speed
            if self._sleepers and candidate >= self._sleepers[0].target:
                self._now = max(self._now, self._sleepers[0].target)
                self._wake_due()
            else:
                self._now = candidate
        self._anchor = wall

    def _wake_due(self) -> None:
        """Wake every sleeper due by now, giving each its hold back before time can move on."""
        woke = False
        while self._sleepers and self._sleepers[0].target <= self._now:
            sleeper = heapq.heappop(self._sleepers)
            sleeper.woken = True
            if sleeper.depth:
                self._holds[sleeper.ident] = self._holds.get(sleeper.ident, 0) + sleeper.depth
            woke = True
        if woke:
            self._anchor = time.monotonic()
            self._cond.notify_all()

    def _wall_wait(self) -> float:
        if self._busy() or not self._sleepers:
            return _MAX_WALL_WAIT
        due = (self._sleepers[0].target - self._now) / self.speed
        return min(max(due, _MIN_WALL_WAIT), _MAX_WALL_WAIT)


_MIN_WALL_WAIT = 0.0002
_MAX_WALL_WAIT = 0.05


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

    On a `SpeedClock` the ticker is an actor: it steps at exactly `start + k * interval` (it sleeps on the
    clock, which never passes its wake-up before it has woken) and holds the clock while it steps, so an
    alarm evaluation or an AppConfig deployment step happens at the same simulated instant whatever the
    host's load. On a ManualClock it only watches the clock (`clock.sleep` would move it) and steps at the
    first poll after a test advanced it. Errors are kept in `errors` and do not stop the ticker.
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
        self._stop.set()  # a ticker sleeping on a SpeedClock notices within its 0.05 s wall wait
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        clock = get_clock()
        if isinstance(clock, SpeedClock):
            self._run_as_actor(clock)
            return
        due = clock.time()
        while not self._stop.is_set():
            now = get_clock().time()
            if now >= due:
                # The next due time counts from the instant read *before* stepping: a clock moved during the
                # step (a test advancing a ManualClock) must still be stepped at the next poll.
                due = now + self.interval
                try:
                    self._step()
                except Exception as exc:
                    self.errors.append(exc)
                    _log.exception("%s: step failed", self.name)
            self._stop.wait(self.poll)

    def _run_as_actor(self, clock: SpeedClock) -> None:
        with clock.working():
            due = clock.time()
            while not self._stop.is_set():
                try:
                    self._step()
                except Exception as exc:
                    self.errors.append(exc)
                    _log.exception("%s: step failed", self.name)
                due += self.interval
                clock.sleep(due - clock.time(), cancel=self._stop)
