"""B05 STARTTLS: every IP of every MX offers STARTTLS with TLS 1.3/1.2 only,
NCSC "goed"/"voldoende" ciphers and key exchange, no TLS compression,
secure renegotiation, no client-initiated renegotiation, and a certificate
key and signature per NCSC.

Look-ups and connections first (:mod:`ketentest.checks.tls_scan`), then
pure judgement: :func:`judge_starttls` folds plain records into sub-tests,
one ``judge_*`` function per aspect and server, so every verdict can be
unit-tested with hand-made records.

Fail / warn as docs/afspraken.md B05: fails on STARTTLS absent, TLS <= 1.1,
an "onvoldoende" cipher or group, compression, insecure renegotiation;
warns on an "uitfaseren" cipher, group or certificate key. Where the table
is silent we chose, and say so in the explanation:

* client-initiated renegotiation allowed fails (NCSC: "onvoldoende");
* a certificate key or signature hash rated "onvoldoende" (RSA < 2048,
  SHA-1) fails ("certificate key and signature per NCSC" is required);
* a server that does not prefer its stronger suites warns (as internet.nl);
* extended master secret, trust chain and name match only inform: for
  mail, DANE decides (B06).

Beyond internet.nl: every IP address of every MX (A records) and every
certificate type (RSA and ECDSA, under TLS 1.3 and 1.2) is tested. IPv6
(AAAA) is not tested.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from cryptography import x509

from ketentest.checks import ncsc
from ketentest.checks._dns import (MAX_MX, MxSet, evidence, guarded, mx_count_subtest, normalize_domain, parse_mx, untestable_result,
                                   usable, why_unusable)
from ketentest.checks.ncsc import Rating
from ketentest.checks.tls_scan import (DEFAULT_TIMEOUT, EHLO_NAME, SCAN_DEADLINE, SMTP_PORT, AcceptedSuite,
                                       Handshake, SmtpProbe, Target, TlsScan, cert_info, in_parallel,
                                       presented_chains, probe_preference, probe_smtp, scan_tls)
from ketentest.dns import DnsAnswer, Lookup
from ketentest.verdict import CheckResult, SubtestResult, Uitslag, worst

AGREEMENT = "B05"
F, W, P, N, I = Uitslag.GEFAALD, Uitslag.WAARSCHUWING, Uitslag.GESLAAGD, Uitslag.NIET_TESTBAAR, Uitslag.INFORMATIE

#: Rating -> verdict for ciphers, groups and certificate keys (B05's table).
RATING_VERDICT = {Rating.GOED: P, Rating.VOLDOENDE: P, Rating.UITFASEREN: W, Rating.ONVOLDOENDE: F}

ALLOWED_VERSIONS = ("TLSv1.3", "TLSv1.2")

FIX_STARTTLS = ("Zet STARTTLS aan op de mailserver (Postfix: smtpd_tls_security_level = may, met certificaat en "
                "sleutel), zodat verzenders de verbinding kunnen versleutelen.")
FIX_VERSIONS = ("Zet SSL 3, TLS 1.0 en TLS 1.1 uit; sta alleen TLS 1.3 en 1.2 toe (Postfix: "
                "smtpd_tls_protocols = >=TLSv1.2 en smtpd_tls_mandatory_protocols = >=TLSv1.2).")
FIX_CIPHERS = ("Bied alleen cipher suites met ECDHE-sleuteluitwisseling en AES-GCM of ChaCha20-Poly1305 aan "
               "(NCSC 'goed'); zet CBC-, 3DES-, RC4- en statische-RSA-suites uit (Postfix: smtpd_tls_ciphers = high "
               "met smtpd_tls_exclude_ciphers, of tls_high_cipherlist).")
FIX_ORDER = ("Laat de server zijn eigen volgorde afdwingen (Postfix: tls_preempt_cipherlist = yes) met de sterkste "
             "suites vooraan.")
FIX_GROUPS = ("Sta voor de sleuteluitwisseling alleen X25519, X448 en de NIST-curves P-256/P-384/P-521 toe "
              "(Postfix: tls_eecdh_auto_curves); zet eigen DH-groepen onder 3072 bits uit.")
FIX_COMPRESSION = "Zet TLS-compressie uit (kwetsbaar voor CRIME); OpenSSL: SSL_OP_NO_COMPRESSION."
FIX_RENEGOTIATION = "Zet secure renegotiation (RFC 5746) aan; werk de TLS-bibliotheek van de mailserver bij."
FIX_CLIENT_RENEG = ("Sta geen door de client gestarte renegotiation toe (kans op denial of service); OpenSSL: "
                    "SSL_OP_NO_RENEGOTIATION, of een recente TLS-bibliotheek.")
FIX_CERT_KEY = ("Vervang het certificaat door een met een RSA-sleutel van minstens 3072 bits of een ECDSA-sleutel "
                "op P-256/P-384 (en werk daarna de TLSA-records bij, B06).")
FIX_CERT_SIG = ("Laat het certificaat opnieuw uitgeven met een handtekening met SHA-256 of sterker (en werk daarna "
                "de TLSA-records bij, B06).")

ServerVerdict = tuple[Uitslag, str, dict[str, Any]]


def check_starttls(domain: str, lookup: Lookup, *, max_mx: int = MAX_MX, smtp_port: int = SMTP_PORT,
                   timeout: float = DEFAULT_TIMEOUT, ehlo: str = EHLO_NAME, ca_file: str | None = None,
                   scan_deadline: float = SCAN_DEADLINE, **context: object) -> CheckResult:
    """Look up the MX addresses, probe and scan each, then judge."""
    domain, problem = normalize_domain(domain)
    if problem:
        return untestable_result(AGREEMENT, domain, ("starttls.mx",), problem)
    ask = guarded(lookup)
    mxs = parse_mx(domain, ask(domain, "MX"))
    addresses = {h: ask(h, "A") for h in mxs.tested(max_mx)}
    targets = targets_of(addresses, smtp_port)
    probes = in_parallel(lambda t: probe_smtp(t, timeout=timeout, ehlo=ehlo), targets)
    scannable = [p.target for p in probes if p.testable and p.starttls]
    # sslyze sees one certificate per TLS 1.2 authentication type and TLS 1.3's
    # default; a TLS 1.3 handshake per signature algorithm finds the rest.
    # Those handshakes run while sslyze scans.
    end = time.monotonic() + scan_deadline
    pool = ThreadPoolExecutor(max_workers=max(1, len(scannable)), thread_name_prefix="ketentest-b05")
    try:
        extra = {t: pool.submit(presented_chains, t, timeout=timeout, ehlo=ehlo) for t in scannable}
        scans = scan_tls(scannable, timeout=timeout, ehlo=ehlo, ca_file=ca_file, deadline=scan_deadline)
        needs_order = [t for t in scannable if order_matters(scans[t])]
        preferences = in_parallel(lambda t: probe_preference(t, worst_first(scans[t]), timeout=timeout, ehlo=ehlo),
                                  needs_order)
        for t, pref in zip(needs_order, preferences):
            scans[t] = dataclasses.replace(scans[t], preference=pref)
        for t, future in extra.items():
            if "verbinding" in scans[t].errors:
                continue
            try:
                handshakes = future.result(timeout=max(1.0, end - time.monotonic()))
            except FuturesTimeout:  # keep sslyze's certificates; the deadline wins
                continue
            scans[t] = with_presented(scans[t], handshakes.values())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return judge_starttls(mxs, addresses, probes, scans, max_mx)


def with_presented(scan: TlsScan, handshakes: Iterable[Handshake]) -> TlsScan:
    """Pure: add the chains our own handshakes saw that sslyze did not."""
    known = {c.chain_der[0] for c in scan.certificates if c.chain_der}
    added = []
    for hs in handshakes:
        if hs.ok and hs.chain_der and hs.chain_der[0] not in known:
            known.add(hs.chain_der[0])
            chain = [x509.load_der_x509_certificate(d) for d in hs.chain_der]
            added.append(cert_info(chain, scan.target.host))
    return dataclasses.replace(scan, certificates=scan.certificates + tuple(added)) if added else scan


def targets_of(addresses: Mapping[str, DnsAnswer], port: int = SMTP_PORT) -> list[Target]:
    """Pure: every (MX host, IPv4 address) pair."""
    return [Target(host, ip, port) for host, answer in addresses.items() for ip in sorted(set(answer.records))]


def tls12_suites(scan: TlsScan) -> list[AcceptedSuite]:
    return [s for s in scan.suites if s.version == "TLSv1.2"]


def order_matters(scan: TlsScan) -> bool:
    """Pure: the server's TLS 1.2 suites differ in rating, so their order counts."""
    return len({ncsc.suite_rating(s.name)[0] for s in tls12_suites(scan)}) > 1


def worst_first(scan: TlsScan) -> list[AcceptedSuite]:
    return sorted(tls12_suites(scan), key=lambda s: -ncsc.suite_rating(s.name)[0].rank)


# --- judgement (pure) ---------------------------------------------------------------


def judge_starttls(mxs: MxSet, addresses: Mapping[str, DnsAnswer], probes: Sequence[SmtpProbe],
                   scans: Mapping[Target, TlsScan], max_mx: int = MAX_MX) -> CheckResult:
    """Pure: the whole B05 result from what was looked up and measured."""
    if not addresses:
        reason = mxs.problem or f"{mxs.domain} heeft geen MX-namen om te testen"
        return CheckResult(AGREEMENT, mxs.domain, (SubtestResult(
            "starttls.mx", AGREEMENT, N, f"Niet testbaar: {reason}.", {"mx": evidence(mxs.answer)}),))
    subtests = [judge_addresses(mxs, addresses, probes)]
    reachable = [p for p in probes if p.testable]
    if reachable:
        subtests.append(judge_presence(reachable))
    ordered = [scans[p.target] for p in reachable if p.target in scans]
    if ordered:
        subtests += [
            fold("starttls.tls_versies", ordered, judge_versions,
                 "Alle adressen accepteren alleen TLS 1.3 en/of 1.2.", FIX_VERSIONS),
            fold("starttls.ciphers", ordered, judge_ciphers,
                 "Alle geaccepteerde cipher suites zijn NCSC 'goed' of 'voldoende'.", FIX_CIPHERS),
            fold("starttls.cipher_volgorde", ordered, judge_order,
                 "De servers kiezen zelf de sterkste cipher suite (of alle suites zijn even sterk).", FIX_ORDER),
            fold("starttls.sleuteluitwisseling", ordered, judge_groups,
                 "De sleuteluitwisseling gebruikt alleen NCSC-goede groepen (X25519, X448, P-256/384/521).",
                 FIX_GROUPS),
            fold("starttls.compressie", ordered, judge_compression, "Geen TLS-compressie.", FIX_COMPRESSION),
            fold("starttls.secure_renegotiation", ordered, judge_secure_renegotiation,
                 "Secure renegotiation (RFC 5746) wordt ondersteund.", FIX_RENEGOTIATION),
            fold("starttls.client_renegotiation", ordered, judge_client_renegotiation,
                 "Door de client gestarte renegotiation wordt geweigerd.", FIX_CLIENT_RENEG),
            fold("starttls.extended_master_secret", ordered, judge_ems, "", ""),
            fold("starttls.certificaat_sleutel", ordered, judge_cert_key,
                 "De certificaatsleutels voldoen aan NCSC (RSA >= 3072, ECDSA P-256/384/521 of EdDSA).",
                 FIX_CERT_KEY),
            fold("starttls.certificaat_handtekening", ordered, judge_cert_signature,
                 "Alle certificaten zijn ondertekend met SHA-256 of sterker.", FIX_CERT_SIG),
            fold("starttls.certificaat_vertrouwen", ordered, judge_cert_trust, "", ""),
        ]
    if mxs.untested(max_mx):
        subtests.append(mx_count_subtest("starttls.mx_aantal", AGREEMENT, mxs, max_mx))
    return CheckResult(AGREEMENT, mxs.domain, tuple(subtests))


def judge_addresses(mxs: MxSet, addresses: Mapping[str, DnsAnswer], probes: Sequence[SmtpProbe]) -> SubtestResult:
    """Pure: which MX addresses could be tested, and why not the others."""
    problems: list[str] = []
    ev: dict[str, Any] = {}
    for host, answer in addresses.items():
        if not usable(answer):
            problems.append(why_unusable(answer))
        elif not answer.records:
            problems.append(f"{host} heeft geen IPv4-adres (A-record)"
                            + (" en bestaat niet (NXDOMAIN)" if answer.rcode == "NXDOMAIN" else ""))
        ev[host] = {"a": evidence(answer)}
    for p in probes:
        ev.setdefault(p.target.host, {})[p.target.ip] = {"banner": p.banner, "starttls": p.starttls,
                                                         "probleem": p.problem}
        if not p.testable:
            problems.append(p.problem)
    tested = [p.target.label for p in probes if p.testable]
    if problems:
        text = (f"Niet testbaar: {'; '.join(problems)}. "
                + (f"Wel getest: {', '.join(tested)}." if tested else "Geen enkel adres kon worden getest."))
        return SubtestResult("starttls.adressen", AGREEMENT, N, text, ev)
    return SubtestResult("starttls.adressen", AGREEMENT, P,
                         f"Alle {len(tested)} adressen van de MX-hosts zijn getest: {', '.join(tested)}.", ev)


def judge_presence(reachable: Sequence[SmtpProbe]) -> SubtestResult:
    """Pure: STARTTLS offered in the EHLO reply of every reachable address."""
    missing = [p.target.label for p in reachable if not p.starttls]
    ev = {p.target.label: {"starttls": p.starttls, "banner": p.banner} for p in reachable}
    if missing:
        return SubtestResult("starttls.aanwezig", AGREEMENT, F,
                             f"Geen STARTTLS in het EHLO-antwoord van {', '.join(missing)}: mail naar deze server "
                             f"gaat onversleuteld. {FIX_STARTTLS}", ev)
    return SubtestResult("starttls.aanwezig", AGREEMENT, P,
                         f"Alle {len(reachable)} adressen bieden STARTTLS aan.", ev)


def fold(subtest_id: str, scans: Sequence[TlsScan], judge: Callable[[TlsScan], ServerVerdict], ok_text: str,
         fix: str) -> SubtestResult:
    """Pure: one aspect over every server: the worst verdict, the servers
    that have it named with their reason, and the fix."""
    per = {s.target.label: judge(s) for s in scans}
    overall = worst(v for v, _, _ in per.values())
    ev = {label: {"uitslag": v.value, "reden": r, **extra} for label, (v, r, extra) in per.items()}
    if overall is I:
        return SubtestResult(subtest_id, AGREEMENT, I, "; ".join(f"{lb}: {r}" for lb, (_, r, _) in per.items()) + ".",
                             ev)
    if overall is P:
        return SubtestResult(subtest_id, AGREEMENT, P, ok_text, ev)
    bad = [f"{label}: {r}" for label, (v, r, _) in per.items() if v is overall]
    text = "; ".join(bad) + "."
    if overall is N:
        text = "Niet testbaar: " + text
    else:
        others = [f"{label}: {r}" for label, (v, r, _) in per.items() if v not in (overall, P, I)]
        if others:
            text += " Verder: " + "; ".join(others) + "."
        text += " " + fix
    return SubtestResult(subtest_id, AGREEMENT, overall, text, ev)


def _untested(scan: TlsScan, *aspects: str) -> str:
    """Dutch: why these aspects were not measured ("" = they were)."""
    found = [scan.errors[a] for a in aspects if a in scan.errors]
    return "; ".join(found) or scan.errors.get("verbinding", "")


def _names(items: Sequence[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f" en nog {len(items) - limit}" if len(items) > limit else "")


def judge_versions(scan: TlsScan) -> ServerVerdict:
    accepted = [v for v, ok in scan.versions.items() if ok]
    ev = {"versies": accepted}
    if scan.refused_at_once:  # how it was measured: one hello with every suite, instead of one per suite
        ev["in_één_handdruk_geweigerd"] = list(scan.refused_at_once)
    old = [v for v in accepted if v not in ALLOWED_VERSIONS]
    if old:
        return F, f"accepteert {', '.join(old)} (NCSC: {', '.join(ncsc.version_rating(v).value for v in old)})", ev
    missing = _untested(scan, *(f"versie {v}" for v in ncsc.TLS_VERSIONS))
    if missing:
        return N, missing, ev
    if not accepted:
        return F, "geen enkele TLS-versie werkt na STARTTLS", ev
    return P, f"accepteert {', '.join(accepted)}", ev


def judge_ciphers(scan: TlsScan) -> ServerVerdict:
    rated = [(s, *ncsc.suite_rating(s.name)) for s in scan.suites]
    ev = {"suites": {f"{s.version} {s.name}": r.value for s, r, _ in rated}}
    if rated:
        worst_r = ncsc.worst_rating(r for _, r, _ in rated)
        verdict = RATING_VERDICT[worst_r]
        if verdict is not P:
            bad = [f"{s.name} ({s.version}; {why})" for s, r, why in rated if r is worst_r]
            return verdict, f"accepteert {len(bad)} suite(s) met NCSC-oordeel '{worst_r.value}': {_names(bad)}", ev
    missing = _untested(scan, *(f"versie {v}" for v in ncsc.TLS_VERSIONS))
    if missing:
        return N, missing, ev
    if not rated:
        return F, "geen enkele cipher suite werkt", ev
    return P, f"{len(rated)} suites, alle goed of voldoende", ev


def judge_order(scan: TlsScan) -> ServerVerdict:
    suites = tls12_suites(scan)
    ratings = {s.name: ncsc.suite_rating(s.name)[0] for s in suites}
    if len(set(ratings.values())) <= 1:
        return P, "niet van toepassing: alle TLS 1.2-suites zijn even sterk", {}
    pref = scan.preference
    if pref is None or pref.chosen is None:
        return N, (pref.problem if pref else "de voorkeursvolgorde is niet gemeten"), {}
    ev = {"aangeboden_zwakste_eerst": list(pref.offered), "gekozen": pref.chosen}
    best = min(ratings.values(), key=lambda r: r.rank)
    chosen = ratings.get(pref.chosen, ncsc.suite_rating(pref.chosen)[0])
    if chosen.rank > best.rank:
        return W, (f"kiest {pref.chosen} ('{chosen.value}') als de client die eerst noemt, terwijl een "
                   f"'{best.value}' suite beschikbaar is: de server dwingt zijn eigen volgorde niet af"), ev
    return P, f"kiest zelf {pref.chosen} ('{chosen.value}')", ev


def scan_groups(scan: TlsScan) -> list[str]:
    """Named groups the server supports plus the DH groups seen in handshakes."""
    found = list(scan.groups or ())
    found += [s.group for s in scan.suites if s.group and s.group not in found]
    return list(dict.fromkeys(found))


def judge_groups(scan: TlsScan) -> ServerVerdict:
    groups = scan_groups(scan)
    rated = {g: ncsc.group_rating(g) for g in groups}
    ev = {"groepen": {g: r.value for g, r in rated.items()}}
    if rated:
        worst_r = ncsc.worst_rating(rated.values())
        verdict = RATING_VERDICT[worst_r]
        if verdict is not P:
            bad = [g for g, r in rated.items() if r is worst_r]
            return verdict, f"sleuteluitwisseling met NCSC-oordeel '{worst_r.value}': {_names(bad)}", ev
    if scan.groups is None:
        return N, _untested(scan, "elliptic_curves") or "de groepen zijn niet gemeten", ev
    if not rated:
        return P, "geen (EC)DHE-sleuteluitwisseling (zie de cipher suites)", ev
    return P, f"groepen {', '.join(groups)}", ev


def _flag(scan: TlsScan, value: bool | None, aspect: str, bad_when: bool, bad: str, good: str,
          verdict: Uitslag = F) -> ServerVerdict:
    if value is None:
        return N, _untested(scan, aspect) or "niet gemeten", {}
    if value is bad_when:
        return verdict, bad, {"waarde": value}
    return P, good, {"waarde": value}


def judge_compression(scan: TlsScan) -> ServerVerdict:
    return _flag(scan, scan.compression, "tls_compression", True, "TLS-compressie staat aan", "geen compressie")


def judge_secure_renegotiation(scan: TlsScan) -> ServerVerdict:
    return _flag(scan, scan.secure_renegotiation, "session_renegotiation", False,
                 "ondersteunt geen secure renegotiation (RFC 5746): onveilige renegotiation",
                 "secure renegotiation")


def judge_client_renegotiation(scan: TlsScan) -> ServerVerdict:
    return _flag(scan, scan.client_renegotiation, "session_renegotiation", True,
                 "staat door de client gestarte renegotiation toe (NCSC: onvoldoende; wij laten dit falen)",
                 "weigert client-renegotiation")


def judge_ems(scan: TlsScan) -> ServerVerdict:
    if scan.extended_master_secret is None:
        return I, "extended master secret niet gemeten: " + (_untested(scan, "tls_extended_master_secret") or "?"), {}
    if scan.extended_master_secret:
        return I, "ondersteunt extended master secret (RFC 7627)", {"waarde": True}
    return I, "ondersteunt geen extended master secret (RFC 7627); aanbevolen, geen eis", {"waarde": False}


def _cert_label(c) -> str:
    return f"{'ECDSA' if c.key_type == 'EC' else c.key_type}-certificaat"


def judge_cert_key(scan: TlsScan) -> ServerVerdict:
    if not scan.certificates:
        return N, _untested(scan, "certificate_info") or "geen certificaat ontvangen", {}
    rated = [(c, ncsc.cert_key_rating(c.key_type, c.key_size, c.curve)) for c in scan.certificates]
    ev = {"sleutels": {c.key_text: r.value for c, r in rated}}
    worst_r = ncsc.worst_rating(r for _, r in rated)
    verdict = RATING_VERDICT[worst_r]
    if verdict is P:
        return P, ", ".join(c.key_text for c, _ in rated), ev
    bad = [f"{_cert_label(c)} met {c.key_text}" for c, r in rated if r is worst_r]
    return verdict, f"{_names(bad)}: NCSC '{worst_r.value}'", ev


def judge_cert_signature(scan: TlsScan) -> ServerVerdict:
    if not scan.certificates:
        return N, _untested(scan, "certificate_info") or "geen certificaat ontvangen", {}
    rated = [(c, subject, h, ncsc.signature_rating(h)) for c in scan.certificates for subject, h in c.signature_hashes]
    ev = {"handtekeningen": [{"certificaat": s, "hash": h or "EdDSA", "oordeel": r.value} for _, s, h, r in rated]}
    worst_r = ncsc.worst_rating(r for *_, r in rated)
    verdict = RATING_VERDICT[worst_r]
    if verdict is P:
        return P, "handtekeningen met " + ", ".join(sorted({h or "EdDSA" for _, _, h, _ in rated})), ev
    bad = [f"{s} ({_cert_label(c)}) ondertekend met {h}" for c, s, h, r in rated if r is worst_r]
    return verdict, f"{_names(bad)}: NCSC '{worst_r.value}'", ev


def judge_cert_trust(scan: TlsScan) -> ServerVerdict:
    if not scan.certificates:
        return I, "geen certificaat ontvangen", {}
    parts = []
    for c in scan.certificates:
        trust = {True: "vertrouwde keten", False: "keten niet vertrouwd", None: "vertrouwen onbekend"}[c.trusted]
        name = "naam past" if c.name_matches else f"naam past niet ({', '.join(c.names) or 'geen naam'})"
        parts.append(f"{_cert_label(c)}: {trust}, {name}")
    return I, "; ".join(parts) + " (ter informatie: voor mail beslist DANE, B06)", {
        "certificaten": [{"onderwerp": c.subject, "namen": list(c.names), "vertrouwd": c.trusted,
                          "naam_past": c.name_matches} for c in scan.certificates]}
