"""delv (BIND's validating look-up tool) as an independent DNSSEC oracle: on
the simulated keten, B01's verdict on a mail domain and the DNSSEC state our
sender reads for its TLSA records equal what delv concludes, validating by
itself from the simulated root key (it asks Unbound with CD set)."""

from __future__ import annotations

import shutil
import subprocess

import dns.dnssec
import dns.name
import pytest

from ketentest.checks.b01_dnssec import check_dnssec
from ketentest.dns import DnssecState
from ketentest.verdict import Uitslag

pytestmark = [pytest.mark.dns, pytest.mark.skipif(shutil.which("delv") is None,
                                                  reason="delv (Debian bind9-dnsutils) is not installed")]

DOMAIN = "ggdru.test"


@pytest.fixture
def delv(internet, tmp_path):
    ds = dns.dnssec.make_ds(dns.name.root, internet.zones.root.ksk[1], "SHA256")
    anchor = tmp_path / "anker.conf"
    anchor.write_text(f'trust-anchors {{ "." static-ds {ds.key_tag} {ds.algorithm} {ds.digest_type} '
                      f'"{ds.digest.hex()}"; }};\n')

    def ask(name: str, rdtype: str) -> DnssecState:
        out = subprocess.run(["delv", "-a", str(anchor), "+root=.", f"@{internet.keten.dns.resolver_ip}", name,
                              rdtype], capture_output=True, text=True, timeout=30)
        text = out.stdout + out.stderr
        if "; fully validated" in text:
            return DnssecState.SECURE
        if "; unsigned answer" in text:
            return DnssecState.INSECURE
        if "resolution failed" in text:
            return DnssecState.BOGUS
        raise AssertionError(f"delv onbegrepen: {text}")

    return ask


def _break(internet, how: str) -> None:
    {"gezond": lambda: None, "onondertekend": lambda: internet.zones.unsign(DOMAIN),
     "ds_kapot": lambda: internet.zones.break_ds(DOMAIN),
     "verlopen": lambda: internet.zones.expire_signatures(DOMAIN)}[how]()
    internet.changed()


@pytest.mark.parametrize("how, verdict", [("gezond", Uitslag.GESLAAGD), ("onondertekend", Uitslag.GEFAALD),
                                          ("ds_kapot", Uitslag.GEFAALD), ("verlopen", Uitslag.GEFAALD)])
def test_b01_and_the_senders_dns_state_agree_with_delv(internet, delv, how, verdict) -> None:
    _break(internet, how)
    oracle = delv(DOMAIN, "SOA")
    result = check_dnssec(DOMAIN, internet.resolver).subtest("dnssec.domein")
    assert result.verdict is verdict, result.explanation
    assert (oracle is DnssecState.SECURE) == (verdict is Uitslag.GESLAAGD)
    word = {DnssecState.INSECURE: "insecure", DnssecState.BOGUS: "bogus"}.get(oracle)
    assert word is None or word in result.explanation, (oracle, result.explanation)
    for name, rdtype in ((DOMAIN, "MX"), ("_25._tcp.mx1.ggdru.test", "TLSA")):
        assert internet.resolver.lookup(name, rdtype).state is delv(name, rdtype), f"{name} {rdtype}"


def test_an_alias_mx_host_is_secure_for_delv_and_for_us(internet, delv) -> None:
    internet.zones.add("post.ggdru.test", "CNAME", "mx1.ggdru.test.")
    internet.changed()
    assert delv("post.ggdru.test", "A") is DnssecState.SECURE is internet.resolver.lookup("post.ggdru.test", "A").state
