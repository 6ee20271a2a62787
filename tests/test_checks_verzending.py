"""V01-V09 on hand-built Verzending values: a healthy journey passes every
check, and each broken variant makes exactly the right sub-test fail (or be
niet testbaar when there is nothing to judge). No network."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from ketentest.checks.verzending import (VERZENDING_CHECKS, check_unique_kenmerken, check_verzending,
                                         run_verzending_check)
from ketentest.clock import UTC
from ketentest.config import load_keten
from ketentest.mail.compose import compose_melding
from ketentest.meldformulier import render
from ketentest.melding import Melding
from ketentest.model import Keten
from ketentest.routering import route
from ketentest.synth import generate_meldingen
from ketentest.verdict import CheckResult, Uitslag
from ketentest.verzending import OntvangenBericht, Verzending

G, W, F, N, I = (Uitslag.GESLAAGD, Uitslag.WAARSCHUWING, Uitslag.GEFAALD, Uitslag.NIET_TESTBAAR,
                 Uitslag.INFORMATIE)

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
KETEN: Keten = load_keten()
MELDPUNT = KETEN.deelnemer("ggd-regio-utrecht")
POLITIE = KETEN.politie


def _pick() -> tuple[Melding, Melding]:
    pool = [m for m in generate_meldingen(KETEN, 4242, 40)
            if route(KETEN, m.persoon.adres.postcode).meldpunt.id == MELDPUNT.id]
    return pool[0], pool[1]


MELDING, OTHER = _pick()
PDF = render(MELDING)


def ts(seconds: float = 0.0) -> float:
    return (T0 + dt.timedelta(seconds=seconds)).timestamp()


# -- builders ------------------------------------------------------------------------------


def host(name: str = "mx1.ggdru.test", *, tls: str | None = "TLSv1.3", dane: bool = True, starttls: bool = True,
         tlsa_state: str = "secure", outcome: str = "delivered", reply: int = 250, reply_text: str = "2.0.0 Ontvangen",
         mail: bool = True) -> dict[str, Any]:
    transcript = [{"side": "S", "text": f"220 {name} ESMTP"}, {"side": "C", "text": "ehlo postkantoor.politie.test"}]
    if starttls:
        transcript += [{"side": "C", "text": "STARTTLS"}, {"side": "S", "text": "220 Ready to start TLS"}]
    if mail:
        transcript += [{"side": "C", "text": "mail FROM:<postkantoor@politie.test>"}, {"side": "S", "text": "250 OK"},
                       {"side": "C", "text": "data"}, {"side": "S", "text": f"{reply} {reply_text}"}]
    return {
        "host": name, "preference": 10, "outcome": outcome, "reason": f"{reply} {reply_text}", "failed": None,
        "address": {"qname": name, "rdtype": "A", "state": "secure", "records": ["127.60.2.25"]},
        "tlsa": {"qname": f"_25._tcp.{name}", "rdtype": "TLSA", "state": tlsa_state, "records": ["3 1 1 ab"]},
        "ip": "127.60.2.25",
        "tls": {"version": tls, "cipher": "TLS_AES_256_GCM_SHA384"} if tls else None,
        "dane": {"matched": dane, "matched_record": "3 1 1 ab" if dane else None,
                 "explanation": "past" if dane else "geen enkel TLSA-record past"},
        "transcript": transcript, "reply": {"code": reply, "text": reply_text} if mail else None,
        "data_sent": mail and outcome == "delivered",
    }


def attempt(at: float, outcome: str = "delivered", hosts: list | None = None, rcpt: str = MELDPUNT.adres,
            reason: str = "", failed: list | None = None) -> dict[str, Any]:
    hosts = [host()] if hosts is None else hosts
    return {"at": at, "outcome": outcome, "reason": reason or outcome,
            "trace": {"rcpt_to": rcpt, "outcome": outcome, "failed": failed or [], "hosts": hosts,
                      "mx": {"qname": rcpt.split("@")[1], "rdtype": "MX", "state": "secure"},
                      "reply": hosts[-1]["reply"] if hosts else None}}


def entry(kenmerk: str, rcpt: str, delivered: float | None, **changes) -> dict[str, Any]:
    e = {"kenmerk": kenmerk, "meldpunt": MELDPUNT.id, "rcpt": rcpt, "submitted": ts(), "first_due": ts(),
         "status": "bezorgd en bevestigd", "next_attempt": ts(), "reason": "",
         "attempts": [attempt(delivered, rcpt=rcpt)] if delivered is not None else [],
         "delivered_at": delivered, "confirmed_at": None, "officer_notified_at": None, "officer_notice": "",
         "terugkoppelingen": []}
    e.update(changes)
    return e


AUTH_OK = (f"Authentication-Results: {MELDPUNT.domain.name}; spf=pass smtp.mailfrom={POLITIE.adres}; "
           f"dkim=pass header.d={POLITIE.domain.name} header.s=pol2026r; dmarc=pass header.from={POLITIE.domain.name}")


#: h= of a signature that over-signs every chain header of a composed melding (V03).
OVERSIGNED_H = ":".join(["from", "to", "subject", "date", "message-id", "x-kenmerk", "x-berichtsoort"] * 2)


def eml(auth: str = AUTH_OK, *, signer: str | None = POLITIE.domain.name, data: bytes | None = None,
        pdf: bytes = PDF, kenmerk: str | None = None) -> bytes:
    body = data if data is not None else compose_melding(
        kenmerk or MELDING.kenmerk, pdf, sender=POLITIE.adres, recipient=MELDPUNT.adres, date=T0,
        sender_name=POLITIE.naam).data
    signature = (f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={signer};\r\n s=pol2026r; "
                 f"h={OVERSIGNED_H}; bh=abc=; b=def=\r\n").encode() if signer else b""
    folded = auth.replace("; ", ";\r\n\t")
    return (folded + "\r\n").encode() + signature + body


def bericht(key: str = "m1", folder: str = "inbox", auth: str = AUTH_OK, **eml_args) -> OntvangenBericht:
    return OntvangenBericht(key, folder, "127.60.1.10", "TLSv1.3", "TLS_AES_256_GCM_SHA384", auth, eml(auth, **eml_args))


def healthy(melding: Melding = MELDING) -> Verzending:
    k = melding.kenmerk
    delivered = ts(1)
    return Verzending(
        melding=melding,
        meldpunt_id=MELDPUNT.id,
        postkantoor=entry(k, MELDPUNT.adres, delivered, confirmed_at=ts(121),
                          terugkoppelingen=[{"status": "in behandeling", "at": ts(86400)}]),
        ontvangst={"kenmerk": k, "eerst_ontvangen": ts(1), "ontvangen": [{"op": ts(1), "bericht": "m1", "map": "inbox"}],
                   "registraties": 1, "message_id": "<x@politie.test>", "van": POLITIE.adres},
        berichten=(bericht(),),
        uitgaand=(
            {**entry(f"{k}.bevestiging", POLITIE.adres, ts(120), status="bezorgd"),
             "attempts": [attempt(ts(120), hosts=[host("mx1.politie.test")], rcpt=POLITIE.adres)]},
            {**entry(f"{k}.terugkoppeling", POLITIE.adres, ts(86400), status="bezorgd", first_due=ts(86400)),
             "attempts": [attempt(ts(86400), hosts=[host("mx1.politie.test")], rcpt=POLITIE.adres)]},
        ),
        aannames=dataclasses.asdict(KETEN.aannames),
    )


def with_pk(v: Verzending, **changes) -> Verzending:
    return dataclasses.replace(v, postkantoor={**v.postkantoor, **changes})


def with_outbound(v: Verzending, suffix: str, **changes) -> Verzending:
    return dataclasses.replace(v, uitgaand=tuple({**e, **changes} if e["kenmerk"] == f"{v.kenmerk}.{suffix}" else e
                                                 for e in v.uitgaand))


def check(agreement: str, v: Verzending, now: dt.datetime | None = None) -> CheckResult:
    r = run_verzending_check(agreement, v, KETEN, now=now)
    assert not r.with_verdict(N) or all(".fout" not in s.id for s in r.subtests), r.summary()
    return r


def verdict_of(r: CheckResult, name: str) -> Uitslag:
    return r.subtest(f"{r.agreement.lower()}.{name}").verdict


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# -- the healthy journey ------------------------------------------------------------------------


@pytest.mark.parametrize("agreement", list(VERZENDING_CHECKS))
def test_healthy_journey_passes(agreement: str) -> None:
    r = check(agreement, healthy(), now=at(10 * 86400))
    assert r.verdict is G, r.summary()
    assert r.domain == MELDPUNT.domain.name


def test_registry_covers_v01_to_v09_and_never_raises() -> None:
    assert list(VERZENDING_CHECKS) == [f"V0{i}" for i in range(1, 10)]
    unknown = run_verzending_check("V99", healthy(), KETEN)
    assert unknown.verdict is N and "V01" in unknown.subtests[0].explanation
    garbage = dataclasses.replace(healthy(), postkantoor={"status": "bezorgd", "attempts": "kapot", "delivered_at": "x"},
                                  uitgaand=({"kenmerk": 5},), ontvangst={"registraties": "veel"})
    for r in check_verzending(garbage, KETEN):  # nothing raises; crashes become niet testbaar
        assert isinstance(r, CheckResult)
    only = check_verzending(healthy(), KETEN, ["V06", "V01"])
    assert [r.agreement for r in only] == ["V06", "V01"]


def test_nothing_yet_is_niet_testbaar_not_an_exception() -> None:
    bare = Verzending(MELDING, meldpunt_id=MELDPUNT.id, postkantoor=entry(MELDING.kenmerk, MELDPUNT.adres, None,
                                                                          status="in wachtrij"))
    results = {r.agreement: r for r in check_verzending(bare, KETEN, now=at(60))}
    for a in ("V02", "V03", "V04", "V05", "V07", "V08", "V09"):
        assert results[a].verdict is N, results[a].summary()
    assert verdict_of(results["V06"], "registratie") is N


def test_every_result_serialises_for_reports() -> None:
    for r in check_verzending(healthy(), KETEN):
        d = r.to_dict()
        assert d["afspraak"] == r.agreement and d["subtests"]


# -- V01 routering ---------------------------------------------------------------------------------


def test_v01_wrong_meldpunt_fails() -> None:
    r = check("V01", dataclasses.replace(healthy(), meldpunt_id="ggd-flevoland"))
    assert verdict_of(r, "meldpunt") is F
    assert "ggd-regio-utrecht" in r.subtest("v01.meldpunt").explanation


def test_v01_right_meldpunt_wrong_address_fails() -> None:
    v = with_pk(healthy(), rcpt="iemand@elders.test")
    assert verdict_of(check("V01", v), "meldpunt") is F


def _outside() -> Melding:
    adres = dataclasses.replace(OTHER.persoon.adres, postcode="9711 AA", woonplaats="Groningen")
    return dataclasses.replace(OTHER, persoon=dataclasses.replace(OTHER.persoon, adres=adres))


def test_v01_outside_every_werkgebied_refused_passes() -> None:
    v = Verzending(_outside(), geweigerd="postcode 9711 AA ligt in gemeente GM0014 (Groningen), geen meldpunt")
    r = check("V01", v)
    assert r.verdict is G and r.domain == "keten", r.summary()


def test_v01_outside_every_werkgebied_but_queued_fails() -> None:
    v = Verzending(_outside(), meldpunt_id=MELDPUNT.id, postkantoor=entry(OTHER.kenmerk, MELDPUNT.adres, ts(1)))
    assert verdict_of(check("V01", v), "meldpunt") is F


def test_v01_outside_without_error_for_the_officer_fails() -> None:
    assert verdict_of(check("V01", Verzending(_outside())), "meldpunt") is F


def test_v01_vague_refusal_warns() -> None:
    r = check("V01", Verzending(_outside(), geweigerd="fout"))
    assert verdict_of(r, "meldpunt") is G and verdict_of(r, "foutmelding") is W


def test_v01_refusing_a_routable_melding_fails() -> None:
    r = check("V01", Verzending(MELDING, geweigerd="geen meldpunt"))
    assert verdict_of(r, "meldpunt") is F


def test_v01_gemeentecode_differs_is_information_only() -> None:
    adres = dataclasses.replace(MELDING.persoon.adres, gemeentecode="GM0014")
    m = dataclasses.replace(MELDING, persoon=dataclasses.replace(MELDING.persoon, adres=adres))
    r = check("V01", dataclasses.replace(healthy(), melding=m))
    assert r.verdict is G and verdict_of(r, "gemeentecode") is I


# -- V02 veilig transport --------------------------------------------------------------------------


@pytest.mark.parametrize("broken, words", [
    (dict(starttls=False, tls=None, dane=False), "zonder STARTTLS"),
    (dict(dane=False), "DANE"),
    (dict(tls="TLSv1.1"), "TLS-versie"),
    (dict(tlsa_state="insecure"), "TLSA"),
])
def test_v02_delivery_without_secure_route_fails(broken: dict, words: str) -> None:
    v = with_pk(healthy(), attempts=[attempt(ts(1), hosts=[host(**broken)])])
    r = check("V02", v)
    assert verdict_of(r, "transport") is F and words in r.subtest("v02.transport").explanation, r.summary()


def test_v02_insecure_mx_record_fails() -> None:
    a = attempt(ts(1))
    a["trace"]["mx"]["state"] = "insecure"
    assert verdict_of(check("V02", with_pk(healthy(), attempts=[a])), "transport") is F


def test_v02_skipping_an_insecure_mx_and_delivering_securely_passes() -> None:
    skipped = host("mx1.ggdru.test", dane=False, outcome="no_secure_route", mail=False)
    v = with_pk(healthy(), attempts=[attempt(ts(1), hosts=[skipped, host("mx2.ggdru.test")])])
    r = check("V02", v)
    assert r.verdict is G and verdict_of(r, "onveilige_mx_overgeslagen") is I, r.summary()


def _no_route(notice: str = "Melding is niet bezorgd: DANE past niet. Gebruik de alternatieve route (bel het meldpunt).",
              **changes) -> Verzending:
    refused = host(dane=False, outcome="no_secure_route", mail=False)
    v = dataclasses.replace(healthy(), ontvangst=None, berichten=(), uitgaand=())
    return with_pk(v, status="onbestelbaar", delivered_at=None, confirmed_at=None, terugkoppelingen=[],
                   reason="geen veilige route", officer_notified_at=ts(2), officer_notice=notice,
                   attempts=[attempt(ts(2), "no_secure_route", hosts=[refused], failed=["DANE"])], **changes)


def test_v02_no_secure_route_not_sent_and_officer_told_passes() -> None:
    r = check("V02", _no_route())
    assert r.verdict is G and verdict_of(r, "geen_veilige_route") is G, r.summary()


def test_v02_no_secure_route_without_alternative_route_advice_fails() -> None:
    r = check("V02", _no_route(notice="Melding niet bezorgd."))
    assert verdict_of(r, "geen_veilige_route") is F and "alternatieve route" in r.subtest("v02.geen_veilige_route").explanation


def test_v02_no_secure_route_yet_something_arrived_fails() -> None:
    v = dataclasses.replace(_no_route(), berichten=(bericht(),))
    assert verdict_of(check("V02", v), "geen_veilige_route") is F


def test_v02_delivered_without_trace_is_niet_testbaar() -> None:
    v = with_pk(healthy(), attempts=[{"at": ts(1), "outcome": "delivered", "reason": "250", "trace": {}}])
    assert verdict_of(check("V02", v), "transport") is N


def test_v02_refused_at_submission_is_niet_testbaar() -> None:
    assert check("V02", Verzending(_outside(), geweigerd="postcode 9711 AA")).verdict is N


# -- V03 afzenderauthenticatie ----------------------------------------------------------------------


def test_v03_unsigned_mail_fails_dkim_and_signature() -> None:
    auth = (f"Authentication-Results: {MELDPUNT.domain.name}; spf=pass smtp.mailfrom={POLITIE.adres}; "
            f"dkim=none (geen handtekening); dmarc=pass header.from={POLITIE.domain.name}")
    r = check("V03", dataclasses.replace(healthy(), berichten=(bericht(auth=auth, signer=None),)))
    assert verdict_of(r, "dkim") is F and verdict_of(r, "ondertekend") is F
    assert verdict_of(r, "spf") is G and verdict_of(r, "dmarc") is G


def test_v03_signature_by_another_domain_fails() -> None:
    auth = AUTH_OK.replace(f"header.d={POLITIE.domain.name}", "header.d=evil.test")
    r = check("V03", dataclasses.replace(healthy(), berichten=(bericht(auth=auth, signer="evil.test"),)))
    assert verdict_of(r, "dkim") is F and verdict_of(r, "ondertekend") is F


@pytest.mark.parametrize("name, auth", [
    ("spf", AUTH_OK.replace("spf=pass", "spf=fail")),
    ("dmarc", AUTH_OK.replace("dmarc=pass", "dmarc=fail")),
    ("dmarc", AUTH_OK.replace(f"header.from={POLITIE.domain.name}", "header.from=evil.test")),
])
def test_v03_failed_result_in_header_fails(name: str, auth: str) -> None:
    r = check("V03", dataclasses.replace(healthy(), berichten=(bericht(auth=auth),)))
    assert verdict_of(r, name) is F, r.summary()


def test_v03_quarantine_fails() -> None:
    r = check("V03", dataclasses.replace(healthy(), berichten=(bericht(folder="quarantaine"),)))
    assert verdict_of(r, "opgeslagen") is F


def test_v03_header_from_someone_else_proves_nothing() -> None:
    auth = AUTH_OK.replace(f"Authentication-Results: {MELDPUNT.domain.name};", "Authentication-Results: mx.evil.test;")
    r = check("V03", dataclasses.replace(healthy(), berichten=(bericht(auth=auth),)))
    assert verdict_of(r, "authentication_results") is F and verdict_of(r, "dkim") is F


def test_v03_refused_for_dmarc_fails() -> None:
    refused = host(outcome="permanent", reply=550,
                   reply_text="5.7.1 Geweigerd: afzender politie.test niet geauthenticeerd (DMARC fail, beleid p=reject)")
    v = dataclasses.replace(_no_route(), postkantoor={**_no_route().postkantoor,
                                                      "attempts": [attempt(ts(1), "permanent", hosts=[refused])]})
    r = check("V03", v)
    assert verdict_of(r, "geweigerd") is F and "DMARC" in r.subtest("v03.geweigerd").explanation


def test_v03_refused_for_another_reason_is_niet_testbaar() -> None:
    refused = host(outcome="permanent", reply=550, reply_text="5.7.1 Geweigerd door de ontvanger")
    v = with_pk(_no_route(), attempts=[attempt(ts(1), "permanent", hosts=[refused])])
    assert check("V03", v).verdict is N


def test_v03_delivered_but_not_stored_is_niet_testbaar() -> None:
    r = check("V03", dataclasses.replace(healthy(), berichten=(), ontvangst=None))
    assert r.verdict is N and "quarantaine" in r.subtests[0].explanation


# -- V04 inhoud -------------------------------------------------------------------------------------


def test_v04_fields_that_differ_are_named() -> None:
    other_pdf = render(dataclasses.replace(OTHER, kenmerk=MELDING.kenmerk))
    r = check("V04", dataclasses.replace(healthy(), berichten=(bericht(pdf=other_pdf),)))
    s = r.subtest("v04.velden")
    assert s.verdict is F and "Achternaam (persoon.achternaam)" in s.explanation
    assert MELDING.persoon.achternaam not in s.explanation  # labels, never values


def test_v04_two_attachments_fail() -> None:
    msg = compose_melding(MELDING.kenmerk, PDF, sender=POLITIE.adres, recipient=MELDPUNT.adres, date=T0).parsed()
    msg.add_attachment(b"hallo", maintype="text", subtype="plain", filename="extra.txt")
    r = check("V04", dataclasses.replace(healthy(), berichten=(bericht(data=msg.as_bytes()),)))
    assert verdict_of(r, "bijlage") is F and verdict_of(r, "velden") is G


def test_v04_html_alternative_body_is_not_an_attachment() -> None:
    msg = compose_melding(MELDING.kenmerk, PDF, sender=POLITIE.adres, recipient=MELDPUNT.adres, date=T0).parsed()
    body = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    body.add_alternative(f"<p>Zorgmelding {MELDING.kenmerk}</p>", subtype="html")
    r = check("V04", dataclasses.replace(healthy(), berichten=(bericht(data=msg.as_bytes()),)))
    assert r.verdict is G, r.summary()


def test_v04_no_pdf_fails() -> None:
    r = check("V04", dataclasses.replace(healthy(), berichten=(bericht(pdf=b"geen pdf"),)))
    assert verdict_of(r, "bijlage") is F


def test_v04_active_content_fails() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(PDF)))
    js = writer._add_object(DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                              NameObject("/JS"): TextStringObject("app.alert('hallo')")}))
    writer._root_object[NameObject("/OpenAction")] = js
    out = io.BytesIO()
    writer.write(out)
    r = check("V04", dataclasses.replace(healthy(), berichten=(bericht(pdf=out.getvalue()),)))
    assert verdict_of(r, "veilig") is F and "JavaScript" in r.subtest("v04.veilig").explanation


def test_v04_too_large_fails() -> None:
    v = dataclasses.replace(healthy(), aannames={**healthy().aannames, "max_pdf_bytes": 1000})
    r = check("V04", v)
    assert verdict_of(r, "grootte") is F and verdict_of(r, "veilig") is G


def test_v04_refused_content_fails() -> None:
    refused = host(outcome="permanent", reply=550, reply_text="5.6.0 Geweigerd: onveilige of onleesbare PDF")
    v = with_pk(_no_route(), attempts=[attempt(ts(1), "permanent", hosts=[refused])])
    assert verdict_of(check("V04", v), "geweigerd") is F


# -- V05 privacy ------------------------------------------------------------------------------------


def _with_header(name: str, value: str) -> bytes:
    msg = compose_melding(MELDING.kenmerk, PDF, sender=POLITIE.adres, recipient=MELDPUNT.adres, date=T0).parsed()
    if name == "Subject":
        del msg["Subject"]
    msg[name] = value
    return msg.as_bytes()


@pytest.mark.parametrize("name, value, label", [
    ("Subject", f"Zorgmelding {MELDING.kenmerk} {MELDING.persoon.achternaam}", "Achternaam"),
    ("X-Betreft", MELDING.persoon.adres.postcode.replace(" ", ""), "Postcode"),
    ("Subject", f"Zorgmelding {MELDING.kenmerk} BSN {MELDING.persoon.bsn[:3]} {MELDING.persoon.bsn[3:6]} "
                f"{MELDING.persoon.bsn[6:]}", "BSN"),
    ("X-Geboren", f"{MELDING.persoon.geboortedatum.day}-{MELDING.persoon.geboortedatum.month}-"
                  f"{MELDING.persoon.geboortedatum.year}", "Geboortedatum"),
    ("Reply-To", MELDING.melder.email, "E-mail melder"),
])
def test_v05_personal_data_in_headers_fails(name: str, value: str, label: str) -> None:
    r = check("V05", dataclasses.replace(healthy(), berichten=(bericht(data=_with_header(name, value)),)))
    s = r.subtest("v05.persoonsgegevens")
    assert s.verdict is F and label in s.explanation, r.summary()
    assert value not in str(dict(s.evidence))  # evidence names the field, not the value


def test_v05_personal_data_in_base64_body_fails() -> None:
    msg = compose_melding(MELDING.kenmerk, PDF, sender=POLITIE.adres, recipient=MELDPUNT.adres, date=T0).parsed()
    body = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    body.set_content(f"Melding {MELDING.kenmerk} over {MELDING.persoon.voornamen} {MELDING.persoon.achternaam}, "
                     f"{MELDING.persoon.adres.straat} {MELDING.persoon.adres.huisnummer}", cte="base64")
    r = check("V05", dataclasses.replace(healthy(), berichten=(bericht(data=msg.as_bytes()),)))
    s = r.subtest("v05.persoonsgegevens")
    assert s.verdict is F and "Straat" in s.explanation and "tekst" in s.explanation


def test_v05_missing_kenmerk_fails() -> None:
    data = _with_header("Subject", "Zorgmelding")
    r = check("V05", dataclasses.replace(healthy(), berichten=(bericht(data=data),)))
    assert verdict_of(r, "kenmerk") is F and verdict_of(r, "persoonsgegevens") is G


# -- V06 kenmerk ------------------------------------------------------------------------------------


def test_v06_registered_twice_fails() -> None:
    v = healthy()
    v = dataclasses.replace(v, ontvangst={**v.ontvangst, "registraties": 2, "ontvangen": [
        {"op": ts(1), "bericht": "m1", "map": "inbox"}, {"op": ts(5), "bericht": "m2", "map": "inbox"}]},
        berichten=(bericht("m1"), bericht("m2")))
    r = check("V06", v)
    assert verdict_of(r, "registratie") is F and "2 keer" in r.subtest("v06.registratie").explanation


def test_v06_received_twice_registered_once_passes() -> None:
    v = healthy()
    v = dataclasses.replace(v, ontvangst={**v.ontvangst, "ontvangen": [
        {"op": ts(1), "bericht": "m1", "map": "inbox"}, {"op": ts(5), "bericht": "m2", "map": "inbox"}]},
        berichten=(bericht("m1"), bericht("m2")))
    assert check("V06", v).verdict is G


def test_v06_delivered_but_never_registered_fails() -> None:
    r = check("V06", dataclasses.replace(healthy(), ontvangst=None, berichten=()))
    assert verdict_of(r, "registratie") is F


def test_v06_malformed_kenmerk_fails() -> None:
    v = dataclasses.replace(healthy(), melding=dataclasses.replace(MELDING, kenmerk="melding-1"))
    assert verdict_of(check("V06", v), "vorm") is F


def test_v06_kenmerk_changed_on_the_way_fails() -> None:
    r = check("V06", dataclasses.replace(healthy(), berichten=(bericht(kenmerk="MN-2026-999999"),)))
    assert verdict_of(r, "kenmerk_behouden") is F


def test_v06_unique_kenmerken_over_several_meldingen() -> None:
    assert check_unique_kenmerken([healthy(), healthy(OTHER)], KETEN).verdict is G
    clash = healthy(dataclasses.replace(OTHER, kenmerk=MELDING.kenmerk))
    assert check_unique_kenmerken([healthy(), clash], KETEN).verdict is F


# -- V07 ontvangstbevestiging -----------------------------------------------------------------------


def test_v07_no_confirmation_after_deadline_fails() -> None:
    v = with_pk(healthy(), confirmed_at=None, status="bezorgd")
    v = dataclasses.replace(v, uitgaand=())
    r = check("V07", v, now=at(16 * 60 + 1))
    assert verdict_of(r, "ontvangen") is F


def test_v07_no_confirmation_before_deadline_is_niet_testbaar() -> None:
    v = dataclasses.replace(with_pk(healthy(), confirmed_at=None, status="bezorgd", terugkoppelingen=[]), uitgaand=())
    assert check("V07", v, now=at(5 * 60)).verdict is N


def test_v07_confirmation_that_overtook_the_bookkeeping_is_in_time() -> None:
    r = check("V07", with_pk(healthy(), confirmed_at=ts(0.5)))
    assert verdict_of(r, "tijdig") is G and "0.0 minuten" in r.subtest("v07.tijdig").explanation


def test_v07_late_confirmation_fails() -> None:
    r = check("V07", with_pk(healthy(), confirmed_at=ts(1 + 16 * 60)))
    assert verdict_of(r, "ontvangen") is G and verdict_of(r, "tijdig") is F


def test_v07_confirmation_over_insecure_route_fails() -> None:
    v = with_outbound(healthy(), "bevestiging",
                      attempts=[attempt(ts(120), hosts=[host("mx1.politie.test", dane=False)], rcpt=POLITIE.adres)])
    assert verdict_of(check("V07", v), "veilige_route") is F


def test_v07_confirmation_to_another_address_fails() -> None:
    v = with_outbound(healthy(), "bevestiging", rcpt="iemand@elders.test")
    assert verdict_of(check("V07", v), "veilige_route") is F


def test_v07_confirmation_undeliverable_fails() -> None:
    v = with_pk(healthy(), confirmed_at=None, status="bezorgd")
    v = with_outbound(v, "bevestiging", status="onbestelbaar", reason="geen veilige route naar politie.test",
                      delivered_at=None)
    assert verdict_of(check("V07", v), "ontvangen") is F


def test_v07_without_outbound_trace_route_is_niet_testbaar() -> None:
    r = check("V07", dataclasses.replace(healthy(), uitgaand=()))
    assert verdict_of(r, "tijdig") is G and verdict_of(r, "veilige_route") is N


# -- V08 terugkoppeling -----------------------------------------------------------------------------


def test_v08_late_terugkoppeling_fails() -> None:
    r = check("V08", with_pk(healthy(), terugkoppelingen=[{"status": "in behandeling", "at": ts(8 * 86400)}]))
    assert verdict_of(r, "tijdig") is F and verdict_of(r, "status") is G


def test_v08_invalid_status_fails() -> None:
    r = check("V08", with_pk(healthy(), terugkoppelingen=[{"status": "weet niet", "at": ts(86400)}]))
    assert verdict_of(r, "status") is F


def test_v08_none_after_deadline_fails() -> None:
    v = dataclasses.replace(with_pk(healthy(), terugkoppelingen=[]), uitgaand=())
    assert verdict_of(check("V08", v, now=at(8 * 86400)), "tijdig") is F


def test_v08_none_but_planned_after_deadline_fails_even_without_now() -> None:
    v = with_pk(healthy(), terugkoppelingen=[])
    v = with_outbound(v, "terugkoppeling", status="in wachtrij", delivered_at=None, attempts=[],
                      first_due=ts(9 * 86400))
    r = check("V08", v)
    assert verdict_of(r, "tijdig") is F and "gepland" in r.subtest("v08.tijdig").explanation


def test_v08_none_before_deadline_is_niet_testbaar() -> None:
    v = dataclasses.replace(with_pk(healthy(), terugkoppelingen=[]), uitgaand=())
    assert check("V08", v, now=at(2 * 86400)).verdict is N


def test_v08_counts_werkdagen_over_the_weekend() -> None:
    friday = dt.datetime(2026, 11, 27, 16, 0, tzinfo=UTC).timestamp()
    v = with_pk(healthy(), delivered_at=friday, confirmed_at=friday + 60,
                terugkoppelingen=[{"status": "doorgezet", "at": friday + 7 * 86400 - 60}])  # next Friday
    assert check("V08", v).verdict is G
    late = with_pk(v, terugkoppelingen=[{"status": "doorgezet", "at": friday + 8 * 86400}])  # Saturday after
    assert verdict_of(check("V08", late), "tijdig") is F


# -- V09 niets raakt zoek ---------------------------------------------------------------------------


def _retried(hours: float, gaps: list[float], *, final: str = "temporary", notified_after: float = 0.0,
             notice: str = "Melding niet bezorgd. Gebruik de alternatieve route (bel het meldpunt).") -> Verzending:
    temp = host(outcome="temporary", reply=451, reply_text="4.3.0 later", mail=True)
    times = [0.0]
    for g in gaps:
        times.append(times[-1] + g)
    assert abs(times[-1] - hours * 3600) < 1
    attempts = [attempt(ts(t), "temporary", hosts=[temp]) for t in times[:-1]]
    attempts.append(attempt(ts(times[-1]), final, hosts=[temp if final == "temporary" else
                                                          host(outcome="permanent", reply=550, reply_text="5.1.1 x")]))
    v = dataclasses.replace(healthy(), ontvangst=None, berichten=(), uitgaand=())
    return with_pk(v, status="onbestelbaar", delivered_at=None, confirmed_at=None, terugkoppelingen=[],
                   reason="herhaalperiode verstreken", attempts=attempts,
                   officer_notified_at=ts(times[-1] + notified_after), officer_notice=notice)


BACKOFF = [60, 300, 900, 1800, 3600] + [7200] * 11 + [86400 - 60 - 300 - 900 - 1800 - 3600 - 7200 * 11]


def test_v09_retried_24_hours_with_backoff_then_onbestelbaar_passes() -> None:
    r = check("V09", _retried(24, BACKOFF))
    assert r.verdict is G, r.summary()
    assert verdict_of(r, "herhalen") is G and verdict_of(r, "agent_gemeld") is G


def test_v09_gave_up_too_early_fails() -> None:
    r = check("V09", _retried(2, [60, 300, 900, 1800, 4140]))
    assert verdict_of(r, "herhalen") is F and "24 uur" in r.subtest("v09.herhalen").explanation


def test_v09_without_backoff_fails() -> None:
    r = check("V09", _retried(24, [3600] * 10 + [60] * 2 + [86400 - 36000 - 120]))
    assert verdict_of(r, "herhalen") is F and "back-off" in r.subtest("v09.herhalen").explanation


def test_v09_fixed_interval_is_no_backoff() -> None:
    r = check("V09", _retried(24, [3600] * 24))
    assert verdict_of(r, "herhalen") is F and "dezelfde tussenpoos" in r.subtest("v09.herhalen").explanation


def test_v09_permanent_failure_may_end_early() -> None:
    r = check("V09", _retried(0.1, [360], final="permanent"))
    assert verdict_of(r, "herhalen") is G and verdict_of(r, "eindtoestand") is G


def test_v09_officer_notified_late_fails() -> None:
    assert verdict_of(check("V09", _retried(24, BACKOFF, notified_after=30 * 60)), "agent_gemeld") is F


def test_v09_officer_not_notified_fails() -> None:
    v = with_pk(_retried(24, BACKOFF), officer_notified_at=None, officer_notice="")
    assert verdict_of(check("V09", v), "agent_gemeld") is F


def test_v09_onbestelbaar_without_reason_fails() -> None:
    assert verdict_of(check("V09", with_pk(_no_route(), reason="")), "eindtoestand") is F


def test_v09_stuck_in_bezorgd_fails() -> None:
    v = with_pk(healthy(), status="bezorgd", confirmed_at=None)
    assert verdict_of(check("V09", v, now=at(3600)), "eindtoestand") is F
    assert verdict_of(check("V09", v, now=at(120)), "eindtoestand") is N


def test_v09_still_queued_within_retry_period_is_niet_testbaar_and_after_fails() -> None:
    v = with_pk(_retried(2, [60, 300, 900, 1800, 4140]), status="opnieuw proberen", officer_notified_at=None,
                officer_notice="")
    assert verdict_of(check("V09", v, now=at(3 * 3600)), "eindtoestand") is N
    assert verdict_of(check("V09", v, now=at(26 * 3600)), "eindtoestand") is F


def test_v09_delivered_twice_fails() -> None:
    v = with_pk(healthy(), attempts=[attempt(ts(1)), attempt(ts(400))])
    assert verdict_of(check("V09", v), "eenmaal_bezorgd") is F


def test_v09_received_twice_at_the_meldpunt_fails() -> None:
    v = healthy()
    v = dataclasses.replace(v, ontvangst={**v.ontvangst, "ontvangen": [
        {"op": ts(1), "bericht": "m1", "map": "inbox"}, {"op": ts(5), "bericht": "m2", "map": "inbox"}]})
    assert verdict_of(check("V09", v), "eenmaal_bezorgd") is F


def test_v03_merges_the_meldpunts_results_written_in_several_headers() -> None:
    """RFC 8601: OpenDKIM and OpenDMARC each write their own header; together they are the verdict."""
    d = MELDPUNT.domain.name
    parts = (f"Authentication-Results: {d}; dkim=pass header.d={POLITIE.domain.name} header.s=pol2026r",
             f"Authentication-Results: {d}; spf=pass smtp.mailfrom={POLITIE.adres}",
             f"Authentication-Results: {d}; dmarc=pass header.from={POLITIE.domain.name}")
    v = dataclasses.replace(healthy(), berichten=(bericht(auth="\r\n".join(parts)),))
    r = check("V03", v)
    assert r.verdict is G, r.summary()


def test_v03_does_not_merge_a_header_below_another_header() -> None:
    """Only the meldpunt's unbroken run counts: a claim further down may have come with the message."""
    d = MELDPUNT.domain.name
    parts = (f"Authentication-Results: {d}; dkim=pass header.d={POLITIE.domain.name} header.s=pol2026r",
             f"Received: from mx.evil.test by {d}",
             f"Authentication-Results: {d}; spf=pass smtp.mailfrom={POLITIE.adres}; "
             f"dmarc=pass header.from={POLITIE.domain.name}")
    r = check("V03", dataclasses.replace(healthy(), berichten=(bericht(auth="\r\n".join(parts)),)))
    assert verdict_of(r, "dkim") is G and verdict_of(r, "spf") is F and verdict_of(r, "dmarc") is F, r.summary()
