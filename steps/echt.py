"""Real (``echt``) deelnemers in a scenario (issue 15): the harness cannot
switch, pause, restart, reconfigure or look inside a party it does not run.

A step that needs to do so asks :func:`controlled` (or :func:`require_simulated`)
first. For a real deelnemer the scenario then ends as *niet van toepassing*:
:class:`NietVanToepassing`, a pytest skip whose reason starts with
``NVT_PREFIX`` ("niet van toepassing: "). The report reads that reason
(ketentest/report/results.py): the outcome is ``nvt``, never geslaagd, never
gefaald.

One hook here (:func:`pytest_runtest_makereport`) maps every such outcome to
that skip, also the simulators' own refusal to reach a real deelnemer
(``EchteDeelnemer``), so a step that forgot to ask still ends n.v.t.
"""

from __future__ import annotations

import sys

import pytest

from ketentest.model import Deelnemer
from ketentest.report.results import NVT_PREFIX, is_nvt

try:  # the simulators' refusal to run or reach a real deelnemer (simulators/keten.py)
    from simulators.keten import EchteDeelnemer
except ImportError:  # not there (yet): recognised by its name below
    EchteDeelnemer = None

#: What a step cannot do with a real deelnemer, in Dutch (completes "de ketentest kan ...").
LOOK_INSIDE = "niet in zijn administratie kijken (welke meldingen hij registreerde, ontving of beantwoordde)"
CRASH = "hem niet laten crashen en herstarten"
WATCH_POSTKANTOOR = "niet in zijn postkantoor kijken hoe ver een melding is"
ATTACK = "hem geen vervalste, vijandige of opnieuw afgespeelde mail sturen (een aanval op een echte partij)"
NO_SIMULATOR = "hem niet besturen: er draait geen simulator voor (geen besturings-API, schakelaar of klok)"

#: Attribute on a pytest report whose outcome is niet van toepassing (the reason; travels with xdist).
REPORT_ATTR = "niet_van_toepassing"


class NietVanToepassing(pytest.skip.Exception):
    """The scenario does not apply to this (real) deelnemer: a skip with the n.v.t. reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(msg=reason if is_nvt(reason) else NVT_PREFIX + reason)

    @property
    def reason(self) -> str:
        return str(self.msg)


def nvt_reason(deelnemer: Deelnemer, *, switch: str | None = None, action: str | None = None) -> str:
    """Dutch: why the scenario does not apply. ``switch``: the switch the step would set;
    ``action``: otherwise what it would do, as "de ketentest kan <action>"."""
    if switch is not None:
        what = f"zijn schakelaar '{switch}' niet zetten"
    else:
        what = action or "hem niet besturen"
    return f"{NVT_PREFIX}{deelnemer.naam} is een echte deelnemer; de ketentest kan {what}"


def require_simulated(deelnemer: Deelnemer, *, switch: str | None = None, action: str | None = None) -> None:
    """Raise :class:`NietVanToepassing` when the deelnemer is real (not simulated)."""
    if deelnemer.echt is not None:
        raise NietVanToepassing(nvt_reason(deelnemer, switch=switch, action=action))


def deelnemer_of(keten, ident: Deelnemer | str) -> Deelnemer:
    """A deelnemer by itself, its id, name or domain; "politie" names the police."""
    if isinstance(ident, Deelnemer):
        return ident
    return keten.politie if ident == "politie" else keten.deelnemer(ident)


def controlled(sim, deelnemer: Deelnemer | str, *, switch: str | None = None, action: str | None = None):
    """The control client of a simulated party; for a real deelnemer the scenario is n.v.t."""
    d = deelnemer_of(sim.keten, deelnemer)
    require_simulated(d, switch=switch, action=action)
    return sim.party(d.id)


def _is_echte_deelnemer(exc: BaseException) -> bool:
    if EchteDeelnemer is not None and isinstance(exc, EchteDeelnemer):
        return True
    return any(cls.__name__ == "EchteDeelnemer" for cls in type(exc).__mro__)  # defined elsewhere (simulators)


def reason_of(exc: BaseException | None) -> str | None:
    """The n.v.t. reason if ``exc`` means "not applicable to a real deelnemer", else None."""
    if exc is None:
        return None
    if isinstance(exc, NietVanToepassing):
        return exc.reason
    if _is_echte_deelnemer(exc):
        d = getattr(exc, "deelnemer", None)
        if isinstance(d, Deelnemer):  # the simulators' refusal names the deelnemer: the same sentence as a step's
            return nvt_reason(d, action=NO_SIMULATOR)
        text = str(exc).strip() or "de ketentest kan een echte deelnemer niet besturen"
        return text if is_nvt(text) else NVT_PREFIX + text
    return None


def in_flight() -> str | None:
    """The n.v.t. reason of the exception being handled now (e.g. in pytest-bdd's after-scenario hook)."""
    return reason_of(sys.exc_info()[1])


@pytest.hookimpl(wrapper=True, trylast=True)  # innermost: the report plugin and Allure see the skip
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    reason = reason_of(call.excinfo.value if call.excinfo is not None else None)
    if reason is not None:
        path, lineno, _ = item.reportinfo()
        report.outcome = "skipped"
        report.longrepr = (str(path), (lineno or 0) + 1, f"Skipped: {reason}")
        setattr(report, REPORT_ATTR, reason)
    return report
