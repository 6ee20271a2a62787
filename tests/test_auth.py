"""Sender authentication on arrival (V03, S06) against the simulated DNS:
SPF, every DKIM signature, DMARC alignment and policy, and the
Authentication-Results header. Each check is shown failing on its broken case.

The helpers at the top (a minimal police message, DKIM-signed with the PKI's
keys) are reused by test_mailserver.py.
"""

from __future__ import annotations

import email.utils
from email.message import EmailMessage
from email.policy import SMTP

import dkim
import pytest

from ketentest.dns import DnssecState
from ketentest.mail.auth import (
    Disposition,
    aligned,
    authenticate,
    strip_own_results,
    use_keten_resolver,
)

FOREIGN_IP = "127.60.9.9"  # not in any SPF record of the keten
SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]


def police_message(keten, subject: str = "Melding niet-acute zorg, kenmerk ZM-2026-000123",
                   sender: str | None = None, recipient: str | None = None, pdf_size: int = 2000) -> bytes:
    """A minimal melding-shaped MIME message with CRLF line ends (as it goes on the wire)."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Politie Midden-Nederland <{sender or keten.politie.adres}>"
    msg["To"] = recipient or keten.meldpunten[0].adres
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(1795000000, localtime=False)
    msg["Message-ID"] = "<zm-2026-000123@politie.test>"
    msg.set_content("Bijgaand een melding niet-acute zorg. Kenmerk: ZM-2026-000123.\n")
    pdf = b"%PDF-1.7\n" + b"0" * pdf_size + b"\n%%EOF\n"
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="meldformulier.pdf")
    return msg.as_bytes(policy=SMTP)


def dkim_sign(message: bytes, pki, domain: str, specs) -> bytes:
    """Prepend one DKIM-Signature per key spec (the last spec's ends up on top)."""
    for spec in specs:
        key = pki.dkim_key(domain, spec)
        signature = dkim.sign(message, key.selector.encode(), domain.encode(), key.private_key,
                              include_headers=SIGNED_HEADERS, signature_algorithm=key.signature_algorithm,
                              linesep=b"\r\n")
        message = signature + message
    return message


def signed_police_message(keten, pki, **kw) -> bytes:
    return dkim_sign(police_message(keten, **kw), pki, keten.politie.domain.name, keten.politie.domain.dkim)


def police_sender(keten):
    return keten.politie.domain.senders[0]  # postkantoor.politie.test 127.60.1.10


def check(keten, message: bytes, ip: str | None = None, mail_from: str | None = None, helo: str | None = None):
    sender = police_sender(keten)
    return authenticate(message, ip or sender.ip, helo or sender.name,
                        keten.politie.adres if mail_from is None else mail_from,
                        keten.dns.resolver_ip, "mx1.ggdru.test")


# --- pure ------------------------------------------------------------------------

def test_relaxed_alignment_uses_the_psl_default_rule_for_unlisted_tlds():
    assert aligned("postkantoor.politie.test", "politie.test", "r")
    assert not aligned("postkantoor.politie.test", "politie.test", "s")
    # The broken case we avoid: authheaders' own org-domain function (publicsuffix2)
    # makes "test" the org domain, so every .test name would align with every other.
    from authheaders.dmarc_lookup import get_org_domain

    assert get_org_domain("politie.test") == "test"
    assert not aligned("evil.test", "politie.test", "r")


def test_strip_own_results_removes_only_forged_fields_claiming_our_id():
    body = b"\r\nhallo\r\nAuthentication-Results: mx1.ggdru.test; spf=pass\r\n"
    message = (b"Authentication-Results: MX1.ggdru.test (vervalst);\r\n\tspf=pass; dkim=pass\r\n"
               b"From: a@politie.test\r\n"
               b"Authentication-Results: mx.elders.test; spf=fail\r\n" + body)
    cleaned, removed = strip_own_results(message, "mx1.ggdru.test")
    assert removed == 1
    assert cleaned == b"From: a@politie.test\r\nAuthentication-Results: mx.elders.test; spf=fail\r\n" + body
    assert strip_own_results(cleaned, "mx1.ggdru.test") == (cleaned, 0)  # body untouched, idempotent


def test_hostile_signature_values_cannot_break_the_header(internet, keten):
    hostile = (b"DKIM-Signature: v=1; a=rsa-sha256; d=" + b"x" * 3000 + b".test; s=" + b"s\x01" * 500
               + b"; h=from; bh=AAAA; b=AAAA\r\n" + police_message(keten))
    result = check(keten, hostile, mail_from="a@" + "y" * 2000 + ".test")
    assert result.dkim[0].result in ("permerror", "fail")
    lines = result.header_bytes().split(b"\r\n")
    assert max(len(line) for line in lines) < 998 and all(0x20 <= c < 0x7f or c == 9 for c in b"".join(lines))


def test_garbage_does_not_raise_and_fails_dmarc_without_network():
    # No From at all: DMARC permerror before any DNS is asked.
    from ketentest.mail.auth import check_dmarc, SpfResult, from_domain

    for garbage in (b"", b"\x00\xff\xfe garbage\r\n\r\n", b"From: <>\r\n\r\n", b"From: a@x.test\r\nFrom: b@y.test\r\n\r\n"):
        domain, why = from_domain(garbage)
        assert domain == "" and why
        result = check_dmarc(garbage, SpfResult("none", "", "mailfrom", "", ""), (), resolver=None)
        assert result.result == "permerror" and result.disposition is Disposition.REJECT


# --- against the simulated DNS ----------------------------------------------------------

def test_genuine_police_message_passes_spf_every_dkim_signature_and_dmarc(internet, keten, pki):
    result = check(keten, signed_police_message(keten, pki))
    assert result.spf.result == "pass", result.spf
    assert result.spf.domain == "politie.test"
    by_selector = {r.selector: r for r in result.dkim}
    assert set(by_selector) == {"pol2026e", "pol2026r"}
    ed, rsa = by_selector["pol2026e"], by_selector["pol2026r"]
    assert (ed.result, ed.algorithm, ed.key_type, ed.key_bits) == ("pass", "ed25519-sha256", "ed25519", 256)
    assert (rsa.result, rsa.algorithm, rsa.key_type, rsa.key_bits) == ("pass", "rsa-sha256", "rsa", 3072)
    assert {r.domain for r in result.dkim} == {"politie.test"}
    assert {r.key_dnssec for r in result.dkim} == {DnssecState.SECURE.value}
    d = result.dmarc
    assert (d.result, d.policy, d.disposition, d.adkim, d.aspf) == ("pass", "reject", Disposition.NONE, "s", "s")
    assert d.spf_aligned and d.dkim_aligned and d.record_dnssec == "secure"
    header = result.header
    assert header.startswith("Authentication-Results: mx1.ggdru.test; spf=pass smtp.mailfrom=postkantoor@politie.test")
    assert header.count("dkim=pass") == 2
    assert "header.s=pol2026e" in header and "header.a=ed25519-sha256" in header
    assert "dmarc=pass (p=reject dis=none) header.from=politie.test policy.dmarc=reject" in header
    # It parses back as RFC 8601.
    import authres
    import authres.dmarc

    parsed = authres.FeatureContext(authres.dmarc).parse(header)
    assert [r.method for r in parsed.results] == ["spf", "dkim", "dkim", "dmarc"]
    folded = result.header_bytes()
    assert folded.endswith(b"\r\n") and max(len(line) for line in folded.split(b"\r\n")) < 998


def test_spoofed_unsigned_message_from_a_foreign_ip_fails_and_is_rejected(internet, keten):
    result = check(keten, police_message(keten), ip=FOREIGN_IP, helo="smtp.vervalser.test")
    assert result.spf.result == "fail"
    assert result.dkim == ()
    assert "dkim=none" in result.header_value
    assert result.dmarc.result == "fail"
    assert result.disposition is Disposition.REJECT


def test_dmarc_quarantine_variant_gives_quarantine(internet, keten):
    internet.zones.replace("_dmarc.politie.test", "TXT", ['"v=DMARC1; p=quarantine; adkim=s; aspf=s"'])
    internet.changed()
    result = check(keten, police_message(keten), ip=FOREIGN_IP)
    assert (result.dmarc.result, result.dmarc.policy) == ("fail", "quarantine")
    assert result.disposition is Disposition.QUARANTINE


def test_spoofed_nonexistent_subdomain_gets_the_org_domain_policy(internet, keten):
    message = police_message(keten, sender="postkantoor@bestaatniet.politie.test")
    result = check(keten, message, ip=FOREIGN_IP, mail_from="postkantoor@bestaatniet.politie.test")
    assert (result.dmarc.from_domain, result.dmarc.record_domain) == ("bestaatniet.politie.test", "politie.test")
    assert result.dmarc.result == "fail" and result.disposition is Disposition.REJECT
    # sp= governs subdomains when the record is found at the org domain.
    internet.zones.replace("_dmarc.politie.test", "TXT", ['"v=DMARC1; p=reject; sp=quarantine"'])
    internet.changed()
    assert check(keten, message, ip=FOREIGN_IP).disposition is Disposition.QUARANTINE


def test_two_dmarc_records_mean_no_dmarc(internet, keten):
    internet.zones.replace("_dmarc.politie.test", "TXT", ['"v=DMARC1; p=reject"', '"v=DMARC1; p=none"'])
    internet.changed()
    result = check(keten, police_message(keten), ip=FOREIGN_IP)
    assert result.dmarc.result == "none" and result.disposition is Disposition.NONE  # RFC 7489 6.6.3


def test_missing_dmarc_record_gives_none_and_no_disposition(internet, keten):
    internet.zones.remove("_dmarc.politie.test", "TXT")
    internet.changed()
    result = check(keten, police_message(keten), ip=FOREIGN_IP)
    assert result.dmarc.result == "none" and result.disposition is Disposition.NONE


def test_body_altered_after_signing_fails_every_signature(internet, keten, pki):
    signed = signed_police_message(keten, pki)
    altered = signed.replace(b"Kenmerk: ZM-2026-000123", b"Kenmerk: ZM-2026-999999")
    assert altered != signed
    result = check(keten, altered)
    assert [r.result for r in result.dkim] == ["fail", "fail"]
    assert all("body hash" in r.reason for r in result.dkim)
    # From the authorised IP, SPF still aligns: DMARC passes on SPF alone ...
    assert result.dmarc.result == "pass" and not result.dmarc.dkim_aligned
    # ... from anywhere else the altered message is rejected.
    assert check(keten, altered, ip=FOREIGN_IP).disposition is Disposition.REJECT


def test_every_signature_is_verified_not_only_the_first(internet, keten, pki):
    from ketentest.model import DkimKeySpec

    message = dkim_sign(police_message(keten), pki, "politie.test", [keten.politie.domain.dkim[1]])
    # A second signature on top, with a selector that has no key in DNS.
    message = dkim_sign(message, pki, "politie.test", [DkimKeySpec("bestaatniet", "ed25519")])
    result = check(keten, message, ip=FOREIGN_IP)
    assert [(r.selector, r.result) for r in result.dkim] == [("bestaatniet", "permerror"), ("pol2026r", "pass")]
    assert result.dmarc.result == "pass" and result.dmarc.dkim_aligned and not result.dmarc.spf_aligned


def test_valid_signature_of_another_domain_does_not_align(internet, keten, pki):
    ggd = keten.meldpunten[0].domain
    message = dkim_sign(police_message(keten), pki, ggd.name, ggd.dkim)
    result = check(keten, message, ip=FOREIGN_IP)
    assert [(r.domain, r.result) for r in result.dkim] == [("ggdru.test", "pass")]
    assert result.dmarc.result == "fail" and result.disposition is Disposition.REJECT


def test_unreachable_key_is_a_temperror_not_a_fail(internet, keten, pki):
    internet.zones.expire_signatures("politie.test")  # everything under politie.test turns bogus
    internet.changed()
    result = check(keten, signed_police_message(keten, pki))
    assert {r.result for r in result.dkim} == {"temperror"}
    assert result.dmarc.result == "temperror" and result.disposition is Disposition.NONE


def test_spf_goes_through_the_keten_resolver(internet, keten):
    import dns.resolver

    use_keten_resolver(keten.dns.resolver_ip)
    assert dns.resolver.get_default_resolver().nameservers == [keten.dns.resolver_ip]
    assert check(keten, police_message(keten), ip=FOREIGN_IP).spf.result == "fail"
    assert check(keten, police_message(keten)).spf.result == "pass"


@pytest.mark.parametrize("mail_from", ["", "<>"])
def test_null_sender_is_checked_on_helo(internet, keten, mail_from):
    result = check(keten, police_message(keten), mail_from=mail_from, helo="postkantoor.politie.test")
    assert result.spf.scope == "helo" and result.spf.identity == "postkantoor.politie.test"
    assert "smtp.helo=postkantoor.politie.test" in result.header_value


# --- origin: what a receiver may believe before it acts (issue 10) ----------------------------

OUTSIDER = "iemand@buitenstaander.test"  # a domain outside the keten: no SPF, no DKIM key, no DMARC


def composed_melding(keten, sender: str | None = None, kenmerk: str = "MN-2026-000123") -> bytes:
    from ketentest.mail.compose import compose_melding

    return compose_melding(kenmerk, b"%PDF-1.7\n%%EOF\n", sender=sender or keten.politie.adres,
                           recipient=keten.meldpunten[0].adres).data


def party_keys(pki, deelnemer):
    return [pki.dkim_key(deelnemer.domain.name, spec) for spec in deelnemer.domain.dkim]


def test_a_genuine_melding_is_believed(internet, keten, pki):
    from ketentest.mail.dkim import sign
    from ketentest.mail.origin import check_origin

    data = sign(composed_melding(keten), party_keys(pki, keten.politie))
    origin = check_origin(data, check(keten, data), "politie.test")
    assert origin.ok, origin.reason
    assert (origin.kenmerk, origin.kind, origin.signer) == ("MN-2026-000123", "melding", "politie.test")


def test_a_relabelled_melding_is_not_believed_even_when_dkim_still_passes(internet, keten, pki):
    """Issue 10.1a: a second X-Kenmerk in front of a message signed without
    over-signing; DKIM verifies the last instance, a reader takes the first."""
    from ketentest.mail.dkim import sign
    from ketentest.mail.origin import check_origin

    data = b"X-Kenmerk: MN-2026-000999\r\n" + sign(composed_melding(keten), party_keys(pki, keten.politie),
                                                    oversign=False)
    auth = check(keten, data, ip=FOREIGN_IP, mail_from=OUTSIDER, helo="mail.buitenstaander.test")
    assert auth.dmarc.result == "pass" and auth.dmarc.dkim_aligned  # what made the replay work
    origin = check_origin(data, auth, "politie.test")
    assert not origin.ok and "x-kenmerk (2 keer)" in origin.reason and origin.kenmerk is None


def test_an_unsigned_melding_from_the_police_address_is_not_believed(internet, keten):
    """V03 asks DKIM: DMARC passing on SPF alone does not prove who wrote it."""
    from ketentest.mail.origin import check_origin

    data = composed_melding(keten)
    auth = check(keten, data)
    assert auth.dmarc.result == "pass" and not auth.dmarc.dkim_aligned
    origin = check_origin(data, auth, "politie.test")
    assert not origin.ok and "geen geldige DKIM-handtekening van politie.test" in origin.reason


def test_mail_from_a_domain_without_dmarc_is_not_believed(internet, keten):
    """Issue 10.2: no DMARC record means DMARC none, and none is not pass."""
    from ketentest.mail.origin import check_origin

    data = composed_melding(keten, sender=OUTSIDER)
    auth = check(keten, data, ip=FOREIGN_IP, mail_from=OUTSIDER, helo="mail.buitenstaander.test")
    assert auth.dmarc.result == "none" and auth.disposition is Disposition.NONE  # the MX lets it in
    origin = check_origin(data, auth, "politie.test")
    assert not origin.ok and origin.reason.startswith("DMARC none voor From-domein buitenstaander.test")


def test_a_receipt_signed_by_another_meldpunt_is_not_believed(internet, keten, pki):
    """Issue 10.1c: a genuine signature, but not of the meldpunt the melding went to."""
    from ketentest.mail.compose import compose_ontvangstbevestiging
    from ketentest.mail.dkim import sign
    from ketentest.mail.origin import check_origin

    utrecht, flevoland = keten.deelnemer("ggd-regio-utrecht"), keten.deelnemer("ggd-flevoland")
    data = sign(compose_ontvangstbevestiging("MN-2026-000123", sender=flevoland.adres,
                                             recipient=keten.politie.adres).data, party_keys(pki, flevoland))
    host = flevoland.domain.senders[0]
    auth = check(keten, data, ip=host.ip, mail_from=flevoland.adres, helo=host.name)
    assert auth.dmarc.result == "pass"
    assert check_origin(data, auth, flevoland.domain.name).ok
    origin = check_origin(data, auth, utrecht.domain.name)
    assert not origin.ok and "afzender ggdflevoland.test is niet ggdru.test" in origin.reason


def test_a_signature_that_does_not_cover_the_kenmerk_is_not_enough(internet, keten, pki):
    from ketentest.mail.origin import check_origin

    data = dkim_sign(composed_melding(keten), pki, "politie.test", keten.politie.domain.dkim)  # h= without x-kenmerk
    auth = check(keten, data)
    assert auth.dmarc.dkim_aligned
    origin = check_origin(data, auth, "politie.test")
    assert not origin.ok and "dekt niet" in origin.reason and "x-kenmerk" in origin.reason


def test_a_receipt_needs_the_meldpunts_aligned_dkim_not_its_dmarc_record(internet, keten, pki):
    """A meldpunt without a DMARC record (a B04 failure) can still confirm with
    its DKIM signature; a melding needs the police's DMARC to pass (V03)."""
    from ketentest.mail.compose import compose_ontvangstbevestiging
    from ketentest.mail.dkim import sign
    from ketentest.mail.origin import check_origin

    utrecht = keten.deelnemer("ggd-regio-utrecht")
    internet.zones.remove(f"_dmarc.{utrecht.domain.name}", "TXT")
    internet.changed()
    data = sign(compose_ontvangstbevestiging("MN-2026-000123", sender=utrecht.adres, recipient=keten.politie.adres).data,
                party_keys(pki, utrecht))
    host = utrecht.domain.senders[0]
    auth = check(keten, data, ip=host.ip, mail_from=utrecht.adres, helo=host.name)
    assert auth.dmarc.result == "none"
    assert check_origin(data, auth, utrecht.domain.name, require_dmarc=False).ok
    assert not check_origin(data, auth, utrecht.domain.name).ok
    unsigned = compose_ontvangstbevestiging("MN-2026-000123", sender=utrecht.adres, recipient=keten.politie.adres).data
    origin = check_origin(unsigned, check(keten, unsigned, ip=host.ip, mail_from=utrecht.adres, helo=host.name),
                          utrecht.domain.name, require_dmarc=False)
    assert not origin.ok and "geen geldige DKIM-handtekening van ggdru.test" in origin.reason
