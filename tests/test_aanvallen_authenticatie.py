"""The attacks of issue 10 (points 1a, 1b, 1c and 2) on the whole simulated
keten: real SMTP with STARTTLS and DANE, SPF/DKIM/DMARC computed by the MX,
the parties in their own processes. Each attack succeeded on the code
before the fix (the melding was registered, or the melding turned
"bezorgd en bevestigd"); now it is refused by DMARC, or quarantined with its
reason, and no melding's record changes.

Waiting is on events (the parties' long polls), never on sleeps; the
meldpunt's own confirmation is switched off where a forged one must not be
overtaken by it.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from ketentest.checks.verzending import check_verzending
from ketentest.clock import UTC
from ketentest.delivery import Outcome, deliver
from ketentest.dns import Resolver
from ketentest.mail import dkim
from ketentest.mail.compose import compose_ontvangstbevestiging
from ketentest.meldformulier import render
from ketentest.melding import Melding
from ketentest.synth import MeldingPool
from ketentest.verdict import Uitslag
from simulators import aanvaller

UTRECHT = "ggd-regio-utrecht"


@pytest.fixture(scope="module")
def sim(internet_lab, keten):
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
    return MeldingPool(keten, 20261201, 80)


def bezorgd(sim, melding: Melding) -> str:
    """Submit a melding and wait until the meldpunt has it (not yet confirmed)."""
    submitted = sim.submit(melding.to_dict())
    state = sim.wait_for(submitted["kenmerk"], "bezorgd", "bezorgd en bevestigd", "onbestelbaar")
    assert state["status"] == "bezorgd", state
    mp = sim.meldpunt(submitted["meldpunt"])
    assert mp.get(f"/meldingen/{melding.kenmerk}/wacht", timeout="30")["geregistreerd"]
    return melding.kenmerk


def signed_melding(sim, kenmerk: str) -> bytes:
    return base64.b64decode(sim.politie.get(f"/meldingen/{kenmerk}/bericht")["eml_base64"])


def replies_for(sim, meldpunt_id: str, kenmerk: str) -> list[str]:
    return [e["kenmerk"] for e in sim.meldpunt(meldpunt_id).get("/uitgaand") if e["kenmerk"].split(".")[0] == kenmerk]


# --- at the meldpunt ---------------------------------------------------------------------------


def test_1a_a_replayed_melding_with_a_new_kenmerk_in_front_is_refused(sim, keten, pool):
    kenmerk = bezorgd(sim, pool.voor(UTRECHT))
    new = "MN-2026-777001"
    meldpunt = keten.deelnemer(UTRECHT)
    attempt = aanvaller.replay_relabelled(keten, signed_melding(sim, kenmerk), new, meldpunt.adres)
    # Over-signed: the added X-Kenmerk breaks both signatures, so DMARC fails and p=reject applies.
    assert attempt.outcome is Outcome.PERMANENT and "DMARC" in attempt.reply.text, attempt.reason
    assert sim.meldpunt(UTRECHT).get(f"/meldingen/{new}", missing_ok=True) is None
    assert replies_for(sim, UTRECHT, new) == []


def test_1a_without_over_signing_the_replay_passes_dkim_but_is_quarantined(sim, keten, pool):
    sim.politie.post("/schakelaars", {"overondertekenen": False})
    kenmerk = bezorgd(sim, pool.voor(UTRECHT))
    new = "MN-2026-777002"
    mp = sim.meldpunt(UTRECHT)
    before = mp.get(f"/meldingen/{kenmerk}")
    attempt = aanvaller.replay_relabelled(keten, signed_melding(sim, kenmerk), new, keten.deelnemer(UTRECHT).adres)
    assert attempt.outcome is Outcome.DELIVERED, attempt.reason  # DKIM verified the last X-Kenmerk: dmarc=pass
    assert mp.get(f"/meldingen/{new}/wacht", timeout="30")["bereikt"]
    view = mp.get(f"/meldingen/{new}")
    assert view["registraties"] == 0 and [b["map"] for b in view["berichten"]] == ["quarantaine"]
    assert "x-kenmerk (2 keer)" in view["berichten"][0]["reden"]
    assert replies_for(sim, UTRECHT, new) == []
    assert mp.get(f"/meldingen/{kenmerk}")["ontvangen"] == before["ontvangen"]


def test_2_an_outsider_without_dmarc_gets_no_melding_registered(sim, keten, pool):
    melding = pool.voor(UTRECHT)
    attempt = aanvaller.outsider_melding(keten, UTRECHT, melding.kenmerk, render(melding))
    assert attempt.outcome is Outcome.DELIVERED, attempt.reason  # DMARC none: the MX itself lets it in
    mp = sim.meldpunt(UTRECHT)
    arrived = mp.get(f"/meldingen/{melding.kenmerk}/wacht", timeout="30")
    assert arrived["bereikt"] and not arrived["geregistreerd"]
    view = mp.get(f"/meldingen/{melding.kenmerk}")
    assert view["registraties"] == 0 and view["berichten"][0]["reden"].startswith("DMARC none")
    assert replies_for(sim, UTRECHT, melding.kenmerk) == []  # no ontvangstbevestiging to anyone


def test_2_an_outsider_with_the_kenmerk_of_a_real_melding_does_not_touch_it(sim, keten, pool):
    melding = pool.voor(UTRECHT)
    kenmerk = bezorgd(sim, melding)
    mp = sim.meldpunt(UTRECHT)
    before = mp.get(f"/meldingen/{kenmerk}")
    quarantined = len(mp.get("/quarantaine"))
    attempt = aanvaller.outsider_melding(keten, UTRECHT, kenmerk, render(melding))
    assert attempt.outcome is Outcome.DELIVERED, attempt.reason
    assert mp.get("/quarantaine/wacht", aantal=str(quarantined + 1), timeout="30")["bereikt"]
    after = mp.get(f"/meldingen/{kenmerk}")
    assert (after["registraties"], after["ontvangen"]) == (1, before["ontvangen"])
    assert replies_for(sim, UTRECHT, kenmerk) == [f"{kenmerk}.bevestiging", f"{kenmerk}.terugkoppeling"]


# --- at the police -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", list(aanvaller.ForgedReceipt), ids=[h.value for h in aanvaller.ForgedReceipt])
def test_1b_1c_a_forged_receipt_does_not_confirm_the_melding(sim, keten, pki, pool, how):
    sim.meldpunt(UTRECHT).post("/schakelaars", {"bevestigen": False})  # so only the forgery can confirm
    kenmerk = bezorgd(sim, pool.voor(UTRECHT))
    quarantined = len(sim.politie.get("/quarantaine"))
    forgery = aanvaller.forge_receipt(keten, pki, UTRECHT, kenmerk, how)
    attempt = forgery.bezorging
    if how is aanvaller.ForgedReceipt.RELABELLED:  # the meldpunt over-signs: DKIM breaks, DMARC p=reject
        assert attempt.outcome is Outcome.PERMANENT and "DMARC" in attempt.reply.text, attempt.reason
    else:
        assert attempt.outcome is Outcome.DELIVERED, attempt.reason
        assert sim.politie.get("/quarantaine/wacht", aantal=str(quarantined + 1), timeout="30")["bereikt"]
        reason = sim.politie.get("/quarantaine")[-1]["reden"]
        assert reason.startswith(f"niet van {keten.deelnemer(UTRECHT).naam}"), reason
    entry = sim.politie.get(f"/meldingen/{kenmerk}")
    assert (entry["status"], entry["confirmed_at"], entry["bevestigingen"]) == ("bezorgd", None, [])


def test_11_9_a_second_different_confirmation_from_the_meldpunt_fails_v06(sim, keten, pki, pool):
    melding = pool.voor(UTRECHT)
    v = sim.doorloop(melding)
    assert v.status == "bezorgd en bevestigd" and len(v.postkantoor["bevestigingen"]) == 1
    meldpunt = keten.deelnemer(UTRECHT)
    again = compose_ontvangstbevestiging(melding.kenmerk, sender=meldpunt.adres, recipient=keten.politie.adres,
                                         sender_name=meldpunt.naam)
    keys = [pki.dkim_key(meldpunt.domain.name, spec) for spec in meldpunt.domain.dkim]
    host = meldpunt.domain.senders[0]
    attempt = deliver(dkim.sign(again.data, keys), meldpunt.adres, keten.politie.adres,
                      resolver=Resolver(keten.dns.resolver_ip), source_ip=host.ip, helo=host.name)
    assert attempt.outcome is Outcome.DELIVERED, attempt.reason
    sim.politie.get(f"/meldingen/{melding.kenmerk}/wacht", status="bezorgd en bevestigd", bevestigingen="2",
                    timeout="30")
    now = dt.datetime.fromtimestamp(sim.now(), UTC)
    [v06] = check_verzending(sim.verzending(melding, {"kenmerk": melding.kenmerk}), keten, ["V06"], now=now)
    assert v06.verdict is Uitslag.GEFAALD, v06.summary()
    assert v06.subtest("v06.een_bevestiging").verdict is Uitslag.GEFAALD
