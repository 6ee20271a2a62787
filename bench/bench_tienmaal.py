"""The healthy keten, the whole feature suite, N times in a row (default 10):
prints each run's outcome and time, and whether any result was flaky.

    .venv/bin/python bench/bench_tienmaal.py [aantal]
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

from ketentest.defectrun import run_features


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    seen: dict[str, Counter] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(1, n + 1):
            run = run_features(None, Path(tmp) / str(i))
            outcomes = Counter(w.uitslag for w in run.waarnemingen)
            for w in run.waarnemingen:
                seen.setdefault(f"{w.scenario} {w.deelnemers}", Counter())[w.uitslag] += 1
            print(f"run {i}: {dict(outcomes)} in {run.seconden:.1f} s", flush=True)
    flaky = {k: dict(v) for k, v in seen.items() if len(v) > 1}
    print(f"{len(seen)} scenario's, {n} runs: " + ("geen wisselende uitslagen" if not flaky else f"WISSELEND: {flaky}"))


if __name__ == "__main__":
    main()
