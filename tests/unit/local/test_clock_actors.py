"""Actors on a drill clock: the ticker steps on its exact grid, and Step Functions' threads hand the clock on.

No assertion depends on the host's speed: every instant compared is a simulated one that the discrete-event
clock guarantees, however late the host schedules a thread.
"""

from __future__ import annotations

import threading
import time

from failsafe_tools.local.clock import ClockTicker, SpeedClock, set_clock
from failsafe_tools.local.stepfunctions import ClockEvent, HeldThread


def test_the_ticker_steps_exactly_every_interval_even_when_a_step_is_slow() -> None:
    # Given a ticker of 60 simulated seconds on a 1000x clock whose steps take wall time (a busy host)
    clock = SpeedClock(1000.0, start=0.0)
    previous = set_clock(clock)
    steps: list[float] = []

    def step() -> None:
        steps.append(clock.time())
        time.sleep(0.01)  # 10 simulated seconds of wall time at 1000x, if the clock ran meanwhile

    ticker = ClockTicker(step, 60.0, name="test-ticker")
    try:
        ticker.start()
        while len(steps) < 4:
            time.sleep(0.01)
    finally:
        ticker.stop()
        set_clock(previous)

    # Then it stepped every 60 s exactly (polling the clock stepped late by the host's delays)
    assert [at - steps[0] for at in steps[:4]] == [0.0, 60.0, 120.0, 180.0]


def test_a_held_thread_holds_the_clock_from_its_start_and_hands_it_back_to_its_joiner() -> None:
    # Given an actor that starts an interpreter thread working for 50 ms of wall time, and joins it
    clock = SpeedClock(1000.0, start=0.0)
    previous = set_clock(clock)
    try:
        with clock.working():
            start = clock.time()
            worker = HeldThread(target=lambda: time.sleep(0.05))
            worker.start()
            worker.join()
            # Then no simulated time passed: the worker held the clock while the joiner was idle
            assert clock.time() == start
    finally:
        set_clock(previous)


def test_a_clock_event_hands_the_clock_to_its_waiter() -> None:
    # Given a waiter (a waitForTaskToken task) idle on a ClockEvent with a one-hour timeout
    clock = SpeedClock(1000.0, start=0.0)
    previous = set_clock(clock)
    event = ClockEvent()
    seen: list[float] = []

    def waiter() -> None:
        with clock.working():
            got = event.wait(3600.0)
            time.sleep(0.02)  # it works after waking: time must stand still meanwhile
            seen.append(clock.time())
            assert got

    try:
        thread = threading.Thread(target=waiter)
        thread.start()
        clock.sleep(30.0)  # the approver looks after 30 simulated seconds
        with clock.working():
            at = clock.time()
            event.set()
        thread.join(5)
    finally:
        set_clock(previous)

    # Then the waiter went on at the instant of the callback, not 20 simulated seconds later
    assert seen == [at]
