"""The agreements of the afsprakenkader, by ID: the one list that markers,
reports and the coverage test read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Hoofdstuk(str, Enum):
    B = "Beveiligingsniveau e-maildomeinen"
    V = "Verzenden en ontvangen"
    S = "Storingen en misbruik"


@dataclass(frozen=True)
class Afspraak:
    id: str
    titel: str
    per_deelnemer: bool = False

    @property
    def hoofdstuk(self) -> Hoofdstuk:
        return Hoofdstuk[self.id[0]]


AFSPRAKEN: dict[str, Afspraak] = {
    a.id: a
    for a in (
        Afspraak("B01", "DNSSEC", True),
        Afspraak("B02", "SPF", True),
        Afspraak("B03", "DKIM", True),
        Afspraak("B04", "DMARC", True),
        Afspraak("B05", "STARTTLS", True),
        Afspraak("B06", "DANE", True),
        Afspraak("V01", "Routering"),
        Afspraak("V02", "Alleen veilig transport"),
        Afspraak("V03", "Afzenderauthenticatie"),
        Afspraak("V04", "Inhoud"),
        Afspraak("V05", "Privacy"),
        Afspraak("V06", "Kenmerk"),
        Afspraak("V07", "Ontvangstbevestiging"),
        Afspraak("V08", "Terugkoppeling"),
        Afspraak("V09", "Niets raakt zoek"),
        Afspraak("S01", "Meldpunt onbereikbaar of 4xx"),
        Afspraak("S02", "Meldpunt antwoordt 5xx"),
        Afspraak("S03", "DNS van meldpunt bogus"),
        Afspraak("S04", "TLSA past niet"),
        Afspraak("S05", "STARTTLS gestript of TLS afgewaardeerd"),
        Afspraak("S06", "Vervalste melding"),
        Afspraak("S07", "Vijandige of kapotte PDF, te groot bericht"),
        Afspraak("S08", "Verbinding valt weg tijdens DATA"),
    )
}
