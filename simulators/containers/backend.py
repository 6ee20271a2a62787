"""The container backend: every party of a keten in its own container, on the
Docker API (Docker Engine, or Podman's Docker API through ``DOCKER_HOST``).

    backend = ContainerBackend.from_env()
    with KetenSimulatie(keten, pki, backend=backend) as sim: ...

Each party runs as ``simulators.rol <role>`` in the ketentest image with host
networking, on its own loopback address (traffic stays on 127.x), as the
image's unprivileged user with only CAP_NET_BIND_SERVICE. The PKI and the
control token are copied per run and mounted read-only; each party's durable
data (queues, Maildir) is a named volume. Everything the backend makes carries
the label ``ketentest.run=<run id>``, so :func:`opruimen` can remove what an
interrupted run left behind.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

from ketentest.errors import InfrastructureError
from ketentest.model import Keten
from simulators.control import new_token
from simulators.partijen import CONTAINER_PATHS, PartySpec, RunPaths, stripper_party
from simulators.containers.mounts import container_user, fill_pki, prepare_mounts
from simulators.pki import Pki
from simulators.process import READY, ControlClient
from simulators.wachten import StartupDeadline

RUN_LABEL = "ketentest.run"
PARTY_LABEL = "ketentest.partij"
#: The image's health check (docker/Dockerfile HEALTHCHECK), run once by the
#: backend at start and then by Docker every HEALTH_INTERVAL_NS.
HEALTH_COMMAND = ["/opt/ketentest/bin/python", "-m", "simulators.gezond"]
HEALTH_INTERVAL_NS = 10_000_000_000


def new_run_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)


class SimulatorContainer(ControlClient):
    """One party in a container; the same control API as a process."""

    def __init__(self, backend: "ContainerBackend", spec: PartySpec, token: str) -> None:
        self.backend, self.spec, self.token = backend, spec, token
        self.name = spec.name
        self.url = ""
        self.container = None
        self.log: deque[str] = deque(maxlen=2000)
        self._ready = threading.Event()
        self._ended = threading.Event()

    # -- life cycle ------------------------------------------------------------
    def __enter__(self) -> "SimulatorContainer":
        self.start()
        return self

    def start(self) -> None:
        # New events per container: the log stream of a killed predecessor may end later (Podman).
        self._ready, self._ended = threading.Event(), threading.Event()
        self.container = self.backend.create(self.spec)
        self.container.start()
        threading.Thread(target=self._follow_logs, args=(self.container, self._ready, self._ended),
                         name=f"log-{self.name}", daemon=True).start()
        try:
            self._await_ready()
            self._connect(self.url)
            self._await_healthy()
        except BaseException:
            self.close()
            raise

    def _follow_logs(self, container, ready: threading.Event, ended: threading.Event) -> None:
        """Every log line into self.log; the 'KLAAR <url>' line is the ready event."""
        try:
            for chunk in container.logs(stream=True, follow=True):
                for line in chunk.decode("utf-8", "replace").splitlines():
                    if line.startswith(READY + " ") and not ready.is_set():
                        self.url = line.split(" ", 1)[1].strip()
                        ready.set()
                    else:
                        self.log.append(line)
        except Exception as e:  # the engine went away: the waiters below report it
            self.log.append(f"(logstroom afgebroken: {e})")
        finally:
            ended.set()

    def _await_ready(self) -> None:
        deadline = StartupDeadline(30.0)
        while not self._ready.is_set():
            if self._ended.is_set() and not self._ready.is_set():
                state = self._state()
                tail = "\n    ".join(list(self.log)[-12:])
                raise InfrastructureError(
                    f"container {self.name} stopte bij het opstarten ({state}):\n    {tail}",
                    "lees de melding hierboven; 'docker logs' van de container geeft de rest")
            if deadline.left() <= 0:
                raise InfrastructureError(f"container {self.name} kwam niet op binnen {deadline.describe()}",
                                          "log: " + " | ".join(list(self.log)[-8:]))
            self._ready.wait(min(0.5, max(deadline.left(), 0.01)))

    def _await_healthy(self) -> None:
        """Run the image's health check (the HEALTHCHECK command) once, now:
        Docker's own periodic check only starts after its interval."""
        code, output = self.container.exec_run(HEALTH_COMMAND)
        if code != 0:
            raise InfrastructureError(f"container {self.name} is niet gezond: {output.decode('utf-8', 'replace').strip()}",
                                      "log: " + " | ".join(list(self.log)[-8:]))

    def _state(self) -> str:
        try:
            self.container.reload()
            s = self.container.attrs["State"]
            return f"status {s.get('Status')}, code {s.get('ExitCode')}"
        except Exception:
            return "status onbekend"

    def kill(self) -> None:
        """SIGKILL, as a crash; the container and its volume stay."""
        self._disconnect()
        if self.container is not None:
            try:
                self.container.kill()
                self.container.wait(timeout=30)
            except Exception:
                pass

    def restart(self) -> None:
        """A new container for the same party, on the same volume: what a
        crashed party comes back with is exactly what it had on disk."""
        self.kill()
        self.backend.remove(self.container)
        self.start()

    def close(self) -> None:
        self._disconnect()
        if self.container is not None:
            self.backend.remove(self.container, grace=10)
            self.container = None

    def __exit__(self, *exc) -> None:
        self.close()


class ContainerBackend:
    """Starts parties as containers of one run; removes all of them (and the
    run's volumes) on close, also after an error."""

    name = "containers"
    parallel_start = True  # the engine starts them; nothing is tied to the starting thread

    def __init__(self, client, image: str, run_id: str | None = None) -> None:
        self.client = client
        self.image = image
        self.run_id = run_id or new_run_id()
        self.mounts: dict[str, dict] = {}
        self._handles: list[SimulatorContainer] = []
        self._dir: Path | None = None  # the run's copies (token, PKI, keten file)
        self._token: tuple[str, Path] | None = None
        self._prepared_for: Keten | None = None

    # -- the KetenSimulatie backend interface (see simulators.keten.ProcessBackend) --
    def _run_dir(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix=f"ketentest-containers-{self.run_id}-"))
        return self._dir

    def token(self, workdir: Path | None = None) -> tuple[str, Path]:
        """One control token for every container of the run (DNS roles included)."""
        if self._token is None:
            self._token = new_token(self._run_dir() / "token")
        return self._token

    def paths(self, keten: Keten, pki: Pki, workdir: Path | None, token_file: Path) -> RunPaths:
        if self._prepared_for != keten:
            self.prepare(keten, pki, token_file, self._run_dir())
            self._prepared_for = keten
        return replace(CONTAINER_PATHS, keten=self.keten_argument(keten))

    def internet(self, keten: Keten, pki: Pki):
        """The DNS authority and the Unbound resolver as containers."""
        from simulators.internet import InternetParties

        token, token_file = self.token()
        paths = self.paths(keten, pki, None, token_file)
        return InternetParties(keten, pki, start=lambda spec: self.start(spec, token).__enter__(), paths=paths)

    @classmethod
    def from_env(cls, progress=print) -> "ContainerBackend":
        from simulators.containers.image import docker_client, ensure_image

        client = docker_client()
        return cls(client, ensure_image(client, progress=progress))

    # -- what every container of the run shares ---------------------------------
    def prepare(self, keten: Keten, pki: Pki, token_file: Path, workdir: Path) -> None:
        """Copy the keten file, the PKI (every key made first) and the token
        into the run's folder, readable by the image's user; mount them read-only."""
        fill_pki(keten, pki.cache_dir)
        run_dir = Path(workdir) / f"containers-{self.run_id}"
        pki_dir, token = prepare_mounts(pki.cache_dir, token_file, run_dir)
        mounts = {str(pki_dir): {"bind": CONTAINER_PATHS.pki, "mode": "ro"},
                  str(token): {"bind": CONTAINER_PATHS.token, "mode": "ro"}}
        if Path(keten.source).is_file():
            keten_file = run_dir / "keten.yaml"
            shutil.copyfile(keten.source, keten_file)
            keten_file.chmod(0o444)
            mounts[str(keten_file)] = {"bind": CONTAINER_PATHS.keten, "mode": "ro"}
        self.mounts = mounts

    def keten_argument(self, keten: Keten) -> str:
        """How a container names the keten: its mounted file, or a built-in name."""
        if keten.source.startswith("ingebouwd:"):
            return keten.source.removeprefix("ingebouwd:")
        return CONTAINER_PATHS.keten

    # -- containers -------------------------------------------------------------
    def start(self, spec: PartySpec, token: str) -> SimulatorContainer:
        """The party's handle, not started yet: entering it starts the container."""
        handle = SimulatorContainer(self, spec, token)
        self._handles.append(handle)
        return handle

    def man_in_the_middle(self, ip: str, upstream: str, token: str, paths: RunPaths):
        """The STARTTLS stripper (role ``stripper``) as a container of this run."""
        return self.start(stripper_party(ip, upstream, paths), token)

    def volume_name(self, spec: PartySpec) -> str:
        return f"ketentest-{self.run_id}-{spec.name}"

    def create(self, spec: PartySpec):
        labels = {RUN_LABEL: self.run_id, PARTY_LABEL: spec.name}
        volumes = dict(self.mounts)
        if "--data" in spec.args:
            vol = self.volume_name(spec)
            if not self._volume_exists(vol):
                self.client.volumes.create(name=vol, labels=labels)
            volumes[vol] = {"bind": CONTAINER_PATHS.data, "mode": "rw"}
        name = f"ketentest-{self.run_id}-{spec.name}"
        try:  # a container of this party that crashed earlier in this run
            self.client.containers.get(name).remove(force=True)
        except Exception:
            pass
        healthcheck = {"test": ["CMD", *HEALTH_COMMAND], "interval": HEALTH_INTERVAL_NS, "timeout": 5_000_000_000,
                       "retries": 3, "start_period": 60_000_000_000}
        try:
            return self.client.containers.create(
                self.image, command=[spec.role, *spec.args], name=name, labels=labels, network_mode="host",
                volumes=volumes, cap_drop=["ALL"], cap_add=["NET_BIND_SERVICE"], healthcheck=healthcheck,
                environment={"PYTHONUNBUFFERED": "1"}, init=True, user=container_user())
        except Exception as e:
            raise InfrastructureError(f"container voor {spec.name} kon niet worden gemaakt: {e}",
                                      "controleer of het image bestaat ('ketentest image') en de engine draait") from None

    def _volume_exists(self, name: str) -> bool:
        try:
            self.client.volumes.get(name)
            return True
        except Exception:
            return False

    def remove(self, container, grace: float = 10) -> None:
        try:
            container.stop(timeout=int(grace))
        except Exception:
            pass
        try:
            container.remove(force=True, v=True)  # v: the anonymous /data volume of a role without its own
        except Exception:
            pass

    def close(self) -> None:
        for h in reversed(self._handles):
            h.close()
        self._handles.clear()
        opruimen(self.client, self.run_id)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def opruimen(client, run_id: str | None = None) -> tuple[list[str], list[str]]:
    """Remove the containers and volumes of one run (or of every ketentest
    run); returns their names. Used at the end of a run and by ``ketentest opruimen``."""
    selector = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL
    containers, volumes = [], []
    for c in client.containers.list(all=True, filters={"label": selector}):
        c.remove(force=True, v=True)
        containers.append(c.name)
    for v in client.volumes.list(filters={"label": selector}):
        v.remove(force=True)
        volumes.append(v.name)
    return containers, volumes


def leftovers(client, run_id: str | None = None) -> dict[str, list[str]]:
    """What a run left: containers, volumes and networks with its label."""
    selector = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL
    return {"containers": [c.name for c in client.containers.list(all=True, filters={"label": selector})],
            "volumes": [v.name for v in client.volumes.list(filters={"label": selector})],
            "netwerken": [n.name for n in client.networks.list(filters={"label": selector})]}
