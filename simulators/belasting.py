"""A load run through the whole simulated keten: many meldingen while the
meldpunten answer 4xx and drop connections at random (seeded), then the
tally that V06 and V09 ask for — every melding in exactly one final state,
none lost, none delivered twice."""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ketentest.synth import generate_meldingen
from simulators.keten import KetenSimulatie

FINAL = {"bezorgd en bevestigd", "onbestelbaar"}


@dataclass(frozen=True)
class Belastingsresultaat:
    aantal: int
    eindtoestanden: dict[str, int]  # final state -> count
    niet_afgerond: tuple[str, ...]  # kenmerken without a final state (lost)
    dubbel_bezorgd: tuple[str, ...]  # kenmerken delivered more than once
    dubbel_geregistreerd: tuple[str, ...]  # kenmerken a meldpunt received or registered more than once
    niet_geregistreerd: tuple[str, ...]  # delivered but not registered by any meldpunt
    pogingen: dict[int, int]  # attempts per melding -> how many meldingen
    fouten_ingezet: dict[str, int] = field(default_factory=dict)  # fault switches set, per kind
    seconden: float = 0.0

    @property
    def in_orde(self) -> bool:
        return not (self.niet_afgerond or self.dubbel_bezorgd or self.dubbel_geregistreerd or self.niet_geregistreerd) \
            and sum(self.eindtoestanden.values()) == self.aantal

    def samenvatting(self) -> str:
        return (f"{self.aantal} meldingen in {self.seconden:.1f} s: " +
                ", ".join(f"{k}: {v}" for k, v in sorted(self.eindtoestanden.items())) +
                f"; kwijt: {len(self.niet_afgerond)}, dubbel bezorgd: {len(self.dubbel_bezorgd)}, "
                f"dubbel geregistreerd: {len(self.dubbel_geregistreerd)}; pogingen per melding: "
                + ", ".join(f"{k}x: {v}" for k, v in sorted(self.pogingen.items()))
                + "; fouten ingezet: " + ", ".join(f"{k}: {v}" for k, v in sorted(self.fouten_ingezet.items())))


def run_load(sim: KetenSimulatie, n: int, seed: int, batch: int = 100, progress=None,
             afzenders: int = 8) -> Belastingsresultaat:
    """``afzenders`` officers submit each batch side by side (the postkantoor
    builds messages in parallel); the faults are the same for any number."""
    rng = random.Random(seed)
    started = time.monotonic()
    meldingen = generate_meldingen(sim.keten, seed, n)
    faults: Counter[str] = Counter()
    kenmerken = []
    for start in range(0, n, batch):
        # Fresh random faults per batch: counted 4xx answers and dropped DATA.
        for mp in sim.meldpunten.values():
            temp, drop = rng.randint(0, batch // 5), rng.randint(0, batch // 20)
            faults["4xx"] += temp
            faults["verbinding weg tijdens DATA"] += drop
            mp.post("/schakelaars", {"mail": {"temp_failures": temp, "drop_in_data": drop}})
        with ThreadPoolExecutor(max_workers=max(1, afzenders), thread_name_prefix="agent") as pool:
            answers = list(pool.map(lambda m: sim.submit(m.to_dict()), meldingen[start:start + batch]))
        kenmerken += [a.get("kenmerk", m.kenmerk) for a, m in zip(answers, meldingen[start:start + batch])]
        # Run the keten clock until this batch has left the postkantoor.
        sim.run_until(sim.now() + sim.keten.aannames.herhalen_uren * 3600 + 3600,
                      stop=lambda: not set(sim.politie.get("/telling")) - FINAL - {"bezorgd"})
        if progress:
            progress(min(start + batch, n), n)
    # Let the confirmations come back.
    sim.run_until(sim.now() + sim.keten.aannames.bevestiging_minuten * 60)
    return tally(sim, kenmerken, faults, time.monotonic() - started)


def tally(sim: KetenSimulatie, kenmerken: list[str], faults: Counter, seconds: float) -> Belastingsresultaat:
    entries = {e["kenmerk"]: e for e in sim.politie.get("/overzicht")}  # without the traces
    registered: dict[str, list[dict]] = {}
    for mp in sim.meldpunten.values():
        for r in mp.get("/meldingen"):
            registered.setdefault(r["kenmerk"], []).append(r)
    states = Counter(entries[k]["status"] for k in kenmerken if k in entries)
    lost = tuple(k for k in kenmerken if k not in entries or entries[k]["status"] not in FINAL)
    twice = tuple(k for k, e in entries.items() if sum(a["outcome"] == "delivered" for a in e["attempts"]) > 1)
    dup = tuple(k for k, rs in registered.items()
                if len(rs) > 1 or rs[0]["registraties"] != 1 or len(rs[0]["ontvangen"]) != 1)
    unregistered = tuple(k for k, e in entries.items() if e["delivered_at"] is not None and k not in registered)
    attempts = Counter(len(entries[k]["attempts"]) for k in kenmerken if k in entries)
    return Belastingsresultaat(len(kenmerken), dict(states), lost, twice, dup, unregistered, dict(attempts),
                               dict(faults), seconds)
