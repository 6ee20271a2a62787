"""Report building blocks without pytest runs: evidence normalisation and
adapters, outcome classification, matrix rules, advice, changes, and the
.properties escaping."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from ketentest.errors import InfrastructureError, KetenConfigError
from ketentest.report import evidence
from ketentest.report.allure_files import properties_text
from ketentest.report.evidence import Evidence, Kind
from ketentest.report.matrix import KETEN, Advice, CellState, build_matrix, changes, summarize
from ketentest.report.results import FailureKind, Outcome, OutcomeState, Run, TestRecord, assertion_message, classify

DEELNEMERS = (("pol", "Politie"), ("mp1", "Meldpunt Een"))


def record(nodeid: str, afspraken: tuple[str, ...], deelnemers: tuple[str, ...], uitslag: Outcome,
           melding: str = "") -> TestRecord:
    return TestRecord(nodeid, "scenario " + nodeid, "functie", afspraken, deelnemers, uitslag, melding=melding)


def run(*tests: TestRecord, gestart: str = "2026-11-28T20:00:00+00:00") -> Run:
    return Run("keten", "ingebouwd:keten", "", gestart, 1.0, 1, DEELNEMERS, {}, {}, tuple(tests))


def full_pass() -> list[TestRecord]:
    """Every agreement tested and passed: B per deelnemer, V/S keten-wide."""
    from ketentest.afspraken import AFSPRAKEN

    out = []
    for a in AFSPRAKEN.values():
        if a.per_deelnemer:
            out += [record(f"{a.id}[{d}]", (a.id,), (d,), Outcome.GESLAAGD) for d, _ in DEELNEMERS]
        else:
            out.append(record(a.id, (a.id,), (), Outcome.GESLAAGD))
    return out


# --- evidence ----------------------------------------------------------------------

def test_evidence_normalises_content_kind_and_verdict():
    from ketentest.verdict import Uitslag

    e = Evidence.of("x", {"b": {1, 2}, "a": Uitslag.GEFAALD}, "check-json", verdict=Uitslag.WAARSCHUWING)
    assert e.kind is Kind.CHECK_JSON and e.is_warning
    assert json.loads(e.content) == {"b": [1, 2], "a": "gefaald"}
    assert Evidence.of("t", "één", "text").content == "één".encode()
    with pytest.raises(ValueError, match="onbekende soort bewijs 'zip'"):
        Evidence.of("x", b"", "zip")
    with pytest.raises(ValueError, match="onbekend oordeel"):
        Evidence.of("x", b"", "text", verdict="prima")


def test_attach_outside_a_test_only_builds_the_evidence():
    assert evidence.attach("los", "tekst").content == b"tekst"


def test_attach_and_warn_reach_the_active_collector():
    class Collector:
        def __init__(self):
            self.items = []

        def add(self, e):
            self.items.append(e)

    c = Collector()
    evidence.activate(c)
    try:
        evidence.attach("SMTP", "220 hallo", "smtp-transcript")
        evidence.warn("sleutel van precies 2048 bits")
    finally:
        evidence.activate(None)
    assert [(e.name, e.kind, e.verdict) for e in c.items] == [
        ("SMTP", Kind.SMTP_TRANSCRIPT, None), ("Waarschuwing", Kind.TEXT, "waarschuwing")]


def test_adapters_follow_subclasses_and_batch_lists():
    @dataclass(frozen=True)
    class Base:
        n: int

    class Child(Base):
        pass

    @dataclass(frozen=True)
    class Many:
        n: int

    evidence.adapter(Base)(lambda v: [Evidence.of(f"base {v.n}", "x")])
    evidence.adapter(Many, many=True)(lambda vs: [Evidence.of(f"{len(vs)} stuks", "x")])
    assert [e.name for e in evidence.evidence_for(Child(1))] == ["base 1"]
    assert [e.name for e in evidence.evidence_for([Many(1), Many(2), "tekst", Child(3)])] == ["base 3", "2 stuks"]
    assert evidence.evidence_for("gewone tekst") == [] and not evidence.has_adapter(["a", 1])


def test_check_result_adapter_carries_the_verdict_and_the_problems():
    import ketentest.report.adapters  # noqa: F401
    from ketentest.verdict import CheckResult, SubtestResult, Uitslag

    result = CheckResult("B02", "voorbeeld.test", (
        SubtestResult("spf.all", "B02", Uitslag.WAARSCHUWING, "eindigt op ~all; gebruik -all"),
        SubtestResult("spf.aantal", "B02", Uitslag.GESLAAGD, "3 lookups"),
    ))
    [e] = evidence.evidence_for(result)
    assert e.kind is Kind.CHECK_JSON and e.verdict == "waarschuwing"
    assert e.note == "spf.all: eindigt op ~all; gebruik -all"
    assert json.loads(e.content)["uitslag"] == "waarschuwing"


# --- outcomes ----------------------------------------------------------------------

def test_assertion_message_drops_pytest_rewriting():
    exc = AssertionError("B04 DMARC — X: gefaald\n  [gefaald] p=none\nassert False\n +  where False = ...")
    assert assertion_message(exc) == "B04 DMARC — X: gefaald\n  [gefaald] p=none"
    assert assertion_message(AssertionError("assert 1 == 2")).startswith("Controle mislukt: assert 1 == 2")


@pytest.mark.parametrize("exc, kind, start", [
    (AssertionError("kapot"), FailureKind.KETENDEFECT, "kapot"),
    (InfrastructureError("adres in gebruik", "stop het"), FailureKind.INFRASTRUCTUUR, "Infrastructuurprobleem: adres"),
    (KetenConfigError("k.yaml", "mx", "leeg"), FailureKind.HARNAS, "Fout in de testomgeving: k.yaml: mx: leeg"),
    (ZeroDivisionError("division by zero"), FailureKind.HARNAS, "Fout in de testomgeving: ZeroDivisionError"),
])
def test_classify(exc, kind, start):
    got_kind, message = classify(exc)
    assert got_kind is kind and message.startswith(start)


def test_classify_a_missing_step_once():
    """pytest-bdd's error in English gets a Dutch prefix; the step catalogue's own
    Dutch message (with the closest sentences) is not prefixed a second time."""
    class StepDefinitionNotFoundError(Exception):
        pass

    assert classify(StepDefinitionNotFoundError("Step definition is not found: x"))[1] == (
        "Stapdefinitie ontbreekt: Step definition is not found: x")
    assert classify(StepDefinitionNotFoundError("Stap bestaat niet: 'x'. Bedoelde u: y"))[1] == (
        "Stap bestaat niet: 'x'. Bedoelde u: y")


def test_outcome_state_folds_phases():
    s = OutcomeState()
    s.add_phase("setup", "passed", None, None, 0.1)
    s.add_phase("call", "passed", None, None, 0.2)
    s.warnings = ["let op"]
    s.add_phase("teardown", "passed", None, None, 0.1)
    assert s.final() == (Outcome.WAARSCHUWING, "let op") and s.duur == pytest.approx(0.4)

    s = OutcomeState()
    s.add_phase("setup", "failed", AssertionError("fixture"), None, 0)  # an assert in a fixture: no verdict
    assert s.final()[0] is Outcome.FOUT and s.soort_fout is FailureKind.HARNAS

    s = OutcomeState()
    s.add_phase("call", "failed", AssertionError("afspraak kapot"), None, 0)
    s.add_phase("teardown", "failed", RuntimeError("opruimen"), None, 0)  # the first failure stays
    assert s.final() == (Outcome.GEFAALD, "afspraak kapot")

    s = OutcomeState()
    s.add_phase("setup", "skipped", None, ("f", 1, "Skipped: geen Chromium"), 0)
    assert s.final() == (Outcome.OVERGESLAGEN, "Overgeslagen: geen Chromium")


# --- matrix and advice ----------------------------------------------------------------

def test_cells_per_deelnemer_keten_column_and_nvt():
    m = build_matrix(run(
        record("b04-pol", ("B04",), ("pol",), Outcome.GESLAAGD),
        record("b04-mp1", ("B04",), ("mp1",), Outcome.GEFAALD, "p=none"),
        record("b02-pol", ("B02",), ("pol",), Outcome.WAARSCHUWING),
        record("v04", ("V04",), ("mp1",), Outcome.GESLAAGD),
        record("v02", ("V02",), (), Outcome.FOUT),
        record("s01", ("S01",), (), Outcome.OVERGESLAGEN),
    ))
    state = {(c.agreement, c.deelnemer): c.state for c in m.cells()}
    assert state[("B04", "pol")] is CellState.GESLAAGD and state[("B04", "mp1")] is CellState.GEFAALD
    assert state[("B04", KETEN)] is CellState.GEFAALD
    assert state[("B02", "pol")] is CellState.WAARSCHUWING
    assert state[("B02", "mp1")] is CellState.NIET_GETEST
    assert state[("B02", KETEN)] is CellState.NIET_GETEST  # one deelnemer untested: not shown to hold
    assert "Meldpunt Een" in m.cell("B02", KETEN).reason
    assert state[("V04", "mp1")] is CellState.GESLAAGD and state[("V04", "pol")] is CellState.NVT
    assert state[("V04", KETEN)] is CellState.GESLAAGD
    assert state[("V02", KETEN)] is CellState.NIET_GETEST and "testomgeving" in m.cell("V02", KETEN).reason
    assert state[("S01", KETEN)] is CellState.NIET_GETEST and m.cell("S01", KETEN).reason == "overgeslagen"


def test_unknown_deelnemer_gets_its_own_column():
    m = build_matrix(run(record("v01", ("V01",), ("onbekend-mp",), Outcome.GESLAAGD)))
    assert m.cell("V01", "onbekend-mp").state is CellState.GESLAAGD


def test_advice_go_only_when_complete_and_nothing_failed():
    tests = full_pass()
    assert summarize(build_matrix(run(*tests))).advice is Advice.GO
    warned = [record(t.nodeid, t.afspraken, t.deelnemers, Outcome.WAARSCHUWING) if t.nodeid == "B02[pol]" else t
              for t in tests]
    assert summarize(build_matrix(run(*warned))).advice is Advice.GO
    assert summarize(build_matrix(run(*tests[1:]))).advice is Advice.ONVOLLEDIG
    broken = [record("V05", ("V05",), (), Outcome.GEFAALD) if t.nodeid == "V05" else t for t in tests]
    summary = summarize(build_matrix(run(*broken)))
    assert summary.advice is Advice.NO_GO and summary.gefaald == ("V05",)
    erred = [record("V05", ("V05",), (), Outcome.FOUT) if t.nodeid == "V05" else t for t in tests]
    assert summarize(build_matrix(run(*erred))).advice is Advice.ONVOLLEDIG


def test_changes_new_failure_fixed_warning_and_not_run():
    before = run(record("a", ("B01",), ("pol",), Outcome.GESLAAGD), record("b", ("B02",), ("pol",), Outcome.GEFAALD),
                 record("c", ("B03",), ("pol",), Outcome.GESLAAGD), record("d", ("B04",), ("pol",), Outcome.GESLAAGD))
    after = run(record("a", ("B01",), ("pol",), Outcome.GEFAALD), record("b", ("B02",), ("pol",), Outcome.GESLAAGD),
                record("c", ("B03",), ("pol",), Outcome.WAARSCHUWING), record("e", ("B05",), ("pol",), Outcome.GEFAALD))
    ch = changes(after, before)
    assert [c.test.nodeid for c in ch.new_failures] == ["a", "e"]
    assert ch.new_failures[1].before is None
    assert [c.test.nodeid for c in ch.fixed] == ["b"]
    assert [c.test.nodeid for c in ch.new_warnings] == ["c"]
    assert [t.nodeid for t in ch.not_run] == ["d"]
    assert changes(after, None) is None


def test_run_round_trips_through_json():
    r = run(record("a", ("B01",), ("pol",), Outcome.GEFAALD, "kapot"))
    assert Run.from_dict(json.loads(json.dumps(r.to_dict()))) == r


# --- Allure environment.properties -----------------------------------------------------

def test_properties_escape_keys_and_non_ascii():
    text = properties_text({"Aanname: Maximale grootte PDF": "10 MB", "Keten": "één=twee"})
    assert text == "Aanname\\:\\ Maximale\\ grootte\\ PDF=10 MB\nKeten=\\u00e9\\u00e9n\\=twee\n"
    assert text.isascii()


def test_findings_group_per_agreement_and_harness_errors_per_message():
    from ketentest.report.matrix import findings

    m = build_matrix(run(
        record("b04-pol", ("B04",), ("pol",), Outcome.GEFAALD, "p=none bij politie"),
        record("b04-mp1", ("B04",), ("mp1",), Outcome.GEFAALD, "p=none bij meldpunt\nassert-vrij\nregel 3\nregel 4"),
        record("b02-pol", ("B02",), ("pol",), Outcome.WAARSCHUWING, "~all"),
        record("v01", ("V01",), ("mp1",), Outcome.FOUT, "Fout in de testomgeving: ModuleNotFoundError"),
        record("v02", ("V02",), (), Outcome.FOUT, "Fout in de testomgeving: ModuleNotFoundError"),
    ))
    f = findings(m)
    assert [(x.state, x.title) for x in f] == [
        (CellState.GEFAALD, "B04 DMARC"),
        (CellState.WAARSCHUWING, "B02 SPF"),
        (CellState.NIET_GETEST, "De testomgeving faalde bij 2 scenario's: geen oordeel over V01, V02"),
    ]
    assert [(i.who, i.anchor) for i in f[0].items] == [("Politie", "bewijs-B04-pol"), ("Meldpunt Een", "bewijs-B04-mp1")]
    assert f[0].items[1].text == "p=none bij meldpunt\nassert-vrij\nregel 3\n…"


def test_verzending_adapter_gives_journey_tls_eml_and_the_pdf():
    from email.message import EmailMessage
    from types import SimpleNamespace

    import ketentest.report.adapters  # noqa: F401
    from ketentest.verzending import OntvangenBericht, Verzending

    msg = EmailMessage()
    msg["Subject"] = "Melding MN-1"
    msg.set_content("Zie bijlage.")
    msg.add_attachment(b"%PDF-1.7\n%%EOF\n", maintype="application", subtype="pdf", filename="melding.pdf")
    bericht = OntvangenBericht("k1", "new", "127.60.1.10", "TLSv1.3", "TLS_AES_256_GCM_SHA384",
                               "mx1.ggdflevoland.test; dkim=pass; spf=pass; dmarc=pass", bytes(msg))
    v = Verzending(SimpleNamespace(kenmerk="MN-1"), meldpunt_id="ggd-flevoland",
                   postkantoor={"status": "bezorgd", "attempts": [{"outcome": "bezorgd", "trace": {"tls": "1.3"}}]},
                   berichten=(bericht,))
    found = evidence.evidence_for(v)
    assert [(e.name, e.kind) for e in found] == [
        ("Verloop van melding MN-1", Kind.TEXT),
        ("Ontvangst van MN-1 bij het meldpunt (postvak): TLS en afzendercontrole", Kind.TLS_JSON),
        ("Ontvangen bericht MN-1 (postvak)", Kind.EML),
        ("Meldformulier MN-1", Kind.PDF),
    ]
    assert found[3].content == b"%PDF-1.7\n%%EOF\n"
    assert json.loads(found[0].content)["postkantoor"]["attempts"][0]["trace"] == {"tls": "1.3"}
    assert "dmarc=pass" in json.loads(found[1].content)["authentication_results"]


def test_a_broken_adapter_becomes_evidence_not_a_failure(tmp_path):
    from ketentest.report.plugin import TestEvidence

    class Kapot:
        pass

    def boom(value):
        raise RuntimeError("stuk")
        yield  # pragma: no cover

    evidence.adapter(Kapot)(boom)
    c = TestEvidence("t.py::test_x", tmp_path)
    c.from_values([Kapot()])
    assert [(r.naam, r.soort) for r in c.refs] == [("Bewijs van Kapot niet te maken", "text")]
    assert (tmp_path / c.refs[0].bestand).read_text() == "RuntimeError: stuk"
