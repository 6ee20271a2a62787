"""The DANE-checked STARTTLS client (ketentest.delivery) against the real
simulated DNS (signed zones, Unbound) and a test MX on the meldpunt's MX
address. Each no-secure-route case shows that the test MX received nothing;
each check is shown to fail on its broken case."""

from __future__ import annotations

import warnings
from contextlib import ExitStack

import pytest

from ketentest.dane import RecordStatus
from ketentest.delivery import ALTERNATIVE_ROUTE, DeliveryAttempt, Outcome, Safeguard, deliver, officer_notice, sentence
from ketentest.dns import DnssecState
from ketentest.mail import compose_melding, sign, verify_all
from ketentest.policy import ONLY_TLS10_11
from tests.smtp_helpers import running_mx, silent_listener

MELDPUNT = "ggd-regio-utrecht"
KENMERK = "MN-2026-000123"
PDF = b"%PDF-1.7\n% test meldformulier\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


@pytest.fixture
def meldpunt(keten):
    return keten.deelnemer(MELDPUNT)


@pytest.fixture
def mx1(meldpunt):
    return meldpunt.domain.mx[0]  # mx1.ggdru.test, 127.60.2.25, preference 10


@pytest.fixture
def mx2(meldpunt):
    return meldpunt.domain.mx[1]  # mx2.ggdru.test, 127.60.2.26, preference 20


@pytest.fixture
def signed(keten, meldpunt, pki) -> bytes:
    """A melding as the postkantoor sends it: composed, signed with every police selector."""
    politie = keten.politie
    composed = compose_melding(KENMERK, PDF, sender=politie.adres, recipient=meldpunt.adres)
    keys = [pki.dkim_key(politie.domain.name, spec) for spec in politie.domain.dkim]
    return sign(composed.data, keys)


@pytest.fixture
def send(internet, keten, meldpunt):
    """deliver() as the police postkantoor calls it (its sending host and address)."""
    politie = keten.politie
    host = politie.domain.senders[0]

    def _send(message: bytes, **kwargs) -> DeliveryAttempt:
        kwargs.setdefault("timeout", 10)
        return deliver(message, politie.adres, meldpunt.adres, resolver=internet.resolver,
                       source_ip=host.ip, helo=host.name, **kwargs)

    return _send


def _no_route(attempt: DeliveryAttempt, safeguard: Safeguard) -> None:
    assert attempt.outcome is Outcome.NO_SECURE_ROUTE, attempt.describe()
    assert safeguard in attempt.failed, attempt.describe()
    assert "alternatieve route" in attempt.reason


# --- the secure route ------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["ecdsa", "rsa"])
def test_delivers_over_tls13_with_dane_and_arrives_intact(send, signed, internet, keten, pki, mx1, key_type):
    with running_mx(pki, mx1.name, mx1.ip, key_types=(key_type,)) as mx:
        attempt = send(signed)
    assert attempt.outcome is Outcome.DELIVERED, attempt.describe()
    assert attempt.delivered_by == mx1.name and attempt.reply.code == 250
    host = attempt.hosts[-1]
    assert host.tls.version == "TLSv1.3"
    assert host.dane.matched and host.dane.matched_usage in (2, 3)
    assert host.tls.cert_key.startswith("EC" if key_type == "ecdsa" else "RSA")
    assert all(a.state is DnssecState.SECURE for a in attempt.dns_answers)
    assert [a.qname for a in attempt.dns_answers] == ["ggdru.test", "mx1.ggdru.test", "_25._tcp.mx1.ggdru.test"]
    # The DANE check came before MAIL FROM in the transcript; the message itself is elided.
    lines = [str(line) for line in host.transcript]
    dane_at = next(i for i, s in enumerate(lines) if s.startswith("C: [DANE: overeenkomst"))
    mail_from = lines.index(f"C: mail FROM:<{keten.politie.adres}> SIZE={len(signed)}")
    assert lines.index("C: STARTTLS") < dane_at < mail_from
    assert any("[berichtinhoud:" in s for s in lines) and not any("Zorgmelding" in s for s in lines)

    [arrival] = mx.handler.arrivals
    assert arrival.content == signed  # byte-identical (this server adds no headers)
    assert arrival.peer_ip == keten.politie.domain.senders[0].ip  # bound to the SPF-authorised address
    assert arrival.tls_version == "TLSv1.3"
    checks = verify_all(arrival.content, internet.resolver)
    assert [c.algorithm for c in checks] == ["ed25519-sha256", "rsa-sha256"]
    assert all(c.ok for c in checks), checks
    assert all(c.key_answer.state is DnssecState.SECURE for c in checks)


def test_dkim_check_fails_on_a_changed_message(signed, internet):
    tampered = signed.replace(KENMERK.encode(), b"MN-2026-999999", 1)
    assert tampered != signed
    assert not any(c.ok for c in verify_all(tampered, internet.resolver))


def test_second_mx_used_when_first_refuses_connection(send, signed, pki, mx1, mx2):
    # Nothing listens on mx1: connection refused, then mx2 (preference 20).
    with running_mx(pki, mx2.name, mx2.ip) as mx:
        attempt = send(signed)
    assert attempt.outcome is Outcome.DELIVERED, attempt.describe()
    assert [h.host for h in attempt.hosts] == [mx1.name, mx2.name]
    assert attempt.hosts[0].outcome is Outcome.TEMPORARY and "connection refused" in attempt.hosts[0].reason
    assert attempt.delivered_by == mx2.name
    assert len(mx.handler.arrivals) == 1


def test_clock_dates_the_trace(send, signed, pki, mx1):
    import datetime as dt

    from ketentest.clock import KetenClock

    clock = KetenClock(dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.timezone.utc))
    with running_mx(pki, mx1.name, mx1.ip):
        attempt = send(signed, clock=clock)
    assert attempt.delivered
    assert dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.timezone.utc) <= attempt.started <= attempt.ended
    assert attempt.ended - attempt.started < dt.timedelta(minutes=1)


def test_ontvangstbevestiging_travels_back_over_the_same_route(internet, keten, meldpunt, pki):
    """V07: the meldpunt confirms to the police reply address with the same client."""
    from ketentest.mail import compose_ontvangstbevestiging

    politie_mx = keten.politie.domain.mx[0]
    uit = meldpunt.domain.senders[0]
    composed = compose_ontvangstbevestiging(KENMERK, sender=meldpunt.adres, recipient=keten.politie.adres)
    signed_back = sign(composed.data, [pki.dkim_key(meldpunt.domain.name, s) for s in meldpunt.domain.dkim])
    with running_mx(pki, politie_mx.name, politie_mx.ip) as mx:
        attempt = deliver(signed_back, meldpunt.adres, keten.politie.adres, resolver=internet.resolver,
                          source_ip=uit.ip, helo=uit.name, timeout=10)
    assert attempt.delivered and attempt.delivered_by == politie_mx.name, attempt.describe()
    [arrival] = mx.handler.arrivals
    assert arrival.content == signed_back and arrival.peer_ip == uit.ip
    assert [c.ok for c in verify_all(arrival.content, internet.resolver)] == [True]


# --- no secure route: nothing is sent --------------------------------------------


def test_unsigned_zone_is_no_secure_route(send, signed, internet, pki, mx1):
    internet.zones.unsign("ggdru.test")
    internet.changed()
    with running_mx(pki, mx1.name, mx1.ip) as mx:
        attempt = send(signed)
    _no_route(attempt, Safeguard.DNSSEC)
    assert attempt.mx.state is DnssecState.INSECURE and attempt.mx.records  # the MX was there, just unsigned
    assert attempt.hosts == ()
    assert mx.handler.ehlo == [] and mx.handler.received_nothing


def test_broken_ds_is_no_secure_route(send, signed, internet, pki, mx1):
    internet.zones.break_ds("ggdru.test")
    internet.changed()
    with running_mx(pki, mx1.name, mx1.ip) as mx:
        attempt = send(signed)
    _no_route(attempt, Safeguard.DNSSEC)
    assert attempt.mx.state is DnssecState.BOGUS
    assert "bogus" in attempt.reason
    assert mx.handler.ehlo == [] and mx.handler.received_nothing


def test_tlsa_removed_is_no_secure_route(send, signed, internet, pki, mx1, mx2):
    for mx in (mx1, mx2):
        assert internet.zones.remove(f"_25._tcp.{mx.name}", "TLSA") > 0
    internet.changed()
    with running_mx(pki, mx1.name, mx1.ip) as mx:
        attempt = send(signed)
    _no_route(attempt, Safeguard.TLSA)
    assert [h.tlsa.proven_absent for h in attempt.hosts] == [True, True]
    assert mx.handler.ehlo == [] and mx.handler.received_nothing


def _only_usage(internet, usage: str, *mxs) -> None:
    """Keep only the TLSA records of one usage (e.g. a domain without a TA record)."""
    for mx in mxs:
        records = internet.resolver.lookup(f"_25._tcp.{mx.name}", "TLSA").records
        internet.zones.replace(f"_25._tcp.{mx.name}", "TLSA", [r for r in records if r.startswith(usage + " ")])
    internet.changed()


def test_new_key_still_matches_the_dane_ta_record(send, signed, pki, mx1):
    # Why the keten publishes "2 0 1" besides "3 1 1": a new key from the same CA keeps matching.
    with running_mx(pki, mx1.name, mx1.ip, variant="new_key") as mx:
        attempt = send(signed)
    assert attempt.delivered, attempt.describe()
    assert attempt.hosts[-1].dane.matched_usage == 2
    assert len(mx.handler.arrivals) == 1


def test_tlsa_mismatch_is_no_secure_route(send, signed, internet, pki, mx1, mx2):
    # The certificate got a new key; the (DANE-EE only) TLSA records were not updated (S04).
    _only_usage(internet, "3", mx1, mx2)
    with running_mx(pki, mx1.name, mx1.ip, variant="new_key") as m1, \
            running_mx(pki, mx2.name, mx2.ip, variant="new_key") as m2:
        attempt = send(signed)
    _no_route(attempt, Safeguard.DANE)
    for host in attempt.hosts:
        assert host.tls is not None and not host.dane.matched
        assert {o.status for o in host.dane.outcomes} == {RecordStatus.NO_MATCH}
        lines = [str(line) for line in host.transcript]
        assert lines[-3:] == [f"C: [DANE: GEEN overeenkomst (2 TLSA-records op _25._tcp.{host.host}, 2 certificaten)]",
                              "C: QUIT", "S: 221 Bye"]
    for m in (m1, m2):
        assert m.handler.ehlo == ["postkantoor.politie.test"]  # only the EHLO before STARTTLS
        assert m.handler.received_nothing


def test_certificate_from_another_ca_is_no_secure_route(send, signed, internet, pki, mx1, mx2):
    # Only the DANE-TA record ("2 0 1"): the server sends our intermediate along,
    # but its leaf was issued by another CA, so it does not chain to the TA.
    _only_usage(internet, "2", mx1, mx2)
    with running_mx(pki, mx1.name, mx1.ip, variant="other_ca") as m1, \
            running_mx(pki, mx2.name, mx2.ip, variant="other_ca") as m2:
        attempt = send(signed)
    _no_route(attempt, Safeguard.DANE)
    statuses = {o.record.split()[0]: o.status for o in attempt.hosts[0].dane.outcomes}
    assert statuses == {"2": RecordStatus.REJECTED}
    assert "niet ondertekend door" in attempt.hosts[0].dane.outcomes[0].reason
    assert m1.handler.received_nothing and m2.handler.received_nothing


def test_tlsa_mismatch_on_one_mx_falls_through_to_the_other(send, signed, internet, pki, mx1, mx2):
    _only_usage(internet, "3", mx1, mx2)
    with running_mx(pki, mx1.name, mx1.ip, variant="new_key") as m1, running_mx(pki, mx2.name, mx2.ip) as m2:
        attempt = send(signed)
    assert attempt.delivered and attempt.delivered_by == mx2.name, attempt.describe()
    assert attempt.hosts[0].failed is Safeguard.DANE
    assert m1.handler.received_nothing and len(m2.handler.arrivals) == 1


def test_mismatch_on_one_mx_and_other_mx_down_is_temporary_but_names_the_failure(send, signed, internet, pki, mx1):
    """A secure route may come back via mx2, so the queue retries (V09); the
    failed safeguard is still in the attempt, for the queue and the report."""
    _only_usage(internet, "3", mx1)
    with running_mx(pki, mx1.name, mx1.ip, variant="new_key") as m1:  # nothing on mx2
        attempt = send(signed)
    assert attempt.outcome is Outcome.TEMPORARY, attempt.describe()
    assert attempt.failed == (Safeguard.DANE,)
    assert [h.outcome for h in attempt.hosts] == [Outcome.NO_SECURE_ROUTE, Outcome.TEMPORARY]
    assert m1.handler.received_nothing


def test_no_starttls_is_no_secure_route(send, signed, pki, mx1, mx2):
    with running_mx(pki, mx1.name, mx1.ip, starttls=False) as m1, \
            running_mx(pki, mx2.name, mx2.ip, starttls=False) as m2:
        attempt = send(signed)
    _no_route(attempt, Safeguard.STARTTLS)
    for m in (m1, m2):
        assert m.handler.ehlo and m.handler.received_nothing  # never a plain-text fallback


def test_starttls_refused_is_no_secure_route(send, signed, pki, mx1, mx2):
    reply = "454 4.7.0 TLS not available due to temporary reason"
    with running_mx(pki, mx1.name, mx1.ip, starttls_reply=reply) as m1, \
            running_mx(pki, mx2.name, mx2.ip, starttls_reply=reply) as m2:
        attempt = send(signed)
    _no_route(attempt, Safeguard.STARTTLS)
    assert all(h.reply.code == 454 and h.tls is None for h in attempt.hosts)
    assert m1.handler.received_nothing and m2.handler.received_nothing


def test_only_tls_1_0_1_1_is_no_secure_route(send, signed, pki, mx1, mx2):
    with ExitStack() as stack:
        with warnings.catch_warnings():  # ssl deprecates TLS 1.0/1.1: that is the point of this server
            warnings.simplefilter("ignore", DeprecationWarning)
            m1 = stack.enter_context(running_mx(pki, mx1.name, mx1.ip, profile=ONLY_TLS10_11))
            m2 = stack.enter_context(running_mx(pki, mx2.name, mx2.ip, profile=ONLY_TLS10_11))
        attempt = send(signed)
    _no_route(attempt, Safeguard.TLS)
    assert all(str(h.transcript[-1]).startswith("C: [TLS mislukt:") for h in attempt.hosts)
    assert m1.handler.received_nothing and m2.handler.received_nothing


def test_only_usage_1_tlsa_is_no_secure_route(send, signed, internet, pki, mx1, mx2):
    for mx in (mx1, mx2):
        records = internet.resolver.lookup(f"_25._tcp.{mx.name}", "TLSA").records
        usage3 = [r for r in records if r.startswith("3 ")]
        internet.zones.replace(f"_25._tcp.{mx.name}", "TLSA", ["1" + r[1:] for r in usage3])
    internet.changed()
    with running_mx(pki, mx1.name, mx1.ip) as mx:
        attempt = send(signed)
    _no_route(attempt, Safeguard.TLSA)
    assert all(r.startswith("1 ") for r in attempt.hosts[0].tlsa.records)
    assert "usage 2 en 3" in attempt.hosts[0].reason
    assert mx.handler.ehlo == [] and mx.handler.received_nothing


# --- SMTP answers and failures -------------------------------------------------------


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA"])
def test_4xx_is_temporary(send, signed, pki, mx1, command):
    with running_mx(pki, mx1.name, mx1.ip, replies={command: "451 4.3.0 Probeer het later nog eens"}) as mx:
        attempt = send(signed)
    assert attempt.outcome is Outcome.TEMPORARY and attempt.retry, attempt.describe()
    assert attempt.reply.code == 451
    assert [h.host for h in attempt.hosts] == [mx1.name]  # a transaction answer ends the attempt
    assert mx.handler.arrivals == []


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA"])
def test_5xx_is_permanent(send, signed, pki, mx1, command):
    with running_mx(pki, mx1.name, mx1.ip, replies={command: "550 5.1.1 Onbekende ontvanger"}) as mx:
        attempt = send(signed)
    assert attempt.outcome is Outcome.PERMANENT and not attempt.retry, attempt.describe()
    assert attempt.reply.code == 550 and "550 5.1.1" in attempt.reason
    assert mx.handler.arrivals == []


def test_connection_dropped_during_data_is_temporary_and_nothing_accepted(send, signed, pki, mx1):
    with running_mx(pki, mx1.name, mx1.ip, drop_in_data=True) as mx:
        attempt = send(signed)
    assert mx.handler.data_started.is_set()  # the drop happened inside DATA
    assert attempt.outcome is Outcome.TEMPORARY, attempt.describe()
    assert attempt.hosts[-1].stage in ("DATA", "einde DATA")
    assert [h.host for h in attempt.hosts] == [mx1.name]
    assert mx.handler.arrivals == []


def test_silent_server_times_out_as_temporary(send, signed, mx1, mx2):
    listeners = [silent_listener(mx1.ip), silent_listener(mx2.ip)]
    try:
        attempt = send(signed, timeout=0.3)
    finally:
        for s in listeners:
            s.close()
    assert attempt.outcome is Outcome.TEMPORARY, attempt.describe()
    assert all("time-out" in h.reason for h in attempt.hosts)


def test_all_mx_refusing_is_temporary(send, signed, mx1, mx2):
    attempt = send(signed)
    assert attempt.outcome is Outcome.TEMPORARY
    assert [h.host for h in attempt.hosts] == [mx1.name, mx2.name]


# --- what the MX RRset says ------------------------------------------------------------


def test_null_mx_is_permanent(send, signed, internet):
    internet.zones.replace("ggdru.test", "MX", ["0 ."])
    internet.changed()
    attempt = send(signed)
    assert attempt.outcome is Outcome.PERMANENT and "null MX" in attempt.reason
    assert attempt.hosts == ()


def test_domain_that_does_not_exist_is_permanent(internet, keten):
    host = keten.politie.domain.senders[0]
    attempt = deliver(b"x\r\n", keten.politie.adres, "meldpunt@bestaat-niet.test", resolver=internet.resolver,
                      source_ip=host.ip, helo=host.name, timeout=5)
    assert attempt.outcome is Outcome.PERMANENT and "bestaat niet" in attempt.reason
    assert attempt.mx.rcode == "NXDOMAIN" and attempt.mx.state is DnssecState.SECURE


def test_no_mx_means_the_domain_itself(send, signed, internet, pki, mx1):
    # RFC 5321 5.1: no MX RRset, so the domain's own address, with its own TLSA.
    tlsa = internet.resolver.lookup(f"_25._tcp.{mx1.name}", "TLSA").records
    internet.zones.remove("ggdru.test", "MX")
    internet.zones.add("ggdru.test", "A", mx1.ip)
    internet.zones.replace("_25._tcp.ggdru.test", "TLSA", list(tlsa))
    internet.changed()
    with running_mx(pki, mx1.name, mx1.ip) as mx:
        attempt = send(signed)
    assert attempt.delivered, attempt.describe()
    assert [h.host for h in attempt.hosts] == ["ggdru.test"]
    assert attempt.hosts[0].dane.matched_usage == 3  # "2 0 1" needs the name ggdru.test in the certificate
    assert len(mx.handler.arrivals) == 1


def test_no_mx_and_no_address_is_permanent(send, signed, internet):
    internet.zones.remove("ggdru.test", "MX")
    internet.changed()
    attempt = send(signed)
    assert attempt.outcome is Outcome.PERMANENT, attempt.describe()


# --- throughput ---------------------------------------------------------------------------


def test_thirty_deliveries_in_a_row_all_arrive(send, signed, pki, mx1):
    """Each deliver() is a full attempt: DNS, connect, STARTTLS, DANE, one
    message. The rate is measured in bench/bench_delivery.py, not asserted here."""
    n = 30
    with running_mx(pki, mx1.name, mx1.ip) as mx:
        attempts = [send(signed) for _ in range(n)]
    assert all(a.delivered for a in attempts) and len(mx.handler.arrivals) == n


# --- the officer's message ---------------------------------------------------------------


def test_officer_notice_says_each_thing_once_without_double_full_stops():
    reason = f"Geen veilige route naar ggdru.test (DANE): mx1.ggdru.test: DANE: past niet. Niets verstuurd. {ALTERNATIVE_ROUTE}"
    notice = officer_notice("MN-2026-000123", "ggd-regio-utrecht", reason)
    assert ".." not in notice and notice.count("alternatieve route") == 1, notice
    assert notice.startswith("Melding MN-2026-000123 is niet bezorgd bij ggd-regio-utrecht: Geen veilige route")
    assert notice.endswith("Niets verstuurd. Gebruik de alternatieve route (bel het meldpunt).")
    assert sentence("Niet bezorgd: 550 nee.") == "Niet bezorgd: 550 nee." == sentence("Niet bezorgd: 550 nee")
    assert sentence("klaar..") == "klaar." and sentence("echt?") == "echt?"


def test_no_double_full_stops_when_a_host_reason_ends_in_one(send, signed, internet, pki, mx1, mx2):
    """A DANE mismatch on every MX: its reason ends with "Niets verstuurd." and used to get a second stop."""
    _only_usage(internet, "3", mx1, mx2)
    with running_mx(pki, mx1.name, mx1.ip, variant="new_key"), running_mx(pki, mx2.name, mx2.ip, variant="new_key"):
        attempt = send(signed)
    assert attempt.outcome is Outcome.NO_SECURE_ROUTE
    assert ".." not in attempt.reason and ".." not in officer_notice("K", "m", attempt.reason), attempt.reason
