"""The Melding (zorgmelding) as frozen values, independent of any file format.

The meldformulier PDF (:mod:`ketentest.meldformulier`) is one rendering of a
Melding; a structured payload (JSON, later perhaps a CORV-style message) is
another. Both travel through the same two views defined here:

- :meth:`Melding.to_dict` / :meth:`Melding.from_dict`: nested plain dict (JSON);
- :meth:`Melding.velden` / :meth:`Melding.from_velden`: a flat mapping
  ``veld -> text`` (the PDF form fields), in the fixed order of :data:`VELDEN`.

:meth:`Melding.validate` raises :class:`~ketentest.errors.DataError` naming the
field (its key and its Dutch label). :func:`compare` lists every differing
field in Dutch (agreement V04: the PDF fields equal the submitted melding).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from ketentest import referentie
from ketentest.errors import DataError

#: Kenmerk: two-letter keten prefix, year, six-digit sequence, e.g. MN-2026-000123.
KENMERK_RE = re.compile(r"^[A-Z]{2}-(?P<jaar>\d{4})-(?P<volgnummer>\d{6})$")
#: Dutch postcode in its written form "1234 AB"; SA, SD and SS are never issued.
POSTCODE_RE = re.compile(r"^[1-9]\d{3} (?!SA|SD|SS)[A-Z]{2}$")
GEMEENTECODE_RE = re.compile(r"^GM\d{4}$")
#: Police registration number (BVH style): eenheid code, year, sequence.
REGISTRATIENUMMER_RE = re.compile(r"^PL\d{4}-\d{10}$")
#: Incident code from the police code list (E33: verward/overspannen persoon).
INCIDENTCODE_RE = re.compile(r"^[A-Z]\d{2}$")
TELEFOON_RE = re.compile(r"^(\+31 ?|0)[1-9][0-9 -]{7,12}\d$")
EMAIL_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}@(?:[a-z0-9-]+\.)+[a-z]{2,}$")
TOEVOEGING_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,5}$|^$")

TIJDSTIP_FORMAAT = "%Y-%m-%d %H:%M"  # text form of Melding.tijdstip
MAX_KORT = 100  # names, street, woonplaats, basisteam
MAX_SIGNAAL = 300
MAX_SITUATIE = 1500


class Risico(str, Enum):
    """Risk indications: a small fixed vocabulary (codes are stable, labels Dutch)."""

    GEVAAR_ZELF = "gevaar-zelf"
    GEVAAR_ANDEREN = "gevaar-anderen"
    VERWARD_GEDRAG = "verward-gedrag"
    MIDDELENGEBRUIK = "middelengebruik"
    VERWAARLOZING = "verwaarlozing"
    VEREENZAMING = "vereenzaming"
    FINANCIEEL = "financieel"
    OVERLAST = "overlast"
    WAPENS = "wapens"
    KINDEREN = "kinderen"

    @property
    def label(self) -> str:
        return RISICO_LABELS[self]


RISICO_LABELS: dict[Risico, str] = {
    Risico.GEVAAR_ZELF: "Gevaar voor zichzelf",
    Risico.GEVAAR_ANDEREN: "Gevaar voor anderen",
    Risico.VERWARD_GEDRAG: "Verward gedrag",
    Risico.MIDDELENGEBRUIK: "Middelengebruik of verslaving",
    Risico.VERWAARLOZING: "Vervuiling of verwaarlozing van de woning",
    Risico.VEREENZAMING: "Vereenzaming of zelfverwaarlozing",
    Risico.FINANCIEEL: "Financiële problemen",
    Risico.OVERLAST: "Overlast voor de omgeving",
    Risico.WAPENS: "Wapens of gevaarlijke voorwerpen",
    Risico.KINDEREN: "Minderjarige kinderen in het huishouden",
}


def elfproef(bsn: str) -> bool:
    """True if ``bsn`` is nine digits passing the BSN eleven test
    (9*d1 + 8*d2 + ... + 2*d8 - 1*d9 divisible by 11, and not zero)."""
    if len(bsn) != 9 or not bsn.isascii() or not bsn.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(bsn, (9, 8, 7, 6, 5, 4, 3, 2, -1)))
    return total % 11 == 0 and total != 0


@dataclass(frozen=True)
class Adres:
    straat: str
    huisnummer: int
    toevoeging: str  # "" when none: "A", "bis", "2", "hs"
    postcode: str  # "1234 AB"
    woonplaats: str
    gemeentecode: str  # CBS code, e.g. GM0344


@dataclass(frozen=True)
class Persoon:
    voornamen: str
    achternaam: str  # including tussenvoegsel: "van der Berg"
    geboortedatum: date
    bsn: str
    adres: Adres


@dataclass(frozen=True)
class Melder:
    """The police officer who made the melding, and how to reach them."""

    naam: str
    telefoon: str
    email: str
    basisteam: str


@dataclass(frozen=True)
class Melding:
    kenmerk: str
    tijdstip: datetime  # local Dutch time, naive, minute precision
    registratienummer: str
    incidentcode: str
    persoon: Persoon
    signaal: str  # short: what made the police report
    situatie: str  # the situation as the officer found it (may span lines)
    risicos: tuple[Risico, ...]
    op_de_hoogte: bool  # does the person know of the melding?
    melder: Melder

    # -- validation -------------------------------------------------------
    def validate(self) -> Melding:
        """Raise DataError naming the first invalid field; return self if valid."""
        problems = self.problems()
        if problems:
            key, problem = problems[0]
            more = f" (en nog {len(problems) - 1} andere fout(en))" if len(problems) > 1 else ""
            raise DataError(
                f"Melding {self.kenmerk!r}: veld {LABELS[key]} ({key}): {problem}{more}",
                HINTS.get(key, "corrigeer dit veld en bied de melding opnieuw aan"),
            )
        return self

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid field as (key, Dutch problem), in field order."""
        out: list[tuple[str, str]] = []
        p, a, m = self.persoon, self.persoon.adres, self.melder

        def check(key: str, ok: bool, problem: str) -> None:
            if not ok:
                out.append((key, problem))

        check("kenmerk", _is_str(self.kenmerk) and bool(KENMERK_RE.match(self.kenmerk)),
              f"{self.kenmerk!r} heeft niet de vorm XX-JJJJ-NNNNNN (zoals MN-2026-000123)")
        check("tijdstip", _is_minute(self.tijdstip), f"{self.tijdstip!r} is geen datum en tijd in hele minuten, zonder tijdzone")
        check("registratienummer", _is_str(self.registratienummer) and bool(REGISTRATIENUMMER_RE.match(self.registratienummer)),
              f"{self.registratienummer!r} heeft niet de vorm PL0900-2026123456")
        check("incidentcode", _is_str(self.incidentcode) and bool(INCIDENTCODE_RE.match(self.incidentcode)),
              f"{self.incidentcode!r} is geen incidentcode als E33")
        _text(check, "persoon.voornamen", p.voornamen, MAX_KORT)
        _text(check, "persoon.achternaam", p.achternaam, MAX_KORT)
        if not isinstance(p.geboortedatum, date) or isinstance(p.geboortedatum, datetime):
            check("persoon.geboortedatum", False, f"{p.geboortedatum!r} is geen datum")
        elif _is_minute(self.tijdstip):
            check("persoon.geboortedatum", p.geboortedatum <= self.tijdstip.date(),
                  f"{p.geboortedatum.isoformat()} ligt na het tijdstip van de melding")
            check("persoon.geboortedatum", self.tijdstip.year - p.geboortedatum.year <= 120,
                  f"{p.geboortedatum.isoformat()} is meer dan 120 jaar geleden")
        check("persoon.bsn", _is_str(p.bsn) and elfproef(p.bsn),
              f"{p.bsn!r} is geen BSN: negen cijfers die de elfproef doorstaan")
        _text(check, "persoon.adres.straat", a.straat, MAX_KORT)
        check("persoon.adres.huisnummer", type(a.huisnummer) is int and 1 <= a.huisnummer <= 99999,
              f"{a.huisnummer!r} is geen huisnummer van 1 tot en met 99999")
        check("persoon.adres.toevoeging", _is_str(a.toevoeging) and bool(TOEVOEGING_RE.match(a.toevoeging)),
              f"{a.toevoeging!r} is geen toevoeging (hoogstens 6 letters, cijfers, spaties of '-')")
        check("persoon.adres.postcode", _is_str(a.postcode) and bool(POSTCODE_RE.match(a.postcode)),
              f"{a.postcode!r} is geen postcode in de vorm 1234 AB")
        _text(check, "persoon.adres.woonplaats", a.woonplaats, MAX_KORT)
        check("persoon.adres.gemeentecode",
              _is_str(a.gemeentecode) and bool(GEMEENTECODE_RE.match(a.gemeentecode)) and a.gemeentecode in referentie.gemeenten(),
              f"{a.gemeentecode!r} is geen bekende CBS-gemeentecode")
        _text(check, "signaal", self.signaal, MAX_SIGNAAL)
        _text(check, "situatie", self.situatie, MAX_SITUATIE, multiline=True)
        if not isinstance(self.risicos, tuple) or not all(isinstance(r, Risico) for r in self.risicos):
            check("risicos", False, f"{self.risicos!r} is geen rij risico-indicaties uit de vaste lijst")
        else:
            check("risicos", len(set(self.risicos)) == len(self.risicos), "een risico-indicatie komt meer dan eens voor")
        check("op_de_hoogte", isinstance(self.op_de_hoogte, bool), f"{self.op_de_hoogte!r} is geen ja/nee")
        _text(check, "melder.naam", m.naam, MAX_KORT)
        check("melder.telefoon", _is_str(m.telefoon) and bool(TELEFOON_RE.match(m.telefoon)),
              f"{m.telefoon!r} is geen Nederlands telefoonnummer")
        check("melder.email", _is_str(m.email) and bool(EMAIL_RE.match(m.email)),
              f"{m.email!r} is geen e-mailadres (kleine letters, zoals j.jansen@politie.test)")
        _text(check, "melder.basisteam", m.basisteam, MAX_KORT)
        return out

    # -- nested dict (JSON) ------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    @classmethod
    def from_dict(cls, data: Any) -> Melding:
        """Build a Melding from :meth:`to_dict` output; DataError names a missing,
        unknown or wrongly typed field. The result is validated."""
        return _from_plain(cls, data, "").validate()

    # -- flat text fields (PDF form) ---------------------------------------
    def velden(self) -> dict[str, str]:
        """Every field as text, keyed as in :data:`VELDEN`, in that order."""
        p, a, m = self.persoon, self.persoon.adres, self.melder
        return {
            "kenmerk": self.kenmerk,
            "tijdstip": self.tijdstip.strftime(TIJDSTIP_FORMAAT),
            "registratienummer": self.registratienummer,
            "incidentcode": self.incidentcode,
            "persoon.voornamen": p.voornamen,
            "persoon.achternaam": p.achternaam,
            "persoon.geboortedatum": p.geboortedatum.isoformat(),
            "persoon.bsn": p.bsn,
            "persoon.adres.straat": a.straat,
            "persoon.adres.huisnummer": str(a.huisnummer),
            "persoon.adres.toevoeging": a.toevoeging,
            "persoon.adres.postcode": a.postcode,
            "persoon.adres.woonplaats": a.woonplaats,
            "persoon.adres.gemeentecode": a.gemeentecode,
            "signaal": self.signaal,
            "situatie": self.situatie,
            "risicos": ",".join(r.value for r in self.risicos),
            "op_de_hoogte": "ja" if self.op_de_hoogte else "nee",
            "melder.naam": m.naam,
            "melder.telefoon": m.telefoon,
            "melder.email": m.email,
            "melder.basisteam": m.basisteam,
        }

    @classmethod
    def from_velden(cls, velden: dict[str, str]) -> Melding:
        """Parse the flat text fields back; DataError names the field. Validated."""
        missing = [k for k in VELDEN if k not in velden]
        extra = sorted(k for k in velden if k not in LABELS)
        if missing:
            raise DataError(f"velden ontbreken: {_named(missing)}",
                            "het formulier moet alle velden van het meldformulier bevatten")
        if extra:
            raise DataError(f"onbekende velden: {', '.join(extra)}",
                            "het formulier mag alleen de velden van het meldformulier bevatten")
        v = dict(velden)
        for k, value in v.items():
            if not isinstance(value, str):
                raise DataError(f"veld {LABELS[k]} ({k}): {value!r} is geen tekst")
        try:
            tijdstip = datetime.strptime(v["tijdstip"], TIJDSTIP_FORMAAT)
        except ValueError:
            raise _field_error("tijdstip", v["tijdstip"], "geen datum en tijd als 2026-03-14 09:30") from None
        try:
            geboortedatum = date.fromisoformat(v["persoon.geboortedatum"])
        except ValueError:
            raise _field_error("persoon.geboortedatum", v["persoon.geboortedatum"], "geen datum als 1980-05-17") from None
        if not (v["persoon.adres.huisnummer"].isascii() and v["persoon.adres.huisnummer"].isdigit()):
            raise _field_error("persoon.adres.huisnummer", v["persoon.adres.huisnummer"], "geen huisnummer")
        risicos = []
        for code in filter(None, v["risicos"].split(",")):
            try:
                risicos.append(Risico(code))
            except ValueError:
                raise _field_error("risicos", code, "geen risico-indicatie uit de vaste lijst") from None
        if v["op_de_hoogte"] not in ("ja", "nee"):
            raise _field_error("op_de_hoogte", v["op_de_hoogte"], "niet 'ja' of 'nee'")
        return cls(
            kenmerk=v["kenmerk"],
            tijdstip=tijdstip,
            registratienummer=v["registratienummer"],
            incidentcode=v["incidentcode"],
            persoon=Persoon(
                voornamen=v["persoon.voornamen"],
                achternaam=v["persoon.achternaam"],
                geboortedatum=geboortedatum,
                bsn=v["persoon.bsn"],
                adres=Adres(
                    straat=v["persoon.adres.straat"],
                    huisnummer=int(v["persoon.adres.huisnummer"]),
                    toevoeging=v["persoon.adres.toevoeging"],
                    postcode=v["persoon.adres.postcode"],
                    woonplaats=v["persoon.adres.woonplaats"],
                    gemeentecode=v["persoon.adres.gemeentecode"],
                ),
            ),
            signaal=v["signaal"],
            situatie=v["situatie"],
            risicos=tuple(risicos),
            op_de_hoogte=v["op_de_hoogte"] == "ja",
            melder=Melder(v["melder.naam"], v["melder.telefoon"], v["melder.email"], v["melder.basisteam"]),
        ).validate()


#: Every field: key -> Dutch label, in form order.
LABELS: dict[str, str] = {
    "kenmerk": "Kenmerk",
    "tijdstip": "Datum en tijd melding",
    "registratienummer": "Registratienummer politie",
    "incidentcode": "Incidentcode",
    "persoon.voornamen": "Voornamen",
    "persoon.achternaam": "Achternaam",
    "persoon.geboortedatum": "Geboortedatum",
    "persoon.bsn": "BSN",
    "persoon.adres.straat": "Straat",
    "persoon.adres.huisnummer": "Huisnummer",
    "persoon.adres.toevoeging": "Toevoeging",
    "persoon.adres.postcode": "Postcode",
    "persoon.adres.woonplaats": "Woonplaats",
    "persoon.adres.gemeentecode": "Gemeente (CBS-code)",
    "signaal": "Signaal",
    "situatie": "Situatieschets",
    "risicos": "Risico-indicaties",
    "op_de_hoogte": "Betrokkene is op de hoogte van de melding",
    "melder.naam": "Naam melder",
    "melder.telefoon": "Telefoon melder",
    "melder.email": "E-mail melder",
    "melder.basisteam": "Basisteam",
}
VELDEN: tuple[str, ...] = tuple(LABELS)

HINTS: dict[str, str] = {
    "kenmerk": "gebruik een kenmerk als MN-2026-000123 (twee hoofdletters, jaar, zes cijfers)",
    "persoon.bsn": "gebruik een BSN van negen cijfers dat de elfproef doorstaat",
    "persoon.adres.postcode": "schrijf de postcode als vier cijfers, een spatie en twee hoofdletters: 3511 AB",
    "persoon.adres.gemeentecode": "gebruik een CBS-gemeentecode uit ketentest/data/gemeenten.csv, zoals GM0344",
    "risicos": "kies uit: " + ", ".join(r.value for r in Risico),
}


@dataclass(frozen=True)
class Verschil:
    """One field that differs between the expected and the received melding."""

    veld: str
    label: str
    verwacht: str
    ontvangen: str

    def __str__(self) -> str:
        return f"{self.label} ({self.veld}): verwacht {self.verwacht!r}, ontvangen {self.ontvangen!r}"


def compare(expected: Melding, actual: Melding) -> list[Verschil]:
    """Every field whose text differs, in form order; empty when equal."""
    a, b = expected.velden(), actual.velden()
    return [Verschil(k, LABELS[k], a[k], b[k]) for k in VELDEN if a[k] != b[k]]


# -- helpers ---------------------------------------------------------------
def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_minute(v: Any) -> bool:
    return isinstance(v, datetime) and v.tzinfo is None and v.second == 0 and v.microsecond == 0


def _text(check, key: str, value: Any, limit: int, multiline: bool = False) -> None:
    if not isinstance(value, str):
        check(key, False, f"{value!r} is geen tekst")
        return
    check(key, value.strip() != "", "is leeg")
    check(key, value == value.strip(), "begint of eindigt met witruimte")
    check(key, len(value) <= limit, f"is {len(value)} tekens lang; hoogstens {limit}")
    allowed = "\n" if multiline else ""
    bad = [c for c in value if unicodedata.category(c).startswith("C") and c not in allowed]
    check(key, not bad, f"bevat een stuurteken ({bad[0]!r})" if bad else "")


def _named(keys: list[str]) -> str:
    return ", ".join(f"{LABELS.get(k, k)} ({k})" for k in keys)


def _field_error(key: str, value: str, problem: str) -> DataError:
    return DataError(f"veld {LABELS[key]} ({key}): {value!r} is {problem}",
                     HINTS.get(key, "corrigeer dit veld en bied de melding opnieuw aan"))


def _to_plain(obj: Any) -> Any:
    if is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, datetime):
        return obj.strftime(TIJDSTIP_FORMAAT)
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, tuple):
        return [_to_plain(x) for x in obj]
    return obj


_NESTED = {"persoon": Persoon, "adres": Adres, "melder": Melder}


def _from_plain(cls: type, data: Any, path: str) -> Any:
    where = path.rstrip(".") or "melding"
    if not isinstance(data, dict):
        raise DataError(f"{where}: verwacht een object met velden, kreeg {type(data).__name__}")
    names = [f.name for f in fields(cls)]
    missing = [n for n in names if n not in data]
    extra = sorted(str(k) for k in data if k not in names)
    if missing:
        raise DataError(f"{where}: velden ontbreken: {_named([path + n for n in missing])}",
                        "geef alle velden van de melding mee")
    if extra:
        raise DataError(f"{where}: onbekende velden: {', '.join(path + k for k in extra)}",
                        "laat velden weg die de melding niet kent")
    values: dict[str, Any] = {}
    for name in names:
        key, raw = path + name, data[name]
        if name in _NESTED:
            values[name] = _from_plain(_NESTED[name], raw, key + ".")
        elif name == "tijdstip":
            values[name] = _parse(key, raw, lambda s: datetime.strptime(s, TIJDSTIP_FORMAAT), "2026-03-14 09:30")
        elif name == "geboortedatum":
            values[name] = _parse(key, raw, date.fromisoformat, "1980-05-17")
        elif name == "risicos":
            if not isinstance(raw, list):
                raise _field_error(key, raw, "geen lijst van risico-indicaties")
            values[name] = tuple(_parse(key, r, Risico, "gevaar-zelf") for r in raw)
        else:
            values[name] = raw  # type checked by validate()
    return cls(**values)


def _parse(key: str, raw: Any, parse, example: str) -> Any:
    try:
        if not isinstance(raw, str):
            raise ValueError
        return parse(raw)
    except ValueError:
        raise _field_error(key, raw, f"ongeldig (voorbeeld: {example})") from None
