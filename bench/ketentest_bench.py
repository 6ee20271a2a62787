"""Eén ingang voor de metingen van issue 14: drukt een tabel af en schrijft JSON
(machine, commando, seed, versies, per meting de cijfers en het piekgeheugen).

    .venv/bin/python -m bench                          # opstarten, uitwisseling, check (een paar minuten)
    .venv/bin/python -m bench alles                    # ook de features op de landelijke keten (~15 min)
    .venv/bin/python -m bench uitwisseling --n 40000   # 40.000 meldingen van eind tot eind
    .venv/bin/python -m bench opstarten check --landelijk landelijk --json reports/bench.json

Metingen (kies er een of meer bij naam; zonder naam de eerste drie):

- ``opstarten``: de keten opstarten (DNS, Unbound, postkantoor, elk meldpunt), pilot en landelijk.
- ``uitwisseling``: N meldingen van eind tot eind over de beveiligde route (PDF maken, DKIM
  ondertekenen, STARTTLS met DANE, SPF/DKIM/DMARC bij ontvangst, PDF-controle, opslaan,
  ontvangstbevestiging terug): doorvoer, latentie p50/p99, kwijt en dubbel; in dezelfde run de
  basislijn (kaal SMTP in een aiosmtpd-sink, zonder TLS en controles) en de verhouding.
- ``check``: ``ketentest check`` (B01-B06) op elk maildomein van de landelijke keten.
- ``features``: de scenario's (features/) op de landelijke keten.

Alles wat een keten start, draait in een eigen netwerknamespace: als root en nog niet in
een eigen namespace start dit script zichzelf opnieuw onder ``unshare --net``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from simulators.politie.queue import WORKERS

from bench.meten import ROOT, PiekGeheugen, Voortgang, machine, percentiel, tree_cpu, tree_cpu_by_process, versies

METINGEN = ("opstarten", "uitwisseling", "check", "features")
#: Without names: these (a few minutes); the feature suite on the national keten takes a quarter of an hour.
STANDAARD = ("opstarten", "uitwisseling", "check")
PILOT = "midden-nederland"
LANDELIJK = "landelijk"
NETNS_MARK = "KETENTEST_BENCH_NETNS"


# --- (a) start-up ---------------------------------------------------------------------


def opstarten(keten_namen: list[str]) -> dict:
    from ketentest.config import load_keten
    from simulators.keten import KetenSimulatie
    from simulators.pki import Pki

    out = {}
    for naam in keten_namen:
        try:
            keten = load_keten(naam)
        except Exception as e:  # noqa: BLE001 - a keten that does not load is a result, not a crash
            out[naam] = {"fout": f"{type(e).__name__}: {e}"}
            continue
        pki = Pki()
        keys_before = sum(1 for _ in Path(pki.cache_dir).rglob("*"))
        voortgang = Voortgang(f"opstarten {naam}", None)
        with PiekGeheugen() as geheugen:
            t0 = time.perf_counter()
            with KetenSimulatie(keten, pki) as sim:
                up = time.perf_counter() - t0
                processen = len(sim.processes)
                voortgang.update(0, f"op in {up:.1f} s")
                t1 = time.perf_counter()
            down = time.perf_counter() - t1
        voortgang.close()
        out[naam] = {"meldpunten": len(keten.meldpunten), "processen": processen, "seconden": round(up, 2),
                     "stoppen_seconden": round(down, 2), "piek_geheugen_mb": geheugen.mb,
                     "sleutels_gemaakt": sum(1 for _ in Path(pki.cache_dir).rglob("*")) - keys_before}
    return out


# --- (b) end-to-end exchange and the raw-SMTP baseline ---------------------------------


def uitwisseling(keten_naam: str, n: int, seed: int, afzenders: int, stil_na: float = 300.0,
                 basislijn: bool = True, hergebruik: bool = True, tempo: float = 0.0) -> dict:
    """N meldingen through the running keten, each submitted to the
    postkantoor by one of ``afzenders`` parallel officers, until every one is
    *bezorgd en bevestigd* (or nothing moved for ``stil_na`` seconds).

    The meldpunten confirm at once (``bevestiging_na_minuten: 0``), so the
    confirmation comes back within the run without moving the keten clock;
    the terugkoppeling is composed and signed but due a werkdag later, so it
    is not sent. Latency: from the officer's submit to the confirmation
    arriving at the police's MX (both clocks are real time here).
    ``hergebruik``: postkantoor and meldpunten keep authenticated connections
    (switch ``verbindingen_hergebruiken``; DANE checked for every message);
    the baseline then reuses its connections as well. ``tempo`` > 0: offer
    that many meldingen per second (latency below saturation) instead of all
    at once (throughput; the latency then includes the wait in the queue)."""
    from ketentest.config import load_keten
    from ketentest.synth import generate_meldingen
    from simulators.belasting import tally
    from simulators.keten import KetenSimulatie
    from simulators.pki import Pki

    keten = load_keten(keten_naam)
    t = time.perf_counter()
    meldingen = generate_meldingen(keten, seed, n)
    voorbereiden = time.perf_counter() - t
    result: dict = {"keten": keten.naam, "n": n, "afzenders": afzenders, "tempo_per_seconde": tempo or None,
                    "verbindingen_hergebruiken": hergebruik,
                    "bezorgers_per_partij": WORKERS, "meldingen_maken_seconden": round(voorbereiden, 2)}
    with PiekGeheugen() as geheugen:
        t = time.perf_counter()
        with KetenSimulatie(keten, Pki()) as sim:
            result["opstarten_seconden"] = round(time.perf_counter() - t, 2)
            sim.politie.post("/schakelaars", {"verbindingen_hergebruiken": hergebruik})
            for mp in sim.meldpunten.values():
                mp.post("/schakelaars", {"bevestiging_na_minuten": 0, "verbindingen_hergebruiken": hergebruik})
            skew = sim.now() - time.time()  # keten clock minus real time (0 unless a clock moved)
            submitted: dict[str, float] = {}
            refused: list[str] = []
            voortgang = Voortgang("uitwisseling", n)
            cpu0, per_process0 = tree_cpu(), tree_cpu_by_process()

            def submit(i: int, melding) -> None:
                if tempo > 0:
                    time.sleep(max(0.0, begin + i / tempo - time.monotonic()))
                submitted[melding.kenmerk] = time.time() + skew
                answer = sim.submit(melding.to_dict())
                if "fout" in answer:
                    refused.append(f"{melding.kenmerk}: {answer['fout']}")

            started, begin = time.time() + skew, time.monotonic()
            last_change, last_done = time.monotonic(), -1
            with ThreadPoolExecutor(max_workers=afzenders, thread_name_prefix="agent") as pool:
                futures = [pool.submit(submit, i, m) for i, m in enumerate(meldingen)]
                while True:
                    counts = sim.politie.get("/telling")
                    done = counts.get("bezorgd en bevestigd", 0) + counts.get("onbestelbaar", 0)
                    voortgang.update(done, f"{len(submitted)} aangeboden")
                    if done != last_done:
                        last_done, last_change = done, time.monotonic()
                    if done >= n or time.monotonic() - last_change > stil_na:
                        break
                    time.sleep(0.5)
                errors = [str(f.exception()) for f in futures if f.exception() is not None]
            voortgang.close()
            cpu = tree_cpu() - cpu0
            per_process = {k: round(v - per_process0.get(k, 0.0), 1) for k, v in tree_cpu_by_process().items()}
            overzicht = {e["kenmerk"]: e for e in sim.politie.get("/overzicht")}
            telling = tally(sim, [m.kenmerk for m in meldingen], Counter(), 0.0)
        confirmed = [e["confirmed_at"] for e in overzicht.values() if e["confirmed_at"] is not None]
        latencies = [overzicht[k]["confirmed_at"] - t0 for k, t0 in submitted.items()
                     if k in overzicht and overzicht[k]["confirmed_at"] is not None]
        delivered = [overzicht[k]["delivered_at"] - t0 for k, t0 in submitted.items()
                     if k in overzicht and overzicht[k]["delivered_at"] is not None]
        seconds = (max(confirmed) - started) if confirmed else float("nan")
        result.update({
            "bevestigd": len(confirmed), "seconden": round(seconds, 2),
            "per_seconde": round(len(confirmed) / seconds, 2) if confirmed else 0.0,
            "latentie_p50_s": _r(percentiel(latencies, 50)), "latentie_p99_s": _r(percentiel(latencies, 99)),
            "bezorgd_p50_s": _r(percentiel(delivered, 50)), "bezorgd_p99_s": _r(percentiel(delivered, 99)),
            "cpu_seconden": round(cpu, 1), "cpu_ms_per_melding": round(cpu / n * 1000, 1) if n else None,
            "cpu_seconden_per_proces": dict(sorted(per_process.items(), key=lambda kv: -kv[1])),
            "eindtoestanden": telling.eindtoestanden, "kwijt": len(telling.niet_afgerond),
            "dubbel_bezorgd": len(telling.dubbel_bezorgd), "dubbel_geregistreerd": len(telling.dubbel_geregistreerd),
            "niet_geregistreerd": len(telling.niet_geregistreerd), "pogingen": telling.pogingen,
            "geweigerd": refused[:10], "fouten": errors[:10], "in_orde": telling.in_orde and not refused and not errors,
            "piek_geheugen_mb": geheugen.mb,
        })
    if basislijn:
        result["basislijn"] = raw_baseline(keten, n, seed, senders=WORKERS, per_connection=100 if hergebruik else 1)
        raw = result["basislijn"]["per_seconde"]
        result["verhouding_tot_basislijn"] = round(result["per_seconde"] / raw, 4) if raw else None
    return result


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def raw_baseline(keten, n: int, seed: int, senders: int, per_connection: int = 1, distinct: int = 20) -> dict:
    """The same kind of message (a rendered melding, composed, as many bytes)
    N times over plain SMTP into an aiosmtpd sink: no TLS, no checks."""
    from bench.raw_smtp import Sink, numbered, send_all
    from ketentest.mail.compose import compose_melding
    from ketentest.meldformulier import render
    from ketentest.synth import generate_meldingen

    samples = generate_meldingen(keten, seed, min(distinct, max(n, 1)))
    mp = keten.meldpunten[0]
    bodies = [compose_melding(m.kenmerk, render(m), sender=keten.politie.adres, recipient=mp.adres).data
              for m in samples]
    messages = (n, lambda i: numbered(bodies[i % len(bodies)], i))
    voortgang = Voortgang("basislijn", n)
    with PiekGeheugen() as geheugen:
        sink = Sink("127.0.0.1", 2525).start()
        try:
            sent = send_all(messages, "127.0.0.1", 2525, senders=senders, per_connection=per_connection,
                            progress=voortgang.update)
        finally:
            counted = sink.stop()
    voortgang.close()
    return {"n": n, "afzenders": senders, "berichten_per_verbinding": per_connection,
            "gemiddelde_grootte_bytes": round(sum(map(len, bodies)) / len(bodies)),
            "seconden": round(sent.seconden, 2), "per_seconde": round(sent.per_seconde, 1),
            "latentie_p50_s": _r(percentiel(sent.latenties, 50)), "latentie_p99_s": _r(percentiel(sent.latenties, 99)),
            "ontvangen": counted["ontvangen"], "uniek_ontvangen": counted["uniek"], "fouten": sent.fouten[:10],
            "piek_geheugen_mb": geheugen.mb}


# --- (c) ketentest check on every national meldpunt -------------------------------------


def check(keten_naam: str) -> dict:
    from ketentest.checks.runner import check_keten
    from ketentest.config import load_keten

    keten = load_keten(keten_naam)
    voortgang: list[Voortgang] = []

    def progress(event) -> None:
        if event.verdict is None:
            voortgang.append(Voortgang("check", event.total))
        elif voortgang:
            voortgang[0].update(event.done)

    with PiekGeheugen() as geheugen:
        t = time.perf_counter()
        run = check_keten(keten, progress=progress)
        total = time.perf_counter() - t
    if voortgang:
        voortgang[0].close()
    verdicts = Counter(r.verdict.dutch for r in run.reports)
    return {"keten": keten.naam, "domeinen": len(run.reports), "afspraken": list(run.agreements),
            "opstarten_seconden": round(run.startup_seconds, 2), "controles_seconden": round(run.seconds, 2),
            "totaal_seconden": round(total, 2), "oordelen": dict(verdicts), "in_orde": run.ok,
            "piek_geheugen_mb": geheugen.mb}


# --- (d) the feature suite on the national keten ----------------------------------------


def features(keten_naam: str) -> dict:
    import threading

    from ketentest.defectrun import run_features

    voortgang = Voortgang("features", None)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(5):
            voortgang.update(0)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    with tempfile.TemporaryDirectory(prefix="ketentest-bench-") as tmp, PiekGeheugen() as geheugen:
        try:
            run = run_features(None, Path(tmp), extra=["--keten", keten_naam])
        finally:
            stop.set()
            ticker.join()
            voortgang.close()
    uitslagen = Counter(w.uitslag for w in run.waarnemingen)
    why = Counter(f"{w.uitslag}: {' '.join(w.melding.split())[:200]}" for w in run.waarnemingen
                  if w.uitslag != "geslaagd")
    return {"keten": keten_naam, "scenarios": len(run.waarnemingen), "uitslagen": dict(uitslagen),
            "niet_geslaagd": [{"aantal": k, "uitslag_en_melding": m} for m, k in why.most_common(10)],
            "seconden": round(run.seconden, 1), "returncode": run.returncode, "piek_geheugen_mb": geheugen.mb}


# --- table, JSON, command line ----------------------------------------------------------


def table(report: dict) -> str:
    rows: list[tuple[str, str]] = []
    m = report["metingen"]
    for naam, r in m.get("opstarten", {}).items():
        rows.append((f"opstarten {naam}", r.get("fout") or
                     f"{r['seconden']:.2f} s ({r['meldpunten']} meldpunten, {r['processen']} processen), "
                     f"piek {r['piek_geheugen_mb']:.0f} MB"))
    if "uitwisseling" in m:
        r = m["uitwisseling"]
        if "fout" in r:
            rows.append(("uitwisseling", r["fout"]))
        else:
            tempo = f", {r['tempo_per_seconde']:g}/s aangeboden" if r.get("tempo_per_seconde") else ""
            rows.append((f"uitwisseling {r['n']} ({r['keten']}{tempo})",
                         f"{r['per_seconde']:.1f} meldingen/s, {r['seconden']:.1f} s; latentie p50 "
                         f"{_s(r['latentie_p50_s'])}, p99 {_s(r['latentie_p99_s'])}; kwijt {r['kwijt']}, dubbel "
                         f"{r['dubbel_bezorgd'] + r['dubbel_geregistreerd']}; {r['cpu_ms_per_melding']} ms cpu/melding; "
                         f"piek {r['piek_geheugen_mb']:.0f} MB; {'in orde' if r['in_orde'] else 'NIET IN ORDE'}"))
            b = r.get("basislijn")
            if b:
                rows.append(("basislijn kaal SMTP", f"{b['per_seconde']:.1f} berichten/s, {b['seconden']:.1f} s; "
                             f"p50 {_s(b['latentie_p50_s'])}, p99 {_s(b['latentie_p99_s'])}; ontvangen "
                             f"{b['uniek_ontvangen']}/{b['n']} uniek; piek {b['piek_geheugen_mb']:.0f} MB"))
                rows.append(("verhouding veilig/kaal", f"{r['verhouding_tot_basislijn']:.3f} (doel >= 0,333)"))
    if "check" in m:
        r = m["check"]
        rows.append((f"check ({r.get('keten', '?')})", r.get("fout") or
                     f"{r['domeinen']} domeinen in {r['controles_seconden']:.1f} s (opstarten "
                     f"{r['opstarten_seconden']:.1f} s); {r['oordelen']}; piek {r['piek_geheugen_mb']:.0f} MB"))
    if "features" in m:
        r = m["features"]
        rows.append((f"features ({r.get('keten', '?')})", r.get("fout") or
                     f"{r['scenarios']} scenario's in {r['seconden']:.0f} s; {r['uitslagen']}; "
                     f"piek {r['piek_geheugen_mb']:.0f} MB"))
    width = max((len(k) for k, _ in rows), default=10)
    head = (f"ketentest-metingen, {report['machine']['cores']} cores ({report['machine']['cpu']}), "
            f"belasting bij start {report['machine']['belasting_bij_start']}, seed {report['seed']}")
    return "\n".join([head, "-" * len(head), *(f"{k:<{width}}  {v}" for k, v in rows)])


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("metingen", nargs="*", metavar="meting",
                   help=f"een of meer van: {', '.join(METINGEN)}, of 'alles' (standaard: {', '.join(STANDAARD)})")
    p.add_argument("--n", type=int, default=300, help="aantal meldingen voor de uitwisseling (standaard 300)")
    p.add_argument("--seed", type=int, default=20261128, help="zaad voor de synthetische meldingen")
    p.add_argument("--keten", default=PILOT, help=f"keten voor de uitwisseling (standaard {PILOT})")
    p.add_argument("--landelijk", default=LANDELIJK, help=f"landelijke keten voor check en features (standaard {LANDELIJK})")
    p.add_argument("--afzenders", type=int, default=8, help="parallelle agenten die meldingen aanbieden (standaard 8)")
    p.add_argument("--tempo", type=float, default=0.0,
                   help="meldingen per seconde aanbieden (latentie onder verzadiging); standaard alles tegelijk "
                        "(doorvoer; de latentie telt dan de wachtrij mee)")
    p.add_argument("--zonder-basislijn", action="store_true", help="de basislijn (kaal SMTP) overslaan")
    p.add_argument("--verbinding-per-bericht", action="store_true",
                   help="geen verbindingen hergebruiken (postkantoor, meldpunten en basislijn): elk bericht een eigen "
                        "verbinding met STARTTLS en DANE")
    p.add_argument("--json", type=Path, default=ROOT / "reports" / "bench.json", help="waar de JSON heen gaat")
    args = p.parse_args(argv)
    unknown = [m for m in args.metingen if m not in (*METINGEN, "alles")]
    if unknown:
        p.error(f"onbekende meting {', '.join(unknown)}; kies uit {', '.join(METINGEN)} of alles")
    if not 1 <= args.n <= 100_000:
        p.error("--n moet tussen 1 en 100000 liggen")
    wanted = METINGEN if "alles" in args.metingen else args.metingen or STANDAARD
    args.metingen = [m for m in METINGEN if m in wanted]
    return args


def in_own_netns() -> bool:
    try:
        return os.readlink("/proc/self/ns/net") != os.readlink("/proc/1/ns/net")
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if os.geteuid() == 0 and not in_own_netns() and not os.environ.get(NETNS_MARK):
        # A keten listens on fixed loopback addresses: give this run its own.
        cmd = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "_",
               sys.executable, "-m", "bench", *argv]
        os.execvpe("unshare", cmd, {**os.environ, NETNS_MARK: "1"})
    report = {"machine": machine(), "commando": shlex.join([Path(sys.executable).name, "-m", "bench", *argv]),
              "seed": args.seed, "versies": versies(), "gestart": dt.datetime.now(dt.timezone.utc).isoformat(),
              "metingen": {}}
    steps = {
        "opstarten": lambda: opstarten([args.keten, args.landelijk] if args.landelijk != args.keten else [args.keten]),
        "uitwisseling": lambda: uitwisseling(args.keten, args.n, args.seed, args.afzenders,
                                             basislijn=not args.zonder_basislijn,
                                             hergebruik=not args.verbinding_per_bericht, tempo=args.tempo),
        "check": lambda: check(args.landelijk),
        "features": lambda: features(args.landelijk),
    }
    for name in args.metingen:
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            report["metingen"][name] = steps[name]()
        except Exception as e:  # noqa: BLE001 - one failed measurement does not lose the others
            traceback.print_exc()
            report["metingen"][name] = {"fout": f"{type(e).__name__}: {e}"}
    report["belasting_bij_einde"] = [round(x, 2) for x in os.getloadavg()]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(table(report))
    print(f"JSON: {args.json}")
    failed = [n for n, r in report["metingen"].items() if "fout" in r or r.get("in_orde") is False]
    return 1 if failed else 0
