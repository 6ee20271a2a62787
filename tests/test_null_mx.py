"""A domain without MX hosts in a keten file (issue 11, point 5): ``mx: []``
is one clear keten-file error (it used to pass ``ketentest keten`` and end
``ketentest check`` in a traceback); ``null_mx: true`` writes a pure null MX
(RFC 7505), which the simulated DNS publishes, the checks judge and the
sender refuses."""

from __future__ import annotations

import pytest
import yaml

from ketentest.checks.runner import check_targets, simulated_keten
from ketentest.cli import main
from ketentest.config import load_keten, parse_keten
from ketentest.delivery import Outcome, deliver
from ketentest.errors import KetenConfigError
from ketentest.verdict import Uitslag

GV = 2  # meldpunten[2]: meldpunt-gooi-vechtstreek, regiogv.test


def default_data() -> dict:
    from importlib import resources

    return yaml.safe_load(resources.files("ketentest.data").joinpath("ketens", "midden-nederland.yaml").read_text())


def variant(**maildomein) -> dict:
    data = default_data()
    domain = data["meldpunten"][GV]["maildomein"]
    for key, value in maildomein.items():
        if value is KeyError:
            domain.pop(key, None)
        else:
            domain[key] = value
    return data


def parse(data: dict):
    return parse_keten(yaml.safe_dump(data, allow_unicode=True), "variant.yaml")


def test_an_empty_mx_list_is_one_clear_keten_error() -> None:
    with pytest.raises(KetenConfigError) as e:
        parse(variant(mx=[]))
    assert e.value.key == "meldpunten[2].maildomein.mx" and "de lijst is leeg" in e.value.problem
    assert "null_mx: true" in e.value.hint


def test_ketentest_keten_and_check_report_it_in_dutch_without_a_traceback(tmp_path, capsys) -> None:
    path = tmp_path / "leeg-mx.yaml"
    path.write_text(yaml.safe_dump(variant(mx=[]), allow_unicode=True))
    for command in (["keten", "--keten", str(path)], ["check", "--keten", str(path)]):
        assert main(command) != 0
        out = capsys.readouterr()
        text = out.out + out.err
        assert "maildomein.mx: de lijst is leeg" in text and "Traceback" not in text, text


@pytest.mark.parametrize("data, key, words", [
    (variant(null_mx=True), "meldpunten[2].maildomein.null_mx", ("naast mx-hosts", "RFC 7505")),
    (variant(mx=KeyError), "meldpunten[2].maildomein.mx", ("ontbreekt",)),
    (variant(mx=KeyError, null_mx="ja"), "meldpunten[2].maildomein.null_mx", ("true of false",)),
])
def test_null_mx_mistakes_are_clear_errors(data, key, words) -> None:
    with pytest.raises(KetenConfigError) as e:
        parse(data)
    assert e.value.key == key
    for w in words:
        assert w in e.value.problem


def test_a_pure_null_mx_is_expressible(tmp_path, capsys) -> None:
    path = tmp_path / "null-mx.yaml"
    path.write_text(yaml.safe_dump(variant(mx=KeyError, null_mx=True), allow_unicode=True))
    assert main(["keten", "--keten", str(path)]) == 0
    assert "MX 0 . (null MX: ontvangt geen mail)" in capsys.readouterr().out
    keten = load_keten(path)
    domain = keten.deelnemer("meldpunt-gooi-vechtstreek").domain
    assert domain.null_mx and domain.mx == ()
    assert not keten.deelnemer("ggd-flevoland").domain.null_mx


@pytest.mark.dns
def test_a_pure_null_mx_is_published_judged_and_refused(internet_lab, tmp_path) -> None:
    path = tmp_path / "null-mx.yaml"
    path.write_text(yaml.safe_dump(variant(mx=KeyError, null_mx=True), allow_unicode=True))
    keten = load_keten(path)
    net = internet_lab.start(keten)
    assert net.resolver.lookup("regiogv.test", "MX").records == ("0 .",)
    gv = keten.deelnemer("meldpunt-gooi-vechtstreek")
    with simulated_keten(keten, internet=net) as sim:
        (report,) = check_targets([gv], sim.resolver, ["B01", "B05", "B06"], context=sim.context)
    for result in report.results:
        assert result.verdict is Uitslag.NIET_TESTBAAR and "null MX" in result.summary(), result.summary()
    assert report.result("B01").subtest("dnssec.domein").verdict is Uitslag.GESLAAGD
    sender = keten.politie.domain.senders[0]
    attempt = deliver(b"Subject: x\r\n\r\ntest\r\n", keten.politie.adres, gv.adres, resolver=net.resolver,
                      source_ip=sender.ip, helo=sender.name, timeout=5)
    assert attempt.outcome is Outcome.PERMANENT and "null MX" in attempt.reason and not attempt.hosts


def test_a_keten_run_refuses_a_null_mx_deelnemer_before_starting_anything(tmp_path) -> None:
    from simulators.keten import KetenSimulatie
    from simulators.pki import Pki

    keten = parse(variant(mx=KeyError, null_mx=True))
    with pytest.raises(KetenConfigError) as e:
        KetenSimulatie(keten, Pki(), tmp_path).__enter__()
    assert e.value.key == "meldpunt-gooi-vechtstreek.maildomein.null_mx" and "ketentest check" in e.value.hint
