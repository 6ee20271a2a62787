"""A keten's party processes start side by side (issue 14): every process is
spawned from the calling thread first (PR_SET_PDEATHSIG is tied to that
thread), and only then are their start-ups awaited, in parallel. One that
fails to come up stops them all; a keten that ends stops them side by side."""

from __future__ import annotations

import threading

import pytest

from ketentest.errors import InfrastructureError
from simulators.keten import KetenSimulatie, ProcessBackend


class FakeParty:
    def __init__(self, name, log, fail=False):
        self.name, self.log, self.fail, self.proc, self.closed = name, log, fail, None, False

    def spawn(self):
        self.log.append(("spawn", self.name, threading.current_thread() is threading.main_thread()))

    def ready(self):
        self.log.append(("ready", self.name))
        if self.fail:
            raise InfrastructureError(f"{self.name} kwam niet op", "")
        return self

    def close(self):
        self.closed = True
        self.log.append(("close", self.name))


class Spec:
    def __init__(self, name):
        self.name, self.role = name, "meldpunt"


def start_all(names, fail=()):
    log: list = []
    parties = {n: FakeParty(n, log, n in fail) for n in names}

    class Backend(ProcessBackend):
        def start(self, spec, token):
            return parties[spec.name]

    sim = KetenSimulatie.__new__(KetenSimulatie)
    from contextlib import ExitStack

    sim._stack, sim.backend, sim.token = ExitStack(), Backend(), "t"
    return sim, parties, log


def test_every_party_is_spawned_from_the_calling_thread_before_any_is_awaited():
    sim, parties, log = start_all(["a", "b", "c"])
    sim._start_all([Spec(n) for n in parties])
    spawns = [i for i, e in enumerate(log) if e[0] == "spawn"]
    readies = [i for i, e in enumerate(log) if e[0] == "ready"]
    assert len(spawns) == len(readies) == 3 and max(spawns) < min(readies)
    assert all(e[2] for e in log if e[0] == "spawn")  # the main thread: PDEATHSIG lives with it
    sim._stack.close()
    assert all(p.closed for p in parties.values())


def test_one_that_does_not_come_up_stops_them_all():
    sim, parties, log = start_all(["a", "b", "c"], fail={"b"})
    with pytest.raises(InfrastructureError, match="b kwam niet op"):
        sim._start_all([Spec(n) for n in parties])
        sim._stack.close()  # what __enter__ does on failure
    sim._stack.close()
    assert all(p.closed for p in parties.values())
