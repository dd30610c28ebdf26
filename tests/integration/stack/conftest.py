"""Fixtures for provisioning and the LocalStack facade: the fixture template, a running stack over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.stack import LocalStack

FIXTURES = Path(__file__).parent / "fixtures"
FULL_TEMPLATE = FIXTURES / "full.yaml"
REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def full_stack() -> Iterator[LocalStack]:
    """The fixture template provisioned once per module, on a ManualClock, without the background ticker."""
    stack = LocalStack.start(FULL_TEMPLATE, clock=ManualClock(), ticker=False, agent=True)
    try:
        yield stack
    finally:
        stack.stop()
