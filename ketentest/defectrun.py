"""Runs the features against the healthy keten and against catalogue defects,
each run in its own network namespace (its own loopback, so runs can go in
parallel), and judges detection: per defect and agreement, expected vs.
observed — caught, missed, or collateral (failing where it should not)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ketentest.defecten import Defect, Verwachting, catalogue
from ketentest.errors import InfrastructureError

ROOT = Path(__file__).resolve().parent.parent
HEALTHY = "gezond"


@dataclass(frozen=True)
class Waarneming:
    """One scenario outcome of a run: its agreements, deelnemers, verdict."""

    scenario: str
    afspraken: tuple[str, ...]
    deelnemers: tuple[str, ...]
    uitslag: str  # geslaagd / waarschuwing / gefaald / fout / overgeslagen
    melding: str = ""


@dataclass(frozen=True)
class Run:
    defect: str  # defect id, or HEALTHY
    waarnemingen: tuple[Waarneming, ...]
    seconden: float
    returncode: int
    log: str = field(default="", repr=False)

    def failing(self, verdicts=("gefaald", "fout")) -> list[tuple[str, str | None, Waarneming]]:
        out = []
        for w in self.waarnemingen:
            if w.uitslag in verdicts:
                for a in w.afspraken:
                    for d in (w.deelnemers or (None,)):
                        out.append((a, d, w))
        return out


@dataclass(frozen=True)
class Detectie:
    """How one defect was detected."""

    defect: Defect
    run: Run
    gevangen: tuple[str, ...]  # expected agreements that did fail
    gemist: tuple[str, ...]  # expected agreements that did not fail
    bijschade: tuple[str, ...]  # agreements that failed without being expected
    fouten: tuple[str, ...]  # harness errors (not a verdict on the keten)

    @property
    def in_orde(self) -> bool:
        return not (self.gemist or self.bijschade or self.fouten)


def _netns_prefix() -> list[str]:
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
        return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "_"]
    return []  # serial runs on the shared loopback; the machine lock makes them wait


def run_features(defect_id: str | None, workdir: Path, extra: list[str] = (), timeout: float = 1800,
                 own_netns: bool = True) -> Run:
    """pytest features/ (with --defect) in its own network namespace (not
    with containers: they live in the engine's network namespace)."""
    name = defect_id or HEALTHY
    out = workdir / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [*(_netns_prefix() if own_netns else []), sys.executable, "-m", "pytest", str(ROOT / "features"), "-q", "-p", "no:cacheprovider",
           "-p", "no:hypothesispytest",  # no property tests in features/; its summary hook imports all of hypothesis
           "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), f"--rapportmap={out}",
           "-m", "not grensgeval", *extra]  # example rows judge their own configuration, not the keten's
    if defect_id:
        cmd.append(f"--defect={defect_id}")
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    results = out / "resultaten.json"
    if not results.exists():
        raise InfrastructureError(f"de run voor {name} gaf geen resultaten (code {proc.returncode})",
                                  "uitvoer: " + (proc.stdout + proc.stderr)[-2000:])
    data = json.loads(results.read_text(encoding="utf-8"))
    observations = tuple(Waarneming(t["scenario"], tuple(t["afspraken"]), tuple(t["deelnemers"]), t["uitslag"],
                                    t.get("melding", "")) for t in data["tests"])
    return Run(name, observations, seconds, proc.returncode, proc.stdout[-5000:])


def judge(defect: Defect, run: Run) -> Detectie:
    """Expected failures must fail, expected warnings must warn; any other
    failure or warning is collateral."""
    failing = run.failing(("gefaald",))
    warning = run.failing(("waarschuwing",))
    errors = tuple(sorted({f"{w.scenario}: {w.melding[:200]}" for w in run.waarnemingen if w.uitslag == "fout"}))
    caught, missed = [], []
    for expected, seen, label in ((defect.verwacht, failing, ""), (defect.waarschuwing, warning, " (waarschuwing)")):
        for v in expected:
            (caught if any(v.covers(a, d) for a, d, _ in seen) else missed).append(f"{v}{label}")
    collateral = sorted({str(Verwachting(a, d)) for a, d, _ in failing if not any(v.covers(a, d) for v in defect.verwacht)}
                        | {f"{Verwachting(a, d)} (waarschuwing)" for a, d, _ in warning
                           if not any(v.covers(a, d) for v in defect.waarschuwing)})
    return Detectie(defect, run, tuple(caught), tuple(missed), tuple(collateral), errors)


def run_catalogue(ids: list[str] | None, workdir: Path, parallel: int = 2, progress=None,
                  keten: str | None = None, backend: str = "processen",
                  gezond: bool = True) -> tuple[Run | None, list[Detectie]]:
    """The healthy run, then every defect (``parallel`` at a time), on the
    given keten (default: the built-in midden-nederland)."""
    from ketentest.defecten import get

    defects = [get(i) for i in ids] if ids else list(catalogue().values())
    extra = ["--keten", keten] if keten else []
    own_netns = backend != "containers"  # containers share the engine's loopback: one run at a time
    if not own_netns:
        extra += ["--backend", "containers"]
    healthy = run_features(None, workdir, extra, own_netns=own_netns) if gezond else None  # False: shown elsewhere
    if progress and healthy is not None:
        progress(HEALTHY, healthy)
    if not _netns_prefix() or not own_netns:
        parallel = 1
    detections: list[Detectie] = []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {pool.submit(run_features, d.id, workdir, extra, own_netns=own_netns): d for d in defects}
        for future, d in futures.items():
            detection = judge(d, future.result())
            detections.append(detection)
            if progress:
                progress(d.id, detection)
    return healthy, detections


def to_json(healthy: Run, detections: list[Detectie]) -> dict:
    return {
        "gezond": {"seconden": round(healthy.seconden, 1),
                   "gefaald": sorted({str(Verwachting(a, d)) for a, d, _ in healthy.failing(("gefaald", "fout",
                                                                                             "waarschuwing"))})},
        "defecten": [to_json_detection(x) for x in detections],
    }


def to_json_detection(x: Detectie) -> dict:
    return {"id": x.defect.id, "titel": x.defect.titel, "wat": x.defect.wat,
            "verwacht": [str(v) for v in x.defect.verwacht], "gevangen": list(x.gevangen),
            "gemist": list(x.gemist), "bijschade": list(x.bijschade), "fouten": list(x.fouten),
            "in_orde": x.in_orde, "seconden": round(x.run.seconden, 1)}
