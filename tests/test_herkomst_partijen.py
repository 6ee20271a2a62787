"""What the meldpunt and the postkantoor do with mail whose origin is not
proven (issue 10): in-process, without a network. The parties' application
code gets stored messages as their MX would hand them over, with an
``AuthResult`` as the MX computed it; the real SPF/DKIM/DMARC path is in
test_auth.py, the whole keten in test_aanvallen_authenticatie.py.

Each test fails on the code before the fix: the meldpunt registered any
message with a kenmerk, the postkantoor counted any receipt naming one, and
a lookup by kenmerk parsed every stored message (issue 10.9b).
"""

from __future__ import annotations

import dataclasses

import pytest

from ketentest.delivery import Outcome
from ketentest.mail.auth import AuthResult, DkimSignatureResult, Disposition, DmarcResult, SpfResult
from ketentest.mail.compose import compose_melding, compose_ontvangstbevestiging
from simulators.mailserver.store import Folder, StoredMessage
from simulators.party import Party, parse_args

PDF = b"%PDF-1.7\n%%EOF\n"
SIGNED = ("from", "to", "subject", "date", "message-id", "in-reply-to", "references", "x-kenmerk", "x-berichtsoort")


def auth(from_domain: str, *, dmarc: str = "pass", signer: str | None = None, signed=SIGNED) -> AuthResult:
    """An AuthResult as a receiving MX computes it."""
    spf = SpfResult("pass" if dmarc == "pass" else "none", "", "mailfrom", f"x@{from_domain}", from_domain)
    dkim = (DkimSignatureResult(0, "pass", "", signer, "s1", "ed25519-sha256", f"@{signer}", "ed25519", 256,
                                "secure", tuple(signed)),) if signer else ()
    record = "v=DMARC1; p=reject" if dmarc != "none" else ""
    result = DmarcResult(dmarc, "test", from_domain, from_domain, from_domain if record else "", record, "secure",
                         "reject" if record else "", "r", "r", dmarc == "pass", bool(signer), Disposition.NONE)
    return AuthResult("mx.test", spf, dkim, result, "mx.test; test")


def party(tmp_path, ident: str) -> Party:
    return Party(parse_args("test", ["--keten", "midden-nederland", "--id", ident, "--data", str(tmp_path / ident)]))


def stored(mx, data: bytes, result: AuthResult, mail_from: str) -> StoredMessage:
    key, path = mx.store.deliver(result.header_bytes() + data, Folder.INBOX)
    return StoredMessage(key, Folder.INBOX, path, result.header_bytes() + data, mail_from, ("x@y.test",),
                         "127.66.6.6", "mail.test", "mx1.test", "TLSv1.3", "TLS_AES_256_GCM_SHA384", result, 0.0)


# --- the meldpunt ----------------------------------------------------------------------------


@pytest.fixture
def meldpunt(tmp_path):
    from simulators.meldpunt.app import Meldpunt

    return Meldpunt(party(tmp_path, "ggd-regio-utrecht"))


def melding_from(meldpunt, kenmerk: str, sender: str, result: AuthResult) -> StoredMessage:
    data = compose_melding(kenmerk, PDF, sender=sender, recipient=meldpunt.deelnemer.adres).data
    return stored(meldpunt.mx, data, result, sender)


def genuine(meldpunt, kenmerk: str) -> StoredMessage:
    return melding_from(meldpunt, kenmerk, meldpunt.keten.politie.adres, auth("politie.test", signer="politie.test"))


def confirmations(meldpunt) -> list[str]:
    return [e.kenmerk for e in meldpunt.outbound.all()]


def test_a_genuine_melding_is_registered_and_confirmed(meldpunt):
    meldpunt.on_message(genuine(meldpunt, "MN-2026-000001"))
    record = meldpunt.melding({"kenmerk": "MN-2026-000001"})
    assert record["registraties"] == 1 and [b["map"] for b in record["berichten"]] == ["inbox"]
    assert "MN-2026-000001.bevestiging" in confirmations(meldpunt)


@pytest.mark.parametrize("why, result", [
    ("geen DMARC-record", auth("buitenstaander.test", dmarc="none")),
    ("alleen SPF", auth("politie.test")),
    ("handtekening van een ander domein", auth("politie.test", signer="ggdflevoland.test")),
    ("kenmerk niet ondertekend", auth("politie.test", signer="politie.test", signed=("from", "subject"))),
])
def test_a_melding_of_unproven_origin_is_quarantined_with_its_reason(meldpunt, why, result):
    sender = "iemand@buitenstaander.test" if result.dmarc.from_domain != "politie.test" else "postkantoor@politie.test"
    message = melding_from(meldpunt, "MN-2026-000002", sender, result)
    meldpunt.on_message(message)
    assert meldpunt._record("MN-2026-000002") is None, why
    assert confirmations(meldpunt) == [], why
    [quarantined] = meldpunt.quarantine.all()
    assert quarantined["kenmerken"] == ["MN-2026-000002"] and quarantined["reden"], why
    # Moved to the quarantine folder of the MX's Maildir, and shown with its reason.
    assert meldpunt.mx.store.keys(Folder.INBOX) == [] and meldpunt.mx.store.keys(Folder.QUARANTINE) == [message.key]
    view = meldpunt.melding({"kenmerk": "MN-2026-000002"})
    assert view["registraties"] == 0 and [b["map"] for b in view["berichten"]] == ["quarantaine"]
    assert view["berichten"][0]["reden"] == quarantined["reden"]
    # The record the MX keeps (content on disk, at the inbox path) still reads its bytes after the move.
    assert b"X-Kenmerk: MN-2026-000002" in dataclasses.replace(message, kept=None).content


def test_an_outsider_with_a_real_kenmerk_never_touches_that_meldings_record(meldpunt):
    """Issue 10.2: the outsider's message was added as a second receipt."""
    meldpunt.on_message(genuine(meldpunt, "MN-2026-000003"))
    before = meldpunt._record("MN-2026-000003")
    meldpunt.on_message(melding_from(meldpunt, "MN-2026-000003", "iemand@buitenstaander.test",
                                     auth("buitenstaander.test", dmarc="none")))
    assert meldpunt._record("MN-2026-000003") == before
    assert confirmations(meldpunt) == ["MN-2026-000003.bevestiging", "MN-2026-000003.terugkoppeling"]
    assert "DMARC none" in meldpunt.quarantine.about("MN-2026-000003")[0]["reden"]


def test_a_relabelled_melding_is_quarantined_and_registers_no_new_kenmerk(meldpunt):
    """Issue 10.1a, even for a sender that did not over-sign (DKIM passes)."""
    data = compose_melding("MN-2026-000004", PDF, sender="postkantoor@politie.test",
                           recipient=meldpunt.deelnemer.adres).data
    message = stored(meldpunt.mx, b"X-Kenmerk: MN-2026-000099\r\n" + data, auth("politie.test", signer="politie.test"),
                     "iemand@buitenstaander.test")
    meldpunt.on_message(message)
    assert meldpunt._record("MN-2026-000099") is None and meldpunt._record("MN-2026-000004") is None
    assert confirmations(meldpunt) == []
    [quarantined] = meldpunt.quarantine.all()
    assert "x-kenmerk (2 keer)" in quarantined["reden"]
    assert quarantined["kenmerken"] == ["MN-2026-000099", "MN-2026-000004"]  # filed under both claims
    assert meldpunt.melding({"kenmerk": "MN-2026-000099"})["registraties"] == 0


def test_the_defect_switch_registers_mail_of_unproven_origin(meldpunt):
    meldpunt.switches.herkomst_controleren = False
    meldpunt.on_message(melding_from(meldpunt, "MN-2026-000005", "iemand@buitenstaander.test",
                                     auth("buitenstaander.test", dmarc="none")))
    assert meldpunt._record("MN-2026-000005")["registraties"] == 1


def test_lookup_by_kenmerk_reads_no_other_stored_message(meldpunt, monkeypatch):
    """Issue 10.9b: GET /meldingen/{kenmerk} parsed every stored message."""
    import simulators.meldpunt.app as app

    for i in range(40):
        meldpunt.on_message(genuine(meldpunt, f"MN-2026-{i:06d}"))
    meldpunt.on_message(melding_from(meldpunt, "MN-2026-000007", "iemand@buitenstaander.test",
                                     auth("buitenstaander.test", dmarc="none")))
    parsed = []
    monkeypatch.setattr(app, "read_kenmerk", lambda m: parsed.append(m))
    monkeypatch.setattr(meldpunt.mx, "stored", lambda: pytest.fail("lookup walked every stored message"))
    view = meldpunt.melding({"kenmerk": "MN-2026-000007"})
    assert [b["map"] for b in view["berichten"]] == ["inbox", "quarantaine"] and parsed == []
    assert meldpunt.wait({"kenmerk": "MN-2026-000007", "timeout": 0})["geregistreerd"]


def test_the_quarantine_index_survives_a_restart(tmp_path):
    from simulators.meldpunt.app import Meldpunt

    first = Meldpunt(party(tmp_path, "ggd-regio-utrecht"))
    first.on_message(melding_from(first, "MN-2026-000008", "iemand@buitenstaander.test",
                                  auth("buitenstaander.test", dmarc="none")))
    again = Meldpunt(party(tmp_path, "ggd-regio-utrecht"))
    view = again.melding({"kenmerk": "MN-2026-000008"})
    assert view["registraties"] == 0 and view["berichten"][0]["reden"].startswith("DMARC none")


# --- the postkantoor ---------------------------------------------------------------------------


@pytest.fixture
def postkantoor(tmp_path):
    from simulators.politie.postkantoor import Postkantoor

    p = Postkantoor(party(tmp_path, "politie-mn"))
    p.queue.deliver = lambda message, entry: (Outcome.DELIVERED, "250 bezorgd", {})
    return p


def delivered(postkantoor, kenmerk: str, meldpunt_id: str = "ggd-regio-utrecht"):
    meldpunt = postkantoor.keten.deelnemer(meldpunt_id)
    postkantoor.queue.submit(kenmerk, meldpunt.id, meldpunt.adres, b"melding")
    assert postkantoor.queue.run_once()
    return postkantoor.queue.get(kenmerk)


def receipt(postkantoor, kenmerk: str, sender: str, result: AuthResult, relabel: str | None = None) -> StoredMessage:
    data = compose_ontvangstbevestiging(kenmerk, sender=sender, recipient=postkantoor.deelnemer.adres).data
    if relabel:
        data = f"X-Kenmerk: {relabel}\r\n".encode() + data
    return stored(postkantoor.mx, data, result, sender)


UTRECHT = ("meldpunt@ggdru.test", "ggdru.test")
FORGERIES = {
    # issue 10.1c: unsigned, from outside the keten
    "buitenstaander": lambda k: ("iemand@buitenstaander.test", auth("buitenstaander.test", dmarc="none"), None),
    # issue 10.1c: genuinely signed, by a meldpunt the melding did not go to
    "ander meldpunt": lambda k: ("vangnet@ggdflevoland.test", auth("ggdflevoland.test", signer="ggdflevoland.test"),
                                 None),
    # issue 10.1b: a genuine confirmation of another melding, relabelled (its signer did not over-sign)
    "omgelabeld": lambda k: (UTRECHT[0], auth(UTRECHT[1], signer=UTRECHT[1]), k),
}


@pytest.mark.parametrize("how", FORGERIES)
def test_a_forged_receipt_does_not_confirm_the_melding(postkantoor, how):
    delivered(postkantoor, "MN-2026-000010")
    sender, result, relabel = FORGERIES[how]("MN-2026-000010")
    kenmerk = "MN-2026-000011" if relabel else "MN-2026-000010"
    postkantoor.on_message(receipt(postkantoor, kenmerk, sender, result, relabel))
    entry = postkantoor.queue.get("MN-2026-000010")
    assert entry.status == "bezorgd" and entry.confirmed_at is None and entry.bevestigingen == []
    [quarantined] = postkantoor.quarantine.all()
    assert quarantined["reden"].startswith("niet van GGD regio Utrecht") or "x-kenmerk (2 keer)" in quarantined["reden"]


def test_a_genuine_receipt_confirms_and_a_second_different_one_is_kept(postkantoor):
    delivered(postkantoor, "MN-2026-000012")
    first = receipt(postkantoor, "MN-2026-000012", UTRECHT[0], auth(UTRECHT[1], signer=UTRECHT[1]))
    postkantoor.on_message(first)
    postkantoor.on_message(first)  # the same one again: a retransmission, not a second confirmation
    entry = postkantoor.queue.get("MN-2026-000012")
    assert entry.status == "bezorgd en bevestigd" and len(entry.bevestigingen) == 1
    postkantoor.on_message(receipt(postkantoor, "MN-2026-000012", UTRECHT[0], auth(UTRECHT[1], signer=UTRECHT[1])))
    assert len(postkantoor.queue.get("MN-2026-000012").bevestigingen) == 2
    assert postkantoor.quarantine.all() == [] and postkantoor.unmatched == []


def test_the_defect_switch_counts_a_receipt_from_anyone(postkantoor):
    postkantoor.switches.bevestiging_controleren = False
    delivered(postkantoor, "MN-2026-000013")
    sender, result, _ = FORGERIES["buitenstaander"]("MN-2026-000013")
    postkantoor.on_message(receipt(postkantoor, "MN-2026-000013", sender, result))
    assert postkantoor.queue.get("MN-2026-000013").status == "bezorgd en bevestigd"


@pytest.mark.parametrize("garbage", [b"", b"\x00\xff\xfe\r\n\r\n", b"X-Kenmerk: ../../etc/passwd\r\n\r\nx",
                                     b"X-Kenmerk: " + b"A" * 5000 + b"\r\n\r\n", b"X-Kenmerk:\r\n\tMN-2026-1\r\n"
                                     b"X-Kenmerk: MN-2026-1\r\n\r\n"])
def test_a_hostile_header_block_is_a_reason_never_a_crash_or_a_kenmerk(garbage):
    from ketentest.mail.origin import check_origin

    origin = check_origin(garbage, auth("politie.test", signer="politie.test"), "politie.test")
    assert not origin.ok and origin.reason and origin.kenmerk is None
