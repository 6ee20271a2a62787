"""Reading a real mailbox over IMAPS (issue 15): what a real deelnemer
received, or its replies when it can only mail a normal address.

    berichten = haal_op(toegang, wachtwoord, ca_pem=pki.ca_pem)
    berichten[0].eml   # the message exactly as the server stored it

TLS is always verified: the chain against the given CA (``ca_pem`` or
``toegang.ca_bestand``; else the system's trust store) and the certificate
against ``toegang.host``, also when the connection goes to ``toegang.ip``.
Sizes are bounded: at most ``max_berichten`` messages, each at most
``max_bytes`` (the server's RFC822.SIZE is checked before anything is
fetched), and imaplib's own line limit. Every failure is an
:class:`ImapFout` that says what went wrong and what to do.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import re
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from ketentest.errors import KetentestError
from ketentest.model import ImapToegang

#: Default bounds: a melding is at most 10 MB of PDF (V04), base64 makes that ~14 MB.
MAX_BYTES = 20 * 1024 * 1024
MAX_BERICHTEN = 200
TIMEOUT = 30.0

_FETCH_SIZE = re.compile(rb"UID (\d+) RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+) UID (\d+)")


class ImapFout(KetentestError):
    """A mailbox could not be read over IMAPS (connection, TLS, login, size)."""


@dataclass(frozen=True)
class ImapBericht:
    uid: int
    grootte: int  # RFC822.SIZE as the server reported it
    eml: bytes
    ontvangen: dt.datetime | None = None  # INTERNALDATE: when the server took it in


class _Imaps(imaplib.IMAP4_SSL):
    """IMAP4_SSL that connects to ``ip`` but verifies the certificate for ``host``."""

    def __init__(self, host: str, ip: str | None, port: int, context: ssl.SSLContext, timeout: float) -> None:
        self._ip = ip
        super().__init__(host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._ip or self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def tls_context(ca_pem: bytes | None = None, ca_bestand: str | None = None) -> ssl.SSLContext:
    """A verifying client context (TLS 1.2 or newer, host name checked)."""
    context = ssl.create_default_context(cadata=ca_pem.decode() if ca_pem else None,
                                         cafile=ca_bestand if not ca_pem else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def wachtwoord_uit(toegang: ImapToegang) -> str:
    """The password from ``toegang.wachtwoord_bestand`` (its first line)."""
    if not toegang.wachtwoord_bestand:
        raise ImapFout(f"geen wachtwoordbestand voor de IMAP-toegang tot {toegang.host}",
                       "zet 'wachtwoord_bestand' in de keten (het wachtwoord zelf staat nooit in de keten)")
    path = Path(toegang.wachtwoord_bestand)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ImapFout(f"wachtwoordbestand {path} niet gevonden",
                       "maak het bestand met alleen het wachtwoord, of pas imap.wachtwoord_bestand aan") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ImapFout(f"wachtwoordbestand {path} is niet te lezen: {getattr(e, 'strerror', None) or e}",
                       "controleer de leesrechten; de eerste regel is het wachtwoord (UTF-8)") from None
    if not lines or not lines[0].strip():
        raise ImapFout(f"wachtwoordbestand {path} is leeg", "zet het wachtwoord op de eerste regel")
    return lines[0].strip()


def haal_op(toegang: ImapToegang, wachtwoord: str, *, ca_pem: bytes | None = None, na_uid: int = 0,
            max_berichten: int = MAX_BERICHTEN, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT,
            zoek: str = "ALL") -> list[ImapBericht]:
    """Every message in ``toegang.map`` with a UID above ``na_uid`` (read-only:
    nothing is marked or moved), oldest first."""
    where = f"{toegang.gebruiker}@{toegang.host}:{toegang.port}" + (f" ({toegang.ip})" if toegang.ip else "")
    context = tls_context(ca_pem, toegang.ca_bestand)
    try:
        client = _Imaps(toegang.host, toegang.ip, toegang.port, context, timeout)
    except ssl.SSLCertVerificationError as e:
        raise ImapFout(f"IMAPS naar {where}: het certificaat is niet te vertrouwen ({e.verify_message})",
                       "de server moet een certificaat voor deze naam tonen, uitgegeven door de opgegeven CA") from None
    except ssl.SSLError as e:
        raise ImapFout(f"IMAPS naar {where}: TLS mislukt ({e.reason or e})",
                       "de server moet TLS 1.2 of nieuwer spreken op deze poort (IMAPS, niet STARTTLS)") from None
    except OSError as e:
        raise ImapFout(f"IMAPS naar {where}: geen verbinding ({e.strerror or e})",
                       "controleer adres en poort, en of de IMAP-server draait") from None
    try:
        try:
            client.login(toegang.gebruiker, wachtwoord)
        except imaplib.IMAP4.error as e:
            raise ImapFout(f"IMAPS naar {where}: inloggen geweigerd ({_text(e)})",
                           "controleer gebruiker en wachtwoord(bestand)") from None
        code, data = client.select(_quoted(toegang.map), readonly=True)
        if code != "OK":
            raise ImapFout(f"IMAPS naar {where}: map {toegang.map!r} is niet te openen ({_text(data)})",
                           "controleer de mapnaam in de keten (standaard INBOX)")
        code, data = client.uid("SEARCH", None, f"UID {na_uid + 1}:*", zoek)
        if code != "OK":
            raise ImapFout(f"IMAPS naar {where}: zoeken mislukt ({_text(data)})", "zie de log van de IMAP-server")
        # "n:*" always matches the highest UID, also when it is <= na_uid.
        uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > na_uid)
        if len(uids) > max_berichten:
            raise ImapFout(f"IMAPS naar {where}: {len(uids)} berichten, meer dan de grens van {max_berichten}",
                           "leeg de testmailbox of haal op vanaf een hogere UID")
        out = []
        for uid in uids:
            size = _size(client, uid, where)
            if size > max_bytes:
                raise ImapFout(f"IMAPS naar {where}: bericht UID {uid} is {size} bytes, meer dan de grens van "
                               f"{max_bytes}", "verhoog max_bytes alleen als zo'n groot bericht verwacht is")
            code, data = client.uid("FETCH", str(uid), "(INTERNALDATE BODY.PEEK[])")
            part = next((p for p in data or [] if isinstance(p, tuple) and len(p) == 2), None)
            body = part[1] if part is not None else None
            if code != "OK" or body is None:
                raise ImapFout(f"IMAPS naar {where}: bericht UID {uid} is niet op te halen ({_text(data)})",
                               "zie de log van de IMAP-server")
            if len(body) > max_bytes:
                raise ImapFout(f"IMAPS naar {where}: bericht UID {uid} is groter dan opgegeven", "zie de IMAP-server")
            stamp = imaplib.Internaldate2tuple(part[0])
            moment = dt.datetime.fromtimestamp(time.mktime(stamp), dt.timezone.utc) if stamp else None
            out.append(ImapBericht(uid, size, bytes(body), moment))
        return out
    except (imaplib.IMAP4.abort, OSError) as e:
        raise ImapFout(f"IMAPS naar {where}: verbinding verbroken ({_text(e)})",
                       "controleer of de IMAP-server blijft draaien") from None
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def _size(client: imaplib.IMAP4, uid: int, where: str) -> int:
    code, data = client.uid("FETCH", str(uid), "(RFC822.SIZE)")
    for part in data or []:
        raw = part[0] if isinstance(part, tuple) else part
        found = _FETCH_SIZE.search(raw or b"")
        if found:
            return int(found.group(2) or found.group(3))
    raise ImapFout(f"IMAPS naar {where}: de server noemde de grootte van UID {uid} niet ({_text(data)})",
                   "de server moet RFC822.SIZE ondersteunen (RFC 3501)")


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value) -> str:
    if isinstance(value, (list, tuple)):
        value = b" ".join(v if isinstance(v, bytes) else str(v).encode() for v in value if v is not None)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:300]
