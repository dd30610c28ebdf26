"""What every test folder shares.

- `clock`: a `ManualClock` installed as the process clock (`failsafe.clock.set_clock`) for the test and
  restored after it. A folder whose tests need another start overrides `clock_start`.

Helpers that tests import are in `tests/support.py` (never import from a conftest).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS profile, region, config or credentials file from this machine reaches the test."""
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
