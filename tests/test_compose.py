"""Composing the melding, ontvangstbevestiging and terugkoppeling (V05, V06,
V07, V08) and DKIM-signing them (V03). No network: DKIM keys are looked up
from the simulated PKI through a stub with the resolver's interface."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from ketentest.clock import KetenClock
from ketentest.dns import DnsAnswer, DnssecState
from ketentest.errors import DataError
from ketentest.mail import (
    MessageKind,
    TerugkoppelingStatus,
    compose_melding,
    compose_ontvangstbevestiging,
    compose_terugkoppeling,
    read_kenmerk,
    sign,
    text_outside_attachments,
    verify_all,
)

KENMERK = "MN-2026-000123"
POLITIE = "postkantoor@politie.test"
MELDPUNT = "meldpunt@ggdru.test"
#: Personal data that may only ever be inside the PDF.
PERSONAL = ["Jan de Vries", "Johanna Bakker-Smit", "999990019", "14-03-1961", "Oudegracht 231",
            "3511 NK", "06-12345678", "j.devries@voorbeeld.test"]
PDF = ("%PDF-1.7\n1 0 obj << /T (Naam) /V (" + ") /V (".join(PERSONAL) + ") >> endobj\n%%EOF\n").encode()


def melding(**kwargs):
    kwargs.setdefault("sender", POLITIE)
    kwargs.setdefault("recipient", MELDPUNT)
    return compose_melding(KENMERK, PDF, **kwargs)


# --- the melding -----------------------------------------------------------------------


def test_melding_has_the_headers_and_one_pdf_attachment():
    start = dt.datetime(2027, 2, 1, 8, 30, tzinfo=dt.timezone.utc)
    m = melding(clock=KetenClock(start), sender_name="Politie Eenheid Midden-Nederland")
    msg = m.parsed()
    assert m.kind is MessageKind.MELDING and m.kenmerk == KENMERK
    assert msg["From"] == f"Politie Eenheid Midden-Nederland <{POLITIE}>"
    assert msg["To"] == MELDPUNT
    assert msg["Subject"] == f"[TEST] Zorgmelding {KENMERK}"
    assert msg["X-Kenmerk"] == KENMERK and msg["Message-ID"] == m.message_id
    assert m.message_id.endswith("@politie.test>")
    sent = parsedate_to_datetime(msg["Date"])
    assert dt.timedelta(0) <= sent - start < dt.timedelta(seconds=5)  # the keten clock, not the wall clock
    assert sent.utcoffset() == dt.timedelta(hours=1)  # Dutch winter time
    attachments = list(msg.iter_attachments())
    assert len(attachments) == 1
    [pdf] = attachments
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == f"zorgmelding-{KENMERK}.pdf"
    assert pdf.get_content() == PDF
    assert b"\r\n" in m.data and b"\n" not in m.data.replace(b"\r\n", b"")  # CRLF only


def test_every_melding_gets_its_own_message_id():
    ids = {melding().message_id for _ in range(50)}
    assert len(ids) == 50


def test_no_personal_data_outside_the_pdf():
    m = melding(sender_name="Politie Eenheid Midden-Nederland")
    visible = text_outside_attachments(m.data)
    assert KENMERK in visible and f"Zorgmelding {KENMERK}" in visible
    for secret in PERSONAL:
        assert secret not in visible
        assert secret.encode() not in m.data  # nor in the raw bytes
    # The test data is real: the personal data is there, inside the PDF.
    pdf = next(m.parsed().iter_attachments()).get_content()
    assert all(secret.encode() in pdf for secret in PERSONAL)


@pytest.mark.parametrize("where", ["subject", "encoded subject", "base64 body", "extra header"])
def test_privacy_check_finds_personal_data_however_encoded(where):
    """The V05 check on a broken message: a name in the subject, in an
    RFC 2047 encoded-word, in a base64 text part, in a header."""
    msg = EmailMessage()
    msg["From"], msg["To"] = POLITIE, MELDPUNT
    msg["Subject"] = f"Zorgmelding {KENMERK}" + (" Jan de Vries" if where == "subject" else "")
    if where == "extra header":
        msg["X-Betreft"] = "Jan de Vries"
    msg.set_content("Melding over Jan de Vries" if where == "base64 body" else "Zie bijlage.",
                    cte="base64" if where == "base64 body" else "7bit")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="x.pdf")
    data = msg.as_bytes(policy=policy.SMTP)
    if where == "encoded subject":  # raw, so the email package does not decode it for us
        data = data.replace(f"Subject: Zorgmelding {KENMERK}".encode(),
                            f"Subject: Zorgmelding {KENMERK} =?utf-8?b?SmFuIGRlIFZyaWVz?=".encode())
    if where in ("encoded subject", "base64 body"):
        assert b"Jan de Vries" not in data  # a naive byte search misses it
    assert "Jan de Vries" in text_outside_attachments(data)


@pytest.mark.parametrize("bad", ["", "MN-2026-000123\r\nBcc: iemand@elders.test", "MN 2026", "K" * 65,
                                 "MN-2026-00012é", "../etc/passwd"])
def test_kenmerk_that_could_break_headers_or_file_names_is_refused(bad):
    with pytest.raises(DataError, match="ongeldig kenmerk"):
        compose_melding(bad, PDF, sender=POLITIE, recipient=MELDPUNT)


def test_missing_pdf_or_bad_address_is_refused():
    with pytest.raises(DataError, match="PDF"):
        compose_melding(KENMERK, b"", sender=POLITIE, recipient=MELDPUNT)
    with pytest.raises(DataError, match="e-mailadres"):
        compose_melding(KENMERK, PDF, sender=POLITIE, recipient="meldpunt@ggdru.test\r\nBcc: x@y.test")


def test_kenmerk_is_read_back():
    assert read_kenmerk(melding().data) == KENMERK
    assert read_kenmerk(b"Subject: Zorgmelding MN-2026-000999\r\n\r\nx\r\n") == "MN-2026-000999"
    assert read_kenmerk(b"Subject: Hallo daar!\r\n\r\nx\r\n") is None


# --- ontvangstbevestiging and terugkoppeling ----------------------------------------------


def test_ontvangstbevestiging_quotes_kenmerk_and_refers_to_the_melding():
    m = melding()
    received = dt.datetime(2027, 2, 1, 8, 31, tzinfo=dt.timezone.utc)
    b = compose_ontvangstbevestiging(KENMERK, sender=MELDPUNT, recipient=POLITIE, in_reply_to=m.message_id,
                                     received_at=received)
    msg = b.parsed()
    assert b.kind is MessageKind.ONTVANGSTBEVESTIGING
    assert msg["Subject"] == f"[TEST] Ontvangstbevestiging zorgmelding {KENMERK}"
    assert msg["From"] == MELDPUNT and msg["To"] == POLITIE
    assert msg["In-Reply-To"] == m.message_id and msg["References"] == m.message_id
    assert b.message_id.endswith("@ggdru.test>") and b.message_id != m.message_id
    assert list(msg.iter_attachments()) == []
    assert KENMERK in msg.get_content() and "09:31" in msg.get_content()  # local time of receipt
    assert read_kenmerk(b.data) == KENMERK


@pytest.mark.parametrize("status", list(TerugkoppelingStatus))
def test_terugkoppeling_carries_the_status(status):
    t = compose_terugkoppeling(KENMERK, status.value, sender=MELDPUNT, recipient=POLITIE)
    msg = t.parsed()
    assert t.status is status
    assert msg["Subject"] == f"[TEST] Terugkoppeling zorgmelding {KENMERK}: {status.value}"
    assert msg["X-Terugkoppeling-Status"] == status.value
    assert f"status: {status.value}" in msg.get_content()


def test_terugkoppeling_with_unknown_status_is_refused():
    with pytest.raises(DataError, match="onbekende status"):
        compose_terugkoppeling(KENMERK, "weggegooid", sender=MELDPUNT, recipient=POLITIE)


# --- DKIM ------------------------------------------------------------------------------------


@pytest.fixture
def politie_keys(keten, pki):
    d = keten.politie.domain
    return [pki.dkim_key(d.name, spec) for spec in d.dkim]


@pytest.fixture
def key_lookup(politie_keys):
    """Looks like Resolver.lookup; answers TXT from the PKI's published records."""
    published = {k.record_name: k.txt_rdata for k in politie_keys}

    def lookup(name: str, rdtype: str) -> DnsAnswer:
        txt = published.get(name.lower())
        return DnsAnswer(name, rdtype, "NOERROR" if txt else "NXDOMAIN", DnssecState.SECURE, (txt,) if txt else ())

    return lookup


def test_signed_with_every_selector_and_verifying(politie_keys, key_lookup):
    m = melding()
    signed = sign(m.data, politie_keys)
    assert signed.endswith(m.data)  # signatures are only prepended
    checks = verify_all(signed, key_lookup)
    assert {(c.selector, c.algorithm) for c in checks} == {("pol2026e", "ed25519-sha256"), ("pol2026r", "rsa-sha256")}
    assert all(c.ok and c.domain == "politie.test" for c in checks)
    sig = message_from_bytes(signed)["DKIM-Signature"]
    assert "c=relaxed/relaxed" in sig
    signed_headers = {h.strip() for h in sig.split("h=")[1].split(";")[0].replace("\r\n", "").split(":")}
    expected = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type", "x-kenmerk"}
    assert expected <= signed_headers


@pytest.mark.parametrize("tamper", ["subject", "second from", "body", "attachment"])
def test_dkim_fails_on_a_changed_message(politie_keys, key_lookup, tamper):
    signed = sign(melding().data, politie_keys)
    if tamper == "subject":
        broken = signed.replace(f"Subject: [TEST] Zorgmelding {KENMERK}".encode(), b"Subject: [TEST] Zorgmelding MN-2026-000124")
    elif tamper == "second from":  # over-signed: an added From breaks it
        broken = b"From: iemand@elders.test\r\n" + signed
    elif tamper == "body":
        broken = signed.replace(b"Geacht meldpunt", b"Beste meldpunt")
    else:
        broken = signed.replace(b"\r\n\r\nJVBER", b"\r\n\r\nJVBEr")
    assert broken != signed
    assert not any(c.ok for c in verify_all(broken, key_lookup))


def test_dkim_fails_with_a_key_not_published(keten, pki, key_lookup):
    from ketentest.model import DkimKeySpec

    rogue = pki.dkim_key("politie.test", DkimKeySpec("pol2026e-oud", "ed25519"))
    [check] = verify_all(sign(melding().data, [rogue]), key_lookup)
    assert not check.ok and "sleutel niet gevonden" in check.reason
    assert check.key_answer.rcode == "NXDOMAIN"


# --- over-signing: the headers the chain relies on cannot be relabelled ---------------------


def bevestiging():
    return compose_ontvangstbevestiging(KENMERK, sender=MELDPUNT, recipient=POLITIE, in_reply_to="<m1@politie.test>")


@pytest.mark.parametrize("added", [b"X-Kenmerk: MN-2026-000999", b"X-Berichtsoort: terugkoppeling",
                                   b"In-Reply-To: <ander@politie.test>", b"Message-ID: <ander@ggdru.test>",
                                   b"Date: Mon, 1 Feb 2027 08:00:00 +0100"])
def test_a_chain_header_put_in_front_breaks_every_signature(politie_keys, key_lookup, added):
    """Issue 10.1: X-Kenmerk was signed once, so DKIM (which takes the last
    instance) still passed while readers took the added first one."""
    signed = sign(bevestiging().data, politie_keys)
    assert all(c.ok for c in verify_all(signed, key_lookup))
    relabelled = added + b"\r\n" + signed
    assert not any(c.ok for c in verify_all(relabelled, key_lookup))


def test_every_chain_header_present_is_over_signed_and_the_defect_is_visible(politie_keys, key_lookup):
    from collections import Counter

    from ketentest.mail.dkim import signed_header_names, unprotected_headers

    data = bevestiging().data
    present = Counter(name.lower() for name in message_from_bytes(data).keys())
    for oversign, gaps in ((True, []), (False, ["from", "to", "subject", "date", "message-id", "in-reply-to",
                                                "references", "x-kenmerk", "x-berichtsoort"])):
        signed = sign(data, politie_keys, oversign=oversign)
        for value in message_from_bytes(signed).get_all("DKIM-Signature"):
            assert unprotected_headers(present, signed_header_names(value)) == gaps
    # Without over-signing the relabelling goes unnoticed by DKIM: why the switch is a defect.
    weak = b"X-Kenmerk: MN-2026-000999\r\n" + sign(data, politie_keys, oversign=False)
    assert all(c.ok for c in verify_all(weak, key_lookup))


def test_a_repeated_kenmerk_or_subject_is_read_as_no_kenmerk():
    from ketentest.mail.compose import repeated_headers

    data = melding().data
    relabelled = b"X-Kenmerk: MN-2026-000999\r\n" + data
    assert read_kenmerk(relabelled) is None  # not the first one a reader sees
    assert repeated_headers(relabelled) == {"x-kenmerk": 2}
    assert read_kenmerk(b"Subject: Zorgmelding MN-2026-000999\r\n" + data.replace(b"X-Kenmerk", b"X-Oud")) is None
    assert repeated_headers(data) == {}
