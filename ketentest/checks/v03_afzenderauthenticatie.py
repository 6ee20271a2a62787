"""V03 Afzenderauthenticatie: the police mail is DKIM-signed by the police
domain and passes SPF, DKIM and DMARC (aligned) at the meldpunt, which
records this in an ``Authentication-Results`` header (RFC 8601).

Judged per message the police delivered for the kenmerk (the meldpunt's 250
names the stored key; when it does not, every message stored for the
kenmerk), from the topmost
``Authentication-Results`` header whose authserv-id is the meldpunt's domain
(or a host in it): a header from anyone else proves nothing. Sub-tests:

- ``v03.authentication_results``: the meldpunt's header is there and parses;
- ``v03.spf``: ``spf=pass`` for a MAIL FROM in the police domain;
- ``v03.dkim``: ``dkim=pass`` with ``header.d`` aligned with the police
  domain under the police's own DMARC ``adkim`` (strict: exactly the police
  domain; relaxed: the same organisational domain); the verdict names the
  signing domain it saw;
- ``v03.dmarc``: ``dmarc=pass`` with ``header.from`` the police domain;
- ``v03.ondertekend``: independently of the meldpunt's verdict, the stored
  message carries a DKIM-Signature with ``d=`` aligned with the police domain;
- ``v03.overondertekend``: every such signature over-signs each header the
  chain relies on (``h=`` lists it once more than the message has it), so
  nobody can put a second ``X-Kenmerk`` or ``From`` in front unnoticed;
- ``v03.opgeslagen``: stored in the inbox (new/), not in quarantine.

When the meldpunt refused the message for authentication (5.7.x naming
SPF/DKIM/DMARC, or RFC 7372 codes 5.7.20-5.7.27), ``v03.geweigerd`` fails.
"""

from __future__ import annotations

import re
from collections import Counter

import authres

from ketentest.checks._records import parse_tag_list
from ketentest.checks._vbase import (F, G, N, attempts_of, in_inbox, parse_message, refusals, result, sub,
                                     was_delivered)
from ketentest.mail.auth import aligned
from ketentest.mail.dkim import signed_header_names, unprotected_headers
from ketentest.model import Keten
from ketentest.verdict import CheckResult
from ketentest.verzending import OntvangenBericht, Verzending

AGREEMENT = "V03"

_AUTH_WORDS = re.compile(r"\b(dmarc|dkim|spf|geauthenticeerd|authenticat\w*)\b", re.I)
_RFC7372 = re.compile(r"\b5\.7\.(2[0-7])\b")
_ENHANCED_57 = re.compile(r"\b5\.7\.\d{1,3}\b")


def _within(domain: str, parent: str) -> bool:
    domain, parent = domain.lower().rstrip("."), parent.lower().rstrip(".")
    return domain == parent or domain.endswith("." + parent)


def auth_refusal(text: str) -> bool:
    """Does a 5xx reply say the sender failed authentication?"""
    return bool(_RFC7372.search(text)) or (bool(_ENHANCED_57.search(text)) and bool(_AUTH_WORDS.search(text)))


def meldpunt_header(b: OntvangenBericht, meldpunt_domain: str) -> tuple[authres.AuthenticationResultsHeader | None, str, str]:
    """(parsed header, its text, problem): the topmost Authentication-Results
    the meldpunt itself added (authserv-id in its domain), merged with the
    ones directly below it from the same authserv-id: RFC 8601 lets one
    receiver write its results in several headers (e.g. OpenDKIM and
    OpenDMARC, each its own). Only an unbroken run counts: a header further
    down (below a Received line, say) may have come with the message."""
    msg = parse_message(b.eml)
    if msg is not None:
        candidates = [str(v) if k.lower() == "authentication-results" else None for k, v in msg.items()]
    else:
        candidates = []
    if not any(c is not None for c in candidates) and b.authentication_results:
        candidates = [b.authentication_results.split(":", 1)[1] if b.authentication_results.lower().startswith(
            "authentication-results:") else b.authentication_results]
    problems: list[str] = []
    found: list[tuple[authres.AuthenticationResultsHeader, str]] = []
    for value in candidates:
        if value is None:  # another header
            if found:
                break
            continue
        text = "Authentication-Results: " + " ".join(value.split())
        try:
            header = authres.AuthenticationResultsHeader.parse(text)
        except Exception as e:  # authres raises its own syntax errors
            if found:
                break
            problems.append(f"onleesbaar ({e.__class__.__name__}: {e}): {text[:200]}")
            continue
        if _within(str(header.authserv_id), meldpunt_domain):
            found.append((header, text))
        elif found:
            break
        else:
            problems.append(f"authserv-id {header.authserv_id!r} is niet van {meldpunt_domain}")
    if not found:
        return None, "", "; ".join(problems) or "geen Authentication-Results-header"
    if len(found) == 1:
        return found[0][0], found[0][1], ""
    merged = authres.AuthenticationResultsHeader(authserv_id=found[0][0].authserv_id,
                                                 results=[r for h, _ in found for r in h.results])
    return merged, "\n".join(t for _, t in found), ""


def _props(r) -> dict[str, str]:
    return {f"{p.type}.{p.name}": str(p.value) for p in getattr(r, "properties", [])}


def _signature_tag(value: str, tag: str) -> str:
    m = re.search(rf"(?:^|;)\s*{tag}\s*=\s*([^;\s]+)", " ".join(str(value).split()))
    return m.group(1).lower() if m else ""


def _dkim_domains(msg) -> list[str]:
    return [_signature_tag(sig, "d") for sig in ((msg.get_all("DKIM-Signature") or []) if msg is not None else [])]


def police_messages(v: Verzending) -> tuple[OntvangenBericht, ...]:
    """The stored messages the police's own deliveries made: the receiver's
    250 names the stored key. Others about the same kenmerk (an attacker's
    copy the meldpunt quarantined) say nothing about the police's mail. When
    no reply names any key (a receiver with another reply format), all."""
    replies = " ".join(str((h.get("reply") or {}).get("text", "")) for a in attempts_of(v.postkantoor)
                       for h in (a.get("trace") or {}).get("hosts") or [] if isinstance(h, dict))
    ours = tuple(b for b in v.berichten if b.sleutel and b.sleutel in replies)
    return ours or v.berichten


def police_adkim(keten: Keten) -> str:
    """The police's DMARC DKIM alignment mode as the keten publishes it: "s" or "r" (the default)."""
    try:
        tags = parse_tag_list(keten.politie.domain.dmarc or "")
    except ValueError:
        return "r"
    return "s" if tags.get("adkim", "").strip().lower() == "s" else "r"


def _oversign_gaps(msg, key: str, police: str, adkim: str) -> tuple[list[str], int]:
    """Per police signature of one message: the chain headers it does not
    over-sign. Returns (problems, number of police signatures seen)."""
    present = Counter(name.lower() for name in msg.keys())
    problems, seen = [], 0
    for value in msg.get_all("DKIM-Signature") or []:
        d = _signature_tag(value, "d")
        if not aligned(d, police, adkim):
            continue
        seen += 1
        gaps = unprotected_headers(present, signed_header_names(str(value)))
        if gaps:
            problems.append(f"{key}: de handtekening d={d} s={_signature_tag(value, 's')} over-ondertekent "
                            f"{', '.join(gaps)} niet")
    return problems, seen


def check_v03(verzending: Verzending, keten: Keten, *, now=None) -> CheckResult:
    v = verzending
    police = keten.politie.domain.name
    adkim = police_adkim(keten)
    try:
        meldpunt_domain = keten.deelnemer(v.meldpunt_id).domain.name if v.meldpunt_id else ""
    except KeyError:
        meldpunt_domain = ""
    refused = [r for r in refusals(v.postkantoor) if auth_refusal(r["text"])]
    if not v.berichten:
        if refused:
            r = refused[-1]
            return result(AGREEMENT, v, keten, [sub(
                AGREEMENT, "geweigerd", F,
                f"Het meldpunt weigerde de melding omdat de afzender niet geauthenticeerd was: {r['code']} {r['text']}. "
                f"Onderteken alle uitgaande post van {police} met DKIM, verstuur alleen vanaf adressen in het SPF-record "
                "en zorg dat DMARC slaagt.", weigeringen=refused)])
        if was_delivered(v):
            why = ("bezorgd (250), maar het meldpunt toont geen opgeslagen bericht met dit kenmerk: staat het in "
                   "quarantaine, of registreerde het meldpunt het niet (zie V06)? Zonder het opgeslagen bericht is "
                   "de Authentication-Results-header niet te lezen")
        elif v.geweigerd:
            why = f"de melding is bij het indienen geweigerd ({v.geweigerd})"
        else:
            why = f"nog niet bezorgd (status {v.status!r})"
        return result(AGREEMENT, v, keten, [sub(AGREEMENT, "authentication_results", N, f"Niet testbaar: {why}.",
                                                 status=v.status)])
    if not meldpunt_domain:
        return result(AGREEMENT, v, keten, [sub(AGREEMENT, "authentication_results", N,
                                                 f"Niet testbaar: meldpunt {v.meldpunt_id!r} is onbekend in de keten, "
                                                 "dus het is niet na te gaan welke header van het meldpunt is.")])
    found: dict[str, list[str]] = {k: [] for k in ("authentication_results", "spf", "dkim", "dmarc", "ondertekend",
                                                   "overondertekend", "opgeslagen")}
    evidence: list[dict] = []
    passed_by: set[str] = set()  # d= of passing, aligned signatures, as the meldpunt reported them
    police_signatures = 0
    berichten = police_messages(v)
    for b in berichten:
        header, text, problem = meldpunt_header(b, meldpunt_domain)
        msg = parse_message(b.eml)
        signers = _dkim_domains(msg)
        evidence.append({"bericht": b.sleutel, "map": b.map, "client_ip": b.client_ip,
                         "authentication_results": text or b.authentication_results, "dkim_handtekeningen_d": signers})
        if not any(aligned(d, police, adkim) for d in signers if d):
            found["ondertekend"].append(f"{b.sleutel}: geen DKIM-Signature met d in lijn met {police} (adkim={adkim})"
                                        + (f" (wel: {', '.join(signers)})" if signers else " (geen handtekening)"))
        if msg is not None:
            gaps, seen = _oversign_gaps(msg, b.sleutel, police, adkim)
            found["overondertekend"] += gaps
            police_signatures += seen
        if not in_inbox(b):
            found["opgeslagen"].append(f"{b.sleutel}: opgeslagen in {b.map!r}")
        if header is None:
            found["authentication_results"].append(f"{b.sleutel}: {problem}")
            for k in ("spf", "dkim", "dmarc"):
                found[k].append(f"{b.sleutel}: geen uitslag (geen header van het meldpunt)")
            continue
        by_method = {}
        for r in header.results:
            by_method.setdefault(str(r.method).lower(), []).append(r)
        spf = by_method.get("spf", [])
        if not any(r.result == "pass" and _within(_props(r).get("smtp.mailfrom", "").rsplit("@", 1)[-1], police)
                   for r in spf):
            found["spf"].append(f"{b.sleutel}: " + (", ".join(f"spf={r.result} {_props(r)}" for r in spf) or "geen spf"))
        dkim = by_method.get("dkim", [])
        good = [_props(r).get("header.d", "").lower() for r in dkim
                if r.result == "pass" and aligned(_props(r).get("header.d", ""), police, adkim)]
        passed_by.update(good)
        if not good:
            unaligned = [_props(r).get("header.d", "") for r in dkim if r.result == "pass"]
            found["dkim"].append(f"{b.sleutel}: " + (", ".join(
                f"dkim={r.result}" + (f" d={_props(r)['header.d']}" if "header.d" in _props(r) else "") for r in dkim)
                or "geen dkim") + (f" (d={', '.join(unaligned)} is niet in lijn met {police}: adkim={adkim}"
                                   + (", alleen precies d=" + police + " telt" if adkim == "s" else "") + ")"
                                   if unaligned else ""))
        dmarc = by_method.get("dmarc", [])
        if not any(r.result == "pass" and _within(_props(r).get("header.from", ""), police) for r in dmarc):
            found["dmarc"].append(f"{b.sleutel}: " + (", ".join(
                f"dmarc={r.result} from={_props(r).get('header.from', '?')}" for r in dmarc) or "geen dmarc"))

    n = len(berichten)
    ok = {
        "authentication_results": f"Het meldpunt legde de controle vast in Authentication-Results ({n} bericht(en)).",
        "spf": f"SPF geslaagd voor het afzendadres in {police}.",
        "dkim": f"DKIM geslaagd met een handtekening van d={', '.join(sorted(passed_by))} (in lijn met {police}, "
                f"adkim={adkim}).",
        "dmarc": f"DMARC geslaagd (in lijn) voor From-domein {police}.",
        "ondertekend": f"Het bericht draagt een DKIM-handtekening van {police}.",
        "overondertekend": f"Elke handtekening van {police} over-ondertekent de kopregels van de keten "
                           f"({police_signatures} handtekening(en)).",
        "opgeslagen": "Opgeslagen in de inbox (new/), niet in quarantaine.",
    }
    fix = {
        "authentication_results": f"Het meldpunt moet bij ontvangst een Authentication-Results-header met zijn eigen "
                                  f"authserv-id ({meldpunt_domain}) toevoegen (RFC 8601).",
        "spf": f"Verstuur alleen vanaf servers die in het SPF-record van {police} staan, met een afzendadres in "
               f"{police}.",
        "dkim": f"Onderteken elke melding met een DKIM-sleutel van {police} en publiceer de sleutel (B03).",
        "dmarc": f"DMARC slaagt alleen als SPF of DKIM slaagt voor {police} zelf (in lijn met het From-adres).",
        "ondertekend": f"Het postkantoor moet elke melding met DKIM ondertekenen (d={police}).",
        "overondertekend": "Neem elke kopregel waar de keten op leunt (From, To, Subject, Date, Message-ID, "
                           "X-Kenmerk, X-Berichtsoort, ...) in h= één keer vaker op dan hij voorkomt (RFC 6376 "
                           "8.15); anders kan iemand er een tweede voor zetten, bijvoorbeeld een ander kenmerk, "
                           "zonder dat de handtekening breekt.",
        "opgeslagen": "Een echte melding hoort niet in quarantaine: los de SPF-, DKIM- of DMARC-fout op; controleer "
                      "het DMARC-beleid van de politie.",
    }
    subs = []
    for key, problems in found.items():
        if key == "overondertekend" and not problems and not police_signatures:
            subs.append(sub(AGREEMENT, key, N, f"Niet testbaar: geen DKIM-handtekening van {police} om na te gaan "
                                               "(zie v03.ondertekend).", berichten=evidence))
            continue
        if problems:
            subs.append(sub(AGREEMENT, key, F, "; ".join(problems) + ". " + fix[key], berichten=evidence,
                            problemen=problems))
        else:
            subs.append(sub(AGREEMENT, key, G, ok[key], berichten=evidence))
    if refused:
        subs.append(sub(AGREEMENT, "geweigerd", F,
                        f"Het meldpunt weigerde ook een poging om authenticatieredenen: {refused[-1]['code']} "
                        f"{refused[-1]['text']}. {fix['dkim']}", weigeringen=refused))
    return result(AGREEMENT, v, keten, subs)
