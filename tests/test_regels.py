"""The features state every sub-rule of every B and V agreement in its own
step (issue 13): the rules (ketentest/regels/) cover every sub-test a check
can report, the features use every rule, no scenario ends in a generic
"voldoet aan de afspraak", and a rule step fails when its sub-tests or its
threshold say so."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pytest_bdd.parser import FeatureParser
from pytest_bdd.parsers import parse

from ketentest.afspraken import AFSPRAKEN
from ketentest.config import load_keten
from ketentest.regels import REGELS, Regel, beoordeel, regels_voor
from ketentest.verdict import CheckResult, SubtestResult, Uitslag

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ROOT / "ketentest" / "checks"
FEATURES = ROOT / "features"
AGREEMENTS = [a for a in AFSPRAKEN if a[0] in "BV"]
#: The prefix of each B check's sub-test ids.
B_PREFIX = {"B01": "dnssec", "B02": "spf", "B03": "dkim", "B04": "dmarc", "B05": "starttls", "B06": "dane"}
CHECKED = re.compile(r"(?:wordt|worden) (?:gecontroleerd op|getoetst aan) ([BV]\d\d)\b")


def module_of(agreement: str) -> Path:
    return next(CHECKS.glob(f"{agreement.lower()}_*.py"))


def subtests_in_source(agreement: str) -> set[str]:
    """Every sub-test id the check's source can report, read from its literals."""
    source = module_of(agreement).read_text(encoding="utf-8")
    if agreement in B_PREFIX:
        prefix = B_PREFIX[agreement]
        return set(re.findall(rf'"({prefix}\.[a-z_0-9]+)"', source))
    ids: set[str] = set()
    dynamic = False
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "sub" and len(node.args) >= 2:
            name = node.args[1]
            if isinstance(name, ast.Constant):
                ids.add(f"{agreement.lower()}.{name.value}")
            else:
                dynamic = True
    if dynamic:  # sub(AGREEMENT, key, ...) over the keys of the module's ok/fix tables
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                    getattr(t, "id", None) in ("ok", "fix") for t in node.targets):
                ids |= {f"{agreement.lower()}.{k.value}" for k in node.value.keys if isinstance(k, ast.Constant)}
    return ids


def scenarios():
    """(file, scenario template) of every feature."""
    for path in sorted(FEATURES.glob("*.feature")):
        feature = FeatureParser(str(path.parent), path.name).parse()
        for template in feature.scenarios.values():
            yield path.name, template


def steps_of(template) -> list[tuple[str, str]]:
    """(type, text) of every step, rendered with the first example row if any."""
    contexts = [c for ex in template.examples for c in ex.as_contexts()]
    steps = template.render(contexts[0]).steps if contexts else template.steps
    return [(s.type, s.name) for s in steps]


def matches(regel: Regel, text: str) -> bool:
    return parse(regel.zin).is_matching(text)


@pytest.mark.parametrize("agreement", AGREEMENTS)
def test_every_subtest_of_a_check_belongs_to_a_rule(agreement):
    found = subtests_in_source(agreement)
    assert found, f"geen sub-tests gevonden in {module_of(agreement).name}: het lezen van de bron klopt niet meer"
    covered = {s for r in regels_voor(agreement) for s in r.subtests}
    assert found <= covered, f"{agreement}: geen regel voor {sorted(found - covered)}"
    assert covered <= found, f"{agreement}: regels noemen sub-tests die de controle niet kent: {sorted(covered - found)}"


def test_the_source_scan_sees_dynamic_subtest_names():
    """V04 names its sub-tests through its ok/fix tables: the scan must find them."""
    assert {"v04.velden", "v04.veilig", "v04.grootte", "v04.bijlage", "v04.geweigerd"} <= subtests_in_source("V04")


def test_rules_are_unique_and_well_formed():
    keten = load_keten(None)
    sentences = [r.zin for r in REGELS]
    assert len(sentences) == len(set(sentences)), "twee regels met dezelfde zin"
    for r in REGELS:
        assert r.afspraak in AFSPRAKEN and r.subtests and r.uitleg
        assert set(r.optioneel) <= set(r.subtests), r
        fields = set(re.findall(r"\{(\w+)", r.zin))
        assert fields == set(r.drempels), f"{r.zin}: elke {{naam}} in de zin heeft een drempel en omgekeerd"
        # no two rules accept the same sentence: the step a line runs is never ambiguous
        others = [o for o in REGELS if o is not r and matches(o, r.voorbeeld(keten))]
        assert not others, f"{r.zin!r} past ook op {[o.zin for o in others]}"


def test_no_scenario_ends_in_a_generic_verdict():
    for name, template in scenarios():
        for _, text in steps_of(template):
            assert "aan de afspraak" not in text, f"{name}: '{template.name}' zegt alleen '{text}'"


def test_every_checked_agreement_is_spelled_out_in_its_scenario():
    """A scenario that checks an agreement judges it with that agreement's rule steps (example rows
    judge the whole verdict, with the explanation's key words)."""
    for name, template in scenarios():
        steps = steps_of(template)
        for i, (_, text) in enumerate(steps):
            m = CHECKED.search(text)
            if not m or "grensgeval" in template.tags:
                continue
            agreement = m.group(1)
            rules = [t for _, t in steps[i + 1:] if any(matches(r, t) for r in regels_voor(agreement))]
            assert rules, f"{name}: '{template.name}' toetst {agreement} maar noemt geen regel ervan"


@pytest.mark.parametrize("agreement", AGREEMENTS)
def test_every_rule_is_stated_in_a_feature(agreement):
    rules = regels_voor(agreement)
    assert rules, f"{agreement} heeft geen regels"
    texts = [t for _, template in scenarios() if "grensgeval" not in template.tags for _, t in steps_of(template)]
    unused = [r.zin for r in rules if not any(matches(r, t) for t in texts)]
    assert not unused, f"{agreement}: deze regels staan in geen scenario: {unused}"


@pytest.mark.parametrize("agreement", AGREEMENTS)
def test_every_agreement_has_an_example_table(agreement):
    tables = [t for _, t in scenarios() if "grensgeval" in t.tags and agreement in t.tags]
    rows = sum(len(list(ex.as_contexts())) for t in tables for ex in t.examples)
    assert rows >= 2, f"{agreement}: geen Voorbeelden-tabel met minstens twee regels (@{agreement} @grensgeval)"


# --- judging one rule -------------------------------------------------------------------------------

RULE = Regel("B02", "vraagt het SPF-record hoogstens {max_lookups:d} DNS-opvragingen", ("spf.aantal_lookups",),
             "uitleg", drempels={"max_lookups": 10})
OPTIONAL = Regel("B01", "heeft het domein hoogstens {n:d} MX-records", ("dnssec.mx_aantal",), "uitleg",
                 drempels={"n": lambda keten: 10}, optioneel=("dnssec.mx_aantal",))


def result(*subtests: tuple[str, Uitslag]) -> CheckResult:
    return CheckResult("B02", "voorbeeld.test", tuple(SubtestResult(i, "B02", v, f"uitleg {i}") for i, v in subtests))


@pytest.mark.parametrize("verdict, ok", [(Uitslag.GESLAAGD, True), (Uitslag.WAARSCHUWING, True),
                                         (Uitslag.GEFAALD, False), (Uitslag.NIET_TESTBAAR, False)])
def test_a_rule_takes_its_subtests_verdict(verdict, ok):
    b = beoordeel(RULE, result(("spf.aantal_lookups", verdict), ("spf.all", Uitslag.GEFAALD)), {"max_lookups": 10}, None)
    assert b.ok is ok and b.uitslag is verdict  # spf.all is another rule's business


def test_a_threshold_that_differs_from_the_check_fails_and_says_both():
    b = beoordeel(RULE, result(("spf.aantal_lookups", Uitslag.GESLAAGD)), {"max_lookups": 11}, None)
    assert not b.ok
    assert "11" in b.afwijkingen[0] and "10" in b.afwijkingen[0]


def test_a_rule_the_check_did_not_report_is_not_tested():
    b = beoordeel(RULE, result(("spf.all", Uitslag.GEFAALD)), {"max_lookups": 10}, None)
    assert b.uitslag is Uitslag.NIET_TESTBAAR
    assert "geen uitslag voor spf.aantal_lookups" in b.melding(result(("spf.all", Uitslag.GEFAALD)), "wie")


def test_an_optional_subtest_passes_when_absent_and_is_judged_when_present():
    assert beoordeel(OPTIONAL, result(), {"n": 10}, None).ok
    assert not beoordeel(OPTIONAL, result(("dnssec.mx_aantal", Uitslag.GEFAALD)), {"n": 10}, None).ok


def test_a_keten_threshold_comes_from_the_keten():
    keten = load_keten(None)
    rule = Regel("V07", "binnen {minuten:d} minuten", ("v07.tijdig",), "uitleg",
                 drempels={"minuten": lambda k: k.aannames.bevestiging_minuten})
    assert rule.voorbeeld(keten) == f"binnen {keten.aannames.bevestiging_minuten} minuten"
    assert not beoordeel(rule, result(("v07.tijdig", Uitslag.GESLAAGD)), {"minuten": 99}, keten).ok
