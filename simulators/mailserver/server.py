"""The inbound mail server (MX) of one simulated party.

    with MailServer.for_deelnemer(keten, "ggd-regio-utrecht", pki, tmp_path / "maildir",
                                  on_message=app.received) as mx:
        ...                        # listens on mx1.ggdru.test 127.60.2.25:25 and mx2 127.60.2.26:25
        mx.switches.set(temp_failures=2)
        mx.traces()                # per connection: client, HELO, TLS, replies

aiosmtpd does the SMTP protocol (STARTTLS, SIZE, line limits, syntax errors);
this module adds what a meldpunt's MX does on top, as small hooks:

- STARTTLS is mandatory (530 before it). The TLS context comes from
  :func:`ketentest.policy.server_context` with both the ECDSA and the RSA
  chain of the MX host the connection came in on (one context per listening
  address), so DANE can be checked for each key type.
- RCPT: only the party's own mailbox(es); no relaying.
- DATA: :func:`ketentest.mail.auth.authenticate`, our own
  ``Authentication-Results`` prepended (forged ones with our authserv-id
  removed), DMARC reject -> 550 5.7.1, quarantine -> quarantine folder, an
  optional content check, then stored durably (fsync) *before* the 250, and
  only then the application callback ``on_message(StoredMessage)``.
- Faults from :mod:`.switches`, read when a connection opens (TLS profile,
  certificate, STARTTLS offered) or when a reply is due (the rest).

One thread with its own event loop serves every listening address of the
party; sockets are bound in the caller's thread before it starts, so a
busy address fails at once with a clear error. aiosmtpd can stall one loop
on several large messages at once (aiosmtpd #293): give each party its own
server (or process) when that matters.

The application callbacks run one at a time, in order, in their own thread,
beside the 250 (a slow application never holds the sender up); ``stop()``
waits for them. What was answered 250 but not yet handled by the
application is in a small journal beside the Maildir (written before the
250, removed after the callback), so a crash in between loses nothing: the
next start hands those messages to the application first (S08/V09). ``content_check`` runs before storing and can refuse (S07).

Private aiosmtpd part used (aiosmtpd is pinned to 1.4.6): ``SMTP._smtp_methods``,
wrapped to answer 503 after a refusing banner.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import logging
import math
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException

from ketentest.errors import InfrastructureError
from ketentest.mail.auth import AuthResult, Disposition, authenticate, strip_own_results
from ketentest.model import Deelnemer, Host, Keten
from ketentest.policy import TlsProfile, server_context
from simulators.mailserver.store import Folder, MaildirStore, StoredMessage
from simulators.mailserver.switches import Stage, SwitchBoard, Switches
from simulators.pki import CertVariant, Pki
from simulators.store import read_json, write_json

log = logging.getLogger(__name__)

SMTP_PORT = 25
IDENT = "ESMTP ketentest"
#: Extra room above the base64-encoded maximum PDF: headers, text part, MIME boundaries.
SIZE_MARGIN = 256 * 1024

#: Named replies (RFC 5321 codes, RFC 3463 enhanced codes, Dutch text).
R_OK_MAIL = "250 2.1.0 OK"
R_OK_RCPT = "250 2.1.5 OK"
R_UNKNOWN_RCPT = "550 5.1.1 <{}>: onbekende ontvanger; dit is geen relay"
R_TEMP = "451 4.3.0 Tijdelijke storing, probeer het later opnieuw"
R_TEMP_GREETING = "421 4.3.2 {} tijdelijk niet beschikbaar, probeer het later opnieuw"
R_PERM = "550 5.7.1 Geweigerd door de ontvanger"
R_PERM_GREETING = "554 5.3.0 {} neemt geen mail aan"
R_REFUSE_ALL = "554 5.3.2 {} neemt geen mail aan"
R_REFUSED = "503 5.5.1 Geen dienst; alleen QUIT"
R_DMARC_REJECT = "550 5.7.1 Geweigerd: afzender {} niet geauthenticeerd (DMARC {}, beleid p={})"
R_DNS_TEMP = "451 4.4.3 Afzendercontrole (SPF/DKIM/DMARC) tijdelijk niet mogelijk, probeer het later opnieuw"
R_STORE_FAILED = "451 4.3.0 Opslaan mislukt, probeer het later opnieuw"
R_INTERNAL = "451 4.3.0 Interne fout, probeer het later opnieuw"
R_ACCEPTED = "250 2.0.0 Ontvangen, id {}"
R_TOO_BIG = ("552 5.3.4 Bericht te groot: deze mailserver neemt hoogstens {} bytes per bericht aan. Verstuur het "
             "meldformulier als een kleinere PDF (binnen de afgesproken maximale grootte) of gebruik de alternatieve route")
#: aiosmtpd's English 552 texts (SIZE in MAIL FROM, too much DATA), answered in Dutch instead.
_AIOSMTPD_TOO_BIG = ("552 Error: message size exceeds fixed maximum message size", "552 Error: Too much mail data")
R_TLS_ACTIVE = "503 5.5.1 TLS is al actief; een tweede STARTTLS kan niet (RFC 3207)"
R_NO_AUTH = "503 5.5.1 AUTH wordt hier niet aangeboden"


def data_size_limit_for(max_pdf_bytes: int) -> int:
    """SIZE limit for a message carrying one PDF of at most ``max_pdf_bytes``:
    base64 (4/3), CRLF after every 76 characters (78/76), plus a margin."""
    return math.ceil(max_pdf_bytes * 4 / 3 * 78 / 76) + SIZE_MARGIN


@dataclass(frozen=True)
class ConnectionTrace:
    """What one connection did, for reports."""

    number: int
    listener: str  # MX host name
    listener_ip: str
    client_ip: str
    client_port: int
    started_at: float
    helo: str
    tls_version: str  # "" = no STARTTLS
    tls_cipher: str
    replies: tuple[str, ...]  # every reply line sent, in order
    stored: tuple[str, ...]  # keys of messages stored over this connection
    errors: tuple[str, ...]
    closed: bool

    @property
    def codes(self) -> tuple[int, ...]:
        """Reply codes, one per reply (continuation lines folded)."""
        return tuple(int(r[:3]) for r in self.replies if r[:3].isdigit() and r[3:4] != "-")


@dataclass
class _Trace:
    number: int
    listener: Host
    client_ip: str
    client_port: int
    started_at: float
    helo: str = ""
    tls_version: str = ""
    tls_cipher: str = ""
    replies: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    closed: bool = False

    def snapshot(self) -> ConnectionTrace:
        return ConnectionTrace(self.number, self.listener.name, self.listener.ip, self.client_ip, self.client_port,
                               self.started_at, self.helo, self.tls_version, self.tls_cipher, tuple(self.replies),
                               tuple(self.stored), tuple(self.errors), self.closed)


#: The application's callbacks.
MessageCallback = Callable[[StoredMessage], None]
#: A content check before storing: None to accept, or an SMTP reply (e.g. "550 5.6.0 ...") to refuse.
ContentCheck = Callable[[bytes, AuthResult], "str | None"]


class _PartySMTP(SMTP):
    """One connection: aiosmtpd's protocol plus trace, delays and banner faults."""

    def __init__(self, handler: "_PartyHandler", *, listener: Host, mx: "MailServer", **kwargs) -> None:
        super().__init__(handler, **kwargs)
        self.listener = listener
        self.mx = mx
        self.trace: _Trace | None = None
        self._banner_sent = False
        self._refusing = False
        # After a refusing banner every command but QUIT gets 503 (RFC 5321 3.1).
        self._smtp_methods = {cmd: self._guarded(cmd, method) for cmd, method in self._smtp_methods.items()}

    def _guarded(self, command: str, method):
        async def guarded(arg):
            if self._refusing and command != "QUIT":
                await self.push(R_REFUSED)
                return
            await method(arg)
        return guarded

    # -- lifecycle --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.trace is None:
            peer = transport.get_extra_info("peername") or ("?", 0)
            self.trace = self.mx._open_trace(self.listener, peer[0], peer[1])
        elif self.session is not None and self.session.ssl:
            sslobj = self.session.ssl.get("ssl_object")
            if sslobj is not None:
                self.trace.tls_version = sslobj.version() or ""
                self.trace.tls_cipher = (sslobj.cipher() or ("",))[0]

    def connection_lost(self, error: Exception | None) -> None:
        try:
            super().connection_lost(error)
        finally:
            if self.trace is not None:
                self.trace.closed = True

    async def handle_exception(self, error: Exception) -> str:
        if self.trace is not None:
            self.trace.errors.append(describe_error(error))
        return await super().handle_exception(error)

    # -- commands aiosmtpd gets wrong for an MX ---------------------------------------
    async def smtp_STARTTLS(self, arg: str) -> None:
        if self._tls_protocol is not None:  # aiosmtpd would answer 220 and then crash
            await self.push(R_TLS_ACTIVE)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        await self.push(R_NO_AUTH)  # not offered in EHLO: an MX takes no logins

    # -- replies ----------------------------------------------------------------------
    async def push(self, status) -> None:
        text = status if isinstance(status, str) else status.decode("utf-8", "replace")
        if text in _AIOSMTPD_TOO_BIG:
            text = R_TOO_BIG.format(self.data_size_limit)
        if not self._banner_sent:
            self._banner_sent = True
            text = await self._banner(text)
            if text is None:
                return
        final_line = len(text) < 4 or text[3] != "-"
        delay = self.mx.switches.current.reply_delay
        if delay and final_line:
            await asyncio.sleep(delay)  # the behaviour under test: a slow server
        if self.trace is not None:
            self.trace.replies.append(text)
        await super().push(text)

    async def _banner(self, text: str) -> str | None:
        s = self.mx.switches.current
        name = self.listener.name
        if s.reject_all:
            self._refusing = True
            return R_REFUSE_ALL.format(name)
        if s.stall_at is Stage.GREETING:
            await _forever()
        if self.mx.switches.take_temp_failure(Stage.GREETING):
            self.trace.replies.append(R_TEMP_GREETING.format(name))
            await super().push(R_TEMP_GREETING.format(name))
            self.transport.close()
            return None
        if s.perm_failure and s.perm_fail_stage is Stage.GREETING:
            self._refusing = True
            return R_PERM_GREETING.format(name)
        return text


async def _forever() -> None:
    """Never answer: ends when the connection closes (the task is cancelled)."""
    await asyncio.get_running_loop().create_future()


class _PartyHandler:
    """aiosmtpd hooks of one party."""

    def __init__(self, mx: "MailServer") -> None:
        self.mx = mx

    async def _fault(self, stage: Stage) -> str | None:
        """The reply a switch forces at this stage, if any."""
        s = self.mx.switches.current
        if s.stall_at is stage:
            await _forever()
        if self.mx.switches.take_temp_failure(stage):
            return R_TEMP
        if s.perm_failure and s.perm_fail_stage is stage:
            return R_PERM
        return None

    async def handle_HELO(self, server: _PartySMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        session.host_name = hostname
        server.trace.helo = hostname
        return f"250 {server.hostname}"

    async def handle_EHLO(self, server: _PartySMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        server.trace.helo = hostname
        # An MX offers no AUTH; keep the rest of aiosmtpd's list.
        kept = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return [r[:3] + "-" + r[4:] for r in kept[:-1]] + [kept[-1][:3] + " " + kept[-1][4:]]

    async def handle_MAIL(self, server: _PartySMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        forced = await self._fault(Stage.MAIL)
        if forced:
            return forced
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return R_OK_MAIL

    async def handle_RCPT(self, server: _PartySMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        forced = await self._fault(Stage.RCPT)
        if forced:
            return forced
        if address.lower() not in self.mx.mailboxes:
            return R_UNKNOWN_RCPT.format(address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return R_OK_RCPT

    async def handle_DATA(self, server: _PartySMTP, session: Session, envelope: Envelope) -> str:
        mx = self.mx
        mx.data_arrived()
        if mx.switches.take_drop():
            server.trace.errors.append("verbinding verbroken tijdens DATA (schakelaar)")
            server.transport.abort()
            await _forever()
        forced = await self._fault(Stage.DATA)
        if forced:
            return forced
        return await mx._receive(server, session, envelope)

    async def handle_exception(self, error: Exception) -> str:
        log.warning("mailserver: %s", describe_error(error))
        return R_INTERNAL


class MailServer:
    """The MX of one simulated party; a context manager, running in its own thread."""

    def __init__(
        self,
        *,
        listeners: Sequence[Host],
        mailboxes: Iterable[str],
        pki: Pki,
        resolver_ip: str,
        store: MaildirStore | str | Path,
        authserv_id: str | None = None,
        data_size_limit: int = data_size_limit_for(10 * 1024 * 1024),
        on_message: MessageCallback | None = None,
        on_quarantine: MessageCallback | None = None,
        content_check: ContentCheck | None = None,
        switches: Switches | None = None,
        clock: Callable[[], float] | None = None,
        port: int = SMTP_PORT,
        resolver_port: int = 53,
        smtp_timeout: float = 300,
        ready_timeout: float = 10,
        history: int = 1000,
    ) -> None:
        if not listeners:
            raise ValueError("een mailserver heeft minstens één (host, ip) nodig")
        self.listeners = tuple(listeners)
        self.mailboxes = frozenset(m.lower() for m in mailboxes)
        self.pki = pki
        self.resolver_ip = resolver_ip
        self.resolver_port = resolver_port
        self.store = store if isinstance(store, MaildirStore) else MaildirStore(store)
        self.authserv_id = authserv_id or self.listeners[0].name
        self.data_size_limit = data_size_limit
        self.on_message = on_message
        self.on_quarantine = on_quarantine
        self.content_check = content_check
        self.clock = clock or time.time
        self.switches = SwitchBoard(switches, self.clock)
        self.port = port
        self.smtp_timeout = smtp_timeout
        self.ready_timeout = ready_timeout
        self._contexts: dict[tuple[str, str, CertVariant], ssl.SSLContext] = {}
        self._contexts_lock = threading.Lock()
        self._state_lock = threading.Condition()
        # Bounded, so a soak run does not keep every message in memory (the
        # Maildir keeps them all); counts are exact.
        self._traces: deque[_Trace] = deque(maxlen=10 * history)
        self._trace_count = 0
        self._stored: deque[StoredMessage] = deque(maxlen=history)
        self._stored_count = 0
        self._callback_errors: list[str] = []
        self._callbacks_submitted = self._callbacks_done = 0
        self._data_count = 0  # messages that arrived in full (end of DATA)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._work: ThreadPoolExecutor | None = None
        self._callbacks: ThreadPoolExecutor | None = None
        self._content: ThreadPoolExecutor | None = None  # content checks: a slow PDF never holds up SPF/DKIM

    @classmethod
    def for_deelnemer(cls, keten: Keten, deelnemer: Deelnemer | str, pki: Pki, store: MaildirStore | str | Path,
                      **kwargs) -> "MailServer":
        """The MX of a deelnemer as the keten describes it: every MX host,
        its mailbox, the keten's resolver and the size limit from the
        keten's maximum PDF size (V04). Each MX host offers the STARTTLS,
        TLS profile and certificate its keten entry asks for."""
        d = deelnemer if isinstance(deelnemer, Deelnemer) else keten.deelnemer(deelnemer)
        kwargs.setdefault("authserv_id", d.domain.name)
        kwargs.setdefault("data_size_limit", data_size_limit_for(keten.aannames.max_pdf_bytes))
        return cls(listeners=list(d.domain.mx), mailboxes=[d.adres], pki=pki,
                   resolver_ip=keten.dns.resolver_ip, store=store, **kwargs)

    # -- TLS ------------------------------------------------------------------------------
    def tls_context(self, host: str, profile: TlsProfile, variant: CertVariant) -> ssl.SSLContext:
        """The server context for one MX host: profile + its ECDSA and RSA chains."""
        key = (host, profile.name, CertVariant(variant))
        with self._contexts_lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = server_context(profile)
                for creds in self.pki.server_chains(host, variant):
                    creds.load_into(ctx)
                self._contexts[key] = ctx
            return ctx

    def _prepare_contexts(self, s: Switches) -> None:
        # Built in the thread that flips the switch, not in the event loop
        # (a new RSA key can take a second).
        for listener in self.listeners:
            offer = s.offer(listener)
            if offer.starttls:
                self.tls_context(listener.name, offer.profile, offer.variant)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "MailServer":
        self.store.recover()
        unhandled = self._unhandled()
        self._prepare_contexts(self.switches.current)
        self.switches.on_change(self._prepare_contexts)
        sockets = []
        try:
            for listener in self.listeners:
                sockets.append(_bind(listener, self.port))
        except BaseException:
            for s in sockets:
                s.close()
            raise
        self._work = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"mx-{self.authserv_id}")
        self._callbacks = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"mx-{self.authserv_id}-app")
        self._content = ThreadPoolExecutor(max_workers=8, thread_name_prefix=f"mx-{self.authserv_id}-inhoud")
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                for listener, sock in zip(self.listeners, sockets):
                    factory = partial(self._protocol, listener)
                    self._servers.append(self._loop.run_until_complete(self._loop.create_server(factory, sock=sock)))
            except BaseException as e:  # noqa: BLE001 - reported to the starting thread
                failure.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"mailserver-{self.authserv_id}", daemon=True)
        self._thread.start()
        if not ready.wait(self.ready_timeout):
            self.stop()
            raise InfrastructureError(f"mailserver {self.authserv_id} startte niet binnen {self.ready_timeout} s",
                                      "verhoog ready_timeout of kijk of de machine overbelast is")
        if failure:
            self.stop()
            raise InfrastructureError(f"mailserver {self.authserv_id} kon niet starten: {failure[0]}") from failure[0]
        for stored in unhandled:
            self._hand_to_app(stored)
        return self

    # -- the application journal: accepted (250) but not yet handled ---------------------------
    @property
    def journal_dir(self) -> Path:
        root = Path(self.store.root)
        return root.parent / f"{root.name}.onverwerkt"

    def _journal_add(self, stored: StoredMessage) -> None:
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.journal_dir / f"{stored.key}.json", {
            "key": stored.key, "folder": stored.folder.value, "mail_from": stored.mail_from,
            "rcpt_tos": list(stored.rcpt_tos), "client_ip": stored.client_ip, "helo": stored.helo,
            "listener": stored.listener, "tls_version": stored.tls_version, "tls_cipher": stored.tls_cipher,
            "received_at": stored.received_at})

    def _journal_done(self, key: str) -> None:
        (self.journal_dir / f"{key}.json").unlink(missing_ok=True)

    def _unhandled(self) -> list[StoredMessage]:
        """Messages a crash left between the 250 and the application, oldest
        first. Their authentication is computed again from the stored bytes
        (without our own Authentication-Results) and the journalled envelope."""
        if not self.journal_dir.is_dir():
            return []
        out = []
        for path in self.journal_dir.glob("*.json"):
            try:
                e = read_json(path)
                folder = Folder(e["folder"])
                content = self.store.read(e["key"], folder)
            except (OSError, ValueError, KeyError):
                # Gone from its folder (the application had moved it) or unreadable: handled already.
                log.warning("mailserver %s: journaalregel %s overgeslagen", self.authserv_id, path.name)
                path.unlink(missing_ok=True)
                continue
            cleaned, _ = strip_own_results(content, self.authserv_id)
            auth = authenticate(cleaned, e["client_ip"], e["helo"], e["mail_from"], self.resolver_ip,
                                self.authserv_id, self.resolver_port)
            out.append(StoredMessage(
                key=e["key"], folder=folder, path=self.store.folder_path(folder) / "new" / e["key"], kept=None,
                mail_from=e["mail_from"], rcpt_tos=tuple(e["rcpt_tos"]), client_ip=e["client_ip"], helo=e["helo"],
                listener=e["listener"], tls_version=e["tls_version"], tls_cipher=e["tls_cipher"], auth=auth,
                received_at=e["received_at"]))
        return sorted(out, key=lambda m: m.received_at)

    def _protocol(self, listener: Host) -> _PartySMTP:
        s = self.switches.current
        tls = s.offer(listener)  # the keten file's MX settings, or a switch
        offer = tls.starttls and not s.reject_all  # a refusing server answers 503, not 530
        context = self.tls_context(listener.name, tls.profile, tls.variant) if offer else None
        return _PartySMTP(
            _PartyHandler(self), listener=listener, mx=self, hostname=listener.name, ident=IDENT,
            tls_context=context, require_starttls=context is not None, data_size_limit=self.data_size_limit,
            timeout=self.smtp_timeout, loop=self._loop,
        )

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            async def shutdown() -> None:
                for server in self._servers:
                    server.close()
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                loop.stop()

            loop.call_soon_threadsafe(lambda: loop.create_task(shutdown()))
            thread.join(10)
        if loop is not None and not loop.is_running():
            loop.close()
        for pool in (self._work, self._callbacks, self._content):
            if pool is not None:
                pool.shutdown(wait=True)
        self._servers.clear()
        self._loop = self._thread = self._work = self._callbacks = self._content = None

    def __enter__(self) -> "MailServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what happened ------------------------------------------------------------------------
    def _open_trace(self, listener: Host, client_ip: str, client_port: int) -> _Trace:
        with self._state_lock:
            self._trace_count += 1
            trace = _Trace(self._trace_count, listener, client_ip, client_port, self.clock())
            self._traces.append(trace)
            return trace

    def traces(self) -> tuple[ConnectionTrace, ...]:
        """The most recent connections (10 x ``history``), oldest first."""
        with self._state_lock:
            return tuple(t.snapshot() for t in self._traces)

    def stored(self) -> tuple[StoredMessage, ...]:
        """The most recent ``history`` messages stored since start, in order."""
        with self._state_lock:
            return tuple(self._stored)

    @property
    def stored_count(self) -> int:
        """Messages stored since start (all of them, beyond ``history``)."""
        with self._state_lock:
            return self._stored_count

    def wait_stored(self, count: int, timeout: float = 10) -> tuple[StoredMessage, ...]:
        """Block until at least ``count`` messages were stored since start (an
        awaited event, not a poll); raises TimeoutError otherwise."""
        with self._state_lock:
            if not self._state_lock.wait_for(lambda: self._stored_count >= count, timeout):
                raise TimeoutError(f"{self.authserv_id}: {self._stored_count} van {count} berichten opgeslagen")
            return tuple(self._stored)

    def data_arrived(self) -> None:
        with self._state_lock:
            self._data_count += 1
            self._state_lock.notify_all()

    def wait_data(self, count: int, timeout: float = 10) -> int:
        """Block until ``count`` messages have arrived in full (end of DATA,
        before any reply); returns how many have."""
        with self._state_lock:
            self._state_lock.wait_for(lambda: self._data_count >= count, timeout)
            return self._data_count

    def wait_handled(self, timeout: float = 10) -> bool:
        """Block until the application has handled every message stored so
        far (its callbacks run beside the 250): an awaited event."""
        with self._state_lock:
            return self._state_lock.wait_for(lambda: self._callbacks_done >= self._callbacks_submitted, timeout)

    @property
    def callback_errors(self) -> tuple[str, ...]:
        with self._state_lock:
            return tuple(self._callback_errors)

    # -- receiving one message ------------------------------------------------------------------
    async def _receive(self, server: _PartySMTP, session: Session, envelope: Envelope) -> str:
        loop = asyncio.get_running_loop()
        trace = server.trace
        content: bytes = envelope.original_content or b""
        client_ip = session.peer[0] if session.peer else ""
        helo = session.host_name or ""
        auth = await loop.run_in_executor(self._work, partial(
            authenticate, content, client_ip, helo, envelope.mail_from or "", self.resolver_ip, self.authserv_id,
            self.resolver_port))
        enforce = self.switches.current.enforce_dmarc
        if auth.dmarc.result == "temperror" and enforce:
            return R_DNS_TEMP
        if auth.disposition is Disposition.REJECT and enforce:
            return R_DMARC_REJECT.format(auth.dmarc.from_domain or "(geen eenduidige From)", auth.dmarc.result,
                                         auth.dmarc.policy or "reject")
        if self.content_check is not None:
            verdict = await loop.run_in_executor(self._content, self.content_check, content, auth)
            if verdict:
                return verdict
        folder = Folder.QUARANTINE if auth.disposition is Disposition.QUARANTINE and enforce else Folder.INBOX
        cleaned, _ = strip_own_results(content, self.authserv_id)
        stored_bytes = auth.header_bytes() + received_header(session, server.listener.name, envelope.rcpt_tos,
                                                             self.clock()) + cleaned
        try:
            key, path = await loop.run_in_executor(self._work, self.store.deliver, stored_bytes, folder)
        except OSError as e:
            trace.errors.append(f"opslaan mislukt: {e}")
            return R_STORE_FAILED
        tls = session.ssl or {}
        sslobj = tls.get("ssl_object") if isinstance(tls, dict) else None
        stored = StoredMessage(
            key=key, folder=folder, path=path, kept=None, mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos), client_ip=client_ip, helo=helo, listener=server.listener.name,
            tls_version=(sslobj.version() or "") if sslobj else "", tls_cipher=(sslobj.cipher() or ("",))[0] if sslobj else "",
            auth=auth, received_at=self.clock(),
        )
        trace.stored.append(key)
        if self._app_for(folder) is not None and self.switches.current.journal:
            try:
                await loop.run_in_executor(self._work, self._journal_add, stored)
            except OSError as e:  # without the journal a crash could lose it after the 250
                trace.errors.append(f"journaal schrijven mislukt: {e}")
                return R_STORE_FAILED
        self._hand_to_app(stored)
        return R_ACCEPTED.format(key)

    def _app_for(self, folder: Folder) -> MessageCallback | None:
        return self.on_message if folder is Folder.INBOX else self.on_quarantine

    def _hand_to_app(self, stored: StoredMessage) -> None:
        with self._state_lock:
            self._stored.append(stored)
            self._stored_count += 1
            self._state_lock.notify_all()
        callback = self._app_for(stored.folder)
        if callback is not None:
            # The message is durable; the application runs beside the 250, in order.
            with self._state_lock:
                self._callbacks_submitted += 1
            self._callbacks.submit(self._call_app, callback, stored)

    def _call_app(self, callback: MessageCallback, stored: StoredMessage) -> None:
        try:
            callback(stored)
            self._journal_done(stored.key)
        except Exception as e:  # noqa: BLE001 - the application's bug must not kill the MX
            log.exception("mailserver %s: callback faalde voor %s", self.authserv_id, stored.key)
            with self._state_lock:
                self._callback_errors.append(f"{stored.key}: {type(e).__name__}: {e}")
        finally:
            with self._state_lock:
                self._callbacks_done += 1
                self._state_lock.notify_all()


def describe_error(error: BaseException) -> str:
    """One line with the cause: aiosmtpd raises a TLSSetupException without text."""
    what = type(error).__name__
    if isinstance(error, TLSSetupException):
        what = f"TLS-handshake mislukt: {what}"
    if str(error):
        what += f": {error}"
    cause = error.__cause__ or error.__context__
    if cause is not None:
        what += f" (oorzaak {type(cause).__name__}: {cause or repr(cause)})"
    return what


_NOT_IN_TRACE = re.compile(r"[^A-Za-z0-9.:_\[\]-]")


def received_header(session: Session, by: str, rcpt_tos: Sequence[str], when: float) -> bytes:
    """Our trace field (RFC 5321 4.4), with the TLS session as Postfix writes it.
    The client's HELO is reduced to name characters, so it cannot end the
    comment, add a clause or overrun the line."""
    helo = _NOT_IN_TRACE.sub("", session.host_name or "")[:255] or "unknown"
    ip = session.peer[0] if session.peer else "unknown"
    lines = [f"Received: from {helo} ([{ip}])"]
    tls = session.ssl or {}
    sslobj = tls.get("ssl_object") if isinstance(tls, dict) else None
    if sslobj is not None:
        name, _, bits = sslobj.cipher() or ("?", "", 0)
        lines.append(f"\t(using {sslobj.version()} with cipher {name} ({bits}/{bits} bits))")
    lines.append(f"\tby {by} ({IDENT}) with {'ESMTPS' if sslobj is not None else 'ESMTP'}")
    stamp = email.utils.format_datetime(datetime.datetime.fromtimestamp(when, datetime.timezone.utc))
    lines.append((f"\tfor <{rcpt_tos[0]}>; " if len(rcpt_tos) == 1 else "\t; ") + stamp)
    return ("\r\n".join(lines) + "\r\n").encode("ascii", "replace")


def _bind(listener: Host, port: int) -> socket.socket:
    # proto=IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY only on accepted
    # sockets whose proto says TCP; without it every multi-line reply (EHLO)
    # waits ~40 ms for Nagle and the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((listener.ip, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise InfrastructureError(
            f"mailserver {listener.name} kan niet luisteren op {listener.ip}:{port} ({e.strerror})",
            "stop het andere proces op dat adres, of kies in het ketenbestand een ander 127.x.y.z-adres"
            + (" (poort 25 vraagt rootrechten)" if e.errno == 13 else ""),
        ) from None
    return sock
