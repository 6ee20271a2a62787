"""Benchmark of the keten-file worlds (tests/data/ketens/): per world, the
start-up of its simulated keten (signing with the world's DNSSEC algorithm,
Unbound, the MX servers with their TLS profile and certificate) and one
``ketentest check`` of the meldpunt on B01-B06. Prints wall times and the
verdicts; judges nothing (tests/test_werelden.py does).

    .venv/bin/python bench/bench_werelden.py [world ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ketentest.checks.runner import check_targets, simulated_keten
from ketentest.config import load_keten
from simulators.pki import Pki

WORLDS = Path(__file__).resolve().parent.parent / "tests" / "data" / "ketens"


def main(names: list[str]) -> None:
    pki = Pki()
    paths = [WORLDS / f"{n}.yaml" for n in names] if names else sorted(WORLDS.glob("*.yaml"))
    print(f"{'wereld':<36} {'opstarten':>9} {'check':>7}  B01-B06 van het meldpunt")
    total = time.perf_counter()
    for path in paths:
        keten = load_keten(path)
        t = time.perf_counter()
        with simulated_keten(keten, pki) as sim:
            startup = time.perf_counter() - t
            t = time.perf_counter()
            (report,) = check_targets([keten.meldpunten[0]], sim.resolver, context=sim.context)
            seconds = time.perf_counter() - t
        verdicts = " ".join(f"{r.agreement}={r.verdict.dutch}" for r in report.results)
        print(f"{path.stem:<36} {startup:8.2f}s {seconds:6.2f}s  {verdicts}", flush=True)
    print(f"totaal {time.perf_counter() - total:.1f} s voor {len(paths)} werelden")


if __name__ == "__main__":
    main(sys.argv[1:])
