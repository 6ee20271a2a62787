"""A real Unbound, started by the harness as the keten's validating resolver.

Root hints point at the simulated root; the simulated root key is the only
trust anchor; every simulated party resolves through it. :class:`LiveUnbound`
is the live mode's resolver: the real root (or a stand-in for it).
"""

from __future__ import annotations

import os
import selectors
import signal
import shutil
import subprocess
import tempfile
from pathlib import Path

from ketentest.errors import InfrastructureError
from ketentest.model import RESERVED_TLDS
from simulators.wachten import StartupDeadline, load_factor

_COMMON = """\
server:
    interface: {ip}
    port: {port}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    log-time-ascii: yes
    verbosity: 1
    val-log-level: 2
    num-threads: 1
    so-reuseport: no
    interface-automatic: no
    access-control: 127.0.0.0/8 allow
    trust-anchor-file: "{trust_anchor}"
    module-config: "validator iterator"
    ede: yes
    prefetch: no
    val-bogus-ttl: 1
{extra}remote-control:
    control-enable: yes
    control-interface: "{dir}/unbound.ctl"
    control-use-cert: no
"""

#: What only the simulated internet needs: our root hints, loopback servers,
#: and the reserved TLDs taken out of Unbound's built-in local zones.
_SIMULATED = """\
    do-ip6: no
    do-not-query-localhost: no
    root-hints: "{dir}/root.hints"
    aggressive-nsec: no
    infra-host-ttl: 60
    outgoing-interface: {ip}
{local_zones}
"""


#: Live mode with a root of its own (a stand-in for the internet): its root
#: hints, its servers may be on loopback, and it decides about the reserved
#: TLDs (the keten's domains are under test.).
_OWN_ROOT = """\
    root-hints: "{root_hints}"
    do-not-query-localhost: no
{local_zones}
"""


def _reserved_tlds_lifted() -> str:
    return "\n".join(f'    local-zone: "{tld}." nodefault' for tld in RESERVED_TLDS)


def unbound_config(ip: str, port: int, directory: Path | str, trust_anchor: Path | str, simulated: bool = True,
                   root_hints: Path | str | None = None) -> str:
    """Unbound's configuration: for the simulated internet (our root hints and
    trust anchor), or live (Unbound's built-in root hints, the real root key;
    with ``root_hints``: that root instead, e.g. a stand-in for the internet)."""
    extra = ""
    if simulated:
        extra = _SIMULATED.format(dir=directory, ip=ip, local_zones=_reserved_tlds_lifted())
    elif root_hints is not None:
        extra = _OWN_ROOT.format(root_hints=root_hints, local_zones=_reserved_tlds_lifted())
    return _COMMON.format(ip=ip, port=port, dir=directory, trust_anchor=trust_anchor, extra=extra)


def find_program(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path is None:
        raise InfrastructureError(
            f"het programma {name} ontbreekt",
            "installeer Unbound: apt-get install unbound (of draai ./run setup als root)",
        )
    return path


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when the harness dies, even by SIGKILL,
    so no orphan keeps the keten's addresses (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def stop_process(proc: subprocess.Popen | None, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; always reaped."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Unbound:
    """Context manager: writes the config, starts ``unbound -d``, waits for its
    'start of service' line, and stops it on exit."""

    def __init__(self, ip: str, root_hints: str, trust_anchor: str, port: int = 53, ready_timeout: float = 15.0) -> None:
        self.ip = ip
        self.port = port
        self.ready_timeout = ready_timeout
        self.root_hints = root_hints
        self.trust_anchor = trust_anchor
        self.dir = Path(tempfile.mkdtemp(prefix="ketentest-unbound-"))
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []

    @property
    def conf(self) -> Path:
        return self.dir / "unbound.conf"

    def write_config(self) -> None:
        (self.dir / "root.hints").write_text(self.root_hints)
        (self.dir / "root.ds").write_text(self.trust_anchor)
        self.conf.write_text(unbound_config(self.ip, self.port, self.dir, self.dir / "root.ds"))

    def __enter__(self) -> "Unbound":
        binary = find_program("unbound")
        self.write_config()
        self.proc = subprocess.Popen([binary, "-d", "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=die_with_parent)
        try:
            self._await_ready()
        except BaseException:
            self.close()
            raise
        return self

    def _await_ready(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stderr, selectors.EVENT_READ)
        deadline = StartupDeadline(self.ready_timeout)
        while True:
            left = deadline.left()
            if left <= 0:
                raise InfrastructureError(f"Unbound op {self.ip} kwam niet op binnen {deadline.describe()}",
                                          f"zie de log: {' | '.join(self.log[-5:])}")
            if not sel.select(min(left, 1.0)):
                continue
            line = self.proc.stderr.readline()
            if not line:  # exited
                self.proc.wait()
                msg = " | ".join(self.log[-5:])
                if "bind" in msg.lower() or "address already in use" in msg.lower():
                    raise InfrastructureError(f"Unbound kan adres {self.ip}:{self.port} niet openen: {msg}",
                                              "stop het andere proces op dat adres, of kies in het ketenbestand een ander dns.resolver-adres")
                raise InfrastructureError(f"Unbound stopte direct (code {self.proc.returncode}): {msg}",
                                          "controleer de Unbound-installatie (unbound -V)")
            self.log.append(line.rstrip())
            if "start of service" in line:
                break
        sel.close()
        # Keep draining the log so Unbound never blocks on a full pipe.
        import threading

        def drain() -> None:
            for line in self.proc.stderr:
                self.log.append(line.rstrip())
                if len(self.log) > 5000:
                    del self.log[:1000]

        threading.Thread(target=drain, name="unbound-log", daemon=True).start()

    def control(self, *args: str) -> str:
        out = subprocess.run([find_program("unbound-control"), "-c", str(self.conf), *args],
                             capture_output=True, text=True, timeout=10 * load_factor())
        if out.returncode != 0:
            raise InfrastructureError(f"unbound-control {' '.join(args)} faalde: {out.stderr.strip() or out.stdout.strip()}",
                                      "controleer of Unbound nog draait")
        return out.stdout

    def flush(self) -> None:
        """Forget everything cached, after the zones changed."""
        self.control("flush_zone", ".")
        self.control("flush_bogus")
        self.control("flush_negative")
        self.control("flush_infra", "all")

    def close(self) -> None:
        stop_process(self.proc)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self.close()


class LiveUnbound(Unbound):
    """The live resolver: validates from the real root with Unbound's built-in
    root hints and the given trust anchor file; with ``root_hints`` (a file)
    from that root instead. The same class runs against the internet or
    against a stand-in for it (simulators.standin)."""

    def __init__(self, ip: str, port: int, trust_anchor: Path | str, root_hints: Path | str | None = None,
                 ready_timeout: float = 15.0) -> None:
        super().__init__(ip, "", "", port, ready_timeout)
        # Absolute: Unbound reads relative names from its own working folder.
        self.trust_anchor_file = Path(trust_anchor).absolute()
        self.root_hints_file = Path(root_hints).absolute() if root_hints is not None else None

    def write_config(self) -> None:
        self.conf.write_text(unbound_config(self.ip, self.port, self.dir, self.trust_anchor_file, simulated=False,
                                            root_hints=self.root_hints_file))
