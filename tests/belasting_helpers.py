"""A bounded CPU hog for tests that must give the same verdicts on a busy
machine (issue 14, point 5).

    from tests.belasting_helpers import cpu_hog

    with cpu_hog(limit=600) as hog:
        ...  # every core kept busy
    print(hog.samenvatting())

One busy-loop child per core. None can outlive the test: each child stops
itself after ``limit`` seconds (wall clock) and after ``limit`` CPU seconds
(RLIMIT_CPU, enforced by the kernel), dies with its parent (PR_SET_PDEATHSIG,
also when pytest is killed with SIGKILL), and is killed and reaped when the
block ends.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

#: The child: spin until its own deadline; no imports beyond time.
SPIN = "import time, sys\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def _child_limits(limit: float) -> None:
    """In the child before exec: die with the parent, and a hard CPU limit."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    cpu = int(limit) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Hog:
    processes: list[subprocess.Popen]
    limit: float
    started: float = field(default_factory=time.monotonic)
    stopped: float | None = None
    #: (seconds since start, 1-minute load average), sampled while running
    loads: list[tuple[float, float]] = field(default_factory=list)
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds, last seen

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def sample(self) -> None:
        self.loads.append((time.monotonic() - self.started, os.getloadavg()[0]))
        for p in self.processes:
            seconds = _cpu_seconds(p.pid)
            if seconds:
                self.cpu[p.pid] = max(seconds, self.cpu.get(p.pid, 0.0))

    @property
    def seconds(self) -> float:
        return (self.stopped or time.monotonic()) - self.started

    @property
    def cpu_seconds(self) -> float:
        """CPU time the children got together."""
        return sum(self.cpu.values())

    @property
    def max_load(self) -> float:
        return max((load for _, load in self.loads), default=0.0)

    def samenvatting(self) -> str:
        cores = os.cpu_count() or 1
        share = self.cpu_seconds / max(self.seconds * cores, 1e-9)
        return (f"belasting: {len(self.processes)} rekenprocessen gedurende {self.seconds:.0f} s, samen "
                f"{self.cpu_seconds:.0f} CPU-seconden ({share:.0%} van {cores} cores); load average (1 min) tot "
                f"{self.max_load:.1f}")


@contextlib.contextmanager
def cpu_hog(limit: float, processes: int | None = None, sample_every: float = 5.0) -> Iterator[Hog]:
    """``processes`` (default: one per core) busy loops for at most ``limit``
    seconds; stopped when the block ends, whatever happens inside it."""
    count = processes or os.cpu_count() or 1
    hog = Hog([], limit)
    stop = threading.Event()
    sampler = None
    try:
        for _ in range(count):
            hog.processes.append(subprocess.Popen(
                [sys.executable, "-c", SPIN, str(limit)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, preexec_fn=lambda: _child_limits(limit)))
        hog.started = time.monotonic()

        def sampling() -> None:
            while True:
                hog.sample()
                if stop.wait(sample_every):
                    return

        sampler = threading.Thread(target=sampling, name="belasting-meting", daemon=True)
        sampler.start()
        yield hog
    finally:
        stop.set()
        if sampler is not None:
            sampler.join()
        hog.sample()  # the children's CPU time, while they still exist
        for p in hog.processes:
            if p.poll() is None:
                p.kill()
        for p in hog.processes:
            p.wait()
        hog.stopped = time.monotonic()
