"""V01-V09 on real journeys through the simulated keten: a healthy melding
passes every V-check, and each real defect (switched on in a simulator or
injected in DNS) makes the right V-check fail, while the simulators
themselves never decide pass or fail.

The keten clock is driven with ``sim.doorloop`` (it jumps to the end of
each window the afspraken allow), so "5 werkdagen" takes a moment; no sleeps.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import smtplib
import ssl

import pytest

from ketentest.checks.verzending import check_verzending
from ketentest.clock import UTC
from ketentest.model import Deelnemer, Keten
from ketentest.synth import MeldingPool
from ketentest.verdict import CheckResult, Uitslag
from ketentest.verzending import Verzending

G, F, N, I = Uitslag.GESLAAGD, Uitslag.GEFAALD, Uitslag.NIET_TESTBAAR, Uitslag.INFORMATIE
UTRECHT = "ggd-regio-utrecht"


@pytest.fixture(scope="module")
def sim(internet_lab, keten):
    """A fresh simulated keten for this module (its clock moves days ahead)."""
    internet_lab.stop()  # one simulated keten per machine: start ours from scratch
    simulation = internet_lab.start_sim(keten)
    yield simulation
    internet_lab.stop()


@pytest.fixture(autouse=True)
def healthy_afterwards(sim):
    yield
    sim.reset()


@pytest.fixture(scope="module")
def pool(keten) -> MeldingPool:
    return MeldingPool(keten, 20261129, 120)


def judge(sim, keten: Keten, v: Verzending) -> dict[str, CheckResult]:
    now = dt.datetime.fromtimestamp(sim.now(), UTC)
    return {r.agreement: r for r in check_verzending(v, keten, now=now)}


def summary(results: dict[str, CheckResult]) -> str:
    return "\n".join(r.summary() for r in results.values())


def verdict_of(r: CheckResult, name: str) -> Uitslag:
    return r.subtest(f"{r.agreement.lower()}.{name}").verdict


def test_healthy_melding_passes_v01_to_v09_for_every_meldpunt(sim, keten: Keten, pool: MeldingPool) -> None:
    for meldpunt in keten.meldpunten:
        v = sim.doorloop(pool.voor(meldpunt.id))
        results = judge(sim, keten, v)
        assert all(r.verdict is G for r in results.values()), summary(results)
        assert v.postkantoor["terugkoppelingen"], "de terugkoppeling is niet bij de politie aangekomen"


def test_unsigned_police_mail_fails_v03(sim, keten: Keten, pool: MeldingPool) -> None:
    sim.politie.post("/schakelaars", {"dkim_ondertekenen": False})
    results = judge(sim, keten, sim.doorloop(pool.voor(UTRECHT)))
    v03 = results["V03"]
    assert v03.verdict is F, v03.summary()
    # Accepted (SPF passes and aligns, so DMARC passes) but not DKIM-signed by the police domain.
    assert verdict_of(v03, "dkim") is F and verdict_of(v03, "ondertekend") is F, v03.summary()
    assert results["V01"].verdict is G and results["V02"].verdict is G and results["V04"].verdict is G


def test_no_confirmation_fails_v07(sim, keten: Keten, pool: MeldingPool) -> None:
    sim.meldpunt(UTRECHT).post("/schakelaars", {"bevestigen": False})
    results = judge(sim, keten, sim.doorloop(pool.voor(UTRECHT)))
    assert verdict_of(results["V07"], "ontvangen") is F, results["V07"].summary()
    # Without a confirmation the melding never reaches a final state.
    assert verdict_of(results["V09"], "eindtoestand") is F, results["V09"].summary()
    for a in ("V01", "V02", "V03", "V04", "V05", "V06", "V08"):
        assert results[a].verdict is G, results[a].summary()


def test_late_terugkoppeling_fails_v08(sim, keten: Keten, pool: MeldingPool) -> None:
    sim.meldpunt(UTRECHT).post("/schakelaars", {"terugkoppeling_na_werkdagen": 7})
    results = judge(sim, keten, sim.doorloop(pool.voor(UTRECHT)))
    v08 = results["V08"]
    assert verdict_of(v08, "tijdig") is F, v08.summary()
    assert results["V07"].verdict is G and results["V09"].verdict is G, summary(results)


def resend_directly(sim, keten: Keten, meldpunt: Deelnemer, kenmerk: str) -> None:
    """Send the postkantoor's signed message once more, straight to the
    meldpunt's MX from the police sender address: a resend with the same
    kenmerk (the postkantoor's queue keeps one entry per kenmerk)."""
    signed = base64.b64decode(sim.politie.get(f"/meldingen/{kenmerk}/bericht")["eml_base64"])
    sender = keten.politie.domain.senders[0]
    context = ssl.create_default_context(cadata=sim.pki.ca_pem.decode())
    context.check_hostname = False  # we connect by address; the chain is still verified
    with smtplib.SMTP(meldpunt.domain.mx[0].ip, 25, local_hostname=sender.name, source_address=(sender.ip, 0),
                      timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.sendmail(keten.politie.adres, [meldpunt.adres], signed)


def test_registering_a_resent_kenmerk_twice_fails_v06(sim, keten: Keten, pool: MeldingPool) -> None:
    meldpunt = keten.deelnemer(UTRECHT)
    sim.meldpunt(UTRECHT).post("/schakelaars", {"dubbel_verwerken": True})
    melding = pool.voor(UTRECHT)
    first = sim.doorloop(melding)
    assert judge(sim, keten, first)["V06"].verdict is G
    resend_directly(sim, keten, meldpunt, melding.kenmerk)
    # The meldpunt handles arrivals in order: once a later melding is registered, so is the resend.
    barrier = sim.submit(pool.voor(UTRECHT).to_dict())
    sim.meldpunt(UTRECHT).get(f"/meldingen/{barrier['kenmerk']}/wacht", timeout="30")
    results = judge(sim, keten, sim.verzending(melding, {"kenmerk": melding.kenmerk}))
    v06 = results["V06"]
    assert verdict_of(v06, "registratie") is F and "2 keer" in v06.subtest("v06.registratie").explanation, v06.summary()
    assert verdict_of(v06, "kenmerk_behouden") is G  # the resend kept its kenmerk
    assert verdict_of(results["V09"], "eenmaal_bezorgd") is F  # it arrived twice


def test_resent_kenmerk_registered_once_passes_v06(sim, keten: Keten, pool: MeldingPool) -> None:
    meldpunt = keten.deelnemer(UTRECHT)
    melding = pool.voor(UTRECHT)
    sim.doorloop(melding)
    resend_directly(sim, keten, meldpunt, melding.kenmerk)
    barrier = sim.submit(pool.voor(UTRECHT).to_dict())
    sim.meldpunt(UTRECHT).get(f"/meldingen/{barrier['kenmerk']}/wacht", timeout="30")
    v = sim.verzending(melding, {"kenmerk": melding.kenmerk})
    assert len(v.ontvangst["ontvangen"]) == 2
    assert judge(sim, keten, v)["V06"].verdict is G


def test_postcode_outside_every_werkgebied_is_refused_and_v01_passes(sim, keten: Keten, pool: MeldingPool) -> None:
    m = pool.voor(UTRECHT)
    adres = dataclasses.replace(m.persoon.adres, postcode="9711 AA", woonplaats="Groningen")
    m = dataclasses.replace(m, persoon=dataclasses.replace(m.persoon, adres=adres))
    v = sim.doorloop(m)
    assert v.geweigerd and v.postkantoor is None
    results = judge(sim, keten, v)
    assert results["V01"].verdict is G, results["V01"].summary()
    assert all(results[a].verdict in (G, N) for a in results), summary(results)  # nothing else to judge


def test_a_real_journey_relabelled_to_the_wrong_meldpunt_fails_v01(sim, keten: Keten, pool: MeldingPool) -> None:
    # The simulated postkantoor routes correctly, so misrouting is built from a real journey.
    v = sim.doorloop(pool.voor(UTRECHT))
    wrong = dataclasses.replace(v, meldpunt_id="ggd-flevoland")
    assert verdict_of(judge(sim, keten, wrong)["V01"], "meldpunt") is F


def break_tlsa(sim, *hosts: str) -> None:
    for h in hosts:
        sim.internet.zones.replace(f"_25._tcp.{h}", "TLSA", ["3 1 1 " + "00" * 32])
    sim.internet.changed()


def test_tlsa_mismatch_on_every_mx_not_sent_v02_passes_and_v09_onbestelbaar(sim, keten: Keten, pool: MeldingPool) -> None:
    break_tlsa(sim, *(mx.name for mx in keten.deelnemer(UTRECHT).domain.mx))
    v = sim.doorloop(pool.voor(UTRECHT))
    results = judge(sim, keten, v)
    assert v.status == "onbestelbaar" and not v.berichten
    v02 = results["V02"]
    assert v02.verdict is G and verdict_of(v02, "geen_veilige_route") is G, v02.summary()
    v09 = results["V09"]
    assert verdict_of(v09, "eindtoestand") is G and verdict_of(v09, "agent_gemeld") is G, v09.summary()
    assert "alternatieve route" in v09.subtest("v09.agent_gemeld").explanation
    assert results["V03"].verdict is N and results["V07"].verdict is N  # nothing delivered to judge


def test_tlsa_mismatch_on_the_first_mx_delivers_securely_via_the_second(sim, keten: Keten, pool: MeldingPool) -> None:
    break_tlsa(sim, keten.deelnemer(UTRECHT).domain.mx[0].name)
    v = sim.doorloop(pool.voor(UTRECHT))
    v02 = judge(sim, keten, v)["V02"]
    assert v02.verdict is G and verdict_of(v02, "onveilige_mx_overgeslagen") is I, v02.summary()
    assert v.attempts[-1]["trace"]["delivered_by"] == keten.deelnemer(UTRECHT).domain.mx[1].name
