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


# --- content mistakes, each switched on only by a defect ----------------------------


def _rewrite(data: bytes, change) -> bytes:
    from email import message_from_bytes
    from email.policy import SMTP

    msg = message_from_bytes(data, policy=SMTP)
    change(msg)
    return msg.as_bytes()


def subject_with(data: bytes, extra: str) -> bytes:
    """Personal data in the subject (what V05 forbids)."""
    def change(msg) -> None:
        subject = str(msg["Subject"])
        del msg["Subject"]
        msg["Subject"] = f"{subject} {extra}"
    return _rewrite(data, change)


def body_with(data: bytes, extra: str) -> bytes:
    """Personal data in the text part (what V05 forbids)."""
    def change(msg) -> None:
        for part in msg.walk():
            if part.get_content_type() == "text/plain" and part.get_content_disposition() != "attachment":
                part.set_content(part.get_content() + f"\nBetreft: {extra}\n", charset="utf-8", cte="quoted-printable")
                return
    return _rewrite(data, change)


def with_javascript(pdf: bytes) -> bytes:
    """The meldformulier with an OpenAction script added (V04 forbids active content)."""
    import io

    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    script = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                               NameObject("/JS"): TextStringObject("app.alert('ketentest');")})
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(script)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def altered_in_transit(signed: bytes) -> bytes:
    """A relay that appends a footer after signing: every DKIM body hash breaks."""
    return signed + b"\r\n-- \r\nDit bericht is gescand op virussen.\r\n"
