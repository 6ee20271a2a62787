"""A private network namespace for a test worker, so that several keten runs
can go side by side on one machine (issue 14, point 4).

Every simulated party listens on a fixed 127.x.y.z address; two ketens in one
network namespace would collide (simulators.internet.machine_lock makes the
second wait). A pytest-xdist worker therefore moves itself into a network
namespace of its own, with only its own loopback, before any test starts.
Tests that talk to containers (which live on the host's loopback) switch back
to the host's namespace for their duration.

The standard library has no unshare()/setns() before Python 3.12, so this
calls libc directly (a few lines; no library does just this).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_host_fd: int | None = None
_own_fd: int | None = None


def available() -> bool:
    """Root (CAP_SYS_ADMIN) and iproute2: what a private namespace needs."""
    from shutil import which

    return os.geteuid() == 0 and which("ip") is not None


def current() -> str:
    """The calling thread's network namespace, e.g. 'net:[4026531840]'."""
    return os.readlink("/proc/thread-self/ns/net")


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter_own() -> str:
    """Move the calling thread (and every thread and process it starts later)
    into a new network namespace with loopback up. Call it before threads
    that need the network are started. Idempotent."""
    global _host_fd, _own_fd
    if _own_fd is not None:
        return current()
    host = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    _host_fd, _own_fd = host, os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    return current()


def is_private() -> bool:
    return _own_fd is not None


@contextmanager
def host_loopback_turn(lock_path: str | None = None):
    """One test at a time on the host's loopback and container engine, across
    all workers (flock: released if the holder dies). pytest-xdist's own
    grouping (--dist loadgroup) does not take effect with pytest 9 here."""
    import fcntl
    import tempfile

    lock_path = lock_path or os.path.join(tempfile.gettempdir(), "ketentest-host-loopback.lock")
    with open(lock_path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def host_network():
    """Run the body in the host's network namespace (containers, the docker
    engine's published addresses); back to the private one afterwards. A no-op
    when this process never left the host's namespace."""
    if _own_fd is None:
        yield
        return
    _check(_libc.setns(_host_fd, CLONE_NEWNET), "setns(host)")
    try:
        yield
    finally:
        _check(_libc.setns(_own_fd, CLONE_NEWNET), "setns(eigen)")
