"""pytest plugin: Allure labels from scenario tags, evidence through
pytest-bdd's step hooks, and after the session reports/resultaten.json and
reports/stuurgroep.html (plus environment.properties, categories.json and
executor.json in the Allure results folder when ``--alluredir`` is given).

Register it with ``pytest_plugins = [..., "ketentest.report.plugin"]`` in the
root conftest.py, or ``-p ketentest.report.plugin``. See docs/rapportage.md.

Works under pytest-xdist: each phase report carries the test's record
(``report.ketentest``) to the controller, which writes the files.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ketentest.afspraken import AFSPRAKEN
from ketentest.report import evidence as ev_api
from ketentest.report.evidence import Evidence
from ketentest.report.tweede_oordeel import tweede_oordelen
from ketentest.report.results import (
    PREVIOUS_FILE,
    EvidenceRef,
    Outcome,
    OutcomeState,
    Run,
    StapRecord,
    TestRecord,
    load_run,
    save_run,
)

SEVERITY = {"kritiek": "critical", "hoog": "normal", "normaal": "minor"}  # Dutch tag -> Allure severity
DEELNEMER_TAG = "deelnemer_"
EVIDENCE_DIR = "bewijs"

SESSION = pytest.StashKey["ReportSession"]()
INFO = pytest.StashKey["ScenarioInfo"]()
COLLECTOR = pytest.StashKey["TestEvidence"]()
STATE = pytest.StashKey[OutcomeState]()
SENDS_KEY = "ketentest_echte_verzendingen"
ALL_PROCESSES = "alle processen van de run"  # counted in the shared ledger
TEST_PROCESSES = "de testprocessen"  # only the pytest processes' own guards


# --- what a scenario is about ----------------------------------------------------

@dataclass(frozen=True)
class ScenarioInfo:
    scenario: str
    feature: str
    agreements: tuple[str, ...]
    deelnemers: tuple[str, ...]
    severity: str | None  # the Dutch tag: kritiek, hoog, normaal
    #: A row of an example table (@grensgeval): it judges the ketentest's verdict on a changed
    #: configuration, not the keten itself; it counts for the whole keten (no deelnemer) and the
    #: warnings it expects do not make it a warning.
    grensgeval: bool = False


def scenario_info(item: pytest.Item) -> ScenarioInfo | None:
    """Agreements, deelnemer(s) and severity of a pytest-bdd scenario item;
    None for anything else (unit tests)."""
    if "_pytest_bdd_example" not in getattr(item, "fixturenames", ()):
        return None
    feature, scenario = _names(item)
    marks = [m.name for m in item.iter_markers()]
    agreements = tuple(sorted({m for m in marks if m in AFSPRAKEN}))
    severity = next((m for m in ("kritiek", "hoog", "normaal") if m in marks), None)
    deelnemers: list[str] = []
    if "grensgeval" in marks:
        return ScenarioInfo(scenario, feature, agreements, (), severity, grensgeval=True)
    params = getattr(getattr(item, "callspec", None), "params", {})
    example = params.get("_pytest_bdd_example") or {}
    for value in (params.get("deelnemer_id"), example.get("deelnemer_id"), example.get("deelnemer")):
        if value:
            deelnemers.append(str(value))
    for mark in item.iter_markers("deelnemer"):
        deelnemers.extend(str(a) for a in mark.args)
    return ScenarioInfo(scenario, feature, agreements, tuple(dict.fromkeys(deelnemers)), severity)


def _names(item: pytest.Item) -> tuple[str, str]:
    try:  # pytest-bdd keeps the template per generated test function
        from pytest_bdd.scenario import scenario_wrapper_template_registry

        template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))
    except (ImportError, TypeError):
        template = None
    if template is not None:
        return template.feature.name, template.name
    doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").split(": ", 1)
    return (doc[0], doc[1]) if len(doc) == 2 else ("", item.name)


def allure_labels(info: ScenarioInfo, naam: Callable[[str], str],
                  echt: Callable[[str], bool] = lambda d: False) -> list[tuple[str, str]]:
    """(label, value) pairs: epic = chapter, story = "B06 DANE", severity,
    owner/tag = deelnemer, and whether it is a real or a simulated deelnemer
    (label ``soort_deelnemer``, tag "echte deelnemer"); suites so Allure's
    tree reads chapter > agreement > deelnemer."""
    labels: list[tuple[str, str]] = []
    for a in (AFSPRAKEN[i] for i in info.agreements):
        labels += [("epic", a.hoofdstuk.value), ("story", f"{a.id} {a.titel}"), ("afspraak", a.id)]
    if info.agreements:
        first = AFSPRAKEN[info.agreements[0]]
        labels += [("parentSuite", first.hoofdstuk.value), ("suite", f"{first.id} {first.titel}")]
    if info.severity:
        labels.append(("severity", SEVERITY[info.severity]))
    for d in info.deelnemers:
        soort = "echt" if echt(d) else "gesimuleerd"
        labels += [("owner", naam(d)), ("tag", d), ("deelnemer", d), ("soort_deelnemer", f"{naam(d)}: {soort}"),
                   ("tag", "echte deelnemer" if echt(d) else "gesimuleerde deelnemer")]
    labels.append(("subSuite", ", ".join(naam(d) for d in info.deelnemers) if info.deelnemers else "Hele keten"))
    return list(dict.fromkeys(labels))


# --- evidence of one test ----------------------------------------------------------

def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:limit] or "x"


def test_dir_name(nodeid: str) -> str:
    """A short, unique folder name: test name, parameter, hash of the node id."""
    name, _, param = nodeid.split("::")[-1].partition("[")
    label = _slug(name.removeprefix("test_"), 40) + (f"[{_slug(param.rstrip(']'), 30)}]" if param else "")
    return f"{label}-{hashlib.sha1(nodeid.encode()).hexdigest()[:8]}"


class TestEvidence:
    """Collects the evidence of the running test: writes each item under
    reports/bewijs/<test>/, attaches it to Allure, remembers warnings."""

    def __init__(self, nodeid: str, reports_dir: Path | None, warnings_count: bool = True) -> None:
        self.nodeid = nodeid
        self.warnings_count = warnings_count
        self.reports_dir = reports_dir
        self.dir = reports_dir / EVIDENCE_DIR / test_dir_name(nodeid) if reports_dir else None
        self.refs: list[EvidenceRef] = []
        self.warnings: list[str] = []
        self.step = ""
        self.steps: list[list[str]] = []  # [text, uitslag] of every step of the scenario, in order
        self.seen: set[int] = set()  # ids of fixture values already turned into evidence
        self._allure_ready = False
        self._allure_queue: list[Evidence] = []
        if self.dir is not None and self.dir.is_dir():
            shutil.rmtree(self.dir, ignore_errors=True)  # a previous run's files for this test

    def add(self, evidence: Evidence) -> None:
        ref = EvidenceRef(evidence.name, evidence.kind.value, "", len(evidence.content), evidence.verdict,
                          evidence.note, self.step)
        if self.dir is not None and self.reports_dir is not None:
            path = self.dir / f"{len(self.refs) + 1:02d}-{_slug(evidence.name, 50)}.{evidence.kind.extension}"
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
                path.write_bytes(evidence.content)
                ref = replace(ref, bestand=path.relative_to(self.reports_dir).as_posix())
            except OSError:
                pass  # never fail a test over its evidence; writing the report will say what is wrong
        self.refs.append(ref)
        if evidence.is_warning and self.warnings_count:
            self.warnings.append(evidence.note or evidence.name)
        if self._allure_ready:
            _allure_attach(evidence, self.warnings_count)
        else:
            self._allure_queue.append(evidence)

    def allure_ready(self) -> None:
        """The Allure test case exists now: flush what came before (setup)."""
        self._allure_ready = True
        for evidence in self._allure_queue:
            _allure_attach(evidence, self.warnings_count)
        self._allure_queue.clear()

    def from_values(self, values: list[Any]) -> None:
        for value in values:
            if id(value) in self.seen or not ev_api.has_adapter(value):
                continue
            self.seen.add(id(value))
            try:
                found = ev_api.evidence_for(value)
            except Exception as e:  # a broken adapter must not fail the scenario it documents
                found = [Evidence.of(f"Bewijs van {type(value).__name__} niet te maken",
                                     f"{type(e).__name__}: {e}", "text")]
            for evidence in found:
                self.add(evidence)


def _allure_attach(evidence: Evidence, tag_warning: bool = True) -> None:
    """To Allure when it is active (no-op otherwise); a warning tags the test unless ``tag_warning`` is off."""
    try:
        import allure_commons
    except ImportError:
        return
    try:
        allure_commons.plugin_manager.hook.attach_data(
            body=evidence.content, name=evidence.name, attachment_type=evidence.kind.mime,
            extension=evidence.kind.extension)
        if evidence.is_warning and tag_warning:
            allure_commons.plugin_manager.hook.add_label(label_type="tag", labels=["waarschuwing"])
    except (KeyError, AttributeError):
        pass  # no Allure test case in progress (e.g. attached during teardown after it was written)


# --- the session -------------------------------------------------------------------

@dataclass(eq=False)  # hashable: pluggy keys plugins by object
class ReportSession:
    config: pytest.Config
    reports_dir: Path | None  # None: no report files (--geen-stuurgroeprapport)
    keten: Any = None  # ketentest.model.Keten, or None if it could not be loaded
    started: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    t0: float = field(default_factory=time.monotonic)
    t_start: float = field(default_factory=time.time)  # epoch: the run's sends in a shared ledger start here
    records: dict[str, dict] = field(default_factory=dict)
    worker_sends: int = 0  # real sends the xdist workers counted
    written: list[Path] = field(default_factory=list)
    advice: str = ""
    error: str = ""

    def naam(self, deelnemer: str) -> str:
        if self.keten is not None:
            for d in self.keten.deelnemers:
                if d.id == deelnemer:
                    return d.naam
        return deelnemer

    def echt(self, deelnemer: str) -> bool:
        """A real deelnemer (keten key ``echt``), not simulated by the harness."""
        return deelnemer in self.echte_ids

    @property
    def echte_ids(self) -> tuple[str, ...]:
        if self.keten is None:
            return ()
        return tuple(d.id for d in self.keten.deelnemers if getattr(d, "echt", None) is not None)

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def environment(self, versions: dict[str, str]) -> dict[str, str]:
        env = {"Keten": self.keten.naam if self.keten else "onbekend",
               "Ketenbron": self.keten.source if self.keten else "onbekend",
               "Zaad": str(self.config.getoption("seed", None))}
        env |= versions
        env |= {f"Aanname: {k}": v for k, v in self.aannames().items()}
        if self.keten is not None:
            env |= {f"Deelnemer: {d.naam}": "echt" if self.echt(d.id) else "gesimuleerd" for d in self.keten.deelnemers}
        return env

    def aannames(self) -> dict[str, str]:
        return self.keten.aannames.as_dutch() if self.keten is not None else {}

    # hooks: this object is registered as a plugin in pytest_configure

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "ketentest", None)
        if data:
            self.records[report.nodeid] = data  # each phase carries everything so far; the last wins

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """xdist: a worker's count of real sends."""
        self.worker_sends += int(getattr(node, "workeroutput", {}).get(SENDS_KEY) or 0)

    def real_sends(self) -> tuple[int | None, str]:
        """Real sends of this run and who counted them, for a keten with a real deelnemer: the shared
        ledger of every process ($KETENTEST_ECHTE_VERZENDINGEN, set by ``ketentest run``), else the
        test processes' own guards. (None, "") without a real deelnemer or a counter."""
        if not self.echte_ids:
            return None, ""
        try:
            from ketentest.echt import ledger_from_env

            ledger = ledger_from_env()
            if ledger is not None:
                return ledger.counter(since=self.t_start).total(), ALL_PROCESSES
        except Exception:  # an unreadable ledger: fall back to this process's own count
            pass
        own = _real_sends()
        return (None, "") if own is None else (own + self.worker_sends, TEST_PROCESSES)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            self.config.workeroutput[SENDS_KEY] = _real_sends() or 0  # sent to the controller after this hook
        if not self.is_worker and self.records:
            try:
                _write_all(self, exitstatus)
            except OSError as e:  # a report that cannot be written must not hide the test outcome
                self.error = f"rapport niet geschreven: {e}"

    def pytest_terminal_summary(self, terminalreporter, exitstatus: int, config: pytest.Config) -> None:
        if self.error:
            terminalreporter.write_sep("-", "stuurgroeprapport", red=True)
            terminalreporter.write_line(f"ketentest: {self.error}")
        if not self.written:
            return
        terminalreporter.write_sep("-", "stuurgroeprapport")
        terminalreporter.write_line(f"Advies: {self.advice}")
        for path in self.written:
            terminalreporter.write_line(f"  {path}")


def _load_keten(config: pytest.Config) -> Any:
    from ketentest.errors import KetentestError

    try:
        from ketentest.config import load_keten

        return load_keten(config.getoption("keten", None))
    except (KetentestError, OSError):
        return None  # the keten fixture reports the problem to the user


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ketentest-rapportage", "ketentest: rapportage")
    group.addoption("--rapportmap", default="reports",
                    help="map voor resultaten.json, stuurgroep.html en het bewijs (standaard: reports)")
    group.addoption("--geen-stuurgroeprapport", action="store_true",
                    help="schrijf geen resultaten.json en stuurgroep.html")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "deelnemer(id): het scenario betreft deze deelnemer (tag @deelnemer_<id>)")
    config.addinivalue_line("markers", "allure_label: Allure-label (gezet door ketentest.report)")
    import ketentest.report.adapters  # noqa: F401  (registers the built-in evidence adapters)

    off = config.getoption("geen_stuurgroeprapport", False)
    reports = None if off else Path(config.getoption("rapportmap", "reports")).resolve()
    session = ReportSession(config, reports, _load_keten(config))
    config.stash[SESSION] = session
    config.pluginmanager.register(session, "ketentest-rapport-sessie")


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Callable[..., object]) -> object:
    """``@deelnemer_<id>`` becomes the marker ``deelnemer("<id>")``."""
    if tag.startswith(DEELNEMER_TAG) and len(tag) > len(DEELNEMER_TAG):
        pytest.mark.deelnemer(tag[len(DEELNEMER_TAG):])(function)
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = config.stash[SESSION]
    for item in items:
        info = scenario_info(item)
        if info is None:
            continue
        item.stash[INFO] = info
        for name, value in allure_labels(info, session.naam, session.echt):
            item.add_marker(pytest.mark.allure_label(value, label_type=name))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if INFO not in item.stash:
        return (yield)
    collector = TestEvidence(item.nodeid, item.config.stash[SESSION].reports_dir,
                             warnings_count=not item.stash[INFO].grensgeval)
    item.stash[COLLECTOR] = collector
    ev_api.activate(collector)
    try:
        return (yield)
    finally:
        ev_api.activate(None)


def _collector(request: pytest.FixtureRequest) -> TestEvidence | None:
    return request.node.stash.get(COLLECTOR, None)


@pytest.hookimpl(trylast=True)  # after allure-pytest-bdd scheduled its test case
def pytest_bdd_before_scenario(request, feature, scenario) -> None:
    if (c := _collector(request)) is not None:
        c.allure_ready()
        c.steps = [[_step_text(s), "niet uitgevoerd"] for s in scenario.steps]


def _step_text(step) -> str:
    return f"{step.keyword} {step.name}".strip()


def _step_done(c: TestEvidence, step, uitslag: str) -> None:
    text = _step_text(step)
    for entry in c.steps:
        if entry[0] == text and entry[1] == "niet uitgevoerd":
            entry[1] = uitslag
            return


def pytest_bdd_before_step(request, feature, scenario, step, step_func) -> None:
    if (c := _collector(request)) is not None:
        c.step = _step_text(step)


@pytest.hookimpl(tryfirst=True)  # before Allure closes the step, so attachments nest in it
def pytest_bdd_after_step(request, feature, scenario, step, step_func, step_func_args) -> None:
    if (c := _collector(request)) is None:
        return
    values = list(step_func_args.values())
    target = _target_fixture(request, step)
    if target is not None:
        values.append(request.getfixturevalue(target))
    fresh = [v for v in values if id(v) not in c.seen]
    c.from_values(values)
    c.from_values(tweede_oordelen(request, fresh))  # B06/V02: the reference MTA's opinion beside ours
    _step_done(c, step, "geslaagd")


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_step_error(request, feature, scenario, step, step_func, step_func_args, exception) -> None:
    if (c := _collector(request)) is not None:
        c.from_values(list(step_func_args.values()))
        for evidence in party_logs(request):
            c.add(evidence)
        _step_done(c, step, "gefaald")


def party_logs(request: pytest.FixtureRequest) -> list[Evidence]:
    """The logs of the parties a failed scenario involved: the postkantoor and
    the scenario's meldpunt (every party when it has none), process or container."""
    if "keten_sim" not in request.fixturenames:
        return []
    try:
        sim = request.getfixturevalue("keten_sim")
        deelnemer = request.getfixturevalue("deelnemer") if "deelnemer" in request.fixturenames else None
    except Exception:  # the keten never came up: its error is the scenario's message already
        return []
    parties = sim.processes
    if deelnemer is not None and deelnemer.id in sim.meldpunten:
        parties = [sim.politie, sim.meldpunten[deelnemer.id]]
    backend = getattr(sim.backend, "name", "processen")
    return [Evidence.of(f"Log van {p.name} ({backend})", p.log_text() or "(leeg)", "text") for p in parties]


def _target_fixture(request: pytest.FixtureRequest, step) -> str | None:
    """The name under which the step stored its return value, if any."""
    try:
        from pytest_bdd.scenario import get_step_function

        context = get_step_function(request, step)
    except Exception:  # pytest-bdd internals moved: fall back to the step's arguments only
        return None
    return getattr(context, "target_fixture", None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    info = item.stash.get(INFO, None)
    if info is None:
        return report
    state = item.stash.setdefault(STATE, OutcomeState())
    exc = call.excinfo.value if call.excinfo is not None else None
    state.add_phase(report.when, report.outcome, exc, report.longrepr, report.duration)
    collector = item.stash.get(COLLECTOR, None)
    if collector is not None:
        state.warnings = list(collector.warnings)
    outcome, message = state.final()
    if outcome is Outcome.NVT and collector is not None:
        _mark_nvt(collector)
    record = TestRecord(
        nodeid=item.nodeid, scenario=info.scenario, functionaliteit=info.feature, afspraken=info.agreements,
        deelnemers=info.deelnemers, uitslag=outcome, ernst=info.severity, melding=message,
        soort_fout=state.soort_fout if outcome in (Outcome.GEFAALD, Outcome.FOUT) else None,
        bewijs=tuple(collector.refs) if collector else (), duur=state.duur,
        stappen=tuple(StapRecord(text, uitslag) for text, uitslag in collector.steps) if collector else (),
    )
    report.ketentest = record.to_dict()  # plain data: travels to the xdist controller
    return report


def _mark_nvt(c: TestEvidence) -> None:
    """The step that met the real deelnemer reads "n.v.t.", and Allure gets a tag."""
    for entry in c.steps:
        if entry[0] == c.step and entry[1] in ("niet uitgevoerd", "gefaald"):
            entry[1] = "n.v.t."
            break
    try:
        import allure_commons

        allure_commons.plugin_manager.hook.add_label(label_type="tag", labels=["niet van toepassing"])
    except (ImportError, KeyError, AttributeError):
        pass  # no Allure, or its test case is closed already


def _real_sends() -> int | None:
    """Mails this process sent to real deelnemers (ketentest.echt's guard counts them); None: not counted."""
    try:
        from ketentest.echt import default_guard

        return int(default_guard().counter.total())
    except Exception:  # no counter, or one that fails: the report must not be lost over it
        return None


def _write_all(rs: ReportSession, exitstatus: int) -> None:
    from ketentest.report.allure_files import versions, write_results_extras

    config = rs.config
    vers = versions()
    allure_dir = getattr(config.option, "allure_report_dir", None)
    if allure_dir:
        keten = rs.keten.naam if rs.keten else "onbekend"
        write_results_extras(Path(allure_dir), rs.environment(vers), {
            "name": "ketentest",
            "type": "ketentest",
            "buildName": f"Ketentest {keten} {rs.started}",
            "reportName": f"Ketentest niet-acute zorgmeldingen — keten {keten}",
        })
    if rs.reports_dir is None:
        return
    from ketentest.report.html import write_report

    tests = tuple(TestRecord.from_dict(d) for d in rs.records.values())
    sends, counted_by = rs.real_sends()
    run = Run(
        keten=rs.keten.naam if rs.keten else "onbekend (ketenbestand niet te lezen)",
        ketenbron=rs.keten.source if rs.keten else str(config.getoption("keten", None) or ""),
        beschrijving=(rs.keten.beschrijving or "") if rs.keten else "",
        gestart=rs.started,
        duur=time.monotonic() - rs.t0,
        zaad=config.getoption("seed", None),
        deelnemers=tuple((d.id, d.naam) for d in rs.keten.deelnemers) if rs.keten else (),
        aannames=rs.aannames(),
        versies=vers,
        tests=tests,
        selectie=config.getoption("markexpr", "") or "",
        onderbroken=exitstatus == pytest.ExitCode.INTERRUPTED,
        echt=rs.echte_ids,
        echte_verzendingen=sends,
        verzendingen_geteld_door=counted_by,
    )
    save_run(run, rs.reports_dir)
    previous = load_run(rs.reports_dir / PREVIOUS_FILE)
    _prune_evidence(rs.reports_dir, tests)
    rs.written = [rs.reports_dir / "resultaten.json", write_report(run, previous, rs.reports_dir)]
    from ketentest.report.matrix import build_matrix, summarize

    summary = summarize(build_matrix(run))
    rs.advice = f"{summary.advice.dutch} — {summary.reason}"


def _prune_evidence(reports_dir: Path, tests: tuple[TestRecord, ...]) -> None:
    """Remove evidence folders of tests that are not in this run."""
    root = reports_dir / EVIDENCE_DIR
    if not root.is_dir():
        return
    keep = {test_dir_name(t.nodeid) for t in tests}
    for child in root.iterdir():
        if child.is_dir() and child.name not in keep:
            shutil.rmtree(child)
