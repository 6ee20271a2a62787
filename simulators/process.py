"""Runs a simulator in its own process and talks to it over its control API.

The child prints ``KLAAR <url>`` on stdout once it listens; the parent waits
for that line (an event, not a poll) and then only uses HTTP.
"""

from __future__ import annotations

import functools
import math
import os
import selectors
import ssl
import subprocess
import sys
import threading
from collections import deque

import httpx

from ketentest.errors import InfrastructureError
from simulators.resolver.unbound import die_with_parent, stop_process
from simulators.control import MAX_TIMEOUT
from simulators.wachten import StartupDeadline, load_factor

READY = "KLAAR"
#: What a control request may take besides a long poll's wait, on an idle machine.
REQUEST_TIMEOUT = 30.0


#: When set (in the container image), announce_ready also writes the control
#: API's URL and token file there, for the health check (simulators.gezond).
from simulators.gezond import HEALTH_ENV  # noqa: E402


def announce_ready(url: str) -> None:
    """Called by the child once every socket is open."""
    health = os.environ.get(HEALTH_ENV)
    if health:
        import json

        argv = sys.argv[1:]
        token = next((a.split("=", 1)[1] for a in argv if a.startswith("--token-bestand=")), None)
        if token is None and "--token-bestand" in argv[:-1]:
            token = argv[argv.index("--token-bestand") + 1]
        tmp = f"{health}.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump({"url": url, "token_bestand": token}, f)
        os.replace(tmp, health)
    print(f"{READY} {url}", flush=True)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One default TLS context per process for every control client: httpx
    otherwise loads the CA bundle for each (50-140 ms a party on a keten of 26),
    though the control API is plain HTTP on loopback."""
    return ssl.create_default_context()


class ControlClient:
    """A running party seen through its control API: what every backend's
    handle shares (processes here, containers in simulators.containers)."""

    name: str
    token: str
    client: httpx.Client | None = None

    def _connect(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT, verify=_tls_context(),
                                   headers={"Authorization": f"Bearer {self.token}"})

    # -- control API ----------------------------------------------------------
    def get(self, path: str, missing_ok: bool = False, **params):
        """GET a control route; with missing_ok a 404 gives None.

        A long poll's ``timeout`` is a give-up bound on an event: it is
        stretched by the machine's load (simulators.wachten), and the request
        itself may take that long plus the party's own answering time."""
        factor = load_factor()
        waits = 0.0
        try:
            asked = float(params["timeout"])
        except (KeyError, ValueError):
            asked = math.nan
        if math.isfinite(asked) and asked >= 0:  # anything else: the party refuses it with its own message
            waits = min(asked * factor, MAX_TIMEOUT)
            params["timeout"] = f"{waits:g}"
        return self._check(self._send("GET", path, waits + REQUEST_TIMEOUT * factor, params=params),
                           missing_ok=missing_ok)

    def post(self, path: str, body: dict | None = None, refusal_ok: bool = False):
        """POST to a control route; with refusal_ok a 422 (the party refused
        the request, e.g. an invalid melding) gives its JSON instead of raising."""
        return self._check(self._send("POST", path, REQUEST_TIMEOUT * load_factor(), json=body or {}),
                           refusal_ok=refusal_ok)

    def _send(self, method: str, path: str, timeout: float, **kwargs) -> httpx.Response:
        try:
            return self.client.request(method, path, timeout=timeout, **kwargs)
        except httpx.TimeoutException:
            raise InfrastructureError(f"{self.name} antwoordde niet binnen {timeout:.0f} s op {method} {path}",
                                      "de partij hangt of de machine is zwaar overbelast; zie de log van de partij"
                                      ) from None

    def _check(self, response: httpx.Response, missing_ok: bool = False, refusal_ok: bool = False):
        data = response.json()
        if missing_ok and response.status_code == 404:
            return None
        if refusal_ok and response.status_code == 422:
            return data
        if response.status_code >= 400:
            raise InfrastructureError(f"{self.name}: {data.get('fout', response.text)}", data.get("wat_te_doen", ""))
        return data

    def _disconnect(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def log_text(self, lines: int = 400) -> str:
        """The last lines the party wrote (for a failed scenario's report)."""
        return "\n".join(list(self.log)[-lines:])


class SimulatorProcess(ControlClient):
    """Context manager around ``python -m <module> <args>``."""

    def __init__(self, name: str, module: str, args: list[str], token: str, ready_timeout: float = 30.0) -> None:
        self.name, self.module, self.args = name, module, args
        self.token = token  # the run's control API secret (simulators.control.new_token)
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.log: deque[str] = deque(maxlen=2000)
        self.client: httpx.Client | None = None

    def __enter__(self) -> "SimulatorProcess":
        self.spawn()
        return self.ready()

    def spawn(self) -> None:
        """Start the process, without waiting for it. Call it from the thread
        that lives as long as the keten: PR_SET_PDEATHSIG fires when the
        *thread* that started the child ends."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", self.module, *self.args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                     preexec_fn=die_with_parent)

    def ready(self) -> "SimulatorProcess":
        """Wait until the spawned process says it is up (any thread may wait)."""
        try:
            self._await_ready()
        except BaseException:
            self.close()
            raise
        self._connect(self.url)
        return self

    def _await_ready(self) -> None:
        assert self.proc and self.proc.stdout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = StartupDeadline(self.ready_timeout)  # the bound grows with the machine's load
        try:
            while True:
                left = deadline.left()
                if left <= 0:
                    raise InfrastructureError(f"simulator {self.name} kwam niet op binnen {deadline.describe()}",
                                              "log: " + " | ".join(list(self.log)[-8:]))
                if not sel.select(min(left, 1.0)):  # re-read the load each second
                    continue
                line = self.proc.stdout.readline()
                if not line:
                    self.proc.wait()
                    tail = "\n    ".join(list(self.log)[-12:])
                    raise InfrastructureError(f"simulator {self.name} stopte bij het opstarten (code {self.proc.returncode}):\n    {tail}",
                                              "lees de melding hierboven; vaak is een adres al in gebruik")
                line = line.rstrip("\n")
                if line.startswith(READY + " "):
                    self.url = line.split(" ", 1)[1]
                    break
                self.log.append(line)
        finally:
            sel.close()

        def drain() -> None:
            for line in self.proc.stdout:
                self.log.append(line.rstrip("\n"))

        threading.Thread(target=drain, name=f"log-{self.name}", daemon=True).start()

    def close(self) -> None:
        self._disconnect()
        stop_process(self.proc, grace=10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash: no clean shutdown, only what is on disk stays."""
        self._disconnect()
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        """Start again with the same command line (and so the same data folder)."""
        self.kill()
        self.__enter__()

    def __exit__(self, *exc) -> None:
        self.close()
