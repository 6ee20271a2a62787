"""The three e-mails of the exchange, composed without personal data (V05).

* the melding: police -> meldpunt, the meldformulier (PDF) as the only
  attachment;
* the ontvangstbevestiging: meldpunt -> police reply address (V07);
* the terugkoppeling: meldpunt -> police, with a status (V08).

Subject, headers and body carry only the kenmerk and fixed text; personal
data lives only inside the PDF. The kenmerk is taken as a plain string and
the PDF as bytes, so this module knows nothing of the Melding model.

Every message is marked as a test (issue 15), so a real meldpunt can filter
on it: the header ``X-Ketentest: testmelding`` (:data:`TEST_HEADER`), the
subject prefix ``[TEST]`` (:data:`TEST_SUBJECT_PREFIX`; the kenmerk stays the
subject's last word for :func:`read_kenmerk`) and a fixed sentence in the body.
See docs/echte-deelnemers.md.

Messages are serialised once, with CRLF line endings (``email.policy.SMTP``),
so the bytes that are DKIM-signed are the bytes that travel.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, replace
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import format_datetime
from enum import Enum

from ketentest.errors import DataError

#: Headers that name what a message is about (no personal data, only the kenmerk).
KENMERK_HEADER = "X-Kenmerk"
KIND_HEADER = "X-Berichtsoort"
STATUS_HEADER = "X-Terugkoppeling-Status"
#: The test markers on every message the harness composes (docs/echte-deelnemers.md).
TEST_HEADER = "X-Ketentest"
TEST_HEADER_VALUE = "testmelding"
TEST_SUBJECT_PREFIX = "[TEST]"
TEST_SENTENCE = "Dit is een testbericht van de ketentest; alle gegevens zijn fictief."
#: Every header the chain relies on (lower case): each may occur at most once
#: in a message, and a DKIM signer over-signs them (ketentest.mail.dkim).
CHAIN_HEADERS = (
    "from", "to", "subject", "date", "message-id", "reply-to", "in-reply-to", "references",
    KENMERK_HEADER.lower(), KIND_HEADER.lower(), STATUS_HEADER.lower(),
)

#: A kenmerk must be safe in a header, a subject and a file name.
_KENMERK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ADDRESS_RE = re.compile(r"^[^@\s<>\"]+@[A-Za-z0-9.-]+$")


class MessageKind(str, Enum):
    MELDING = "melding"
    ONTVANGSTBEVESTIGING = "ontvangstbevestiging"
    TERUGKOPPELING = "terugkoppeling"


class TerugkoppelingStatus(str, Enum):
    """What the meldpunt did with a melding (V08)."""

    IN_BEHANDELING = "in behandeling"
    DOORGEZET = "doorgezet"
    AFGESLOTEN = "afgesloten"


# Fixed texts: nothing here may ever depend on the melding's contents.
_SUBJECT = {
    MessageKind.MELDING: "Zorgmelding {kenmerk}",
    MessageKind.ONTVANGSTBEVESTIGING: "Ontvangstbevestiging zorgmelding {kenmerk}",
    MessageKind.TERUGKOPPELING: "Terugkoppeling zorgmelding {kenmerk}: {status}",
}

_BODY_MELDING = """\
Geacht meldpunt,

Bijgaand ontvangt u een melding niet-acute zorg van de politie met kenmerk {kenmerk}.

De gegevens van de melding staan uitsluitend in het bijgevoegde meldformulier (PDF).
Wij verzoeken u de ontvangst te bevestigen aan het afzendadres, onder vermelding van
het kenmerk, en ons te laten weten wat u met de melding doet.

Dit bericht is automatisch verzonden door het digitaal postkantoor van de politie.
Beantwoord het niet met persoonsgegevens in de onderwerpregel of de tekst.

{test}
"""

_BODY_ONTVANGSTBEVESTIGING = """\
Geachte afzender,

Het meldpunt heeft de melding met kenmerk {kenmerk} ontvangen{ontvangen}.

U ontvangt een terugkoppeling zodra duidelijk is wat het meldpunt met de melding doet.

Dit bericht is automatisch verzonden door het meldpunt.

{test}
"""

_BODY_TERUGKOPPELING = """\
Geachte afzender,

De melding met kenmerk {kenmerk} heeft de status: {status}.

{uitleg}

Dit bericht is automatisch verzonden door het meldpunt.

{test}
"""

_STATUS_UITLEG = {
    TerugkoppelingStatus.IN_BEHANDELING: "Het meldpunt heeft de melding in behandeling genomen.",
    TerugkoppelingStatus.DOORGEZET: "Het meldpunt heeft de melding doorgezet naar de passende zorg- of hulpverlener.",
    TerugkoppelingStatus.AFGESLOTEN: "Het meldpunt heeft de behandeling van de melding afgesloten.",
}


@dataclass(frozen=True)
class ComposedMessage:
    """One composed e-mail: the envelope facts and the exact bytes (CRLF)."""

    kind: MessageKind
    kenmerk: str
    message_id: str  # with angle brackets
    sender: str  # the From address (also the envelope sender)
    recipient: str  # the To address (also the envelope recipient)
    date: dt.datetime
    data: bytes
    status: TerugkoppelingStatus | None = None  # terugkoppeling only

    @property
    def size(self) -> int:
        return len(self.data)

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]

    def with_data(self, data: bytes) -> ComposedMessage:
        """The same message with other bytes, e.g. after DKIM signing."""
        return replace(self, data=data)


def compose_melding(
    kenmerk: str,
    pdf: bytes,
    *,
    sender: str,
    recipient: str,
    date: dt.datetime | None = None,
    clock=None,
    sender_name: str | None = None,
) -> ComposedMessage:
    """The melding: fixed text and the meldformulier as the one attachment.

    ``date`` (or ``clock.now()``, a KetenClock) gives the Date header;
    ``sender_name`` is an organisation name for From (never a person)."""
    kenmerk = _check_kenmerk(kenmerk)
    if not isinstance(pdf, (bytes, bytearray)) or not pdf:
        raise DataError(f"melding {kenmerk}: het meldformulier (PDF) ontbreekt of is leeg",
                        "geef de PDF als bytes mee")
    msg, meta = _base(MessageKind.MELDING, kenmerk, sender, recipient, date, clock, sender_name)
    msg.set_content(_BODY_MELDING.format(kenmerk=kenmerk, test=TEST_SENTENCE), charset="utf-8", cte="7bit")
    msg.add_attachment(bytes(pdf), maintype="application", subtype="pdf", filename=pdf_filename(kenmerk))
    return _finish(msg, meta)


def compose_ontvangstbevestiging(
    kenmerk: str,
    *,
    sender: str,
    recipient: str,
    in_reply_to: str | None = None,
    received_at: dt.datetime | None = None,
    date: dt.datetime | None = None,
    clock=None,
    sender_name: str | None = None,
) -> ComposedMessage:
    """The meldpunt's receipt to the police reply address (V07), quoting the
    kenmerk and, if given, referring to the melding's Message-ID."""
    kenmerk = _check_kenmerk(kenmerk)
    msg, meta = _base(MessageKind.ONTVANGSTBEVESTIGING, kenmerk, sender, recipient, date, clock, sender_name)
    _reply_headers(msg, in_reply_to)
    ontvangen = f" op {format_datetime(_local(received_at))}" if received_at is not None else ""
    msg.set_content(_BODY_ONTVANGSTBEVESTIGING.format(kenmerk=kenmerk, ontvangen=ontvangen, test=TEST_SENTENCE),
                    charset="utf-8", cte="7bit")
    return _finish(msg, meta)


def compose_terugkoppeling(
    kenmerk: str,
    status: TerugkoppelingStatus | str,
    *,
    sender: str,
    recipient: str,
    in_reply_to: str | None = None,
    date: dt.datetime | None = None,
    clock=None,
    sender_name: str | None = None,
) -> ComposedMessage:
    """The meldpunt's feedback on what it did with the melding (V08)."""
    kenmerk = _check_kenmerk(kenmerk)
    try:
        status = TerugkoppelingStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in TerugkoppelingStatus)
        raise DataError(f"onbekende status {status!r} voor de terugkoppeling", f"gebruik een van: {known}") from None
    msg, meta = _base(MessageKind.TERUGKOPPELING, kenmerk, sender, recipient, date, clock, sender_name, status)
    msg[STATUS_HEADER] = status.value
    _reply_headers(msg, in_reply_to)
    msg.set_content(_BODY_TERUGKOPPELING.format(kenmerk=kenmerk, status=status.value, uitleg=_STATUS_UITLEG[status],
                                                test=TEST_SENTENCE),
                    charset="utf-8", cte="7bit")
    composed = _finish(msg, meta)
    return replace(composed, status=status)


def is_kenmerk(value: str) -> bool:
    """Is this safe and well-formed as a kenmerk (header, subject, file name)?"""
    return isinstance(value, str) and bool(_KENMERK_RE.match(value))


def pdf_filename(kenmerk: str) -> str:
    return f"zorgmelding-{_check_kenmerk(kenmerk)}.pdf"


# --- reading (for receivers and checks) -------------------------------------


def read_kenmerk(message: bytes | Message) -> str | None:
    """The kenmerk a message is about: the X-Kenmerk header, else the last
    word of the subject. None if neither looks like a kenmerk, or if the
    message has more than one X-Kenmerk or Subject (ambiguous: a reader
    would take the first, a DKIM verifier the last)."""
    msg = _parse(message)
    if any(len(msg.get_all(name) or []) > 1 for name in (KENMERK_HEADER, "Subject")):
        return None
    for candidate in (msg.get(KENMERK_HEADER), (str(msg.get("Subject", "")).split() or [""])[-1]):
        if candidate and _KENMERK_RE.match(str(candidate).strip()):
            return str(candidate).strip()
    return None


def is_test_message(message: bytes | Message) -> bool:
    """Does the message carry both test markers (header and subject prefix)?"""
    msg = _parse(message)
    headers = [str(v).strip().lower() for v in msg.get_all(TEST_HEADER) or []]
    return headers == [TEST_HEADER_VALUE] and str(msg.get("Subject", "")).startswith(TEST_SUBJECT_PREFIX + " ")


def claimed_kenmerken(message: bytes | Message) -> list[str]:
    """Every kenmerk a message claims to be about: each well-formed X-Kenmerk
    and the subject's last word, in order, once each. For filing what is
    not believed (a relabelled message claims two), never for acting on."""
    msg = _parse(message)
    candidates = [str(v).strip() for v in msg.get_all(KENMERK_HEADER) or []]
    candidates += [(str(v).split() or [""])[-1] for v in msg.get_all("Subject") or []]
    return list(dict.fromkeys(c for c in candidates if is_kenmerk(c)))


def repeated_headers(message: bytes | Message) -> dict[str, int]:
    """Chain headers that occur more than once (lower-case name -> count).
    Such a message cannot be trusted: which instance was signed?"""
    msg = _parse(message)
    counts: dict[str, int] = {}
    for name in msg.keys():
        key = name.lower()
        if key in CHAIN_HEADERS:
            counts[key] = counts.get(key, 0) + 1
    return {k: n for k, n in counts.items() if n > 1}


def text_outside_attachments(message: bytes | Message) -> str:
    """Everything a reader sees outside the attachments: every header
    (RFC 2047 decoded), and every non-attachment text part (transfer-decoded).

    For the V05 check: personal data must not occur in this text. Decoding
    matters: a name hidden in base64 or an encoded-word is still there."""
    msg = _parse(message)
    out: list[str] = []
    for part in msg.walk():
        for name, value in part.items():
            out.append(f"{name}: {value}")
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True) or b""
            out.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(out)


# --- internals ----------------------------------------------------------------


@dataclass(frozen=True)
class _Meta:
    kind: MessageKind
    kenmerk: str
    message_id: str
    sender: str
    recipient: str
    date: dt.datetime


def _check_kenmerk(kenmerk: str) -> str:
    if not isinstance(kenmerk, str) or not _KENMERK_RE.match(kenmerk):
        raise DataError(f"ongeldig kenmerk {kenmerk!r}: alleen letters, cijfers, '.', '_' en '-', hoogstens 64 tekens",
                        "gebruik een kenmerk als MN-2026-000123")
    return kenmerk


def _check_address(what: str, address: str) -> str:
    if not isinstance(address, str) or not _ADDRESS_RE.match(address):
        raise DataError(f"ongeldig e-mailadres voor {what}: {address!r}", "gebruik een adres als naam@domein.test")
    return address


def _local(when: dt.datetime) -> dt.datetime:
    """Dutch local time for the Date header (UTC if the time zone data is missing)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    try:
        from zoneinfo import ZoneInfo

        return when.astimezone(ZoneInfo("Europe/Amsterdam"))
    except Exception:  # no tzdata: UTC is still a correct Date
        return when.astimezone(dt.timezone.utc)


def _base(kind, kenmerk, sender, recipient, date, clock, sender_name, status=None) -> tuple[EmailMessage, _Meta]:
    _check_address("de afzender", sender)
    _check_address("de ontvanger", recipient)
    when = date if date is not None else (clock.now() if clock is not None else dt.datetime.now(dt.timezone.utc))
    domain = sender.rsplit("@", 1)[1].lower()
    message_id = f"<{uuid.uuid4().hex}@{domain}>"
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = f"{sender_name} <{sender}>" if sender_name else sender
    msg["To"] = recipient
    msg["Subject"] = f"{TEST_SUBJECT_PREFIX} " + _SUBJECT[kind].format(kenmerk=kenmerk, status=status.value if status else "")
    msg["Date"] = format_datetime(_local(when))
    msg["Message-ID"] = message_id
    msg[KENMERK_HEADER] = kenmerk
    msg[KIND_HEADER] = kind.value
    msg[TEST_HEADER] = TEST_HEADER_VALUE
    return msg, _Meta(kind, kenmerk, message_id, sender, recipient, when)


def _reply_headers(msg: EmailMessage, in_reply_to: str | None) -> None:
    if in_reply_to:
        ref = in_reply_to.strip()
        if not (ref.startswith("<") and ref.endswith(">")) or any(c in ref for c in "\r\n "):
            raise DataError(f"ongeldige Message-ID om naar te verwijzen: {in_reply_to!r}",
                            "geef de Message-ID van de melding, met punthaken")
        msg["In-Reply-To"] = ref
        msg["References"] = ref


def _finish(msg: EmailMessage, meta: _Meta) -> ComposedMessage:
    for part in msg.walk():  # the email package puts MIME-Version on sub-parts too
        if part is not msg:
            del part["MIME-Version"]
    data = msg.as_bytes(policy=policy.SMTP)
    return ComposedMessage(meta.kind, meta.kenmerk, meta.message_id, meta.sender, meta.recipient, meta.date, data)


def _parse(message: bytes | Message) -> Message:
    if isinstance(message, (bytes, bytearray)):
        return message_from_bytes(bytes(message), policy=policy.default)
    return message
