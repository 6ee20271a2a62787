"""Misbehaving parties for the S scenarios: a spoofer that sends as the police
without its keys (S06), an outsider whose domain has no DMARC record (S06),
a replayer that relabels a genuinely signed message with another kenmerk
(S06, V07), a forger of ontvangstbevestigingen (V07), a sender of hostile
content with the police's real keys (S07: a compromised workstation), and a
man in the middle that strips STARTTLS (S05). They use the same composing
and delivery code as the real parties, so only the misbehaviour differs."""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from dataclasses import dataclass
from enum import Enum

from ketentest.delivery import DeliveryAttempt
from ketentest.delivery import deliver as _deliver
from ketentest.dns import Resolver
from ketentest.errors import InfrastructureError, KetentestError
from ketentest.mail import dkim
from ketentest.mail.compose import KENMERK_HEADER, compose_melding, compose_ontvangstbevestiging
from ketentest.model import Keten
from simulators.pki import Pki

#: An address that is nobody's in the keten: not in any SPF record.
SPOOF_IP = "127.66.6.6"
#: A mail domain outside the keten: no zone, so no SPF, no DKIM key and no DMARC record.
OUTSIDER_DOMAIN = "buitenstaander.test"
OUTSIDER = f"iemand@{OUTSIDER_DOMAIN}"
#: A kenmerk no melding has: the "other melding" whose genuine confirmation gets relabelled.
OTHER_KENMERK = "MN-2026-999999"


class ForgedReceipt(str, Enum):
    """Ways to fake an ontvangstbevestiging for a melding (V07)."""

    OUTSIDER = "zonder handtekening, van buiten de keten"
    OTHER_MELDPUNT = "echt ondertekend, door een ander meldpunt"  # not the meldpunt the melding went to
    RELABELLED = "een echte van een andere melding, met dit kenmerk ervoor"


class AanvalOpEchteDeelnemer(KetentestError):
    """An attack that would reach a real deelnemer: never sent (issue 15)."""


def deliver(keten: Keten, message: bytes, mail_from: str, rcpt: str, **kw) -> DeliveryAttempt:
    """Every attack goes out through here: refused before any DNS look-up or
    connection when the recipient belongs to a real (echt) deelnemer of this
    keten or of any keten this process loaded. The allowlist would let a
    listed address through; forged, hostile or replayed mail must never reach
    a real party."""
    from ketentest.echt import loaded_ketens, real_deelnemer

    for k in (keten, *loaded_ketens()):
        d = real_deelnemer(k, rcpt)
        if d is not None:
            raise AanvalOpEchteDeelnemer(
                f"de ketentest stuurt geen vervalste, vijandige of opnieuw afgespeelde mail naar {rcpt}: "
                f"{d.naam} is een echte deelnemer",
                "de S-scenario's (aanvallen) gelden alleen voor gesimuleerde deelnemers; voor een echte "
                "deelnemer zijn ze niet van toepassing")
    return _deliver(message, mail_from, rcpt, **kw)


def _send(keten: Keten, message: bytes, mail_from: str, rcpt: str, source_ip: str = SPOOF_IP,
          helo: str = f"mail.{OUTSIDER_DOMAIN}") -> DeliveryAttempt:
    return deliver(keten, message, mail_from, rcpt, resolver=Resolver(keten.dns.resolver_ip), source_ip=source_ip, helo=helo)


def relabel(message: bytes, kenmerk: str) -> bytes:
    """Put an ``X-Kenmerk`` in front of a (signed) message: a reader takes the
    first instance, a DKIM verifier the last one (RFC 6376 5.4.2)."""
    return f"{KENMERK_HEADER}: {kenmerk}\r\n".encode() + message


def outsider_melding(keten: Keten, meldpunt_id: str, kenmerk: str, pdf: bytes) -> DeliveryAttempt:
    """A melding-shaped message (the kenmerk in the subject, one PDF) from an
    outsider's domain without any DMARC record, unsigned."""
    meldpunt = keten.deelnemer(meldpunt_id)
    message = compose_melding(kenmerk, pdf, sender=OUTSIDER, recipient=meldpunt.adres)
    return _send(keten, message.data, OUTSIDER, meldpunt.adres)


def replay_relabelled(keten: Keten, message: bytes, kenmerk: str, rcpt: str) -> DeliveryAttempt:
    """A genuinely signed message, relabelled with ``kenmerk`` and replayed
    from the attacker's own address and envelope sender."""
    return _send(keten, relabel(message, kenmerk), OUTSIDER, rcpt)


@dataclass(frozen=True)
class Forgery:
    message_id: str  # of the forged message, to tell it from a genuine confirmation
    bezorging: DeliveryAttempt


def forge_receipt(keten: Keten, pki: Pki, meldpunt_id: str, kenmerk: str, how: ForgedReceipt | str) -> Forgery:
    """An ontvangstbevestiging for ``kenmerk`` that the meldpunt ``meldpunt_id``
    (where the melding went) never sent, delivered to the police's MX."""
    how = ForgedReceipt(how)
    politie, meldpunt = keten.politie.adres, keten.deelnemer(meldpunt_id)
    if how is ForgedReceipt.OUTSIDER:
        message = compose_ontvangstbevestiging(kenmerk, sender=OUTSIDER, recipient=politie)
        return Forgery(message.message_id, _send(keten, message.data, OUTSIDER, politie))
    if how is ForgedReceipt.OTHER_MELDPUNT:
        other = next(m for m in keten.meldpunten if m.id != meldpunt.id)
        keys = [pki.dkim_key(other.domain.name, spec) for spec in other.domain.dkim]
        message = compose_ontvangstbevestiging(kenmerk, sender=other.adres, recipient=politie, sender_name=other.naam)
        host = other.domain.senders[0]
        return Forgery(message.message_id,
                       _send(keten, dkim.sign(message.data, keys), other.adres, politie, host.ip, host.name))
    # A genuine confirmation the meldpunt signed for another melding (as captured on the way).
    keys = [pki.dkim_key(meldpunt.domain.name, spec) for spec in meldpunt.domain.dkim]
    genuine = compose_ontvangstbevestiging(OTHER_KENMERK, sender=meldpunt.adres, recipient=politie,
                                           sender_name=meldpunt.naam)
    return Forgery(genuine.message_id, replay_relabelled(keten, dkim.sign(genuine.data, keys), kenmerk, politie))


def spoof_melding(keten: Keten, meldpunt_id: str, kenmerk: str, pdf: bytes, source_ip: str = SPOOF_IP) -> DeliveryAttempt:
    """A melding with the police's From, unsigned, from an unauthorised IP."""
    politie, meldpunt = keten.politie, keten.deelnemer(meldpunt_id)
    message = compose_melding(kenmerk, pdf, sender=politie.adres, recipient=meldpunt.adres)
    return deliver(keten, message.data, politie.adres, meldpunt.adres, resolver=Resolver(keten.dns.resolver_ip),
                   source_ip=source_ip, helo="postkantoor.politie.test")


class HiddenPdf(str, Enum):
    """Ways to slip a second PDF past a meldpunt that trusts MIME labels (S07)."""

    INLINE = "inline"  # application/octet-stream; name="x.pdf", no attachment disposition
    AS_IMAGE = "als-afbeelding"  # labelled image/png, inline
    AS_TEXT = "als-tekst"  # a second text/plain body part whose bytes are a PDF
    AFTER_JUNK = "na-voorloop"  # labelled as a text attachment; the PDF starts after 2 KB of text


def with_hidden_pdf(message: bytes, pdf: bytes, how: HiddenPdf) -> bytes:
    """A composed melding with one more part that carries ``pdf`` in disguise."""
    msg = message_from_bytes(message, policy=email_policy.SMTP)
    part = EmailMessage(policy=email_policy.SMTP)
    if how is HiddenPdf.INLINE:
        part.set_content(pdf, "application", "octet-stream", params={"name": "x.pdf"})
    elif how is HiddenPdf.AS_IMAGE:
        part.set_content(pdf, "image", "png", disposition="inline", filename="logo.png")
    elif how is HiddenPdf.AS_TEXT:
        part.set_content(pdf, "application", "octet-stream")
        part.replace_header("Content-Type", "text/plain; charset=utf-8")
    else:
        part.set_content(b"x" * 2048 + b"\n" + pdf, "application", "octet-stream", filename="notitie.txt")
        part.replace_header("Content-Type", "text/plain; charset=utf-8")
    msg.attach(part)
    return msg.as_bytes()


def send_as_politie(keten: Keten, pki: Pki, meldpunt_id: str, kenmerk: str, pdf: bytes,
                    hidden: tuple[bytes, HiddenPdf] | None = None) -> DeliveryAttempt:
    """Properly signed police mail from the police's own sending host, carrying
    whatever PDF bytes are given (hostile, broken, oversized), and perhaps a
    second PDF in disguise (``hidden``)."""
    politie, meldpunt = keten.politie, keten.deelnemer(meldpunt_id)
    keys = [pki.dkim_key(politie.domain.name, spec) for spec in politie.domain.dkim]
    data = compose_melding(kenmerk, pdf, sender=politie.adres, recipient=meldpunt.adres).data
    if hidden is not None:
        data = with_hidden_pdf(data, *hidden)
    message = dkim.sign(data, keys)
    host = politie.domain.senders[0]
    return deliver(keten, message, politie.adres, meldpunt.adres, resolver=Resolver(keten.dns.resolver_ip),
                   source_ip=host.ip, helo=host.name)


class StarttlsStripper:
    """A man in the middle on ``ip``:25 relaying to ``upstream``:25 that hides
    STARTTLS from the EHLO answer and refuses the STARTTLS command, as a
    downgrading middlebox does. Scenarios point the MX host's A record at it."""

    def __init__(self, ip: str, upstream: str, port: int = 25) -> None:
        self.ip, self.upstream, self.port = ip, upstream, port
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_r, up_w = await asyncio.open_connection(self.upstream, self.port)

        async def server_to_client() -> None:
            reply: list[bytes] = []
            while line := await up_r.readline():
                reply.append(line)
                if line[3:4] == b"-":
                    continue  # a multi-line reply goes on
                # The strip: drop the STARTTLS extension line of an EHLO answer
                # (other replies that merely mention STARTTLS pass unchanged).
                kept = [r for r in reply if r[4:].strip().upper() != b"STARTTLS"]
                if kept and kept[-1][3:4] == b"-":
                    kept[-1] = kept[-1][:3] + b" " + kept[-1][4:]
                writer.write(b"".join(kept))
                await writer.drain()
                reply = []
            writer.close()

        async def client_to_server() -> None:
            while line := await reader.readline():
                if line.strip().upper() == b"STARTTLS":
                    writer.write(b"454 4.7.0 TLS not available\r\n")
                    await writer.drain()
                    continue
                up_w.write(line)
                await up_w.drain()
            up_w.close()

        try:
            await asyncio.gather(server_to_client(), client_to_server())
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> "StarttlsStripper":
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((self.ip, self.port))
        except OSError as e:
            self._sock.close()
            raise InfrastructureError(f"man-in-the-middle: adres {self.ip}:{self.port} is al in gebruik ({e.strerror})",
                                      "kies een ander adres") from None
        self._sock.listen(16)
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(asyncio.start_server(self._relay, sock=self._sock))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="starttls-stripper", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()


# --- the man in the middle as its own party (a process or a container) ------------------------


def main(argv: list[str] | None = None) -> None:
    """``python -m simulators.aanvaller --ip IP --upstream IP``: the STARTTLS
    stripper as a party of its own, with a control API on ``IP``
    (GET /status, GET /verbindingen), until SIGTERM."""
    import argparse
    import signal
    from pathlib import Path

    from simulators.control import ControlServer, read_token
    from simulators.process import announce_ready

    p = argparse.ArgumentParser(prog="simulators.aanvaller",
                                description="man-in-the-middle die STARTTLS weghaalt (S05), als eigen partij")
    p.add_argument("--ip", required=True, help="adres waarop de aanvaller luistert (poort 25)")
    p.add_argument("--upstream", required=True, help="adres van de echte MX")
    p.add_argument("--control-port", type=int, default=8025, help="poort van de besturings-API")
    p.add_argument("--token-bestand", type=Path, required=True, help="bestand met het token van de besturings-API")
    args = p.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    with StarttlsStripper(args.ip, args.upstream) as stripper:
        routes = {("GET", "/status"): lambda q: {"rol": "stripper", "ip": args.ip, "upstream": args.upstream},
                  ("GET", "/verbindingen"): lambda q: {"verbindingen": stripper.connections}}
        with ControlServer(args.ip, args.control_port, routes, read_token(args.token_bestand)) as control:
            announce_ready(control.url)
            stop.wait()


if __name__ == "__main__":
    from simulators.party import run

    run(main)
