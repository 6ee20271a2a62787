"""A coordinator adds a case to an example table without Python (issue 13):
a new row in a temporary copy of features/beveiligingsniveau_grensgevallen.feature
runs, and passes or fails as the row says. And a scenario that leaves a
finding of its check unjudged fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ketentest.defectrun import _netns_prefix

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "features" / "beveiligingsniveau_grensgevallen.feature"
#: An SPF record without any all-mechanism: in no table of the project, a new non-compliant configuration.
RECORD = "v=spf1 ip4:127.60.3.10"
NEW_ROWS = [
    f"| ggd-flevoland | maildomein.spf | {RECORD} | gefaald  | all-mechanisme, neutral |",
    f"| ggd-flevoland | maildomein.spf | {RECORD} | geslaagd | all-mechanisme          |",  # wrong on purpose
    f"| ggd-flevoland | maildomein.spf | {RECORD} | gefaald  | softfail                |",  # key word absent
]
HALF_SCENARIO = """
  @B02
  Scenario: Een scenario dat maar één regel van B02 noemt
    Gegeven de keten met voor "ggd-flevoland" de instelling maildomein.spf op v=spf1 ip4:127.60.3.10
    Als het maildomein van "ggd-flevoland" wordt gecontroleerd op B02
    Dan publiceert het maildomein precies één SPF-record
"""


def b02_outline_with(rows: list[str]) -> str:
    """The file's header and its B02 outline, with ``rows`` instead of the outline's own rows
    (so the run starts one keten, not one per existing row)."""
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("@B02") and "@grensgeval" in line)
    header = lines[:next(i for i, line in enumerate(lines) if line.strip().startswith("@"))]
    table = next(i for i in range(start, len(lines)) if lines[i].strip() == "Voorbeelden:")
    first_row = next(i for i in range(table + 1, len(lines)) if lines[i].strip().startswith("|"))
    indent = lines[first_row][:len(lines[first_row]) - len(lines[first_row].lstrip())]
    return "\n".join([*header, "", *lines[start:first_row + 1], *(indent + r for r in rows)]) + "\n"


def run(tmp_path: Path, feature: str) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    (tmp_path / "proef.feature").write_text(feature, encoding="utf-8")
    (tmp_path / "test_proef.py").write_text('from pytest_bdd import scenarios\n\nscenarios("proef.feature")\n',
                                            encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([*_netns_prefix(), sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
                           "-q", "-rA", f"--rapportmap={tmp_path / 'rapport'}", "test_proef.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    results = json.loads((tmp_path / "rapport" / "resultaten.json").read_text(encoding="utf-8"))["tests"]
    return proc, {t["nodeid"]: t for t in results}


@pytest.mark.skipif(os.geteuid() != 0, reason="de keten luistert op poort 25 en 53 (root)")
def test_a_new_row_runs_and_passes_or_fails_as_it_says(tmp_path):
    assert f"| {RECORD} |" not in SOURCE.read_text(encoding="utf-8"), "de nieuwe configuratie staat al in de tabel"
    proc, results = run(tmp_path, b02_outline_with(NEW_ROWS) + HALF_SCENARIO)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    rows = [t for t in results.values() if "spf" in t["scenario"].lower()]
    assert sorted(t["uitslag"] for t in rows) == ["gefaald", "gefaald", "geslaagd"], out
    failed = [t["melding"] for t in rows if t["uitslag"] == "gefaald"]
    # the wrong row says what the row expected and what the check found
    wrong = next(m for m in failed if "verwacht geslaagd, maar de uitslag is gefaald" in m)
    assert "eindigt niet op een all-mechanisme" in wrong, wrong
    # the right verdict with a key word the explanation lacks fails too, naming the word
    assert any("de toelichting noemt softfail niet" in m for m in failed), failed
    # the row that expects 'gefaald' is a passing test, not a failing or warning agreement of the keten
    assert next(t for t in rows if t["uitslag"] == "geslaagd")["deelnemers"] == []
    # a scenario that names one rule of B02 while spf.all fails, fails: the finding is not left unjudged
    half = next(t for t in results.values() if "maar één regel" in t["scenario"])
    assert half["uitslag"] == "gefaald", out
    assert "beoordeelt niet alles" in half["melding"] and "spf.all" in half["melding"], half["melding"]


# --- malformed rows: one clear error, before any keten starts ----------------------------------------

@pytest.mark.parametrize("deelnemer, instelling, waarde, fout", [
    ("ggd-nergens", "maildomein.spf", "v=spf1 -all", "onbekende deelnemer"),
    ("ggd-flevoland", "maildomein.spf", "[niet: gesloten", "geen geldige YAML-waarde"),
    ("ggd-flevoland", "schakelaar", "true", "schakelaar. zonder naam"),
    ("ggd-flevoland", "keten", "1", "keten. zonder naam"),
])
def test_a_malformed_row_is_one_clear_error(deelnemer, instelling, waarde, fout):
    from ketentest.config import load_keten
    from ketentest.defecten import overlay
    from ketentest.errors import KetenConfigError

    with pytest.raises(KetenConfigError, match=fout):
        overlay(load_keten(None), deelnemer, instelling, waarde)


def test_a_row_becomes_the_same_overlay_as_a_defect():
    from ketentest.config import load_keten
    from ketentest.defecten import overlay

    keten = load_keten(None)
    assert overlay(keten, "ggd-flevoland", "maildomein.spf", "null").keten == {
        "meldpunten.ggd-flevoland.maildomein.spf": None}
    assert overlay(keten, "politie-mn", "maildomein.tlsa", '["3 1 1"]').keten == {"politie.maildomein.tlsa": ["3 1 1"]}
    assert overlay(keten, "politie-mn", "schakelaar.herhalen", "false").schakelaars == {"politie": {"herhalen": False}}
    assert overlay(keten, "ggd-flevoland", "schakelaar.mail.perm_failure", "true").schakelaars == {
        "ggd-flevoland": {"mail": {"perm_failure": True}}}
    assert overlay(keten, "ggd-flevoland", "keten.aannames.max_pdf_mb", "5").keten == {"aannames.max_pdf_mb": 5}
