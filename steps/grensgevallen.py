"""Steps for the example tables (``Voorbeelden``) of features/*_grensgevallen.feature:
one setting of one deelnemer changed as the row says, the agreement checked,
and the verdict and its explanation compared with the row. A coordinator
adds a case by adding a row; no Python.
"""

from __future__ import annotations

import pytest
from pytest_bdd import given, parsers, then, when

from ketentest.checks import check_deelnemer
from ketentest.defecten import keten_with_overlay, overlay
from ketentest.verdict import CheckResult, Uitslag
from ketentest.verzending import Verzending
from steps.echt import deelnemer_of, require_simulated
from steps.regels import beoordeeld, volg

_UITSLAGEN = {u.dutch: u for u in Uitslag}


@given(parsers.parse('de keten met voor "{partij}" de instelling {instelling} op {waarde}'), target_fixture="sim")
def keten_met_instelling(request: pytest.FixtureRequest, internet_lab, keten, tmp_path_factory,
                         partij: str, instelling: str, waarde: str):
    """Start the keten with one setting changed: a keten-file setting gives a keten of its own (its
    zones, keys and servers made anew); a switch (``schakelaar.…``) is set on the running keten and
    undone after the scenario."""
    _only_simulated(keten, partij, instelling)
    change = overlay(keten, partij, instelling, waarde)
    if change.schakelaars:
        sim = request.getfixturevalue("keten_sim")  # healthy keten; its teardown resets the switches
        for party, switches in change.schakelaars.items():
            sim.configure(party, switches)
        return sim
    changed = keten_with_overlay(keten, change, tmp_path_factory.mktemp("voorbeeld"))
    return internet_lab.start_sim(changed)


def _only_simulated(keten, partij: str, instelling: str) -> None:
    """A row that changes a real deelnemer is n.v.t.: the harness cannot change its settings or switches."""
    try:
        d = deelnemer_of(keten, partij)
    except KeyError:
        return  # overlay() names the unknown deelnemer
    if instelling.startswith("schakelaar."):
        require_simulated(d, switch=instelling.removeprefix("schakelaar."))
    elif not instelling.startswith("keten."):  # a keten-wide setting (aannames) does not touch the party
        require_simulated(d, action=f"zijn instelling '{instelling}' niet wijzigen")


@when(parsers.parse('het maildomein van "{partij}" wordt gecontroleerd op {afspraak}'), target_fixture="controle")
def controleer_partij(request: pytest.FixtureRequest, sim, partij: str, afspraak: str) -> CheckResult:
    """Run one agreement's check on the mail domain of the deelnemer the row names, in the row's keten."""
    return volg(request, check_deelnemer(sim.keten.deelnemer(partij), sim.resolver, [afspraak])[0])


@when(parsers.parse('de politie een melding doet over iemand in het werkgebied van "{partij}"'),
      target_fixture="verzending")
def melding_voor(sim, meldingen, partij: str) -> Verzending:
    """A melding about someone in the werkgebied of the meldpunt the row names, through the whole keten."""
    return sim.doorloop(meldingen.voor(sim.keten.deelnemer(partij)))


@then(parsers.parse('is de uitslag "{uitslag}"'))
def is_de_uitslag(request: pytest.FixtureRequest, controle: CheckResult, uitslag: str) -> None:
    """The agreement's verdict (geslaagd, waarschuwing, gefaald, niet testbaar) is what the row says."""
    if uitslag not in _UITSLAGEN:
        raise ValueError(f'onbekende uitslag "{uitslag}" in de tabel; kies uit: {", ".join(_UITSLAGEN)}')
    beoordeeld(request, *(s.id for s in controle.subtests))
    if controle.verdict is not _UITSLAGEN[uitslag]:
        pytest.fail(f"{controle.agreement} {controle.domain}: verwacht {uitslag}, maar de uitslag is "
                    f"{controle.verdict.dutch}\n{controle.summary()}", pytrace=False)


@then(parsers.parse('noemt de toelichting "{woorden}"'))
def noemt_de_toelichting(controle: CheckResult, woorden: str) -> None:
    """Every word (comma-separated) occurs in the explanation of the sub-tests that decided the verdict."""
    deciding = [s for s in controle.subtests if s.verdict is controle.verdict] or list(controle.subtests)
    text = " ".join(s.explanation for s in deciding).lower()
    missing = [w.strip() for w in woorden.split(",") if w.strip() and w.strip().lower() not in text]
    if missing:
        pytest.fail(f"{controle.agreement} {controle.domain}: de toelichting noemt {', '.join(missing)} niet\n"
                    + "\n".join(f"  {s}" for s in deciding), pytrace=False)
