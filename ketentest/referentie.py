"""Public reference data shipped with the project: CBS gemeenten and PC4 postcodes.

Sources and licences: ketentest/data/BRONNEN.md.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Gemeente:
    code: str  # CBS code, e.g. GM0344
    naam: str
    provincie: str
    veiligheidsregio: str  # VR01..VR25
    veiligheidsregio_naam: str


@dataclass(frozen=True)
class Postcodegebied:
    pc4: str
    gemeentecode: str
    woonplaats: str
    woonplaatsen: tuple[str, ...]


def _rows(filename: str) -> list[dict[str, str]]:
    with resources.files("ketentest.data").joinpath(filename).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@cache
def gemeenten() -> dict[str, Gemeente]:
    return {
        r["gemeentecode"]: Gemeente(
            r["gemeentecode"],
            r["gemeentenaam"],
            r["provincie"],
            r["veiligheidsregio_code"],
            r["veiligheidsregio_naam"],
        )
        for r in _rows("gemeenten.csv")
    }


@cache
def postcodegebieden() -> dict[str, Postcodegebied]:
    return {
        r["pc4"]: Postcodegebied(
            r["pc4"],
            r["gemeentecode"],
            r["woonplaats"],
            tuple(p for p in r["woonplaatsen_alle"].split("|") if p),
        )
        for r in _rows("pc4_gemeente.csv")
    }


def gemeenten_in_veiligheidsregio(vr: str) -> frozenset[str]:
    return frozenset(g.code for g in gemeenten().values() if g.veiligheidsregio == vr)


def gemeenten_in_provincie(provincie: str) -> frozenset[str]:
    return frozenset(g.code for g in gemeenten().values() if g.provincie == provincie)
