"""Issue 10 (points 3, 10a): every MIME part judged by its bytes, not its
label, by ketentest.bijlagen - and end to end at a running meldpunt, where a
hostile PDF hidden next to the genuine meldformulier used to get a 250.

The end-to-end tests start the simulated keten: run them in their own
network namespace (see the README)."""

from __future__ import annotations

import smtplib
import socket

import pytest

from ketentest.bijlagen import beoordeel, smtp_text
from ketentest.delivery import Outcome
from ketentest.mail.compose import compose_melding
from ketentest.meldformulier import render
from ketentest.policy import client_context
from ketentest.synth import generate_meldingen
from ketentest.verdict import Uitslag
from simulators import aanvaller
from simulators.aanvaller import HiddenPdf, with_hidden_pdf

from pdf_aanvallen_helpers import CATALOG, PAGES, colour_scan, page, raw_pdf, zip_bytes

GOOD = raw_pdf(CATALOG, PAGES, page())
HOSTILE = raw_pdf(b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>",
                  PAGES, page())


def melding(pdf: bytes = GOOD) -> bytes:
    return compose_melding("MN-2026-000001", pdf, sender="postkantoor@politie.test",
                           recipient="meldpunt@ggdru.test").data


def with_part(data: bytes, content: bytes, maintype: str, subtype: str, **kw) -> bytes:
    from email import message_from_bytes, policy

    msg = message_from_bytes(melding(), policy=policy.SMTP)
    msg.add_attachment(content, maintype=maintype, subtype=subtype, **kw)
    return msg.as_bytes()


# -- the judgement ----------------------------------------------------------------------------------


def test_the_composed_melding_is_one_pdf_and_text():
    r = beoordeel(melding())
    assert r.ok and r.pdf == GOOD, r.reden
    assert [(p.type, p.soort) for p in r.onderdelen] == [("text/plain", "tekst"), ("application/pdf", "pdf")]


def test_an_html_alternative_body_is_fine_but_not_with_a_script():
    from email import message_from_bytes, policy

    msg = message_from_bytes(melding(), policy=policy.default)
    body = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    body.add_alternative("<p>Zorgmelding MN-2026-000001</p>", subtype="html")
    assert beoordeel(msg).ok
    body = next(p for p in msg.walk() if p.get_content_type() == "text/html")
    body.set_content("<p>x</p><script>alert(1)</script>", subtype="html")
    r = beoordeel(msg)
    assert not r.ok and "actieve inhoud" in r.reden


@pytest.mark.parametrize("how", list(HiddenPdf))
def test_a_second_pdf_in_disguise_is_found(how):
    r = beoordeel(with_hidden_pdf(melding(), HOSTILE, how))
    assert not r.ok
    assert "PDF" in r.reden and "precies één PDF" in r.reden


def test_the_meldformulier_labelled_as_something_else_is_refused():
    r = beoordeel(compose_melding("MN-2026-000001", GOOD, sender="a@politie.test", recipient="b@ggdru.test")
                  .data.replace(b"application/pdf", b"image/png"))
    assert not r.ok and "is een PDF maar heet image/png" in r.reden


@pytest.mark.parametrize("content, maintype, subtype, word", [
    (zip_bytes(), "application", "zip", "ZIP-archief"),
    (b"MZ\x90\x00" + bytes(100), "application", "octet-stream", "Windows-programma"),
    (b"\x89PNG\r\n\x1a\n" + bytes(50), "image", "png", "afbeelding"),
    (b"\xd0\xcf\x11\xe0" + bytes(50), "application", "msword", "macro"),
    (b"hallo", "text", "plain", "tekstbijlage"),
])
def test_any_other_part_is_refused(content, maintype, subtype, word):
    r = beoordeel(with_part(melding(), content, maintype, subtype, filename="x"))
    assert not r.ok and r.pdf == GOOD and word in r.reden, r.reden


def test_a_pdf_base64_encoded_inside_a_text_part_is_found():
    import base64

    r = beoordeel(with_part(melding(), base64.b64encode(HOSTILE), "text", "plain", disposition="inline"))
    assert not r.ok and "verstopte tweede PDF" in r.reden


def test_a_pdf_in_broken_base64_is_found():
    import base64

    hidden = base64.b64encode(HOSTILE).decode()
    data = melding().replace(b"\r\n--", (
        "\r\n--{b}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "A" + hidden + "\r\n--").encode(), 1)
    boundary = beoordeel(melding())  # the genuine message is fine
    assert boundary.ok
    r = beoordeel(data.replace(b"{b}", _boundary(data)))
    assert not r.ok and "PDF" in r.reden, r.reden


def _boundary(data: bytes) -> bytes:
    import re

    return re.search(rb'boundary="([^"]+)"', data).group(1)


def test_too_many_parts_is_refused():
    from email import message_from_bytes, policy

    msg = message_from_bytes(melding(), policy=policy.default)
    for i in range(30):
        msg.add_attachment(f"deel {i}", subtype="plain", disposition="inline")
    r = beoordeel(msg)
    assert not r.ok and "meer dan 20 delen" in r.reden


def test_a_pdf_in_the_mime_epilogue_is_found():
    import base64

    data = melding().rstrip(b"\r\n") + b"\r\n" + base64.b64encode(HOSTILE) + b"\r\n"
    r = beoordeel(data)
    assert not r.ok and "na de MIME-delen" in r.reden


def test_a_nested_email_is_refused():
    from email import message_from_bytes, policy

    msg = message_from_bytes(melding(), policy=policy.default)
    msg.add_attachment(message_from_bytes(melding(HOSTILE), policy=policy.default))
    r = beoordeel(msg)
    assert not r.ok and "ingesloten e-mail" in r.reden


def test_no_pdf_and_garbage_get_a_reason_not_a_crash():
    assert "geen PDF" in beoordeel(b"From: a@b.test\r\n\r\nalleen tekst\r\n").reden
    for junk in (b"", b"\x00\xff" * 100, b"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n" * 50):
        assert not beoordeel(junk).ok


def test_smtp_text_is_ascii_on_one_line():
    text = smtp_text("precies één PDF\r\n250 OK 'ü.pdf'" + "x" * 1000)
    assert text.isascii() and "\r" not in text and "\n" not in text and len(text) <= 450
    assert text.startswith("precies een PDF 250 OK 'u.pdf'")


# -- end to end: a running meldpunt ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def meldingen(keten):
    return generate_meldingen(keten, seed=1010, n=len(HiddenPdf) + 1)


@pytest.mark.parametrize("n, how", list(enumerate(HiddenPdf)))
def test_the_meldpunt_refuses_a_hidden_pdf_next_to_the_meldformulier(keten_sim, keten, pki, meldingen, n, how):
    meldpunt = keten.meldpunten[0]
    m = meldingen[n]
    attempt = aanvaller.send_as_politie(keten, pki, meldpunt.id, m.kenmerk, render(m), hidden=(HOSTILE, how))
    assert attempt.outcome is Outcome.PERMANENT and attempt.reply is not None, attempt.reason
    assert attempt.reply.code == 550 and "PDF" in attempt.reply.text, attempt.reply
    assert keten_sim.meldpunt(meldpunt.id).get(f"/meldingen/{m.kenmerk}", missing_ok=True) is None


def test_the_meldpunt_still_takes_the_genuine_melding_and_a_600_dpi_scan(keten_sim, keten, pki, meldingen):
    meldpunt = keten.meldpunten[0]
    m = meldingen[-1]
    attempt = aanvaller.send_as_politie(keten, pki, meldpunt.id, m.kenmerk, render(m))
    assert attempt.outcome is Outcome.DELIVERED, attempt.reason
    scan = colour_scan()  # ~4.6 MB, 104 MB of pixels: refused as a "bomb" before
    attempt = aanvaller.send_as_politie(keten, pki, meldpunt.id, "MN-2026-960000", scan)
    assert attempt.outcome is Outcome.DELIVERED, attempt.reason


def test_an_oversized_message_gets_a_dutch_552_that_says_what_to_do(keten_sim, keten):
    meldpunt, politie = keten.meldpunten[0], keten.politie
    host = meldpunt.domain.mx[0]
    with smtplib.SMTP(host.ip, 25, timeout=30, source_address=(politie.domain.senders[0].ip, 0)) as s:
        s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.ehlo(politie.domain.senders[0].name)
        s.starttls(context=client_context())
        s.ehlo(politie.domain.senders[0].name)
        limit = int(s.esmtp_features["size"])
        code, text = s.mail(politie.adres, [f"SIZE={limit + 1}"])
        assert code == 552 and b"te groot" in text and str(limit).encode() in text, text
        assert b"alternatieve route" in text and b"Error" not in text
        s.mail(politie.adres)
        s.rcpt(meldpunt.adres)
        code, text = s.data(b"From: " + politie.adres.encode() + b"\r\n\r\n" + (b"x" * 998 + b"\r\n") * (limit // 1000 + 2))
        assert code == 552 and b"te groot" in text, text


# -- V04 judges the stored message the same way ------------------------------------------------------------


@pytest.mark.parametrize("how", list(HiddenPdf))
def test_v04_fails_a_stored_melding_with_a_hidden_pdf(how):
    import dataclasses

    from test_checks_verzending import MELDING, MELDPUNT, PDF, POLITIE, T0, bericht, check, healthy, verdict_of

    data = with_hidden_pdf(compose_melding(MELDING.kenmerk, PDF, sender=POLITIE.adres, recipient=MELDPUNT.adres,
                                           date=T0).data, HOSTILE, how)
    r = check("V04", dataclasses.replace(healthy(), berichten=(bericht(data=data),)))
    assert verdict_of(r, "bijlage") is Uitslag.GEFAALD, r.summary()
    assert "PDF" in r.subtest("v04.bijlage").explanation
    # The meldpunt's content check says the same about the same bytes.
    assert beoordeel(data).reden in r.subtest("v04.bijlage").explanation
