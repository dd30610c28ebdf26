"""`SpeedClock`: simulated time stands still while the stack works, and a working thread's sleep is waiting.

No assertion here depends on how fast the host is: a frozen clock reads exactly the same value, and a
running one only ever moves forward.
"""

from __future__ import annotations

import threading
import time

from failsafe_tools.local.clock import SpeedClock


def test_time_stands_still_while_a_thread_works() -> None:
    # Given a drill clock at 1000x
    clock = SpeedClock(1000.0, start=0.0)

    # When a thread holds working() across some wall time
    with clock.working():
        frozen = clock.time()
        time.sleep(0.02)
        # Then not one simulated microsecond passed, however long the work took
        assert clock.time() == frozen
        assert clock.frozen

    # And once the work is done, time runs again from where it stood (nothing is skipped)
    assert not clock.frozen
    after = clock.time()
    assert after >= frozen
    time.sleep(0.01)
    assert clock.time() > after


def test_holds_nest_and_count_per_thread() -> None:
    # Given two threads working at once
    clock = SpeedClock(1000.0, start=0.0)
    other_started, other_release = threading.Event(), threading.Event()

    def other() -> None:
        with clock.working():
            other_started.set()
            other_release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    other_started.wait(5)
    with clock.working(), clock.working():
        pass
    # Then this thread's nested holds ended, but the other thread still holds the clock
    assert clock.frozen
    other_release.set()
    thread.join(5)
    assert not clock.frozen


def test_a_working_thread_that_sleeps_lets_time_pass_for_its_sleep() -> None:
    # Given a thread working (a handler running) that sleeps 30 simulated seconds on the clock
    clock = SpeedClock(1000.0, start=0.0)
    with clock.working():
        before = clock.time()
        clock.sleep(30.0)
        # Then the sleep lasted its 30 simulated seconds (it was waiting, not working) ...
        slept = clock.time() - before
        assert slept >= 30.0
        # ... and the hold is back once it woke: time stands still again
        frozen = clock.time()
        time.sleep(0.01)
        assert clock.time() == frozen
