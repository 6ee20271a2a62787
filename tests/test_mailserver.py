"""The simulated party's MX against real clients (smtplib, swaks) and the
simulated DNS: mandatory STARTTLS with both certificate chains, sender
authentication, durable storage, every fault switch, and robustness.

No sleeps: tests wait on events (the on_message callback, MailServer.wait_stored)
or on a client's own time-out where the time-out is the behaviour under test.
"""

from __future__ import annotations

import contextlib
import email
import email.utils
import logging
import mailbox
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ketentest import dane
from ketentest.clock import KetenClock
from ketentest.policy import CBC_TLS12_CIPHERS, NCSC_GOED, ONLY_CBC, ONLY_TLS10_11, client_context
from simulators.mailserver import Folder, MailServer, MaildirStore, Stage, Switches, data_size_limit_for
from simulators.pki import CertVariant, KeyType
from simulators.wachten import load_factor

from test_auth import FOREIGN_IP, police_message, signed_police_message

MX1, MX2 = "127.60.2.25", "127.60.2.26"
HELO = "postkantoor.politie.test"


def wait_bound() -> float:
    """Seconds an awaited event may take before the test fails: 10 on an idle
    machine, stretched by the load while the test runs (simulators.wachten)."""
    return 10 * load_factor()


class Inbox:
    """The application side: collects callbacks, lets a test await them."""

    def __init__(self) -> None:
        self.messages, self.quarantined = [], []
        self._cond = threading.Condition()

    def on_message(self, stored) -> None:
        with self._cond:
            self.messages.append(stored)
            self._cond.notify_all()

    def on_quarantine(self, stored) -> None:
        with self._cond:
            self.quarantined.append(stored)
            self._cond.notify_all()

    def wait(self, count: int = 1, quarantined: int = 0):
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.messages) >= count and len(self.quarantined) >= quarantined,
                                     wait_bound())
        assert ok, f"{len(self.messages)} berichten, {len(self.quarantined)} in quarantaine"
        return self.messages


@pytest.fixture
def inbox():
    return Inbox()


@pytest.fixture
def clock():
    return KetenClock()


@pytest.fixture
def mx(internet, keten, pki, tmp_path, inbox, clock):
    with MailServer.for_deelnemer(keten, keten.meldpunten[0], pki, tmp_path / "maildir", on_message=inbox.on_message,
                                  on_quarantine=inbox.on_quarantine, clock=clock.timestamp) as server:
        yield server


def client(ip: str = MX1, source: str = "127.60.1.10", starttls: bool = True, context: ssl.SSLContext | None = None,
           timeout: float | None = None) -> smtplib.SMTP:
    s = smtplib.SMTP(ip, 25, timeout=timeout or wait_bound(), source_address=(source, 0))
    s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.ehlo(HELO)
    if starttls:
        s.starttls(context=context or client_context())
        s.ehlo(HELO)
    return s


def send(message: bytes, ip: str = MX1, source: str = "127.60.1.10", **kw) -> None:
    with client(ip, source, **kw) as s:
        s.sendmail("postkantoor@politie.test", ["meldpunt@ggdru.test"], message)


def raw(ip: str = MX1, source: str = "127.60.1.10"):
    """A bare socket for what smtplib refuses to send; returns (sock, read_reply)."""
    sock = socket.create_connection((ip, 25), timeout=wait_bound(), source_address=(source, 0))
    f = sock.makefile("rb")

    def reply() -> str:
        lines = []
        while True:
            line = f.readline().decode()
            assert line, "verbinding gesloten"
            lines.append(line.rstrip("\r\n"))
            if line[3:4] != "-":
                return "\n".join(lines)

    return sock, reply


def context_with(minimum=ssl.TLSVersion.TLSv1_2, maximum=ssl.TLSVersion.TLSv1_3, ciphers: str | None = None):
    ctx = client_context()
    ctx.minimum_version, ctx.maximum_version = minimum, maximum
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def as_sent(stored) -> bytes:
    """A stored message without the trace fields the MX put on top
    (Authentication-Results, then Received with its folded lines)."""
    rest = stored.content[len(stored.auth.header_bytes()):]
    assert rest.startswith(b"Received: ")
    end = rest.index(b"\r\n")
    while rest[end + 2:end + 3] in (b"\t", b" "):
        end = rest.index(b"\r\n", end + 2)
    return rest[end + 2:]


@contextlib.contextmanager
def awaited_warning():
    """The first warning the mail server logs, awaited (an event, not a poll):
    it is logged after the error is in the connection's trace."""
    logger = logging.getLogger("simulators.mailserver.server")
    records: list[logging.LogRecord] = []
    arrived = threading.Event()

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            arrived.set()

    handler = Handler(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        arrived.wait(wait_bound())  # also when the block raised: the client may see the failure first
        logger.removeHandler(handler)


def presented_leaf(ip: str, context: ssl.SSLContext | None = None) -> bytes:
    with client(ip, context=context) as s:
        return s.sock.getpeercert(binary_form=True)


# --- the genuine case --------------------------------------------------------------------

def test_police_message_is_accepted_authenticated_and_stored_byte_identical(mx, keten, pki, inbox):
    message = signed_police_message(keten, pki)
    send(message)
    (stored,) = inbox.wait(1)
    header, _, rest = stored.content.partition(b"\r\n\tdmarc=")
    assert stored.content.startswith(b"Authentication-Results: ggdru.test;\r\n\tspf=pass")
    assert stored.content.count(b"dkim=pass") == 2 and b"\tdmarc=pass" in stored.content
    trace_fields = stored.content[:len(stored.content) - len(message)]
    assert stored.content.endswith(message)  # the message itself unchanged
    assert trace_fields.startswith(stored.auth.header_bytes() + b"Received: from ")  # only our trace fields
    assert (stored.folder, stored.mail_from, stored.rcpt_tos) == (Folder.INBOX, "postkantoor@politie.test",
                                                                   ("meldpunt@ggdru.test",))
    assert (stored.client_ip, stored.helo, stored.listener) == ("127.60.1.10", HELO, "mx1.ggdru.test")
    assert stored.tls_version == "TLSv1.3"
    # An independent reader (the standard library's Maildir) sees the same bytes.
    assert mx.store.as_mailbox().get_bytes(stored.key) == stored.content
    assert stored.path.read_bytes() == stored.content
    assert mx.store.count(Folder.QUARANTINE) == 0 and mx.store.leftovers() == []
    (trace,) = mx.traces()
    assert (trace.client_ip, trace.helo, trace.tls_version, trace.listener) == ("127.60.1.10", HELO, "TLSv1.3",
                                                                                "mx1.ggdru.test")
    assert trace.codes == (220, 250, 220, 250, 250, 250, 354, 250, 221)
    assert trace.stored == (stored.key,)
    assert mx.callback_errors == ()


def test_each_mx_address_serves_its_own_host_ecdsa_and_rsa_chains_matching_tlsa(mx, internet, pki):
    for host, ip in (("mx1.ggdru.test", MX1), ("mx2.ggdru.test", MX2)):
        tlsa = internet.resolver.lookup(f"_25._tcp.{host}", "TLSA").records
        for key_type, cipher in ((KeyType.ECDSA, "ECDHE-ECDSA-AES256-GCM-SHA384"),
                                 (KeyType.RSA, "ECDHE-RSA-AES256-GCM-SHA384")):
            ctx = context_with(maximum=ssl.TLSVersion.TLSv1_2, ciphers=cipher)
            with client(ip, context=ctx) as s:
                chain = dane.peer_chain(s.sock)
            assert chain == pki.server_chain(host, key_type).chain_der
            assert dane.verify(chain, tlsa, host).matched
    # The other host's chain does not match: each address really serves its own.
    assert not dane.verify(pki.server_chain("mx1.ggdru.test").chain_der,
                           internet.resolver.lookup("_25._tcp.mx2.ggdru.test", "TLSA").records, "mx2.ggdru.test").matched


def test_replies_are_not_held_back_by_nagle(mx):
    # Multi-line replies (EHLO) are written line by line; without TCP_NODELAY on
    # the server's sockets each waits ~40 ms for the client's delayed ACK, so
    # five fresh STARTTLS sessions took ~420 ms (measured); now ~15 ms.
    # The bound stretches with the machine's load: a busy machine is slow anyway,
    # an idle one (CI's usual state) still catches the 40 ms stalls.
    started = time.perf_counter()
    for _ in range(5):
        client().quit()
    took = time.perf_counter() - started
    assert took < 0.2 * load_factor(), f"{took:.2f} s voor 5 STARTTLS-sessies (belasting {load_factor():.1f})"


def test_plain_mail_from_without_starttls_is_refused(mx):
    with client(starttls=False) as s:
        assert s.has_extn("starttls")
        code, text = s.mail("postkantoor@politie.test")
        assert code == 530, text
    assert mx.store.count() == 0


def test_unknown_recipient_is_refused_no_relay(mx):
    with client() as s:
        s.mail("postkantoor@politie.test")
        code, text = s.rcpt("iemand@elders.test")
        assert code == 550 and b"5.1.1" in text
        assert s.rcpt("MELDPUNT@ggdru.test")[0] == 250  # case-insensitive own mailbox
        assert not s.has_extn("auth")  # an MX offers no AUTH, also not after STARTTLS


# --- spoofing (S06) ------------------------------------------------------------------------

def test_spoofed_message_from_foreign_ip_is_rejected_by_dmarc_reject(mx, keten, inbox):
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(police_message(keten), source=FOREIGN_IP)
    assert e.value.smtp_code == 550 and b"5.7.1" in e.value.smtp_error and b"p=reject" in e.value.smtp_error
    assert mx.store.count(Folder.INBOX) == mx.store.count(Folder.QUARANTINE) == 0
    assert inbox.messages == [] and mx.stored() == ()


def test_spoofed_message_is_quarantined_under_dmarc_quarantine(mx, internet, keten, inbox):
    internet.zones.replace("_dmarc.politie.test", "TXT", ['"v=DMARC1; p=quarantine; adkim=s; aspf=s"'])
    internet.changed()
    send(police_message(keten), source=FOREIGN_IP)  # accepted (250) ...
    inbox.wait(0, quarantined=1)
    (stored,) = mx.stored()
    assert stored.folder is Folder.QUARANTINE and b"dmarc=fail (p=quarantine dis=quarantine)" in stored.content
    assert mx.store.count(Folder.INBOX) == 0 and mx.store.count(Folder.QUARANTINE) == 1
    assert len(mx.store.as_mailbox(Folder.QUARANTINE)) == 1
    assert inbox.messages == []  # ... but never handed to the application as a melding


def test_message_with_body_altered_after_signing_records_dkim_fail(mx, keten, pki, inbox):
    altered = signed_police_message(keten, pki).replace(b"ZM-2026-000123.", b"ZM-2026-999999.")
    send(altered)  # SPF still aligns from the police's own IP
    (stored,) = inbox.wait(1)
    assert stored.content.count(b"dkim=fail") == 2 and b"dkim=pass" not in stored.content
    assert b"dmarc=pass" in stored.content
    with pytest.raises(smtplib.SMTPDataError) as e:  # from anywhere else: rejected
        send(altered, source=FOREIGN_IP)
    assert e.value.smtp_code == 550


def test_forged_authentication_results_with_our_id_are_removed(mx, keten, pki, inbox):
    forged = b"Authentication-Results: ggdru.test; spf=pass; dkim=pass; dmarc=pass\r\n" + signed_police_message(keten, pki)
    send(forged)
    (stored,) = inbox.wait(1)
    assert stored.content.count(b"Authentication-Results: ggdru.test;") == 1
    assert stored.content.endswith(forged.partition(b"\r\n")[2])


# --- an independent client ---------------------------------------------------------------------

def swaks(*args: str, data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(["swaks", "--server", MX1, "--port", "25", "--local-interface", "127.60.1.10",
                           "--helo", HELO, "--from", "postkantoor@politie.test", "--to", "meldpunt@ggdru.test",
                           "--data", "-", "--timeout", "10", *args],
                          input=data, capture_output=True, timeout=60)


def test_swaks_delivers_with_tls_and_is_refused_without(mx, keten, pki, inbox):
    message = signed_police_message(keten, pki)
    plain = swaks(data=message)
    assert plain.returncode != 0 and b"<** 530" in plain.stdout, plain.stdout.decode()
    assert mx.store.count() == 0
    tls = swaks("--tls", data=message)
    assert tls.returncode == 0, tls.stdout.decode() + tls.stderr.decode()
    assert b"<~  250 2.0.0 Ontvangen" in tls.stdout
    (stored,) = inbox.wait(1)
    assert b"spf=pass" in stored.content and b"dmarc=pass" in stored.content


# --- switches ------------------------------------------------------------------------------------

def test_switch_temp_failures_answers_4xx_n_times_then_accepts(mx, keten, pki, inbox):
    mx.switches.set(temp_failures=2)
    message = signed_police_message(keten, pki)
    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(message)
        assert e.value.smtp_code == 451
    send(message)
    inbox.wait(1)
    assert mx.store.count() == 1 and mx.switches.current.temp_failures == 0


def test_switch_temp_failure_until_a_time_on_the_keten_clock(mx, keten, pki, inbox, clock):
    mx.switches.set(temp_fail_until=clock.timestamp() + 3600, temp_fail_stage=Stage.RCPT)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        send(signed_police_message(keten, pki))
    assert e.value.recipients["meldpunt@ggdru.test"][0] == 451
    clock.advance(3601)
    send(signed_police_message(keten, pki))
    inbox.wait(1)


def test_switch_temp_failure_at_greeting_is_421(mx):
    mx.switches.set(temp_failures=1, temp_fail_stage=Stage.GREETING)
    with pytest.raises(smtplib.SMTPConnectError) as e:
        client()
    assert e.value.smtp_code == 421
    client().quit()  # used up


def test_switch_perm_failure_answers_5xx(mx, keten, pki):
    mx.switches.set(perm_failure=True)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        send(signed_police_message(keten, pki))
    assert e.value.recipients["meldpunt@ggdru.test"][0] == 550
    mx.switches.set(perm_fail_stage=Stage.DATA)
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(signed_police_message(keten, pki))
    assert e.value.smtp_code == 550
    assert mx.store.count() == 0


def test_switch_drop_in_data_stores_nothing_then_delivers_once(mx, keten, pki, inbox):
    mx.switches.set(drop_in_data=1)
    message = signed_police_message(keten, pki)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(message)
    assert mx.store.count() == 0 and mx.store.leftovers() == [] and mx.stored() == ()
    send(message)  # the retry
    inbox.wait(1)
    assert mx.store.count() == 1


def test_switch_no_starttls_offered(mx):
    mx.switches.set(offer_starttls=False)
    with client(starttls=False) as s:
        assert not s.has_extn("starttls")
        assert s.mail("postkantoor@politie.test")[0] == 250  # a plain server, as after stripping
    mx.switches.set(offer_starttls=True)
    with client(starttls=False) as s:
        assert s.has_extn("starttls")


def test_switch_only_tls10_11_fails_a_tls12_plus_client(mx):
    mx.switches.set(tls_profile=ONLY_TLS10_11)
    with pytest.raises(ssl.SSLError):
        client()  # our senders: TLS 1.2+ only
    old = context_with(minimum=ssl.TLSVersion.TLSv1, maximum=ssl.TLSVersion.TLSv1_1,
                       ciphers="ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0")
    with client(context=old) as s:
        assert s.sock.version() == "TLSv1.1"
    assert mx.traces()[-1].tls_version == "TLSv1.1"
    mx.switches.set(tls_profile=NCSC_GOED)
    client().quit()  # takes effect for new connections


def test_switch_only_cbc_negotiates_a_cbc_cipher(mx):
    mx.switches.set(tls_profile=ONLY_CBC)
    with pytest.raises(ssl.SSLError), awaited_warning():
        client(context=context_with(ciphers=NCSC_GOED.ciphers))  # an AEAD-only client
    assert "TLSSetupException" in mx.traces()[-1].errors[0]  # the report says why
    # The keten's senders still accept ECDHE-CBC ("uitfaseren"): B05 warns, mail travels.
    with client() as s:
        cipher, version, _ = s.sock.cipher()
    assert version == "TLSv1.2" and cipher in CBC_TLS12_CIPHERS.split(":")
    assert mx.traces()[-1].tls_cipher == cipher


#: usages of the keten's TLSA records that still match per variant (3 = DANE-EE 3 1 1, 2 = DANE-TA 2 0 1)
EXPECTED_TLSA_MATCHES = {
    CertVariant.EXPIRED: {3},  # same key; usage 2 checks validity dates
    CertVariant.WRONG_NAME: {3},  # same key; usage 2 checks the name
    CertVariant.SELF_SIGNED: {3},  # same key, no CA chain
    CertVariant.NEW_KEY: {2},  # new key, same CA
    CertVariant.OTHER_CA: {3},  # same key, leaf does not chain to the presented intermediate
}


@pytest.mark.parametrize("variant", [CertVariant.EXPIRED, CertVariant.WRONG_NAME, CertVariant.SELF_SIGNED,
                                     CertVariant.NEW_KEY, CertVariant.OTHER_CA])
def test_switch_certificate_variant_changes_the_presented_certificate(mx, internet, pki, variant):
    host = "mx1.ggdru.test"
    ecdsa_tls12 = context_with(maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
    valid = presented_leaf(MX1, ecdsa_tls12)
    mx.switches.set(cert_variant=variant)
    leaf = presented_leaf(MX1, ecdsa_tls12)
    assert leaf != valid and leaf == pki.server_chain(host, KeyType.ECDSA, variant).chain_der[0]
    cert = x509.load_der_x509_certificate(leaf)
    if variant is CertVariant.EXPIRED:
        assert cert.not_valid_after_utc < x509.load_der_x509_certificate(valid).not_valid_before_utc
    elif variant is CertVariant.WRONG_NAME:
        assert host not in str(cert.subject)
    elif variant is CertVariant.SELF_SIGNED:
        assert cert.issuer == cert.subject
    tlsa = internet.resolver.lookup(f"_25._tcp.{host}", "TLSA").records
    with client(MX1, context=ecdsa_tls12) as s:
        result = dane.verify(dane.peer_chain(s.sock), tlsa, host)
    # Which of the keten's TLSA records (3 1 1 and 2 0 1) still match. With both
    # published, no single variant breaks DANE as a whole (a rollover scheme):
    # a S04 scenario must also drop one record, or break both (see report).
    matching = {int(o.record.split()[0]) for o in result.outcomes if o.status is dane.RecordStatus.MATCHED}
    assert matching == EXPECTED_TLSA_MATCHES[variant], result.outcomes
    new_spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    old_spki = x509.load_der_x509_certificate(valid).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert (new_spki != old_spki) == (variant is CertVariant.NEW_KEY)


def test_switch_reply_delay_slows_every_reply(mx):
    mx.switches.set(reply_delay=0.4)
    with client() as s:
        started = time.monotonic()
        assert s.noop()[0] == 250
        assert time.monotonic() - started >= 0.4
    with pytest.raises((socket.timeout, TimeoutError, smtplib.SMTPServerDisconnected)):
        client(timeout=0.2)  # a client less patient than the server is slow


def test_switch_stall_at_data_makes_the_client_time_out_and_stores_nothing(mx, keten, pki):
    mx.switches.set(stall_at=Stage.DATA)
    with pytest.raises((socket.timeout, TimeoutError, smtplib.SMTPServerDisconnected)):
        send(signed_police_message(keten, pki), timeout=0.5)
    assert mx.store.count() == 0


def test_switch_stall_at_greeting_makes_the_client_time_out(mx):
    mx.switches.set(stall_at=Stage.GREETING)
    with pytest.raises((socket.timeout, TimeoutError, smtplib.SMTPServerDisconnected)):
        client(timeout=0.5)
    mx.switches.set(stall_at=None)
    client().quit()


def test_switch_reject_all_refuses_service_but_answers_quit(mx):
    mx.switches.set(reject_all=True)
    with pytest.raises(smtplib.SMTPConnectError) as e:
        client()
    assert e.value.smtp_code == 554
    sock, reply = raw()
    with sock:
        assert reply().startswith("554 5.3.2")
        sock.sendall(b"EHLO postkantoor.politie.test\r\n")
        assert reply().startswith("503")
        sock.sendall(b"MAIL FROM:<postkantoor@politie.test>\r\n")
        assert reply().startswith("503")
        sock.sendall(b"QUIT\r\n")
        assert reply().startswith("221")


def test_switches_validate_their_values():
    with pytest.raises(ValueError):
        Switches(temp_failures=-1)
    assert Switches().describe() == "gezond"
    assert "reject_all=True" in Switches(reject_all=True).describe()
    # Values as a JSON control API sends them: names become enums and profiles.
    s = Switches(stall_at="data", temp_fail_stage="rcpt", cert_variant="new_key", tls_profile="alleen-cbc")
    assert (s.stall_at, s.temp_fail_stage, s.cert_variant, s.tls_profile) == (Stage.DATA, Stage.RCPT,
                                                                             CertVariant.NEW_KEY, ONLY_CBC)
    with pytest.raises(ValueError):
        Switches(tls_profile="ssl3")


# --- robustness (S07, S08) ------------------------------------------------------------------------

def test_garbage_and_overlong_commands_get_replies_and_the_server_keeps_serving(mx, keten, pki, inbox):
    sock, reply = raw()
    with sock:
        assert reply().startswith("220")
        sock.sendall(b"X" * 3000 + b"\r\n")
        assert reply().startswith("500")  # command line too long
        sock.sendall(b"\xff\xfe\x00garbage\r\n")
        assert reply().startswith("500")
        sock.sendall(b"EHLO\r\n")
        assert reply().startswith("501")
        sock.sendall(b"EHLO " + HELO.encode() + b"\r\n")
        assert reply().startswith("250")
        sock.sendall(b"RCPT TO:<meldpunt@ggdru.test>\r\n")
        assert reply().startswith("530")  # still no STARTTLS
    send(signed_police_message(keten, pki))
    inbox.wait(1)


def test_overlong_line_in_data_is_refused_and_the_connection_goes_on(mx, keten, pki, inbox):
    with client() as s:
        s.mail("postkantoor@politie.test")
        s.rcpt("meldpunt@ggdru.test")
        code, text = s.data(police_message(keten) + b"A" * 5000 + b"\r\n")
        assert code == 500 and b"Line too long" in text
        s.sendmail("postkantoor@politie.test", ["meldpunt@ggdru.test"], signed_police_message(keten, pki))
    inbox.wait(1)
    assert mx.store.count() == 1


def test_oversized_message_is_refused_with_552(mx, keten):
    limit = data_size_limit_for(keten.aannames.max_pdf_bytes)
    assert mx.data_size_limit == limit > keten.aannames.max_pdf_bytes * 4 // 3
    with client() as s:
        assert s.has_extn("size") and int(s.esmtp_features["size"]) == limit
        code, text = s.mail("postkantoor@politie.test", [f"SIZE={limit + 1}"])
        assert code == 552
        # Without SIZE: refused at the end of DATA.
        s.mail("postkantoor@politie.test")
        s.rcpt("meldpunt@ggdru.test")
        big = police_message(keten, pdf_size=limit)
        code, text = s.data(big)
        assert code == 552, text
        assert s.noop()[0] == 250  # the connection is still usable
    assert mx.store.count() == 0


def test_broken_mime_gets_a_reply_not_a_crash(mx, keten, pki, inbox):
    no_single_from = [b"\x00\xff no headers at all\r\n", b"From: <<<@@@>>>\r\nSubject: =?x?q?\r\n\r\n--b\r\n",
                      b"From: a@politie.test\r\nFrom: b@politie.test\r\n\r\ntwee afzenders\r\n"]
    for message in no_single_from:
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(message)
        assert e.value.smtp_code == 550 and b"geen eenduidige From" in e.value.smtp_error, e.value
    # A mangled signature on an otherwise SPF-aligned message: accepted, DKIM permerror recorded.
    send(b"DKIM-Signature: v=1; a=rsa-sha256; b=\r\nFrom: postkantoor@politie.test\r\n\r\nx\r\n")
    (stored,) = inbox.wait(1)
    assert b"dkim=permerror" in stored.content and b"dmarc=pass" in stored.content
    send(signed_police_message(keten, pki))
    inbox.wait(2)


def test_stored_message_survives_a_later_broken_connection(mx, keten, pki, inbox):
    first = signed_police_message(keten, pki)
    send(first)
    (stored,) = inbox.wait(1)
    # A second sender breaks off in the middle of DATA.
    sock, reply = raw()
    reply()
    for line in (b"EHLO x.test", b"STARTTLS"):
        sock.sendall(line + b"\r\n")
        reply()
    with client_context().wrap_socket(sock) as tls:  # detaches sock
        f = tls.makefile("rb")
        for line in (b"EHLO x.test", b"MAIL FROM:<postkantoor@politie.test>", b"RCPT TO:<meldpunt@ggdru.test>",
                     b"DATA"):
            tls.sendall(line + b"\r\n")
            while (answer := f.readline())[3:4] == b"-":
                pass
        assert answer.startswith(b"354")
        tls.sendall(first[: len(first) // 2])
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    send(signed_police_message(keten, pki, subject="Tweede melding"))
    inbox.wait(2)
    assert mx.store.count() == 2 and mx.store.leftovers() == []
    assert mx.store.read(stored.key) == stored.content  # untouched
    broken = [t for t in mx.traces() if 354 in t.codes and not t.stored]
    assert len(broken) == 1 and broken[0].codes[-1] == 354  # it never got an answer to its data


def test_store_recovers_from_a_crash_mid_delivery(tmp_path):
    store = MaildirStore(tmp_path / "md")
    key, _ = store.deliver(b"Subject: eerst\r\n\r\nx\r\n")
    (store.root / "tmp" / "123.half.ketentest").write_bytes(b"Subject: half")  # crash before the rename
    assert store.keys() == [key] and len(store.leftovers()) == 1
    assert store.recover() == 1 and store.leftovers() == []
    assert store.messages() == [b"Subject: eerst\r\n\r\nx\r\n"]
    assert len(mailbox.Maildir(store.root)) == 1


def test_concurrent_deliveries_on_both_mx_addresses_are_all_stored_once(mx, keten, pki, inbox):
    messages = [signed_police_message(keten, pki, subject=f"Melding {i}") for i in range(12)]
    errors = []

    def deliver(batch, ip):
        try:
            with client(ip) as s:
                for m in batch:
                    s.sendmail("postkantoor@politie.test", ["meldpunt@ggdru.test"], m)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=deliver, args=(messages[i::4], (MX1, MX2)[i % 2])) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(wait_bound())
    assert errors == []
    inbox.wait(12)
    stored = mx.store.messages()
    assert len(stored) == 12 and mx.store.leftovers() == []
    # Each message exactly once, byte-identical after our trace fields.
    assert sorted(as_sent(s) for s in inbox.messages) == sorted(messages)
    assert sorted(s.content for s in inbox.messages) == sorted(stored)
    assert {t.listener for t in mx.traces()} == {"mx1.ggdru.test", "mx2.ggdru.test"}


def test_a_slow_application_does_not_hold_the_250(internet, keten, pki, tmp_path):
    release, seen = threading.Event(), []

    def slow_app(stored):
        release.wait(wait_bound())
        seen.append(stored.key)

    with MailServer.for_deelnemer(keten, "ggd-regio-utrecht", pki, tmp_path / "md", on_message=slow_app) as server:
        send(signed_police_message(keten, pki))  # returns although the application is still busy
        send(signed_police_message(keten, pki, subject="tweede"))
        assert seen == [] and server.store.count() == 2
        release.set()
    assert seen == [m.key for m in server.stored()]  # handed over in order; stop() waits for the application


def test_application_callback_error_does_not_lose_the_message(internet, keten, pki, tmp_path):
    def broken_app(stored):
        raise RuntimeError("kenmerkregister stuk")

    with MailServer.for_deelnemer(keten, "ggd-regio-utrecht", pki, tmp_path / "md", on_message=broken_app,
                                  history=1) as server:
        send(signed_police_message(keten, pki))
        server.wait_stored(1)
        send(signed_police_message(keten, pki, subject="nog een"))
        server.wait_stored(2)
        assert server.store.count() == 2 and server.stored_count == 2
        assert len(server.stored()) == 1 and b"nog een" in server.stored()[0].content  # bounded history


def test_content_check_refuses_with_a_clear_reason(internet, keten, pki, tmp_path):
    def no_pdf(content, auth):
        # base64 of "%PDF-" starts with "JVBERi0"
        return "550 5.6.0 Bijlage is geen toegestane PDF" if b"JVBERi0" not in content else None

    with MailServer.for_deelnemer(keten, "ggd-regio-utrecht", pki, tmp_path / "md", content_check=no_pdf) as server:
        send(signed_police_message(keten, pki))
        server.wait_stored(1)
        bad = signed_police_message(keten, pki).replace(b"JVBERi0", b"AAAAAAA")
        with pytest.raises(smtplib.SMTPDataError) as e:
            send(bad)
        assert e.value.smtp_code == 550 and b"geen toegestane PDF" in e.value.smtp_error
        assert server.store.count() == 1


def test_busy_address_fails_at_once_with_a_clear_error(mx, keten, pki, tmp_path):
    from ketentest.errors import InfrastructureError

    with pytest.raises(InfrastructureError, match="127.60.2.25:25"):
        MailServer.for_deelnemer(keten, "ggd-regio-utrecht", pki, tmp_path / "other").start()


# --- protocol details a real MTA gets right (point 8a) --------------------------------------------

def test_stored_message_gets_a_received_header_with_the_tls_session(mx, keten, pki, inbox):
    message = signed_police_message(keten, pki)
    send(message)
    (stored,) = inbox.wait(1)
    parsed = email.message_from_bytes(stored.content)
    (received,) = parsed.get_all("Received")
    # RFC 5321 4.4: from <helo> (<helo> [ip]) ... by <us> with ESMTPS (RFC 3848) for <rcpt>; date
    assert received.startswith(f"from {HELO} ([127.60.1.10])")
    assert "(using TLSv1.3 with cipher TLS_" in received and "by mx1.ggdru.test" in received
    assert " with ESMTPS" in received and "for <meldpunt@ggdru.test>;" in received
    when = email.utils.parsedate_to_datetime(received.rpartition(";")[2].strip())
    assert abs(when.timestamp() - mx.clock()) < 60  # the keten clock, not the wall clock
    # Trace fields on top, the message itself unchanged below them.
    assert stored.content == stored.auth.header_bytes() + stored.content[len(stored.auth.header_bytes()):]
    assert stored.content.endswith(message)
    assert stored.content.index(b"Received: ") < stored.content.index(message[:40])


def test_a_hostile_helo_cannot_break_out_of_the_received_header(mx, keten, pki, inbox):
    hostile = "x(y)\\z;<evil>" + "a" * 400  # the EHLO line stays under aiosmtpd's 512
    with client(starttls=False) as s:
        s.ehlo(hostile)
        s.starttls(context=client_context())
        s.ehlo(hostile)
        s.sendmail("postkantoor@politie.test", ["meldpunt@ggdru.test"], signed_police_message(keten, pki))
    (stored,) = inbox.wait(1)
    (received,) = email.message_from_bytes(stored.content).get_all("Received")
    head = stored.content.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert "(y)" not in received and "<evil>" not in received and received.count(";") == 1


def test_a_second_starttls_inside_tls_is_refused_without_a_traceback(mx, caplog):
    with client() as s:  # already in TLS
        code, text = s.docmd("STARTTLS")
        assert code == 503, (code, text)
        assert s.noop()[0] == 250  # the TLS session goes on
    (trace,) = mx.traces()
    assert trace.errors == ()
    assert not [r for r in caplog.records if r.exc_info or "TypeError" in r.getMessage()]


def test_auth_is_not_offered_and_answered_with_503(mx):
    with client() as s:
        assert not s.has_extn("auth")
        code, text = s.docmd("AUTH", "PLAIN AHBvbGl0aWUAZ2VoZWlt")
        assert code == 503, (code, text)
        assert s.mail("postkantoor@politie.test")[0] == 250  # nothing else disturbed


def test_a_failed_tls_handshake_is_logged_with_its_reason(mx):
    sock, reply = raw()
    with sock, awaited_warning() as records:
        assert reply().startswith("220")
        sock.sendall(b"EHLO " + HELO.encode() + b"\r\n")
        assert reply().startswith("250")
        sock.sendall(b"STARTTLS\r\n")
        assert reply().startswith("220")
        sock.sendall(b"this is not a TLS ClientHello\r\n" * 4)
    assert records, "de mislukte handshake is niet gelogd"
    message = records[0].getMessage()
    assert "TLS-handshake mislukt" in message and "WRONG_VERSION_NUMBER" in message, message
    (trace,) = mx.traces()
    assert trace.errors and "WRONG_VERSION_NUMBER" in trace.errors[0], trace.errors


@pytest.mark.parametrize("journal", [True, False])
def test_mail_accepted_but_not_handled_is_handed_over_again_after_a_restart(internet, keten, pki, tmp_path, clock,
                                                                             journal):
    """The application dies with the message (here: its callback fails, as a
    crash between the 250 and the back office would leave it). The next server
    on the same Maildir hands it over again, with the same envelope and a
    recomputed authentication, once; without the journal (the defect switch) it
    is lost."""
    def crashing(stored):
        raise RuntimeError("de backoffice viel om")

    store = tmp_path / "maildir"
    first = MailServer.for_deelnemer(keten, keten.meldpunten[0], pki, store, on_message=crashing, clock=clock.timestamp,
                                     switches=Switches(journal=journal))
    with first:
        send(signed_police_message(keten, pki))
        assert first.wait_handled(wait_bound()) and first.callback_errors
    again = Inbox()
    with MailServer.for_deelnemer(keten, keten.meldpunten[0], pki, store, on_message=again.on_message,
                                  clock=clock.timestamp) as second:
        assert second.wait_handled(wait_bound())
        if not journal:
            assert again.messages == [] and second.store.count() == 1  # stored, answered 250, never handled
            return
        (replayed,) = again.wait(1)
        assert (replayed.mail_from, replayed.client_ip, replayed.helo) == ("postkantoor@politie.test", "127.60.1.10", HELO)
        assert replayed.auth.dmarc.result == "pass" and replayed.content == second.store.messages()[0]
    with MailServer.for_deelnemer(keten, keten.meldpunten[0], pki, store, on_message=again.on_message,
                                  clock=clock.timestamp) as third:
        assert third.wait_handled(wait_bound()) and len(again.messages) == 1  # handled once: not handed over a third time
