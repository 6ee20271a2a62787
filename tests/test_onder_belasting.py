"""Verdicts do not depend on the machine's load (issue 14, point 5): with
every core kept busy by a bounded CPU hog, the healthy suite is green and the
defects that failed on a busy CI machine are caught exactly as on a quiet one.

The hog itself is tested too: it loads every core, and it leaves nothing
behind (stopped at the end, by its own time limit, or with a killed parent).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ketentest.defecten import get
from ketentest.defectrun import judge, run_features
from tests.belasting_helpers import cpu_hog

ROOT = Path(__file__).resolve().parent.parent

#: The two defects the busy CI run judged with collateral V07 damage, and a
#: DNS-heavy one (Unbound validating bogus answers under load).
DEFECTS = ["postkantoor-herhaalt-niet", "dmarc-p-none", "dnssec-handtekeningen-verlopen"]
#: The hog's own limit: longer than the runs may take (run_features gives up after 1800 s).
HOG_LIMIT = 2000
#: Busy loops: one per core; more to try a heavier load by hand (KETENTEST_BELASTING=20).
HOG_PROCESSES = int(os.environ.get("KETENTEST_BELASTING") or 0) or None


def _running_tasks() -> int:
    """Runnable tasks on the machine right now (/proc/loadavg, 4th field)."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[0])


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie runs nothing
    except OSError:
        return True


def test_the_hog_keeps_every_core_busy_and_leaves_no_child():
    cores = os.cpu_count() or 1
    with cpu_hog(limit=60, sample_every=0.2) as hog:
        running = []
        deadline = time.monotonic() + 2.0  # the measuring window
        while time.monotonic() < deadline:
            running.append(_running_tasks())
            time.sleep(0.1)
        assert all(p.poll() is None for p in hog.processes)
    assert len(hog.processes) == cores
    # A busy loop never sleeps: each child was runnable at every look.
    assert min(running) >= cores, running
    assert all(hog.cpu.get(pid, 0) > 0 for pid in hog.pids), hog.cpu
    assert "rekenprocessen" in hog.samenvatting()
    assert all(p.returncode is not None for p in hog.processes)
    assert all(_gone(pid) for pid in hog.pids)


def test_a_hog_child_stops_by_itself_at_its_limit():
    with cpu_hog(limit=1, processes=1) as hog:
        (child,) = hog.processes
        assert child.wait(timeout=60) == 0  # its own deadline, not a kill


def test_hog_children_die_with_a_killed_parent(tmp_path):
    """pytest killed with SIGKILL: its hog goes with it."""
    script = ("import os, sys, time\nsys.path.insert(0, sys.argv[1])\nfrom tests.belasting_helpers import cpu_hog\n"
              "with cpu_hog(limit=120) as hog:\n    print(*hog.pids, flush=True)\n    time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", script, str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert pids
        fds = [os.pidfd_open(pid) for pid in pids]
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    try:
        for fd in fds:  # a pidfd becomes readable when its process ends
            assert select.select([fd], [], [], 30)[0], "een rekenproces overleefde zijn ouder"
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.belasting
@pytest.mark.skipif(os.geteuid() != 0, reason="de ketenruns draaien elk in een eigen netwerknamespace (root)")
def test_verdicts_on_a_busy_machine_are_those_of_a_quiet_one(tmp_path):
    """The healthy suite and the defects side by side, each run in its own
    network namespace, while the hog keeps every core busy."""
    started = time.monotonic()
    with cpu_hog(limit=HOG_LIMIT, processes=HOG_PROCESSES) as hog:
        # Two keten runs at a time (the healthy suite first, the defects after it as lanes free up).
        with ThreadPoolExecutor(max_workers=2) as pool:
            healthy_run = pool.submit(run_features, None, tmp_path)
            defect_runs = [pool.submit(run_features, i, tmp_path) for i in DEFECTS]
            healthy = healthy_run.result()
            detections = [judge(get(i), run.result()) for i, run in zip(DEFECTS, defect_runs)]
    seconds = time.monotonic() - started
    summary = {
        "belasting": hog.samenvatting(), "seconden": round(seconds),
        "gezond": {"seconden": round(healthy.seconden), "scenarios": len(healthy.waarnemingen),
                   "niet_geslaagd": [f"{w.scenario}: {w.uitslag}: {w.melding[:300]}" for w in healthy.waarnemingen
                                     if w.uitslag != "geslaagd"]},
        "defecten": [{"id": d.defect.id, "seconden": round(d.run.seconden), "gevangen": d.gevangen,
                      "gemist": d.gemist, "bijschade": d.bijschade, "fouten": d.fouten} for d in detections],
    }
    report = json.dumps(summary, ensure_ascii=False, indent=1)
    (tmp_path / "onder-belasting.json").write_text(report)
    print(report)
    assert healthy.waarnemingen and not summary["gezond"]["niet_geslaagd"], report
    assert healthy.returncode == 0, report + "\n" + healthy.log[-2000:]
    assert all(d.in_orde for d in detections), report + "".join(
        f"\n--- {d.defect.id}:\n{d.run.log[-1500:]}" for d in detections if not d.in_orde)
    # The machine was really busy: the hog got CPU, and the load rose to at least one per core.
    cores = os.cpu_count() or 1
    assert hog.cpu_seconds > 0, report
    if hog.seconds > 180:  # the 1-minute load average needs a few minutes to show it
        assert hog.max_load >= cores, report
