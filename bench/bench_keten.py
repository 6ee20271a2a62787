"""1,000 meldingen through the whole simulated keten with random 4xx answers
and dropped connections; prints the tally and the throughput.

    .venv/bin/python bench/bench_keten.py [aantal] [seed]
"""

from __future__ import annotations

import sys
import time

from ketentest.config import load_keten
from simulators.belasting import run_load
from simulators.keten import KetenSimulatie
from simulators.pki import Pki


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20261128
    keten = load_keten()
    t = time.monotonic()
    with KetenSimulatie(keten, Pki()) as sim:
        print(f"keten opgestart in {time.monotonic() - t:.2f} s", flush=True)
        result = run_load(sim, n, seed, progress=lambda done, total: print(f"  {done}/{total} verstuurd", flush=True))
    print(result.samenvatting())
    print(f"doorvoer: {result.aantal / result.seconden:.1f} meldingen/s (inclusief PDF maken, ondertekenen, "
          f"bezorgen, herhalen en ontvangstbevestigingen)")
    print("in orde" if result.in_orde else "NIET IN ORDE")


if __name__ == "__main__":
    main()
