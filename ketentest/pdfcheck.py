"""The PDF safety check a meldpunt runs on a received meldformulier (V04, S07).

``check_pdf(data, keten)`` refuses, each with a precise Dutch reason:

- a file larger than the keten's ``aannames.max_pdf_bytes`` (default 10 MB),
  checked before anything is parsed;
- a file that is not a PDF, is truncated (no ``%%EOF`` at the end), or that
  pypdf cannot parse in strict mode;
- encryption;
- JavaScript anywhere: ``/JS`` or ``/JavaScript`` keys, JavaScript actions
  (in ``/OpenAction``, ``/AA``, annotations, outlines) and the ``/Names``
  JavaScript tree;
- launch actions and other actions that open or send files (``/Launch``,
  ``/ImportData``, ``/SubmitForm``, ``/GoToE``, ``/GoToR``);
- embedded files: ``/EmbeddedFiles`` name trees, ``/EmbeddedFile`` streams,
  file specifications with ``/EF``, file-attachment annotations;
- other active content: XFA forms, RichMedia, 3D annotations.

Every object in the cross-reference table is inspected, reachable or not
(an unreferenced JavaScript object is still refused), and every stream is
decoded once: a stream that does not decode, or a file pypdf had to repair
(it logs a warning), is refused as damaged.

The work is bounded so a hostile file gives a finding, never a crash or a
hang: a declared ``/Size`` above :data:`MAX_OBJECTS` is refused before
parsing; the walk stops at :data:`MAX_NODES` entries, :data:`MAX_DEPTH`
nesting and :data:`MAX_DECODED` decoded bytes (pypdf itself caps one stream
at 75 MB and an xref stream at 2 million entries); every pypdf error is caught.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

from pypdf import PdfReader
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject

from ketentest.model import Aannames, Keten

MAX_OBJECTS = 50_000  # indirect objects inspected
MAX_NODES = 2_000_000  # dictionary entries and array items visited in total
MAX_DEPTH = 200  # nesting within one object
MAX_DECODED = 100 * 2**20  # decoded stream bytes in total (pypdf keeps them cached)

_ACTIONS_FILE = {"/Launch": "een startactie (/Launch) die een programma of bestand opent",
                 "/ImportData": "een actie die gegevens uit een ander bestand laadt (/ImportData)",
                 "/SubmitForm": "een actie die formuliergegevens verstuurt (/SubmitForm)",
                 "/GoToE": "een actie die een ingesloten document opent (/GoToE)",
                 "/GoToR": "een actie die een ander PDF-bestand opent (/GoToR)"}
_ACTIVE_SUBTYPES = {"/RichMedia": "RichMedia-inhoud (Flash/video met scripts)", "/3D": "3D-inhoud (kan scripts bevatten)",
                    "/Screen": "een mediascherm (kan een actie starten)"}


class Soort(str, Enum):
    TE_GROOT = "te-groot"
    GEEN_PDF = "geen-pdf"
    AFGEKAPT = "afgekapt"
    CORRUPT = "corrupt"
    VERSLEUTELD = "versleuteld"
    JAVASCRIPT = "javascript"
    STARTACTIE = "startactie"
    INGESLOTEN_BESTAND = "ingesloten-bestand"
    ACTIEVE_INHOUD = "actieve-inhoud"
    TE_COMPLEX = "te-complex"


@dataclass(frozen=True)
class Bevinding:
    soort: Soort
    reden: str  # Dutch, precise: what was found
    plaats: str = ""  # where: "object 7, /OpenAction"

    def __str__(self) -> str:
        return f"{self.reden} ({self.plaats})" if self.plaats else self.reden


@dataclass(frozen=True)
class PdfCheckResultaat:
    grootte: int
    max_bytes: int
    bevindingen: tuple[Bevinding, ...]

    @property
    def ok(self) -> bool:
        return not self.bevindingen

    @property
    def soorten(self) -> frozenset[Soort]:
        return frozenset(b.soort for b in self.bevindingen)

    @property
    def reden(self) -> str:
        """One Dutch sentence for the reply to the sender (S07)."""
        if self.ok:
            return "PDF goedgekeurd: geen actieve inhoud, niet versleuteld, binnen de maximale grootte"
        return "PDF geweigerd: " + "; ".join(str(b) for b in self.bevindingen)


def check_pdf(data: bytes, keten: Keten | None = None, *, max_bytes: int | None = None) -> PdfCheckResultaat:
    """Judge a received PDF; never raises on bad input."""
    limit = max_bytes if max_bytes is not None else (keten.aannames if keten else Aannames()).max_pdf_bytes
    size = len(data)

    def result(*found: Bevinding) -> PdfCheckResultaat:
        return PdfCheckResultaat(size, limit, tuple(found))

    if size > limit:
        return result(Bevinding(Soort.TE_GROOT, f"het bestand is {_mb(size)} groot; de keten staat hoogstens {_mb(limit)} toe"))
    start = data.find(b"%PDF-", 0, 1024)
    if start < 0:
        return result(Bevinding(Soort.GEEN_PDF, "het bestand is geen PDF: de kop %PDF- ontbreekt aan het begin"))
    if b"%%EOF" not in data[-1024:]:
        return result(Bevinding(Soort.AFGEKAPT, "het bestand is afgekapt of onvolledig: de slotmarkering %%EOF ontbreekt aan het eind"))
    declared = max((int(m) for m in _SIZE.findall(data)), default=0)
    if declared > MAX_OBJECTS:  # refuse before pypdf reads a huge cross-reference table
        return result(Bevinding(Soort.TE_COMPLEX, f"het bestand declareert {declared} objecten (/Size); "
                                                  f"hoogstens {MAX_OBJECTS} worden gecontroleerd"))
    with _pypdf_warnings() as repairs:
        try:
            reader = PdfReader(io.BytesIO(data), strict=True)
            encrypted = reader.is_encrypted
        except Exception as e:  # pypdf raises many kinds of errors on broken input
            return result(Bevinding(Soort.CORRUPT, f"het bestand is beschadigd en niet te lezen: {_err(e)}"))
        if encrypted:
            return result(Bevinding(Soort.VERSLEUTELD, "het bestand is versleuteld (/Encrypt); de inhoud kan niet "
                                    "worden gecontroleerd", "trailer"))
        found = _Walker(reader).run()
    if repairs:  # pypdf silently repaired a broken xref or object: the file is damaged
        more = f" (en {len(repairs) - 1} andere)" if len(repairs) > 1 else ""
        found.append(Bevinding(Soort.CORRUPT, f"het bestand is beschadigd: de PDF-lezer moest het herstellen: "
                                              f"{repairs[0][:160]}{more}"))
    return result(*found)


class _RepairLog(logging.Handler):
    """Collects pypdf's warnings (repairs of broken files) from this thread only."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage().strip())


@contextmanager
def _pypdf_warnings() -> Iterator[list[str]]:
    handler, log = _RepairLog(), logging.getLogger("pypdf")
    log.addHandler(handler)
    try:
        yield handler.messages
    finally:
        log.removeHandler(handler)


class _Walker:
    """Inspect every indirect object once, iteratively, within fixed bounds.

    Objects reachable from the trailer are visited breadth-first, so each
    object knows the chain of keys that led to it (``/OpenAction``,
    ``/Annots[0]/A``): the finding can say what would start the JavaScript.
    Unreferenced objects from the xref table follow.
    """

    def __init__(self, reader: PdfReader) -> None:
        self.reader = reader
        self.found: dict[tuple[Soort, str], Bevinding] = {}
        self.nodes = 0
        self.decoded = 0  # bytes of decoded stream data
        self.via: dict[tuple[int, int], str] = {}  # object -> key chain that referred to it
        self.queue: deque[tuple[int, int]] = deque()

    def run(self) -> list[Bevinding]:
        try:
            refs = sorted({(num, gen) for gen, table in self.reader.xref.items() for num in table}
                          | {(num, 0) for num in self.reader.xref_objStm})
            if len(refs) > MAX_OBJECTS:
                self.add(Soort.TE_COMPLEX, f"het bestand bevat {len(refs)} objecten; hoogstens {MAX_OBJECTS} worden gecontroleerd")
                return list(self.found.values())
            self.walk(self.reader.trailer, "trailer", "")
            done: set[tuple[int, int]] = set()
            for ref in _chain(self.queue, refs):
                if ref in done:
                    continue
                done.add(ref)
                if len(done) > MAX_OBJECTS or self.nodes > MAX_NODES:
                    self.add(Soort.TE_COMPLEX, f"het bestand is te complex om veilig te controleren (meer dan {MAX_OBJECTS} objecten)")
                    break
                obj = self.reader.get_object(IndirectObject(ref[0], ref[1], self.reader))
                if obj is not None:
                    self.walk(obj, f"object {ref[0]} {ref[1]}", self.via.get(ref, ""))
        except Exception as e:  # a broken object, a recursion bomb in pypdf, ...
            self.add(Soort.CORRUPT, f"het bestand is beschadigd en niet volledig te controleren: {_err(e)}")
        return list(self.found.values())

    def add(self, soort: Soort, reden: str, plaats: str = "") -> None:
        self.found.setdefault((soort, plaats), Bevinding(soort, reden, plaats))

    def walk(self, root: object, where: str, via: str) -> None:
        stack: list[tuple[object, str, int]] = [(root, "", 0)]
        while stack:
            obj, path, depth = stack.pop()
            self.nodes += 1
            if self.nodes > MAX_NODES:
                self.add(Soort.TE_COMPLEX, f"het bestand is te complex om veilig te controleren (meer dan {MAX_NODES} onderdelen)")
                return
            if depth > MAX_DEPTH:
                self.add(Soort.TE_COMPLEX, f"objecten zijn dieper dan {MAX_DEPTH} niveaus genest", where)
                return
            if isinstance(obj, DictionaryObject):  # also a StreamObject's dictionary
                self.inspect(obj, where, via + path)
                if isinstance(obj, StreamObject):
                    self.decode(obj, where)
                children = [(f"{path}{k}", v) for k, v in obj.items()]
            elif isinstance(obj, ArrayObject):
                children = [(f"{path}[{i}]", v) for i, v in enumerate(obj)]
            else:
                continue
            for child_path, value in children:
                if isinstance(value, IndirectObject):  # walked on its own, from the queue
                    ref = (value.idnum, value.generation)
                    if ref not in self.via:
                        self.via[ref] = _tail(via + child_path)
                        self.queue.append(ref)
                else:
                    stack.append((value, child_path, depth + 1))

    def decode(self, stream: StreamObject, where: str) -> None:
        """A stream that does not decode is damaged; total decoded size is bounded."""
        if self.decoded > MAX_DECODED:
            return
        try:
            self.decoded += len(stream.get_data())
        except LimitReachedError:
            self.add(Soort.TE_COMPLEX, "een gegevensstroom pakt uit tot boven de leeslimiet "
                                       "(een decompressiebom?)", where)
            return
        except Exception as e:
            self.add(Soort.CORRUPT, f"een gegevensstroom is beschadigd: {_err(e)}", where)
            return
        if self.decoded > MAX_DECODED:
            self.add(Soort.TE_COMPLEX, f"de gegevensstromen zijn samen groter dan {_mb(MAX_DECODED)} uitgepakt")

    def inspect(self, d: DictionaryObject, where: str, chain: str) -> None:
        plaats = f"{where}, via {_tail(chain)}" if chain else where
        keys = set(d.keys())
        s, subtype, typ = _name(d.get("/S")), _name(d.get("/Subtype")), _name(d.get("/Type"))
        if "/JS" in keys or s == "/JavaScript":
            segments = set(_SEGMENT.findall(chain))
            trigger = next((t for t in ("/OpenAction", "/AA", "/Names", "/A") if t in segments), "")
            waar = {"/OpenAction": " dat start bij het openen van het bestand (/OpenAction)",
                    "/AA": " dat start bij een gebeurtenis (/AA)",
                    "/Names": " in de lijst met documentscripts (/Names)",
                    "/A": " achter een link, knop of bladwijzer (/A)"}.get(trigger, "")
            self.add(Soort.JAVASCRIPT, f"het bestand bevat JavaScript{waar}", plaats)
        if "/JavaScript" in keys:
            self.add(Soort.JAVASCRIPT, "het bestand bevat een lijst met JavaScript-programma's (/Names /JavaScript)", plaats)
        if s in _ACTIONS_FILE:
            soort = Soort.STARTACTIE if s == "/Launch" else Soort.ACTIEVE_INHOUD
            self.add(soort, f"het bestand bevat {_ACTIONS_FILE[s]}", plaats)
        if "/EmbeddedFiles" in keys:
            self.add(Soort.INGESLOTEN_BESTAND, "het bestand bevat ingesloten bestanden (/EmbeddedFiles)", plaats)
        if typ == "/EmbeddedFile" or "/EF" in keys:
            self.add(Soort.INGESLOTEN_BESTAND, "het bestand bevat een ingesloten bestand (/EmbeddedFile)", plaats)
        if subtype == "/FileAttachment":
            self.add(Soort.INGESLOTEN_BESTAND, "het bestand bevat een bijlage-annotatie (/FileAttachment)", plaats)
        if "/XFA" in keys:
            self.add(Soort.ACTIEVE_INHOUD, "het bestand bevat een XFA-formulier (kan scripts bevatten)", plaats)
        if subtype in _ACTIVE_SUBTYPES:
            self.add(Soort.ACTIEVE_INHOUD, f"het bestand bevat {_ACTIVE_SUBTYPES[subtype]}", plaats)


_SEGMENT = re.compile(r"/[^/\[]+")
_SIZE = re.compile(rb"/Size\s+(\d{1,12})")


def _chain(queue: deque, rest: list) -> Iterator:
    """Reachable objects in discovery order (the queue grows while iterated), then the rest."""
    while queue:
        yield queue.popleft()
    yield from rest
    while queue:  # references found in unreferenced objects
        yield queue.popleft()


def _tail(chain: str, keep: int = 6) -> str:
    parts = _SEGMENT.findall(chain)
    return "".join(parts[-keep:]) if len(parts) > keep else chain


def _name(value: object) -> str:
    return str(value) if isinstance(value, NameObject) else ""


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n} bytes"


def _err(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
