"""The DANE-checked STARTTLS SMTP client that every sender in the keten uses
(RFC 7672; agreement V02: only secure transport, never a fallback).

    attempt = deliver(signed_bytes, "postkantoor@politie.test", "meldpunt@ggdru.test",
                      resolver=net.resolver, source_ip="127.60.1.10", helo="postkantoor.politie.test")

One call is one delivery attempt over the MX hosts of the recipient's
domain; retrying later is the caller's job (the police queue, V09). The
result is a frozen trace for reports: every DNS answer with its DNSSEC state,
the TLS session, the DANE verdict and the SMTP transcript per host.

The RFC 7672 logic here is written by hand (smtplib does the SMTP): no
maintained Python library does DANE for SMTP. Steps per attempt:

1. MX of the domain, DNSSEC-secure (insecure, bogus or no answer: no secure
   route), read by :func:`ketentest.mx.parse_mx`, the same function the
   checks use. Null MX (RFC 7505) or a proven non-existent domain:
   permanent; a null MX beside real MX records too, as Postfix does (see
   :mod:`ketentest.mx`). A secure "no MX" means the domain itself is the
   host (RFC 5321 5.1; with no address either: permanent).
2. Per MX host, in preference order: a secure A RRset (the resolver follows
   a CNAME), then the secure TLSA RRset that counts
   (:func:`ketentest.mx.lookup_tlsa`: after a secure CNAME expansion first
   at the expanded name, then at the MX host name, RFC 7672 2.2.3) with at
   least one usable record (:func:`ketentest.dane.usable_records`). Anything
   less: this host offers no secure route (V02 is stricter than RFC 7672,
   which would send opportunistically without TLSA).
3. Connect from ``source_ip`` (SPF depends on it), TCP_NODELAY, EHLO,
   STARTTLS (mandatory), TLS with the NCSC client profile, then match the
   presented chain against the TLSA records (:func:`ketentest.dane.verify`)
   *before* MAIL FROM. No match: QUIT over TLS, nothing sent.
4. MAIL, RCPT, DATA. 250: delivered. 4xx anywhere, a refused, reset or timed
   out connection, or a drop during DATA: temporary. 5xx to MAIL/RCPT/DATA:
   permanent. A 4xx/5xx greeting moves on to the next MX.

Connection reuse (optional, issue 14): with ``pool=Verbindingen()`` an
authenticated connection that just delivered stays open for the next message
to the same MX address, for a few seconds and a bounded number of messages.
Before each reuse the chain that connection presented is checked again
against the TLSA records of *this* attempt's DNS look-ups (step 2 runs for
every message); no match: it is closed and a new connection is made. The
host's transcript then shows how that connection was opened (STARTTLS, TLS,
DANE) followed by this transaction. A closed or failed connection is never
reused. Without ``pool`` every attempt has its own connection.

Outcome over all hosts: delivered by any host wins; a 4xx/5xx answer to the
transaction ends the attempt at once (no other MX is tried for it);
otherwise, if any host failed temporarily (a secure route may come back)
the attempt is temporary, else permanent if a host refused service, else
there is no secure route. A dead resolver (InfrastructureError) is a harness
failure and is raised, not classified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ketentest import policy
from ketentest.dane import DaneResult, describe_unusable, peer_chain, usable_records, verify
from ketentest.dns import DnsAnswer, DnssecState
from ketentest.mx import TlsaLookup, lookup_tlsa, parse_mx

DEFAULT_TIMEOUT = 30.0
ALTERNATIVE_ROUTE = ("De melding is niet verstuurd. Gebruik de alternatieve route om de melding "
                     "bij het meldpunt te krijgen.")
OFFICER_ADVICE = "Gebruik de alternatieve route (bel het meldpunt)."


def sentence(text: str) -> str:
    """``text`` ending in exactly one full stop (no "..", no stop after "?" or "!")."""
    text = text.rstrip()
    while text.endswith(".."):
        text = text[:-1]
    return text if text.endswith((".", "?", "!")) else text + "."


def officer_notice(kenmerk: str, meldpunt: str, reason: str) -> str:
    """Dutch: what the officer reads when a melding is onbestelbaar; the
    delivery reason once, the advice once."""
    reason = reason.replace(ALTERNATIVE_ROUTE, "").strip()
    return f"{sentence(f'Melding {kenmerk} is niet bezorgd bij {meldpunt}: {reason}')} {OFFICER_ADVICE}"


class Outcome(str, Enum):
    DELIVERED = "delivered"
    TEMPORARY = "temporary"  # retry later (V09)
    PERMANENT = "permanent"  # onbestelbaar: tell the officer (S02)
    NO_SECURE_ROUTE = "no_secure_route"  # not sent (V02): tell the officer to use the alternative route

    @property
    def dutch(self) -> str:
        return {"delivered": "bezorgd", "temporary": "tijdelijke fout (later opnieuw proberen)",
                "permanent": "permanente fout (onbestelbaar)", "no_secure_route": "geen veilige route"}[self.value]


class Safeguard(str, Enum):
    """The part of the secure route that failed."""

    DNSSEC = "DNSSEC"
    TLSA = "TLSA"
    STARTTLS = "STARTTLS"
    TLS = "TLS"
    DANE = "DANE"


@dataclass(frozen=True)
class SmtpLine:
    side: str  # "C" (client, us) or "S" (server)
    text: str  # one line without CRLF; message data is elided

    def __str__(self) -> str:
        return f"{self.side}: {self.text}"


@dataclass(frozen=True)
class SmtpReply:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


@dataclass(frozen=True)
class TlsSession:
    version: str  # "TLSv1.3"
    cipher: str
    bits: int
    cert_subject: str  # the leaf, RFC 4514
    cert_sha256: str  # hex fingerprint of the leaf (DER)
    cert_key: str  # e.g. "EC secp256r1", "RSA 3072"
    chain_length: int
    chain_der: tuple[bytes, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class HostAttempt:
    """One MX host (one address) tried within a delivery attempt."""

    host: str
    preference: int
    outcome: Outcome
    reason: str  # Dutch
    failed: Safeguard | None = None  # which safeguard failed (no secure route)
    address: DnsAnswer | None = None  # the A look-up
    tlsa: DnsAnswer | None = None  # the TLSA RRset that counts (RFC 7672 2.2.3)
    tlsa_owner: str = ""  # where it was found: _25._tcp.<expanded name> or _25._tcp.<host>
    cname: tuple[DnsAnswer, ...] = ()  # the MX host's CNAME chain, when it is an alias
    ip: str | None = None
    tls: TlsSession | None = None
    dane: DaneResult | None = None
    transcript: tuple[SmtpLine, ...] = ()
    reply: SmtpReply | None = None  # the last server reply that decided
    stage: str = ""  # where it ended (Dutch: "DNS", "verbinden", "RCPT TO", ...)
    data_sent: bool = False  # the whole message went out (a drop after this may still have delivered)
    started: dt.datetime | None = None
    ended: dt.datetime | None = None


@dataclass(frozen=True)
class DeliveryAttempt:
    """One delivery attempt of one message to one recipient: the typed trace."""

    mail_from: str
    rcpt_to: str
    domain: str
    size: int
    outcome: Outcome
    reason: str  # Dutch, for the officer and the report
    failed: tuple[Safeguard, ...]  # safeguards that failed, in the order met
    mx: DnsAnswer | None
    hosts: tuple[HostAttempt, ...]
    started: dt.datetime
    ended: dt.datetime
    wall_seconds: float
    source_ip: str
    delivered_by: str | None = None  # MX host that answered 250
    reply: SmtpReply | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.DELIVERED

    @property
    def retry(self) -> bool:
        return self.outcome is Outcome.TEMPORARY

    @property
    def dns_answers(self) -> tuple[DnsAnswer, ...]:
        out = [self.mx] if self.mx else []
        for h in self.hosts:
            out += [a for a in (*h.cname, h.address, h.tlsa) if a is not None and a not in out]
        return tuple(out)

    def describe(self) -> str:
        """A readable Dutch account, for reports."""
        lines = [f"Bezorging {self.mail_from} -> {self.rcpt_to} ({self.size} bytes, vanaf {self.source_ip}): "
                 f"{self.outcome.dutch}", f"  {self.reason}",
                 f"  start {self.started:%Y-%m-%d %H:%M:%S} UTC, duur {self.wall_seconds:.3f} s"]
        if self.mx is not None:
            lines.append(f"  DNS: {self.mx.describe()}")
        for h in self.hosts:
            if h.ip:
                where = h.ip
            elif h.address is not None and h.address.records:
                where = f"{', '.join(h.address.records)}, niet verbonden"
            else:
                where = "geen adres"
            lines.append(f"  MX {h.host} (voorkeur {h.preference}, {where}): {h.outcome.dutch}: {h.reason}")
            for a in (*h.cname, h.address, h.tlsa):
                if a is not None:
                    lines.append(f"    DNS: {a.describe()}")
            if h.tls is not None:
                lines.append(f"    TLS: {h.tls.version} {h.tls.cipher}; certificaat {h.tls.cert_subject} "
                             f"({h.tls.cert_key}, SHA-256 {h.tls.cert_sha256[:16]}…)")
            if h.dane is not None:
                lines.append(f"    DANE: {h.dane.explanation}")
            lines += [f"    {line}" for line in h.transcript]
        return "\n".join(lines)


def deliver(
    message: bytes,
    mail_from: str,
    rcpt_to: str,
    *,
    resolver,
    source_ip: str,
    helo: str,
    port: int = 25,
    timeout: float = DEFAULT_TIMEOUT,
    clock=None,
    pool: "Verbindingen | None" = None,
    keten=None,
    guard=None,
) -> DeliveryAttempt:
    """Deliver ``message`` (bytes as signed, CRLF) to ``rcpt_to`` over DANE-
    authenticated STARTTLS, or not at all. ``resolver`` has
    ``lookup(name, rdtype) -> DnsAnswer`` (the keten's validating Unbound);
    ``clock`` (a KetenClock) dates the trace and the DANE-TA validity check;
    ``pool`` keeps authenticated connections for the next message (see above).

    Safety rail (issue 15): before any DNS look-up or connection the guard
    (``guard``, default :func:`ketentest.echt.default_guard`, with ``keten`` or
    the keten given to :func:`ketentest.echt.use_keten`) checks ``rcpt_to``:
    a real address not on an allowlist gives a PERMANENT attempt whose reason
    says so, over ``max_per_uur`` a TEMPORARY one; nothing is sent either way."""
    from ketentest import echt

    run = _Run(message, mail_from, rcpt_to, resolver, source_ip, helo, port, timeout, clock, pool)
    guard = guard if guard is not None else echt.default_guard()
    owner = None
    if "@" in rcpt_to and run.domain:  # a malformed address is refused by _Run as before
        try:
            owner = guard.admit(rcpt_to, keten)
        except echt.RecipientNotAllowed as e:
            return run.refused(Outcome.PERMANENT, e)
        except echt.TooManySends as e:
            return run.refused(Outcome.TEMPORARY, e)
    attempt = run.go()
    if owner is not None:
        guard.sent(owner, attempt.delivered, run.message, keten)
    return attempt


# --- connection reuse ----------------------------------------------------------------


@dataclass
class _Open:
    """An authenticated connection between two transactions."""

    client: "_TracingSMTP"
    tls: TlsSession
    chain: list[bytes]
    opening: tuple[SmtpLine, ...]  # connect, EHLO, STARTTLS, TLS, DANE, EHLO: how it was authenticated
    messages: int = 0
    idle_since: float = 0.0


class Verbindingen:
    """Authenticated SMTP connections kept for the next message to the same
    MX address (thread-safe). ``max_idle`` seconds unused or ``max_messages``
    sent: closed. Use one per sending party; ``close()`` at the end."""

    def __init__(self, max_idle: float = 5.0, max_messages: int = 100) -> None:
        self.max_idle, self.max_messages = max_idle, max_messages
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[_Open]] = {}
        self.reused = 0  # messages that went over a kept connection
        self.kept = 0  # new connections kept after their first message

    def take(self, key: tuple) -> _Open | None:
        expired, found = [], None
        with self._lock:
            stack = self._idle.get(key, [])
            now = time.monotonic()
            while stack:
                conn = stack.pop()
                if now - conn.idle_since <= self.max_idle:
                    found = conn
                    break
                expired.append(conn)
        for conn in expired:
            _close(conn.client)
        return found

    def give(self, key: tuple, conn: _Open, reused: bool = False) -> None:
        with self._lock:
            if reused:
                self.reused += 1
            else:
                self.kept += 1
            if conn.messages < self.max_messages:
                conn.idle_since = time.monotonic()
                self._idle.setdefault(key, []).append(conn)
                return
        _close(conn.client)

    def close(self) -> None:
        with self._lock:
            conns = [c for stack in self._idle.values() for c in stack]
            self._idle.clear()
        for conn in conns:
            _close(conn.client)


def _close(client: "_TracingSMTP") -> None:
    client.quit_quietly()
    client.close()


# --- one attempt -----------------------------------------------------------------


class _Stop(Exception):
    """A host attempt ends here."""

    def __init__(self, outcome: Outcome, reason: str, failed: Safeguard | None = None,
                 reply: SmtpReply | None = None) -> None:
        super().__init__(reason)
        self.outcome, self.reason, self.failed, self.reply = outcome, reason, failed, reply


@dataclass(frozen=True)
class _Mx:
    host: str
    preference: int
    implicit: bool = False  # no MX RRset: the domain itself (RFC 5321 5.1)


class _Run:
    def __init__(self, message, mail_from, rcpt_to, resolver, source_ip, helo, port, timeout, clock, pool=None) -> None:
        if isinstance(message, str):
            raise TypeError("deliver() verwacht het bericht als bytes (zoals ondertekend)")
        self.message = bytes(message)
        self.mail_from, self.rcpt_to = mail_from, rcpt_to
        self.resolver, self.source_ip, self.helo = resolver, source_ip, helo
        self.port, self.timeout, self.clock = port, timeout, clock
        self.pool: Verbindingen | None = pool
        self.domain = rcpt_to.rpartition("@")[2].rstrip(".").lower()

    def now(self) -> dt.datetime:
        return self.clock.now() if self.clock is not None else dt.datetime.now(dt.timezone.utc)

    def refused(self, outcome: Outcome, error) -> DeliveryAttempt:
        """Not attempted: the safety rail refused it (no DNS, no connection).
        The reason is the error's message and hint on one line."""
        now = self.now()
        reason = sentence(f"{sentence(error.message)} Wat te doen: {error.hint}")
        return DeliveryAttempt(self.mail_from, self.rcpt_to, self.domain, len(self.message), outcome, reason, (),
                               None, (), now, now, 0.0, self.source_ip)

    def go(self) -> DeliveryAttempt:
        started, t0 = self.now(), time.monotonic()
        mx_answer, hosts, outcome, reason, failed = None, [], Outcome.PERMANENT, "", ()
        try:
            if "@" not in self.rcpt_to or not self.domain:
                raise _Stop(Outcome.PERMANENT, f"ongeldig ontvangstadres {self.rcpt_to!r}")
            mx_answer = self.resolver.lookup(self.domain, "MX")
            mxs = self._mx_hosts(mx_answer)
            for mx in mxs:
                for attempt in self._try_host(mx):
                    hosts.append(attempt)
                    # Once the transaction started, its answer (or a drop) ends the attempt.
                    if attempt.outcome is Outcome.DELIVERED or attempt.stage in _TRANSACTION_STAGES:
                        raise _Done()
            outcome, reason, failed = self._summarise(hosts)
        except _Done:
            last = hosts[-1]
            outcome, reason = last.outcome, last.reason
            failed = (last.failed,) if last.failed else ()
            if outcome is Outcome.DELIVERED:
                version = last.tls.version if last.tls else "TLS"
                reason = f"Bezorgd bij {last.host} ({last.ip}) via {version}: {last.reply}"
            else:
                prefix = "Tijdelijk niet bezorgd" if outcome is Outcome.TEMPORARY else "Niet bezorgd"
                reason = sentence(f"{prefix} bij {self.domain}: {last.reason}")
        except _Stop as stop:
            outcome, reason, failed = stop.outcome, sentence(stop.reason), (stop.failed,) if stop.failed else ()
            if outcome is Outcome.NO_SECURE_ROUTE:
                reason = f"{reason} {ALTERNATIVE_ROUTE}"
        last = hosts[-1] if hosts else None
        return DeliveryAttempt(
            self.mail_from, self.rcpt_to, self.domain, len(self.message), outcome, reason, failed, mx_answer,
            tuple(hosts), started, self.now(), time.monotonic() - t0, self.source_ip,
            delivered_by=last.host if last and outcome is Outcome.DELIVERED else None,
            reply=last.reply if last else None,
        )

    # -- DNS -------------------------------------------------------------------------

    def _mx_hosts(self, answer: DnsAnswer) -> list[_Mx]:
        d = self.domain
        if answer.state is not DnssecState.SECURE:
            raise _Stop(Outcome.NO_SECURE_ROUTE,
                        f"Geen veilige route naar {d} (DNSSEC): de MX-records van {d} zijn {_state(answer)}.",
                        Safeguard.DNSSEC)
        if answer.rcode == "NXDOMAIN":
            raise _Stop(Outcome.PERMANENT, f"Het domein {d} bestaat niet (met DNSSEC bewezen).")
        if answer.rcode != "NOERROR":
            raise _Stop(Outcome.TEMPORARY, f"De MX-records van {d} zijn niet op te vragen ({answer.rcode}).")
        mxs = parse_mx(d, answer)
        if mxs.null_mx:  # alone or beside real MX records: Postfix refuses both (ketentest.mx)
            raise _Stop(Outcome.PERMANENT, f"Het domein {d} ontvangt geen e-mail: {mxs.null_mx_reason}.")
        if mxs.implicit:  # secure NODATA: the domain itself (RFC 5321 5.1)
            return [_Mx(d, 0, implicit=True)]
        if not mxs.hosts:
            raise _Stop(Outcome.PERMANENT, f"De MX-records van {d} noemen geen bruikbare hostnaam "
                                           f"({', '.join(answer.records)}).")
        return [_Mx(host, pref) for pref, host in mxs.ranked]

    def _try_host(self, mx: _Mx):
        """Yield one HostAttempt per address of the host (or one if it has none usable)."""
        started = self.now()
        a = self.resolver.lookup(mx.host, "A")  # the keten is IPv4-only (loopback)

        def unusable(outcome, reason, failed=None, look: TlsaLookup | None = None):
            return HostAttempt(mx.host, mx.preference, outcome, reason, failed, a,
                               look.answer if look else None, look.owner if look else "",
                               look.cname_chain if look else (), stage="DNS", started=started, ended=self.now())

        if a.state is not DnssecState.SECURE:
            yield unusable(Outcome.NO_SECURE_ROUTE,
                           f"het adres (A) van {mx.host} is {_state(a)}: geen DNSSEC", Safeguard.DNSSEC)
            return
        if not a.records:
            if mx.implicit:  # no MX and no address: the domain takes no mail
                yield unusable(Outcome.PERMANENT, f"{mx.host} heeft geen MX-record en geen adres ({a.rcode})")
            else:
                yield unusable(Outcome.TEMPORARY, f"{mx.host} heeft geen adres ({a.rcode})")
            return
        look = lookup_tlsa(mx.host, self.resolver.lookup)
        problem = _tlsa_problem(mx.host, look)
        if problem is not None:
            yield unusable(Outcome.NO_SECURE_ROUTE, problem, Safeguard.TLSA, look)
            return
        for ip in sorted(a.records):
            yield self._smtp(mx, ip, a, look)

    # -- SMTP ------------------------------------------------------------------------

    def _smtp(self, mx: _Mx, ip: str, a: DnsAnswer, look: TlsaLookup) -> HostAttempt:
        started = self.now()
        key = (self.source_ip, self.helo, ip, self.port, mx.host)
        notes: list[SmtpLine] = []
        while self.pool is not None:  # a kept connection, if its chain still matches this attempt's TLSA
            kept = self.pool.take(key)
            if kept is None:
                break
            result = verify(kept.chain, look.answer.records, mx.host, names=look.names, now=self.now())
            if not result.matched:
                _close(kept.client)
                notes.append(SmtpLine("C", "[bewaarde verbinding gesloten: haar certificaat past niet meer bij de "
                                           "TLSA-records van nu]"))
                continue
            attempt = self._transaction(mx, ip, a, look, started, kept, result, notes)
            if attempt is not None:
                return attempt
            notes.append(SmtpLine("C", "[bewaarde verbinding bleek gesloten vóór MAIL FROM; nieuwe verbinding]"))
        return self._transaction(mx, ip, a, look, started, None, None, notes)

    def _transaction(self, mx: _Mx, ip: str, a: DnsAnswer, look: TlsaLookup, started: dt.datetime,
                     kept: _Open | None, kept_dane: DaneResult | None, notes: list[SmtpLine]) -> HostAttempt | None:
        """One connection (new, or ``kept`` and already authenticated) and one
        transaction. None: the kept connection turned out closed before
        anything was sent (the caller opens a new one)."""
        trace: list[SmtpLine] = list(notes)
        state = {"stage": "verbinden", "tls": None, "dane": None, "reply": None}
        if kept is not None:
            client = kept.client
            client._trace = trace
            trace += kept.opening
            client.note(f"[verbinding hergebruikt: bericht {kept.messages + 1} over deze verbinding; DANE opnieuw "
                        f"getoetst tegen de TLSA-records van nu: "
                        f"{'overeenkomst' if kept_dane.matched else 'GEEN overeenkomst'}]")
            state["tls"], state["dane"] = kept.tls, kept_dane
        else:
            client = _TracingSMTP(trace, local_hostname=self.helo, timeout=self.timeout,
                                  source_address=(self.source_ip, 0))

        def reply(stage: str, code: int, text: bytes | str) -> SmtpReply:
            state["stage"] = stage
            r = SmtpReply(code, text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
            state["reply"] = r
            return r

        outcome, reason, failed, keep = Outcome.TEMPORARY, "", None, False
        chain: list[bytes] = []
        opening: tuple[SmtpLine, ...] = ()
        try:
            if kept is None:
                code, text = client.connect(ip, self.port)
                r = reply("begroeting", code, text)
                if code != 220:
                    client.quit_quietly()
                    raise _Stop(_by_code(code), f"{mx.host} weigert de verbinding: {r}", reply=r)
                code, text = client.ehlo(self.helo)
                r = reply("EHLO", code, text)
                if code // 100 == 4:
                    client.quit_quietly()
                    raise _Stop(Outcome.TEMPORARY, f"{mx.host} antwoordt op EHLO met {r}", reply=r)
                if code != 250 or not client.has_extn("starttls"):
                    client.quit_quietly()
                    raise _Stop(Outcome.NO_SECURE_ROUTE,
                                f"{mx.host} biedt geen STARTTLS aan (afgeschermd of uitgeschakeld?): versleuteling "
                                f"is verplicht, dus niets verstuurd", Safeguard.STARTTLS)
                code, text = client.docmd("STARTTLS")
                r = reply("STARTTLS", code, text)
                if code != 220:
                    client.quit_quietly()
                    raise _Stop(Outcome.NO_SECURE_ROUTE, f"{mx.host} weigert STARTTLS ({r}): niets verstuurd",
                                Safeguard.STARTTLS, reply=r)
                state["stage"] = "TLS-handshake"
                try:
                    client.wrap_tls(policy.client_context(), mx.host)
                except ssl.SSLError as e:  # protocol version, cipher, ...: a downgrade is no route
                    detail = e.reason or str(e)
                    client.note(f"[TLS mislukt: {detail}]")
                    if isinstance(e, ssl.SSLEOFError) or "EOF" in detail:
                        detail = (f"de server brak de handshake af ({detail}; biedt hij alleen TLS 1.0/1.1 "
                                  f"of zwakke suites?)")
                    raise _Stop(Outcome.NO_SECURE_ROUTE,
                                f"de TLS-verbinding met {mx.host} komt niet tot stand volgens het NCSC-profiel "
                                f"(TLS 1.2 of hoger, goede cipher suites): {detail}", Safeguard.TLS) from None
                chain = peer_chain(client.sock)
                state["tls"] = _tls_session(client.sock, chain)
                state["stage"] = "DANE"
                result = verify(chain, look.answer.records, mx.host, names=look.names, now=self.now())
                state["dane"] = result
                client.note(f"[DANE: {'overeenkomst' if result.matched else 'GEEN overeenkomst'} "
                            f"({len(look.answer.records)} TLSA-records op {look.owner}, {len(chain)} certificaten)]")
                if not result.matched:
                    client.quit_quietly()
                    raise _Stop(Outcome.NO_SECURE_ROUTE, f"DANE: {result.explanation} Niets verstuurd.",
                                Safeguard.DANE)
                # Authenticated: from here on the transaction.
                code, text = client.ehlo(self.helo)
                r = reply("EHLO", code, text)
                if code != 250:
                    client.quit_quietly()
                    raise _Stop(_by_code(code), f"{mx.host} antwoordt na STARTTLS op EHLO met {r}", reply=r)
                opening = tuple(trace[len(notes):])
            options = [f"SIZE={len(self.message)}"] if client.has_extn("size") else []
            try:
                code, text = client.mail(self.mail_from, options)
            except (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLEOFError):
                if kept is None:
                    raise
                client.close()  # the kept connection was closed meanwhile; nothing sent
                return None
            r = reply("MAIL FROM", code, text)
            if code != 250:
                client.quit_quietly()
                raise _Stop(_by_code(code), f"{mx.host} weigert de afzender {self.mail_from}: {r}", reply=r)
            code, text = client.rcpt(self.rcpt_to)
            r = reply("RCPT TO", code, text)
            if code not in (250, 251):
                client.quit_quietly()
                raise _Stop(_by_code(code), f"{mx.host} weigert de ontvanger {self.rcpt_to}: {r}", reply=r)
            state["stage"] = "DATA"
            code, text = client.data_bytes(self.message)
            r = reply("DATA" if not client.data_sent else "einde DATA", code, text)
            if code != 250:
                client.quit_quietly()
                raise _Stop(_by_code(code), f"{mx.host} weigert het bericht: {r}", reply=r)
            outcome, reason = Outcome.DELIVERED, f"geaccepteerd: {r}"
            if self.pool is not None:
                keep = True
            else:
                client.quit_quietly()
        except _Stop as stop:
            outcome, reason, failed = stop.outcome, stop.reason, stop.failed
        except PermissionError as e:  # a local policy forbids this destination (e.g. off loopback): no retry helps
            outcome, reason = Outcome.PERMANENT, f"{mx.host} ({ip}): {e}"
        except (smtplib.SMTPException, OSError) as e:  # refused, reset, timeout, dropped
            outcome, reason = Outcome.TEMPORARY, _network_reason(mx.host, ip, state["stage"], e, client.data_sent)
            state["reply"] = None
        finally:
            if not keep:
                client.close()
        attempt = HostAttempt(
            mx.host, mx.preference, outcome, reason, failed, a, look.answer, look.owner, look.cname_chain, ip,
            state["tls"], state["dane"], tuple(trace), state["reply"], state["stage"], client.data_sent, started,
            self.now(),
        )
        if keep:
            conn = kept or _Open(client, state["tls"], chain, opening)
            conn.messages += 1
            client.data_sent = False
            client._trace = []  # the next transaction brings its own transcript
            self.pool.give((self.source_ip, self.helo, ip, self.port, mx.host), conn, reused=kept is not None)
        return attempt

    # -- the verdict over hosts -------------------------------------------------------

    def _summarise(self, hosts: list[HostAttempt]) -> tuple[Outcome, str, tuple[Safeguard, ...]]:
        failed = tuple(dict.fromkeys(h.failed for h in hosts if h.failed))
        per_host = "; ".join(f"{h.host}: {h.reason.rstrip('.')}" for h in hosts)
        if any(h.outcome is Outcome.TEMPORARY for h in hosts):
            return Outcome.TEMPORARY, sentence(f"Tijdelijk niet bezorgd bij {self.domain}: {per_host}"), failed
        if any(h.outcome is Outcome.PERMANENT for h in hosts):
            return Outcome.PERMANENT, sentence(f"Niet bezorgd bij {self.domain}: {per_host}"), failed
        what = "/".join(s.value for s in failed)
        return (Outcome.NO_SECURE_ROUTE,
                f"{sentence(f'Geen veilige route naar {self.domain} ({what}): {per_host}')} {ALTERNATIVE_ROUTE}",
                failed)


class _Done(Exception):
    pass


_TRANSACTION_STAGES = ("MAIL FROM", "RCPT TO", "DATA", "einde DATA")


def _by_code(code: int) -> Outcome:
    if 400 <= code < 500:
        return Outcome.TEMPORARY
    return Outcome.PERMANENT


def _state(answer: DnsAnswer) -> str:
    details = ", ".join([answer.rcode, *map(str, answer.ede)])
    return f"{answer.state.dutch} ({details})"


def _tlsa_problem(host: str, look: TlsaLookup) -> str | None:
    """Why this TLSA answer gives no secure route (None: usable)."""
    tlsa, name = look.answer, look.owner
    via = f" (na CNAME naar {look.expanded})" if look.expanded != host else ""
    if tlsa.state is DnssecState.BOGUS:
        return f"het TLSA-record {name}{via} is ongeldig (bogus): {_state(tlsa)}"
    if tlsa.state is not DnssecState.SECURE:
        return f"het TLSA-record {name}{via} is niet met DNSSEC beveiligd ({_state(tlsa)})"
    if not tlsa.records:
        where = f"{name}" if not via else f"_25._tcp.{look.expanded} noch {name}"
        return f"{host} heeft geen TLSA-record ({where}, {tlsa.rcode}, met DNSSEC bewezen): geen DANE"
    if not usable_records(tlsa.records):
        return (f"geen bruikbaar TLSA-record voor {host} op {name}: {describe_unusable(tlsa.records)}; voor SMTP "
                f"tellen alleen leesbare records met usage 2 en 3")
    return None


def _tls_session(sock: ssl.SSLSocket, chain: list[bytes]) -> TlsSession:
    name, _, bits = sock.cipher() or ("", "", 0)
    subject, fingerprint, key = "", "", ""
    if chain:
        fingerprint = hashlib.sha256(chain[0]).hexdigest()
        try:
            cert = x509.load_der_x509_certificate(chain[0])
            subject = cert.subject.rfc4514_string()
            pub = cert.public_key()
            if isinstance(pub, rsa.RSAPublicKey):
                key = f"RSA {pub.key_size}"
            elif isinstance(pub, ec.EllipticCurvePublicKey):
                key = f"EC {pub.curve.name}"
            elif isinstance(pub, ed25519.Ed25519PublicKey):
                key = "Ed25519"
            else:
                key = type(pub).__name__
        except ValueError:
            subject = "(onleesbaar certificaat)"
    return TlsSession(sock.version() or "", name, int(bits or 0), subject, fingerprint, key, len(chain), tuple(chain))


def _network_reason(host: str, ip: str, stage: str, error: BaseException, data_sent: bool) -> str:
    if isinstance(error, smtplib.SMTPServerDisconnected) and isinstance(error.__context__, OSError):
        error = error.__context__  # smtplib hides a time-out or reset behind "unexpectedly closed"
    if stage == "verbinden" and isinstance(error, (smtplib.SMTPServerDisconnected, OSError)) \
            and not isinstance(error, ConnectionRefusedError):
        stage = "verbinden of begroeting"
    if isinstance(error, ConnectionRefusedError):
        what = "weigert de verbinding (connection refused)"
    elif isinstance(error, (socket.timeout, TimeoutError)):
        what = f"antwoordt niet op tijd (time-out tijdens {stage})"
    elif isinstance(error, (smtplib.SMTPServerDisconnected, ConnectionError, ssl.SSLEOFError)):
        what = f"verbrak de verbinding tijdens {stage}"
    else:
        what = f"gaf een netwerkfout tijdens {stage}: {error.__class__.__name__}: {error}"
    reason = f"{host} ({ip}) {what}"
    if data_sent:
        reason += (" (na het volledige bericht: mogelijk toch ontvangen; het meldpunt registreert elk kenmerk "
                   "één keer)")
    return reason


# --- smtplib with a transcript ------------------------------------------------------


class _TracingSMTP(smtplib.SMTP):
    """smtplib.SMTP that records every line both ways (message data elided),
    sets TCP_NODELAY, and does STARTTLS with SNI = the MX host name while
    connecting to the DNSSEC-validated address."""

    def __init__(self, trace: list[SmtpLine], **kwargs) -> None:
        self._trace = trace
        self._eliding = False
        self.data_sent = False
        super().__init__(**kwargs)

    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        # Without it every command waits for Nagle + delayed ACK (~40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def send(self, s) -> None:
        if self._eliding:
            self._trace.append(SmtpLine("C", f"[berichtinhoud: {len(s)} bytes, weggelaten]"))
        else:
            text = s.decode("utf-8", "replace") if isinstance(s, bytes) else s
            self._trace += [SmtpLine("C", line) for line in text.split("\r\n") if line]
        super().send(s)

    def getreply(self):
        try:
            code, text = super().getreply()
        except smtplib.SMTPServerDisconnected:
            self._trace.append(SmtpLine("S", "[verbinding verbroken]"))
            raise
        lines = text.decode("utf-8", "replace").split("\n") if text else [""]
        for i, line in enumerate(lines):
            sep = "-" if i < len(lines) - 1 else " "
            self._trace.append(SmtpLine("S", f"{code}{sep}{line}".rstrip()))
        return code, text

    def note(self, text: str) -> None:
        """A line of our own in the transcript (what we checked, not what we sent)."""
        self._trace.append(SmtpLine("C", text))

    def wrap_tls(self, context: ssl.SSLContext, server_name: str) -> None:
        """After a 220 to STARTTLS: handshake, and forget the plaintext EHLO
        (RFC 3207 4.2), as smtplib.starttls does."""
        self.sock = context.wrap_socket(self.sock, server_hostname=server_name)
        self.file = None
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        self._trace.append(SmtpLine("C", f"[TLS: {self.sock.version()} {self.sock.cipher()[0]}]"))

    def data_bytes(self, message: bytes) -> tuple[int, bytes]:
        """DATA without smtplib's exceptions: (code, text) of the final reply."""
        self.putcmd("data")
        code, text = self.getreply()
        if code != 354:
            return code, text
        body = re.sub(rb"(?m)^\.", b"..", message)  # dot-stuffing (RFC 5321 4.5.2)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self._eliding = True
        try:
            self.send(body)
        finally:
            self._eliding = False
        self.send(b".\r\n")
        self.data_sent = True
        return self.getreply()

    def quit_quietly(self) -> None:
        try:
            self.docmd("QUIT")
        except (smtplib.SMTPException, OSError):
            pass
