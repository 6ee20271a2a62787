"""The defect catalogue (issue 7): well-formed, covering every agreement, and
the runner that proves each defect is caught by exactly its expected
agreements — nothing missed, nothing collateral — on a green healthy keten."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ketentest.afspraken import AFSPRAKEN
from ketentest.defecten import Defect, Verwachting, catalogue, get, keten_with_defect
from ketentest.defectrun import Run, Waarneming, judge, run_features, to_json_detection
from ketentest.errors import KetenConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_catalogue_has_forty_defects_covering_every_agreement():
    defects = catalogue()
    assert len(defects) >= 40
    expected = {v.afspraak for d in defects.values() for v in (*d.verwacht, *d.waarschuwing)}
    assert expected == set(AFSPRAKEN), f"geen defect voor: {sorted(set(AFSPRAKEN) - expected)}"
    for d in defects.values():
        assert d.keten or d.dns or d.schakelaars, f"{d.id} injecteert niets"
        assert d.verwacht or d.waarschuwing, f"{d.id} verwacht niets"


def test_every_keten_edit_applies_and_validates(tmp_path):
    for d in catalogue().values():
        if d.keten:
            keten = keten_with_defect(None, d.id, tmp_path)
            assert keten.naam.endswith(f"+{d.id}")


def test_a_bad_edit_path_is_a_clear_error():
    bad = Defect("x", "x", "x", keten={"meldpunten.bestaat-niet.maildomein.dnssec": False})
    text = (ROOT / "ketentest" / "data" / "ketens" / "midden-nederland.yaml").read_text()
    with pytest.raises(KetenConfigError, match="geen element met id 'bestaat-niet'"):
        bad.keten_yaml(text)
    with pytest.raises(KetenConfigError, match="onbekend defect"):
        get("bestaat-niet")


def run_of(*observations) -> Run:
    return Run("d", tuple(Waarneming(*o) for o in observations), 1.0, 1)


def test_judge_names_caught_missed_and_collateral():
    d = Defect("d", "t", "w", verwacht=(Verwachting.parse("B01@ggd-flevoland"), Verwachting.parse("V07")))
    run = run_of(("s1", ("B01",), ("ggd-flevoland",), "gefaald"),
                 ("s2", ("B02",), ("politie-mn",), "gefaald"),
                 ("s3", ("V07",), ("ggd-regio-utrecht",), "geslaagd"),
                 ("s4", ("B01",), ("ggd-regio-utrecht",), "gefaald"))
    result = judge(d, run)
    assert result.gevangen == ("B01@ggd-flevoland",)
    assert result.gemist == ("V07",)
    assert result.bijschade == ("B01@ggd-regio-utrecht", "B02@politie-mn")
    assert not result.in_orde


def test_judge_accepts_an_exact_detection():
    d = Defect("d", "t", "w", verwacht=(Verwachting.parse("V07"),))
    result = judge(d, run_of(("s", ("V07",), ("ggd-flevoland",), "gefaald"), ("t", ("V01",), (), "geslaagd")))
    assert result.in_orde and result.gevangen == ("V07",)


def test_a_harness_error_is_not_a_detection():
    d = Defect("d", "t", "w", verwacht=(Verwachting.parse("V07"),))
    result = judge(d, run_of(("s", ("V07",), ("ggd-flevoland",), "fout", "InfrastructureError: ...")))
    assert result.gemist == ("V07",) and result.fouten and not result.in_orde


needs_netns = pytest.mark.skipif(os.geteuid() != 0, reason="de defectruns draaien elk in een eigen netwerknamespace "
                                                            "(root)")


@needs_netns
def test_the_healthy_keten_is_green(tmp_path):
    """Issue 7's acceptance, first half: the keten without defect passes every
    scenario (else no detection below means anything)."""
    healthy = run_features(None, tmp_path)
    failing = sorted({f"{w.scenario} [{', '.join(w.deelnemers)}]: {w.uitslag}" for w in healthy.waarnemingen
                      if w.uitslag in ("gefaald", "fout", "waarschuwing")})
    assert healthy.waarnemingen and not failing, "\n".join(failing) or healthy.log


@needs_netns
@pytest.mark.parametrize("defect_id", sorted(catalogue()))
def test_the_defect_is_caught_exactly(defect_id, tmp_path):
    """Issue 7's acceptance, per defect (so pytest-xdist spreads the runs over
    workers): caught by exactly its expected agreements — nothing missed,
    no collateral, no harness errors."""
    detection = judge(get(defect_id), run_features(defect_id, tmp_path))
    summary = to_json_detection(detection)
    assert detection.in_orde, json.dumps(summary, ensure_ascii=False, indent=1)


def test_detection_matrix_page_shows_each_cell():
    from ketentest.report.catalogus import cell_states, render, write_allure

    result = {"gezond": {"gefaald": []}, "seconden": 12.0, "defecten": [
        {"id": "a", "titel": "A", "wat": "w", "verwacht": ["B01@x"], "gevangen": ["B01@x"], "gemist": [],
         "bijschade": [], "fouten": [], "in_orde": True},
        {"id": "b", "titel": "B", "wat": "w", "verwacht": ["V07"], "gevangen": [], "gemist": ["V07"],
         "bijschade": ["B02@y"], "fouten": [], "in_orde": False}]}
    assert cell_states(result["defecten"][1]) == {"V07": "gemist", "B02": "bijschade"}
    page = render(result)
    assert "<b>1 van de 2</b> defecten precies gevangen" in page and "nog niet sterk genoeg" in page
    assert 'data-defect="a"' in page and 'data-afspraak="B01" data-uitslag="gevangen"' in page
    assert 'data-afspraak="V07" data-uitslag="gemist"' in page
    import tempfile

    files = write_allure(result, Path(tempfile.mkdtemp()))
    allure = [json.loads(f.read_text()) for f in files]
    assert [r["status"] for r in allure] == ["passed", "failed"]
    assert {"name": "epic", "value": "Defectencatalogus"} in allure[1]["labels"]
    assert "gemist: V07" in allure[1]["statusDetails"]["message"]
