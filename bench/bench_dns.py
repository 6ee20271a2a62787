"""Benchmark of the simulated DNS: start-up (cold and warm key cache), look-ups
through Unbound, and a zone change. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_dns.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from ketentest.config import load_keten
from simulators.internet import SimulatedInternet, mail_domain_queries
from simulators.pki import Pki

ROOT = Path(__file__).resolve().parent.parent


def startup(keten, pki) -> tuple[float, SimulatedInternet]:
    t = time.perf_counter()
    net = SimulatedInternet(keten, pki).__enter__()
    return time.perf_counter() - t, net


def main() -> None:
    keten = load_keten()
    with tempfile.TemporaryDirectory() as cold:
        took, net = startup(keten, Pki(cold))
        net.__exit__(None, None, None)
        print(f"start-up, lege sleutelcache (RSA-sleutels maken): {took:6.2f} s")
    times = []
    for _ in range(5):
        took, net = startup(keten, Pki())
        times.append(took)
        net.__exit__(None, None, None)
    print(f"start-up, gevulde sleutelcache (mediaan van 5):     {statistics.median(times):6.2f} s")

    with SimulatedInternet(keten, Pki()) as net:
        queries = [q for d in keten.deelnemers for q in mail_domain_queries(d.domain)]
        t = time.perf_counter()
        for name, rdtype in queries:  # cold cache: full iteration + validation
            net.resolver.lookup(name, rdtype)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        rounds = 20
        for _ in range(rounds):
            for name, rdtype in queries:
                net.resolver.lookup(name, rdtype)
        warm = time.perf_counter() - t
        print(f"{len(queries)} look-ups, koude Unbound-cache:              {cold:6.3f} s")
        print(f"look-ups per seconde, warme cache:                 {rounds * len(queries) / warm:8.0f}")
        t = time.perf_counter()
        net.zones.expire_signatures("ggdru.test")
        net.changed()
        print(f"zonewijziging + opnieuw ondertekenen + cache legen: {time.perf_counter() - t:6.3f} s")


if __name__ == "__main__":
    main()
