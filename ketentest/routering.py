"""Routering (agreement V01): postcode -> gemeente -> meldpunt.

The PC4 part of the person's postcode gives the gemeente (CBS table in
``ketentest/data/pc4_gemeente.csv``); the meldpunt is the one whose
werkgebied contains that gemeente. Nothing is guessed: an unknown postcode,
or a gemeente in no werkgebied, raises :class:`RouteringsFout` (a DataError)
telling the officer to use the alternative route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ketentest import referentie
from ketentest.errors import DataError
from ketentest.melding import Melding
from ketentest.model import Deelnemer, Keten
from ketentest.referentie import Gemeente

_POSTCODE = re.compile(r"^\s*([1-9]\d{3})\s*([A-Za-z]{2})?\s*$")

#: How the gemeente was found, as reports show it.
METHODE_PC4 = "postcode (PC4) -> gemeente via CBS-tabel adressen per postcode (1 augustus 2024)"

ALTERNATIEVE_ROUTE = (
    "de melding wordt niet verstuurd; gebruik de alternatieve route: neem telefonisch contact op "
    "met het meldpunt van de gemeente van betrokkene"
)


class RouteringsFout(DataError):
    """No meldpunt for this postcode; the melding must not be sent (V01)."""

    def __init__(self, postcode: str, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.postcode = postcode


@dataclass(frozen=True)
class Routering:
    postcode: str  # normalised: "3511 AB", or "3511" when only PC4 was given
    pc4: str
    gemeente: Gemeente
    meldpunt: Deelnemer
    methode: str = METHODE_PC4

    def __str__(self) -> str:
        return (f"postcode {self.postcode} -> gemeente {self.gemeente.code} ({self.gemeente.naam}) "
                f"-> meldpunt {self.meldpunt.id} ({self.meldpunt.adres})")


def normalise_postcode(postcode: str) -> tuple[str, str]:
    """Return (written form, pc4): "3511ab" -> ("3511 AB", "3511")."""
    m = _POSTCODE.match(postcode) if isinstance(postcode, str) else None
    if not m:
        raise RouteringsFout(str(postcode), f"postcode {postcode!r} is ongeldig",
                             "schrijf de postcode als vier cijfers en twee letters, zoals 3511 AB")
    pc4, letters = m.group(1), (m.group(2) or "").upper()
    return (f"{pc4} {letters}" if letters else pc4), pc4


def route(keten: Keten, postcode: str) -> Routering:
    """Find the meldpunt for a postcode in this keten, or raise RouteringsFout."""
    written, pc4 = normalise_postcode(postcode)
    gebied = referentie.postcodegebieden().get(pc4)
    if gebied is None:
        raise RouteringsFout(
            written,
            f"postcode {written}: het postcodegebied {pc4} is onbekend (niet in de CBS-tabel van "
            f"postcodes met adressen), dus de gemeente en het meldpunt zijn niet te bepalen",
            "controleer de postcode; klopt die, dan " + ALTERNATIEVE_ROUTE,
        )
    gemeente = referentie.gemeenten()[gebied.gemeentecode]
    found = [m for m in keten.meldpunten if gemeente.code in m.werkgebied]
    if not found:
        raise RouteringsFout(
            written,
            f"postcode {written} ligt in gemeente {gemeente.code} ({gemeente.naam}), en die valt in geen "
            f"werkgebied van een meldpunt in keten {keten.naam}",
            ALTERNATIEVE_ROUTE,
        )
    if len(found) > 1:  # config.py forbids this; a hand-built Keten might not
        raise RouteringsFout(
            written,
            f"gemeente {gemeente.code} ({gemeente.naam}) hoort bij meer dan één meldpunt: "
            + ", ".join(m.id for m in found),
            "corrigeer de werkgebieden in het ketenbestand: een gemeente hoort bij precies één meldpunt",
        )
    return Routering(written, pc4, gemeente, found[0])


def route_melding(keten: Keten, melding: Melding) -> Routering:
    """Route by the person's postcode (V01 routes by postcode, not by the
    gemeentecode written in the melding)."""
    return route(keten, melding.persoon.adres.postcode)
