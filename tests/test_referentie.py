"""Reading the reference Postfix's verdict from its log lines, and comparing it
with ours (ketentest.referentie_mta). Pure: sample lines as Postfix 3.7 writes
them in the keten (taken from real runs), no Postfix needed."""

from __future__ import annotations

import pytest

from ketentest.referentie_mta import (
    Conclusie,
    Redenklasse,
    classify,
    final_status,
    onze_conclusie,
    parse_line,
    relevant_lines,
    vergelijk,
)

P = "Dec 01 21:21:25 postkantoor postfix"
QID = "BFF70214A5A"

VERIFIED = [
    f"{P}/smtpd[23567]: connect from localhost[127.0.0.1]",
    f"{P}/smtpd[23567]: {QID}: client=localhost[127.0.0.1]",
    f"{P}/qmgr[23541]: {QID}: from=<postkantoor@politie.test>, size=14334, nrcpt=1 (queue active)",
    f"{P}/smtp[23570]: Verified TLS connection established to mx1.ggdru.test[127.60.2.25]:25: TLSv1.3 with cipher "
    "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (prime256v1) server-digest SHA256",
    f"{P}/smtp[23570]: {QID}: to=<meldpunt@ggdru.test>, relay=mx1.ggdru.test[127.60.2.25]:25, delay=0.22, "
    "delays=0.05/0.09/0.02/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ontvangen, id 1796160085.M985706P22753Q2.ketentest)",
    f"{P}/qmgr[23541]: {QID}: removed",
]

DANE_MISMATCH = [
    f"{P}/smtp[23570]: CA certificate verification failed for mx1.regiogv.test[127.60.4.25]:25: "
    "num=65:no matching DANE TLSA records",
    f"{P}/smtp[23570]: Untrusted TLS connection established to mx1.regiogv.test[127.60.4.25]:25: TLSv1.3 with cipher "
    "TLS_AES_256_GCM_SHA384 (256/256 bits)",
    f"{P}/smtp[23570]: {QID}: to=<meldpunt@regiogv.test>, relay=mx1.regiogv.test[127.60.4.25]:25, delay=0.01, "
    "delays=0/0/0.01/0, dsn=4.7.5, status=deferred (Server certificate not verified)",
]

UNTRUSTED_SENT = [
    f"{P}/smtp[24487]: Untrusted TLS connection established to mx1.ggdflevoland.test[127.60.3.25]:25: TLSv1.3 with "
    "cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
    f"{P}/smtp[24487]: {QID}: to=<vangnet@ggdflevoland.test>, relay=mx1.ggdflevoland.test[127.60.3.25]:25, "
    "delay=0.51, delays=0/0/0.02/0.48, dsn=2.0.0, status=sent (250 2.0.0 Ontvangen, id 1.M2P3Q1.ketentest)",
]


def status(text: str, dsn: str = "4.7.4", state: str = "deferred", relay: str = "none", pid: int = 30001) -> str:
    return (f"{P}/smtp[{pid}]: {QID}: to=<meldpunt@ggdru.test>, relay={relay}, delay=0.1, delays=0/0/0.1/0, "
            f"dsn={dsn}, status={state} ({text})")


def test_verified_delivery_is_secure_and_keeps_its_log_lines():
    u = classify(VERIFIED, QID, mta="Postfix 3.7.11 met DANE")
    assert (u.conclusie, u.reden, u.status, u.tls) == (Conclusie.VEILIG_BEZORGD, None, "sent", "Verified")
    assert u.relay == "mx1.ggdru.test[127.60.2.25]:25" and u.dsn == "2.0.0"
    assert u.tls_detail.startswith("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384")
    assert u.regels[-2].endswith("status=sent (250 2.0.0 Ontvangen, id 1796160085.M985706P22753Q2.ketentest)")
    assert any("Verified TLS connection" in r for r in u.regels)
    assert u.samenvatting().startswith("Postfix 3.7.11 met DANE: veilig bezorgd; Verified TLS connection naar "
                                       "mx1.ggdru.test[127.60.2.25]:25")


def test_delivery_without_dane_authentication_is_not_secure():
    u = classify(UNTRUSTED_SENT, QID)
    assert (u.conclusie, u.reden, u.tls) == (Conclusie.BEZORGD_ZONDER_DANE, None, "Untrusted")
    plain = classify([status("250 2.0.0 Ontvangen", "2.0.0", "sent", "mx1.ggdru.test[127.60.2.25]:25")], QID)
    assert (plain.conclusie, plain.tls) == (Conclusie.BEZORGD_ZONDER_DANE, "")  # no TLS at all
    assert "geen TLS-sessie" in plain.samenvatting()


def test_a_tlsa_mismatch_is_not_delivered_for_dane_even_though_tls_was_up():
    u = classify(DANE_MISMATCH, QID)
    assert (u.conclusie, u.reden, u.status) == (Conclusie.NIET_BEZORGD, Redenklasse.DANE, "deferred")
    assert u.toelichting == "Server certificate not verified"
    assert "no matching DANE TLSA records" in u.regels[0]


@pytest.mark.parametrize("text, klasse", [
    ("TLS is required, but was not offered by host mx1.ggdflevoland.test[127.60.3.25]", Redenklasse.STARTTLS),
    ("Host or domain name not found. Name service error for name=ggdru.test type=MX: Host not found, try again",
     Redenklasse.DNSSEC),
    ("Cannot start TLS: handshake failure", Redenklasse.TLS),
    ("host mx1.ggdru.test[127.60.2.25] said: 550 5.7.1 Geweigerd door de ontvanger (in reply to RCPT TO command)",
     Redenklasse.SMTP),
    ("connect to mx1.ggdru.test[127.60.2.25]:25: Connection refused", Redenklasse.VERBINDING),
    ("Domain regiogv.test does not accept mail (nullMX)", Redenklasse.GEEN_MAIL),
    ("Host or domain name not found. Name service error for name=nergens.test type=MX: Host not found",
     Redenklasse.GEEN_MAIL),
])
def test_each_reason_postfix_gives_has_its_class(text, klasse):
    u = classify([status(text)], QID)
    assert (u.conclusie, u.reden) == (Conclusie.NIET_BEZORGD, klasse)


def test_a_bounce_is_not_delivered():
    u = classify([status("host mx1.ggdru.test[127.60.2.25] said: 554 5.3.0 neemt geen mail aan", "5.3.0", "bounced")],
                 QID)
    assert (u.conclusie, u.reden, u.status) == (Conclusie.NIET_BEZORGD, Redenklasse.SMTP, "bounced")


def test_lines_of_another_message_on_the_same_smtp_process_are_not_taken():
    # One smtp process first delivers OTHER with DANE, then fails ours: the
    # "Verified" line belongs to OTHER and must not make ours look secure.
    other = "AAAAAAAAAA1"
    lines = [
        f"{P}/smtp[500]: Verified TLS connection established to mx1.ggdru.test[127.60.2.25]:25: TLSv1.3 with cipher X",
        f"{P}/smtp[500]: {other}: to=<a@ggdru.test>, relay=mx1.ggdru.test[127.60.2.25]:25, delay=0.1, "
        "delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)",
        f"{P}/smtp[501]: Verified TLS connection established to mx1.regiogv.test[127.60.4.25]:25: TLSv1.3 with cipher Y",
        f"{P}/smtp[500]: {QID}: to=<b@ggdru.test>, relay=none, delay=0.1, delays=0/0/0/0, dsn=4.7.4, "
        "status=deferred (TLS is required, but was not offered by host mx1.ggdru.test[127.60.2.25])",
    ]
    mine = relevant_lines(lines, QID)
    assert [p.pid for p in mine] == [500] and mine[0].queue_id == QID
    u = classify(lines, QID)
    assert (u.conclusie, u.reden, u.tls) == (Conclusie.NIET_BEZORGD, Redenklasse.STARTTLS, "")


def test_garbage_and_foreign_lines_are_ignored_and_no_status_means_not_final():
    assert parse_line("") is None and parse_line("Dec 01 kernel: something") is None
    assert parse_line("\x00\xff postfix/smtp[: broken") is None
    lines = ["garbage", *VERIFIED[:4]]
    assert not final_status(lines, QID)
    assert final_status(VERIFIED, QID) and not final_status(VERIFIED, "0123456789A")
    u = classify(lines, QID)
    assert (u.status, u.conclusie) == ("", Conclusie.NIET_BEZORGD)


def test_our_attempts_in_the_same_terms():
    assert onze_conclusie("delivered") == (Conclusie.VEILIG_BEZORGD, None)
    assert onze_conclusie("delivered", onveilig=True) == (Conclusie.BEZORGD_ZONDER_DANE, None)
    assert onze_conclusie("no_secure_route", ["TLSA"]) == (Conclusie.NIET_BEZORGD, Redenklasse.TLSA)
    assert onze_conclusie("temporary", [], smtp_reply=True) == (Conclusie.NIET_BEZORGD, Redenklasse.SMTP)
    assert onze_conclusie("temporary") == (Conclusie.NIET_BEZORGD, Redenklasse.VERBINDING)
    # null MX or a proven non-existent domain: permanent without any server reply
    assert onze_conclusie("permanent") == (Conclusie.NIET_BEZORGD, Redenklasse.GEEN_MAIL)


def test_the_comparison_agrees_names_the_v02_difference_and_catches_the_rest():
    secure = (Conclusie.VEILIG_BEZORGD, None)
    assert vergelijk(secure, secure).overeen
    dane = (Conclusie.NIET_BEZORGD, Redenklasse.DANE)
    assert vergelijk(dane, dane).overeen
    # V02: no TLSA (or insecure DNS) -> Postfix sends unauthenticated, we do not send.
    v02 = vergelijk((Conclusie.BEZORGD_ZONDER_DANE, None), (Conclusie.NIET_BEZORGD, Redenklasse.TLSA))
    assert (v02.overeen, v02.verwacht_verschil, v02.in_orde) == (False, True, True)
    assert "V02" in v02.toelichting and "RFC 7672" in v02.toelichting
    # Not the V02 difference: we fall back where Postfix refuses.
    fallback = vergelijk(dane, (Conclusie.BEZORGD_ZONDER_DANE, None))
    assert not fallback.in_orde and "verschillen" in fallback.toelichting
    # We send securely where Postfix finds no DANE match.
    assert not vergelijk(dane, secure).in_orde
    # Both refuse, but for different reasons.
    assert not vergelijk(dane, (Conclusie.NIET_BEZORGD, Redenklasse.STARTTLS)).in_orde
    # Postfix sends without DANE, we refuse for a reason that is not "DANE does not apply".
    assert not vergelijk((Conclusie.BEZORGD_ZONDER_DANE, None), dane).in_orde


# --- the second opinion as evidence (ketentest/report/tweede_oordeel.py) ---------------------------

from ketentest.errors import InfrastructureError  # noqa: E402
from ketentest.report.evidence import evidence_for  # noqa: E402
from ketentest.report.tweede_oordeel import oordeel  # noqa: E402
from ketentest.verdict import CheckResult, SubtestResult, Uitslag  # noqa: E402


def b06(domain: str = "ggdru.test", verdict: Uitslag = Uitslag.GESLAAGD, agreement: str = "B06") -> CheckResult:
    return CheckResult(agreement, domain, (SubtestResult(f"{agreement.lower()}.x", agreement, verdict, "uitleg"),))


class Probe:
    """Stands in for the session's Postfix: answers with recorded log lines."""

    def __init__(self, lines=None, error: Exception | None = None) -> None:
        self.lines, self.error, self.asked = lines, error, []

    def dane_probe(self, domain: str):
        self.asked.append(domain)
        if self.error:
            raise self.error
        return classify(self.lines, QID, mta="Postfix 3.7.11 met DANE")


def test_the_second_opinion_shows_postfix_and_its_log_lines_beside_our_verdict():
    probe = Probe(VERIFIED)
    o = oordeel(probe, b06())
    assert probe.asked == ["ggdru.test"] and o.dane_geverifieerd
    (ev,) = evidence_for(o)
    text = ev.content.decode()
    assert ev.name == "Tweede oordeel B06 ggdru.test: Postfix 3.7.11 met DANE" and ev.verdict == "informatie"
    assert text.startswith("Postfix 3.7.11 met DANE: Verified TLS connection naar mx1.ggdru.test[127.60.2.25]:25; "
                           "DANE geverifieerd. Ons oordeel B06: geslaagd.")
    assert "status=sent" in text and ev.note == o.samenvatting()


def test_a_refused_dane_match_is_shown_as_not_verified():
    o = oordeel(Probe(DANE_MISMATCH), b06("regiogv.test", Uitslag.GEFAALD))
    assert o.dane_geverifieerd is False
    assert "DANE niet geverifieerd (DANE)" in o.samenvatting() and "Ons oordeel B06: gefaald" in o.samenvatting()


def test_without_postfix_the_evidence_says_so_and_is_never_dropped():
    gone = InfrastructureError("referentie niet beschikbaar: /usr/sbin/postfix ontbreekt (Debian-pakket postfix "
                               "niet geïnstalleerd)", "installeer Postfix")
    for referentie in (Probe(error=gone), None):
        o = oordeel(referentie, b06())
        (ev,) = evidence_for(o)
        assert ev.content.decode().startswith("B06 ggdru.test: referentie niet beschikbaar: "), ev.content
    assert "postfix ontbreekt" in oordeel(Probe(error=gone), b06()).niet_beschikbaar
    broken = oordeel(Probe(error=InfrastructureError("Postfix gaf binnen 60 s geen uitslag")), b06())
    assert broken.niet_beschikbaar == "referentie niet beschikbaar: Postfix gaf binnen 60 s geen uitslag"


def test_a_melding_that_went_nowhere_gets_no_probe():
    probe = Probe(VERIFIED)
    o = oordeel(probe, b06("keten", agreement="V02"))
    assert probe.asked == [] and o.uitslag is None and "geen maildomein" in o.niet_beschikbaar


def test_a_machine_without_postfix_gets_the_reason_once_and_every_time(monkeypatch):
    from ketentest.config import load_keten
    from simulators.referentie import postfix

    monkeypatch.setattr(postfix, "POSTFIX", "/nergens/postfix")
    referentie = postfix.LuieReferentie(load_keten(None))
    for _ in range(2):  # remembered: no second start attempt, the same reason
        with pytest.raises(postfix.ReferentieNietBeschikbaar) as e:
            referentie.dane_probe("ggdru.test")
        assert str(e.value).startswith("referentie niet beschikbaar: /nergens/postfix ontbreekt")
        assert "apt-get install postfix" in str(e.value)
    o = oordeel(referentie, b06())
    assert o.uitslag is None and o.niet_beschikbaar.startswith("referentie niet beschikbaar: /nergens/postfix")
    referentie.close()


def test_a_hostile_server_reply_cannot_fake_a_verified_delivery():
    # The reply text of a hostile MX lands inside Postfix's status line: it must not count as TLS or as "sent".
    fake = ("host mx1.ggdru.test[127.60.2.25] said: 450 Verified TLS connection established to x: TLSv1.3; "
            "dsn=2.0.0, status=sent (250 ok) (in reply to end of DATA command)")
    u = classify([status(fake)], QID)
    assert (u.status, u.conclusie, u.tls) == ("deferred", Conclusie.NIET_BEZORGD, "")
    assert u.reden is Redenklasse.SMTP


def test_only_b06_and_v02_results_get_a_second_opinion_and_a_missing_fixture_is_said():
    import pytest as _pytest

    from ketentest.report.tweede_oordeel import tweede_oordelen

    class NoFixture(_pytest.FixtureLookupError):
        def __init__(self) -> None:
            Exception.__init__(self, "geen fixture referentie_mta")

    class Request:
        def __init__(self, referentie) -> None:
            self.referentie = referentie

        def getfixturevalue(self, name: str):
            assert name == "referentie_mta"
            if self.referentie is None:
                raise NoFixture()
            return self.referentie

    probe = Probe(VERIFIED)
    values = [b06(), b06(agreement="B05"), b06("ggdflevoland.test", agreement="V02"), "geen resultaat"]
    found = tweede_oordelen(Request(probe), values)
    assert [(o.afspraak, o.domein) for o in found] == [("B06", "ggdru.test"), ("V02", "ggdflevoland.test")]
    assert probe.asked == ["ggdru.test", "ggdflevoland.test"]
    (missing,) = tweede_oordelen(Request(None), [b06()])
    assert missing.niet_beschikbaar == "referentie niet beschikbaar: deze run heeft geen referentie-MTA"


def test_a_probe_refused_after_unauthenticated_tls_says_dane_does_not_apply():
    # The probe's mailbox does not exist (550), after TLS without DANE (no TLSA): not an SMTP verdict on DANE.
    lines = [UNTRUSTED_SENT[0], status("host mx1.ggdflevoland.test[127.60.3.25] said: 550 5.1.1 "
                                       "<dane-referentie@ggdflevoland.test>: onbekende ontvanger", "5.1.1", "bounced", pid=24487)]
    o = oordeel(Probe(lines), b06("ggdflevoland.test", Uitslag.GEFAALD))
    assert o.dane_geverifieerd is False
    assert "Untrusted TLS connection naar mx1.ggdflevoland.test[127.60.3.25]:25;" in o.samenvatting()
    assert "DANE niet van toepassing: TLS zonder DANE-authenticatie" in o.samenvatting()
    assert "SMTP" not in o.samenvatting()
