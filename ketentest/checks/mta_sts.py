"""MTA-STS (RFC 8461) and SMTP TLS Reporting (RFC 8460): informational only.

Neither is an agreement of the afsprakenkader (DANE is, B06), but users
compare us with checkdmarc, which reports both. They relate to transport
security, so the result is filed under B05 (STARTTLS) and its sub-tests are
always ``informatie``: they never change a verdict. Only the DNS records are
checked; the MTA-STS policy file (HTTPS on ``mta-sts.<domain>``) is not
fetched.
"""

from __future__ import annotations

import re
from typing import Any

from ketentest.checks._dns import evidence, guarded, normalize_domain, untestable_result, usable, why_unusable
from ketentest.checks._records import parse_tag_list
from ketentest.dns import DnsAnswer, Lookup
from ketentest.verdict import CheckResult, SubtestResult, Uitslag

AGREEMENT = "B05"

_STS = re.compile(r"^v=STSv1(?![0-9A-Za-z])")
_TLSRPT = re.compile(r"^v=TLSRPTv1(?![0-9A-Za-z])")
_STS_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def _info(id_: str, text: str, answer: DnsAnswer, **ev: Any) -> SubtestResult:
    return SubtestResult(id_, AGREEMENT, Uitslag.INFORMATIE, text, {"antwoord": evidence(answer), **ev})


def judge_mta_sts(domain: str, answer: DnsAnswer) -> SubtestResult:
    """Pure: the ``_mta-sts`` TXT record."""
    name = f"_mta-sts.{domain}"
    if not usable(answer):
        return _info("mta_sts.record", f"MTA-STS niet vast te stellen: {why_unusable(answer)}.", answer)
    records = [s for s in answer.txt_strings() if _STS.match(s)]
    if not records:
        return _info("mta_sts.record", f"{domain} publiceert geen MTA-STS-record ({name}). Niet vereist: DANE "
                     "(B06) beschermt de bezorging al; MTA-STS helpt verzenders zonder DNSSEC.", answer)
    if len(records) > 1:
        return _info("mta_sts.record", f"{name} heeft {len(records)} v=STSv1-records; verzenders negeren MTA-STS "
                     "dan (RFC 8461 3.1). Houd er één over.", answer, records=records)
    try:
        tags = parse_tag_list(records[0])
    except ValueError as e:
        return _info("mta_sts.record", f"Het MTA-STS-record is ongeldig: {e}.", answer, record=records[0])
    if not _STS_ID.match(tags.get("id", "")):
        return _info("mta_sts.record", "Het MTA-STS-record mist een geldige id= (1-32 letters/cijfers, RFC 8461 "
                     "3.1).", answer, record=records[0])
    return _info("mta_sts.record", f"{domain} publiceert een MTA-STS-record (id={tags['id']}); het beleid op "
                 f"https://mta-sts.{domain}/.well-known/mta-sts.txt is niet opgehaald.", answer, record=records[0])


def judge_tls_rpt(domain: str, answer: DnsAnswer) -> SubtestResult:
    """Pure: the ``_smtp._tls`` TXT record."""
    name = f"_smtp._tls.{domain}"
    if not usable(answer):
        return _info("tls_rpt.record", f"TLS-RPT niet vast te stellen: {why_unusable(answer)}.", answer)
    records = [s for s in answer.txt_strings() if _TLSRPT.match(s)]
    if not records:
        return _info("tls_rpt.record", f"{domain} publiceert geen TLS-RPT-record ({name}); verzenders melden "
                     "mislukte STARTTLS/DANE-bezorging dan niet. Aanbevolen: 'v=TLSRPTv1; "
                     f"rua=mailto:tlsrpt@{domain}'.", answer)
    if len(records) > 1:
        return _info("tls_rpt.record", f"{name} heeft {len(records)} v=TLSRPTv1-records; houd er één over.",
                     answer, records=records)
    try:
        tags = parse_tag_list(records[0])
    except ValueError as e:
        return _info("tls_rpt.record", f"Het TLS-RPT-record is ongeldig: {e}.", answer, record=records[0])
    rua = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
    if not rua or not all(u.lower().startswith(("mailto:", "https:")) for u in rua):
        return _info("tls_rpt.record", "Het TLS-RPT-record mist een geldige rua= (mailto: of https:, RFC 8460 "
                     "3).", answer, record=records[0])
    return _info("tls_rpt.record", f"{domain} publiceert een TLS-RPT-record; rapporten gaan naar "
                 f"{', '.join(rua)}.", answer, record=records[0])


def check_mta_sts(domain: str, lookup: Lookup, **context: object) -> CheckResult:
    domain, problem = normalize_domain(domain)
    if problem:
        return untestable_result(AGREEMENT, domain, ("mta_sts.record", "tls_rpt.record"), problem)
    ask = guarded(lookup)
    return CheckResult(AGREEMENT, domain, (
        judge_mta_sts(domain, ask(f"_mta-sts.{domain}", "TXT")),
        judge_tls_rpt(domain, ask(f"_smtp._tls.{domain}", "TXT")),
    ))
