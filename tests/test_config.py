"""Keten files: the default loads; every malformed file gets one clear error
naming the file, the key and the problem."""

from __future__ import annotations

import pytest
import yaml

from ketentest.config import builtin_ketens, load_keten, parse_keten
from ketentest.errors import KetenConfigError
from ketentest.model import Rol


def default_data() -> dict:
    from importlib import resources

    return yaml.safe_load(resources.files("ketentest.data").joinpath("ketens", "midden-nederland.yaml").read_text())


def parse(data: dict):
    return parse_keten(yaml.safe_dump(data, allow_unicode=True), "variant.yaml")


def test_default_keten_is_the_pilot_region():
    keten = load_keten()
    assert keten.naam == "midden-nederland" and "midden-nederland" in builtin_ketens()
    assert keten.politie.rol is Rol.POLITIE and len(keten.meldpunten) == 3
    werkgebied = set().union(*(m.werkgebied for m in keten.meldpunten))
    assert len(werkgebied) == 38  # Utrecht, Flevoland and Gooi en Vechtstreek
    assert {"GM0344", "GM0034", "GM0402"} <= werkgebied
    assert keten.politie.domain.spf == "v=spf1 ip4:127.60.1.10 -all"  # spf: auto
    assert keten.aannames.max_pdf_bytes == 10 * 1024 * 1024


def test_keten_from_file(tmp_path):
    path = tmp_path / "mijn-keten.yaml"
    path.write_text(yaml.safe_dump(default_data()))
    assert load_keten(path).source == str(path)


def mutate(path: str, value):
    data = default_data()
    *parents, last = path.split("/")
    node = data
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return data


@pytest.mark.parametrize(
    "path, value, key, problem",
    [
        ("meldpunten/0/werkgebied", {"gemeenten": ["GM9999"]}, "meldpunten[0].werkgebied.gemeenten[0]", "onbekende CBS-gemeentecode"),
        ("meldpunten/0/werkgebied", {"veiligheidsregio": ["VR99"]}, "meldpunten[0].werkgebied.veiligheidsregio[0]", "onbekende veiligheidsregio"),
        ("meldpunten/1/werkgebied", {"gemeenten": ["GM0344"]}, "meldpunten[ggd-flevoland].werkgebied", "hoort ook al bij ggd-regio-utrecht"),
        ("politie/maildomein/naam", "politie.nl", "politie.maildomein.naam", "gereserveerd topdomein"),
        ("politie/maildomein/mx/0/ip", "10.1.2.3", "politie.maildomein.mx[0].ip", "niet op loopback"),
        ("politie/maildomein/mx/0/ip", "127.60.2.25", "meldpunten[0].maildomein.mx[0].ip", "al in gebruik"),
        ("politie/maildomein/tlsa", ["3 1 7"], "politie.maildomein.tlsa[0]", "matching 0-2"),
        ("politie/maildomein/dkim/0/type", "dsa", "politie.maildomein.dkim[0].type", "onbekend sleuteltype"),
        ("politie/maildomein/records", ["www 300 A 999.1.1.1"], "politie.maildomein.records[0]", "ongeldig A-record"),
        ("politie/maildomein/records", ["zomaar tekst"], "politie.maildomein.records[0]", "geen record"),
        ("politie/maildomein/records", ["elders.example. 300 A 127.0.0.9"], "records (elders.example)", "buiten elke zone"),
        ("politie/adres", "postkantoor@elders.test", "politie.adres", "geen adres in het maildomein"),
        ("politie/maildomein/kleur", "blauw", "politie.maildomein.kleur", "onbekende sleutel"),
        ("meldpunten/0/werkgebied", KeyError, "meldpunten[0].werkgebied", "ontbreekt"),
        ("meldpunten", [], "meldpunten", "geen enkel meldpunt"),
        ("aannames/max_pdf_mb", "tien", "aannames.max_pdf_mb", "geheel getal"),
        ("politie/maildomein/dnssec", "ja", "politie.maildomein.dnssec", "true of false"),
    ],
)
def test_each_malformed_keten_names_file_key_and_problem(path, value, key, problem):
    with pytest.raises(KetenConfigError) as err:
        parse(mutate(path, value))
    e = err.value
    assert (e.file, e.key) == ("variant.yaml", key), str(e)
    assert problem in e.problem, str(e)
    assert str(e).startswith(f"variant.yaml: {key}: ") and "Wat te doen:" in str(e)


def test_yaml_syntax_error_gives_the_line():
    with pytest.raises(KetenConfigError, match=r"regel 2, kolom"):
        parse_keten("keten: x\n  politie: [\n", "kapot.yaml")


def test_unknown_file_or_name_lists_the_builtin_ketens(tmp_path):
    with pytest.raises(KetenConfigError, match="bestand niet gevonden"):
        load_keten(tmp_path / "bestaat-niet.yaml")
    with pytest.raises(KetenConfigError, match="midden-nederland"):
        load_keten("atlantis")


def test_free_form_records_and_extra_zones_are_kept():
    data = default_data()
    data["politie"]["maildomein"]["records"] = ['_report._dmarc 300 TXT "v=DMARC1"', "@ 300 TXT \"v=spf1 -all\""]
    data["zones"] = [{"naam": "hosting.test", "dns": "127.53.9.1", "dnssec": False, "records": ["mx 300 A 127.60.9.25"]}]
    keten = parse(data)
    names = [(r.name, r.rdtype) for r in keten.politie.domain.records]
    assert names == [("_report._dmarc.politie.test", "TXT"), ("politie.test", "TXT")]
    assert keten.zones[0].name == "hosting.test" and not keten.zones[0].dnssec
    assert keten.zones[0].records[0].name == "mx.hosting.test"
