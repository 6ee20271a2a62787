"""The Melding model: validation names the field, dict and flat views round-trip."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime

import pytest

from ketentest.errors import DataError
from ketentest.melding import (
    LABELS,
    VELDEN,
    Adres,
    Melder,
    Melding,
    Persoon,
    Risico,
    compare,
    elfproef,
)


def voorbeeld() -> Melding:
    return Melding(
        kenmerk="MN-2026-000123",
        tijdstip=datetime(2026, 3, 14, 9, 30),
        registratienummer="PL0900-2026123456",
        incidentcode="E33",
        persoon=Persoon(
            voornamen="Anna Maria",
            achternaam="van der Berg",
            geboortedatum=date(1961, 5, 17),
            bsn="999990019",
            adres=Adres("Kerkstraat", 12, "A", "3511 AB", "Utrecht", "GM0344"),
        ),
        signaal="Buren melden stankoverlast uit de woning.",
        situatie="Woning sterk vervuild.\nBetrokkene wil praten met het wijkteam.",
        risicos=(Risico.VERWAARLOZING, Risico.VEREENZAMING),
        op_de_hoogte=True,
        melder=Melder("Jan Jansen", "06-01234567", "j.jansen@politie.test", "Basisteam Utrecht-Centrum"),
    )


def with_field(m: Melding, key: str, value) -> Melding:
    """Replace one (dotted) field of a melding."""
    head, _, rest = key.partition(".")
    if not rest:
        return replace(m, **{head: value})
    return replace(m, **{head: with_field(getattr(m, head), rest, value)})


def test_voorbeeld_is_valid():
    assert voorbeeld().validate() == voorbeeld()
    assert voorbeeld().problems() == []


@pytest.mark.parametrize("bsn,ok", [
    ("999990019", True), ("111222333", True), ("123456782", True),
    ("123456789", False), ("000000000", False), ("99999001", False), ("99999001x", False), ("９９９９９００１９", False),
])
def test_elfproef(bsn, ok):
    assert elfproef(bsn) is ok


BAD = [
    ("kenmerk", "MN-26-123"),
    ("kenmerk", "mn-2026-000123"),
    ("tijdstip", datetime(2026, 3, 14, 9, 30, 15)),
    ("tijdstip", "2026-03-14 09:30"),
    ("registratienummer", "123"),
    ("incidentcode", "E3"),
    ("persoon.voornamen", ""),
    ("persoon.voornamen", " Anna"),
    ("persoon.achternaam", "Berg\x07"),
    ("persoon.achternaam", "x" * 101),
    ("persoon.geboortedatum", date(2027, 1, 1)),
    ("persoon.geboortedatum", date(1890, 1, 1)),
    ("persoon.bsn", "999990018"),
    ("persoon.bsn", 999990019),
    ("persoon.adres.straat", "Kerk\nstraat"),
    ("persoon.adres.huisnummer", 0),
    ("persoon.adres.huisnummer", True),
    ("persoon.adres.toevoeging", "heel lang"),
    ("persoon.adres.postcode", "3511AB"),
    ("persoon.adres.postcode", "0511 AB"),
    ("persoon.adres.postcode", "3511 SS"),
    ("persoon.adres.woonplaats", ""),
    ("persoon.adres.gemeentecode", "GM9999"),
    ("signaal", ""),
    ("situatie", "x" * 1501),
    ("risicos", (Risico.OVERLAST, Risico.OVERLAST)),
    ("risicos", ("overlast",)),
    ("op_de_hoogte", "ja"),
    ("melder.naam", ""),
    ("melder.telefoon", "bel me"),
    ("melder.email", "Jan@politie"),
    ("melder.basisteam", ""),
]


@pytest.mark.parametrize("key,value", BAD, ids=[f"{k}={v!r}"[:40] for k, v in BAD])
def test_validate_names_the_field(key, value):
    with pytest.raises(DataError) as e:
        with_field(voorbeeld(), key, value).validate()
    assert f"({key})" in e.value.message
    assert LABELS[key] in e.value.message
    assert e.value.hint


def test_validate_counts_further_problems():
    m = with_field(with_field(voorbeeld(), "persoon.bsn", "1"), "melder.email", "x")
    with pytest.raises(DataError, match=r"BSN \(persoon.bsn\).*en nog 1 andere fout"):
        m.validate()


def test_dict_round_trip_through_json():
    m = voorbeeld()
    text = json.dumps(m.to_dict(), ensure_ascii=False, sort_keys=True)
    assert Melding.from_dict(json.loads(text)) == m
    assert json.loads(text)["persoon"]["adres"]["postcode"] == "3511 AB"
    assert json.loads(text)["risicos"] == ["verwaarlozing", "vereenzaming"]


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d.pop("signaal"), r"velden ontbreken: Signaal \(signaal\)"),
    (lambda d: d["persoon"]["adres"].pop("postcode"), r"Postcode \(persoon.adres.postcode\)"),
    (lambda d: d.update(extra=1), r"onbekende velden: extra"),
    (lambda d: d["persoon"].update(bsn=999990019), r"BSN \(persoon.bsn\)"),
    (lambda d: d.update(tijdstip="gisteren"), r"tijdstip"),
    (lambda d: d.update(risicos=["brand"]), r"Risico-indicaties \(risicos\)"),
    (lambda d: d.update(persoon=[]), r"persoon: verwacht een object"),
])
def test_from_dict_rejects_bad_input(mutate, expected):
    d = voorbeeld().to_dict()
    mutate(d)
    with pytest.raises(DataError, match=expected):
        Melding.from_dict(d)


def test_velden_round_trip_and_order():
    m = voorbeeld()
    v = m.velden()
    assert tuple(v) == VELDEN
    assert v["risicos"] == "verwaarlozing,vereenzaming"
    assert v["op_de_hoogte"] == "ja"
    assert Melding.from_velden(v) == m
    leeg = replace(m, risicos=(), persoon=replace(m.persoon, adres=replace(m.persoon.adres, toevoeging="")))
    assert Melding.from_velden(leeg.velden()) == leeg


def test_from_velden_missing_and_extra():
    v = voorbeeld().velden()
    del v["persoon.bsn"]
    with pytest.raises(DataError, match=r"velden ontbreken: BSN \(persoon.bsn\)"):
        Melding.from_velden(v)
    v = voorbeeld().velden() | {"bijlage": "x"}
    with pytest.raises(DataError, match="onbekende velden: bijlage"):
        Melding.from_velden(v)


def test_compare_names_every_difference():
    a = voorbeeld()
    assert compare(a, a) == []
    b = with_field(with_field(a, "persoon.adres.postcode", "3512 AB"), "op_de_hoogte", False)
    diffs = compare(a, b)
    assert [d.veld for d in diffs] == ["persoon.adres.postcode", "op_de_hoogte"]
    assert str(diffs[0]) == "Postcode (persoon.adres.postcode): verwacht '3511 AB', ontvangen '3512 AB'"
    assert diffs[1].label == "Betrokkene is op de hoogte van de melding"
