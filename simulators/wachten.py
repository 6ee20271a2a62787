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


def load_factor() -> float:
    """How much slower than an idle machine: load average per core, at least 1."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return 1.0
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
