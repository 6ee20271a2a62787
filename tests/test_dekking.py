"""Coverage of the afsprakenkader: every agreement in docs/afspraken.md is in
ketentest.afspraken and has at least one scenario tagged with its ID, so a new
agreement without a scenario fails here."""

from __future__ import annotations

import re
from pathlib import Path

from gherkin.parser import Parser

from ketentest.afspraken import AFSPRAKEN

ROOT = Path(__file__).resolve().parent.parent
ID = re.compile(r"^\|\s*([BVS]\d\d)\s*\|", re.MULTILINE)


def ids_in_afspraken(text: str) -> set[str]:
    return set(ID.findall(text))


def scenario_tags(features: Path) -> dict[str, list[str]]:
    """Agreement ID -> scenario names tagged with it (feature tags count for all)."""
    out: dict[str, list[str]] = {}
    for path in sorted(features.glob("**/*.feature")):
        doc = Parser().parse(path.read_text(encoding="utf-8"))
        feature = doc["feature"]
        inherited = {t["name"].lstrip("@") for t in feature.get("tags", [])}

        def walk(children, tags):
            for child in children:
                if "rule" in child:
                    rule = child["rule"]
                    walk(rule["children"], tags | {t["name"].lstrip("@") for t in rule.get("tags", [])})
                elif "scenario" in child:
                    sc = child["scenario"]
                    own = tags | {t["name"].lstrip("@") for t in sc.get("tags", [])}
                    for ex in sc.get("examples", []):
                        own |= {t["name"].lstrip("@") for t in ex.get("tags", [])}
                    for tag in own:
                        out.setdefault(tag, []).append(f"{path.name}: {sc['name']}")

        walk(feature["children"], inherited)
    return out


def test_afspraken_document_and_registry_agree():
    documented = ids_in_afspraken((ROOT / "docs" / "afspraken.md").read_text(encoding="utf-8"))
    assert len(documented) == 23
    assert documented == set(AFSPRAKEN), f"alleen in het document: {documented - set(AFSPRAKEN)}; " \
                                          f"alleen in de code: {set(AFSPRAKEN) - documented}"


def test_every_agreement_has_a_scenario():
    tags = scenario_tags(ROOT / "features")
    missing = sorted(a for a in AFSPRAKEN if a not in tags)
    assert not missing, f"afspraken zonder scenario: {', '.join(missing)}"


def test_the_coverage_check_fails_for_an_agreement_without_scenario(tmp_path):
    (tmp_path / "x.feature").write_text("# language: nl\nFunctionaliteit: X\n\n  @B01\n  Scenario: iets\n"
                                        "    Gegeven de keten draait met politie en meldpunten\n", encoding="utf-8")
    tags = scenario_tags(tmp_path)
    assert "B01" in tags and "B02" not in tags
    extended = ids_in_afspraken("| B01 | DNSSEC |\n| B07 | nieuw |\n")
    assert extended - set(tags) == {"B07"}
