"""Routering V01: postcode -> gemeente -> meldpunt, and clear errors, never a guess."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ketentest.config import load_keten
from ketentest.errors import DataError
from ketentest.synth import generate_meldingen
from ketentest.routering import RouteringsFout, normalise_postcode, route, route_melding


@pytest.fixture(scope="module")
def keten():
    return load_keten()


@pytest.mark.parametrize("postcode,meldpunt,gemeente", [
    ("3511 AB", "ggd-regio-utrecht", "GM0344"),  # Utrecht
    ("3811AB", "ggd-regio-utrecht", "GM0307"),  # Amersfoort
    ("1315 xx", "ggd-flevoland", "GM0034"),  # Almere
    ("8232", "ggd-flevoland", "GM0995"),  # Lelystad
    ("1211 AA", "meldpunt-gooi-vechtstreek", "GM0402"),  # Hilversum
])
def test_routes_to_the_meldpunt_of_the_gemeente(keten, postcode, meldpunt, gemeente):
    r = route(keten, postcode)
    assert r.meldpunt.id == meldpunt
    assert r.gemeente.code == gemeente
    assert r.pc4 == postcode[:4]
    assert gemeente in r.meldpunt.werkgebied
    assert "postcode" in r.methode and "CBS" in r.methode
    assert f"-> meldpunt {meldpunt}" in str(r)


def test_normalise_postcode():
    assert normalise_postcode(" 3511ab ") == ("3511 AB", "3511")
    assert normalise_postcode("3511") == ("3511", "3511")


@pytest.mark.parametrize("postcode", ["", "351 AB", "0511 AB", "ABCD", "3511 ABC", None])
def test_invalid_postcode(keten, postcode):
    with pytest.raises(RouteringsFout, match="ongeldig") as e:
        route(keten, postcode)
    assert "3511 AB" in e.value.hint


def test_unknown_postcode_is_not_guessed(keten):
    with pytest.raises(RouteringsFout) as e:
        route(keten, "1099 AA")  # a PO-box PC4 without addresses
    assert isinstance(e.value, DataError)
    assert "1099" in e.value.message and "onbekend" in e.value.message
    assert "alternatieve route" in e.value.hint


def test_postcode_outside_every_werkgebied(keten):
    with pytest.raises(RouteringsFout) as e:
        route(keten, "1012 AB")  # Amsterdam
    assert "GM0363 (Amsterdam)" in e.value.message
    assert "geen werkgebied" in e.value.message and "midden-nederland" in e.value.message
    assert "alternatieve route" in e.value.hint
    assert e.value.postcode == "1012 AB"


def test_overlapping_werkgebieden_are_refused(keten):
    a, b = keten.meldpunten[0], keten.meldpunten[1]
    broken = replace(keten, meldpunten=(a, replace(b, werkgebied=b.werkgebied | {"GM0344"})))
    with pytest.raises(RouteringsFout, match="meer dan één meldpunt"):
        route(broken, "3511 AB")


def test_route_melding_uses_the_postcode(keten):
    m = generate_meldingen(keten, seed=1, n=1)[0]
    adres = replace(m.persoon.adres, postcode="1211 AA", gemeentecode="GM0344")  # gemeentecode is not used
    m = replace(m, persoon=replace(m.persoon, adres=adres))
    assert route_melding(keten, m).meldpunt.id == "meldpunt-gooi-vechtstreek"
