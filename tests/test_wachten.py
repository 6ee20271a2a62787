"""Start-up bounds grow with the machine's load (issue 14, point 5)."""

import os

import pytest

from simulators import wachten

REAL_RUNNABLE_NOW = wachten.runnable_now


@pytest.fixture(autouse=True)
def nothing_runnable(monkeypatch):
    """The tests set the load average; the machine's own runnable tasks stay out."""
    monkeypatch.setattr(wachten, "runnable_now", lambda: 0)


def test_idle_machine_keeps_the_base_bound(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.3, 0.3))
    assert wachten.StartupDeadline(15).bound == 15


def test_busy_machine_stretches_the_bound(monkeypatch):
    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "getloadavg", lambda: (cores * 4.0, 0, 0))
    assert wachten.StartupDeadline(15).bound == 60


def test_load_that_just_started_counts_before_the_average_shows_it(monkeypatch):
    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0, 0))
    monkeypatch.setattr(wachten, "runnable_now", lambda: cores * 3)
    assert wachten.StartupDeadline(15).bound == 45


def test_runnable_tasks_are_read_from_the_kernel():
    import time

    from tests.belasting_helpers import cpu_hog

    with cpu_hog(limit=30, processes=2):
        deadline = time.monotonic() + 10
        while REAL_RUNNABLE_NOW() < 2:  # two busy loops, once they run
            assert time.monotonic() < deadline, "de rekenprocessen tellen niet mee"


def test_the_stretch_is_capped(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (1e9, 0, 0))
    assert wachten.StartupDeadline(15).bound == 15 * wachten.MAX_FACTOR


def test_time_left_runs_down_and_is_described(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0, 0))
    deadline = wachten.StartupDeadline(0)
    assert deadline.left() <= 0
    assert "grens 0 s" in deadline.describe()


def test_a_silent_simulator_is_given_up_on_after_the_load_scaled_bound(monkeypatch):
    """simulators/process.py waits for KLAAR with the same stretched bound."""
    import time

    from ketentest.errors import InfrastructureError
    from simulators.process import SimulatorProcess

    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "getloadavg", lambda: (cores * 4.0, 0, 0))
    silent = SimulatorProcess("stil", "timeit", ["-n", "1", "-r", "1", "import time; time.sleep(60)"], "x" * 20,
                              ready_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(InfrastructureError, match=r"kwam niet op binnen .*grens 0 s × belasting 4\.0"):
        silent.__enter__()
    assert time.monotonic() - started >= 2.0  # 0.5 s × 4
    assert silent.proc is None  # stopped, not left behind


def test_a_long_poll_is_stretched_with_the_load_and_the_request_outlasts_it(monkeypatch):
    """The control client asks a party to wait (``timeout``) longer on a busy
    machine, and itself waits for that plus the answer: a party answering at
    the end of its wait is never cut off by the client (issue 14, point 5)."""
    import httpx

    from ketentest.errors import InfrastructureError
    from simulators.process import REQUEST_TIMEOUT, ControlClient

    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((dict(request.url.params), request.extensions["timeout"]["read"]))
        if request.url.path == "/hangt":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={"rustig": True})

    party = ControlClient()
    party.name, party.token = "politie-mn", "x" * 20
    party.client = httpx.Client(base_url="http://partij", transport=httpx.MockTransport(answer))
    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "getloadavg", lambda: (cores * 4.0, 0, 0))
    assert party.get("/rust", timeout="30") == {"rustig": True}
    assert seen[-1] == ({"timeout": "120"}, 120 + REQUEST_TIMEOUT * 4)
    party.get("/rust", timeout="1000")  # never more than a party accepts
    assert seen[-1][0] == {"timeout": "600"}
    party.get("/rust", timeout="nan")  # the party refuses that itself
    assert seen[-1][0] == {"timeout": "nan"}
    party.post("/klok", {"vooruit": 1})
    assert seen[-1] == ({}, REQUEST_TIMEOUT * 4)
    with pytest.raises(InfrastructureError, match="politie-mn antwoordde niet binnen 120 s op GET /hangt"):
        party.get("/hangt")
