"""Benchmark of synthetic meldingen and the meldformulier: generation, routing,
render, parse and the meldpunt's PDF check. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_meldingen.py [n]
"""

from __future__ import annotations

import statistics
import sys
import time

from ketentest import meldformulier
from ketentest.config import load_keten
from ketentest.pdfcheck import check_pdf
from ketentest.routering import route_melding
from ketentest.synth import generate_meldingen


def timed(label: str, n: int, fn) -> list:
    t = time.perf_counter()
    out = fn()
    took = time.perf_counter() - t
    print(f"{label:<22} {took:7.2f} s   {took / n * 1000:7.2f} ms per melding")
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    keten = load_keten()
    meldingen = timed("genereren", n, lambda: generate_meldingen(keten, seed=20261128, n=n))
    timed("routeren", n, lambda: [route_melding(keten, m) for m in meldingen])
    pdfs = timed("renderen (PDF)", n, lambda: [meldformulier.render(m) for m in meldingen])
    timed("parsen (velden)", n, lambda: [meldformulier.parse(p) for p in pdfs])
    results = timed("veiligheidscontrole", n, lambda: [check_pdf(p, keten) for p in pdfs])
    sizes = [len(p) for p in pdfs]
    print(f"PDF-grootte: mediaan {statistics.median(sizes):.0f} bytes, max {max(sizes)} bytes; "
          f"goedgekeurd {sum(r.ok for r in results)}/{n}")


if __name__ == "__main__":
    main()
