"""A hybrid keten's look-ups (issue 15): real deelnemers' domains through the
live resolver, every other name through the keten's own Unbound — in the
parties' own client (ketentest.dns.keten_resolver) and in dnspython's default
resolver that pyspf, dkimpy and authheaders use. The end-to-end run through
a live Unbound on a stand-in root is in tests/test_echt_meldpunt.py."""

from __future__ import annotations

import dns.resolver
import pytest

from ketentest.config import load_keten
from ketentest.dns import LIVE_RESOLVER_ENV, Resolver, SplitResolver, keten_resolver, live_domains, within
from ketentest.mail import auth

from tests.test_echt_rapport import hybrid_keten as hybrid  # midden-nederland, GGD Flevoland echt


@pytest.mark.parametrize("name, domain, expected", [
    ("ggdflevoland.test", "ggdflevoland.test", True),
    ("mx1.ggdflevoland.test.", "GGDFlevoland.test", True),
    ("_dmarc.ggdflevoland.test", "ggdflevoland.test", True),
    ("xggdflevoland.test", "ggdflevoland.test", False),  # a suffix of characters is not a subdomain
    ("ggdflevoland.test.evil.test", "ggdflevoland.test", False),
    ("test", "ggdflevoland.test", False),
])
def test_within_is_label_wise(name, domain, expected):
    assert within(name, domain) is expected


def test_the_split_sends_real_domains_to_the_live_resolver_and_the_rest_to_the_keten():
    keten = hybrid()
    assert live_domains(keten) == ("ggdflevoland.test",)
    split = keten_resolver(keten, live=("127.54.53.53", 53))
    assert isinstance(split, SplitResolver)
    assert split.for_name("mx1.ggdflevoland.test").address == "127.54.53.53"
    assert split.for_name("_25._tcp.mx1.ggdflevoland.test").address == "127.54.53.53"
    for simulated in ("politie.test", "ggdru.test", "_dmarc.regiogv.test", "test"):
        assert split.for_name(simulated) == Resolver(keten.dns.resolver_ip)


def test_the_split_is_a_lookup_the_checks_can_call():
    """The checks call their resolver (ketentest.dns.Lookup); the split must answer like Resolver."""
    from ketentest.checks._dns import mx_set
    from ketentest.dns import DnsAnswer, DnssecState

    class Side:
        def __init__(self, name):
            self.name, self.asked = name, []

        def lookup(self, qname, rdtype):
            self.asked.append(qname)
            return DnsAnswer(qname, rdtype, "NOERROR", DnssecState.SECURE, ("10 mx1.ggdflevoland.test.",))

    live, sim = Side("live"), Side("keten")
    split = SplitResolver(sim, live, ("ggdflevoland.test",))
    assert split("ggdflevoland.test", "MX").state is DnssecState.SECURE
    assert mx_set("ggdflevoland.test", split) is not None and live.asked and not sim.asked


def test_without_real_deelnemers_or_without_a_live_resolver_there_is_no_split(monkeypatch):
    monkeypatch.delenv(LIVE_RESOLVER_ENV, raising=False)
    plain = load_keten("midden-nederland")
    assert keten_resolver(plain, live=("127.54.53.53", 53)) == Resolver(plain.dns.resolver_ip)
    assert keten_resolver(hybrid()) == Resolver(plain.dns.resolver_ip)  # no live resolver known (yet)


def test_the_parties_take_the_live_resolver_from_the_environment(monkeypatch):
    monkeypatch.setenv(LIVE_RESOLVER_ENV, "127.54.53.53:5353")
    split = keten_resolver(hybrid())
    assert split.live == Resolver("127.54.53.53", 5353)
    monkeypatch.setenv(LIVE_RESOLVER_ENV, "[::1]:53")
    assert keten_resolver(hybrid()).live == Resolver("::1", 53)


def test_dnspythons_default_resolver_is_split_the_same_way(monkeypatch):
    """pyspf and dkimpy call dns.resolver.resolve / query: the default resolver picks the side."""
    asked: list[tuple[str, str]] = []

    def fake(side):
        def resolve(self, qname, *args, **kwargs):
            asked.append((side, str(qname)))
            return side
        return resolve

    before = dns.resolver.default_resolver
    try:
        auth.use_split_resolver(("127.53.53.53", 53), ("127.54.53.53", 53), ("ggdflevoland.test",))
        r = dns.resolver.get_default_resolver()
        assert isinstance(r, auth.SplitDnspythonResolver)
        assert r.live.nameservers == ["127.54.53.53"] and r.simulated.nameservers == ["127.53.53.53"]
        monkeypatch.setattr(r.live, "resolve", fake("live").__get__(r.live))
        monkeypatch.setattr(r.simulated, "resolve", fake("keten").__get__(r.simulated))
        assert dns.resolver.resolve("sel._domainkey.ggdflevoland.test", "TXT") == "live"
        assert dns.resolver.resolve("politie.test", "TXT") == "keten"
        assert dns.resolver.resolve("_dmarc.xggdflevoland.test", "TXT") == "keten"
    finally:
        dns.resolver.default_resolver = before
    assert [side for side, _ in asked] == ["live", "keten", "keten"]
