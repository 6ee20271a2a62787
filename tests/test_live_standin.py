"""Live mode against a stand-in for the internet (issue 15): the keten's own
root presented as the real one (its root hints and trust anchor), so the code
that `ketentest check --live` and the real deelnemers' resolver run against
the internet runs here: the same verdicts as the simulated check, a clean
preflight, and the broken cases (a wrong anchor, a dead root) that say so.
delv, with its own validator, is the second opinion."""

from __future__ import annotations

import difflib
import json
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import dns.dnssec
import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import pytest

from ketentest.checks.runner import (LIVE_RESOLVER_IP, ROOT_KEY, EchtResolver, check_keten, check_targets,
                                     live_unbound, live_unbound_config, parse_resolver_address, resolver_for_echt,
                                     simulated_keten)
from ketentest.config import load_keten
from ketentest.dns import DnssecState, Resolver
from ketentest.errors import InfrastructureError, KetenConfigError, KetentestError
from ketentest.model import Echt, Keten, Rol
from ketentest.verdict import Uitslag
from simulators.standin import delv_anchors, stand_in

pytestmark = pytest.mark.dns

#: The live configuration as it was before the stand-in existed (production path).
TODAYS_LIVE_CONFIG = """\
server:
    interface: 127.54.53.53
    port: 53
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "/var/tmp/ub"
    pidfile: ""
    use-syslog: no
    logfile: ""
    log-time-ascii: yes
    verbosity: 1
    val-log-level: 2
    num-threads: 1
    so-reuseport: no
    interface-automatic: no
    access-control: 127.0.0.0/8 allow
    trust-anchor-file: "/usr/share/dns/root.key"
    module-config: "validator iterator"
    ede: yes
    prefetch: no
    val-bogus-ttl: 1
remote-control:
    control-enable: yes
    control-interface: "/var/tmp/ub/unbound.ctl"
    control-use-cert: no
"""

#: An address on loopback where nothing listens (no keten uses 127.54.0.0/16 but the live resolver).
DEAD_ROOT_IP = "127.54.0.99"


def verdicts(reports) -> dict[tuple[str, str], Uitslag]:
    return {(rep.domain, r.agreement): r.verdict for rep in reports for r in rep.results}


def subtest_verdicts(reports) -> dict[tuple[str, str], Uitslag]:
    return {(rep.domain, s.id): s.verdict for rep in reports for r in rep.results for s in r.subtests}


def wrong_anchor(path: Path) -> Path:
    """A root DS for a key the stand-in root does not have."""
    from simulators.dns.zones import make_key

    ds = dns.dnssec.make_ds(dns.name.root, make_key(257)[1], "SHA256")
    path.write_text(f". 3600 IN DS {ds.to_text()}\n")
    return path


def dead_root_hints(path: Path) -> Path:
    path.write_text(f". 3600 IN NS a.root-servers.test.\na.root-servers.test. 3600 IN A {DEAD_ROOT_IP}\n")
    return path


# -- pure: the configuration -----------------------------------------------------------

def test_the_production_config_is_unchanged_and_the_stand_in_only_adds_its_root() -> None:
    today = live_unbound_config("127.54.53.53", 53, "/var/tmp/ub")
    assert today == TODAYS_LIVE_CONFIG  # byte for byte: no root-hints line, the real anchor
    assert "root-hints" not in today and f'trust-anchor-file: "{ROOT_KEY}"' in today
    standin = live_unbound_config("127.54.53.53", 53, "/var/tmp/ub", "/s/root.key", "/s/root.hints")
    diff = [line for line in difflib.ndiff(today.splitlines(), standin.splitlines()) if line[:1] in "+-"]
    assert diff == [
        '-     trust-anchor-file: "/usr/share/dns/root.key"',
        '+     trust-anchor-file: "/s/root.key"',
        '+     root-hints: "/s/root.hints"',
        "+     do-not-query-localhost: no",  # the stand-in's servers are on loopback
        '+     local-zone: "test." nodefault',  # its root, not Unbound, decides about test.
        '+     local-zone: "example." nodefault',
        '+     local-zone: "invalid." nodefault',
    ], "\n".join(diff)


def test_missing_files_are_refused_before_unbound_starts(tmp_path) -> None:
    with pytest.raises(InfrastructureError, match="root-sleutelanker .*ontbreekt") as e:
        live_unbound(root_key=tmp_path / "geen.key")
    assert "sleutelankerbestand" in e.value.hint  # not the dns-root-data hint: a file of one's own
    (tmp_path / "root.key").write_text(". 3600 IN DS 1 13 2 00\n")
    with pytest.raises(InfrastructureError, match="root-hints-bestand .*ontbreekt"):
        live_unbound(root_key=tmp_path / "root.key", root_hints=tmp_path / "geen.hints")


def test_root_hints_and_anchor_are_refused_without_live(tmp_path) -> None:
    with pytest.raises(KetentestError, match="alleen voor live"):
        check_keten(load_keten(), live=False, root_hints=tmp_path / "root.hints")
    with pytest.raises(KetentestError, match="alleen voor live"):
        check_keten(load_keten(), trust_anchor=tmp_path / "root.key")


def test_delv_anchor_block_and_resolver_addresses() -> None:
    digest = "d0175c74d9f302f938f4736a7f3cb4c981d8d69f7e0c943a5c4c31dfec110f75"
    block = delv_anchors(f". 3600 IN DS 24184 13 2 {digest}\n. IN DNSKEY 257 3 13 AAEC AwQ=\n")  # no TTL: as root.key
    assert block == ('trust-anchors {\n'
                     f'    . static-ds 24184 13 2 "{digest.upper()}";\n'
                     '    . static-key 257 3 13 "AAECAwQ=";\n'
                     '};\n')
    with pytest.raises(ValueError, match="geen DS- of DNSKEY"):
        delv_anchors(". 3600 IN NS a.root-servers.test.\n")
    assert parse_resolver_address("192.0.2.53") == ("192.0.2.53", 53)
    assert parse_resolver_address("192.0.2.53:5353") == ("192.0.2.53", 5353)
    assert parse_resolver_address("[2001:db8::53]:5353") == ("2001:db8::53", 5353)
    assert parse_resolver_address("2001:db8::53") == ("2001:db8::53", 53)
    for bad in ("resolver.example", "192.0.2.53:0", "192.0.2.53:x"):
        with pytest.raises(InfrastructureError, match="geen geldig adres"):
            parse_resolver_address(bad)


# -- against the stand-in -----------------------------------------------------------

@pytest.fixture(scope="module")
def standin(internet_lab):
    """The built-in keten's simulated internet and every MX (the internet the
    live code will face), and the stand-in's root hints and trust anchor."""
    keten = load_keten()
    net = internet_lab.start(keten)
    with simulated_keten(keten, internet=net) as sim, stand_in(net) as files:
        yield sim, files


def test_stand_in_files_name_the_keten_root(standin) -> None:
    sim, files = standin
    keten = sim.internet.keten
    assert files.root_hints.read_text().splitlines() == [
        ". 3600 IN NS a.root-servers.test.", f"a.root-servers.test. 3600 IN A {keten.dns.root_ip}"]
    # The anchor is the DS of the KSK that the keten's root server serves (asked directly, any backend).
    reply = dns.query.udp(dns.message.make_query(".", "DNSKEY", want_dnssec=True), keten.dns.root_ip, timeout=5)
    ksk = next(k for k in reply.find_rrset(reply.answer, dns.name.root, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
               if k.flags == 257)
    ds = dns.dnssec.make_ds(dns.name.root, ksk, "SHA256")
    assert files.trust_anchor.read_text() == f". 3600 IN DS {ds.to_text()}\n"
    assert f'. static-ds {ds.key_tag} 13 2 "{ds.digest.hex().upper()}";' in files.delv_anchor.read_text()


def test_live_check_against_the_stand_in_gives_the_simulated_verdicts(standin) -> None:
    sim, files = standin
    keten = sim.internet.keten
    simulated = check_targets(keten.deelnemers, sim.resolver, context=sim.context)
    run = check_keten(keten, live=True, root_hints=files.root_hints, trust_anchor=files.trust_anchor)
    assert run.mode == "live" and run.note == "", run.note  # the stand-in root validates as secure
    assert run.resolver == f"{LIVE_RESOLVER_IP} (Unbound, root-hints {files.root_hints}, sleutelanker {files.trust_anchor})"
    assert verdicts(run.reports) == verdicts(simulated)
    assert set(verdicts(run.reports).values()) == {Uitslag.GESLAAGD}, "\n".join(
        r.summary() for rep in run.reports for r in rep.results)
    assert len(run.reports) == len(keten.deelnemers) == 4
    # Sub-test by sub-test too (B05's trust chain is informative either way).
    assert subtest_verdicts(run.reports) == subtest_verdicts(simulated)


def test_live_check_against_the_stand_in_sees_a_broken_zone_as_the_simulated_check_does(standin) -> None:
    """The same verdicts on a broken world too: expired signatures on one meldpunt's zone."""
    sim, files = standin
    keten, net = sim.internet.keten, sim.internet
    domain = next(d for d in keten.deelnemers if d.rol is Rol.MELDPUNT).domain.name
    net.zones.expire_signatures(domain)
    net.changed()
    try:
        simulated = check_targets([domain], sim.resolver, ["B01", "B06"], context=sim.context)
        run = check_keten(keten, [domain], ["B01", "B06"], live=True, root_hints=files.root_hints,
                          trust_anchor=files.trust_anchor)
    finally:
        net.reset()
    assert run.note == "", run.note  # the root itself is fine
    assert verdicts(run.reports) == verdicts(simulated)
    assert verdicts(run.reports)[(domain, "B01")] is Uitslag.GEFAALD
    assert "bogus" in run.report(domain).result("B01").summary().lower()


def test_a_wrong_trust_anchor_makes_everything_bogus(standin, tmp_path) -> None:
    sim, files = standin
    anchor = wrong_anchor(tmp_path / "ander.key")
    run = check_keten(sim.internet.keten, live=True, root_hints=files.root_hints, trust_anchor=anchor)
    assert run.note.startswith("De root-zone valideert niet als veilig") and str(anchor) in run.note, run.note
    assert "bogus" in run.note.lower() or "onveilig" in run.note.lower() or "ongeldig" in run.note.lower(), run.note
    assert not run.ok
    for (domain, agreement), verdict in verdicts(run.reports).items():
        assert verdict in (Uitslag.NIET_TESTBAAR, Uitslag.GEFAALD), (domain, agreement, verdict)
    b01 = run.report("ggdru.test").result("B01")
    assert "bogus" in b01.summary().lower(), b01.summary()


def test_a_root_hint_where_nothing_listens_gives_the_no_answer_note(standin, tmp_path) -> None:
    sim, files = standin
    hints = dead_root_hints(tmp_path / "dood.hints")
    run = check_keten(sim.internet.keten, ["ggdru.test"], ["B01", "B06"], live=True, root_hints=hints,
                      trust_anchor=files.trust_anchor)
    assert f"geen antwoord van de root-servers uit {hints}" in run.note, run.note
    for result in run.reports[0].results:
        assert result.verdict is Uitslag.NIET_TESTBAAR, result.summary()


def delv(anchor: Path, server: str, name: str, rdtype: str) -> str:
    out = subprocess.run(["delv", "-a", str(anchor), f"@{server}", name, rdtype], capture_output=True, text=True,
                         timeout=60)
    return out.stdout + out.stderr


def test_delv_agrees_that_the_stand_in_validates(standin, tmp_path) -> None:
    """delv validates by itself (it asks with CD) from the anchor file; it
    agrees with the live Unbound that the MX is secure, and fails with a
    wrong anchor."""
    sim, files = standin
    meldpunt = next(d for d in sim.internet.keten.deelnemers if d.rol is Rol.MELDPUNT)
    name = meldpunt.domain.name
    with live_unbound(root_key=files.trust_anchor, root_hints=files.root_hints) as unbound:
        answer = Resolver(unbound.ip, unbound.port).lookup(name, "MX")
        assert answer.state is DnssecState.SECURE, answer.describe()
        good = delv(files.delv_anchor, unbound.ip, name, "MX")
        assert "; fully validated" in good and f"{name}." in good, good
        bad = delv_anchors(wrong_anchor(tmp_path / "ander.key").read_text())
        (tmp_path / "ander.delv").write_text(bad)
        broken = delv(tmp_path / "ander.delv", unbound.ip, name, "MX")
        assert "fully validated" not in broken and "resolution failed" in broken, broken


# -- the real deelnemers' resolver ----------------------------------------------------

def hybrid(keten: Keten, resolvers: dict[str, str | None]) -> Keten:
    """The keten with these deelnemers (id -> the resolver they name) real."""
    def real(d):
        return replace(d, echt=Echt(frozenset({d.adres}), resolver=resolvers[d.id])) if d.id in resolvers else d
    return replace(keten, politie=real(keten.politie), meldpunten=tuple(map(real, keten.meldpunten)))


def test_real_deelnemer_resolver_is_a_live_unbound_on_the_stand_in(standin) -> None:
    sim, files = standin
    keten = sim.internet.keten
    meldpunt = next(d for d in keten.deelnemers if d.rol is Rol.MELDPUNT)
    with resolver_for_echt(hybrid(keten, {meldpunt.id: None}), root_hints=files.root_hints,
                           trust_anchor=files.trust_anchor) as echt:
        assert isinstance(echt, EchtResolver) and echt.started
        assert (echt.resolver.address, echt.resolver.port) == (LIVE_RESOLVER_IP, 53)
        assert echt.preflight() == ""
        reports = check_targets([meldpunt], echt.resolver)
    assert set(verdicts(reports).values()) == {Uitslag.GESLAAGD}, "\n".join(
        r.summary() for rep in reports for r in rep.results)
    # Stopped on exit: the address is free again.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LIVE_RESOLVER_IP, 53))


def test_real_deelnemer_resolver_is_the_one_the_keten_names(standin) -> None:
    sim, files = standin
    keten = sim.internet.keten
    meldpunt = next(d for d in keten.deelnemers if d.rol is Rol.MELDPUNT)
    with resolver_for_echt(hybrid(keten, {meldpunt.id: keten.dns.resolver_ip}),
                           root_hints=files.root_hints, trust_anchor=files.trust_anchor) as echt:
        assert not echt.started and (echt.resolver.address, echt.resolver.port) == (keten.dns.resolver_ip, 53)
        assert "coördinator" in echt.description
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LIVE_RESOLVER_IP, 53))  # no Unbound started
        assert echt.preflight() == ""
        assert echt.resolver.lookup(meldpunt.domain.name, "MX").state is DnssecState.SECURE
    # Broken: a "resolver" that does not validate (the root server itself: no AD bit).
    with resolver_for_echt(hybrid(keten, {meldpunt.id: keten.dns.root_ip})) as echt:
        note = echt.preflight()
    assert note.startswith(f"De opgegeven resolver {keten.dns.root_ip}:53 valideert de root-zone niet als veilig"), note


def test_real_deelnemers_naming_different_resolvers_are_refused() -> None:
    keten = load_keten()
    ids = [d.id for d in keten.deelnemers[:2]]
    with pytest.raises(KetenConfigError, match="verschillende resolvers") as e:
        with resolver_for_echt(hybrid(keten, {ids[0]: "192.0.2.53", ids[1]: "192.0.2.54:5353"})):
            pass
    assert f"{ids[0]}: 192.0.2.53" in str(e.value) and f"{ids[1]}: 192.0.2.54:5353" in str(e.value)
    with resolver_for_echt(hybrid(keten, {ids[0]: "192.0.2.53", ids[1]: "192.0.2.53:53"})) as echt:
        assert (echt.resolver.address, echt.resolver.port) == ("192.0.2.53", 53)  # the same one, twice


# -- the command line (once the lead has added the options) ----------------------------

def _cli_has_stand_in_options() -> bool:
    from ketentest.cli import build_parser

    _, unknown = build_parser().parse_known_args(["check", "--live", "--root-hints", "h", "--sleutelanker", "k"])
    return not unknown


def test_check_live_on_the_command_line_against_the_stand_in(standin, capsys) -> None:
    if not _cli_has_stand_in_options():
        pytest.skip("ketentest check kent --root-hints/--sleutelanker nog niet")
    from ketentest.cli import main

    sim, files = standin
    code = main(["check", "--live", "--json", "--stil", "--root-hints", str(files.root_hints),
                 "--sleutelanker", str(files.trust_anchor), "--afspraken", "B01,B06"])
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert code == 0 and data["modus"] == "live" and data["opmerking"] is None, (out, err)
    assert {d["uitslag"] for d in data["domeinen"]} == {"geslaagd"}

