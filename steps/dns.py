"""Steps about the simulated DNS: one sentence, one call, one assertion."""

from __future__ import annotations

import pytest
from pytest_bdd import given, parsers, then, when

from ketentest.dns import DnsAnswer, DnssecState
from ketentest.model import Deelnemer
from simulators.internet import mail_domain_queries


@given("de gesimuleerde keten draait", target_fixture="net")
def keten_draait(internet):
    return internet


@given(parsers.parse('de deelnemer "{ident}"'), target_fixture="deelnemer")
def de_deelnemer(keten, ident: str) -> Deelnemer:
    return keten.deelnemer(ident)


@when("de resolver alle maildomein-records van de deelnemer opvraagt", target_fixture="antwoorden")
def vraag_maildomein_records(sim, deelnemer: Deelnemer) -> list[DnsAnswer]:
    return [sim.resolver.lookup(name, rdtype) for name, rdtype in mail_domain_queries(deelnemer.domain)]


@then("is elk antwoord veilig (DNSSEC) en niet leeg")
def elk_antwoord_veilig(antwoorden: list[DnsAnswer], deelnemer: Deelnemer) -> None:
    wrong = [a.describe() for a in antwoorden if a.state is not DnssecState.SECURE or not a.records]
    assert not wrong, f"{deelnemer.naam}: niet veilig of leeg: " + "; ".join(wrong)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Scenarios tagged @per_deelnemer run once for every deelnemer of the keten,
    those tagged @per_meldpunt once for every meldpunt."""
    per_deelnemer = metafunc.definition.get_closest_marker("per_deelnemer") is not None
    per_meldpunt = metafunc.definition.get_closest_marker("per_meldpunt") is not None
    if not (per_deelnemer or per_meldpunt):
        return
    from ketentest.defecten import keten_with_defect

    keten = keten_with_defect(metafunc.config.getoption("--keten"), metafunc.config.getoption("--defect"))
    if "deelnemer_id" not in metafunc.fixturenames:
        metafunc.fixturenames.append("deelnemer_id")
    ids = [d.id for d in (keten.deelnemers if per_deelnemer else keten.meldpunten)]
    metafunc.parametrize("deelnemer_id", ids, ids=ids)


@given("een deelnemer van de keten", target_fixture="deelnemer")
def een_deelnemer(keten, deelnemer_id: str) -> Deelnemer:
    return keten.deelnemer(deelnemer_id)
