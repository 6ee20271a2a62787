"""B04 DMARC: exactly one valid record, ``p=reject``.

Discovery as RFC 7489 6.6.3 and internet.nl: ``_dmarc.<domain>``, else
``_dmarc.<organisational domain>`` (Public Suffix List), where the ``sp``
policy (if any) applies. Sub-tests:
- ``dmarc.record``: exactly one ``v=DMARC1`` record;
- ``dmarc.syntax``: every tag valid (RFC 7489 6.3);
- ``dmarc.beleid``: ``p=reject`` passes, ``quarantine`` warns, ``none``,
  missing or invalid fails (``pct`` < 100 warns: the policy covers part;
  ``sp=none`` beside a stricter ``p`` warns: it leaves every subdomain open
  to spoofing);
- ``dmarc.rapportage_extern`` (informatie): ``rua``/``ruf`` addresses in
  another organisational domain need a ``<domain>._report._dmarc.<dest>``
  authorisation record (RFC 7489 7.1), otherwise reports are not sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ketentest.checks._dns import evidence, guarded, normalize_domain, untestable_result, usable, why_unusable
from ketentest.checks._records import organizational_domain, parse_tag_list
from ketentest.dns import DnsAnswer, Lookup
from ketentest.verdict import CheckResult, SubtestResult, Uitslag

AGREEMENT = "B04"
SUBTESTS = ("dmarc.record", "dmarc.syntax", "dmarc.beleid", "dmarc.rapportage_extern")

_DMARC_VERSION = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)")
_POLICIES = ("none", "quarantine", "reject")
_KNOWN_TAGS = {"v", "p", "sp", "adkim", "aspf", "pct", "fo", "rf", "ri", "rua", "ruf",
               "np", "psd", "t"}  # the last three from DMARCbis: accepted, not judged
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_SIZE = re.compile(r"^\d+[kmgtKMGT]?$")
_ADDRESS = re.compile(r"^[^@\s]+@([A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)+)$")




def is_dmarc(text: str) -> bool:
    return bool(_DMARC_VERSION.match(text))


@dataclass(frozen=True)
class DmarcDiscovery:
    """Where the DMARC record was looked for, and what was found."""

    domain: str
    org_domain: str
    policy_domain: str = ""  # where the record used was found
    answers: tuple[DnsAnswer, ...] = ()
    records: tuple[str, ...] = ()  # the v=DMARC1 strings at the name used
    problem_kind: str = ""  # dns | nxdomain | geen | meerdere
    problem: str = ""
    report_auth: dict[str, DnsAnswer] = field(default_factory=dict)  # destination -> authorisation answer

    @property
    def record(self) -> str | None:
        return self.records[0] if len(self.records) == 1 else None

    @property
    def at_org(self) -> bool:
        return bool(self.policy_domain) and self.policy_domain != self.domain


def discover(domain: str, lookup: Lookup) -> DmarcDiscovery:
    """I/O: find the DMARC record (and the report authorisations it needs)."""
    ask = guarded(lookup)
    domain = domain.lower().rstrip(".")
    org = organizational_domain(domain)
    answers: list[DnsAnswer] = []
    for candidate in dict.fromkeys((domain, org)):
        if candidate != domain and answers[0].rcode == "NXDOMAIN" and ask(domain, "SOA").rcode == "NXDOMAIN":
            break  # a domain that does not exist has no mail to judge, whatever its parent says
        answer = ask(f"_dmarc.{candidate}", "TXT")
        answers.append(answer)
        if not usable(answer):
            return DmarcDiscovery(domain, org, answers=tuple(answers), problem_kind="dns",
                                  problem=why_unusable(answer))
        records = tuple(s for s in answer.txt_strings() if is_dmarc(s))
        if len(records) > 1:
            return DmarcDiscovery(domain, org, candidate, tuple(answers), records, "meerdere",
                                  f"_dmarc.{candidate} heeft {len(records)} v=DMARC1-records")
        if records:
            found = DmarcDiscovery(domain, org, candidate, tuple(answers), records)
            auth = {dest: ask(f"{candidate}._report._dmarc.{dest}", "TXT")
                    for dest in external_destinations(found)}
            return DmarcDiscovery(domain, org, candidate, tuple(answers), records, report_auth=auth)
    soa = ask(domain, "SOA")
    if soa.rcode == "NXDOMAIN":
        return DmarcDiscovery(domain, org, answers=tuple(answers), problem_kind="nxdomain",
                              problem=f"het domein {domain} bestaat niet (NXDOMAIN)")
    where = " of ".join(f"_dmarc.{c}" for c in dict.fromkeys((domain, org)))
    return DmarcDiscovery(domain, org, answers=tuple(answers), problem_kind="geen",
                          problem=f"geen v=DMARC1-record op {where}")


def _tags(record: str) -> tuple[dict[str, str], str]:
    try:
        return parse_tag_list(record), ""
    except ValueError as e:
        return {}, str(e)


def _uris(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()]


def _mailto_domain(uri: str) -> str | None:
    uri = uri.split("!", 1)[0]
    if not uri.lower().startswith("mailto:"):
        return None
    m = _ADDRESS.match(uri[7:])
    return m.group(1).lower() if m else None


def external_destinations(found: DmarcDiscovery) -> tuple[str, ...]:
    """Pure: report destinations (rua/ruf mailto domains) outside the policy
    domain's organisational domain."""
    tags, _ = _tags(found.record or "")
    own = organizational_domain(found.policy_domain)
    dests = []
    for tag in ("rua", "ruf"):
        for uri in _uris(tags.get(tag, "")):
            d = _mailto_domain(uri)
            if d and organizational_domain(d) != own:
                dests.append(d)
    return tuple(dict.fromkeys(dests))


def syntax_errors(record: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Pure: (errors, notes) for a DMARC record, in Dutch."""
    tags, err = _tags(record)
    if err:
        return (f"geen geldige taglijst: {err}",), ()
    errors: list[str] = []
    notes: list[str] = []
    if next(iter(tags), None) != "v" or tags.get("v") != "DMARC1":
        errors.append("v=DMARC1 moet de eerste tag zijn")
    for name in ("p", "sp", "np"):
        if name in tags and tags[name].lower() not in _POLICIES:
            errors.append(f"{name}={tags[name]} is geen geldig beleid (none, quarantine of reject)")
    if "p" not in tags:
        errors.append("de verplichte tag p= ontbreekt")
    for name in ("adkim", "aspf"):
        if name in tags and tags[name].lower() not in ("r", "s"):
            errors.append(f"{name}={tags[name]} moet r of s zijn")
    if "pct" in tags and not (tags["pct"].isdigit() and 0 <= int(tags["pct"]) <= 100):
        errors.append(f"pct={tags['pct']} moet een geheel getal van 0 tot en met 100 zijn")
    if "ri" in tags and not tags["ri"].isdigit():
        errors.append(f"ri={tags['ri']} moet een aantal seconden zijn")
    if "fo" in tags and not all(o.strip() in ("0", "1", "d", "s") for o in tags["fo"].split(":")):
        errors.append(f"fo={tags['fo']} mag alleen 0, 1, d en s bevatten (gescheiden door :)")
    if "rf" in tags and not all(f.strip().lower() == "afrf" for f in tags["rf"].split(":")):
        errors.append(f"rf={tags['rf']}: alleen afrf is gedefinieerd")
    for name in ("rua", "ruf"):
        if name in tags:
            uris = _uris(tags[name])
            if not uris:
                errors.append(f"{name}= is leeg")
            for uri in uris:
                base, _, size = uri.partition("!")
                if not _URI.match(base) or (size and not _SIZE.match(size)):
                    errors.append(f"{name}: {uri!r} is geen geldige URI")
                elif base.lower().startswith("mailto:") and _mailto_domain(base) is None:
                    errors.append(f"{name}: {uri!r} is geen geldig mailadres")
                elif not base.lower().startswith("mailto:"):
                    notes.append(f"{name}: {uri!r} is geen mailto-adres; rapporten gaan alleen per mail")
    unknown = [t for t in tags if t not in _KNOWN_TAGS]
    if unknown:
        notes.append("onbekende tags worden genegeerd: " + ", ".join(unknown))
    return tuple(errors), tuple(notes)


# -- judgement (pure) ------------------------------------------------------

def _sub(id_: str, verdict: Uitslag, text: str, **ev: Any) -> SubtestResult:
    return SubtestResult(id_, AGREEMENT, verdict, text, ev)


def judge_record(found: DmarcDiscovery) -> SubtestResult:
    ev = {"antwoorden": [evidence(a) for a in found.answers], "organisatiedomein": found.org_domain}
    if found.problem_kind in ("dns", "nxdomain"):
        return _sub("dmarc.record", Uitslag.NIET_TESTBAAR, f"Niet testbaar: {found.problem}.", **ev)
    if found.problem_kind == "geen":
        return _sub("dmarc.record", Uitslag.GEFAALD,
                    f"{found.domain} heeft geen DMARC-record ({found.problem}). Publiceer één TXT-record op "
                    f"_dmarc.{found.domain}, bijvoorbeeld 'v=DMARC1; p=reject; rua=mailto:dmarc@{found.domain}'.",
                    **ev)
    if found.problem_kind == "meerdere":
        return _sub("dmarc.record", Uitslag.GEFAALD,
                    f"{found.problem}; dan passen ontvangers geen DMARC toe (RFC 7489 6.6.3). "
                    "Houd precies één v=DMARC1-record over.", records=list(found.records), **ev)
    where = (f" (niet op _dmarc.{found.domain}, wel op het organisatiedomein {found.policy_domain})"
             if found.at_org else "")
    return _sub("dmarc.record", Uitslag.GESLAAGD,
                f"Precies één DMARC-record op _dmarc.{found.policy_domain}{where}.",
                record=found.record, gevonden_op=f"_dmarc.{found.policy_domain}", **ev)


def _no_record(id_: str, found: DmarcDiscovery) -> SubtestResult | None:
    if found.record is None:
        return _sub(id_, Uitslag.NIET_TESTBAAR, "Niet testbaar: er is geen bruikbaar DMARC-record (zie dmarc.record).")
    return None


def judge_syntax(found: DmarcDiscovery) -> SubtestResult:
    if (r := _no_record("dmarc.syntax", found)) is not None:
        return r
    errors, notes = syntax_errors(found.record or "")
    note = (" Let op: " + "; ".join(notes) + ".") if notes else ""
    if errors:
        return _sub("dmarc.syntax", Uitslag.GEFAALD,
                    "Het DMARC-record is ongeldig: " + "; ".join(errors)
                    + ". Herstel het record volgens RFC 7489 6.3." + note,
                    record=found.record, fouten=list(errors))
    return _sub("dmarc.syntax", Uitslag.GESLAAGD, "Het DMARC-record is syntactisch geldig." + note,
                record=found.record)


def judge_policy(found: DmarcDiscovery) -> SubtestResult:
    if (r := _no_record("dmarc.beleid", found)) is not None:
        return r
    tags, _ = _tags(found.record or "")
    tag = "sp" if found.at_org and "sp" in tags else "p"
    value = tags.get(tag, "").strip().lower()
    pct_text = tags.get("pct", "100")
    pct = int(pct_text) if pct_text.isdigit() and int(pct_text) <= 100 else 100
    ev = {"record": found.record, "tag": tag, "beleid": value or None, "pct": pct}
    applies = (f" (het record staat op het organisatiedomein {found.policy_domain}; voor {found.domain} "
               f"geldt {tag}=)") if found.at_org else ""
    fix = "Zet p=reject, zodat ontvangers vervalste mail uit naam van het domein weigeren."
    if value not in _POLICIES:
        shown = f"{tag}={tags[tag]}" if tag in tags else "p= ontbreekt"
        return _sub("dmarc.beleid", Uitslag.GEFAALD, f"Geen geldig DMARC-beleid ({shown}){applies}. {fix}", **ev)
    if value == "none" or pct == 0:
        why = f"{tag}=none" if value == "none" else "pct=0"
        return _sub("dmarc.beleid", Uitslag.GEFAALD,
                    f"Het DMARC-beleid is {why}{applies}: ontvangers doen niets met vervalste mail. {fix}", **ev)
    partial = f" Het beleid geldt maar voor {pct}% van de mail (pct={pct}); laat pct weg." if pct < 100 else ""
    if value == "quarantine":
        return _sub("dmarc.beleid", Uitslag.WAARSCHUWING,
                    f"Het DMARC-beleid is {tag}=quarantine{applies}: vervalste mail komt in quarantaine in "
                    f"plaats van geweigerd te worden. {fix}{partial}", **ev)
    if pct < 100:
        return _sub("dmarc.beleid", Uitslag.WAARSCHUWING,
                    f"Het DMARC-beleid is {tag}=reject{applies}, maar geldt maar voor {pct}% van de mail "
                    f"(pct={pct}); de rest krijgt quarantine. Laat pct weg.", **ev)
    if tag == "p" and tags.get("sp", "").strip().lower() == "none":
        return _sub("dmarc.beleid", Uitslag.WAARSCHUWING,
                    f"Het DMARC-beleid is p=reject, maar sp=none: voor elk subdomein van {found.policy_domain} "
                    "(ook niet-bestaande) doen ontvangers niets met vervalste mail, dus een vervalser stuurt "
                    f"gewoon vanuit bijvoorbeeld melding.{found.policy_domain}. Laat sp weg of zet sp=reject.", **ev)
    return _sub("dmarc.beleid", Uitslag.GESLAAGD, f"Het DMARC-beleid is {tag}=reject{applies}.", **ev)


def judge_report_auth(found: DmarcDiscovery) -> SubtestResult:
    if found.record is None:
        return _sub("dmarc.rapportage_extern", Uitslag.INFORMATIE,
                    "Geen DMARC-record, dus geen rapportadressen om te controleren.")
    if not found.report_auth:
        tags, _ = _tags(found.record)
        if not any(_uris(tags.get(t, "")) for t in ("rua", "ruf")):
            return _sub("dmarc.rapportage_extern", Uitslag.INFORMATIE,
                        "Het DMARC-record noemt geen rapportadressen (rua/ruf): het domein krijgt geen "
                        "DMARC-rapporten, dus ook geen zicht op vervalsingen. Overweeg rua=mailto:<adres>.")
        return _sub("dmarc.rapportage_extern", Uitslag.INFORMATIE,
                    "Alle rapportadressen (rua/ruf) liggen binnen het eigen organisatiedomein; "
                    "er is geen autorisatie nodig.")
    missing, ok, unknown = [], [], []
    for dest, answer in found.report_auth.items():
        if not usable(answer):
            unknown.append(f"{dest} ({why_unusable(answer)})")
        elif any(is_dmarc(s) for s in answer.txt_strings()):
            ok.append(dest)
        else:
            missing.append(dest)
    ev = {"bestemmingen": {d: evidence(a) for d, a in found.report_auth.items()}}
    parts = []
    if missing:
        parts.append("externe rapportbestemming(en) zonder autorisatie: " + ", ".join(
            f"{d} (ontbreekt: {found.policy_domain}._report._dmarc.{d} TXT 'v=DMARC1')" for d in missing)
            + "; zonder dat record sturen ontvangers geen rapporten (RFC 7489 7.1)")
    if unknown:
        parts.append("autorisatie niet vast te stellen voor " + ", ".join(unknown))
    if ok:
        parts.append("geautoriseerd: " + ", ".join(ok))
    return _sub("dmarc.rapportage_extern", Uitslag.INFORMATIE, _sentence("; ".join(parts)), **ev)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def judge_dmarc(found: DmarcDiscovery) -> CheckResult:
    return CheckResult(AGREEMENT, found.domain, (
        judge_record(found), judge_syntax(found), judge_policy(found), judge_report_auth(found),
    ))


def check_dmarc(domain: str, lookup: Lookup, **context: object) -> CheckResult:
    """B04 for ``domain``: discover (I/O), then judge (pure)."""
    domain, problem = normalize_domain(domain)
    if problem:
        return untestable_result(AGREEMENT, domain, SUBTESTS, problem)
    return judge_dmarc(discover(domain, lookup))

