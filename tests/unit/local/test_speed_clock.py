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


def test_a_sleeping_actor_wakes_exactly_at_its_instant() -> None:
    # Given a drill clock at 1000x (one wall millisecond of host delay would be a simulated second)
    clock = SpeedClock(1000.0, start=0.0)

    # When an actor (holding the clock) sleeps 10 simulated seconds three times
    seen = []
    with clock.working():
        start = clock.time()
        for _ in range(3):
            clock.sleep(10.0)
            seen.append(clock.time() - start)

    # Then it woke at exactly 10, 20 and 30: the clock never passes a wake-up before the sleeper has woken
    assert seen == [10.0, 20.0, 30.0]


def test_time_does_not_pass_a_sleeper_while_another_actor_works() -> None:
    # Given an actor sleeping 5 s while a second actor works for a while
    clock = SpeedClock(1000.0, start=0.0)
    woke_at: list[float] = []

    def sleeper() -> None:
        with clock.working():
            clock.sleep(5.0)
            woke_at.append(clock.time())

    with clock.working():
        start = clock.time()
        thread = threading.Thread(target=sleeper)
        hold = clock.hold()  # handed to the sleeper until it holds itself
        thread.start()
        time.sleep(0.05)  # 50 simulated seconds of wall time at 1000x, but this thread works
        assert clock.time() == start
        hold.release()
    thread.join(5)

    # Then the sleeper woke at 5 exactly, not 50 s later
    assert [at - start for at in woke_at] == [5.0]


def test_a_sleep_inside_jump_sleeps_moves_the_clock_at_once() -> None:
    # Given a Lambda-like block (its caller keeps the clock held meanwhile)
    clock = SpeedClock(1000.0, start=0.0)
    with clock.working():
        start = clock.time()
        with clock.working(jump_sleeps=True):
            # When it sleeps 3 s (a retry backoff)
            clock.sleep(3.0)
        # Then the clock moved 3 s without waiting for anyone
        assert clock.time() - start == 3.0


def test_a_cancelled_sleep_returns_with_its_hold() -> None:
    # Given an actor sleeping an hour whose cancel event is set by another thread
    clock = SpeedClock(10.0, start=0.0)
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()

    # When it sleeps / Then it returns early and holds the clock again
    with clock.working():
        clock.sleep(3600.0, cancel=cancel)
        assert clock.frozen
        assert clock.time() < 3600.0
