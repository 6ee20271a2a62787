"""Connection reuse in ketentest.delivery (issue 14): with a pool, an
authenticated connection carries the next messages to the same MX address,
but only while the chain it presented still matches the TLSA records of each
new attempt's DNS look-ups; a dead or failed connection is never used again,
and the transcript still shows STARTTLS and DANE before MAIL FROM (V02)."""

from __future__ import annotations

import pytest

from ketentest.checks._vbase import host_transport_problems
from ketentest.delivery import Outcome, Safeguard, Verbindingen, deliver
from ketentest.mail import compose_melding, sign
from simulators.control import jsonable
from tests.smtp_helpers import running_mx

MELDPUNT = "ggd-regio-utrecht"
PDF = b"%PDF-1.7\n% test meldformulier\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


@pytest.fixture
def meldpunt(keten):
    return keten.deelnemer(MELDPUNT)


@pytest.fixture
def mx1(meldpunt):
    return meldpunt.domain.mx[0]


@pytest.fixture
def signed(keten, meldpunt, pki):
    politie = keten.politie
    keys = [pki.dkim_key(politie.domain.name, spec) for spec in politie.domain.dkim]

    def make(n: int) -> bytes:
        return sign(compose_melding(f"MN-2026-{n:06d}", PDF, sender=politie.adres, recipient=meldpunt.adres).data,
                    keys)

    return make


@pytest.fixture
def send(internet, keten, meldpunt):
    politie = keten.politie
    host = politie.domain.senders[0]

    def _send(message: bytes, pool: Verbindingen | None):
        return deliver(message, politie.adres, meldpunt.adres, resolver=internet.resolver, source_ip=host.ip,
                       helo=host.name, timeout=10, pool=pool)

    return _send


def _lines(host) -> list[str]:
    return [str(line) for line in host.transcript]


def test_a_kept_connection_carries_the_next_messages_each_judged_secure(send, signed, pki, mx1):
    pool = Verbindingen()
    try:
        with running_mx(pki, mx1.name, mx1.ip) as mx:
            attempts = [send(signed(i), pool) for i in range(3)]
    finally:
        pool.close()
    assert all(a.delivered for a in attempts), [a.describe() for a in attempts]
    assert len(mx.handler.arrivals) == 3
    assert mx.handler.ehlo == ["postkantoor.politie.test"] * 2  # one connection: EHLO before and after STARTTLS
    assert (pool.kept, pool.reused) == (1, 2)
    for i, a in enumerate(attempts):
        host = a.hosts[-1]
        assert host.tls.version == "TLSv1.3" and host.dane.matched
        lines = _lines(host)
        assert lines.index("C: STARTTLS") < next(n for n, line in enumerate(lines) if line.startswith("C: mail FROM"))
        assert any("verbinding hergebruikt" in line for line in lines) == (i > 0)
        # The V02 judge accepts the trace as the postkantoor stores it.
        assert host_transport_problems(jsonable(host), "secure") == []


def test_a_kept_connection_is_dropped_once_its_certificate_no_longer_matches_tlsa(send, signed, internet, pki,
                                                                                   meldpunt, mx1):
    pool = Verbindingen()
    try:
        with running_mx(pki, mx1.name, mx1.ip) as mx:
            assert send(signed(1), pool).delivered
            for m in meldpunt.domain.mx:  # a key rollover published without this server's key
                internet.zones.replace(f"_25._tcp.{m.name}", "TLSA", ["3 1 1 " + "ab" * 32])
            internet.changed()
            attempt = send(signed(2), pool)
    finally:
        pool.close()
    assert not attempt.delivered and Safeguard.DANE in attempt.failed, attempt.describe()
    first = attempt.hosts[0]
    assert _lines(first)[0].startswith("C: [bewaarde verbinding gesloten")
    assert not first.dane.matched
    assert len(mx.handler.arrivals) == 1  # nothing went over the kept connection
    assert pool.reused == 0


def test_a_kept_connection_the_server_closed_is_replaced_and_nothing_is_lost(send, signed, pki, mx1):
    pool = Verbindingen()
    try:
        with running_mx(pki, mx1.name, mx1.ip) as first:
            assert send(signed(1), pool).delivered
        with running_mx(pki, mx1.name, mx1.ip) as second:  # a restarted MX on the same address
            attempt = send(signed(2), pool)
    finally:
        pool.close()
    assert attempt.delivered, attempt.describe()
    assert any("bleek gesloten" in line for line in _lines(attempt.hosts[-1]))
    assert len(first.handler.arrivals) == 1 and len(second.handler.arrivals) == 1


def test_a_connection_with_a_failed_transaction_is_not_kept(send, signed, pki, mx1):
    pool = Verbindingen()
    try:
        with running_mx(pki, mx1.name, mx1.ip, replies={"RCPT": "451 4.3.0 Probeer het later"}) as mx:
            attempt = send(signed(1), pool)
            assert attempt.outcome is Outcome.TEMPORARY
            assert pool.kept == 0
        assert mx.handler.arrivals == []
    finally:
        pool.close()


def test_an_idle_connection_is_not_kept_past_its_time(send, signed, pki, mx1):
    pool = Verbindingen(max_idle=0.0)
    try:
        with running_mx(pki, mx1.name, mx1.ip) as mx:
            assert send(signed(1), pool).delivered and send(signed(2), pool).delivered
    finally:
        pool.close()
    assert pool.reused == 0 and len(mx.handler.ehlo) == 4  # two connections


def test_without_a_pool_every_attempt_has_its_own_connection(send, signed, pki, mx1):
    with running_mx(pki, mx1.name, mx1.ip) as mx:
        assert send(signed(1), None).delivered and send(signed(2), None).delivered
    assert len(mx.handler.ehlo) == 4
