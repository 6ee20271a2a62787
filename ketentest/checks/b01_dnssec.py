"""B01 DNSSEC: the mail domain and every MX host name validate as *secure*
from the trust anchor.

Like internet.nl's "DNSSEC exists / valid" for the domain and each MX name:
the domain's SOA and MX answers, and each MX host's A and AAAA answers, must
carry the resolver's AD bit. Insecure fails; bogus fails and names the
Extended DNS Error the resolver gave. Beyond internet.nl, every MX host is
checked (sorted by preference), not only some.

Also judged on ``dnssec.mx``: a null MX next to real MX records fails (RFC
7505 3; Postfix then delivers nothing, see :mod:`ketentest.mx`), and an MX
host name that is an alias (CNAME) warns (RFC 2181 10.3). Signatures made
with an algorithm RFC 8624 advises against warn (RSASHA1: 5 and 7) or fail
(MUST NOT: 1, 3, 6, 12), on both sub-tests.
"""

from __future__ import annotations

from ketentest.checks._dns import (MAX_MX, MxSet, evidence, guarded, mx_count_subtest, normalize_domain, parse_mx,
                                   untestable_result,
                                   usable, why_unusable)
from ketentest.dns import DnsAnswer, DnssecState, Lookup
from ketentest.mx import Expansion, expand_cname
from ketentest.verdict import CheckResult, SubtestResult, Uitslag, worst

AGREEMENT = "B01"
SUBTESTS = ("dnssec.domein", "dnssec.mx")  # plus dnssec.mx_aantal when there are too many MX

_FIX_INSECURE = ("Onderteken de zone met DNSSEC en laat de DS-record bij het bovenliggende domein "
                 "(registrar) publiceren.")
_FIX_BOGUS = ("Herstel de ondertekening: onderteken de zone opnieuw (verlopen handtekeningen), "
              "of laat de DS-record bij de registrar overeenkomen met de sleutel (KSK) van de zone.")
_FIX_ALGORITHM = ("Onderteken de zone opnieuw met ECDSAP256SHA256 (algoritme 13) of Ed25519 (15) en vervang de "
                  "DS bij de registrar (algoritmewissel, RFC 6781 4.1.4).")
_FIX_ALIAS = ("Laat elk MX-record direct naar de hostnaam van de mailserver wijzen (met een eigen A-record), niet "
              "naar een alias (CNAME).")

#: RFC 8624 3.1: algorithms that MUST NOT be used for signing, and those NOT RECOMMENDED (RSASHA1).
_ALG_MUST_NOT = {1: "RSAMD5", 3: "DSA", 6: "DSA-NSEC3-SHA1", 12: "ECC-GOST"}
_ALG_NOT_RECOMMENDED = {5: "RSASHA1", 7: "RSASHA1-NSEC3-SHA1"}


def check_dnssec(domain: str, lookup: Lookup, *, max_mx: int = MAX_MX, **context: object) -> CheckResult:
    """Look up, then judge: domain (SOA, MX) and each MX host (A, AAAA)."""
    domain, problem = normalize_domain(domain)
    if problem:
        return untestable_result(AGREEMENT, domain, SUBTESTS, problem)
    ask = guarded(lookup)
    soa, mx = ask(domain, "SOA"), ask(domain, "MX")
    mxs = parse_mx(domain, mx)
    hosts = {h: (ask(h, "A"), ask(h, "AAAA")) for h in mxs.tested(max_mx)}
    aliases = {h: expand_cname(h, ask) for h in hosts}
    subtests = [judge_domain(domain, soa, mx), judge_mx_hosts(mxs, hosts, aliases)]
    if mxs.untested(max_mx):
        subtests.append(judge_mx_count(mxs, max_mx))
    return CheckResult(AGREEMENT, domain, tuple(subtests))


def _state_verdict(name: str, answers: tuple[DnsAnswer, ...]) -> tuple[Uitslag, str]:
    """Pure: one name's answers -> verdict and a Dutch reason."""
    bogus = [a for a in answers if a.state is DnssecState.BOGUS]
    if bogus:
        return Uitslag.GEFAALD, why_unusable(bogus[0])
    broken = [a for a in answers if not usable(a)]
    if broken:
        return Uitslag.NIET_TESTBAAR, why_unusable(broken[0])
    if any(a.rcode == "NXDOMAIN" for a in answers):
        proven = " (met DNSSEC bewezen)" if all(a.state is DnssecState.SECURE for a in answers) else ""
        return Uitslag.NIET_TESTBAAR, f"{name} bestaat niet (NXDOMAIN{proven})"
    insecure = [a for a in answers if a.state is DnssecState.INSECURE]
    if insecure:
        return Uitslag.GEFAALD, (f"{name} is niet met DNSSEC beveiligd: het antwoord op "
                                 f"{insecure[0].qname} {insecure[0].rdtype} is onbeveiligd (insecure, geen AD-bit)")
    return Uitslag.GESLAAGD, f"{name} valideert als veilig (secure)"


def algorithm_verdict(answers: tuple[DnsAnswer, ...]) -> tuple[Uitslag, str] | None:
    """Pure: the signing algorithms of secure answers per RFC 8624 (None: fine)."""
    used = sorted({alg for a in answers if a.state is DnssecState.SECURE for alg in a.algorithms})
    banned = [f"{_ALG_MUST_NOT[a]} ({a})" for a in used if a in _ALG_MUST_NOT]
    if banned:
        return Uitslag.GEFAALD, (f"ondertekend met {', '.join(banned)}, dat volgens RFC 8624 niet meer voor "
                                 "ondertekenen gebruikt mag worden")
    weak = [f"{_ALG_NOT_RECOMMENDED[a]} ({a})" for a in used if a in _ALG_NOT_RECOMMENDED]
    if weak:
        return Uitslag.WAARSCHUWING, (f"ondertekend met {', '.join(weak)}: SHA-1-handtekeningen raadt RFC 8624 af "
                                      "en steeds meer validerende resolvers behandelen ze als onbeveiligd")
    return None


def _fix(verdict: Uitslag, reason: str) -> str:
    if verdict is Uitslag.GEFAALD:
        return _FIX_BOGUS if "bogus" in reason else _FIX_INSECURE
    return ""


def judge_domain(domain: str, soa: DnsAnswer, mx: DnsAnswer) -> SubtestResult:
    """Pure: the mail domain's SOA and MX answers are secure."""
    verdict, reason = _state_verdict(domain, (soa, mx))
    weak = algorithm_verdict((soa, mx)) if verdict is Uitslag.GESLAAGD else None
    if weak is not None:
        verdict, why = weak
        text = f"Het maildomein {domain} valideert als veilig, maar is {why}. {_FIX_ALGORITHM}"
    elif verdict is Uitslag.GESLAAGD:
        text = f"Het maildomein {domain} valideert als veilig met DNSSEC (SOA en MX)."
    elif verdict is Uitslag.NIET_TESTBAAR:
        text = f"Niet testbaar: {reason}."
    else:
        text = f"Het maildomein {domain} faalt op DNSSEC: {reason}. {_fix(verdict, reason)}"
    return SubtestResult("dnssec.domein", AGREEMENT, verdict, text,
                         {"domein": domain, "soa": evidence(soa), "mx": evidence(mx)})


def judge_mx_hosts(mxs: MxSet, hosts: dict[str, tuple[DnsAnswer, ...]],
                   aliases: dict[str, Expansion] | None = None) -> SubtestResult:
    """Pure: each tested MX host name's address answers are secure; no null
    MX among real ones; no MX host name that is an alias."""
    aliases = aliases or {}
    ev: dict[str, object] = {"mx": evidence(mxs.answer)}
    if mxs.answer.state is DnssecState.BOGUS:
        # The MX RRset itself fails validation: no sender can learn a secure MX name.
        return SubtestResult("dnssec.mx", AGREEMENT, Uitslag.GEFAALD,
                             f"De MX-records van {mxs.domain} falen op DNSSEC: {mxs.problem}. {_FIX_BOGUS}", ev)
    if not hosts:
        reason = mxs.problem or f"{mxs.domain} heeft geen MX-namen om te testen"
        return SubtestResult("dnssec.mx", AGREEMENT, Uitslag.NIET_TESTBAAR, f"Niet testbaar: {reason}.", ev)
    per_host: dict[str, dict[str, object]] = {}
    verdicts: dict[str, tuple[Uitslag, str, str]] = {}  # host -> (verdict, reason, fix)
    for host, answers in hosts.items():
        verdict, reason = _state_verdict(host, answers)
        verdicts[host] = (verdict, reason, _fix(verdict, reason))
        if verdict is Uitslag.GESLAAGD and (weak := algorithm_verdict(answers)) is not None:
            verdicts[host] = (weak[0], f"{host} is {weak[1]}", _FIX_ALGORITHM)
        exp = aliases.get(host)
        if exp is not None and exp.alias and verdicts[host][0] is Uitslag.GESLAAGD:
            verdicts[host] = (Uitslag.WAARSCHUWING,
                              f"{host} is een alias (CNAME naar {exp.expanded}); een MX-record hoort naar een "
                              "hostnaam met een eigen adres te wijzen, niet naar een alias (RFC 2181, 10.3)", _FIX_ALIAS)
        per_host[host] = {"uitslag": verdicts[host][0].value, "reden": verdicts[host][1],
                          "antwoorden": [evidence(a) for a in answers]}
        if exp is not None and exp.alias:
            per_host[host]["cname"] = [evidence(a) for a in exp.chain]
    ev["hosts"] = per_host
    if mxs.mixed_null:
        # RFC 7505 3: a null MX must be the only MX; a sender like Postfix then delivers nothing.
        verdicts["(null MX)"] = (Uitslag.GEFAALD, mxs.null_mx_reason,
                                 "Verwijder de null MX (MX 0 .) als het domein mail ontvangt, of alle andere "
                                 "MX-records als het dat niet doet.")
    overall = worst(v for v, _, _ in verdicts.values())
    note = (f" Let op: {mxs.domain} heeft geen MX-records; volgens RFC 5321 is het domein zelf de mailserver."
            if mxs.implicit else "")
    if overall is Uitslag.GESLAAGD:
        text = f"Alle MX-namen ({', '.join(hosts)}) valideren als veilig met DNSSEC.{note}"
    else:
        bad = [(r if h == "(null MX)" else f"{h}: {r}", fix) for h, (v, r, fix) in verdicts.items() if v is overall]
        prefix = {Uitslag.NIET_TESTBAAR: "Niet testbaar: ", Uitslag.WAARSCHUWING: "MX-namen met een waarschuwing: ",
                  }.get(overall, "MX-namen falen: ")
        fixes = " ".join(dict.fromkeys(fix for _, fix in bad if fix))
        text = prefix + "; ".join(r for r, _ in bad) + ". " + fixes + note
    return SubtestResult("dnssec.mx", AGREEMENT, overall, text.strip(), ev)


def judge_mx_count(mxs: MxSet, max_mx: int) -> SubtestResult:
    """Pure: MX hosts beyond the limit are reported, not silently skipped."""
    return mx_count_subtest("dnssec.mx_aantal", AGREEMENT, mxs, max_mx)
