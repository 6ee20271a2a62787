"""Steps for chapters V and S: meldingen through the whole simulated keten."""

from __future__ import annotations

import dataclasses

import pytest
from pytest_bdd import given, parsers, then, when

from ketentest.checks.verzending import check_unique_kenmerken, check_verzending
from ketentest.melding import Melding
from ketentest.model import Deelnemer, Keten
from ketentest.synth import MeldingPool
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending
from steps.echt import ATTACK, controlled, require_simulated
from steps.regels import volg


class Meldingen(MeldingPool):
    """Fresh synthetic meldingen for the session (unique kenmerken), by meldpunt."""

    def __init__(self, keten: Keten, seed: int) -> None:
        super().__init__(keten, seed, 400)
        self.healthy: dict[str, Verzending] = {}
        self.alle: list[Verzending] = []  # every journey of the session, for V06 (one kenmerk per melding)

    def doorloop(self, sim, melding: Melding) -> Verzending:
        verzending = sim.doorloop(melding)
        self.alle.append(verzending)
        return verzending

    def voor(self, meldpunt: Deelnemer) -> Melding:
        return super().voor(meldpunt.id)

    def met_postcode(self, postcode: str, woonplaats: str) -> Melding:
        m = self.pool.pop()
        adres = dataclasses.replace(m.persoon.adres, postcode=postcode, woonplaats=woonplaats)
        return dataclasses.replace(m, persoon=dataclasses.replace(m.persoon, adres=adres))


@pytest.fixture(scope="session")
def meldingen(keten, request) -> Meldingen:
    return Meldingen(keten, request.config.getoption("--seed"))


@given("de keten draait met politie en meldpunten", target_fixture="sim")
def keten_met_partijen(keten_sim):
    return keten_sim


@given("een meldpunt van de keten", target_fixture="deelnemer")
def een_meldpunt(keten, deelnemer_id: str) -> Deelnemer:
    return keten.deelnemer(deelnemer_id)


@when("de politie een melding doet over iemand in het werkgebied van het meldpunt", target_fixture="verzending")
def melding_in_werkgebied(sim, meldingen: Meldingen, deelnemer: Deelnemer) -> Verzending:
    return meldingen.doorloop(sim, meldingen.voor(deelnemer))


@when("de politie een gewone melding doet over iemand in het werkgebied van het meldpunt", target_fixture="verzending")
def gewone_melding(sim, meldingen: Meldingen, deelnemer: Deelnemer) -> Verzending:
    """One healthy journey per meldpunt, judged by every V scenario."""
    if deelnemer.id not in meldingen.healthy:
        meldingen.healthy[deelnemer.id] = meldingen.doorloop(sim, meldingen.voor(deelnemer))
    return meldingen.healthy[deelnemer.id]


@when("de politie voor elk meldpunt een gewone melding doet", target_fixture="verzendingen")
def gewone_melding_per_meldpunt(sim, meldingen: Meldingen, keten: Keten) -> list[Verzending]:
    """The healthy journey of every meldpunt (made once per run, shared with the V scenarios)."""
    return [gewone_melding(sim, meldingen, m) for m in keten.meldpunten]


@when("de kenmerken van alle meldingen van deze run worden getoetst aan V06", target_fixture="controle")
def kenmerken_getoetst(request, verzendingen: list[Verzending], meldingen: Meldingen, keten: Keten) -> CheckResult:
    """V06 over every melding this run sent (at least one per meldpunt): no kenmerk may belong to two meldingen."""
    return volg(request, check_unique_kenmerken(meldingen.alle, keten))


@when("het postkantoor dezelfde melding nog een keer verstuurt", target_fixture="verzending")
def nog_een_keer(sim, verzending: Verzending) -> Verzending:
    return sim.opnieuw(verzending)


@when(parsers.parse('de politie een melding doet over iemand met postcode "{postcode}" in {woonplaats}'),
      target_fixture="verzending")
def melding_met_postcode(sim, meldingen: Meldingen, postcode: str, woonplaats: str) -> Verzending:
    return meldingen.doorloop(sim, meldingen.met_postcode(postcode, woonplaats))


def toets(request, verzending: Verzending, keten: Keten, afspraak: str) -> CheckResult:
    """Judge the melding's journey on one agreement; the steps after it (steps/regels.py) judge its sub-rules."""
    return volg(request, check_verzending(verzending, keten, [afspraak], now=verzending.waargenomen)[0])


# A 'when' step, and a 'then' step for "En ..." after "Dan": the typed result
# becomes a fixture, so the report plugin attaches it as evidence.
when(parsers.parse("de verzending wordt getoetst aan {afspraak}"), target_fixture="controle")(toets)
then(parsers.parse("de verzending wordt getoetst aan {afspraak}"), target_fixture="controle")(toets)


@then("weigert het postkantoor de melding met het advies de alternatieve route te gebruiken")
def geweigerd(verzending: Verzending) -> None:
    assert verzending.geweigerd and verzending.postkantoor is None, (
        f"melding {verzending.kenmerk} is niet geweigerd maar {verzending.status}")


# --- V07: only the meldpunt the melding went to can confirm it ---------------------------------------


@when(parsers.parse("een aanvaller de politie een ontvangstbevestiging voor die melding stuurt: {hoe}"),
      target_fixture="vervalsing")
def vervalste_bevestiging(sim, pki, verzending: Verzending, hoe: str):
    """Forged in the name of the meldpunt the postkantoor routed the melding to."""
    from simulators.aanvaller import forge_receipt

    require_simulated(sim.keten.politie, action=ATTACK)  # the forgery goes to the police's MX

    return forge_receipt(sim.keten, pki, verzending.meldpunt_id, verzending.kenmerk, hoe)


@then("telt het postkantoor die ontvangstbevestiging niet mee")
def niet_meegeteld(sim, verzending: Verzending, vervalsing) -> None:
    politie = controlled(sim, "politie", action="niet in zijn postkantoor kijken welke ontvangstbevestigingen het meetelt")
    politie.get("/verwerkt")  # the postkantoor handles a message beside its 250
    counted = [b["message_id"] for b in politie.get(f"/meldingen/{verzending.kenmerk}")["bevestigingen"]]
    assert vervalsing.message_id not in counted, (
        f"melding {verzending.kenmerk} telt een vervalste ontvangstbevestiging als echt "
        f"({vervalsing.bezorging.reason}); getelde bevestigingen: {counted}")
