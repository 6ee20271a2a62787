"""A careless sender, for proving the checks can fail: when the secure route
is missing it delivers anyway, with opportunistic STARTTLS and no DANE check,
and with DNSSEC validation switched off (CD). Exactly what V02 forbids; only
ever switched on by a test or a defect from the catalogue."""

from __future__ import annotations

import smtplib
import ssl

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

from ketentest.delivery import Outcome


def _records(resolver_ip: str, name: str, rdtype: str) -> list:
    q = dns.message.make_query(name, rdtype)
    q.flags |= dns.flags.CD  # believe anything, validated or not
    answer = dns.query.udp(q, resolver_ip, timeout=5)
    return [rd for rrset in answer.answer if rrset.rdtype == dns.rdatatype.from_text(rdtype) for rd in rrset]


def deliver_carelessly(message: bytes, mail_from: str, rcpt_to: str, *, resolver_ip: str, source_ip: str,
                       helo: str, port: int = 25) -> tuple[Outcome, str]:
    domain = rcpt_to.rpartition("@")[2]
    hosts = sorted(_records(resolver_ip, domain, "MX"), key=lambda r: r.preference)
    for mx in hosts:
        for a in _records(resolver_ip, mx.exchange.to_text(), "A"):
            try:
                with smtplib.SMTP(a.address, port, local_hostname=helo, source_address=(source_ip, 0), timeout=30) as s:
                    s.ehlo(helo)
                    if s.has_extn("starttls"):
                        ctx = ssl.create_default_context()
                        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
                        ctx.set_ciphers("ALL:@SECLEVEL=0")
                        s.starttls(context=ctx)
                        s.ehlo(helo)
                    s.sendmail(mail_from, [rcpt_to], message)
                    return Outcome.DELIVERED, f"ONVEILIG bezorgd bij {mx.exchange} zonder DANE-controle"
            except (smtplib.SMTPException, OSError) as e:
                last = f"{mx.exchange}: {e}"
                continue
    return Outcome.TEMPORARY, f"ook onveilig niet bezorgd: {locals().get('last', 'geen MX')}"
