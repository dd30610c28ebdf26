"""What every test folder shares.

- `clock`: a `ManualClock` installed as the process clock (`failsafe.clock.set_clock`) for the test and
  restored after it. A folder whose tests need another start overrides `clock_start`.

Helpers that tests import are in `tests/support.py` (never import from a conftest).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from failsafe_tools.local.clock import ManualClock, set_clock


@pytest.fixture
def clock_start() -> float | None:
    """Where `clock` starts (seconds since the epoch); None: `ManualClock`'s own default."""
    return None


@pytest.fixture
def clock(clock_start: float | None) -> Iterator[ManualClock]:
    manual = ManualClock() if clock_start is None else ManualClock(start=clock_start)
    previous = set_clock(manual)
    yield manual
    set_clock(previous)
