"""The simulated DNS internet through a real Unbound: healthy answers, each
injected defect, and an independent validator (unbound-host) agreeing."""

from __future__ import annotations

import socket
import subprocess
import textwrap

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from ketentest.dns import DnssecState
from ketentest.errors import InfrastructureError
from ketentest.policy import DNSSEC_ALGORITHMS
from simulators.internet import mail_domain_queries


def independent_state(net, tmp_path, name: str, rdtype: str) -> str:
    """Ask unbound-host (libunbound, its own cache and config, same trust
    anchor and root hints) for its verdict: secure / insecure / bogus."""
    (tmp_path / "hints").write_text(net.zones.root_hints())
    (tmp_path / "anchor").write_text(net.zones.root_trust_anchor())
    conf = tmp_path / "independent.conf"
    conf.write_text(textwrap.dedent(f"""\
        server:
            do-not-query-localhost: no
            root-hints: "{tmp_path}/hints"
            trust-anchor-file: "{tmp_path}/anchor"
            local-zone: "test." nodefault
            username: ""
            chroot: ""
            val-log-level: 2
        """))
    out = subprocess.run(["unbound-host", "-C", str(conf), "-v", "-t", rdtype, name],
                         capture_output=True, text=True, timeout=30).stdout
    for word in ("BOGUS", "insecure", "secure"):
        if f"({word}" in out:
            return word.lower()
    raise AssertionError(f"unbound-host gaf geen oordeel: {out!r}")


def test_every_default_deelnemer_resolves_secure(internet, keten):
    for deelnemer in keten.deelnemers:
        queries = mail_domain_queries(deelnemer.domain)
        assert {t for _, t in queries} >= {"MX", "A", "TXT", "TLSA"}
        for name, rdtype in queries:
            answer = internet.resolver.lookup(name, rdtype)
            assert answer.state is DnssecState.SECURE, answer.describe()
            assert answer.records, answer.describe()


def test_spf_dmarc_dkim_values_are_the_profile(internet, keten, pki):
    d = keten.deelnemer("ggd-flevoland").domain
    assert internet.resolver.lookup(d.name, "TXT").txt_strings() == (d.spf,)
    assert internet.resolver.lookup(f"_dmarc.{d.name}", "TXT").txt_strings() == (d.dmarc,)
    for spec in d.dkim:
        txt = internet.resolver.lookup(f"{spec.selector}._domainkey.{d.name}", "TXT").txt_strings()
        assert txt == (pki.dkim_key(d.name, spec).txt_value,)


def test_unsigned_child_zone_is_insecure(internet, tmp_path):
    internet.zones.unsign("ggdflevoland.test")
    internet.changed()
    answer = internet.resolver.lookup("ggdflevoland.test", "MX")
    assert answer.state is DnssecState.INSECURE and answer.records
    assert independent_state(internet, tmp_path, "ggdflevoland.test", "MX") == "insecure"
    # The other deelnemers stay secure.
    assert internet.resolver.lookup("ggdru.test", "MX").state is DnssecState.SECURE


def test_ds_not_matching_is_bogus(internet, tmp_path):
    internet.zones.break_ds("regiogv.test")
    internet.changed()
    answer = internet.resolver.lookup("regiogv.test", "MX")
    assert answer.state is DnssecState.BOGUS
    assert answer.ede and answer.ede[0].code == 9  # DNSKEY Missing: no key matches the DS
    assert independent_state(internet, tmp_path, "regiogv.test", "MX") == "bogus"


def test_expired_signatures_are_bogus_with_reason(internet, tmp_path):
    internet.zones.expire_signatures("ggdru.test")
    internet.changed()
    answer = internet.resolver.lookup("mx1.ggdru.test", "A")
    assert answer.state is DnssecState.BOGUS
    assert 7 in [e.code for e in internet.resolver.lookup("ggdru.test", "MX").ede]  # Signature Expired
    assert "expired" in internet.resolver.lookup("ggdru.test", "SOA").ede[0].text
    assert independent_state(internet, tmp_path, "ggdru.test", "MX") == "bogus"


def test_missing_tlsa_is_a_proven_nxdomain(internet, tmp_path):
    assert internet.zones.remove("_25._tcp.mx1.politie.test", "TLSA") > 0
    internet.changed()
    answer = internet.resolver.lookup("_25._tcp.mx1.politie.test", "TLSA")
    assert answer.rcode == "NXDOMAIN" and answer.proven_absent
    assert "NSEC" in answer.raw
    assert independent_state(internet, tmp_path, "_25._tcp.mx1.politie.test", "TLSA") == "secure"


def test_nodata_is_proven_too(internet):
    answer = internet.resolver.lookup("mx1.ggdru.test", "TLSA")  # name exists, no TLSA there
    assert answer.rcode == "NOERROR" and answer.proven_absent


def test_absence_in_unsigned_zone_is_not_proven(internet):
    internet.zones.remove("_25._tcp.mx1.politie.test", "TLSA")
    internet.zones.unsign("politie.test")
    internet.changed()
    answer = internet.resolver.lookup("_25._tcp.mx1.politie.test", "TLSA")
    assert answer.records == () and not answer.proven_absent
    assert answer.state is DnssecState.INSECURE


def test_large_answer_is_truncated_then_fetched_over_tcp(internet):
    for i in range(40):
        internet.zones.add("groot.ggdru.test", "TXT", f'"record {i:02d} ' + "x" * 60 + '"')
    internet.changed()
    # Directly at the authoritative server: over UDP the answer does not fit.
    q = dns.message.make_query("groot.ggdru.test", "TXT", want_dnssec=True, payload=1232)
    udp = dns.query.udp(q, "127.53.2.1", timeout=3)
    assert udp.flags & dns.flags.TC and not udp.answer
    # Through Unbound, which retries over TCP, the whole signed RRset arrives.
    answer = internet.resolver.lookup("groot.ggdru.test", "TXT")
    assert answer.state is DnssecState.SECURE and len(answer.records) == 40


def test_server_refuses_names_outside_its_zones_and_survives_garbage(internet):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.sendto(b"\x00garbage, not dns", ("127.53.2.1", 53))
    sock.close()
    q = dns.message.make_query("example.invalid", "A")
    assert dns.query.udp(q, "127.53.2.1", timeout=3).rcode() == dns.rcode.REFUSED


def test_referral_from_tld_carries_ds_and_glue(internet):
    q = dns.message.make_query("ggdru.test", "MX", want_dnssec=True)
    r = dns.query.udp(q, "127.53.0.2", timeout=3)  # the test. TLD server
    assert not r.flags & dns.flags.AA
    types = {dns.rdatatype.to_text(rr.rdtype) for rr in r.authority}
    assert {"NS", "DS", "RRSIG"} <= types
    assert any(rr.name.to_text() == "ns1.ggdru.test." for rr in r.additional)


def test_zone_changes_are_undone_by_reset(internet):
    internet.zones.expire_signatures("ggdru.test")
    internet.changed()
    assert internet.resolver.lookup("ggdru.test", "MX").state is DnssecState.BOGUS
    internet.reset()
    assert internet.resolver.lookup("ggdru.test", "MX").state is DnssecState.SECURE


def test_address_clash_names_the_address(internet_lab, keten, pki):
    from simulators.internet import SimulatedInternet

    internet_lab.stop()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.53.3.1", 53))
    try:
        with pytest.raises(InfrastructureError, match=r"127\.53\.3\.1:53 is al in gebruik"):
            SimulatedInternet(keten, pki).__enter__()
    finally:
        blocker.close()
    # Nothing was left running: the same addresses can be used right away.
    with SimulatedInternet(keten, pki) as net:
        assert net.resolver.lookup("ggdru.test", "MX").state is DnssecState.SECURE


def test_resolver_address_clash_names_the_address(internet_lab, keten, pki):
    from simulators.internet import SimulatedInternet

    internet_lab.stop()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind((keten.dns.resolver_ip, 53))
    try:
        with pytest.raises(InfrastructureError, match=r"127\.53\.53\.53"):
            SimulatedInternet(keten, pki).__enter__()
    finally:
        blocker.close()


def test_missing_unbound_binary_is_a_clear_error(monkeypatch):
    from simulators.resolver import unbound

    monkeypatch.setattr(unbound.shutil, "which", lambda name: None)
    monkeypatch.setattr(unbound.os.path, "exists", lambda path: False)
    with pytest.raises(InfrastructureError, match="unbound ontbreekt") as err:
        unbound.find_program("unbound")
    assert "apt-get install unbound" in str(err.value)


# --- worlds from the keten file (issue 11): signing as the keten says, from the start ----------

@pytest.mark.parametrize("algorithm", sorted(DNSSEC_ALGORITHMS))
def test_a_zone_signs_and_self_validates_with_each_algorithm(algorithm):
    """No network: the served zone's DNSKEY has the algorithm, and dnspython
    validates the SOA signature with it."""
    import dns.dnssec
    import dns.name
    import dns.rdatatype

    from simulators.dns.zones import SigningState, ZoneTree

    tree = ZoneTree({"": ("127.0.0.1", True), "test": ("127.0.0.2", True),
                     "alg.test": ("127.0.0.3", SigningState(algorithm=algorithm))}, [])
    origin = dns.name.from_text("alg.test.")
    served = tree.zones[origin].served
    keys = served.find_rrset(origin, dns.rdatatype.DNSKEY)
    assert {k.algorithm for k in keys} == {algorithm}
    soa = served.find_rrset(origin, dns.rdatatype.SOA)
    dns.dnssec.validate(soa, served.find_rrset(origin, dns.rdatatype.RRSIG, dns.rdatatype.SOA), {origin: keys})
    ds = tree.zones[dns.name.from_text("test.")].served.find_rrset(origin, dns.rdatatype.DS)
    assert len(ds) == 1
    island = ZoneTree({"": ("127.0.0.1", True), "test": ("127.0.0.2", True),
                       "alg.test": ("127.0.0.3", SigningState(ds_published=False))}, [])
    assert island.zones[dns.name.from_text("test.")].served.get_rrset(origin, dns.rdatatype.DS) is None


def _world(name: str):
    from pathlib import Path

    from ketentest.config import load_keten

    return load_keten(Path(__file__).parent / "data" / "ketens" / f"{name}.yaml")


@pytest.mark.parametrize("world, state, ede", [
    ("dnssec-geen-ds", "insecure", None),
    ("dnssec-ds-kapot", "bogus", 9),  # DNSKEY Missing
    ("dnssec-handtekeningen-verlopen", "bogus", 7),  # Signature Expired
    ("dnssec-handtekeningen-nog-niet-geldig", "bogus", 8),  # Signature Not Yet Valid
    ("dnssec-algoritme-8", "secure", None),
    ("dnssec-algoritme-15", "secure", None),
    # Unbound 1.17 (Debian 12, OpenSSL 3.0) still validates RSASHA1: judging
    # the algorithm (RFC 8624) is B01's job, not the resolver's.
    ("dnssec-algoritme-5", "secure", None),
    ("dnssec-algoritme-7", "secure", None),
])
def test_a_keten_world_starts_as_described_and_unbound_host_agrees(internet_lab, pki, tmp_path, world, state, ede):
    from simulators.internet import SimulatedInternet

    internet_lab.stop()
    with SimulatedInternet(_world(world), pki) as net:
        answer = net.resolver.lookup("meldpunt.test", "MX")
        assert answer.state.value == state, answer.describe()
        if ede is not None:
            assert ede in [e.code for e in answer.ede], answer.describe()
        assert independent_state(net, tmp_path, "meldpunt.test", "MX") == state
        if state == "secure":
            assert set(answer.algorithms) == {int(world.rsplit("-", 1)[1])}
        # The healthy neighbour is untouched.
        assert net.resolver.lookup("politie.test", "MX").state is DnssecState.SECURE


def test_a_reset_signs_only_the_zones_that_changed(monkeypatch):
    """Signing is most of a reset's work: an unchanged zone is served as it
    was; a changed one (or its parent, for a DS) is signed again, and so is
    anything older than REUSE_SECONDS."""
    import dns.dnssec
    import dns.name
    import dns.rdatatype

    from simulators.dns import zones as zones_mod
    from simulators.dns.zones import ZoneTree

    tree = ZoneTree({"": ("127.0.0.1", True), "test": ("127.0.0.2", True), "a.test": ("127.0.0.3", True),
                     "b.test": ("127.0.0.4", True)}, [])
    name = {o.to_text(): z for o, z in tree.zones.items()}
    before = {k: z.served for k, z in name.items()}
    tree.reset()
    assert all(name[k].served is before[k] for k in before)  # nothing changed, nothing signed again

    tree.add("mx.a.test.", "A", "127.0.0.10")
    assert name["a.test."].served is not before["a.test."]
    assert name["a.test."].served.get_rrset(dns.name.from_text("mx.a.test."), dns.rdatatype.A) is not None
    assert name["b.test."].served is before["b.test."]
    tree.break_ds("b.test.")  # the parent publishes a new DS: both signed again
    assert name["test."].served is not before["test."]
    tree.reset()  # back to the baseline: the changed zones are signed again, without the record
    assert name["a.test."].served.get_rrset(dns.name.from_text("mx.a.test."), dns.rdatatype.A) is None
    ds = name["test."].served.find_rrset(dns.name.from_text("b.test."), dns.rdatatype.DS)
    assert ds[0] == dns.dnssec.make_ds(dns.name.from_text("b.test."), name["b.test."].ksk[1], "SHA256")

    kept = name["."].served
    real = zones_mod._now
    monkeypatch.setattr(zones_mod, "_now", lambda: real() + zones_mod.REUSE_SECONDS + 1)
    tree.reset()  # old signatures are made again, even without a change
    assert name["."].served is not kept
