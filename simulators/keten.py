"""The whole simulated keten, as the harness drives it: the simulated internet
in this process, the police postkantoor and every meldpunt each in their own
process, and the keten clock kept in step across all of them.

    with KetenSimulatie(keten, pki, workdir) as sim:
        result = sim.politie.post("/meldingen", {"melding": melding.to_dict()})
        sim.wait_for(result["kenmerk"], "bezorgd en bevestigd")
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

from dataclasses import asdict

from ketentest.errors import InfrastructureError
from ketentest.melding import Melding
from ketentest.model import Keten
from ketentest.verzending import OntvangenBericht, Verzending
from simulators.internet import SimulatedInternet
from simulators.pki import Pki
from simulators.process import SimulatorProcess

CONTROL_PORT = 8025


def keten_argument(keten: Keten) -> str:
    """How a child process finds the same keten: its file, or its built-in name."""
    if keten.source.startswith("ingebouwd:"):
        return keten.source.removeprefix("ingebouwd:")
    if not Path(keten.source).is_file():
        raise InfrastructureError(f"keten {keten.naam} komt niet uit een bestand ({keten.source})",
                                  "schrijf de keten naar een YAML-bestand en laad hem daaruit")
    return keten.source


class KetenSimulatie:
    def __init__(self, keten: Keten, pki: Pki, workdir: Path | None = None, internet: SimulatedInternet | None = None) -> None:
        self.keten = keten
        self.pki = pki
        self._stack = ExitStack()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="ketentest-"))
        self.internet = internet
        self.politie: SimulatorProcess | None = None
        self.meldpunten: dict[str, SimulatorProcess] = {}

    def _args(self, deelnemer_id: str) -> list[str]:
        return ["--keten", keten_argument(self.keten), "--id", deelnemer_id,
                "--data", str(self.workdir / deelnemer_id), "--pki", str(self.pki.cache_dir),
                "--control-port", str(CONTROL_PORT)]

    def __enter__(self) -> "KetenSimulatie":
        try:
            if self.internet is None:
                self.internet = self._stack.enter_context(SimulatedInternet(self.keten, self.pki))
            self.politie = self._stack.enter_context(
                SimulatorProcess("politie", "simulators.politie", self._args(self.keten.politie.id)))
            for m in self.keten.meldpunten:
                self.meldpunten[m.id] = self._stack.enter_context(
                    SimulatorProcess(m.id, "simulators.meldpunt", self._args(m.id)))
        except BaseException:
            self._stack.close()
            raise
        return self

    @property
    def processes(self) -> list[SimulatorProcess]:
        return [p for p in (self.politie, *self.meldpunten.values()) if p is not None]

    def meldpunt(self, ident: str) -> SimulatorProcess:
        return self.meldpunten[self.keten.deelnemer(ident).id]

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
        if submitted is not None and "fout" in submitted:
            return Verzending(melding, geweigerd=submitted["fout"], aannames=asdict(self.keten.aannames))
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
                          asdict(self.keten.aannames))

    def wait_for(self, kenmerk: str, *statuses: str, timeout: float = 60.0) -> dict:
        """Block until the postkantoor reports one of statuses for kenmerk
        (a long poll: the postkantoor answers on the state change)."""
        return self.politie.get(f"/meldingen/{kenmerk}/wacht", status=",".join(statuses), timeout=str(timeout))

    def __exit__(self, *exc) -> None:
        self._stack.close()
        if self._own_workdir:
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)
