"""The whole simulated keten, as the harness drives it: the simulated internet
in this process, the police postkantoor and every meldpunt each in their own
process, and the keten clock kept in step across all of them.

    with KetenSimulatie(keten, pki, workdir) as sim:
        result = sim.politie.post("/meldingen", {"melding": melding.to_dict()})
        sim.wait_for(result["kenmerk"], "bezorgd en bevestigd")
"""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path

import datetime as dt
from dataclasses import asdict

from ketentest.clock import UTC, add_werkdagen
from ketentest.errors import InfrastructureError, KetenConfigError
from ketentest.melding import Melding
from ketentest.dns import LIVE_RESOLVER_ENV, SplitResolver, live_domains
from ketentest.model import Deelnemer, Keten
from ketentest.verzending import OntvangenBericht, Verzending
from simulators.control import new_token
from simulators.internet import SimulatedInternet
from simulators.partijen import PartySpec, RunPaths, deelnemer_parties
from simulators.pki import Pki
from simulators.process import ControlClient, SimulatorProcess


def keten_argument(keten: Keten) -> str:
    """How a child process finds the same keten: its file, or its built-in name."""
    if keten.source.startswith("ingebouwd:"):
        return keten.source.removeprefix("ingebouwd:")
    if not Path(keten.source).is_file():
        raise InfrastructureError(f"keten {keten.naam} komt niet uit een bestand ({keten.source})",
                                  "schrijf de keten naar een YAML-bestand en laad hem daaruit")
    return keten.source


def _signal_all(handles) -> None:
    """SIGTERM to every party process still running, without waiting."""
    for h in handles:
        proc = getattr(h, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()


#: Stand-in files for the live resolver of a hybrid keten (tests; 'ketentest run --root-hints/--sleutelanker').
ROOT_HINTS_ENV = "KETENTEST_ROOT_HINTS"
TRUST_ANCHOR_ENV = "KETENTEST_SLEUTELANKER"


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


class EchteDeelnemer(Exception):
    """A deelnemer of the keten is real (``echt``): the harness runs no
    simulator for it, so it has no control API, switches or clock to drive.
    Scenarios that need one are not applicable to it (issue 15)."""

    def __init__(self, deelnemer: Deelnemer) -> None:
        self.deelnemer = deelnemer
        super().__init__(f"{deelnemer.naam} ({deelnemer.id}) is een echte deelnemer: de ketentest draait er geen "
                         "simulator voor, dus er is geen besturings-API, schakelaar of klok om te bedienen; een "
                         "scenario dat dat vraagt is voor deze deelnemer niet van toepassing")


class ProcessBackend:
    """Every party as a local process; the simulated internet in the harness's
    own process (the default)."""

    name = "processen"
    #: A child's PR_SET_PDEATHSIG fires when the *thread* that started it
    #: ends: every process is spawned from the calling thread, and only the
    #: waits for their start-up run side by side (SimulatorProcess.spawn/ready).
    parallel_start = False
    spawn_then_wait = True

    def token(self, workdir: Path) -> tuple[str, Path]:
        return new_token(workdir)

    def paths(self, keten: Keten, pki: Pki, workdir: Path, token_file: Path) -> RunPaths:
        return RunPaths(keten_argument(keten), str(pki.cache_dir), str(token_file), str(workdir))

    def start(self, spec: PartySpec, token: str) -> SimulatorProcess:
        """The party's handle, not started yet: entering it starts the process."""
        return SimulatorProcess(spec.name, spec.module, list(spec.args), token)

    def internet(self, keten: Keten, pki: Pki) -> SimulatedInternet:
        return SimulatedInternet(keten, pki)

    def man_in_the_middle(self, ip: str, upstream: str, token: str, paths: RunPaths | None):
        """The STARTTLS stripper, in the harness's own process (context manager)."""
        from simulators.aanvaller import StarttlsStripper

        return StarttlsStripper(ip, upstream)

    def close(self) -> None:
        pass


def backend_named(name: str | None, progress=print):
    """``processen`` (default) or ``containers`` (simulators/containers/)."""
    if name in (None, "", "processen", "processes"):
        return ProcessBackend()
    if name == "containers":
        from simulators.containers.backend import ContainerBackend

        return ContainerBackend.from_env(progress=progress)
    raise KetenConfigError("--backend", "backend", f"onbekende backend {name!r}",
                           "kies 'processen' (standaard) of 'containers'")


class KetenSimulatie:
    def __init__(self, keten: Keten, pki: Pki, workdir: Path | None = None, internet: SimulatedInternet | None = None,
                 backend: ProcessBackend | None = None, root_hints: Path | str | None = None,
                 trust_anchor: Path | str | None = None) -> None:
        self.keten = keten
        # A hybrid keten's live resolver: the real root, or a stand-in's files (also from the environment).
        self.root_hints = root_hints or os.environ.get(ROOT_HINTS_ENV) or None
        self.trust_anchor = trust_anchor or os.environ.get(TRUST_ANCHOR_ENV) or None
        self.live = None  # ketentest.checks.runner.EchtResolver, when the keten has real deelnemers
        self.pki = pki
        self.backend = backend or ProcessBackend()
        self._stack = ExitStack()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="ketentest-"))
        self.internet = internet
        self.politie: ControlClient | None = None
        self.meldpunten: dict[str, ControlClient] = {}
        #: Switches that are a party's configuration (a defect's), kept across a restart.
        self.configuratie: dict[str, dict] = {}

    def __enter__(self) -> "KetenSimulatie":
        for d in self.keten.deelnemers:
            if d.domain.null_mx:  # its simulator has no mail server to run
                raise KetenConfigError(self.keten.source, f"{d.id}.maildomein.null_mx",
                                       "een deelnemer met een null MX ontvangt geen mail, dus de keten kan niet "
                                       "draaien (geen meldingen, geen ontvangstbevestigingen)",
                                       "geef de deelnemer MX-hosts voor een ketenrun; een null MX toetsen kan met "
                                       "'ketentest check'")
        # One secret per run, for every party's control API (docs/besturings-api.md).
        self.token, self.token_file = self.backend.token(self.workdir)
        try:
            if self.internet is None:
                self.internet = self._stack.enter_context(self.backend.internet(self.keten, self.pki))
            if live_domains(self.keten):
                self._start_live_resolver()
            paths = self.backend.paths(self.keten, self.pki, self.workdir, self.token_file)
            for spec, handle in self._start_all(deelnemer_parties(self.keten, paths)):
                if spec.role == "politie":
                    self.politie = handle
                else:
                    self.meldpunten[spec.name] = handle
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start_live_resolver(self) -> None:
        """Real deelnemers are looked up on the internet (issue 15): the
        resolver one of them names, else a local Unbound from the real root
        (or a stand-in's). The parties learn its address from the
        environment and split their look-ups by domain (ketentest.dns.keten_resolver)."""
        from ketentest.checks.runner import resolver_for_echt

        self.live = self._stack.enter_context(resolver_for_echt(self.keten, root_hints=self.root_hints,
                                                                trust_anchor=self.trust_anchor))
        before = os.environ.get(LIVE_RESOLVER_ENV)
        r = self.live.resolver
        os.environ[LIVE_RESOLVER_ENV] = f"[{r.address}]:{r.port}" if ":" in r.address else f"{r.address}:{r.port}"
        self._stack.callback(_restore_env, LIVE_RESOLVER_ENV, before)

    @property
    def resolver(self):
        """What the harness's own checks ask: the keten's Unbound, split with
        the live resolver for real deelnemers' domains."""
        if self.live is None:
            return self.internet.resolver
        return SplitResolver(self.internet.resolver, self.live.resolver, live_domains(self.keten))

    def _start_all(self, specs: list[PartySpec]) -> list[tuple[PartySpec, ControlClient]]:
        """Start the parties side by side (they do not wait for each other);
        each one that came up is stopped with the keten, also when another failed."""
        from concurrent.futures import ThreadPoolExecutor

        handles = [self.backend.start(spec, self.token) for spec in specs]
        spawn_first = getattr(self.backend, "spawn_then_wait", False)
        workers = len(handles) if spawn_first or getattr(self.backend, "parallel_start", False) else 1
        if workers == 1:
            for h in handles:
                self._stack.enter_context(h)
            return list(zip(specs, handles))
        if spawn_first:
            for h in handles:  # all from this thread (PR_SET_PDEATHSIG), none waited for yet
                self._stack.callback(h.close)
                h.spawn()
            self._stack.callback(_signal_all, handles)  # runs first: they stop side by side, then each is reaped
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="start") as pool:
            futures = [pool.submit(h.ready if spawn_first else h.__enter__) for h in handles]
            failures = []
            for h, f in zip(handles, futures):
                try:
                    f.result()
                    if not spawn_first:  # a spawned one is already on the stack
                        self._stack.push(h.__exit__)
                except BaseException as e:  # noqa: BLE001 - the first is raised below, after all are done
                    failures.append(e)
        if failures:
            raise failures[0]
        return list(zip(specs, handles))

    @property
    def processes(self) -> list[ControlClient]:
        """Every party's handle (a process or a container)."""
        return [p for p in (self.politie, *self.meldpunten.values()) if p is not None]

    def meldpunt(self, ident: str) -> ControlClient:
        """A simulated meldpunt's handle; :class:`EchteDeelnemer` for a real one."""
        deelnemer = self.keten.deelnemer(ident)
        if not deelnemer.simulated:
            raise EchteDeelnemer(deelnemer)
        return self.meldpunten[deelnemer.id]

    def man_in_the_middle(self, ip: str, upstream: str):
        """A STARTTLS-stripping man in the middle on ``ip`` in front of the
        MX at ``upstream`` (S05), started: in this process, or as a container."""
        paths = self.backend.paths(self.keten, self.pki, self.workdir, self.token_file)
        return self.backend.man_in_the_middle(ip, upstream, self.token, paths).__enter__()

    def party_id(self, ident: str) -> str:
        """A deelnemer's id; 'politie' names the police whatever its id."""
        return self.keten.politie.id if ident == "politie" else self.keten.deelnemer(ident).id

    def party(self, ident: str) -> ControlClient:
        """A simulated party's handle; :class:`EchteDeelnemer` for a real one."""
        pid = self.party_id(ident)
        deelnemer = self.keten.deelnemer(pid)
        if not deelnemer.simulated:
            raise EchteDeelnemer(deelnemer)
        return self.politie if pid == self.keten.politie.id else self.meldpunten[pid]

    def configure(self, ident: str, switches: dict) -> None:
        """Set switches that stand for a party's configuration (a defect's):
        unlike a scenario's switches, a restarted party comes back with them."""
        self.party(ident).post("/schakelaars", switches)
        self.configuratie.setdefault(self.party_id(ident), {}).update(switches)

    def reset(self) -> None:
        """Every switch back to healthy and the DNS as the keten describes it.
        (The keten clock only moves forward; meldingen already made stay.)"""
        self.configuratie.clear()
        if self.politie is not None:  # None: the police are real
            self.politie.post("/schakelaars/herstel")
        for p in self.meldpunten.values():
            p.post("/schakelaars/herstel")
        self.internet.reset()

    def advance(self, seconds: float) -> None:
        """Move the keten clock forward in every simulator."""
        for p in self.processes:
            p.post("/klok", {"vooruit": seconds})

    def submit(self, melding: dict) -> dict:
        """Hand a melding to the postkantoor. A refusal (invalid melding, no
        meldpunt for the postcode) comes back as {"fout": ..., "wat_te_doen": ...}."""
        return self.politie.post("/meldingen", {"melding": melding}, refusal_ok=True)

    def verzending(self, melding: Melding, submitted: dict | None = None) -> Verzending:
        """Everything the keten knows about one melding, for the V-checks."""
        kenmerk = melding.kenmerk
        observed = self.now()
        if submitted is not None and "fout" in submitted:
            return Verzending(melding, geweigerd=submitted["fout"], aannames=asdict(self.keten.aannames),
                              waargenomen_op=observed)
        entry = self.politie.get(f"/meldingen/{kenmerk}", missing_ok=True)
        meldpunt_id = entry.get("meldpunt") if entry else None
        ontvangst, berichten, uitgaand = None, (), ()
        if meldpunt_id in self.meldpunten:
            mp = self.meldpunten[meldpunt_id]
            ontvangst = mp.get(f"/meldingen/{kenmerk}", missing_ok=True)
            if ontvangst:
                berichten = tuple(OntvangenBericht.from_api(b) for b in ontvangst.pop("berichten", []))
            uitgaand = tuple(e for e in mp.get("/uitgaand") if e["kenmerk"].split(".")[0] == kenmerk)
        return Verzending(melding, None, meldpunt_id, entry or None, ontvangst or None, berichten, uitgaand,
                          asdict(self.keten.aannames), observed)

    def wait_for(self, kenmerk: str, *statuses: str, timeout: float = 60.0) -> dict:
        """Block until the postkantoor reports one of statuses for kenmerk
        (a long poll: the postkantoor answers on the state change)."""
        return self.politie.get(f"/meldingen/{kenmerk}/wacht", status=",".join(statuses), timeout=str(timeout))

    def doorloop(self, melding: Melding, timeout: float = 30.0, tussendoor=None) -> Verzending:
        """Submit a melding and drive the keten clock through the protocol's
        time windows (confirmation, terugkoppeling), then collect its journey.

        The clock jumps exactly to the end of each window the afspraken allow,
        so a late reply is simply not there yet when the checks look.
        ``tussendoor(kenmerk)`` runs right after the submission, while the
        first delivery may be under way (e.g. a crash, :meth:`herstart`)."""
        a = self.keten.aannames
        submitted = self.submit(melding.to_dict())
        if "fout" in submitted:
            return self.verzending(melding, submitted)
        kenmerk = submitted["kenmerk"]
        if tussendoor is not None:
            tussendoor(kenmerk)
        settled = {"bezorgd", "onbestelbaar", "bezorgd en bevestigd"}
        # Retries happen on the keten clock: run it until the melding is settled
        # (at the latest when the retry period is over).
        self.run_until(self.now() + a.herhalen_uren * 3600 + 3600,
                       stop=lambda: self.politie.get(f"/meldingen/{kenmerk}")["status"] in settled)
        state = self.wait_for(kenmerk, *settled, timeout=timeout)
        if state["status"] == "onbestelbaar":
            return self.verzending(melding, submitted)
        meldpunt = self.meldpunt(submitted["meldpunt"])
        arrived = meldpunt.get(f"/meldingen/{kenmerk}/wacht", timeout=str(timeout))
        if arrived["geregistreerd"]:
            delivered_at = self.politie.get(f"/meldingen/{kenmerk}")["delivered_at"]
            self.run_until(delivered_at + a.bevestiging_minuten * 60)
            if self._outbound_delivered(meldpunt, f"{kenmerk}.bevestiging"):
                self.wait_for(kenmerk, "bezorgd en bevestigd", timeout=timeout)
            deadline = add_werkdagen(dt.datetime.fromtimestamp(delivered_at, UTC), a.terugkoppeling_werkdagen)
            self.run_until(deadline.timestamp())
            if self._outbound_delivered(meldpunt, f"{kenmerk}.terugkoppeling"):
                self.politie.get(f"/meldingen/{kenmerk}/wacht", status="bezorgd,bezorgd en bevestigd",
                                 terugkoppelingen="1", timeout=str(timeout))
        return self.verzending(melding, submitted)

    def opnieuw(self, verzending: Verzending, timeout: float = 30.0) -> Verzending:
        """The postkantoor sends the same melding again (same kenmerk, same
        message); returns the journey once the meldpunt has it twice."""
        kenmerk = verzending.kenmerk
        again = self.politie.post(f"/meldingen/{kenmerk}/opnieuw")
        self.run_until(self.now() + 3600, stop=lambda: self.politie.get(f"/meldingen/{again['herzending']}")["status"]
                       in ("bezorgd", "onbestelbaar"))
        if self.politie.get(f"/meldingen/{again['herzending']}")["status"] == "bezorgd":
            self.meldpunt(verzending.meldpunt_id).get(f"/meldingen/{kenmerk}/wacht", ontvangen="2", timeout=str(timeout))
        self.run_until(self.now() + self.keten.aannames.bevestiging_minuten * 60)
        return self.verzending(verzending.melding, {"kenmerk": kenmerk})

    def now(self) -> float:
        return dt.datetime.fromisoformat(self.politie.get("/klok")["nu"]).timestamp()

    def herstart(self, ident: str) -> None:
        """Crash a meldpunt (SIGKILL: no clean shutdown) and start it again on
        its own durable data (its folder, or its container's volume); its new
        keten clock is brought level with the rest of the keten."""
        party = self.meldpunt(ident)
        party.restart()
        if self.party_id(ident) in self.configuratie:
            party.post("/schakelaars", self.configuratie[self.party_id(ident)])
        behind = self.now() - dt.datetime.fromisoformat(party.get("/klok")["nu"]).timestamp()
        if behind > 0:
            party.post("/klok", {"vooruit": behind})

    def run_until(self, when: float, timeout: float = 30.0, stop=lambda: False) -> None:
        """Discrete-event run of the keten clock up to ``when``: jump to each
        party's next scheduled attempt in turn, letting every party finish its
        work in between, so each event happens at its own keten time."""
        for _ in range(100_000):
            due = []
            for p in self.processes:
                state = p.get("/rust", timeout=str(timeout))
                if not state["rustig"]:
                    raise InfrastructureError(f"{p.name} kwam niet tot rust binnen {timeout:.0f} s (maal de belasting van de machine)",
                                              "een bezorgpoging hangt; zie de log van de simulator")
                if state["volgende"] is not None:
                    due.append(state["volgende"])
            if stop():
                return
            step = min([*due, when])
            now = self.now()
            if step > now:
                self.advance(step - now)
            if step >= when:
                for p in self.processes:
                    p.get("/rust", timeout=str(timeout))
                return
        raise InfrastructureError("de ketenklok bleef gebeurtenissen vinden", "meld dit als fout in de ketentest")

    @staticmethod
    def _outbound_delivered(party: ControlClient, key: str) -> bool:
        return any(e["kenmerk"] == key and e["delivered_at"] is not None for e in party.get("/uitgaand"))

    def __exit__(self, *exc) -> None:
        self._stack.close()
        if self._own_workdir:
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)
