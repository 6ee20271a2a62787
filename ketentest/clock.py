"""The keten clock: simulated time that the harness controls and every
simulator obeys, so "5 werkdagen" takes seconds in a run.

Simulated time runs at wall-clock speed from a start point and jumps forward
when the harness advances it. Waiters wake on a jump, not on a poll.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

UTC = dt.timezone.utc


class KetenClock:
    def __init__(self, start: dt.datetime | None = None) -> None:
        self._cond = threading.Condition()
        self._offset = 0.0  # simulated - real, in seconds
        if start is not None:
            self._offset = start.timestamp() - time.time()

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp(), UTC)

    def timestamp(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> dt.datetime:
        """Jump forward; everything waiting on the clock re-checks its deadline."""
        if seconds < 0:
            raise ValueError("de ketenklok gaat niet achteruit")
        with self._cond:
            self._offset += seconds
            self._cond.notify_all()
        return self.now()

    def set(self, when: dt.datetime) -> dt.datetime:
        return self.advance(max(0.0, when.timestamp() - self.timestamp()))

    def wait_until(self, deadline: float, interrupted=lambda: False) -> bool:
        """Block until simulated time reaches ``deadline`` (True) or
        ``interrupted()`` becomes true (False). Wakes when the clock jumps or
        someone calls :meth:`notify` (do so after changing what
        ``interrupted`` reads)."""
        with self._cond:
            while True:
                if interrupted():
                    return False
                left = deadline - self.timestamp()
                if left <= 0:
                    return True
                self._cond.wait(left if left < 86400 * 365 else None)

    def notify(self) -> None:
        """Wake waiters (e.g. after new work arrived)."""
        with self._cond:
            self._cond.notify_all()


def add_werkdagen(start: dt.datetime, werkdagen: int) -> dt.datetime:
    """start plus N working days (Mon-Fri; public holidays not modelled)."""
    day = start
    left = werkdagen
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day
