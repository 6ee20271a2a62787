"""How fast bad keten files are refused (issue 10, point 7); prints figures.

    .venv/bin/python bench/bench_invoer.py
"""

from __future__ import annotations

import time
from importlib import resources

from ketentest.config import parse_keten
from ketentest.errors import KetenConfigError

DEFAULT = resources.files("ketentest.data").joinpath("ketens", "midden-nederland.yaml").read_text()


def bomb(levels: int) -> str:
    parts = ["&a0 [" + ", ".join(["lol"] * 9) + "]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return DEFAULT.replace("  max_pdf_mb: 10", "  max_pdf_mb: [" + ", ".join(parts) + "]")


CASES = {
    "standaardketen (geldig)": DEFAULT,
    "alias-bom, 9 niveaus (9^9 waarden, 3,6 KB)": bomb(9),
    "1 MB aan commentaar": DEFAULT + ("# " + "x" * 78 + "\n") * (1024 * 1024 // 81 - 100),
    "500.000 keer '[' (diep genest)": "[" * 500_000,
    "waarde van 500 KB in een foutmelding": DEFAULT.replace("  max_pdf_mb: 10", "  max_pdf_mb: " + "x" * 500_000),
}

for name, text in CASES.items():
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        try:
            parse_keten(text, "bench.yaml")
            outcome = "geladen"
        except KetenConfigError as e:
            outcome = f"geweigerd ({len(str(e))} tekens): {e.problem[:60]}"
        runs.append(time.perf_counter() - started)
    print(f"{name:<45} {min(runs) * 1000:8.1f} ms  {outcome}")
