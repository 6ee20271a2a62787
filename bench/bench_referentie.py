"""Benchmark of the reference MTA: Postfix start-up, one message through Postfix
(inject, DANE-checked delivery, verdict read from its log), a DANE probe, and
the same melding through our postkantoor. Prints figures; asserts nothing.

    unshare --net sh -c 'ip link set lo up && exec .venv/bin/python bench/bench_referentie.py'
"""

from __future__ import annotations

import base64
import statistics
import time

from ketentest.config import load_keten
from ketentest.routering import route
from ketentest.synth import generate_meldingen
from simulators.keten import KetenSimulatie
from simulators.pki import Pki
from simulators.referentie.postfix import ReferentiePostfix

N = 20


def main() -> None:
    keten = load_keten()
    meldpunt = keten.meldpunten[0]
    pool = [m for m in generate_meldingen(keten, 20261202, 300)
            if route(keten, m.persoon.adres.postcode).meldpunt.id == meldpunt.id][:N]
    with KetenSimulatie(keten, Pki()) as sim:
        t = time.perf_counter()
        postfix = ReferentiePostfix.voor_keten(keten).__enter__()
        print(f"Postfix {postfix.version} start (config, check, master):  {time.perf_counter() - t:6.2f} s")
        try:
            ours, theirs, probes = [], [], []
            for melding in pool:
                t = time.perf_counter()
                kenmerk = sim.submit(melding.to_dict())["kenmerk"]
                sim.wait_for(kenmerk, "bezorgd", "bezorgd en bevestigd", "onbestelbaar", "opnieuw proberen")
                ours.append(time.perf_counter() - t)
                message = base64.b64decode(sim.politie.get(f"/meldingen/{kenmerk}/bericht")["eml_base64"])
                t = time.perf_counter()
                uitslag = postfix.verstuur(message, keten.politie.adres, meldpunt.adres)
                theirs.append(time.perf_counter() - t)
                assert uitslag.status, uitslag
                t = time.perf_counter()
                postfix.dane_probe(meldpunt.domain.name)
                probes.append(time.perf_counter() - t)
            print(f"melding via het postkantoor (indienen tot bezorgd), mediaan van {N}: "
                  f"{statistics.median(ours) * 1000:6.0f} ms")
            print(f"zelfde bericht via Postfix (tot de statusregel), mediaan van {N}:   "
                  f"{statistics.median(theirs) * 1000:6.0f} ms")
            print(f"DANE-proef van Postfix (tweede oordeel), mediaan van {N}:           "
                  f"{statistics.median(probes) * 1000:6.0f} ms")
        finally:
            postfix.close()


if __name__ == "__main__":
    main()
