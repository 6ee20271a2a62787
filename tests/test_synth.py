"""Synthetic meldingen: reproducible, valid, test-range BSNs, addresses in the werkgebied."""

from __future__ import annotations

import csv
import json
from importlib import resources

import pytest

from ketentest.config import load_keten
from ketentest.errors import DataError
from ketentest.melding import KENMERK_RE, elfproef
from ketentest.synth import BSN_TEST_RANGE, generate_meldingen, is_test_bsn, kenmerk_prefix, reserved_bsns


@pytest.fixture(scope="module")
def keten():
    return load_keten()


@pytest.fixture(scope="module")
def pc4_gemeente() -> dict[str, str]:
    """Read the CSV directly: an independent view of PC4 -> gemeentecode."""
    with resources.files("ketentest.data").joinpath("pc4_gemeente.csv").open(encoding="utf-8") as f:
        return {r["pc4"]: r["gemeentecode"] for r in csv.DictReader(f)}


def dump(meldingen) -> bytes:
    return json.dumps([m.to_dict() for m in meldingen], ensure_ascii=False, sort_keys=True).encode()


def test_same_seed_same_bytes(keten):
    assert dump(generate_meldingen(keten, 1234, 200)) == dump(generate_meldingen(keten, 1234, 200))


def test_other_seed_other_meldingen(keten):
    assert dump(generate_meldingen(keten, 1, 20)) != dump(generate_meldingen(keten, 2, 20))


def test_bsn_range_is_reserved_and_elfproef():
    assert BSN_TEST_RANGE == (999_990_000, 999_999_999)
    bsns = reserved_bsns()
    assert 900 < len(bsns) < 920  # about one number in eleven passes
    assert all(elfproef(b) and is_test_bsn(b) for b in bsns)
    assert not is_test_bsn("111222333")  # valid elfproef, but outside the range
    assert not is_test_bsn("999990018")  # in the range, fails the elfproef


def test_meldingen_are_valid_and_in_the_werkgebied(keten, pc4_gemeente):
    meldingen = generate_meldingen(keten, 20261128, 1000)
    werkgebied = set().union(*(m.werkgebied for m in keten.meldpunten))
    for m in meldingen:
        m.validate()
        a = m.persoon.adres
        assert is_test_bsn(m.persoon.bsn), m.persoon.bsn
        assert pc4_gemeente[a.postcode[:4]] == a.gemeentecode
        assert a.gemeentecode in werkgebied
        assert a.postcode[5:] not in ("SA", "SD", "SS")
        assert m.melder.email.endswith("@politie.test")
        assert m.incidentcode == "E33"
    kenmerken = [m.kenmerk for m in meldingen]
    assert len(set(kenmerken)) == len(kenmerken)
    assert all(KENMERK_RE.match(k) and k.startswith("MN-2026-") for k in kenmerken)
    assert [m.tijdstip for m in meldingen] == sorted(m.tijdstip for m in meldingen)
    # every meldpunt gets meldingen, and the data is varied
    gemeenten = {m.persoon.adres.gemeentecode for m in meldingen}
    assert all(gemeenten & mp.werkgebied for mp in keten.meldpunten)
    assert len({m.persoon.achternaam for m in meldingen}) > 300
    assert any(m.persoon.adres.toevoeging for m in meldingen)
    assert any("\n" in m.situatie for m in meldingen)
    assert {m.op_de_hoogte for m in meldingen} == {True, False}


def test_anywhere_draws_outside_the_werkgebied(keten):
    werkgebied = set().union(*(m.werkgebied for m in keten.meldpunten))
    meldingen = generate_meldingen(keten, 5, 200, anywhere=True)
    assert any(m.persoon.adres.gemeentecode not in werkgebied for m in meldingen)


def test_kenmerk_start_and_prefix(keten):
    meldingen = generate_meldingen(keten, 5, 3, start=1, jaar=2027)
    assert [m.kenmerk for m in meldingen] == ["MN-2027-000001", "MN-2027-000002", "MN-2027-000003"]
    assert all(m.tijdstip.year == 2027 for m in meldingen)
    assert kenmerk_prefix(keten) == "MN"


@pytest.mark.parametrize("kwargs", [dict(n=-1), dict(n=100_001), dict(n=5, start=999_998), dict(n=1, start=0)])
def test_bad_arguments(keten, kwargs):
    with pytest.raises(DataError):
        generate_meldingen(keten, 1, **kwargs)
