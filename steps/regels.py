"""Steps for the sub-rules of the B and V agreements: one ``Dan``/``En`` step
per :class:`ketentest.regels.Regel`, judged on the check result of the
scenario (the ``controle`` fixture), with the rule's evidence attached to
the step that judged it.

A scenario that checked an agreement must judge every problem the check
found: a finding that no step of the scenario judged fails the scenario
(:func:`pytest_bdd_after_scenario`), so a rule missing from a feature can
not hide a failure.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pytest_bdd import parsers, then

from ketentest.regels import REGELS, Regel, beoordeel
from ketentest.report.evidence import Kind, attach
from ketentest.verdict import CheckResult
from steps.echt import in_flight

_JUDGED = pytest.StashKey[dict[str, Any]]()


def _state(request: pytest.FixtureRequest) -> dict[str, Any]:
    node = request.node
    if _JUDGED not in node.stash:
        node.stash[_JUDGED] = {"controles": [], "beoordeeld": set(), "fout": False}
    return node.stash[_JUDGED]


def volg(request: pytest.FixtureRequest, controle: CheckResult) -> CheckResult:
    """Remember a check result of the scenario: its problems must all be judged by a step."""
    _state(request)["controles"].append(controle)
    return controle


def beoordeeld(request: pytest.FixtureRequest, *subtest_ids: str) -> None:
    """Mark sub-tests as judged by a step of the scenario."""
    _state(request)["beoordeeld"].update(subtest_ids)


def wie(request: pytest.FixtureRequest) -> str:
    """Who the check result is about, in Dutch: the melding or the deelnemer."""
    for name, text in (("verzending", lambda v: f"melding {v.kenmerk} naar {v.meldpunt_id or '(geen meldpunt)'}"),
                       ("deelnemer", lambda d: d.naam)):
        if name in request.fixturenames:
            try:
                return text(request.getfixturevalue(name))
            except pytest.FixtureLookupError:
                continue
    return "de keten"


def _step_for(regel: Regel):
    def step(request: pytest.FixtureRequest, controle: CheckResult, **gelezen: Any) -> None:
        keten = request.getfixturevalue("keten")
        b = beoordeel(regel, controle, gelezen, keten)
        beoordeeld(request, *regel.subtests)
        attach(f"{regel.afspraak} {', '.join(regel.subtests)}: {b.uitslag.dutch}",
               {"regel": regel.voorbeeld(keten), "uitslag": b.uitslag.value, "afwijkingen": list(b.afwijkingen),
                "subtests": [s.to_dict() for s in b.subtests]},
               Kind.CHECK_JSON, verdict=b.uitslag,
               note="; ".join([*b.afwijkingen, *(s.explanation for s in b.subtests if not s.verdict.ok)]))
        if not b.ok:  # one Dutch message, without pytest's rewritten assert lines
            pytest.fail(b.melding(controle, wie(request), keten), pytrace=False)

    params = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD),
              inspect.Parameter("controle", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY) for f in regel.velden]
    step.__signature__ = inspect.Signature(params)  # pytest-bdd passes what the signature names
    step.__name__ = f"regel_{regel.afspraak.lower()}_{'_'.join(s.split('.')[-1] for s in regel.subtests)}"
    step.__doc__ = f"{regel.afspraak}: {regel.uitleg} (sub-tests: {', '.join(regel.subtests)})"
    return step


for _regel in REGELS:
    then(parsers.parse(_regel.zin))(_step_for(_regel))


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_step_error(request, feature, scenario, step, step_func, step_func_args, exception) -> None:
    _state(request)["fout"] = True


def pytest_bdd_after_scenario(request, feature, scenario) -> None:
    """Every problem a check of this scenario found must have been judged by one of its steps."""
    state = _state(request)
    if state["fout"] or in_flight() is not None:
        return  # a step failed already, or the scenario is n.v.t. (a real deelnemer): that is its outcome
    missed = [s for c in state["controles"] for s in c.problems if s.id not in state["beoordeeld"]]
    if missed:
        raise AssertionError(
            "Dit scenario beoordeelt niet alles wat de controle vond; voeg de regel(s) toe aan het scenario "
            "(zie docs/stappen.md):\n" + "\n".join(f"  {s}" for s in missed))
