"""The built-in national keten (issue 14): generated from the project's public
data, every gemeente and every PC4 at exactly one meldpunt, each meldpunt its
own signed domain, and the whole keten really runs: one melding to every
meldpunt, delivered and confirmed.

The test that starts the keten needs its own loopback:
    unshare --net sh -c 'ip link set lo up && exec .venv/bin/pytest tests/test_landelijk.py -q'
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time
from collections import Counter

import pytest
import yaml

from ketentest import landelijk, referentie
from ketentest.cli import main
from ketentest.config import builtin_keten_text, builtin_ketens, load_keten, parse_keten
from ketentest.errors import KetenConfigError
from ketentest.routering import route

VARIANTS = {"landelijk": 25, "landelijk-100": 100}


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request):
    return request.param, load_keten(request.param)


def test_both_variants_are_builtin_with_the_promised_number_of_meldpunten(variant):
    name, keten = variant
    assert name in builtin_ketens() and "midden-nederland" in builtin_ketens()
    assert keten.source == f"ingebouwd:{name}" and keten.naam == name
    assert len(keten.meldpunten) == VARIANTS[name]
    assert keten.politie.domain.name == "politie.test"


def test_every_gemeente_lies_in_exactly_one_werkgebied(variant):
    _, keten = variant
    owners = Counter(code for m in keten.meldpunten for code in m.werkgebied)
    assert set(owners) == set(referentie.gemeenten()) and len(owners) == 342
    assert set(owners.values()) == {1}


def test_every_pc4_routes_to_exactly_one_meldpunt(variant):
    _, keten = variant
    reached = Counter()
    for pc4 in referentie.postcodegebieden():
        reached[route(keten, pc4).meldpunt.id] += 1  # RouteringsFout if none, or more than one
    assert sum(reached.values()) == 4072
    assert set(reached) == {m.id for m in keten.meldpunten}  # no meldpunt without a postcode


def test_one_meldpunt_per_veiligheidsregio_by_default():
    keten = load_keten("landelijk")
    regions = [{referentie.gemeenten()[c].veiligheidsregio for c in m.werkgebied} for m in keten.meldpunten]
    assert sorted(r.pop() for r in regions if len(r) == 1) == [f"VR{i:02d}" for i in range(1, 26)]
    utrecht = keten.deelnemer("meldpunt-utrecht")
    assert utrecht.domain.name == "mp-utrecht.test" and utrecht.werkgebied == referentie.gemeenten_in_veiligheidsregio("VR09")
    assert keten.deelnemer("mp-fryslan.test").id == "meldpunt-fryslan"  # ASCII, lowercase


def test_the_hundred_split_each_region_into_consecutive_groups_of_near_equal_size():
    keten = load_keten("landelijk-100")
    gemeenten = referentie.gemeenten()
    per_region: dict[str, list[int]] = {}
    for m in keten.meldpunten:
        regions = {gemeenten[c].veiligheidsregio for c in m.werkgebied}
        assert len(regions) == 1, f"{m.id} spans {regions}"
        per_region.setdefault(regions.pop(), []).append(len(m.werkgebied))
    assert len(per_region) == 25
    for sizes in per_region.values():
        assert max(sizes) - min(sizes) <= 1
    assert max(max(s) for s in per_region.values()) <= 4  # 342 gemeenten over 100: 3 or 4 each
    amersfoort = keten.deelnemer(route(keten, "3811").meldpunt.id)
    assert "Amersfoort e.o." in amersfoort.naam and amersfoort.id.startswith("meldpunt-utrecht-")


def test_each_deelnemer_has_its_own_signed_domain_addresses_and_keys(variant):
    _, keten = variant
    addresses = Counter()
    for d in keten.deelnemers:
        dom = d.domain
        assert dom.name.endswith(".test") and dom.name.isascii() and dom.name == dom.name.lower()
        assert dom.dnssec and dom.dmarc.startswith("v=DMARC1; p=reject;")
        assert dom.spf == f"v=spf1 ip4:{dom.senders[0].ip} -all"
        assert [str(t) for t in dom.tlsa] == ["3 1 1", "2 0 1"]
        assert any(k.algorithm == "rsa" for k in dom.dkim)
        assert all(k.bits >= 3072 for k in dom.dkim if k.algorithm == "rsa")  # 2048 would warn in B03
        assert d.adres.endswith("@" + dom.name)
        for ip in (dom.dns_ip, *(h.ip for h in dom.mx), *(h.ip for h in dom.senders)):
            assert ipaddress.IPv4Address(ip).is_loopback
            addresses[ip] += 1
    assert set(addresses.values()) == {1}
    assert {keten.dns.root_ip, keten.dns.resolver_ip}.isdisjoint(addresses)
    algorithms = Counter(k.algorithm for m in keten.meldpunten for k in m.domain.dkim)
    assert algorithms["ed25519"] and algorithms["rsa"] == len(keten.meldpunten)


def test_one_meldpunt_per_gemeente_is_the_upper_bound_and_still_valid():
    """342 meldpunten: the address slots run past 255 without collisions."""
    keten = load_keten("landelijk-342")
    assert len(keten.meldpunten) == 342 and all(len(m.werkgebied) == 1 for m in keten.meldpunten)
    assert keten.meldpunten[-1].domain.dns_ip == "127.55.87.1"


def test_generation_is_deterministic_and_the_yaml_is_the_same_keten():
    assert landelijk.keten_yaml(100) == landelijk.keten_yaml(100)
    text = builtin_keten_text("landelijk-100")
    assert text.startswith("# Keten landelijk-100: gegenereerd")
    from_text = parse_keten(text, "ingebouwd:landelijk-100")
    assert from_text == load_keten("landelijk-100")
    assert yaml.safe_load(text) == landelijk.keten_data(100)
    assert landelijk.keten_data(25) == landelijk.keten_data()


@pytest.mark.parametrize("name, problem", [
    ("landelijk-7", "25 tot en met 342 meldpunten, niet 7"),
    ("landelijk-343", "niet 343"),
    ("landelijk-", "geen ''"),
    ("landelijk-honderd", "geen 'honderd'"),
    ("landelijk-1e2", "geen '1e2'"),
    ("landelijk-٣٠", "geen '٣٠'"),
])
def test_a_malformed_generator_option_is_one_dutch_error(name, problem, capsys):
    with pytest.raises(KetenConfigError) as e:
        load_keten(name)
    assert problem in e.value.problem and e.value.file == name
    assert main(["keten", "--keten", name]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"ketentest: {name}: (keten): ") and "Wat te doen: kies 'landelijk'" in err
    assert "Traceback" not in out + err and len(err.splitlines()) == 2
    with pytest.raises(KetenConfigError, match="25 tot en met 342"):
        landelijk.keten_data(0)


def test_the_overview_is_one_line_per_meldpunt(capsys):
    assert main(["keten", "--keten", "landelijk"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "postkantoor@politie.test" in out and "DKIM pol2026e (ed25519), pol2026r (rsa 3072)" in out
    rows = [line for line in lines if line.strip().startswith("meldpunt-")]
    assert len(rows) == 25 and len(lines) < 50
    assert any("mp-utrecht.test" in r and "VR09 Utrecht (26 gemeenten)" in r for r in rows)
    assert main(["keten", "--keten", "landelijk", "--volledig"]) == 0
    assert capsys.readouterr().out.count("werkgebied (") == 25
    assert main(["keten"]) == 0  # the pilot's three stay in full
    assert capsys.readouterr().out.count("werkgebied (") == 3


def test_schrijf_writes_an_editable_keten_file(tmp_path, capsys):
    path = tmp_path / "mijn-landelijk.yaml"
    assert main(["keten", "--keten", "landelijk-100", "--schrijf", str(path)]) == 0
    assert str(path) in capsys.readouterr().out
    assert dataclasses.replace(load_keten(path), source="x") == dataclasses.replace(load_keten("landelijk-100"), source="x")
    assert main(["keten", "--keten", "landelijk", "--schrijf", str(tmp_path / "geen-map" / "k.yaml")]) == 2
    assert "niet te schrijven" in capsys.readouterr().err


def test_a_defect_overlay_on_the_generated_keten_is_a_clear_error_not_a_crash():
    from ketentest.defecten import keten_with_defect

    with pytest.raises(KetenConfigError, match="geen element met id 'ggd-flevoland'"):
        keten_with_defect("landelijk", "dnssec-meldpunt-onondertekend")


# -- the keten really runs -------------------------------------------------------------------

def one_melding_per_meldpunt(keten):
    """A synthetic melding for a person in a gemeente of each meldpunt (its first PC4)."""
    from ketentest.synth import generate_meldingen

    pc4s = {}
    for pc4, gebied in sorted(referentie.postcodegebieden().items()):
        if gebied.woonplaatsen:
            pc4s.setdefault(gebied.gemeentecode, gebied)
    out = {}
    for m, melding in zip(keten.meldpunten, generate_meldingen(keten, 20261214, len(keten.meldpunten))):
        gebied = pc4s[sorted(m.werkgebied)[0]]
        adres = dataclasses.replace(melding.persoon.adres, postcode=f"{gebied.pc4} AB", woonplaats=gebied.woonplaats,
                                    gemeentecode=gebied.gemeentecode)
        out[m.id] = dataclasses.replace(melding, persoon=dataclasses.replace(melding.persoon, adres=adres)).validate()
    return out


@pytest.fixture(scope="module")
def landelijk_sim(internet_lab):
    keten = load_keten("landelijk")
    internet_lab.stop()  # addresses of another keten
    started = time.monotonic()
    internet_lab.start(keten)
    internet_up = time.monotonic()
    sim = internet_lab.start_sim(keten)
    sim.opstarttijd = (internet_up - started, time.monotonic() - internet_up)
    yield sim
    internet_lab.stop()  # 27 processes: free them for whatever runs next


def test_the_landelijke_keten_delivers_and_confirms_one_melding_per_meldpunt(landelijk_sim, capsys):
    from simulators.belasting import FINAL, tally

    sim = landelijk_sim
    keten = sim.keten
    dns_s, parties_s = sim.opstarttijd
    with capsys.disabled():
        print(f"\nlandelijke keten ({len(keten.meldpunten)} meldpunten) opgestart in {dns_s + parties_s:.1f} s "
              f"(DNS en Unbound {dns_s:.1f} s, politie en meldpunten {parties_s:.1f} s)")
    started = time.monotonic()
    expected = {}
    for meldpunt_id, melding in one_melding_per_meldpunt(keten).items():
        answer = sim.submit(melding.to_dict())
        assert "fout" not in answer, answer
        assert answer["meldpunt"] == meldpunt_id
        expected[answer["kenmerk"]] = meldpunt_id
    sim.run_until(sim.now() + keten.aannames.herhalen_uren * 3600 + 3600,
                  stop=lambda: not set(sim.politie.get("/telling")) - FINAL - {"bezorgd"})
    sim.run_until(sim.now() + keten.aannames.bevestiging_minuten * 60)  # the confirmations come back
    result = tally(sim, list(expected), Counter(), time.monotonic() - started)
    with capsys.disabled():
        print(result.samenvatting())
    assert result.eindtoestanden == {"bezorgd en bevestigd": len(keten.meldpunten)}, result.samenvatting()
    assert result.in_orde, result.samenvatting()
    for meldpunt_id, handle in sim.meldpunten.items():
        registered = [r["kenmerk"] for r in handle.get("/meldingen")]
        assert registered == [k for k, m in expected.items() if m == meldpunt_id], meldpunt_id


def test_the_landelijke_keten_passes_the_b_checks(landelijk_sim, internet_lab):
    """B01-B06 on the police and three meldpunten (one with Ed25519 beside RSA)
    on the same DNS; the check runs its own mail servers, so the parties stop
    (all 26 domains: `ketentest check --keten landelijk`)."""
    from ketentest.checks.runner import check_keten
    from ketentest.verdict import Uitslag

    keten = landelijk_sim.keten
    net = internet_lab.start(keten)  # stops the parties, keeps this keten's DNS
    domains = ["politie.test", "mp-groningen.test", "mp-fryslan.test", "mp-flevoland.test"]
    run = check_keten(keten, domains, internet=net)
    assert [r.domain for r in run.reports] == domains
    for report in run.reports:
        assert report.verdict is Uitslag.GESLAAGD, [(r.agreement, r.verdict) for r in report.results]
