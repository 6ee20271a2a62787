"""Helpers for the bench entry point: peak memory of a process tree, a
progress line on stderr, percentiles, the machine and the versions."""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _scan() -> dict[int, tuple[int, int, float]]:
    """pid -> (ppid, resident bytes, CPU seconds incl. waited-for children) of every process."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry.name}/statm", "rb") as f:
                resident = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        fields = stat[stat.rindex(b")") + 2:].split()  # after "pid (comm)": state, ppid, ...
        cpu = sum(int(x) for x in fields[11:15]) / TICKS  # utime, stime, cutime, cstime
        out[int(entry.name)] = (int(fields[1]), resident * PAGE, cpu)
    return out


def _tree(procs: dict[int, tuple[int, int, float]], root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def tree_rss(root: int | None = None) -> int:
    """Resident memory (bytes) of ``root`` (default: this process) and all its descendants."""
    procs = _scan()
    return sum(procs[p][1] for p in _tree(procs, os.getpid() if root is None else root) if p in procs)


def tree_cpu_by_process(root: int | None = None) -> dict[str, float]:
    """CPU seconds per process of the tree, by a short name (module and --id)."""
    procs = _scan()
    out: dict[str, float] = {}
    for pid in _tree(procs, os.getpid() if root is None else root):
        if pid not in procs:
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = _short_name([a.decode(errors="replace") for a in argv if a])
        out[name] = round(out.get(name, 0.0) + procs[pid][2], 2)
    return out


def _short_name(argv: list[str]) -> str:
    if not argv:
        return "?"
    name = Path(argv[0]).name
    if "-m" in argv[:-1]:
        name = argv[argv.index("-m") + 1]
    if "--id" in argv[:-1]:
        name += " " + argv[argv.index("--id") + 1]
    return name


def tree_cpu(root: int | None = None) -> float:
    """CPU seconds used so far by ``root`` (default: this process) and its living descendants
    (each with the children it has waited for)."""
    procs = _scan()
    return sum(procs[p][2] for p in _tree(procs, os.getpid() if root is None else root) if p in procs)


class PiekGeheugen:
    """Samples the RSS of this process tree in a thread; ``piek`` is the peak (bytes)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.piek = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        self.piek = max(self.piek, tree_rss())

    def __enter__(self) -> "PiekGeheugen":
        self.sample()

        def run() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self._thread = threading.Thread(target=run, name="piekgeheugen", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    @property
    def mb(self) -> float:
        return round(self.piek / 2**20, 1)


class Voortgang:
    """One progress line on stderr: a bar on a terminal, else a line per 10 %."""

    def __init__(self, label: str, total: int | None, stream=None) -> None:
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._shown = -1.0
        self._decile = -1

    def update(self, done: int, extra: str = "") -> None:
        now = time.monotonic()
        elapsed = now - self.started
        if self.total:
            frac = min(done / self.total, 1.0)
            rate = done / elapsed if elapsed > 0 else 0.0
            eta = (self.total - done) / rate if rate > 0 else float("nan")
            text = (f"{self.label}: [{'#' * int(frac * 30):<30}] {done}/{self.total} "
                    f"{rate:6.1f}/s, {elapsed:5.0f} s" + (f", nog ~{eta:.0f} s" if rate > 0 and done < self.total else ""))
            decile = int(frac * 10)
        else:
            text, decile = f"{self.label}: {elapsed:5.0f} s bezig", int(elapsed // 30)
        if extra:
            text += f" ({extra})"
        if self.tty:
            if now - self._shown >= 0.2 or (self.total and done >= self.total):
                self.stream.write("\r" + text[:150].ljust(100))
                self.stream.flush()
                self._shown = now
        elif decile > self._decile or now - self._shown >= 60:  # a line per 10 %, and at least one a minute
            self._decile, self._shown = max(decile, self._decile), now
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def percentiel(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def machine() -> dict:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 2**20:.1f} GB"
    except (OSError, AttributeError):
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "geheugen": mem, "kernel": platform.release(),
            "systeem": platform.platform(), "belasting_bij_start": [round(x, 2) for x in os.getloadavg()]}


PACKAGES = ("dkimpy", "cryptography", "PyNaCl", "aiosmtpd", "reportlab", "pikepdf", "dnspython", "pyspf",
            "Faker", "httpx")


def versies() -> dict:
    out = {"python": platform.python_version(), "openssl": ssl.OPENSSL_VERSION}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    unbound = shutil.which("unbound") or "/usr/sbin/unbound"
    try:
        first = subprocess.run([unbound, "-V"], capture_output=True, text=True, timeout=10).stdout.splitlines()
        out["unbound"] = first[0].replace("Version", "").strip() if first else None
    except (OSError, subprocess.SubprocessError):
        out["unbound"] = None
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        out["ketentest"] = commit + (" (met lokale wijzigingen)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        out["ketentest"] = None
    return out


def cpu_seconden() -> float:
    """CPU time of this process and its waited-for children so far."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
