"""The report plugin, tested by running it: a small synthetic feature (no
simulated internet) in pytester's folder, and once the real features on a
broken keten. Checks the Allure results (labels, attachments, extra files),
resultaten.json, and the stuurgroep report cell by cell against the run."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent

FEATURE = """\
# language: nl
Functionaliteit: Synthetische keten
  Een kleine keten zonder netwerk, om de rapportage te toetsen.

  @B04 @per_deelnemer @kritiek
  Scenario: DMARC staat op reject
    Gegeven een deelnemer van de keten
    Als de controle op B04 wordt uitgevoerd
    Dan voldoet de deelnemer aan de afspraak

  @B02 @per_deelnemer @hoog
  Scenario: SPF eindigt op -all
    Gegeven een deelnemer van de keten
    Als de controle op B02 wordt uitgevoerd
    Dan voldoet de deelnemer aan de afspraak

  @V04 @deelnemer_ggd-flevoland @normaal
  Scenario: De PDF komt heel aan bij Flevoland
    Als een melding wordt verstuurd
    Dan is de PDF gelijk aan het formulier

  @V02 @kritiek
  Scenario: Zonder veilige route wordt niets verstuurd
    Als de testomgeving niet opstart
    Dan wordt er niets verstuurd
"""

CONFTEST = '''\
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from ketentest.afspraken import AFSPRAKEN
from ketentest.config import load_keten
from ketentest.errors import InfrastructureError
from ketentest.report.evidence import Evidence, adapter, attach
from ketentest.verdict import CheckResult, SubtestResult, Uitslag

KETEN = load_keten(None)
PLAN = Path(__file__).parent / "plan.json"  # {"B04": {"ggd-flevoland": "gefaald"}}; default geslaagd


def pytest_configure(config):
    for a in AFSPRAKEN.values():
        config.addinivalue_line("markers", f"{a.id}: afspraak")
    for m in ("kritiek", "hoog", "normaal", "per_deelnemer"):
        config.addinivalue_line("markers", f"{m}: ernst of soort")


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("per_deelnemer") is None:
        return
    if "deelnemer_id" not in metafunc.fixturenames:
        metafunc.fixturenames.append("deelnemer_id")
    ids = [d.id for d in KETEN.deelnemers]
    metafunc.parametrize("deelnemer_id", ids, ids=ids)


@dataclass(frozen=True)
class Verzending:
    eml: bytes
    pdf: bytes
    transcript: str


@adapter(Verzending)
def _verzending(v):
    yield Evidence.of("Verzonden bericht", v.eml, "eml")
    yield Evidence.of("Meldformulier", v.pdf, "pdf")
    yield Evidence.of("SMTP-gesprek", v.transcript, "smtp-transcript")


@pytest.fixture(autouse=True)
def simulator(request):
    if request.node.get_closest_marker("V04"):  # evidence during setup, before the scenario starts
        attach("Simulator gestart", "meldpunt ggd-flevoland luistert", "text")


@pytest.fixture
def postkantoor():
    attach("Postkantoor gestart", "wachtrij leeg", "text")  # a simulator, during setup
    return "postkantoor"


@given("een deelnemer van de keten", target_fixture="deelnemer")
def deelnemer(deelnemer_id):
    return KETEN.deelnemer(deelnemer_id)


@when(parsers.parse("de controle op {afspraak} wordt uitgevoerd"), target_fixture="controle")
def controle(deelnemer, afspraak):
    plan = json.loads(PLAN.read_text()) if PLAN.exists() else {}
    verdict = Uitslag(plan.get(afspraak, {}).get(deelnemer.id, "geslaagd"))
    sub = SubtestResult(f"{afspraak.lower()}.record", afspraak, verdict, f"uitleg {afspraak} {verdict.value}")
    return CheckResult(afspraak, deelnemer.domain.name, (sub,))


@then("voldoet de deelnemer aan de afspraak")
def voldoet(controle, deelnemer):
    a = AFSPRAKEN[controle.agreement]
    assert controle.verdict.ok, f"{a.id} {a.titel} — {deelnemer.naam}: {controle.verdict.dutch}"


@when("een melding wordt verstuurd", target_fixture="verzending")
def verstuur(postkantoor):
    return Verzending(b"Subject: Melding K-1\\r\\n\\r\\nZie bijlage.\\r\\n", b"%PDF-1.7\\n%%EOF\\n",
                      "220 mx.ggdflevoland.test ESMTP\\nEHLO politie.test\\n250-STARTTLS")


@then("is de PDF gelijk aan het formulier")
def pdf_gelijk(verzending):
    assert verzending.pdf.startswith(b"%PDF")


@when("de testomgeving niet opstart")
def niet_op():
    raise InfrastructureError("adres 127.53.0.1:53 is al in gebruik", "stop het andere proces")


@then("wordt er niets verstuurd")
def niets():
    pass
'''

# scenario test function -> agreement, for reading junit.xml
SCENARIO_AGREEMENT = {
    "test_dmarc_staat_op_reject": "B04",
    "test_spf_eindigt_op_all": "B02",
    "test_de_pdf_komt_heel_aan_bij_flevoland": "V04",
    "test_zonder_veilige_route_wordt_niets_verstuurd": "V02",
}
DEELNEMERS = ("politie-mn", "ggd-regio-utrecht", "ggd-flevoland", "meldpunt-gooi-vechtstreek")


@pytest.fixture
def synthetic(pytester):
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".feature", synthetisch=FEATURE)
    pytester.makepyfile(test_synthetisch="from pytest_bdd import scenarios\n\nscenarios('synthetisch.feature')\n")
    return pytester


def run_synthetic(pytester, plan: dict | None = None):
    (pytester.path / "plan.json").write_text(json.dumps(plan or {}))
    return pytester.runpytest_subprocess(
        "-p", "ketentest.report.plugin", "-p", "no:cacheprovider", "--alluredir", "allure", "--clean-alluredir",
        "--junitxml", "reports/junit.xml", "-o", "junit_family=xunit2",
    )


# --- reading what the run wrote -------------------------------------------------------

class CellParser(HTMLParser):
    """Matrix cells (data-afspraak/-deelnemer/-uitslag), change items and test blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.changes: dict[str, list[str]] = {}
        self.tags: set[str] = set()
        self.urls: list[str] = []
        self.advice = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(a[key])
        if tag == "td" and "data-afspraak" in a:
            self.cells[(a["data-afspraak"], a["data-deelnemer"])] = a["data-uitslag"]
        if "data-verandering" in a:
            self.changes.setdefault(a["data-verandering"], []).append(a.get("data-nodeid", ""))
        if "data-advies" in a:
            self.advice = a["data-advies"]


def parse_report(html: str) -> CellParser:
    p = CellParser()
    p.feed(html)
    return p


def junit_outcomes(path: Path) -> dict[tuple[str, str], str]:
    """(agreement, deelnemer or keten) -> pytest's outcome per test case, from junit.xml."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        m = re.fullmatch(r"(test_\w+?)(?:\[(.+)\])?", case.get("name"))
        func, param = m.group(1), m.group(2)
        agreement = SCENARIO_AGREEMENT[func]
        status = "passed"
        for kind in ("failure", "error", "skipped"):
            if case.find(kind) is not None:
                status = kind
        who = param or ("ggd-flevoland" if agreement == "V04" else "keten")
        out[(agreement, who)] = status
    return out


def allure_results(directory: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*-result.json"))]


def labels(result: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label in result["labels"]:
        out.setdefault(label["name"], []).append(label["value"])
    return out


def find(results: list[dict], name: str, deelnemer: str | None = None) -> dict:
    for r in results:
        params = {p["name"]: p["value"] for p in r.get("parameters", [])}
        if r["name"] == name and (deelnemer is None or params.get("deelnemer_id") == repr(deelnemer)):
            return r
    raise AssertionError(f"geen Allure-resultaat voor {name} {deelnemer}")


def attachments(result: dict) -> list[dict]:
    found = list(result.get("attachments", []))
    for step in result.get("steps", []):
        found += step.get("attachments", [])
    return found


# --- tests ----------------------------------------------------------------------------

def test_allure_results_carry_labels_attachments_and_extra_files(synthetic):
    result = run_synthetic(synthetic, {"B04": {"ggd-flevoland": "gefaald"}})
    result.assert_outcomes(passed=8, failed=2)  # B04 Flevoland fails; V02 errors in a step (a failure to pytest)
    allure = synthetic.path / "allure"
    results = allure_results(allure)

    dmarc = labels(find(results, "DMARC staat op reject", "ggd-flevoland"))
    assert dmarc["epic"] == ["Beveiligingsniveau e-maildomeinen"]
    assert dmarc["story"] == ["B04 DMARC"]
    assert dmarc["severity"] == ["critical"]
    assert dmarc["owner"] == ["GGD Flevoland - Vangnet en Advies"]
    assert "ggd-flevoland" in dmarc["tag"]
    assert dmarc["parentSuite"] == ["Beveiligingsniveau e-maildomeinen"] and dmarc["suite"] == ["B04 DMARC"]
    assert labels(find(results, "SPF eindigt op -all", "politie-mn"))["severity"] == ["normal"]  # @hoog

    pdf = find(results, "De PDF komt heel aan bij Flevoland")
    pdf_labels = labels(pdf)
    assert pdf_labels["epic"] == ["Verzenden en ontvangen"] and pdf_labels["story"] == ["V04 Inhoud"]
    assert pdf_labels["severity"] == ["minor"]  # @normaal
    assert pdf_labels["owner"] == ["GGD Flevoland - Vangnet en Advies"]  # from @deelnemer_ggd-flevoland
    # typed results become attachments inside the step that produced them; setup evidence on the test
    step = next(s for s in pdf["steps"] if s["name"].startswith("Als een melding"))
    kinds = {a["name"]: a["type"] for a in step["attachments"]}
    assert kinds == {"Postkantoor gestart": "text/plain",  # a fixture the step pulled in
                     "Verzonden bericht": "message/rfc822", "Meldformulier": "application/pdf",
                     "SMTP-gesprek": "text/plain"}
    assert [a["name"] for a in pdf["attachments"]] == ["Simulator gestart"]  # from setup, on the test itself
    for a in attachments(pdf):
        assert (allure / a["source"]).is_file()
    assert (allure / next(a for a in step["attachments"] if a["name"] == "Meldformulier")["source"]).read_bytes() \
        .startswith(b"%PDF")
    check = find(results, "DMARC staat op reject", "ggd-flevoland")
    assert any(a["name"].startswith("Controle B04 ggdflevoland.test") and a["type"] == "application/json"
               for a in attachments(check))

    # an assertion is a ketendefect (failed); an InfrastructureError is broken -> its own category
    assert check["status"] == "failed"
    infra = find(results, "Zonder veilige route wordt niets verstuurd")
    assert infra["status"] == "broken" and "InfrastructureError" in infra["statusDetails"]["message"]
    categories = json.loads((allure / "categories.json").read_text())
    names = [c["name"] for c in categories]
    assert names[0].startswith("Ketendefect") and categories[0]["matchedStatuses"] == ["failed"]
    assert re.fullmatch(categories[1]["messageRegex"], infra["statusDetails"]["message"])
    assert categories[1]["name"].startswith("Infrastructuurprobleem")
    assert categories[2]["matchedStatuses"] == ["broken"] and "messageRegex" not in categories[2]

    env = (allure / "environment.properties").read_text()
    assert "Keten=midden-nederland" in env and "Ketenbron=ingebouwd\\:midden-nederland" in env
    for key in ("Python=", "Unbound=", "OpenSSL\\ (Python)=", "Zaad=",
                "Aanname\\:\\ Maximale\\ grootte\\ PDF=10 MB", "Aanname\\:\\ Terugkoppeling\\ binnen=5 werkdagen"):
        assert key in env, key
    executor = json.loads((allure / "executor.json").read_text())
    assert executor["name"] == "ketentest" and "midden-nederland" in executor["reportName"]


def test_resultaten_json_records_outcome_message_and_evidence(synthetic):
    run_synthetic(synthetic, {"B04": {"ggd-flevoland": "gefaald"}, "B02": {"politie-mn": "waarschuwing"}})
    data = json.loads((synthetic.path / "reports" / "resultaten.json").read_text())
    assert data["keten"] == "midden-nederland" and data["aannames"]["Maximale grootte PDF"] == "10 MB"
    tests = {(t["afspraken"][0], tuple(t["deelnemers"])): t for t in data["tests"]}

    failed = tests[("B04", ("ggd-flevoland",))]
    assert failed["uitslag"] == "gefaald" and failed["soort_fout"] == "ketendefect"
    assert failed["melding"] == "B04 DMARC — GGD Flevoland - Vangnet en Advies: gefaald"  # no "assert ..." lines
    warned = tests[("B02", ("politie-mn",))]
    assert warned["uitslag"] == "waarschuwing" and "uitleg B02 waarschuwing" in warned["melding"]
    assert tests[("B02", ("ggd-flevoland",))]["uitslag"] == "geslaagd"
    infra = tests[("V02", ())]
    assert infra["uitslag"] == "fout" and infra["soort_fout"] == "infrastructuur"
    assert infra["melding"].startswith("Infrastructuurprobleem: adres 127.53.0.1:53 is al in gebruik")
    sent = tests[("V04", ("ggd-flevoland",))]
    assert [(e["naam"], e["soort"]) for e in sent["bewijs"]] == [
        ("Simulator gestart", "text"), ("Postkantoor gestart", "text"), ("Verzonden bericht", "eml"), ("Meldformulier", "pdf"),
        ("SMTP-gesprek", "smtp-transcript")]
    assert sent["bewijs"][0]["stap"] == "" and sent["bewijs"][2]["stap"] == "Als een melding wordt verstuurd"
    for e in sent["bewijs"]:
        assert (synthetic.path / "reports" / e["bestand"]).stat().st_size == e["grootte"]


def test_the_steps_are_recorded_as_the_feature_reads_them_with_their_evidence(synthetic):
    run_synthetic(synthetic, {"B04": {"ggd-flevoland": "gefaald"}})
    reports = synthetic.path / "reports"
    tests = {(t["afspraken"][0], tuple(t["deelnemers"])): t
             for t in json.loads((reports / "resultaten.json").read_text())["tests"]}
    steps = lambda t: [(s["tekst"], s["uitslag"]) for s in t["stappen"]]  # noqa: E731
    assert steps(tests[("B04", ("ggd-flevoland",))]) == [
        ("Gegeven een deelnemer van de keten", "geslaagd"), ("Als de controle op B04 wordt uitgevoerd", "geslaagd"),
        ("Dan voldoet de deelnemer aan de afspraak", "gefaald")]
    assert steps(tests[("V02", ())]) == [("Als de testomgeving niet opstart", "gefaald"),
                                          ("Dan wordt er niets verstuurd", "niet uitgevoerd")]
    # in the stuurgroep report the evidence sits under the step that recorded it
    html = (reports / "stuurgroep.html").read_text()
    sent = re.search(r'<li class="stap" data-uitslag="geslaagd">.{0,80}Als een melding wordt verstuurd'
                     r'<ul class="bewijsstukken">(.*?)</ul></li>', html, re.S)
    assert sent and "Verzonden bericht" in sent.group(1) and "SMTP-gesprek" in sent.group(1), html[:3000]
    assert "bij stap" not in sent.group(1)  # nested: the step need not be named again


def test_report_cells_match_the_run_and_show_the_dutch_message(synthetic):
    run_synthetic(synthetic, {"B04": {"ggd-flevoland": "gefaald"}, "B02": {"politie-mn": "waarschuwing"}})
    reports = synthetic.path / "reports"
    html = (reports / "stuurgroep.html").read_text()
    report = parse_report(html)

    # every test case in junit.xml has its verdict in the matrix cell it concerns
    outcome_to_cell = {"passed": "geslaagd", "failure": "gefaald", "error": "niet-getest", "skipped": "niet-getest"}
    junit = junit_outcomes(reports / "junit.xml")
    results = {(t["afspraken"][0], (t["deelnemers"] or ["keten"])[0]): t["uitslag"]
               for t in json.loads((reports / "resultaten.json").read_text())["tests"]}
    for key, status in junit.items():
        expected = outcome_to_cell[status]
        if results[key] == "fout":  # pytest calls an error in a step a failure; the report says: no verdict
            expected = "niet-getest"
        if results[key] == "waarschuwing":
            expected = "waarschuwing"
        assert report.cells[key] == expected, key
    assert len(junit) == 10

    # the cells the stuurgroep reads, spelled out
    assert report.cells[("B04", "ggd-flevoland")] == "gefaald"
    assert report.cells[("B04", "keten")] == "gefaald"
    assert report.cells[("B02", "politie-mn")] == "waarschuwing"
    assert report.cells[("B02", "keten")] == "waarschuwing"
    assert report.cells[("V04", "ggd-flevoland")] == "geslaagd"
    assert report.cells[("V04", "politie-mn")] == "nvt"  # not per deelnemer, scenario does not concern it
    assert report.cells[("V04", "keten")] == "geslaagd"
    assert report.cells[("V02", "keten")] == "niet-getest"  # the harness broke: no verdict
    assert report.cells[("B05", "ggd-flevoland")] == "niet-getest"  # no scenario yet
    assert report.cells[("S01", "keten")] == "niet-getest"
    assert len(report.cells) == 23 * 5
    assert report.advice == "no-go"

    # the failing scenario's Dutch message, in the findings and in its evidence block
    assert "B04 DMARC — GGD Flevoland - Vangnet en Advies: gefaald" in html
    block = html[html.index('id="bewijs-B04-ggd-flevoland"'):]
    block = block[:block.index("</div>")]
    assert 'data-uitslag="gefaald"' in block and "B04 DMARC — GGD Flevoland - Vangnet en Advies: gefaald" in block
    assert "assert " not in html
    assert "Infrastructuurprobleem: adres 127.53.0.1:53 is al in gebruik" in html
    # cells link to their evidence
    assert 'href="#bewijs-B04-ggd-flevoland"' in html and 'href="#afspraak-B04"' in html

    # self-contained: no scripts, no external resources
    assert "script" not in report.tags and "link" not in report.tags and "img" not in report.tags
    assert all(u.startswith(("#", "data:")) for u in report.urls), report.urls
    assert "url(" not in html and "@import" not in html


def test_what_changed_lists_a_new_failure_then_its_fix(synthetic):
    reports = synthetic.path / "reports"
    run_synthetic(synthetic)
    first = parse_report((reports / "stuurgroep.html").read_text())
    assert first.changes == {}  # no previous run
    assert not (reports / "vorige-resultaten.json").exists()

    run_synthetic(synthetic, {"B04": {"ggd-flevoland": "gefaald"}})
    second = parse_report((reports / "stuurgroep.html").read_text())
    assert second.changes["nieuw-gefaald"] == ["test_synthetisch.py::test_dmarc_staat_op_reject[ggd-flevoland]"]
    assert "opgelost" not in second.changes
    previous = json.loads((reports / "vorige-resultaten.json").read_text())
    assert all(t["uitslag"] != "gefaald" for t in previous["tests"])

    run_synthetic(synthetic)
    third = parse_report((reports / "stuurgroep.html").read_text())
    assert third.changes["opgelost"] == ["test_synthetisch.py::test_dmarc_staat_op_reject[ggd-flevoland]"]
    assert "nieuw-gefaald" not in third.changes


def test_no_report_for_a_run_without_scenarios(pytester):
    pytester.makepyfile(test_eenheid="def test_x():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "ketentest.report.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()


# --- the real features -----------------------------------------------------------------

def test_real_features_on_a_broken_keten_fail_in_the_right_cell(pytester, internet_lab, tmp_path):
    from importlib import resources

    data = yaml.safe_load(resources.files("ketentest.data").joinpath("ketens", "midden-nederland.yaml").read_text())
    data["meldpunten"][1]["maildomein"]["dnssec"] = False  # GGD Flevoland unsigned
    keten = tmp_path / "kapot.yaml"
    keten.write_text(yaml.safe_dump(data, allow_unicode=True))
    internet_lab.stop()  # the inner run needs the keten's addresses
    result = pytester.runpytest_subprocess(
        str(ROOT / "features"), "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), "-p", "no:cacheprovider",
        "-p", "ketentest.report.plugin", "-m", "B01 and dns", "--keten", str(keten), "--alluredir", "allure",
    )
    result.assert_outcomes(passed=3, failed=1)
    report = parse_report((pytester.path / "reports" / "stuurgroep.html").read_text())
    assert report.cells[("B01", "ggd-flevoland")] == "gefaald"
    assert report.cells[("B01", "politie-mn")] == "geslaagd"
    assert report.cells[("B01", "keten")] == "gefaald"
    assert report.advice == "no-go"
    flevo = find(allure_results(pytester.path / "allure"),
                 "De DNS-gegevens van het maildomein zijn met DNSSEC beveiligd", "ggd-flevoland")
    assert labels(flevo)["story"] == ["B01 DNSSEC"] and labels(flevo)["severity"] == ["critical"]
    assert any(a["name"].startswith("DNS-antwoorden") for a in attachments(flevo))
    tests = json.loads((pytester.path / "reports" / "resultaten.json").read_text())["tests"]
    failed = next(t for t in tests if t["uitslag"] == "gefaald")
    assert failed["deelnemers"] == ["ggd-flevoland"] and "niet veilig of leeg" in failed["melding"]


# --- in a real browser -------------------------------------------------------------------

def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture
def chromium():
    from ketentest.report.browser import find_chromium

    if find_chromium() is None:
        pytest.skip("Chromium ontbreekt: apt-get install chromium (scripts/bootstrap)")


def test_report_renders_in_headless_chromium_without_console_messages(synthetic, chromium, tmp_path):
    from ketentest.report.browser import dump_dom, screenshot

    run_synthetic(synthetic, {"B04": {"ggd-flevoland": "gefaald"}, "B02": {"politie-mn": "waarschuwing"}})
    page = synthetic.path / "reports" / "stuurgroep.html"
    dom = dump_dom(page)
    assert dom.console == ()  # no script errors, no failed loads
    rendered, source = parse_report(dom.stdout), parse_report(page.read_text())
    assert rendered.cells == source.cells and len(rendered.cells) == 23 * 5
    assert rendered.cells[("B04", "ggd-flevoland")] == "gefaald" and rendered.advice == "no-go"
    assert "NO-GO" in dom.stdout and "Gereedheid per deelnemer en afspraak" in dom.stdout
    assert all(u.startswith(("#", "data:")) for u in rendered.urls), rendered.urls  # nothing from outside

    png = tmp_path / "stuurgroep.png"
    shot = screenshot(page, png, width=1280, height=2400)
    assert shot.console == ()
    assert _png_size(png) == (1280, 2400)


def test_chromium_console_catches_script_errors(chromium, tmp_path):
    """The console check above can fail: a script error is caught. (Failed
    outside loads are not logged at this level; the report's URLs are checked
    on the DOM instead.)"""
    from ketentest.report.browser import dump_dom

    page = tmp_path / "kapot.html"
    page.write_text("<html><body><script>nietGedefinieerd();</script></body></html>")
    console = dump_dom(page).console
    assert any("nietGedefinieerd" in m for m in console), console


# --- Allure 3 HTML ------------------------------------------------------------------------

def test_allure_html_is_skipped_with_a_clear_message_without_node(tmp_path, monkeypatch):
    from ketentest.report.allure_files import generate_allure_html

    monkeypatch.setenv("PATH", str(tmp_path))  # neither node nor npx
    made, message = generate_allure_html(ROOT, tmp_path)
    assert not made
    assert message.startswith("Allure-rapport overgeslagen: Node.js (node en npx) is niet geïnstalleerd")


def test_allure_html_single_dutch_file_from_the_results(synthetic):
    from ketentest.report.allure_files import generate_allure_html, node_status

    if not node_status()[0]:
        pytest.skip(f"geen bruikbare Node.js: {node_status()[1]}")
    run_synthetic(synthetic, {"B04": {"ggd-flevoland": "gefaald"}})
    (synthetic.path / "allurerc.json").write_text((ROOT / "allurerc.json").read_text())
    made, message = generate_allure_html(synthetic.path, synthetic.path / "allure")
    if not made and re.search(r"ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ENETUNREACH", message):
        pytest.skip(f"npm-register onbereikbaar: {message}")
    assert made, message
    html = (synthetic.path / "reports" / "allure-rapport" / "index.html").read_text()
    assert '"reportLanguage":"nl"' in html and "Ketentest niet-acute zorgmeldingen" in html
    assert list((synthetic.path / "reports" / "allure-rapport").glob("*.html")) == [
        synthetic.path / "reports" / "allure-rapport" / "index.html"]


def test_report_under_xdist_matches_a_serial_run(synthetic):
    pytest.importorskip("xdist")
    plan = {"B04": {"ggd-flevoland": "gefaald"}, "B02": {"politie-mn": "waarschuwing"}}
    run_synthetic(synthetic, plan)
    serial = parse_report((synthetic.path / "reports" / "stuurgroep.html").read_text()).cells
    (synthetic.path / "plan.json").write_text(json.dumps(plan))
    result = synthetic.runpytest_subprocess("-p", "ketentest.report.plugin", "-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=8, failed=2)
    parallel = parse_report((synthetic.path / "reports" / "stuurgroep.html").read_text()).cells
    assert parallel == serial
    tests = json.loads((synthetic.path / "reports" / "resultaten.json").read_text())["tests"]
    sent = next(t for t in tests if t["afspraken"] == ["V04"])
    assert [e["naam"] for e in sent["bewijs"]][-1] == "SMTP-gesprek"  # evidence written by a worker
    assert all((synthetic.path / "reports" / e["bestand"]).is_file() for e in sent["bewijs"])


def test_an_unwritable_report_folder_is_reported_not_a_crash(synthetic):
    (synthetic.path / "plan.json").write_text("{}")
    (synthetic.path / "bezet").write_text("een bestand, geen map")
    result = synthetic.runpytest_subprocess("-p", "ketentest.report.plugin", "-p", "no:cacheprovider",
                                            "--rapportmap", "bezet")
    result.assert_outcomes(passed=9, failed=1)  # only V02 (the broken harness) fails
    result.stdout.fnmatch_lines(["*ketentest: rapport niet geschreven:*bezet*"])
