"""Benchmark of ``ketentest check``: every deelnemer of the default keten,
all agreements B01-B06 (and B05/B06 alone), in parallel against the
simulated keten. Prints wall times; target: the checks under 10 s on 2 cores.

    .venv/bin/python bench/bench_check.py [rounds]

Start-up (signed zones, Unbound, four MX servers) is timed apart; it waits
when another keten run holds the machine (one keten per machine).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from ketentest.checks import CHECKS
from ketentest.checks.runner import check_targets, simulated_keten
from ketentest.config import load_keten
from simulators.pki import Pki


def main(rounds: int = 3) -> None:
    keten = load_keten()
    t = time.perf_counter()
    with simulated_keten(keten, Pki()) as sim:
        startup = time.perf_counter() - t
        print(f"keten {keten.naam}: {len(keten.deelnemers)} deelnemers, "
              f"{sum(len(d.domain.mx) for d in keten.deelnemers)} MX-adressen, {os.cpu_count()} cores")
        print(f"opstarten (DNS, Unbound, MX-servers; incl. wachten op de machine): {startup:6.2f} s")
        for label, ids in (("B01-B06", list(CHECKS)), ("B05+B06", ["B05", "B06"])):
            times, cpu = [], []
            for _ in range(rounds):
                c0, t0 = os.times(), time.perf_counter()
                reports = check_targets(keten.deelnemers, sim.resolver, ids, context=sim.context)
                times.append(time.perf_counter() - t0)
                c1 = os.times()
                cpu.append(c1.user - c0.user + c1.system - c0.system)
                verdicts = {r.domain: r.verdict.dutch for r in reports}
                assert set(verdicts.values()) == {"geslaagd"}, verdicts
            print(f"{label}, alle deelnemers parallel: mediaan {statistics.median(times):5.2f} s wandtijd "
                  f"(min {min(times):.2f}, max {max(times):.2f}; cpu {statistics.median(cpu):.2f} s), "
                  f"{rounds} rondes, alles geslaagd")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
