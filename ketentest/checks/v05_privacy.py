"""V05 Privacy: subject, headers and body carry no personal data, only the
kenmerk and fixed text; personal data lives only inside the PDF.

Searched: every header (RFC 2047 decoded) and every text part outside the
attachments, transfer-decoded (:func:`ketentest.mail.compose.
text_outside_attachments`), case-insensitive, on word boundaries.

What counts as personal data here (the list, with the forms searched):

- person: first names (the whole string and each name of 3+ letters),
  surname (whole, and its last part of 3+ letters: "van der Berg" -> "Berg"),
  BSN (9 digits, also split by spaces, dots or dashes), birth date
  (1980-05-17, 17-05-1980, 17-5-1980, 17/05/1980, 17.05.1980, 17 mei 1980),
  street (alone, 4+ letters) and street with house number, postcode
  ("3511 AB" and "3511AB");
- officer (melder): name, telephone (digits in any grouping, 0 or +31),
  e-mail address;
- the police registration number (it leads straight to the case file);
- free text: the signaal, and every line of the situatieschets of 20+
  characters.

Not searched, on purpose: woonplaats and gemeente (organisation names such as
"GGD regio Utrecht" contain them), incidentcode, risk codes, tijdstip,
basisteam (an organisational unit). Evidence names the field and where it was
found, never the value.

Sub-tests: ``v05.kenmerk`` (subject, X-Kenmerk and body quote the kenmerk)
and ``v05.persoonsgegevens``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ketentest.checks._vbase import F, G, N, parse_message, result, sub, was_delivered
from ketentest.mail.compose import KENMERK_HEADER, text_outside_attachments
from ketentest.melding import LABELS, Melding
from ketentest.model import Keten
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending

AGREEMENT = "V05"

_MAANDEN = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
            "november", "december")


@dataclass(frozen=True)
class Needle:
    field: str  # Melding key, e.g. "persoon.bsn"
    pattern: re.Pattern

    @property
    def label(self) -> str:
        return LABELS.get(self.field, self.field)


def _words(text: str) -> re.Pattern:
    return re.compile(r"(?<![\w])" + r"\s+".join(re.escape(w) for w in text.split()) + r"(?![\w])", re.I)


def _digits(digits: str) -> re.Pattern:
    return re.compile(r"(?<!\d)" + r"[\s.\-]?".join(digits) + r"(?!\d)")


def needles(m: Melding) -> list[Needle]:
    """The personal data of a melding as search patterns (see module doc)."""
    p, a, o = m.persoon, m.persoon.adres, m.melder
    out: list[Needle] = []

    def add(field: str, pattern: re.Pattern) -> None:
        out.append(Needle(field, pattern))

    add("persoon.voornamen", _words(p.voornamen))
    for name in p.voornamen.split():
        if len(name) >= 3:
            add("persoon.voornamen", _words(name))
    add("persoon.achternaam", _words(p.achternaam))
    last = p.achternaam.split()[-1] if p.achternaam.split() else ""
    if len(last) >= 3:
        add("persoon.achternaam", _words(last))
    add("persoon.bsn", _digits(p.bsn))
    d = p.geboortedatum
    for text in (d.isoformat(), f"{d.day:02d}-{d.month:02d}-{d.year}", f"{d.day}-{d.month}-{d.year}",
                 f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.day}/{d.month}/{d.year}",
                 f"{d.day:02d}.{d.month:02d}.{d.year}", f"{d.day} {_MAANDEN[d.month - 1]} {d.year}"):
        add("persoon.geboortedatum", re.compile(r"(?<![\d])" + re.escape(text).replace(r"\ ", r"\s+") + r"(?![\d])",
                                                re.I))
    if len(a.straat) >= 4:
        add("persoon.adres.straat", _words(a.straat))
    add("persoon.adres.straat", re.compile(r"(?<![\w])" + r"\s+".join(re.escape(w) for w in a.straat.split())
                                           + rf"\s*{a.huisnummer}(?!\d)", re.I))
    pc4, letters = a.postcode[:4], a.postcode[-2:]
    add("persoon.adres.postcode", re.compile(rf"(?<!\d){pc4}\s?{letters}(?![A-Za-z])", re.I))
    add("melder.naam", _words(o.naam))
    phone = re.sub(r"\D", "", o.telefoon)
    national = "0" + phone[2:] if phone.startswith("31") else phone
    add("melder.telefoon", _digits(national))
    add("melder.telefoon", re.compile(r"\+?31[\s.\-]?(?:\(0\))?[\s.\-]?" + r"[\s.\-]?".join(national[1:]) + r"(?!\d)"))
    add("melder.email", re.compile(re.escape(o.email), re.I))
    add("registratienummer", re.compile(re.escape(m.registratienummer), re.I))
    if len(m.signaal) >= 8:
        add("signaal", _words(m.signaal))
    for line in m.situatie.splitlines():
        if len(line.strip()) >= 20:
            add("situatie", _words(line.strip()))
    return out


def _body(msg) -> str:
    """The text parts outside the attachments, transfer-decoded."""
    return "\n".join((part.get_payload(decode=True) or b"").decode(part.get_content_charset() or "utf-8", "replace")
                     for part in msg.walk() if not part.is_multipart() and part.get_content_maintype() == "text"
                     and part.get_content_disposition() != "attachment")


def _where(msg, needle: Needle) -> list[str]:
    """Which places (header names, "tekst") hold the needle."""
    places = [f"header {name}" for part in msg.walk() for name, value in part.items()
              if needle.pattern.search(str(value))]
    if needle.pattern.search(_body(msg)):
        places.append("tekst")
    return list(dict.fromkeys(places)) or ["tekst"]


def check_v05(verzending: Verzending, keten: Keten, *, now=None) -> CheckResult:
    v = verzending
    if not v.berichten:
        why = ("bezorgd, maar het meldpunt toont geen opgeslagen bericht" if was_delivered(v)
               else f"de melding is bij het indienen geweigerd ({v.geweigerd})" if v.geweigerd
               else f"nog niet bezorgd (status {v.status!r})")
        return result(AGREEMENT, v, keten, [sub(AGREEMENT, "persoonsgegevens", N,
                                                 f"Niet testbaar: {why}; de kopregels en de tekst zijn te beoordelen "
                                                 "zodra het bericht bij het meldpunt is opgeslagen.")])
    patterns = needles(v.melding)
    found: list[dict] = []
    kenmerk_problems: list[str] = []
    for b in v.berichten:
        msg = parse_message(b.eml)
        if msg is None:
            kenmerk_problems.append(f"{b.sleutel}: het opgeslagen bericht is niet te lezen")
            continue
        text = text_outside_attachments(msg)
        for needle in patterns:
            if needle.pattern.search(text):
                for place in _where(msg, needle):
                    item = {"bericht": b.sleutel, "veld": needle.field, "label": needle.label, "plaats": place}
                    if item not in found:
                        found.append(item)
        subject = str(msg.get("Subject", ""))
        body = _body(msg)
        missing = [where for where, ok in (("onderwerp", v.kenmerk in subject),
                                           (KENMERK_HEADER, str(msg.get(KENMERK_HEADER, "")).strip() == v.kenmerk),
                                           ("tekst", v.kenmerk in body)) if not ok]
        if missing:
            kenmerk_problems.append(f"{b.sleutel}: kenmerk {v.kenmerk} ontbreekt in {', '.join(missing)}")
    subs = []
    if kenmerk_problems:
        subs.append(sub(AGREEMENT, "kenmerk", F,
                        "; ".join(kenmerk_problems) + ". Onderwerp, X-Kenmerk en tekst moeten het kenmerk noemen, zodat "
                        "het meldpunt de melding zonder persoonsgegevens kan herkennen.", problemen=kenmerk_problems))
    else:
        subs.append(sub(AGREEMENT, "kenmerk", G, f"Onderwerp, {KENMERK_HEADER} en tekst noemen kenmerk {v.kenmerk}."))
    searched = sorted({LABELS.get(n.field, n.field) for n in patterns})
    if found:
        where = "; ".join(f"{f['label']} in {f['plaats']}" for f in found)
        subs.append(sub(AGREEMENT, "persoonsgegevens", F,
                        f"Persoonsgegevens buiten de PDF: {where}. Onderwerp, kopregels en tekst mogen alleen het kenmerk "
                        "en vaste tekst bevatten; zet persoonsgegevens uitsluitend in het meldformulier (PDF).",
                        gevonden=found, gezocht=searched))
    else:
        subs.append(sub(AGREEMENT, "persoonsgegevens", G,
                        "Geen persoonsgegevens in onderwerp, kopregels of tekst (gezocht: " + ", ".join(searched) + ").",
                        gezocht=searched))
    return result(AGREEMENT, v, keten, subs)
