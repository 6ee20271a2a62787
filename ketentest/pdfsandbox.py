"""The PDF check in separate worker processes with hard limits (S07).

A hostile PDF must cost the receiver a bounded amount, whatever the parser
does with it. :class:`PdfSandbox` keeps a few long-lived worker processes
(``python -m ketentest.pdfsandbox``); each check runs in one of them under

- a CPU-time limit (``RLIMIT_CPU``, per check: the kernel stops the worker),
- a memory limit (``RLIMIT_AS``: allocations fail, the check is refused),
- a wall-clock limit (the parent kills a worker that does not answer).

A PDF that hits a limit is refused with a clear Dutch reason (soort
``te-zwaar``); a worker that died or was killed is replaced on the next
check. Callers block in their own thread; checks beyond the number of
workers wait their turn, so the pool bounds both CPU and memory. Workers
answer in JSON, never pickle: a worker that a hostile file took over cannot
run code in the parent.

    with PdfSandbox(workers=2) as sandbox:
        result = sandbox.check(pdf_bytes, keten)

:func:`check_pdf_isolated` uses one shared pool per process.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import queue
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import cache

from ketentest.errors import InfrastructureError
from ketentest.model import Keten
from ketentest.pdfcheck import Bevinding, PdfCheckResultaat, Soort, check_pdf, max_pdf_bytes

DEFAULT_CHECK = "ketentest.pdfcheck:check_pdf"
_HEADER = 16  # two 8-byte big-endian numbers: the size limit and the data length


@dataclass(frozen=True)
class Limieten:
    """Hard limits for one check."""

    cpu_seconden: int = 5  # a 10 MB scan takes about 1 s
    geheugen_mb: int = 256  # address space of a worker, the interpreter and pikepdf included
    wandklok_seconden: float = 15


class _Worker:
    def __init__(self, limits: Limieten, check: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ketentest.pdfsandbox", str(limits.cpu_seconden), str(limits.geheugen_mb), check],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)

    def ask(self, data: bytes, limit: int, deadline: float) -> dict | None:
        """The worker's answer, or None if it died or the deadline passed."""
        try:
            self.process.stdin.write(limit.to_bytes(8, "big") + len(data).to_bytes(8, "big"))
            self.process.stdin.write(data)
            self.process.stdin.flush()
            size = int.from_bytes(_read(self.process.stdout, 4, deadline), "big")
            return json.loads(_read(self.process.stdout, size, deadline))
        except (OSError, EOFError, ValueError, _Late):
            return None

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.process.stdin, self.process.stdout):
            try:
                f.close()
            except OSError:
                pass
        return self.process.returncode


class _Late(Exception):
    pass


def _read(stream, n: int, deadline: float) -> bytes:
    fd, out = stream.fileno(), bytearray()
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise _Late()
        chunk = os.read(fd, min(n - len(out), 2**20))
        if not chunk:
            raise EOFError
        out += chunk
    return bytes(out)


class PdfSandbox:
    """A pool of PDF-check worker processes with hard limits; thread-safe."""

    def __init__(self, workers: int = 2, limits: Limieten = Limieten(), *, check: str = DEFAULT_CHECK) -> None:
        self.limits = limits
        self._check = check
        self._slots: queue.LifoQueue[_Worker | None] = queue.LifoQueue()  # a warm worker first
        for _ in range(workers):
            self._slots.put(None)  # started on first use
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.replaced = 0  # workers that died or were killed, and were replaced

    def check(self, data: bytes, keten: Keten | None = None, *, max_bytes: int | None = None) -> PdfCheckResultaat:
        limit = max_bytes if max_bytes is not None else max_pdf_bytes(keten)
        if len(data) > limit:  # refused on its size alone; no need to ship it
            return check_pdf(data, max_bytes=limit)
        worker = self._slots.get()
        answer = None
        try:
            if worker is None:
                worker = self._start()
            started = time.monotonic()
            answer = worker.ask(data, limit, started + self.limits.wandklok_seconden)
            result = _result(answer)
            if result is not None:
                return result
            late = time.monotonic() - started >= self.limits.wandklok_seconden
            code = worker.stop()
            if answer is not None and answer.get("fout") == "geheugen":
                why = f"de controle had meer dan {self.limits.geheugen_mb} MB geheugen nodig"
            elif late:
                why = f"de controle duurde langer dan {self.limits.wandklok_seconden:g} s"
            elif code == -signal.SIGXCPU:
                why = f"de controle kostte meer dan {self.limits.cpu_seconden} s rekentijd"
            else:
                why = f"het controleproces stopte onverwacht (code {code})"
            return PdfCheckResultaat(len(data), limit, (Bevinding(
                Soort.TE_ZWAAR, f"{why}; het bestand is te zwaar om veilig te openen (een aanval?)"),))
        finally:
            if worker is not None and worker.process.poll() is None:
                self._slots.put(worker)
            else:
                if worker is not None:
                    worker.stop()
                    self._forget(worker)
                self._slots.put(None)  # a fresh worker next time

    def _start(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise InfrastructureError("de PDF-controle is al gestopt", "start een nieuwe PdfSandbox")
            worker = _Worker(self.limits, self._check)
            self._all.add(worker)
            return worker

    def _forget(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._all:
                self._all.discard(worker)
                self.replaced += 1

    def workers(self) -> list[int]:
        """Process ids of the running workers."""
        with self._lock:
            return [w.process.pid for w in self._all if w.process.poll() is None]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = list(self._all), set()
        for w in workers:
            w.stop()

    def __enter__(self) -> "PdfSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _result(answer: object) -> PdfCheckResultaat | None:
    try:
        return PdfCheckResultaat(int(answer["grootte"]), int(answer["max_bytes"]), tuple(
            Bevinding(Soort(s), str(reden), str(plaats)) for s, reden, plaats in answer["bevindingen"]))
    except (TypeError, KeyError, ValueError):
        return None


def _serve(cpu_seconds: int, memory_mb: int, check_name: str) -> None:
    """The worker: one check at a time, each under a fresh CPU budget."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    module, _, name = check_name.partition(":")
    check = getattr(importlib.import_module(module), name)
    budget = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = inp.read(_HEADER)
        if len(header) < _HEADER:
            return  # the parent is gone
        limit, size = int.from_bytes(header[:8], "big"), int.from_bytes(header[8:], "big")
        data = inp.read(size)
        used = resource.getrusage(resource.RUSAGE_SELF)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(used.ru_utime + used.ru_stime) + cpu_seconds
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
        try:
            r = check(data, max_bytes=limit)
            answer = {"grootte": r.grootte, "max_bytes": r.max_bytes,
                      "bevindingen": [[b.soort.value, b.reden, b.plaats] for b in r.bevindingen]}
        except MemoryError:
            answer = {"fout": "geheugen"}
        del data
        encoded = json.dumps(answer).encode()
        out.write(len(encoded).to_bytes(4, "big") + encoded)
        out.flush()


_default_lock = threading.Lock()


@cache
def _default() -> PdfSandbox:
    sandbox = PdfSandbox()
    atexit.register(sandbox.close)
    return sandbox


def default_sandbox() -> PdfSandbox:
    """One pool per process, closed at exit."""
    with _default_lock:
        return _default()


def check_pdf_isolated(data: bytes, keten: Keten | None = None, *, max_bytes: int | None = None) -> PdfCheckResultaat:
    """:func:`ketentest.pdfcheck.check_pdf` in the shared sandbox."""
    return default_sandbox().check(data, keten, max_bytes=max_bytes)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
