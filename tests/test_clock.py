"""The keten clock: jumps wake waiters at once; werkdagen skip weekends."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from ketentest.clock import UTC, KetenClock, add_werkdagen


def test_advance_wakes_a_waiter_without_real_waiting():
    clock = KetenClock()
    deadline = clock.timestamp() + 5 * 24 * 3600  # five days of keten time
    done = threading.Event()
    result = []

    def waiter():
        result.append(clock.wait_until(deadline))
        done.set()

    threading.Thread(target=waiter).start()
    assert not done.wait(0.05)  # it really waits
    clock.advance(5 * 24 * 3600)
    assert done.wait(5) and result == [True]


def test_interruption_returns_false():
    clock = KetenClock()
    stop = threading.Event()
    result = []
    t = threading.Thread(target=lambda: result.append(clock.wait_until(clock.timestamp() + 3600, stop.is_set)))
    t.start()
    stop.set()
    clock.notify()
    t.join(5)
    assert result == [False]


def test_clock_never_goes_back_and_set_moves_forward():
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    clock = KetenClock(start)
    assert abs((clock.now() - start).total_seconds()) < 5
    with pytest.raises(ValueError):
        clock.advance(-1)
    later = clock.set(start + dt.timedelta(hours=24))
    assert later >= start + dt.timedelta(hours=24)


def test_werkdagen_skip_the_weekend():
    friday = dt.datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert add_werkdagen(friday, 1).weekday() == 0  # Monday
    assert add_werkdagen(friday, 5) == dt.datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
