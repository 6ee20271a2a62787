"""Containers against processes (issue 12): image build (cold and warm), keten
start-up, one melding end to end, and the whole feature suite's wall time with
each backend. Prints figures; asserts nothing.

    eval "$(scripts/docker-engine start)"
    .venv/bin/python bench/bench_containers.py            # everything (about 5 minutes)
    .venv/bin/python bench/bench_containers.py --zonder-suite --zonder-koud

The process runs go in their own network namespace when root (as the defect
runner does); the container runs use the engine's (the host's) loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ketentest.config import load_keten  # noqa: E402
from ketentest.synth import MeldingPool  # noqa: E402
from simulators.containers.image import DOCKER_DIR, LOCAL_BASE, build_wheels, docker_client, ensure_image  # noqa: E402
from simulators.keten import KetenSimulatie, backend_named  # noqa: E402
from simulators.pki import Pki  # noqa: E402

NETNS = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "_"]


def build_times(cold: bool) -> dict[str, float]:
    client = docker_client()
    out = {}
    if cold:  # no wheels, no image, no build cache (pip's own download cache stays)
        shutil.rmtree(ROOT / "docker" / "wheels", ignore_errors=True)
        t = time.perf_counter()
        build_wheels(progress=lambda line: None)
        out["koud: wheels bouwen op de host"] = time.perf_counter() - t
        t = time.perf_counter()
        client.images.build(path=str(DOCKER_DIR), buildargs={"BASE_IMAGE": LOCAL_BASE}, tag="localhost/ketentest:koud",
                            network_mode="host", nocache=True, rm=True, forcerm=True)
        out["koud: docker build zonder cache"] = time.perf_counter() - t
        client.images.remove("localhost/ketentest:koud", force=True)
    t = time.perf_counter()
    ensure_image(client, base_image=LOCAL_BASE, progress=lambda line: None)
    out["image, warm (bestaat al)"] = time.perf_counter() - t
    return out


def keten_figures(backend_name: str, n: int = 5) -> dict[str, float]:
    """Start-up of the whole keten, then n meldingen end to end (doorloop)."""
    keten, pki = load_keten(), Pki()
    backend = backend_named(backend_name, progress=lambda line: None)
    try:
        t = time.perf_counter()
        with backend.internet(keten, pki) as net, KetenSimulatie(keten, pki, internet=net, backend=backend) as sim:
            started = time.perf_counter() - t
            pool = MeldingPool(keten, 20261202, 50 * n)  # drawn by postcode: plenty for every meldpunt
            times = []
            for i in range(n):
                melding = pool.voor(keten.meldpunten[i % len(keten.meldpunten)].id)
                t = time.perf_counter()
                v = sim.doorloop(melding)
                times.append(time.perf_counter() - t)
                assert v.status == "bezorgd en bevestigd", v.status
    finally:
        backend.close()
    return {"keten opstarten": started, f"melding van begin tot eind (mediaan van {n})": statistics.median(times)}


def suite_seconds(backend_name: str) -> float:
    with tempfile.TemporaryDirectory() as reports:
        cmd = [sys.executable, "-m", "pytest", str(ROOT / "features"), "-q", "-p", "no:cacheprovider",
               f"--rapportmap={reports}", "--backend", backend_name]
        if backend_name == "processen" and os.geteuid() == 0:
            cmd = [*NETNS, *cmd]
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        took = time.perf_counter() - t
        print(f"  {backend_name}: {proc.stdout.strip().splitlines()[-1]}", file=sys.stderr)
        return took


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--zonder-koud", action="store_true", help="geen koude imagebouw (die gooit wheels en image weg)")
    p.add_argument("--zonder-suite", action="store_true", help="de hele featuresuite niet twee keer draaien")
    p.add_argument("--keten-json", action="store_true", help=argparse.SUPPRESS)  # internal: the process part
    args = p.parse_args()
    if args.keten_json:
        print(json.dumps(keten_figures("processen")))
        return
    rows: list[tuple[str, str, float]] = []
    for name, value in build_times(not args.zonder_koud).items():
        rows.append((name, "containers", value))
    for backend in ("processen", "containers"):
        if backend == "processen" and os.geteuid() == 0:
            # the process keten in its own loopback, like the defect runner
            out = subprocess.run([*NETNS, sys.executable, __file__, "--keten-json"], capture_output=True, text=True,
                                 cwd=ROOT)
            if out.returncode != 0:
                sys.exit(f"bench: de procesketen faalde:\n{out.stderr[-3000:]}")
            figures = json.loads(out.stdout.strip().splitlines()[-1])
        else:
            figures = keten_figures(backend)
        rows += [(name, backend, value) for name, value in figures.items()]
        if not args.zonder_suite:
            rows.append(("hele featuresuite (wandkloktijd)", backend, suite_seconds(backend)))
    print(f"{'meting':<48} {'backend':<11} {'seconden':>9}")
    for name, backend, value in rows:
        print(f"{name:<48} {backend:<11} {value:>9.2f}")
    print(f"(machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
