"""Real (echt) deelnemers in the reports and the n.v.t. outcome (issue 15, part D):
every deelnemer cell says echt or gesimuleerd; a scenario that needs a switch on a
real deelnemer ends "niet van toepassing" (a skip with a Dutch reason), shows as
n.v.t. and never turns the advice green. No network: a stand-in keten."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from ketentest.afspraken import AFSPRAKEN
from ketentest.config import load_keten
from ketentest.model import Echt
from ketentest.report.html import render
from ketentest.report.matrix import ECHT, GESIMULEERD, KETEN, Advice, CellState, build_matrix, summarize
from ketentest.report.plugin import ReportSession, ScenarioInfo, allure_labels
from ketentest.report.results import NVT_PREFIX, Outcome, OutcomeState, Run, TestRecord
from steps import echt as echt_steps
from steps.echt import NietVanToepassing, controlled, reason_of

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent

FLEVO = "ggd-flevoland"


def hybrid_keten():
    """midden-nederland with GGD Flevoland as a real deelnemer."""
    keten = load_keten("midden-nederland")
    mps = tuple(dataclasses.replace(m, echt=Echt(frozenset({m.adres}))) if m.id == FLEVO else m
                for m in keten.meldpunten)
    return dataclasses.replace(keten, meldpunten=mps)


def record(nodeid, afspraken, deelnemers, uitslag, melding=""):
    return TestRecord(nodeid, "scenario " + nodeid, "functie", afspraken, deelnemers, uitslag, melding=melding)


def run_for(keten, tests, echt=None) -> Run:
    """A run as the plugin builds it: the real deelnemers from the keten (ReportSession)."""
    session = ReportSession(config=None, reports_dir=None, keten=keten)
    return Run(keten.naam, keten.source, "", "2026-12-02T14:00:00+00:00", 1.0, 1,
               tuple((d.id, d.naam) for d in keten.deelnemers), {}, {}, tuple(tests),
               echt=session.echte_ids if echt is None else echt)


def full_pass(keten) -> list[TestRecord]:
    """Every agreement tested and passed: B per deelnemer, V/S for every meldpunt."""
    out = []
    for a in AFSPRAKEN.values():
        who = keten.deelnemers if a.per_deelnemer else keten.meldpunten
        out += [record(f"{a.id}[{d.id}]", (a.id,), (d.id,), Outcome.GESLAAGD) for d in who]
    return out


NVT_REASON = (f"{NVT_PREFIX}GGD Flevoland - Vangnet en Advies is een echte deelnemer; "
              "de ketentest kan zijn schakelaar 'mail.temp_failures' niet zetten")


class Cells(HTMLParser):
    """Matrix cells and column heads of the stuurgroep report: uitslag, soort, text, title."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], dict] = {}
        self.heads: dict[str, str] = {}  # column head text -> data-soort
        self._in: dict | None = None
        self.advice = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "data-afspraak" in a:
            self._in = self.cells[(a["data-afspraak"], a["data-deelnemer"])] = {**a, "text": ""}
        if tag == "th" and "data-soort" in a:
            self._in = {"th": a["data-soort"], "text": ""}
        if "data-advies" in a:
            self.advice = a["data-advies"]

    def handle_data(self, data):
        if self._in is not None:
            self._in["text"] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._in is not None:
            if "th" in self._in:
                self.heads[self._in["text"].strip()] = self._in["th"]
            self._in = None


def parse(html: str) -> Cells:
    p = Cells()
    p.feed(html)
    return p


# --- (a) echt or gesimuleerd, per cell --------------------------------------------------------

def test_every_deelnemer_cell_says_echt_or_gesimuleerd(tmp_path):
    keten = hybrid_keten()
    run = run_for(keten, full_pass(keten))
    assert run.echt == (FLEVO,)

    matrix = build_matrix(run)
    for cell in matrix.cells():
        expected = "" if cell.deelnemer == KETEN else (ECHT if cell.deelnemer == FLEVO else GESIMULEERD)
        assert cell.soort == expected, (cell.agreement, cell.deelnemer)

    page = parse(render(run, None, tmp_path))
    deelnemer_cells = {k: v for k, v in page.cells.items() if k[1] != KETEN}
    assert len(deelnemer_cells) == len(AFSPRAKEN) * len(keten.deelnemers)
    for (afspraak, d), cell in deelnemer_cells.items():
        soort = "echt" if d == FLEVO else "gesimuleerd"
        assert cell["data-soort"] == soort, (afspraak, d)
        assert cell["text"].split()[-1] == ("echt" if d == FLEVO else "gesim."), (afspraak, d, cell["text"])
    assert all("data-soort" not in c for (_, d), c in page.cells.items() if d == KETEN)
    assert page.heads == {f"{d.naam}{'echt' if d.id == FLEVO else 'gesim.'}": ("echt" if d.id == FLEVO else "gesimuleerd")
                          for d in keten.deelnemers}

    html = render(run, None, tmp_path)
    assert "3 gesimuleerd, 1 echt: GGD Flevoland - Vangnet en Advies" in html  # the header
    assert "echte deelnemer (eigen systemen" in html and "gesimuleerd door de ketentest" in html  # the legend
    assert "GGD Flevoland - Vangnet en Advies (echte deelnemer)" in html  # the evidence per cell
    assert Run.from_dict(json.loads(json.dumps(run.to_dict()))) == run  # resultaten.json keeps it


def test_a_fully_simulated_keten_has_no_echt_mark(tmp_path):
    keten = load_keten("midden-nederland")
    run = run_for(keten, full_pass(keten))
    assert run.echt == ()
    page = parse(render(run, None, tmp_path))
    assert {c["data-soort"] for (_, d), c in page.cells.items() if d != KETEN} == {"gesimuleerd"}
    assert summarize(build_matrix(run)).advice is Advice.GO


def test_allure_labels_and_environment_name_the_soort():
    keten = hybrid_keten()
    session = ReportSession(config=None, reports_dir=None, keten=keten)
    info = ScenarioInfo("s", "f", ("S01",), (FLEVO,), "kritiek")
    labels = allure_labels(info, session.naam, session.echt)
    assert ("soort_deelnemer", "GGD Flevoland - Vangnet en Advies: echt") in labels
    assert ("tag", "echte deelnemer") in labels
    other = allure_labels(dataclasses.replace(info, deelnemers=("ggd-regio-utrecht",)), session.naam, session.echt)
    assert ("tag", "gesimuleerde deelnemer") in other and ("tag", "echte deelnemer") not in other


def test_real_sends_are_counted_for_a_keten_with_a_real_deelnemer(monkeypatch, tmp_path):
    from ketentest import echt

    flevo = hybrid_keten().deelnemer(FLEVO)
    monkeypatch.delenv(echt.LEDGER_ENV, raising=False)
    monkeypatch.setattr(echt, "_default", echt.Guard())  # this test's own counter
    session = ReportSession(config=None, reports_dir=None, keten=hybrid_keten())
    assert session.real_sends() == (0, "de testprocessen")
    echt.default_guard().counter.count("pogingen", flevo)
    session.worker_sends = 2  # what xdist workers reported (pytest_testnodedown)
    assert session.real_sends() == (3, "de testprocessen")

    # the shared ledger of every process of the run, when ``ketentest run`` set it: this run's sends only
    ledger = echt.Ledger(tmp_path / "echte-verzendingen.jsonl")
    with ledger.locked():
        ledger.append({"t": session.t_start - 600, "wat": "pogingen", "deelnemer": FLEVO})  # an earlier run
        for _ in range(4):
            ledger.append({"t": session.t_start + 1, "wat": "pogingen", "deelnemer": FLEVO})
    monkeypatch.setenv(echt.LEDGER_ENV, str(ledger.path))
    assert session.real_sends() == (4, "alle processen van de run")

    simulated = ReportSession(config=None, reports_dir=None, keten=load_keten("midden-nederland"))
    assert simulated.real_sends() == (None, "")  # nothing real: nothing to count
    keten = hybrid_keten()
    run = dataclasses.replace(run_for(keten, full_pass(keten)), echte_verzendingen=4,
                              verzendingen_geteld_door="alle processen van de run")
    assert ("4 bericht(en) aan echte deelnemers verstuurd (geteld: alle processen van de run)"
            in render(run, None, tmp_path))
    assert Run.from_dict(json.loads(json.dumps(run.to_dict()))) == run


# --- (b) n.v.t. is never geslaagd, and never turns the advice green -----------------------------

def test_a_nvt_result_renders_as_nvt_with_its_reason_and_keeps_the_advice_from_go(tmp_path):
    keten = hybrid_keten()
    tests = [record(t.nodeid, t.afspraken, t.deelnemers, Outcome.NVT, NVT_REASON[0].upper() + NVT_REASON[1:])
             if t.nodeid == f"S01[{FLEVO}]" else t for t in full_pass(keten)]
    run = run_for(keten, tests)
    matrix = build_matrix(run)

    cell = matrix.cell("S01", FLEVO)
    assert cell.state is CellState.NVT_ECHT and cell.state.dutch == "n.v.t." and "schakelaar" in cell.reason
    keten_cell = matrix.cell("S01", KETEN)
    assert keten_cell.state is CellState.NIET_GETEST and "n.v.t. bij echte deelnemer GGD Flevoland" in keten_cell.reason
    summary = summarize(matrix)
    assert summary.advice is Advice.ONVOLLEDIG and "S01" in summary.niet_getest and summary.nvt_echt == ("S01",)
    assert "daar niet getest" in summary.reason

    html = render(run, None, tmp_path)
    page = parse(html)
    assert page.cells[("S01", FLEVO)]["data-uitslag"] == "nvt-echt"
    assert "n.v.t." in page.cells[("S01", FLEVO)]["text"] and "geslaagd" not in page.cells[("S01", FLEVO)]["text"]
    assert "zijn schakelaar" in page.cells[("S01", FLEVO)]["title"]
    assert page.cells[("S01", KETEN)]["data-uitslag"] == "niet-getest"
    assert page.advice == "onvolledig"
    article = re.search(r'<article class="test" data-nodeid="S01\[ggd-flevoland\]".*?</article>', html, re.S).group(0)
    assert 'data-uitslag="nvt"' in article and "n.v.t." in article and "Niet van toepassing: GGD Flevoland" in article
    assert "geslaagd" not in article

    # control: the same run with that test passed is GO
    assert summarize(build_matrix(run_for(keten, full_pass(keten)))).advice is Advice.GO


def test_an_agreement_with_only_nvt_results_is_not_tested():
    keten = hybrid_keten()
    tests = [t for t in full_pass(keten) if "S08" not in t.afspraken]
    tests.append(record("S08[flevo]", ("S08",), (FLEVO,), Outcome.NVT, NVT_REASON))
    summary = summarize(build_matrix(run_for(keten, tests)))
    assert summary.advice is Advice.ONVOLLEDIG and summary.niet_getest == ("S08",) and summary.gehaald.count("S08") == 0


def test_a_nvt_skip_becomes_the_nvt_outcome_and_a_plain_skip_stays_overgeslagen():
    s = OutcomeState()
    s.add_phase("setup", "passed", None, None, 0)
    s.add_phase("call", "skipped", None, ("f", 1, f"Skipped: {NVT_REASON}"), 0)
    s.add_phase("teardown", "passed", None, None, 0)
    assert s.final() == (Outcome.NVT, NVT_REASON[0].upper() + NVT_REASON[1:])
    assert Outcome.NVT.dutch == "n.v.t."
    s = OutcomeState()
    s.add_phase("call", "skipped", None, ("f", 1, "Skipped: geen Chromium"), 0)
    assert s.final()[0] is Outcome.OVERGESLAGEN


# --- (c) the step mechanism ----------------------------------------------------------------------

class StandIn:
    """Just enough of KetenSimulatie: the keten, and party control that records what it is asked."""

    def __init__(self, keten) -> None:
        self.keten = keten
        self.posts: list[tuple[str, str, dict]] = []
        self.internet = None

    def party(self, ident: str):
        sim = self

        class Party:
            def post(self, path, body=None):
                sim.posts.append((ident, path, body))
                return {}

            def get(self, path, **kw):
                return {"registraties": 0, "berichten": []} if path.startswith("/meldingen/") else []

        return Party()

    meldpunt = party


def test_a_switch_on_a_real_deelnemer_is_nvt_and_on_a_simulated_one_is_set():
    from steps.storingen import backoffice_gepauzeerd, tijdelijke_fouten

    keten = hybrid_keten()
    sim = StandIn(keten)
    with pytest.raises(NietVanToepassing) as caught:
        tijdelijke_fouten(sim, keten.deelnemer(FLEVO), 3)
    assert caught.value.reason == NVT_REASON
    assert isinstance(caught.value, pytest.skip.Exception)  # pytest itself calls it a skip
    with pytest.raises(NietVanToepassing, match="zijn schakelaar 'verwerking_pauzeren' niet zetten"):
        backoffice_gepauzeerd(sim, keten.deelnemer(FLEVO))
    assert sim.posts == []  # nothing reached the real deelnemer

    tijdelijke_fouten(sim, keten.deelnemer("ggd-regio-utrecht"), 3)  # control: simulated
    assert sim.posts == [("ggd-regio-utrecht", "/schakelaars", {"mail": {"temp_failures": 3}})]


def test_reading_inside_or_reconfiguring_a_real_deelnemer_is_nvt():
    from steps.grensgevallen import _only_simulated
    from steps.storingen import Poging, niet_geregistreerd

    keten = hybrid_keten()
    sim = StandIn(keten)
    flevo = keten.deelnemer(FLEVO)
    with pytest.raises(NietVanToepassing, match="niet in zijn administratie kijken"):
        niet_geregistreerd(sim, flevo, Poging("K-1", None))
    with pytest.raises(NietVanToepassing, match="zijn instelling 'maildomein.spf' niet wijzigen"):
        _only_simulated(keten, FLEVO, "maildomein.spf")
    with pytest.raises(NietVanToepassing, match="zijn schakelaar 'mail.perm_failure' niet zetten"):
        _only_simulated(keten, FLEVO, "schakelaar.mail.perm_failure")
    _only_simulated(keten, FLEVO, "keten.aannames.max_pdf_mb")  # keten-wide: not the party's
    _only_simulated(keten, "ggd-regio-utrecht", "schakelaar.mail.perm_failure")  # control: simulated
    niet_geregistreerd(sim, keten.deelnemer("ggd-regio-utrecht"), Poging("K-1", None))
    controlled(sim, "politie", action="niet in zijn postkantoor kijken")  # control: the simulated police
    real_police = dataclasses.replace(keten.politie, echt=Echt(frozenset({keten.politie.adres})))
    with pytest.raises(NietVanToepassing, match="Politie Eenheid Midden-Nederland is een echte deelnemer; de "
                                                "ketentest kan niet in zijn postkantoor kijken"):
        controlled(StandIn(dataclasses.replace(keten, politie=real_police)), "politie",
                   action="niet in zijn postkantoor kijken")


def test_the_simulators_refusal_is_recognised_by_class_or_name():
    class EchteDeelnemer(RuntimeError):
        pass

    assert reason_of(EchteDeelnemer("GGD X is een echte deelnemer")) == f"{NVT_PREFIX}GGD X is een echte deelnemer"
    assert reason_of(NietVanToepassing("X")) == f"{NVT_PREFIX}X"
    assert reason_of(RuntimeError("kapot")) is None and reason_of(None) is None
    from simulators.keten import EchteDeelnemer as Refusal  # the simulators' own, naming the deelnemer

    assert echt_steps.EchteDeelnemer is Refusal
    assert reason_of(Refusal(hybrid_keten().deelnemer(FLEVO))) == (
        f"{NVT_PREFIX}GGD Flevoland - Vangnet en Advies is een echte deelnemer; de ketentest kan hem niet besturen: "
        "er draait geen simulator voor (geen besturings-API, schakelaar of klok)")


INNER_FEATURE = """\
# language: nl
Functionaliteit: Echte deelnemers in de keten

  @S01 @normaal
  Abstract Scenario: Een tijdelijke fout bij het meldpunt
    Gegeven een nagebootste keten
    En het meldpunt "<deelnemer>"
    En het meldpunt antwoordt de eerste 3 keer met een tijdelijke fout (4xx)
    Dan staat de schakelaar bij het meldpunt

    Voorbeelden:
      | deelnemer         |
      | ggd-flevoland     |
      | ggd-regio-utrecht |

  @S08 @normaal @deelnemer_ggd-flevoland
  Scenario: Een stap die vergat te vragen
    Gegeven een nagebootste keten
    En het meldpunt "ggd-flevoland"
    Als de simulator van het meldpunt wordt gevraagd
    Dan staat de schakelaar bij het meldpunt
"""

INNER_CONFTEST = '''\
import pytest
from pytest_bdd import given, parsers, then, when

from ketentest.afspraken import AFSPRAKEN
from ketentest.config import load_keten


class EchteDeelnemer(RuntimeError):
    """Stand-in for the simulators' refusal to reach a real deelnemer (known by its name)."""


class StandIn:
    def __init__(self, keten):
        self.keten, self.posts = keten, []

    def party(self, ident):
        sim = self

        class Party:
            def post(self, path, body=None):
                sim.posts.append((ident, path, body))

        return Party()

    def meldpunt(self, ident):
        d = self.keten.deelnemer(ident)
        if d.echt is not None:
            raise EchteDeelnemer(f"{d.naam} is een echte deelnemer; er draait geen simulator voor")
        return self.party(d.id)


def pytest_addoption(parser):
    parser.addoption("--keten")


def pytest_configure(config):
    for a in AFSPRAKEN.values():
        config.addinivalue_line("markers", f"{a.id}: afspraak")
    config.addinivalue_line("markers", "normaal: ernst")


@given("een nagebootste keten", target_fixture="sim")
def sim(request):
    return StandIn(load_keten(request.config.getoption("--keten")))


@given(parsers.parse('het meldpunt "{ident}"'), target_fixture="deelnemer")
def meldpunt(sim, ident):
    return sim.keten.deelnemer(ident)


@when("de simulator van het meldpunt wordt gevraagd")
def vraag(sim, deelnemer):
    sim.meldpunt(deelnemer.id).post("/schakelaars", {"iets": True})


@then("staat de schakelaar bij het meldpunt")
def staat(sim, deelnemer):
    assert sim.posts, "geen schakelaar gezet"
    from ketentest.echt import default_guard

    default_guard().counter.count("pogingen", sim.keten.deelnemer("ggd-flevoland"))  # as if one mail went out
'''


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serieel", "xdist"])
def test_the_pytest_mapping_turns_nvt_into_a_skip_with_the_dutch_reason(pytester, monkeypatch, workers):
    """An inner pytest run with the real step (steps/storingen.py) and the real hook (steps/echt.py);
    also under xdist, where the workers' counts of real sends reach the report."""
    from ketentest.echt import LEDGER_ENV

    monkeypatch.delenv(LEDGER_ENV, raising=False)
    data = _builtin_yaml()
    for m in data["meldpunten"]:
        if m["id"] == FLEVO:
            m["echt"] = {"toegestane_adressen": [m["adres"]]}
    (pytester.path / "keten.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makefile(".feature", echt=INNER_FEATURE)
    pytester.makepyfile(test_echt="from pytest_bdd import scenarios\n\nscenarios('echt.feature')\n")

    result = pytester.runpytest_subprocess("-p", "steps.echt", "-p", "steps.storingen", "-p", "ketentest.report.plugin",
                                           "-p", "no:cacheprovider", "-rs", "--keten", "keten.yaml", *workers)
    result.assert_outcomes(passed=1, skipped=2)
    out = result.stdout.str()
    assert ("niet van toepassing: GGD Flevoland - Vangnet en Advies is een echte deelnemer; de ketentest kan zijn "
            "schakelaar 'mail.temp_failures' niet zetten") in out
    assert "niet van toepassing: GGD Flevoland - Vangnet en Advies is een echte deelnemer; er draait geen simulator" in out

    tests = {t["nodeid"].split("::")[-1]: t for t in
             json.loads((pytester.path / "reports" / "resultaten.json").read_text())["tests"]}
    nvt = [t for t in tests.values() if t["uitslag"] == "nvt"]
    assert len(nvt) == 2 and all(t["melding"].startswith("Niet van toepassing: GGD Flevoland") for t in nvt)
    assert [t["uitslag"] for t in tests.values() if t["deelnemers"] == ["ggd-regio-utrecht"]] == ["geslaagd"]
    step = next(t for t in nvt if t["afspraken"] == ["S01"])["stappen"]
    assert [s["uitslag"] for s in step] == ["geslaagd", "geslaagd", "n.v.t.", "niet uitgevoerd"]
    data = json.loads((pytester.path / "reports" / "resultaten.json").read_text())
    assert {d["id"]: d["echt"] for d in data["deelnemers"]}[FLEVO] is True
    assert (data["echte_verzendingen"], data["verzendingen_geteld_door"]) == (1, "de testprocessen")

    page = parse((pytester.path / "reports" / "stuurgroep.html").read_text())
    assert page.cells[("S01", FLEVO)]["data-uitslag"] == "nvt-echt"
    assert page.cells[("S01", FLEVO)]["data-soort"] == "echt"
    assert page.cells[("S01", "ggd-regio-utrecht")] | {"text": ""} == page.cells[("S01", "ggd-regio-utrecht")] | {
        "text": "", "data-uitslag": "geslaagd", "data-soort": "gesimuleerd"}
    assert page.cells[("S08", FLEVO)]["data-uitslag"] == "nvt-echt"
    assert page.advice != "go"


def _builtin_yaml() -> dict:
    from importlib import resources

    return yaml.safe_load(resources.files("ketentest.data").joinpath("ketens", "midden-nederland.yaml").read_text())


def test_a_nvt_scenario_is_not_failed_for_checks_it_did_not_get_to_judge():
    """pytest-bdd's after-scenario hook runs in a ``finally``: with a n.v.t. in flight it must not raise."""
    from types import SimpleNamespace

    from ketentest.verdict import CheckResult, SubtestResult, Uitslag
    from steps import regels

    request = SimpleNamespace(node=SimpleNamespace(stash=pytest.Stash()))
    regels.volg(request, CheckResult("B04", "ggdflevoland.test",
                                     (SubtestResult("b04.p", "B04", Uitslag.GEFAALD, "p=none"),)))
    with pytest.raises(AssertionError, match="beoordeelt niet alles"):  # control: an ordinary end
        regels.pytest_bdd_after_scenario(request, None, None)
    with pytest.raises(NietVanToepassing):
        try:
            raise NietVanToepassing(NVT_REASON)
        finally:
            regels.pytest_bdd_after_scenario(request, None, None)


# --- the real features on a hybrid keten --------------------------------------------------------

def test_real_features_with_a_real_meldpunt_make_its_switch_scenario_nvt(pytester, internet_lab, tmp_path):
    """S02 ("het meldpunt weigert alle mail met een permanente fout") on midden-nederland with GGD
    Flevoland echt: n.v.t. for Flevoland, passed for the simulated meldpunten; never GO."""
    data = _builtin_yaml()
    for m in data["meldpunten"]:
        if m["id"] == FLEVO:
            m["echt"] = {"toegestane_adressen": [m["adres"]]}
    keten = tmp_path / "hybride.yaml"
    keten.write_text(yaml.safe_dump(data, allow_unicode=True))
    internet_lab.stop()  # the inner run needs the keten's addresses
    result = pytester.runpytest_subprocess(
        str(ROOT / "features"), "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), "-p", "no:cacheprovider",
        "-m", "S02", "--keten", str(keten), "--alluredir", "allure", "-rs")
    result.assert_outcomes(passed=2, skipped=1)
    assert ("niet van toepassing: GGD Flevoland - Vangnet en Advies is een echte deelnemer; de ketentest kan zijn "
            "schakelaar 'mail.perm_failure' niet zetten") in result.stdout.str()

    page = parse((pytester.path / "reports" / "stuurgroep.html").read_text())
    assert page.cells[("S02", FLEVO)]["data-uitslag"] == "nvt-echt" and page.cells[("S02", FLEVO)]["data-soort"] == "echt"
    assert {page.cells[("S02", d)]["data-uitslag"] for d in ("ggd-regio-utrecht", "meldpunt-gooi-vechtstreek")} == {
        "geslaagd"}
    assert page.cells[("S02", KETEN)]["data-uitslag"] == "niet-getest" and page.advice != "go"
    data = json.loads((pytester.path / "reports" / "resultaten.json").read_text())
    assert data["echte_verzendingen"] == 0  # counted: nothing went to the real meldpunt (its scenario was n.v.t.)
    flevo = find(allure_results(pytester.path / "allure"),
                 "Een meldpunt dat 5xx antwoordt maakt de melding onbestelbaar en de agent weet het", FLEVO)
    assert flevo["status"] == "skipped" and "niet van toepassing" in flevo["statusDetails"]["message"]
    assert "echte deelnemer" in labels(flevo)["tag"]


def allure_results(directory) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*-result.json"))]


def labels(result: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label in result["labels"]:
        out.setdefault(label["name"], []).append(label["value"])
    return out


def find(results: list[dict], name: str, deelnemer: str) -> dict:
    for r in results:
        params = {p["name"]: p["value"] for p in r.get("parameters", [])}
        if r["name"] == name and params.get("deelnemer_id") == repr(deelnemer):
            return r
    raise AssertionError(f"geen Allure-resultaat voor {name} {deelnemer}")
