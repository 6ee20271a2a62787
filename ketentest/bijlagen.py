"""The parts of a received melding, judged by their bytes, not their labels
(V04, S07).

A melding (:func:`ketentest.mail.compose.compose_melding`) is a text/plain
body, perhaps with an html alternative, and exactly one PDF: the
meldformulier. :func:`beoordeel` walks every MIME part, decodes it, and says
what it *is* from its bytes (magic numbers, wherever they sit in the part):

- exactly one part is a PDF, labelled ``application/pdf`` (or
  ``application/octet-stream``); it is the meldformulier (``oordeel.pdf``);
- a second PDF anywhere - another part, a part labelled ``image/png`` or
  ``text/plain``, bytes hidden inside a part, the MIME preamble or epilogue -
  is refused, as is any other part: archives, programs, images, office
  files, a nested e-mail, an html body with scripts.

The meldpunt's content check and V04 both use this module, so they cannot
disagree about what a melding holds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message

MAX_PARTS = 20
_CONTAINERS = frozenset({"multipart/mixed", "multipart/alternative", "multipart/related"})
_PDF_LABELS = frozenset({"application/pdf", "application/octet-stream"})
_BODY_TYPES = frozenset({"text/plain", "text/html"})
#: Magic numbers at the start of a part, and what the part then is (Dutch).
_MAGIC = ((b"PK\x03\x04", "een ZIP-archief (of Office-bestand)"), (b"PK\x05\x06", "een ZIP-archief"),
          (b"MZ", "een Windows-programma"), (b"\x7fELF", "een programma"), (b"#!", "een script"),
          (b"Rar!", "een RAR-archief"), (b"7z\xbc\xaf", "een 7-Zip-archief"), (b"\x1f\x8b", "een gzip-archief"),
          (b"\xd0\xcf\x11\xe0", "een Office-document (kan macro's bevatten)"), (b"{\\rtf", "een RTF-document"),
          (b"\x89PNG", "een afbeelding (PNG)"), (b"\xff\xd8\xff", "een afbeelding (JPEG)"),
          (b"GIF8", "een afbeelding (GIF)"), (b"BEGIN:VCARD", "een visitekaartje (vCard)"))
_ACTIVE_HTML = re.compile(rb"<\s*(script|iframe|object|embed|form|meta\s+http-equiv)\b|javascript\s*:", re.I)
_PDF_B64 = re.compile(rb"JVBERi0")  # "%PDF-" in base64, at a 3-byte boundary


@dataclass(frozen=True)
class Onderdeel:
    """One leaf part of the message: what it says it is, and what it is."""

    nummer: int
    type: str  # the declared Content-Type
    naam: str  # the declared file name, if any
    bijlage: bool  # Content-Disposition: attachment
    soort: str  # from the bytes: "pdf", "tekst", "html" or a Dutch description
    grootte: int

    @property
    def label(self) -> str:
        naam = f" {self.naam!r}" if self.naam else ""
        return f"deel {self.nummer} ({self.type}{naam}, {self.grootte} bytes)"


@dataclass(frozen=True)
class BijlagenOordeel:
    onderdelen: tuple[Onderdeel, ...]
    problemen: tuple[str, ...]  # Dutch, one per problem
    pdf: bytes | None  # the meldformulier, if there is exactly one PDF

    @property
    def ok(self) -> bool:
        return not self.problemen and self.pdf is not None

    @property
    def reden(self) -> str:
        if self.ok:
            return "precies één PDF (het meldformulier) en verder alleen tekst"
        return "; ".join(self.problemen) + ". Een melding bevat alleen tekst en precies één PDF (het meldformulier)"


def beoordeel(message: bytes | Message) -> BijlagenOordeel:
    """Judge every part of a melding by its bytes; never raises on bad input."""
    try:
        msg = message_from_bytes(message, policy=policy.default) if isinstance(message, (bytes, bytearray)) else message
        return _judge(msg)
    except Exception as e:  # noqa: BLE001 - a hostile message gets a finding, not a crash
        return BijlagenOordeel((), (f"het bericht is niet als MIME te lezen ({type(e).__name__})",), None)


def _judge(msg: Message) -> BijlagenOordeel:
    problems: list[str] = []
    parts: list[Onderdeel] = []
    pdfs: list[tuple[Onderdeel, bytes]] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if part.get_content_maintype() == "message":
            problems.append(f"een ingesloten e-mail ({ctype})")
            break  # what is inside is not ours to judge
        if part.is_multipart():
            if ctype not in _CONTAINERS:
                problems.append(f"een onverwachte MIME-structuur ({ctype})")
            for where, text in (("voor", part.preamble), ("na", part.epilogue)):
                if text and _has_pdf(text.encode("utf-8", "surrogateescape")):
                    problems.append(f"de tekst {where} de MIME-delen van {ctype} bevat een verstopte PDF")
            continue
        if len(parts) >= MAX_PARTS:
            problems.append(f"meer dan {MAX_PARTS} delen")
            break
        data = part.get_payload(decode=True) or b""
        kind = _sniff(data, ctype)
        p = Onderdeel(len(parts) + 1, ctype, str(part.get_filename() or ""),
                      part.get_content_disposition() == "attachment", kind, len(data))
        parts.append(p)
        if kind == "pdf":
            pdfs.append((p, data))
            if ctype not in _PDF_LABELS:
                problems.append(f"{p.label} is een PDF maar heet {ctype}")
        elif _has_pdf(data) or _has_pdf(_raw(part)):
            problems.append(f"{p.label} bevat een verstopte tweede PDF")
        elif kind in ("tekst", "html") and ctype in _BODY_TYPES and not p.bijlage:
            if kind == "html" and _ACTIVE_HTML.search(data):
                problems.append(f"{p.label} is html met actieve inhoud (script, formulier of frame)")
        else:
            what = {"tekst": "een tekstbijlage", "html": "een html-bijlage"}.get(kind, kind)
            problems.append(f"{p.label} is {what}, wat een melding niet hoort te bevatten")
    if not pdfs:
        problems.insert(0, "het bericht bevat geen PDF")
    elif len(pdfs) > 1:
        problems.insert(0, f"het bericht bevat {len(pdfs)} PDF's: " + ", ".join(p.label for p, _ in pdfs))
    return BijlagenOordeel(tuple(parts), tuple(problems), pdfs[0][1] if len(pdfs) == 1 else None)


def _sniff(data: bytes, ctype: str) -> str:
    if data.find(b"%PDF-", 0, 1024) >= 0:
        return "pdf"
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    if b"\x00" in data[:8192]:
        return "binaire gegevens"
    head = data[:512].lstrip().lower()
    if ctype == "text/html" or head.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "tekst"


def _raw(part: Message) -> bytes:
    """The part as transported: another reader may decode broken base64
    differently than Python does."""
    payload = part.get_payload(decode=False)
    return payload.encode("ascii", "surrogateescape") if isinstance(payload, str) else b""


def _has_pdf(data: bytes) -> bool:
    """A PDF anywhere in the bytes: raw, or base64 encoded a second time."""
    return b"%PDF-" in data or _PDF_B64.search(data) is not None


def smtp_text(text: str, limit: int = 450) -> str:
    """A reason fit for an SMTP reply line: ASCII (accents dropped, so "één"
    reads "een"), no control characters (a hostile file name cannot add
    reply lines), at most ``limit`` characters."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    clean = re.sub(r"[\x00-\x1f\x7f]+", " ", folded)
    return clean if len(clean) <= limit else clean[:limit - 3] + "..."
