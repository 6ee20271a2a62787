"""B06 DANE: every MX has a DNSSEC-secure TLSA RRset at ``_25._tcp.<mx>``
with usage 2 or 3 that matches the certificate chain the server presents
(RFC 7672).

Look-ups and handshakes first, then pure judgement (:func:`judge_dane`).
Per MX host: the MX RRset and the TLSA RRset must be secure; the TLSA owner
follows RFC 7672 2.2.3 (after a secure CNAME expansion of the MX host: first
``_25._tcp.<expanded name>``, then ``_25._tcp.<mx host>``). Per address:
STARTTLS, then one handshake per certificate type the server offers (TLS
1.3 with only ECDSA, then only RSA signature algorithms; TLS 1.2 and lower
with only ECDSA, then only RSA suites; one unrestricted), each distinct
presented chain matched with :func:`ketentest.dane.verify`.

Fails on: no TLSA, an insecure or bogus TLSA (or MX) RRset, only usage 0/1,
a chain that matches no record, an address without STARTTLS. Warns when
there is no rollover scheme: only one usable TLSA record, or every
presented certificate is matched by a single DANE-EE record with no
second record to fall back on (a key change would break delivery).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ketentest.checks._dns import (MAX_MX, MxSet, evidence, guarded, mx_count_subtest, normalize_domain, parse_mx,
                                   untestable_result, usable, why_unusable)
from ketentest.checks.b05_starttls import targets_of
from ketentest.checks.tls_scan import (DEFAULT_TIMEOUT, EHLO_NAME, SMTP_PORT, Handshake, Target, in_parallel,
                                       presented_chains)
from ketentest.dane import DaneResult, RecordStatus, TlsaRecord, describe_unusable, usable_records, verify
from ketentest.dns import DnsAnswer, DnssecState, Lookup
from ketentest.mx import TlsaLookup, lookup_tlsa  # noqa: F401  (shared with the sender: ketentest.mx)
from ketentest.verdict import CheckResult, SubtestResult, Uitslag, worst

AGREEMENT = "B06"
F, W, P, N = Uitslag.GEFAALD, Uitslag.WAARSCHUWING, Uitslag.GESLAAGD, Uitslag.NIET_TESTBAAR

FIX_NO_TLSA = ("Publiceer in de ondertekende zone een TLSA-record op _25._tcp.<mx-naam>, bijvoorbeeld "
               "'3 1 1 <SHA-256 van de publieke sleutel>' (DANE-EE) plus een '2 x x'-record voor de CA of een "
               "record voor de volgende sleutel.")
FIX_INSECURE = ("Onderteken de zone waarin het TLSA-record staat met DNSSEC en laat de DS bij de registrar "
                "publiceren; een onbeveiligd TLSA-record telt voor verzenders niet (RFC 7672).")
FIX_USAGE = ("Vervang de usage 0/1-records (PKIX) door usage 3 (DANE-EE) of 2 (DANE-TA): voor SMTP tellen alleen "
             "die (RFC 7672, 3.1.3).")
FIX_MISMATCH = ("Werk het TLSA-record bij zodat het past bij het certificaat dat de server nu presenteert (of zet "
                "het juiste certificaat terug); publiceer bij een sleutelwissel eerst het nieuwe record, wacht de "
                "TTL af, en vervang dan pas het certificaat.")
FIX_ROLLOVER = ("Publiceer een tweede bruikbaar TLSA-record als reserve: het record voor de volgende sleutel "
                "(3 1 1), of een DANE-TA-record (2 x x) voor de uitgevende CA, zodat een certificaatwissel de "
                "bezorging niet onderbreekt.")
FIX_ROLLOVER_TA = ("Publiceer een tweede bruikbaar TLSA-record als reserve: een DANE-EE-record (3 1 1) voor de "
                   "huidige sleutel, of een 2 x x-record voor de CA die het volgende certificaat uitgeeft, zodat een "
                   "wissel van CA de bezorging niet onderbreekt.")
FIX_SEND_CHAIN = ("Laat de server het CA-certificaat (het tussencertificaat) meesturen in de TLS-handshake: een "
                  "DANE-TA-record (usage 2) kan alleen overeenkomen met een certificaat dat de server zelf presenteert "
                  "(RFC 7672, 3.1.2). Het TLSA-record hoeft niet te veranderen.")
FIX_DIGEST = ("Verwijder het zwakkere record, of laat het record met de sterkste hash (SHA-512, matching type 2) ook "
              "bij het certificaat passen: verzenders negeren per usage en selector elk record met een zwakkere hash "
              "(RFC 7671, 9).")
FIX_MALFORMED = ("Herstel de onleesbare TLSA-records (de hash moet 32 bytes zijn voor SHA-256 en 64 voor SHA-512); "
                 "verzenders slaan een onleesbaar record over.")
FIX_STARTTLS = "Zet STARTTLS aan op deze server (zie B05); zonder TLS kan geen verzender DANE toepassen."


@dataclass(frozen=True)
class PresentedChains:
    """The chains one address presented, per kind of handshake."""

    target: Target
    starttls: bool
    handshakes: Mapping[str, Handshake] = field(default_factory=dict)  # kind -> handshake (tls_scan.HANDSHAKE_KINDS)
    problem: str = ""  # Dutch: why nothing could be fetched


# --- I/O ---------------------------------------------------------------------


def fetch_chains(target: Target, *, timeout: float = DEFAULT_TIMEOUT, ehlo: str = EHLO_NAME) -> PresentedChains:
    """Every chain the address presents: per certificate type, TLS 1.3 and TLS 1.2 and lower."""
    results = presented_chains(target, timeout=timeout, ehlo=ehlo)
    last = list(results.values())[-1]
    if last.failed_at in ("verbinding", "starttls"):
        return PresentedChains(target, last.failed_at != "starttls", results, last.problem)
    return PresentedChains(target, True, results)


def check_dane(domain: str, lookup: Lookup, *, max_mx: int = MAX_MX, smtp_port: int = SMTP_PORT,
               timeout: float = DEFAULT_TIMEOUT, ehlo: str = EHLO_NAME, now: dt.datetime | None = None,
               **context: object) -> CheckResult:
    domain, problem = normalize_domain(domain)
    if problem:
        return untestable_result(AGREEMENT, domain, ("dane.mx",), problem)
    ask = guarded(lookup)
    mxs = parse_mx(domain, ask(domain, "MX"))
    hosts = mxs.tested(max_mx)
    tlsa = {h: lookup_tlsa(h, ask) for h in hosts}
    addresses = {h: ask(h, "A") for h in hosts}
    targets = [t for t in targets_of(addresses, smtp_port) if tlsa[t.host].answer.records]
    chains = in_parallel(lambda t: fetch_chains(t, timeout=timeout, ehlo=ehlo), targets)
    return judge_dane(mxs, tlsa, addresses, chains, max_mx, now)


# --- judgement (pure) ------------------------------------------------------------


def judge_tlsa_host(mxs: MxSet, look: TlsaLookup, address: DnsAnswer | None = None) -> tuple[Uitslag, str, str]:
    """Pure: the TLSA RRset of one MX host -> (verdict, Dutch reason, fix)."""
    ans, owner = look.answer, look.owner
    if mxs.answer.state is DnssecState.INSECURE:
        also = f" en de TLSA-records op {owner}" if ans.state is DnssecState.INSECURE else ""
        return F, (f"de MX-records van {mxs.domain}{also} zijn niet met DNSSEC beveiligd (insecure), dus "
                   "verzenders gebruiken geen TLSA (RFC 7672, 2.2.1)"), FIX_INSECURE
    if ans.state is DnssecState.BOGUS:
        return F, why_unusable(ans), FIX_INSECURE
    if not usable(ans):
        return N, why_unusable(ans), ""
    if ans.state is DnssecState.INSECURE:
        what = "staan in een onbeveiligde zone (insecure, geen AD-bit)" if ans.records else \
            "ontbreken, en de zone is niet met DNSSEC beveiligd (insecure)"
        return F, f"de TLSA-records op {owner} {what}", FIX_INSECURE
    if not ans.records:
        how = "NXDOMAIN" if ans.rcode == "NXDOMAIN" else "geen records"
        return F, f"geen TLSA-record op {owner} ({how}, met DNSSEC bewezen)", FIX_NO_TLSA
    if address is not None and address.state is DnssecState.INSECURE:
        return F, (f"het A-record van {look.host} is niet met DNSSEC beveiligd; verzenders gebruiken de TLSA dan "
                   "niet (RFC 7672, 2.2.2)"), FIX_INSECURE
    good = usable_records(ans.records)
    if not good:
        usages = sorted({r.split()[0] for r in ans.records})
        if set(usages) <= {"0", "1"}:
            return F, (f"{owner} heeft alleen TLSA-records met usage {', '.join(usages)}: geen enkel record is voor "
                       "SMTP bruikbaar"), FIX_USAGE
        return F, (f"{owner} heeft geen enkel bruikbaar TLSA-record: {describe_unusable(ans.records)}"), \
            FIX_MALFORMED if any(u in ("2", "3") for u in usages) else FIX_USAGE
    via = f" (na CNAME naar {look.expanded})" if look.expanded != look.host else ""
    return P, f"{owner}{via}: {len(ans.records)} TLSA-record(s), {len(good)} bruikbaar, DNSSEC veilig", ""


def _leaf_key(der: bytes) -> str:
    key = x509.load_der_x509_certificate(der).public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA"
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    return type(key).__name__.removesuffix("PublicKey").lstrip("_")


def distinct_chains(pc: PresentedChains) -> list[tuple[str, tuple[bytes, ...]]]:
    """Pure: (label, chain) per distinct presented chain, labelled by the
    leaf's key type and the TLS versions it came with."""
    versions: dict[tuple[bytes, ...], list[str]] = {}
    for hs in pc.handshakes.values():
        if hs.ok and hs.chain_der:
            seen = versions.setdefault(hs.chain_der, [])
            if hs.version not in seen:
                seen.append(hs.version)
    return [(f"{_leaf_key(chain[0])}-certificaat ({', '.join(v)})", chain) for chain, v in versions.items()]


def judge_dane(mxs: MxSet, tlsa: Mapping[str, TlsaLookup], addresses: Mapping[str, DnsAnswer],
               chains: Sequence[PresentedChains], max_mx: int = MAX_MX,
               now: dt.datetime | None = None) -> CheckResult:
    """Pure apart from the clock (``now``, for usage 2 validity dates)."""
    if not tlsa:
        reason = mxs.problem or f"{mxs.domain} heeft geen MX-namen om te testen"
        return CheckResult(AGREEMENT, mxs.domain, (SubtestResult(
            "dane.mx", AGREEMENT, N, f"Niet testbaar: {reason}.", {"mx": evidence(mxs.answer)}),))
    subtests = [judge_tlsa(mxs, tlsa, addresses)]
    host_ok = {h: judge_tlsa_host(mxs, look, addresses.get(h))[0] is P for h, look in tlsa.items()}
    matched = judge_match(tlsa, addresses, chains, host_ok, now)
    subtests.append(matched)
    if any(host_ok.values()):
        subtests.append(judge_rollover(tlsa, chains, host_ok, now))
    if mxs.untested(max_mx):
        subtests.append(mx_count_subtest("dane.mx_aantal", AGREEMENT, mxs, max_mx))
    return CheckResult(AGREEMENT, mxs.domain, tuple(subtests))


def judge_tlsa(mxs: MxSet, tlsa: Mapping[str, TlsaLookup], addresses: Mapping[str, DnsAnswer]) -> SubtestResult:
    per = {h: judge_tlsa_host(mxs, look, addresses.get(h)) for h, look in tlsa.items()}
    ev: dict[str, Any] = {h: {"uitslag": v.value, "reden": r, "eigenaar": tlsa[h].owner,
                              "tlsa": [evidence(a) for a in tlsa[h].tried],
                              "cname": [evidence(a) for a in tlsa[h].cname_chain]} for h, (v, r, _) in per.items()}
    ev["mx"] = evidence(mxs.answer)
    overall = worst(v for v, _, _ in per.values())
    if overall is P:
        return SubtestResult("dane.tlsa", AGREEMENT, P,
                             "Elke MX heeft een DNSSEC-veilige TLSA-set met bruikbare records (usage 2/3): "
                             + "; ".join(r for _, r, _ in per.values()) + ".", ev)
    bad = [(h, r, fix) for h, (v, r, fix) in per.items() if v is overall]
    text = "; ".join(f"{h}: {r}" for h, r, _ in bad) + "."
    fixes = " ".join(dict.fromkeys(fix for _, _, fix in bad if fix))
    if overall is N:
        text = "Niet testbaar: " + text
    return SubtestResult("dane.tlsa", AGREEMENT, overall, f"{text} {fixes}".strip(), ev)


def _matches(look: TlsaLookup, chain: Sequence[bytes], now: dt.datetime | None) -> DaneResult:
    return verify(list(chain), list(look.answer.records), look.host, names=look.names, now=now)


def mismatch_fixes(result: DaneResult) -> list[str]:
    """Pure: the advice for a chain that matched no record, by what went wrong."""
    fixes = []
    for o in result.outcomes:
        if o.cause == "ta_not_presented":
            fixes.append(FIX_SEND_CHAIN)
        elif o.status is RecordStatus.SUPERSEDED:
            fixes.append(FIX_DIGEST)
        elif o.status.usable:
            fixes.append(FIX_MISMATCH)
    return list(dict.fromkeys(fixes)) or [FIX_MISMATCH]


def judge_match(tlsa: Mapping[str, TlsaLookup], addresses: Mapping[str, DnsAnswer],
                chains: Sequence[PresentedChains], host_ok: Mapping[str, bool],
                now: dt.datetime | None) -> SubtestResult:
    """Pure: every chain every address presents matches the host's TLSA RRset."""
    verdicts: list[tuple[Uitslag, str]] = []
    ev: dict[str, Any] = {}
    fixes: list[str] = []
    for host, look in tlsa.items():
        if not host_ok[host]:
            verdicts.append((N, f"{host}: niet vergeleken, want de TLSA-set telt niet (zie dane.tlsa)"))
            continue
        answer = addresses.get(host)
        if answer is None or not answer.records:
            verdicts.append((N, f"{host}: geen IPv4-adres om te verbinden"))
    for pc in chains:
        look = tlsa[pc.target.host]
        if not host_ok[pc.target.host]:
            continue
        label = pc.target.label
        if not pc.starttls:
            verdicts.append((F, f"{label} biedt geen STARTTLS aan, dus er is geen certificaat om te toetsen"))
            fixes.append(FIX_STARTTLS)
            continue
        found = distinct_chains(pc)
        if not found:
            problem = pc.problem or "; ".join(hs.problem for hs in pc.handshakes.values() if hs.problem)
            verdicts.append((N, f"{label}: geen certificaatketen ontvangen ({problem})"))
            continue
        ev[label] = {}
        for kind, chain in found:
            result = _matches(look, chain, now)
            ev[label][kind] = {"past": result.matched, "toelichting": result.explanation,
                               "leaf_sha256": hashlib.sha256(chain[0]).hexdigest(),
                               "record": result.matched_record}
            if result.matched:
                verdicts.append((P, f"{label}, {kind}: {result.explanation.rstrip('.')}"))
            else:
                verdicts.append((F, f"{label}, {kind}: {result.explanation.rstrip('.')}"))
                fixes += mismatch_fixes(result)
        not_offered = [k for k in ("ECDSA", "RSA")
                       if not any(hs.ok for kind, hs in pc.handshakes.items() if kind.startswith(k))]
        if not_offered:
            ev[label]["niet_aangeboden"] = not_offered
    overall = worst(v for v, _ in verdicts)
    if overall is P:
        return SubtestResult("dane.overeenkomst", AGREEMENT, P,
                             "Elke gepresenteerde certificaatketen (per adres en sleuteltype) past bij een "
                             "TLSA-record: " + "; ".join(r for _, r in verdicts) + ".", ev)
    bad = [r for v, r in verdicts if v is overall]
    text = "; ".join(bad) + "."
    if overall is N:
        text = "Niet testbaar: " + text
    return SubtestResult("dane.overeenkomst", AGREEMENT, overall,
                         f"{text} {' '.join(dict.fromkeys(fixes))}".strip(), ev)


def judge_rollover(tlsa: Mapping[str, TlsaLookup], chains: Sequence[PresentedChains],
                   host_ok: Mapping[str, bool], now: dt.datetime | None) -> SubtestResult:
    """Pure: a second usable record can take over when a key or certificate changes."""
    per: dict[str, tuple[Uitslag, str]] = {}
    fixes: list[str] = []
    for host, look in tlsa.items():
        if not host_ok[host]:
            continue
        records = usable_records(look.answer.records)
        if len(records) < 2:
            per[host] = (W, f"{look.owner} heeft maar één bruikbaar TLSA-record ({records[0].short})")
            fixes.append(FIX_ROLLOVER_TA if records[0].usage == 2 else FIX_ROLLOVER)
            continue
        host_chains = [c for pc in chains if pc.target.host == host for _, c in distinct_chains(pc)]
        matched_any: set[str] = set()
        thin = []
        for chain in host_chains:
            result = _matches(look, chain, now)
            hits = [o for o in result.outcomes if o.status is RecordStatus.MATCHED]
            matched_any |= {str(TlsaRecord.parse(o.record)) for o in hits}
            usages = {int(o.record.split()[0]) for o in hits}
            if hits and len(hits) < 2 and 2 not in usages:
                thin.append(chain)
        spare = [r for r in records if str(r) not in matched_any]
        if thin and not spare:
            per[host] = (W, f"elk certificaat van {host} past bij precies één DANE-EE-record, zonder reserverecord "
                            "(volgende sleutel of DANE-TA)")
            fixes.append(FIX_ROLLOVER)
        else:
            per[host] = (P, f"{look.owner}: {len(records)} bruikbare records")
    overall = worst(v for v, _ in per.values())
    ev = {h: {"uitslag": v.value, "reden": r} for h, (v, r) in per.items()}
    if overall is P:
        return SubtestResult("dane.rollover", AGREEMENT, P,
                             "Er is een rollover-schema: " + "; ".join(r for _, r in per.values()) + ".", ev)
    bad = [f"{h}: {r}" for h, (v, r) in per.items() if v is overall]
    return SubtestResult("dane.rollover", AGREEMENT, overall,
                         "Geen rollover-schema: " + "; ".join(bad) + ". " + " ".join(dict.fromkeys(fixes)), ev)
