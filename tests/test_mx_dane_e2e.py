"""Sender and checks agree (issue 11, points 1-3): on the simulated keten
(signed zones, a real Unbound, every deelnemer's MailServer), the police's
delivery (ketentest.delivery, as the postkantoor calls it) and the B01/B06
verdicts on the same DNS. Each case changes the meldpunt's zone the way a
keten file's free ``records:`` would, sends one melding, and judges."""

from __future__ import annotations

import pytest

from ketentest.checks.b01_dnssec import check_dnssec
from ketentest.checks.b06_dane import check_dane
from ketentest.checks.runner import simulated_keten
from ketentest.config import load_keten
from ketentest.dane import RecordStatus, tlsa_rdata
from ketentest.delivery import DeliveryAttempt, Outcome, Safeguard, deliver
from ketentest.mail import compose_melding, sign
from ketentest.model import TlsaSpec
from ketentest.verdict import Uitslag

pytestmark = pytest.mark.dns

F, W, N, P = Uitslag.GEFAALD, Uitslag.WAARSCHUWING, Uitslag.NIET_TESTBAAR, Uitslag.GESLAAGD
MELDPUNT = "ggd-regio-utrecht"  # ggdru.test: mx1 (10) and mx2 (20)
PDF = b"%PDF-1.7\n% test meldformulier\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


@pytest.fixture(scope="module")
def sim(internet_lab):
    net = internet_lab.start(load_keten())
    with simulated_keten(net.keten, internet=net) as s:
        yield s


@pytest.fixture
def world(sim):
    yield sim
    for mx in sim.servers.values():
        mx.switches.reset()
    sim.internet.reset()


def send(sim, kenmerk: str) -> DeliveryAttempt:
    keten, pki = sim.internet.keten, sim.internet.pki
    politie, meldpunt = keten.politie, keten.deelnemer(MELDPUNT)
    composed = compose_melding(kenmerk, PDF, sender=politie.adres, recipient=meldpunt.adres)
    signed = sign(composed.data, [pki.dkim_key(politie.domain.name, s) for s in politie.domain.dkim])
    host = politie.domain.senders[0]
    return deliver(signed, politie.adres, meldpunt.adres, resolver=sim.resolver, source_ip=host.ip,
                   helo=host.name, timeout=10)


def arrived(sim, kenmerk: str) -> bool:
    return any(kenmerk.encode() in m.content for m in sim.servers[MELDPUNT].stored())


def tlsa(sim, host: str, spec: str, key_type: str = "ecdsa", variant: str = "valid") -> str:
    chain = sim.internet.pki.server_chain(host, key_type, variant).chain_der
    return tlsa_rdata(chain, TlsaSpec(*map(int, spec.split())))


def test_the_healthy_keten_delivers_and_passes(world) -> None:
    attempt = send(world, "MN-2026-100001")
    assert attempt.delivered and arrived(world, "MN-2026-100001"), attempt.describe()
    assert check_dnssec("ggdru.test", world.resolver).verdict is P
    assert check_dane("ggdru.test", world.resolver, **world.context).verdict is P


# -- 1. digest agility: a stronger digest hides a weaker one (RFC 7671, 9) ------------------

def test_a_matching_sha256_record_beside_a_stale_sha512_one_is_no_route_and_b06_fails(world) -> None:
    """Postfix: "no matching DANE TLSA records", deferred. So: nothing sent, B06 fails."""
    zones = world.internet.zones
    for host in ("mx1.ggdru.test", "mx2.ggdru.test"):
        zones.replace(f"_25._tcp.{host}", "TLSA", [tlsa(world, host, "3 1 1"), tlsa(world, host, "3 1 1", "rsa"),
                                                   tlsa(world, host, "3 1 2", variant="new_key")])
    world.internet.changed()
    attempt = send(world, "MN-2026-100002")
    assert attempt.outcome is Outcome.NO_SECURE_ROUTE and Safeguard.DANE in attempt.failed, attempt.describe()
    assert not arrived(world, "MN-2026-100002")
    statuses = sorted(o.status.value for o in attempt.hosts[0].dane.outcomes)  # the RRset order may rotate
    assert statuses == sorted([RecordStatus.SUPERSEDED.value] * 2 + [RecordStatus.NO_MATCH.value])
    result = check_dane("ggdru.test", world.resolver, **world.context)
    match = result.subtest("dane.overeenkomst")
    assert match.verdict is F and "RFC 7671" in match.explanation, result.summary()
    assert "Verwijder het zwakkere record" in match.explanation


# -- 2. an MX host name that is an alias (CNAME) ----------------------------------------------

def test_an_mx_that_is_a_cname_is_followed_by_the_sender_and_warned_by_b01(world) -> None:
    """RFC 7672 2.2.3: the TLSA at the expanded name counts. Before, the sender
    looked only at _25._tcp.<alias> and refused what the check passed."""
    zones = world.internet.zones
    zones.replace("ggdru.test", "MX", ["10 post.ggdru.test."])
    zones.add("post.ggdru.test", "CNAME", "mx1.ggdru.test.")
    world.internet.changed()
    attempt = send(world, "MN-2026-100003")
    assert attempt.delivered and arrived(world, "MN-2026-100003"), attempt.describe()
    host = attempt.hosts[-1]
    assert host.host == "post.ggdru.test" and host.tlsa_owner == "_25._tcp.mx1.ggdru.test"
    assert [a.qname for a in host.cname] == ["post.ggdru.test"]
    b06 = check_dane("ggdru.test", world.resolver, **world.context)
    assert b06.verdict is P, b06.summary()
    b01 = check_dnssec("ggdru.test", world.resolver)
    mx = b01.subtest("dnssec.mx")
    assert mx.verdict is W and "alias (CNAME naar mx1.ggdru.test)" in mx.explanation and "RFC 2181" in mx.explanation


def test_an_alias_without_tlsa_at_either_name_is_no_route_and_b06_fails(world) -> None:
    zones = world.internet.zones
    zones.replace("ggdru.test", "MX", ["10 post.ggdru.test."])
    zones.add("post.ggdru.test", "CNAME", "mx1.ggdru.test.")
    zones.remove("_25._tcp.mx1.ggdru.test", "TLSA")
    world.internet.changed()
    attempt = send(world, "MN-2026-100004")
    assert attempt.outcome is Outcome.NO_SECURE_ROUTE and Safeguard.TLSA in attempt.failed, attempt.describe()
    assert "_25._tcp.mx1.ggdru.test noch _25._tcp.post.ggdru.test" in attempt.reason
    # the address was found (securely): the trace says so instead of "geen adres"
    assert "MX post.ggdru.test (voorkeur 10, 127.60.2.25, niet verbonden)" in attempt.describe()
    assert "geen adres" not in attempt.describe() and ".." not in attempt.reason
    assert check_dane("ggdru.test", world.resolver, **world.context).subtest("dane.tlsa").verdict is F


# -- 3. a null MX beside a real MX (RFC 7505, 3) ----------------------------------------------

def test_a_null_mx_beside_real_mx_is_refused_like_postfix_and_fails_b01(world) -> None:
    """Postfix 3.7 ends the MX look-up as nullMX when any MX is "." (5.1.0): so
    do we. The check, which passed everything before, now fails it."""
    world.internet.zones.add("ggdru.test", "MX", "0 .")
    world.internet.changed()
    attempt = send(world, "MN-2026-100005")
    assert attempt.outcome is Outcome.PERMANENT and not attempt.hosts, attempt.describe()
    assert "RFC 7505, 3" in attempt.reason and "mx1.ggdru.test" in attempt.reason
    assert not arrived(world, "MN-2026-100005")
    b01 = check_dnssec("ggdru.test", world.resolver)
    mx = b01.subtest("dnssec.mx")
    assert mx.verdict is F and "null MX" in mx.explanation and "ongeldig" in mx.explanation, b01.summary()
