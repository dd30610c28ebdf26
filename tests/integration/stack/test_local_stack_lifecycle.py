"""LocalStack start/stop and the background ticker (each test owns its stack)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from failsafe_tools.local import alarms, lambda_runtime, stepfunctions
from failsafe_tools.local.clock import ManualClock, SpeedClock, get_clock
from failsafe_tools.local.stack import LocalStack, LocalStackError, StackTicker

TEMPLATE = Path(__file__).parent / "fixtures" / "full.yaml"


def test_start_stop_installs_and_restores_everything() -> None:
    # Given the current clock and pieces
    previous = get_clock()
    installed_before = (lambda_runtime.is_installed(), stepfunctions.is_installed(), alarms.installed())

    # When a stack is started at 120x with the background ticker, then stopped (twice)
    stack = LocalStack.start(TEMPLATE, speed=120.0, agent=False)
    clock = stack.clock
    running = stack.ticker.running
    pieces_while_running = (lambda_runtime.is_installed(), stepfunctions.is_installed(), alarms.installed())
    stack.stop()
    stack.stop()

    # Then it ran on a 120x SpeedClock with every piece, and afterwards the clock and pieces are as before
    assert isinstance(clock, SpeedClock)
    assert clock.speed == 120.0
    assert running
    assert pieces_while_running == (True, True, True)
    assert get_clock() is previous
    assert (
        lambda_runtime.is_installed(),
        stepfunctions.is_installed(),
        alarms.installed(),
    ) == installed_before
    assert not stack.ticker.running
    with pytest.raises(LocalStackError, match="stopped"):
        stack.client("s3")


def test_the_background_ticker_evaluates_alarms_when_the_clock_moves() -> None:
    # Given a stack on a ManualClock with the background ticker and breaching error data
    with LocalStack.start(TEMPLATE, clock=ManualClock(), agent=False) as stack:
        cw = stack.client("cloudwatch")
        cw.put_metric_data(Namespace="Recommender", MetricData=[{"MetricName": "Errors", "Value": 50.0}])
        alarm = stack.physical_id("ErrorAlarm")
        assert isinstance(stack.clock, ManualClock)

        # When a minute passes on the clock (moved by someone else, not by tick())
        stack.clock.advance(60)
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            state = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
            if state == "ALARM":
                break
            time.sleep(0.02)

        # Then the ticker evaluated the alarm without being asked
        assert stack.ticker.errors == []
        assert state == "ALARM"


def test_a_ticker_interval_must_be_positive() -> None:
    # Given / When a ticker with a zero interval is made
    # Then it is refused
    with pytest.raises(ValueError, match="must be > 0 simulated seconds"):
        StackTicker(interval=0)
