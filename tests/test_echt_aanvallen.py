"""Attacks never reach a real deelnemer (issue 15: "a coordinator must not be
able to hurt a real party by mistake"). The allowlist lets a listed address
through, so the attack senders (simulators/aanvaller.py) refuse a real
recipient themselves, before any DNS look-up or connection, and the S06/S07
steps end as niet van toepassing before they build anything."""

from __future__ import annotations

import dataclasses

import pytest

from ketentest.config import load_keten
from ketentest.model import Echt
from simulators import aanvaller
from steps.echt import NietVanToepassing

FLEVO = "ggd-flevoland"
PDF = b"%PDF-1.7\n% test\n%%EOF\n"


def hybrid(ident: str = FLEVO):
    keten = load_keten("midden-nederland")
    if ident == "politie":
        return dataclasses.replace(keten, politie=dataclasses.replace(keten.politie,
                                                                      echt=Echt(frozenset({keten.politie.adres}))))
    mps = tuple(dataclasses.replace(m, echt=Echt(frozenset({m.adres}))) if m.id == ident else m
                for m in keten.meldpunten)
    return dataclasses.replace(keten, meldpunten=mps)


class Recorder:
    """Stands in for ketentest.delivery.deliver: records whether anything would be sent."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, message, mail_from, rcpt, **kw):
        self.calls.append(rcpt)
        return "verstuurd"


@pytest.fixture
def sent(monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(aanvaller, "_deliver", rec)
    return rec


ATTACKS = {
    "vervalst": lambda k: aanvaller.spoof_melding(k, FLEVO, "MN-2026-000001", PDF),
    "buitenstaander": lambda k: aanvaller.outsider_melding(k, FLEVO, "MN-2026-000001", PDF),
    "opnieuw-afgespeeld": lambda k: aanvaller.replay_relabelled(k, b"Subject: x\r\n\r\nx\r\n", "MN-2026-000002",
                                                                k.deelnemer(FLEVO).adres),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_on_a_real_meldpunt_is_refused_before_anything_is_sent(sent, attack):
    with pytest.raises(aanvaller.AanvalOpEchteDeelnemer, match="GGD Flevoland - Vangnet en Advies is een echte deelnemer"):
        ATTACKS[attack](hybrid())
    assert sent.calls == []


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_same_attack_on_the_simulated_meldpunt_goes_out(sent, attack):
    """The control: without the echt mark the very same call is sent."""
    ATTACKS[attack](load_keten("midden-nederland"))
    assert sent.calls == [load_keten("midden-nederland").deelnemer(FLEVO).adres]


def test_a_forged_receipt_to_a_real_police_is_refused(sent):
    from simulators.pki import Pki

    keten = hybrid("politie")
    with pytest.raises(aanvaller.AanvalOpEchteDeelnemer):
        aanvaller.forge_receipt(keten, Pki(), FLEVO, "MN-2026-000001", aanvaller.ForgedReceipt.OUTSIDER)
    assert sent.calls == []


def test_the_attack_steps_end_nvt_for_a_real_meldpunt_before_building_the_attack():
    from steps.storingen import buitenstaander, vervalste_melding, vijandige_pdf

    keten = hybrid()

    class Sim:
        pass

    sim = Sim()
    sim.keten = keten

    class NoMeldingen:
        def voor(self, deelnemer):
            raise AssertionError("de stap bouwde de aanval al op")

    for step in (vervalste_melding, buitenstaander):
        with pytest.raises(NietVanToepassing, match="geen vervalste, vijandige of opnieuw afgespeelde mail"):
            step(sim, NoMeldingen(), keten.deelnemer(FLEVO))
    with pytest.raises(NietVanToepassing):
        vijandige_pdf(sim, NoMeldingen(), keten.deelnemer(FLEVO), None)
    with pytest.raises(AssertionError, match="bouwde de aanval"):  # control: a simulated meldpunt goes on
        vervalste_melding(sim, NoMeldingen(), keten.deelnemer("ggd-regio-utrecht"))
