"""Issue 10.4: hostile object-stream PDFs sent in parallel to a running
meldpunt, and meanwhile one normal melding. Prints the normal melding's time
to delivered + registered + confirmed (target < 2 s), the same without the
attack, and the meldpunt's peak memory: its party process and every child
(the PDF-check workers), read from /proc (target < 500 MB).

    unshare --net sh -c 'ip link set lo up && exec .venv/bin/python bench/bench_pdf_aanval.py [aantal] [MB per string]'
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ketentest.config import load_keten
from ketentest.melding import Melding
from ketentest.meldformulier import render
from ketentest.routering import route
from ketentest.synth import generate_meldingen
from simulators import aanvaller
from simulators.keten import KetenSimulatie
from simulators.pki import Pki

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pdf_aanvallen_helpers import objstm_string_bomb  # noqa: E402


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakMemory(threading.Thread):
    """Samples the summed RSS of a process tree every 10 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.peak_processes = pid, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.01):
            pids = tree(self.pid)
            total = sum(rss_kb(p) for p in pids)
            if total > self.peak_kb:
                self.peak_kb, self.peak_processes = total, len(pids)


def bevestigd(sim: KetenSimulatie, melding: Melding) -> float:
    """Seconds from submitting to delivered + registered + confirmed."""
    return phases(sim, melding)[-1][1]


def phases(sim: KetenSimulatie, melding: Melding) -> list[tuple[str, float]]:
    """Seconds from submitting to delivered, registered and confirmed."""
    t = time.monotonic()
    out = []
    submitted = sim.submit(melding.to_dict())
    kenmerk = submitted["kenmerk"]
    state = sim.wait_for(kenmerk, "bezorgd", "bezorgd en bevestigd", "onbestelbaar", timeout=60)
    if state["status"] == "onbestelbaar":
        raise SystemExit(f"melding {kenmerk} onbestelbaar: {state}")
    out.append(("bezorgd", time.monotonic() - t))
    sim.meldpunt(submitted["meldpunt"]).get(f"/meldingen/{kenmerk}/wacht", timeout="60")
    out.append(("geregistreerd", time.monotonic() - t))
    delivered_at = sim.politie.get(f"/meldingen/{kenmerk}")["delivered_at"]
    sim.run_until(delivered_at + sim.keten.aannames.bevestiging_minuten * 60)
    state = sim.wait_for(kenmerk, "bezorgd en bevestigd", timeout=60)
    if state["status"] != "bezorgd en bevestigd":
        raise SystemExit(f"melding {kenmerk} niet bevestigd: {state['status']}")
    out.append(("bevestigd", time.monotonic() - t))
    return out


def under_fire(sim: KetenSimulatie, pki: Pki, meldpunt, pdf: bytes, kenmerken: list[str], melding: Melding):
    """Send ``pdf`` in parallel under every kenmerk, and meanwhile ``melding``
    the normal way; returns (its phases, the attack's results, seconds)."""
    t = time.monotonic()
    with ThreadPoolExecutor(len(kenmerken)) as pool:
        attacks = [pool.submit(aanvaller.send_as_politie, sim.keten, pki, meldpunt.id, k, pdf) for k in kenmerken]
        during = phases(sim, melding)
        results = [a.result() for a in attacks]
    return during, results, time.monotonic() - t


def show(during: list[tuple[str, float]]) -> str:
    return ", ".join(f"{name} na {s:.2f} s" for name, s in during)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    string_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    keten = load_keten()
    pki = Pki()
    bomb = objstm_string_bomb(string_mb)
    meldpunt = keten.meldpunten[0]
    normal = [m for m in generate_meldingen(keten, seed=104, n=200)
              if route(keten, m.persoon.adres.postcode).meldpunt.id == meldpunt.id]
    print(f"aanval: {n} PDF's van {len(bomb) / 1024:.0f} KB, elk met een string van {string_mb} MB in een "
          f"objectstroom, naar {meldpunt.naam}")
    with KetenSimulatie(keten, pki) as sim:
        party = sim.meldpunt(meldpunt.id).proc.pid
        warm = bevestigd(sim, normal[0])  # also starts the PDF-check workers
        quiet = bevestigd(sim, normal[1])
        print(f"zonder aanval: gewone melding bezorgd, geregistreerd en bevestigd in {quiet:.2f} s "
              f"(eerste, koud: {warm:.2f} s)")
        base_kb = sum(rss_kb(p) for p in tree(party))
        sampler = PeakMemory(party)
        sampler.start()
        kenmerken = [m.kenmerk for m in generate_meldingen(keten, seed=105, n=2 * n, start=900_000)]
        during, results, attack_s = under_fire(sim, pki, meldpunt, bomb, kenmerken[:n], normal[2])
        sampler.done.set()
        sampler.join()
        hwm_kb = sum(rss_kb(p, "VmHWM") for p in tree(party))
        # The same load with harmless PDFs: what the mail volume alone costs the normal melding.
        control, _, control_s = under_fire(sim, pki, meldpunt, render(normal[3]), kenmerken[n:], normal[4])
    outcomes = Counter(r.outcome.value for r in results)
    replies = Counter((r.reply.text if r.reply else r.reason)[:110] for r in results)
    total = during[-1][1]
    print(f"tijdens de aanval: gewone melding {show(during)} (doel < 2 s): {'gehaald' if total < 2 else 'NIET gehaald'}")
    print(f"aanval afgehandeld in {attack_s:.2f} s; uitkomsten: {dict(outcomes)}")
    for text, count in replies.most_common(3):
        print(f"  {count}x {text}")
    print(f"geheugen meldpunt (partijproces + PDF-controleprocessen): voor de aanval {base_kb / 1024:.0f} MB, "
          f"piek {sampler.peak_kb / 1024:.0f} MB over {sampler.peak_processes} processen (doel < 500 MB): "
          f"{'gehaald' if sampler.peak_kb < 500 * 1024 else 'NIET gehaald'}; som van de pieken per proces "
          f"(VmHWM) {hwm_kb / 1024:.0f} MB")
    print(f"ter vergelijking, {n} onschuldige meldingen tegelijk (die ook geregistreerd en bevestigd worden): gewone melding "
          f"{show(control)}; {n} berichten in {control_s:.2f} s")


if __name__ == "__main__":
    main()
