"""A small test MX for the delivery tests: aiosmtpd on an MX address, port 25,
STARTTLS with a certificate chain from the simulated PKI, and switches to
misbehave. It only records what arrives; it is not the meldpunt simulator
(that lives in simulators/mailserver/)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ketentest import policy


@dataclass
class Arrival:
    """One message the test MX accepted."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    peer_ip: str
    tls_version: str | None
    cipher: str | None


@dataclass
class RecordingHandler:
    """aiosmtpd handler: records every EHLO, MAIL FROM and accepted message;
    ``replies`` overrides the answer per command ("MAIL", "RCPT", "DATA")."""

    replies: dict[str, str] = field(default_factory=dict)
    ehlo: list[str] = field(default_factory=list)
    mail_from: list[str] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    data_started: threading.Event = field(default_factory=threading.Event)
    accepted: threading.Event = field(default_factory=threading.Event)

    async def handle_EHLO(self, server, session: Session, envelope: Envelope, hostname: str, responses):
        self.ehlo.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_from.append(address)
        if "MAIL" in self.replies:
            return self.replies["MAIL"]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "RCPT" in self.replies:
            return self.replies["RCPT"]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if "DATA" in self.replies:
            return self.replies["DATA"]
        ssl_object = (session.ssl or {}).get("ssl_object")
        self.arrivals.append(Arrival(
            envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content or b""),
            session.peer[0], ssl_object.version() if ssl_object else None,
            ssl_object.cipher()[0] if ssl_object else None,
        ))
        self.accepted.set()
        return f"250 2.0.0 OK queued as {len(self.arrivals)}"

    @property
    def received_nothing(self) -> bool:
        """No transaction was even started (no MAIL FROM), so nothing arrived."""
        return not self.mail_from and not self.arrivals


class _DroppingSMTP(SMTP):
    """Answers DATA with 354, reads the first line of the message, then
    drops the connection (RST): a connection lost in the middle of DATA."""

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if not self.envelope.rcpt_tos:
            return await super().smtp_DATA(arg)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._reader.readuntil(b"\r\n")
        self.event_handler.data_started.set()
        self.transport.abort()


class _RefusingTlsSMTP(SMTP):
    """Advertises STARTTLS but answers it with an error (as a meddling middlebox can)."""

    refusal = "454 4.7.0 TLS not available due to temporary reason"

    async def smtp_STARTTLS(self, arg: str) -> None:
        await self.push(self.refusal)


class _TestController(Controller):
    def __init__(self, *args, drop_in_data: bool = False, starttls_reply: str | None = None, **kwargs) -> None:
        self.drop_in_data = drop_in_data
        self.starttls_reply = starttls_reply
        super().__init__(*args, **kwargs)

    def factory(self):
        if self.starttls_reply:
            server = _RefusingTlsSMTP(self.handler, **self.SMTP_kwargs)
            server.refusal = self.starttls_reply
            return server
        cls = _DroppingSMTP if self.drop_in_data else SMTP
        return cls(self.handler, **self.SMTP_kwargs)


@dataclass
class RunningMx:
    host: str
    ip: str
    handler: RecordingHandler
    controller: Controller


@contextmanager
def running_mx(pki, host: str, ip: str, *, port: int = 25, key_types=("ecdsa",), variant: str = "valid",
            starttls: bool = True, profile: policy.TlsProfile = policy.NCSC_GOED,
            replies: dict[str, str] | None = None, drop_in_data: bool = False,
            starttls_reply: str | None = None):
    """Run a test MX on ``ip:port`` for the duration of the block.

    ``key_types`` are the chains it presents (several: the client's
    signature algorithms choose), ``variant`` a pki.CertVariant name,
    ``starttls=False`` leaves STARTTLS out of EHLO (stripped), ``starttls_reply``
    answers the STARTTLS command with that reply instead of starting TLS."""
    handler = RecordingHandler(replies=dict(replies or {}))
    kwargs = {}
    if starttls:
        ctx = policy.server_context(profile)
        for kt in key_types:
            pki.server_chain(host, kt, variant).load_into(ctx)
        kwargs = {"tls_context": ctx, "require_starttls": True}
    controller = _TestController(handler, hostname=ip, port=port, server_hostname=host, ready_timeout=10,
                                 drop_in_data=drop_in_data, starttls_reply=starttls_reply, **kwargs)
    controller.start()  # returns once the server answers (aiosmtpd's ready event)
    try:
        yield RunningMx(host, ip, handler, controller)
    finally:
        controller.stop()


def silent_listener(ip: str, port: int = 25):
    """A socket that accepts connections (kernel backlog) but never speaks:
    for time-outs."""
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(8)
    return s

