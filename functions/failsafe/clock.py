"""The clock port: what production code asks for the time and for sleeping.

On AWS it is the system clock. The embedded local AWS (`failsafe_tools.local`) installs a simulated clock with
`set_clock`, so that a drill can run a 15-minute verify window in seconds; production code never imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block until `seconds` have passed on this clock."""
        ...

    def now(self) -> datetime: ...


class SystemClock:
    """Real time: `time.time()` and `time.sleep()`."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(tz=UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


_clock: Clock = SystemClock()
_listeners: list[Callable[[Clock], None]] = []


def get_clock() -> Clock:
    return _clock


def set_clock(clock: Clock) -> Clock:
    """Install `clock` for this process and return the previous one."""
    global _clock
    previous, _clock = _clock, clock
    for listener in _listeners:
        listener(clock)
    return previous


def on_clock_change(listener: Callable[[Clock], None]) -> None:
    _listeners.append(listener)
