"""Start-up waits that scale with the machine's load.

A simulator or Unbound that is starting is awaited by its own ready event
(a log line); the bound only decides when to give up on a process that is
still alive but silent. On a busy machine (load average well above the
number of cores) the same start-up takes proportionally longer, so the bound
grows with the load instead of failing a healthy run (issue 14, point 5).
"""

from __future__ import annotations

import os
import time

#: Never wait more than this many times the base bound.
MAX_FACTOR = 10.0


def runnable_now() -> int:
    """Tasks wanting a CPU at this moment, besides the caller (Linux
    /proc/loadavg); 0 where unknown."""
    try:
        with open("/proc/loadavg") as f:
            return max(0, int(f.read().split()[3].split("/")[0]) - 1)
    except (OSError, ValueError, IndexError):
        return 0


def load_factor() -> float:
    """How much slower than an idle machine: load per core, at least 1. The
    load is the 1-minute average, or the tasks runnable right now when that
    is higher (the average lags a minute behind load that just started)."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        load = 0.0
    load = max(load, runnable_now())
    return min(MAX_FACTOR, max(1.0, load / (os.cpu_count() or 1)))


class StartupDeadline:
    """``base`` seconds on an idle machine, stretched by the load while waiting."""

    def __init__(self, base: float) -> None:
        self.base = base
        self.started = time.monotonic()

    @property
    def bound(self) -> float:
        return self.base * load_factor()

    def left(self) -> float:
        return self.started + self.bound - time.monotonic()

    def describe(self) -> str:
        waited = time.monotonic() - self.started
        return f"{waited:.0f} s (grens {self.base:.0f} s × belasting {load_factor():.1f})"
