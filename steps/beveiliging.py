"""Steps for chapter B: a deelnemer's mail domain against one agreement; its
sub-rules are the steps of steps/regels.py."""

from __future__ import annotations

from pytest_bdd import parsers, when

from ketentest.checks import check_deelnemer
from ketentest.model import Deelnemer
from ketentest.verdict import CheckResult
from steps.regels import volg


@when(parsers.parse("het maildomein van de deelnemer wordt gecontroleerd op {afspraak}"), target_fixture="controle")
def controleer(request, sim, deelnemer: Deelnemer, afspraak: str) -> CheckResult:
    """Run one agreement's check; the steps after it (steps/regels.py) judge its sub-rules."""
    return volg(request, check_deelnemer(deelnemer, sim.resolver, [afspraak])[0])
