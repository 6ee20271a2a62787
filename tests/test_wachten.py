"""Start-up bounds grow with the machine's load (issue 14, point 5)."""

import os

from simulators import wachten


def test_idle_machine_keeps_the_base_bound(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.3, 0.3))
    assert wachten.StartupDeadline(15).bound == 15


def test_busy_machine_stretches_the_bound(monkeypatch):
    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "getloadavg", lambda: (cores * 4.0, 0, 0))
    assert wachten.StartupDeadline(15).bound == 60


def test_the_stretch_is_capped(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (1e9, 0, 0))
    assert wachten.StartupDeadline(15).bound == 15 * wachten.MAX_FACTOR


def test_time_left_runs_down_and_is_described(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0, 0))
    deadline = wachten.StartupDeadline(0)
    assert deadline.left() <= 0
    assert "grens 0 s" in deadline.describe()
