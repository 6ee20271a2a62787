"""Benchmark of one delivery attempt by the police postkantoor's client
(ketentest.delivery): DNS through Unbound (MX, A, CNAME, TLSA), connect,
STARTTLS, DANE, one signed message, into the meldpunt's MailServer. Prints
figures; asserts nothing. Run it alone (or in its own network namespace):

    unshare --net sh -c 'ip link set lo up && exec .venv/bin/python bench/bench_delivery.py'
"""

from __future__ import annotations

import statistics
import time

from ketentest.checks.runner import simulated_keten
from ketentest.config import load_keten
from ketentest.delivery import deliver
from ketentest.mail import compose_melding, sign
from simulators.pki import Pki

PDF = b"%PDF-1.7\n% bench\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
N = 100


def main() -> None:
    keten = load_keten()
    politie, meldpunt = keten.politie, keten.meldpunten[0]
    pki = Pki()
    host = politie.domain.senders[0]
    keys = [pki.dkim_key(politie.domain.name, s) for s in politie.domain.dkim]
    with simulated_keten(keten, pki) as sim:
        times = []
        for i in range(N):
            message = sign(compose_melding(f"MN-2026-{i:06d}", PDF, sender=politie.adres,
                                           recipient=meldpunt.adres).data, keys)
            t = time.perf_counter()
            attempt = deliver(message, politie.adres, meldpunt.adres, resolver=sim.resolver, source_ip=host.ip,
                              helo=host.name, timeout=10)
            times.append(time.perf_counter() - t)
            if not attempt.delivered:
                print(attempt.describe())
                return
    print(f"{N} bezorgingen (elk een eigen STARTTLS-verbinding met DANE, {len(message)} bytes):")
    print(f"  mediaan {statistics.median(times) * 1000:6.1f} ms, p90 {sorted(times)[int(N * 0.9)] * 1000:6.1f} ms, "
          f"{N / sum(times):6.1f} bezorgingen/s")


if __name__ == "__main__":
    main()
