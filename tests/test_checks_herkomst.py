"""V03 and V06 precision (issue 11, point 9): strict DKIM alignment and the
signing domain named as seen, over-signing judged from ``h=``, and a
second, different ontvangstbevestiging reported as a second registration.
Pure: synthetic journeys (the builders of test_checks_verzending.py)."""

from __future__ import annotations

import dataclasses

from test_checks_verzending import AUTH_OK, KETEN, MELDPUNT, POLITIE, bericht, check, eml, healthy, verdict_of, with_pk

from ketentest.verdict import Uitslag

G, F, N = Uitslag.GESLAAGD, Uitslag.GEFAALD, Uitslag.NIET_TESTBAAR
SUB = f"sub.{POLITIE.domain.name}"


def test_the_police_publish_strict_dkim_alignment():
    from ketentest.checks.v03_afzenderauthenticatie import police_adkim

    assert police_adkim(KETEN) == "s"  # "v=DMARC1; p=reject; adkim=s; ..."
    relaxed = dataclasses.replace(KETEN, politie=dataclasses.replace(
        KETEN.politie, domain=dataclasses.replace(KETEN.politie.domain, dmarc="v=DMARC1; p=reject")))
    assert police_adkim(relaxed) == "r"


def test_v03_a_subdomain_signature_does_not_align_under_adkim_s_and_is_named():
    auth = AUTH_OK.replace(f"header.d={POLITIE.domain.name}", f"header.d={SUB}")
    r = check("V03", dataclasses.replace(healthy(), berichten=(bericht(auth=auth, signer=SUB),)))
    assert verdict_of(r, "dkim") is F and verdict_of(r, "ondertekend") is F, r.summary()
    why = r.subtest("v03.dkim").explanation
    assert f"d={SUB} is niet in lijn met {POLITIE.domain.name}: adkim=s" in why, why


def test_v03_names_the_signing_domain_it_saw():
    r = check("V03", healthy())
    assert verdict_of(r, "dkim") is G
    assert f"handtekening van d={POLITIE.domain.name} (in lijn met {POLITIE.domain.name}, adkim=s)" in (
        r.subtest("v03.dkim").explanation)


def test_v03_a_signature_that_does_not_over_sign_fails():
    weak = eml().replace(b"h=from:to:subject:date:message-id:x-kenmerk:x-berichtsoort:from:",
                         b"h=from:to:subject:date:message-id:x-kenmerk:x-berichtsoort; x=")
    assert weak != eml()
    r = check("V03", dataclasses.replace(healthy(), berichten=(dataclasses.replace(bericht(), eml=weak),)))
    assert verdict_of(r, "overondertekend") is F, r.summary()
    why = r.subtest("v03.overondertekend").explanation
    assert "over-ondertekent from, to, subject, date, message-id, x-kenmerk, x-berichtsoort niet" in why
    assert verdict_of(r, "dkim") is G  # the signature itself passed: only the over-signing is missing


def test_v03_over_signing_is_niet_testbaar_without_a_police_signature():
    r = check("V03", dataclasses.replace(healthy(), berichten=(bericht(signer=None),)))
    assert verdict_of(r, "overondertekend") is N and verdict_of(r, "ondertekend") is F


def test_v06_a_second_different_confirmation_is_a_second_registration():
    one = [{"message_id": "<a@ggdru.test>", "afzender": MELDPUNT.adres, "at": 1.0}]
    assert verdict_of(check("V06", with_pk(healthy(), bevestigingen=one)), "een_bevestiging") is G
    # The same confirmation retransmitted is recorded once by the postkantoor; two ids are two registrations.
    two = one + [{"message_id": "<b@ggdru.test>", "afzender": MELDPUNT.adres, "at": 2.0}]
    r = check("V06", with_pk(healthy(), bevestigingen=two))
    assert r.verdict is F and verdict_of(r, "een_bevestiging") is F, r.summary()
    assert "2 verschillende ontvangstbevestigingen" in r.subtest("v06.een_bevestiging").explanation
    # Also seen when the meldpunt's register is not visible (a real meldpunt).
    assert verdict_of(check("V06", dataclasses.replace(with_pk(healthy(), bevestigingen=two), ontvangst=None)),
                      "een_bevestiging") is F


def test_v03_judges_the_police_delivery_not_an_attackers_quarantined_copy():
    v = healthy()
    delivered = {**v.postkantoor["attempts"][0]}
    delivered["trace"] = {**delivered["trace"], "hosts": [{**delivered["trace"]["hosts"][0],
                                                          "reply": {"code": 250, "text": "2.0.0 Ontvangen, id m1"}}]}
    copy = bericht("m2", folder="quarantaine", signer=None)
    v = dataclasses.replace(with_pk(v, attempts=[delivered]), berichten=(bericht("m1"), copy))
    assert check("V03", v).verdict is G, check("V03", v).summary()
    # Without a reply naming a key, every stored message counts (and the copy fails).
    assert check("V03", dataclasses.replace(healthy(), berichten=(bericht("m1"), copy))).verdict is F
