"""B01 DNSSEC: the mail domain and every MX host name validate as *secure*
from the trust anchor.

Like internet.nl's "DNSSEC exists / valid" for the domain and each MX name:
the domain's SOA and MX answers, and each MX host's A and AAAA answers, must
carry the resolver's AD bit. Insecure fails; bogus fails and names the
Extended DNS Error the resolver gave. Beyond internet.nl, every MX host is
checked (sorted by preference), not only some.
"""

from __future__ import annotations

from ketentest.checks._dns import (MAX_MX, MxSet, evidence, guarded, mx_count_subtest, normalize_domain, parse_mx,
                                   untestable_result,
                                   usable, why_unusable)
from ketentest.dns import DnsAnswer, DnssecState, Lookup
from ketentest.verdict import CheckResult, SubtestResult, Uitslag, worst

AGREEMENT = "B01"
SUBTESTS = ("dnssec.domein", "dnssec.mx")  # plus dnssec.mx_aantal when there are too many MX

_FIX_INSECURE = ("Onderteken de zone met DNSSEC en laat de DS-record bij het bovenliggende domein "
                 "(registrar) publiceren.")
_FIX_BOGUS = ("Herstel de ondertekening: onderteken de zone opnieuw (verlopen handtekeningen), "
              "of laat de DS-record bij de registrar overeenkomen met de sleutel (KSK) van de zone.")


def check_dnssec(domain: str, lookup: Lookup, *, max_mx: int = MAX_MX, **context: object) -> CheckResult:
    """Look up, then judge: domain (SOA, MX) and each MX host (A, AAAA)."""
    domain, problem = normalize_domain(domain)
    if problem:
        return untestable_result(AGREEMENT, domain, SUBTESTS, problem)
    ask = guarded(lookup)
    soa, mx = ask(domain, "SOA"), ask(domain, "MX")
    mxs = parse_mx(domain, mx)
    hosts = {h: (ask(h, "A"), ask(h, "AAAA")) for h in mxs.tested(max_mx)}
    subtests = [judge_domain(domain, soa, mx), judge_mx_hosts(mxs, hosts)]
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


def _fix(verdict: Uitslag, reason: str) -> str:
    if verdict is Uitslag.GEFAALD:
        return _FIX_BOGUS if "bogus" in reason else _FIX_INSECURE
    return ""


def judge_domain(domain: str, soa: DnsAnswer, mx: DnsAnswer) -> SubtestResult:
    """Pure: the mail domain's SOA and MX answers are secure."""
    verdict, reason = _state_verdict(domain, (soa, mx))
    if verdict is Uitslag.GESLAAGD:
        text = f"Het maildomein {domain} valideert als veilig met DNSSEC (SOA en MX)."
    elif verdict is Uitslag.NIET_TESTBAAR:
        text = f"Niet testbaar: {reason}."
    else:
        text = f"Het maildomein {domain} faalt op DNSSEC: {reason}. {_fix(verdict, reason)}"
    return SubtestResult("dnssec.domein", AGREEMENT, verdict, text,
                         {"domein": domain, "soa": evidence(soa), "mx": evidence(mx)})


def judge_mx_hosts(mxs: MxSet, hosts: dict[str, tuple[DnsAnswer, ...]]) -> SubtestResult:
    """Pure: each tested MX host name's address answers are secure."""
    ev: dict[str, object] = {"mx": evidence(mxs.answer)}
    if mxs.answer.state is DnssecState.BOGUS:
        # The MX RRset itself fails validation: no sender can learn a secure MX name.
        return SubtestResult("dnssec.mx", AGREEMENT, Uitslag.GEFAALD,
                             f"De MX-records van {mxs.domain} falen op DNSSEC: {mxs.problem}. {_FIX_BOGUS}", ev)
    if not hosts:
        reason = mxs.problem or f"{mxs.domain} heeft geen MX-namen om te testen"
        return SubtestResult("dnssec.mx", AGREEMENT, Uitslag.NIET_TESTBAAR, f"Niet testbaar: {reason}.", ev)
    per_host: dict[str, dict[str, object]] = {}
    verdicts: dict[str, tuple[Uitslag, str]] = {}
    for host, answers in hosts.items():
        verdicts[host] = _state_verdict(host, answers)
        per_host[host] = {"uitslag": verdicts[host][0].value, "reden": verdicts[host][1],
                          "antwoorden": [evidence(a) for a in answers]}
    ev["hosts"] = per_host
    overall = worst(v for v, _ in verdicts.values())
    notes = []
    if mxs.implicit:
        notes.append(f"{mxs.domain} heeft geen MX-records; volgens RFC 5321 is het domein zelf de mailserver")
    if mxs.mixed_null:
        notes.append("een null MX (MX 0 .) naast gewone MX-records is ongeldig (RFC 7505); verwijder de null MX")
    note = (" Let op: " + "; ".join(notes) + ".") if notes else ""
    if overall is Uitslag.GESLAAGD:
        text = f"Alle MX-namen ({', '.join(hosts)}) valideren als veilig met DNSSEC.{note}"
    else:
        bad = [f"{h}: {r}" for h, (v, r) in verdicts.items() if v is overall]
        prefix = "Niet testbaar: " if overall is Uitslag.NIET_TESTBAAR else "MX-namen falen op DNSSEC: "
        text = prefix + "; ".join(bad) + ". " + _fix(overall, " ".join(bad)) + note
    return SubtestResult("dnssec.mx", AGREEMENT, overall, text.strip(), ev)


def judge_mx_count(mxs: MxSet, max_mx: int) -> SubtestResult:
    """Pure: MX hosts beyond the limit are reported, not silently skipped."""
    return mx_count_subtest("dnssec.mx_aantal", AGREEMENT, mxs, max_mx)
