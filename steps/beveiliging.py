"""Steps for chapter B: a deelnemer's mail domain against one agreement."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from ketentest.afspraken import AFSPRAKEN
from ketentest.checks import check_deelnemer
from ketentest.model import Deelnemer
from ketentest.verdict import CheckResult


@when(parsers.parse("het maildomein van de deelnemer wordt gecontroleerd op {afspraak}"), target_fixture="controle")
def controleer(sim, deelnemer: Deelnemer, afspraak: str) -> CheckResult:
    return check_deelnemer(deelnemer, sim.internet.resolver, [afspraak])[0]


@then("voldoet het maildomein aan de afspraak")
def voldoet(controle: CheckResult, deelnemer: Deelnemer) -> None:
    afspraak = AFSPRAKEN[controle.agreement]
    assert controle.verdict.ok, (
        f"{afspraak.id} {afspraak.titel} — {deelnemer.naam} ({controle.domain}): {controle.verdict.dutch}\n"
        + "\n".join(f"  {s}" for s in controle.problems)
    )
