"""The ``echt`` block of a keten file (issue 15): a real deelnemer has a real
domain and real addresses, and an allowlist; every simulated deelnemer keeps
the reserved-name and loopback rules. Each rule is shown failing on its
broken case with one clear error naming file, key and problem. At the end,
such a deelnemer on the simulated internet: delivered to when listed, never
contacted when not (needs root networking: run under unshare --net)."""

from __future__ import annotations

import copy

import pytest
import yaml

from ketentest.config import load_keten, parse_keten
from ketentest.errors import KetenConfigError
from ketentest.model import Echt, ImapToegang

ECHT_DOMEIN = "meldpunt-gv.nl"
ECHT_ADRES = f"zorgmeldingen@{ECHT_DOMEIN}"


def default_data() -> dict:
    from importlib import resources

    return yaml.safe_load(resources.files("ketentest.data").joinpath("ketens", "midden-nederland.yaml").read_text())


def echt_data(**echt) -> dict:
    """The pilot keten with Gooi en Vechtstreek as a real meldpunt on a real domain."""
    data = default_data()
    m = data["meldpunten"][2]
    m["adres"] = ECHT_ADRES
    m["maildomein"] = {
        "naam": ECHT_DOMEIN,
        "dns": "192.0.2.53",
        "mx": [{"host": f"mx1.{ECHT_DOMEIN}", "ip": "192.0.2.25", "voorkeur": 10}],
        "verzenders": [{"host": f"uit.{ECHT_DOMEIN}", "ip": "192.0.2.10"}],
        "dmarc": "v=DMARC1; p=reject",
        "tlsa": ["3 1 1"],
        "records": [f"www 300 A 198.51.100.7", "alias 300 CNAME elders.voorbeeld.nl."],
    }
    m["echt"] = echt or {"toegestane_adressen": [ECHT_ADRES]}
    return data


def parse(data: dict, source: str = "hybride.yaml"):
    return parse_keten(yaml.safe_dump(data, allow_unicode=True), source)


def test_a_real_meldpunt_on_a_real_domain_parses_with_defaults():
    keten = parse(echt_data())
    gv = keten.deelnemer("meldpunt-gooi-vechtstreek")
    assert gv.echt == Echt(frozenset({ECHT_ADRES}))
    assert gv.echt.max_per_uur == 20 and gv.echt.imap is None and gv.echt.resolver is None
    assert not gv.simulated and all(d.simulated for d in keten.deelnemers if d.id != gv.id)
    assert gv.domain.name == ECHT_DOMEIN and gv.domain.mx[0].ip == "192.0.2.25"


def test_every_echt_key_parses(tmp_path):
    (tmp_path / "geheim").write_text("x")
    data = echt_data(
        toegestane_adressen=[ECHT_ADRES.upper(), f"test@post.{ECHT_DOMEIN}"],
        imap={"host": "imap.voorbeeld.nl", "ip": "192.0.2.143", "poort": 1993, "gebruiker": "ketentest",
              "wachtwoord_bestand": "geheim", "map": "Ketentest", "ca_bestand": "/etc/ssl/ca.pem"},
        max_per_uur=3600, resolver="9.9.9.9",
    )
    path = tmp_path / "hybride.yaml"
    path.write_text(yaml.safe_dump(data))
    gv = load_keten(path).deelnemer("meldpunt-gooi-vechtstreek")
    assert gv.echt.toegestane_adressen == frozenset({ECHT_ADRES, f"test@post.{ECHT_DOMEIN}"})
    assert gv.echt.imap == ImapToegang("imap.voorbeeld.nl", "192.0.2.143", 1993, "ketentest",
                                       str(tmp_path / "geheim"), "Ketentest", "/etc/ssl/ca.pem")
    assert gv.echt.max_per_uur == 3600 and gv.echt.resolver == "9.9.9.9"


def test_imap_defaults():
    gv = parse(echt_data(toegestane_adressen=[ECHT_ADRES], imap={
        "host": "imap.voorbeeld.nl", "gebruiker": "u", "wachtwoord_bestand": "/run/geheim"})).meldpunten[2]
    assert (gv.echt.imap.port, gv.echt.imap.map, gv.echt.imap.ip, gv.echt.imap.ca_bestand) == (993, "INBOX", None, None)
    assert gv.echt.imap.wachtwoord_bestand == "/run/geheim"


def test_a_real_police_is_allowed_too():
    data = default_data()
    data["politie"]["echt"] = {"toegestane_adressen": [data["politie"]["adres"]]}
    assert parse(data).politie.echt is not None


def test_the_real_domain_rules_apply_only_to_the_real_deelnemer():
    """The same real name on a simulated deelnemer is refused as before."""
    data = echt_data()
    del data["meldpunten"][2]["echt"]
    with pytest.raises(KetenConfigError) as err:
        parse(data)
    assert (err.value.key, "gereserveerd topdomein" in err.value.problem) == ("meldpunten[2].maildomein.naam", True)
    # a simulated party beside a real one still needs loopback
    data = echt_data()
    data["meldpunten"][0]["maildomein"]["mx"][0]["ip"] = "192.0.2.99"
    with pytest.raises(KetenConfigError) as err:
        parse(data)
    assert err.value.key == "meldpunten[0].maildomein.mx[0].ip" and "niet op loopback" in err.value.problem
    # and its free records may not point at the real domain
    data = echt_data()
    data["meldpunten"][0]["maildomein"]["records"] = [f"naar 300 CNAME mx1.{ECHT_DOMEIN}."]
    with pytest.raises(KetenConfigError) as err:
        parse(data)
    assert err.value.key == "meldpunten[0].maildomein.records[0]"


def _set(data: dict, path: str, value) -> dict:
    node = data
    *parents, last = path.split("/")
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return data


E = "meldpunten/2/echt"
K = "meldpunten[2].echt"
IMAP = {"host": "imap.voorbeeld.nl", "gebruiker": "u", "wachtwoord_bestand": "geheim"}


@pytest.mark.parametrize(
    "path, value, key, problem, hint",
    [
        (E, "ja", K, "verwacht een mapping", "laat echt weg"),
        (E, ["x"], K, "verwacht een mapping", "laat echt weg"),
        (E, {}, f"{K}.toegestane_adressen", "ontbreekt", ""),
        (E, {"toegestane_adressen": []}, f"{K}.toegestane_adressen", "de lijst is leeg", ECHT_ADRES),
        (E, {"toegestane_adressen": ECHT_ADRES}, f"{K}.toegestane_adressen", "verwacht een lijst", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES, 7]}, f"{K}.toegestane_adressen[1]", "niet-lege tekst", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES, "geen adres"]}, f"{K}.toegestane_adressen[1]",
         "geen e-mailadres", "meldpunt@"),
        (E, {"toegestane_adressen": [ECHT_ADRES, "a b@meldpunt-gv.nl"]}, f"{K}.toegestane_adressen[1]",
         "geen e-mailadres", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES, "iemand@gmail.com"]}, f"{K}.toegestane_adressen[1]",
         "ligt niet in het maildomein meldpunt-gv.nl", "alleen adressen van deze deelnemer"),
        (E, {"toegestane_adressen": [ECHT_ADRES, "x@nep-meldpunt-gv.nl"]}, f"{K}.toegestane_adressen[1]",
         "ligt niet in het maildomein", ""),
        (E, {"toegestane_adressen": [f"ander@{ECHT_DOMEIN}"]}, f"{K}.toegestane_adressen",
         f"het adres van de deelnemer ({ECHT_ADRES}) staat er niet op", "zet het op de lijst"),
        (E, {"toegestane_adressen": [ECHT_ADRES], "kleur": "rood"}, f"{K}.kleur", "onbekende sleutel", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "max_per_uur": 0}, f"{K}.max_per_uur", "van 1 tot en met 3600", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "max_per_uur": 3601}, f"{K}.max_per_uur", "van 1 tot en met 3600", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "max_per_uur": "20"}, f"{K}.max_per_uur", "geheel getal", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "max_per_uur": True}, f"{K}.max_per_uur", "geheel getal", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "resolver": "resolver.voorbeeld.nl"}, f"{K}.resolver",
         "geen IP-adres", "valiterende resolver"),
        (E, {"toegestane_adressen": [ECHT_ADRES], "resolver": 9}, f"{K}.resolver", "niet-lege tekst", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "imap": "imap.voorbeeld.nl"}, f"{K}.imap", "verwacht een mapping", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "imap": {**IMAP, "wachtwoord": "geheim123"}}, f"{K}.imap.wachtwoord",
         "een wachtwoord hoort niet in het ketenbestand", "wachtwoord_bestand"),
        (E, {"toegestane_adressen": [ECHT_ADRES], "imap": {"host": "imap.voorbeeld.nl", "gebruiker": "u"}},
         f"{K}.imap.wachtwoord_bestand", "ontbreekt", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "imap": {**IMAP, "poort": 0}}, f"{K}.imap.poort", "geheel getal", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "imap": {**IMAP, "poort": "993"}}, f"{K}.imap.poort", "geheel getal", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "imap": {**IMAP, "ip": "imap"}}, f"{K}.imap.ip", "geen IP-adres", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "imap": {**IMAP, "host": "imap voorbeeld"}}, f"{K}.imap.host",
         "geen geldige domeinnaam", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "imap": {**IMAP, "map": ""}}, f"{K}.imap.map", "niet-lege tekst", ""),
        (E, {"toegestane_adressen": [ECHT_ADRES], "imap": {**IMAP, "tls": False}}, f"{K}.imap.tls", "onbekende sleutel", ""),
        ("meldpunten/2/maildomein/naam", "localhost", "meldpunten[2].maildomein.naam", "geen volledige domeinnaam", ""),
        ("meldpunten/2/maildomein/mx/0/ip", "0.0.0.0", "meldpunten[2].maildomein.mx[0].ip", "geen adres van een host", ""),
        ("meldpunten/2/maildomein/mx/0/ip", "224.0.0.1", "meldpunten[2].maildomein.mx[0].ip", "geen adres van een host", ""),
        ("meldpunten/2/maildomein/dns", "ns.voorbeeld.nl", "meldpunten[2].maildomein.dns", "geen IPv4-adres", ""),
        ("meldpunten/2/adres", "meldpunt@regiogv.test", "meldpunten[2].adres", "geen adres in het maildomein", ""),
    ],
)
def test_each_malformed_echt_block_names_file_key_problem_and_what_to_do(path, value, key, problem, hint):
    with pytest.raises(KetenConfigError) as err:
        parse(_set(echt_data(), path, copy.deepcopy(value)))
    e = err.value
    assert (e.file, e.key) == ("hybride.yaml", key), str(e)
    assert problem in e.problem, str(e)
    assert hint in e.hint and e.hint, str(e)
    assert str(e).startswith(f"hybride.yaml: {key}: ") and "Wat te doen:" in str(e)


def test_the_password_itself_never_appears_in_the_error():
    data = echt_data(toegestane_adressen=[ECHT_ADRES], imap={**IMAP, "wachtwoord": "Z33r-Geheim!"})
    with pytest.raises(KetenConfigError) as err:
        parse(data)
    assert "Z33r-Geheim!" not in str(err.value)


def test_a_loopback_real_host_still_needs_its_own_address_but_real_hosts_may_share():
    data = echt_data()
    data["meldpunten"][2]["maildomein"]["mx"][0]["ip"] = "127.60.2.25"  # the simulated GGD's MX
    with pytest.raises(KetenConfigError) as err:
        parse(data)
    assert "al in gebruik" in err.value.problem
    data = echt_data()
    data["meldpunten"][2]["maildomein"]["verzenders"][0]["ip"] = "192.0.2.25"  # the same hosting server
    assert parse(data).meldpunten[2].domain.senders[0].ip == "192.0.2.25"


def test_the_documentation_names_every_echt_key():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "keten-formaat.md").read_text()
    for key in ("toegestane_adressen", "imap", "max_per_uur", "resolver", "wachtwoord_bestand", "ca_bestand",
                "poort", "gebruiker", "map"):
        assert f"`{key}`" in doc, key


# --- end to end: the simulated internet (signed DNS, Unbound), DANE, a real test MX ---------------


def test_on_the_secure_route_a_listed_address_is_delivered_and_expected_an_unlisted_one_is_never_sent(
        internet, keten, pki, tmp_path):
    """The GGD regio Utrecht as a 'real' meldpunt on its .test domain (as in the
    hybrid acceptance keten): the police deliver a melding over DANE-checked
    STARTTLS to its listed address, and the guard records what is now expected;
    to an unlisted address of the same domain nothing is looked up or sent."""
    import dataclasses

    from ketentest import verwachtingen
    from ketentest.delivery import Outcome, deliver
    from ketentest.echt import Guard
    from ketentest.mail import sign
    from ketentest.mail.compose import compose_melding, is_test_message
    from ketentest.model import Echt
    from tests.smtp_helpers import running_mx

    ggd = keten.deelnemer("ggd-regio-utrecht")
    real = dataclasses.replace(ggd, echt=Echt(frozenset({ggd.adres}), max_per_uur=5))
    hybride = dataclasses.replace(keten, meldpunten=tuple(real if m.id == ggd.id else m for m in keten.meldpunten))
    politie, host, mx1 = keten.politie, keten.politie.domain.senders[0], ggd.domain.mx[0]
    keys = [pki.dkim_key(politie.domain.name, spec) for spec in politie.domain.dkim]
    path = tmp_path / "verwachtingen.jsonl"
    guard = Guard(hybride, verwachtingen=path)

    def send(rcpt: str):
        melding = compose_melding("MN-2026-000123", b"%PDF-1.7\n%%EOF\n", sender=politie.adres, recipient=rcpt)
        data = sign(melding.data, keys)
        return deliver(data, politie.adres, rcpt, resolver=internet.resolver, source_ip=host.ip, helo=host.name,
                       timeout=10, guard=guard)

    with running_mx(pki, mx1.name, mx1.ip) as mx:
        refused = send("directeur@ggdru.test")
        assert refused.outcome is Outcome.PERMANENT and refused.mx is None and not refused.hosts
        assert "niet op de toegestane lijst van de echte deelnemer GGD" in refused.reason
        assert mx.handler.ehlo == [] and mx.handler.arrivals == []  # nobody even connected
        delivered = send(ggd.adres)
    assert delivered.outcome is Outcome.DELIVERED, delivered.describe()
    assert len(mx.handler.arrivals) == 1 and mx.handler.arrivals[0].rcpt_tos == [ggd.adres]
    assert is_test_message(mx.handler.arrivals[0].content)
    tally = guard.counter.tallies()[0]
    assert (tally.pogingen, tally.bezorgd, tally.geweigerd) == (1, 1, 1)
    assert [(v.kenmerk, v.deelnemer, v.soort.value) for v in verwachtingen.load(path)] == [
        ("MN-2026-000123", ggd.id, "ontvangstbevestiging"), ("MN-2026-000123", ggd.id, "terugkoppeling")]


def test_ketentest_keten_shows_which_deelnemers_are_real(tmp_path, capsys):
    from ketentest.cli import main

    path = tmp_path / "hybride.yaml"
    path.write_text(yaml.safe_dump(echt_data(toegestane_adressen=[ECHT_ADRES], max_per_uur=5), allow_unicode=True))
    assert main(["keten", "--keten", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{ECHT_ADRES}, ECHT" in out and f"echt: alleen mail naar {ECHT_ADRES}; hoogstens 5 per uur" in out
    assert out.count("gesimuleerd") == 3  # the police and the two other meldpunten
