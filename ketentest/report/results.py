"""The results of one run, per test, as reports/resultaten.json.

A test's outcome comes from pytest (passed/failed/skipped per phase) and
the exception that failed it:

- ``gefaald``: an assertion failed — a broken agreement (ketendefect);
- ``fout``: the harness or simulated infrastructure broke
  (InfrastructureError, any other error): no verdict on the keten;
- ``waarschuwing``: passed, with evidence carrying a warning verdict;
- ``geslaagd`` / ``overgeslagen``;
- ``nvt`` (niet van toepassing): the scenario needs a switch (or the internal
  state) of a real deelnemer the harness does not control (steps/echt.py). A
  skip whose reason starts with :data:`NVT_PREFIX`; it proves nothing, so it
  is never counted as geslaagd.

The previous run's file is kept as vorige-resultaten.json for "wat is er
veranderd".
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

FORMAT = "ketentest-resultaten/1"
RESULTS_FILE = "resultaten.json"
PREVIOUS_FILE = "vorige-resultaten.json"
#: The reason of a skip that means "not applicable to this (real) deelnemer": the marker the report reads.
NVT_PREFIX = "niet van toepassing: "


def is_nvt(reason: str) -> bool:
    """A skip reason that marks a "niet van toepassing" outcome."""
    return reason.startswith(NVT_PREFIX)


class Outcome(str, Enum):
    GESLAAGD = "geslaagd"
    WAARSCHUWING = "waarschuwing"
    GEFAALD = "gefaald"
    FOUT = "fout"
    OVERGESLAGEN = "overgeslagen"
    NVT = "nvt"  # not applicable: a real deelnemer the harness cannot switch; not tested here

    @property
    def dutch(self) -> str:
        return {"fout": "fout in testomgeving", "nvt": "n.v.t."}.get(self.value, self.value)


class FailureKind(str, Enum):
    """Matches the Allure categories in categories.json."""

    KETENDEFECT = "ketendefect"  # an agreement does not hold
    INFRASTRUCTUUR = "infrastructuur"  # InfrastructureError: the simulated chain could not run
    HARNAS = "harnas"  # any other error: a bug or gap in the test harness

    @property
    def dutch(self) -> str:
        return {
            "ketendefect": "Ketendefect (afspraak niet gehaald)",
            "infrastructuur": "Infrastructuurprobleem (testomgeving)",
            "harnas": "Harnasfout (testomgeving)",
        }[self.value]


@dataclass(frozen=True)
class EvidenceRef:
    """An evidence item as stored: the file under the reports folder."""

    naam: str
    soort: str
    bestand: str  # relative to the reports folder
    grootte: int
    oordeel: str | None = None
    toelichting: str = ""
    stap: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvidenceRef:
        return cls(**{k: d.get(k, v) for k, v in _EVIDENCE_DEFAULTS.items()})


_EVIDENCE_DEFAULTS = {"naam": "", "soort": "text", "bestand": "", "grootte": 0, "oordeel": None,
                      "toelichting": "", "stap": ""}


@dataclass(frozen=True)
class StapRecord:
    """One step of a scenario as the reader sees it ("Dan eindigt het SPF-record op "-all"")
    and how it went: geslaagd, gefaald, or niet uitgevoerd (after a failed step)."""

    tekst: str
    uitslag: str = "niet uitgevoerd"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StapRecord:
        return cls(str(d.get("tekst", "")), str(d.get("uitslag", "niet uitgevoerd")))


@dataclass(frozen=True)
class TestRecord:
    """One test (a scenario, possibly for one deelnemer)."""

    __test__ = False  # not a pytest test class

    nodeid: str
    scenario: str
    functionaliteit: str
    afspraken: tuple[str, ...]
    deelnemers: tuple[str, ...]
    uitslag: Outcome
    ernst: str | None = None
    melding: str = ""  # Dutch: why it failed, warned, erred or was skipped
    soort_fout: FailureKind | None = None
    bewijs: tuple[EvidenceRef, ...] = ()
    duur: float = 0.0
    stappen: tuple[StapRecord, ...] = ()  # the scenario's steps, in order (evidence names its step)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "scenario": self.scenario,
            "functionaliteit": self.functionaliteit,
            "afspraken": list(self.afspraken),
            "deelnemers": list(self.deelnemers),
            "uitslag": self.uitslag.value,
            "ernst": self.ernst,
            "melding": self.melding,
            "soort_fout": self.soort_fout.value if self.soort_fout else None,
            "bewijs": [asdict(e) for e in self.bewijs],
            "duur": round(self.duur, 3),
            "stappen": [asdict(s) for s in self.stappen],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TestRecord:
        return cls(
            nodeid=d["nodeid"],
            scenario=d.get("scenario", ""),
            functionaliteit=d.get("functionaliteit", ""),
            afspraken=tuple(d.get("afspraken", ())),
            deelnemers=tuple(d.get("deelnemers", ())),
            uitslag=Outcome(d["uitslag"]),
            ernst=d.get("ernst"),
            melding=d.get("melding", ""),
            soort_fout=FailureKind(d["soort_fout"]) if d.get("soort_fout") else None,
            bewijs=tuple(EvidenceRef.from_dict(e) for e in d.get("bewijs", ())),
            duur=float(d.get("duur", 0.0)),
            stappen=tuple(StapRecord.from_dict(s) for s in d.get("stappen", ())),
        )


@dataclass(frozen=True)
class Run:
    """One run of the ketentest: the keten, the settings and every test."""

    keten: str
    ketenbron: str
    beschrijving: str
    gestart: str  # ISO 8601, UTC
    duur: float
    zaad: int | None
    deelnemers: tuple[tuple[str, str], ...]  # (id, naam), in keten order
    aannames: dict[str, str]
    versies: dict[str, str]
    tests: tuple[TestRecord, ...]
    selectie: str = ""  # the -m expression, if any
    onderbroken: bool = False
    echt: tuple[str, ...] = ()  # ids of the real (not simulated) deelnemers
    echte_verzendingen: int | None = None  # real sends of the run; None: not counted (no real deelnemer)
    verzendingen_geteld_door: str = ""  # Dutch: who counted them (every process, or the test processes only)

    def to_dict(self) -> dict[str, Any]:
        return {
            "formaat": FORMAT,
            "keten": self.keten,
            "ketenbron": self.ketenbron,
            "beschrijving": self.beschrijving,
            "gestart": self.gestart,
            "duur": round(self.duur, 3),
            "zaad": self.zaad,
            "selectie": self.selectie,
            "onderbroken": self.onderbroken,
            "deelnemers": [{"id": i, "naam": n, "echt": i in self.echt} for i, n in self.deelnemers],
            "echte_verzendingen": self.echte_verzendingen,
            "verzendingen_geteld_door": self.verzendingen_geteld_door,
            "aannames": dict(self.aannames),
            "versies": dict(self.versies),
            "tests": [t.to_dict() for t in self.tests],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Run:
        return cls(
            keten=d.get("keten", ""),
            ketenbron=d.get("ketenbron", ""),
            beschrijving=d.get("beschrijving", ""),
            gestart=d.get("gestart", ""),
            duur=float(d.get("duur", 0.0)),
            zaad=d.get("zaad"),
            deelnemers=tuple((x["id"], x["naam"]) for x in d.get("deelnemers", ())),
            aannames=dict(d.get("aannames", {})),
            versies=dict(d.get("versies", {})),
            tests=tuple(TestRecord.from_dict(t) for t in d.get("tests", ())),
            selectie=d.get("selectie", ""),
            onderbroken=bool(d.get("onderbroken", False)),
            echt=tuple(x["id"] for x in d.get("deelnemers", ()) if x.get("echt")),
            echte_verzendingen=d.get("echte_verzendingen"),
            verzendingen_geteld_door=d.get("verzendingen_geteld_door", ""),
        )


# --- outcome of a test from pytest's phase reports ---------------------------

@dataclass
class OutcomeState:
    """Folds the setup/call/teardown reports of one test into its outcome."""

    uitslag: Outcome = Outcome.GESLAAGD
    melding: str = ""
    soort_fout: FailureKind | None = None
    duur: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def add_phase(self, when: str, outcome: str, exception: BaseException | None, longrepr: Any,
                  duration: float) -> None:
        self.duur += duration
        if outcome == "passed" or self.uitslag in (Outcome.GEFAALD, Outcome.FOUT, Outcome.OVERGESLAGEN, Outcome.NVT):
            return
        if outcome == "skipped":
            reason = skip_reason(longrepr)
            if is_nvt(reason):
                self.uitslag, self.melding = Outcome.NVT, reason[0].upper() + reason[1:]
                return
            self.uitslag = Outcome.OVERGESLAGEN
            self.melding = "Overgeslagen: " + reason
            return
        kind, message = classify(exception, longrepr)
        if when != "call" and kind is FailureKind.KETENDEFECT:
            kind = FailureKind.HARNAS  # an assertion in a fixture is not a scenario's verdict
        self.soort_fout = kind
        self.uitslag = Outcome.GEFAALD if kind is FailureKind.KETENDEFECT else Outcome.FOUT
        self.melding = message

    def final(self) -> tuple[Outcome, str]:
        if self.uitslag is Outcome.GESLAAGD and self.warnings:
            return Outcome.WAARSCHUWING, "\n".join(self.warnings)
        return self.uitslag, self.melding


def classify(exception: BaseException | None, longrepr: Any = None) -> tuple[FailureKind, str]:
    """The kind of failure and a Dutch message for a person."""
    import pytest

    from ketentest.errors import InfrastructureError, KetentestError

    if exception is None:
        return FailureKind.HARNAS, f"Fout in de testomgeving: {_first_lines(str(longrepr or ''))}"
    if isinstance(exception, AssertionError):
        return FailureKind.KETENDEFECT, assertion_message(exception)
    if isinstance(exception, pytest.fail.Exception):
        return FailureKind.KETENDEFECT, str(exception.msg)
    if isinstance(exception, InfrastructureError):
        return FailureKind.INFRASTRUCTUUR, f"Infrastructuurprobleem: {exception}"
    if isinstance(exception, KetentestError):
        return FailureKind.HARNAS, f"Fout in de testomgeving: {exception}"
    name = type(exception).__name__
    if name == "StepDefinitionNotFoundError":
        text = str(exception)  # steps/catalogus.py already made it Dutch, with the closest sentences
        return FailureKind.HARNAS, text if text.startswith("Stap bestaat niet") else f"Stapdefinitie ontbreekt: {text}"
    return FailureKind.HARNAS, f"Fout in de testomgeving: {name}: {exception}".rstrip(": ")


def assertion_message(exc: AssertionError) -> str:
    """The author's message without pytest's rewritten ``assert ...`` lines."""
    text = str(exc)
    kept: list[str] = []
    for line in text.splitlines():
        if line.startswith("assert ") or line.startswith("assert("):
            break
        kept.append(line)
    message = "\n".join(kept).strip()
    return message or "Controle mislukt: " + (text.splitlines()[0] if text else "assert zonder toelichting")


def skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr or "")
    return reason.removeprefix("Skipped: ").strip() or "geen reden opgegeven"


def _first_lines(text: str, n: int = 3) -> str:
    return "\n".join(text.strip().splitlines()[:n])


# --- files --------------------------------------------------------------------

def save_run(run: Run, directory: Path) -> Path:
    """Write resultaten.json, keeping the previous one as vorige-resultaten.json."""
    directory.mkdir(parents=True, exist_ok=True)
    current = directory / RESULTS_FILE
    if current.exists():
        os.replace(current, directory / PREVIOUS_FILE)
    tmp = current.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(run.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, current)
    return current


def load_run(path: Path) -> Run | None:
    """A stored run, or None if absent or unreadable (an old or broken file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("formaat") != FORMAT:
            return None
        return Run.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None

