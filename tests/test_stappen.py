"""The step catalogue (ketentest/stappen.py, docs/stappen.md) and the Dutch
message for a step that does not exist (steps/catalogus.py). No network."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pytest_bdd import parsers

from ketentest import stappen

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def steps() -> list[stappen.Stap]:
    return stappen.collect_steps()


def by_function(steps, name: str, kind: str | None = None) -> stappen.Stap:
    [found] = [s for s in steps if s.functie == name and (kind is None or s.type == kind)]
    return found


# --- the catalogue --------------------------------------------------------------------------------


def test_the_doc_is_what_the_code_makes_now():
    message = stappen.stale_message(stappen.DOC.read_text(encoding="utf-8"), stappen.generate())
    assert message is None, message


def test_a_stale_doc_is_caught_and_says_what_to_run():
    doc = stappen.DOC.read_text(encoding="utf-8")
    edited = doc.replace("bestaat _domainkey onder het maildomein", "bestaat _domainkey onder het mailadres")
    assert edited != doc
    message = stappen.stale_message(edited, stappen.generate())
    assert message is not None and "ketentest stappen --schrijf" in message
    assert "-| `Dan bestaat _domainkey onder het mailadres" in message
    assert "+| `Dan bestaat _domainkey onder het maildomein" in message


def test_a_new_step_definition_makes_the_doc_stale(steps, tmp_path, monkeypatch):
    (tmp_path / "extra_stappen.py").write_text(textwrap.dedent('''
        from pytest_bdd import given

        @given("het meldpunt heeft een nieuwe stap")
        def nieuw():
            """Only here to change the catalogue."""
    '''), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    extra = stappen.steps_in_module(importlib.import_module("extra_stappen"))
    assert [(s.keyword, s.zin, s.uitleg) for s in extra] == [
        ("Gegeven", "het meldpunt heeft een nieuwe stap", "Only here to change the catalogue.")]
    generated = stappen.render_markdown(stappen.catalogue([*stappen.collect_steps(), *extra]))
    message = stappen.stale_message(stappen.DOC.read_text(encoding="utf-8"), generated)
    assert message is not None and "het meldpunt heeft een nieuwe stap" in message


def test_every_step_definition_is_in_the_catalogue(steps):
    """Counted independently: every pytest-bdd step fixture in steps/*.py."""
    modules = [importlib.import_module(m) for m in stappen.step_modules()]
    fixtures = [n for m in modules for n in vars(m) if n.startswith("pytestbdd_stepdef_")]
    assert len(steps) == len(fixtures) > 40
    assert {s.module for s in steps} >= {"steps/dns.py", "steps/beveiliging.py", "steps/verzenden.py",
                                         "steps/storingen.py"}
    # one function registered twice (Als and Dan) is two sentences
    assert {s.keyword for s in steps if s.functie == "toets"} == {"Als", "Dan"}
    doc = stappen.DOC.read_text(encoding="utf-8")
    for s in steps:
        assert f"`{s.keyword} {s.zin}`" in doc, s.zin


def test_sentences_read_as_a_coordinator_writes_them(steps):
    assert by_function(steps, "de_deelnemer").zin == 'de deelnemer "<ident>"'  # parsers.parse
    regex_step = by_function(steps, "precies_een_keer")  # parsers.re with (?P<n>\d+) and poginge?n?
    assert regex_step.zin == "is de melding precies één keer bezorgd, na <n> pogingen"
    assert [(p.name, p.soort) for p in regex_step.params] == [("n", "een geheel getal")]
    assert by_function(steps, "tijdelijke_fouten").params[0].soort == "een geheel getal"  # {n:d}
    assert by_function(steps, "regel_b03_domainkey").zin == "bestaat _domainkey onder het maildomein"  # no parameter
    rule = by_function(steps, "regel_b02_aantal_lookups_void_lookups")  # a rule step: its thresholds are parameters
    assert rule.zin == "vraagt het SPF-record hoogstens <max_lookups> DNS-opvragingen en <max_void> lege"


@pytest.mark.parametrize("parser, expected", [
    (parsers.re(r"na (?P<n>\d+) poginge?n?"), "na <n> pogingen"),
    (parsers.re(r"een (?:melding|bericht) met (?P<wat>.+)"), "een melding/bericht met <wat>"),
    (parsers.re(r"code \d+ en [a-z]+ tekst"), "code … en … tekst"),
    (parsers.parse("op {afspraak} na {minuten:d} minuten"), "op <afspraak> na <minuten> minuten"),
    (parsers.parse("accolades {{zo}} en {x}"), "accolades {zo} en <x>"),
    ("een zin met <punthaken>", "een zin met <punthaken>"),
])
def test_sentence_parts(parser, expected):
    assert "".join(map(str, stappen.sentence_parts(parsers.string(parser) if isinstance(parser, str) else parser))) \
        == expected


def test_a_filled_in_sentence_is_accepted_by_its_step(steps):
    """What the catalogue shows is what the step accepts: every sentence with
    its parameters filled in matches its own definition (and a wrong filling not)."""
    def fill(s: stappen.Stap, value: str) -> str:
        return "".join(p if isinstance(p, str) else ("3" if p.soort in ("een geheel getal", "een getal") else value)
                       for p in s.delen)

    for s in steps:
        assert s.matches(s.type, fill(s, "B03")), s.zin
    wrong = by_function(steps, "tijdelijke_fouten")
    assert not wrong.matches("given", wrong.zin.replace("<n>", "drie"))  # {n:d} takes digits only
    assert not by_function(steps, "regel_b03_domainkey").matches("when", "bestaat _domainkey onder het maildomein")


def test_examples_come_from_the_features(steps):
    catalogue = stappen.catalogue(list(steps))
    controleer = by_function(catalogue, "controleer")
    assert controleer.voorbeeld.bestand.startswith("features/")
    assert re.fullmatch(r"Als het maildomein van de deelnemer wordt gecontroleerd op B0\d", controleer.voorbeeld.tekst)
    en = by_function(catalogue, "een_deelnemer")  # an 'En' line after 'Gegeven' is a Gegeven step
    assert en.voorbeeld.tekst == "En een deelnemer van de keten"
    doc = stappen.render_markdown(catalogue)
    assert "(nog niet gebruikt)" in doc  # 'de gesimuleerde keten draait' is in no feature today
    assert by_function(catalogue, "keten_draait").voorbeeld is None


def test_examples_from_voorbeelden_tables_and_keyword_types(steps, tmp_path):
    (tmp_path / "proef.feature").write_text(textwrap.dedent("""\
        # language: nl
        Functionaliteit: Proef
          Scenario: Verkeerd sleutelwoord
            Dan het maildomein van de deelnemer wordt gecontroleerd op B02

          Abstract Scenario: Per afspraak
            Als het maildomein van de deelnemer wordt gecontroleerd op <afspraak>
            Dan is de melding precies één keer bezorgd, na <aantal> pogingen

            Voorbeelden:
              | afspraak | aantal |
              | B03      | 2      |
        """), encoding="utf-8")
    catalogue = stappen.catalogue(list(steps), features_dir=tmp_path)
    controleer = by_function(catalogue, "controleer")
    # line 4 says 'Dan', so it is no example of the 'Als' step; the template line on line 7 is
    assert (controleer.voorbeeld.regel, controleer.voorbeeld.tekst) == (
        7, "Als het maildomein van de deelnemer wordt gecontroleerd op <afspraak>")
    assert by_function(catalogue, "precies_een_keer").voorbeeld.regel == 8  # matched through the table row
    assert by_function(catalogue, "elk_antwoord_veilig").voorbeeld is None


def test_the_intro_example_uses_existing_sentences(steps, tmp_path):
    from pytest_bdd.parser import FeatureParser

    doc = stappen.DOC.read_text(encoding="utf-8")
    block = doc.split("```gherkin\n", 1)[1].split("```", 1)[0]
    (tmp_path / "intro.feature").write_text("# language: nl\nFunctionaliteit: Intro\n" + textwrap.indent(block, "  "),
                                            encoding="utf-8")
    feature = FeatureParser(str(tmp_path), "intro.feature").parse()
    [template] = feature.scenarios.values()
    for context in (c for ex in template.examples for c in ex.as_contexts()):
        for step in template.render(context).steps:
            assert any(s.matches(step.type, step.name) for s in steps), step.name


# --- a step that does not exist -------------------------------------------------------------------


def test_closest_sentences(steps):
    message = stappen.not_found_message("Dan", "then", "publiceert het maildomijn precies één SPF-record", "", steps)
    assert message.splitlines()[:3] == [
        "Stap bestaat niet: 'Dan publiceert het maildomijn precies één SPF-record'.",
        "Bedoelde u:",
        "  Dan publiceert het maildomein precies één SPF-record",  # not the DMARC sentence, the near miss
    ]
    assert message.splitlines()[-1] == "Alle zinnen met een voorbeeld: docs/stappen.md (of 'ketentest stappen')."
    top = stappen.closest("when", "het maildomijn van de deelnemer wordt gekontroleerd op B03", steps)
    assert top[0].functie == "controleer"  # the parameter's value does not count against it
    assert stappen.closest("given", "het meldpunt antwoordt de eerste drie keer met een tijdelijke fout", steps)[0] \
        .functie == "tijdelijke_fouten"


def test_a_parameter_does_not_swallow_a_sentence(steps):
    """'de deelnemer "<ident>"' must not look like every sentence with 'de deelnemer' in it."""
    assert stappen.similarity(by_function(steps, "de_deelnemer").delen,
                              "het maildomijn van de deelnemer wordt gekontroleerd op B03") < 0.6
    assert stappen.similarity(by_function(steps, "controleer").delen,
                              "het maildomein van de deelnemer wordt gecontroleerd op B03") == 1.0


def test_nothing_alike_and_wrong_keyword(steps):
    nothing = stappen.not_found_message("Gegeven", "given", "de maan is van kaas", "", steps)
    assert "Geen bestaande zin lijkt erop." in nothing and "Bedoelde u" not in nothing
    wrong = stappen.not_found_message("En", "then", "het maildomein van de deelnemer wordt gecontroleerd op B03", "",
                                      steps)
    assert "Deze zin bestaat wel als Als-stap" in wrong
    assert "  Als het maildomein van de deelnemer wordt gecontroleerd op <afspraak>" in wrong.splitlines()


FEATURE = """\
# language: nl
Functionaliteit: Proef met stappen
  Scenario: Een verschreven stap
    Als het maildomijn van de deelnemer wordt gekontroleerd op B03
    Dan bestaat _domainkey onder het maildomein

  Scenario: Alleen bestaande stappen
    Gegeven de deelnemer "politie-mn"
"""


def run_pytest(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    """pytest on a feature in tmp_path with the project's conftest.py (and so its
    pytest_plugins, steps/catalogus.py among them) loaded as a plugin."""
    (tmp_path / "proef.feature").write_text(FEATURE, encoding="utf-8")
    (tmp_path / "test_proef.py").write_text('from pytest_bdd import scenarios\n\nscenarios("proef.feature")\n',
                                            encoding="utf-8")
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
                           "--geen-stuurgroeprapport", "-rA", "-q", *options, "test_proef.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_a_misspelt_step_fails_with_the_closest_sentence(tmp_path):
    run = run_pytest(tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "1 failed, 1 passed" in out, out
    failure = out.split("Stap bestaat niet:", 1)[1].split("short test summary", 1)[0]
    assert failure.startswith(" 'Als het maildomijn van de deelnemer wordt gekontroleerd op B03' (proef.feature, "
                              "regel 4, scenario \"Een verschreven stap\")."), out
    assert "Bedoelde u:\n  Als het maildomein van de deelnemer wordt gecontroleerd op <afspraak>\n" in failure, out
    assert "docs/stappen.md" in failure
    # one message, no traceback through pytest-bdd, no English
    assert "Traceback" not in failure and "scenario.py" not in failure and "Step definition is not found" not in out
    # the correct sentences are not reported
    assert "Stap bestaat niet: 'Gegeven de deelnemer" not in out
    assert "Stap bestaat niet: 'Dan bestaat" not in out
    assert "PASSED test_proef.py::test_alleen_bestaande_stappen" in out, out


def test_without_the_catalogue_plugin_pytest_bdd_says_it_in_english(tmp_path):
    """The broken case: the message above comes from steps/catalogus.py."""
    run = run_pytest(tmp_path, "-p", "no:steps.catalogus")
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "Step definition is not found" in out and "Stap bestaat niet" not in out, out


# --- the command ----------------------------------------------------------------------------------


def test_ketentest_stappen_prints_the_catalogue(capsys, tmp_path):
    from ketentest.cli import main

    assert main(["stappen"]) == 0
    assert capsys.readouterr().out == stappen.generate()
    assert main(["stappen", "--onzin"]) == 2
    assert "onbekende optie" in capsys.readouterr().err
    written = stappen.write(tmp_path / "stappen.md")
    assert written.read_text(encoding="utf-8") == stappen.generate()
