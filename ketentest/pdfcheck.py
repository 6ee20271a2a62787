"""The PDF safety check a meldpunt runs on a received meldformulier (V04, S07).

``check_pdf(data, keten)`` judges the bytes of one PDF and refuses, each with
a precise Dutch reason:

- a file larger than the keten's ``aannames.max_pdf_bytes`` (default 10 MB),
  checked before anything is parsed;
- a file that is not a PDF, is truncated (no ``%%EOF``), carries data after
  its last ``%%EOF`` or a ZIP archive anywhere (PDF+ZIP polyglots), or that
  qpdf (through pikepdf) cannot read without repairing it;
- encryption;
- JavaScript, launch actions, embedded files, XFA, RichMedia, 3D (the
  denylist, with where it was found and what would start it);
- anything outside the allowlist of what a meldformulier or a scan may hold
  (:data:`ALLOWED_TYPES`, :data:`ALLOWED_ANNOTS`, :data:`ALLOWED_ACTIONS`,
  :data:`ALLOWED_FILTERS`, ...): /URI and /Named actions, Sound annotations,
  PostScript XObjects, unknown object types;
- a missing or empty page tree, or one that contains itself;
- streams that expand out of proportion: an object stream or content stream
  that inflates far beyond its size (decompression bombs), an image that
  inflates beyond the size its dimensions declare. A scan is not a bomb: an
  image stream may inflate to what its width, height and colours say.

Every object in the cross-reference table is inspected, reachable or not.
Object streams are measured (bounded, streaming) *before* qpdf parses the
objects inside them, so a huge string hidden in one costs nothing. Streams
are decoded streaming, counting bytes, never holding a bomb in memory.

Run it on untrusted input through :mod:`ketentest.pdfsandbox`, which adds
hard CPU, memory and wall-clock limits in a separate process.
"""

from __future__ import annotations

import base64
import io
import re
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import pikepdf

from ketentest.model import Aannames, Keten

MAX_OBJECTS = 50_000  # indirect objects inspected
MAX_NODES = 2_000_000  # dictionary entries and array items visited in total
MAX_DEPTH = 200  # nesting within one object
MAX_PAGES = 2_000
MAX_DECODED = 1024 * 2**20  # decoded stream bytes counted in total (streaming, not held)
MAX_OBJSTM_DECODED = 8 * 2**20  # one object stream, decoded
MAX_STREAM_DECODED = 32 * 2**20  # one non-image stream, decoded
MAX_RATIO = 200  # decoded:encoded above this, for a non-image stream over RATIO_FLOOR, is a bomb
MAX_OBJSTM_RATIO = 20  # object streams hold PDF syntax, which compresses far less
RATIO_FLOOR = 2**20
MAX_IMAGE_PIXELS = 150_000_000  # 600 dpi A3 is about 70 million
_CHUNK = 2**20

#: What a meldformulier (ketentest.meldformulier) or a scanned form may contain.
ALLOWED_TYPES = frozenset({
    "/Catalog", "/Pages", "/Page", "/Font", "/FontDescriptor", "/Encoding", "/CMap", "/XObject", "/ExtGState",
    "/Pattern", "/Halftone", "/Mask", "/Group", "/Annot", "/Metadata", "/ObjStm", "/XRef", "/Outlines", "/Trans",
    "/OCG", "/OCMD", "/StructTreeRoot", "/StructElem", "/MCR", "/OBJR", "/MarkInfo", "/OutputIntent", "/Border",
    "/Sig", "/SigRef", "/DocTimeStamp", "/Action",
})
ALLOWED_ANNOTS = frozenset({"/Widget", "/Link"})  # form fields; internal links
ALLOWED_ACTIONS = frozenset({"/GoTo"})  # only a jump within the document
ALLOWED_FIELDS = frozenset({"/Tx", "/Btn", "/Ch", "/Sig"})
ALLOWED_XOBJECTS = frozenset({"/Image", "/Form"})
ALLOWED_FONTS = frozenset({"/Type1", "/MMType1", "/TrueType", "/Type0", "/CIDFontType0", "/CIDFontType2", "/Type3",
                           "/Type1C", "/CIDFontType0C", "/OpenType"})
ALLOWED_NAME_TREES = frozenset({"/Dests"})
_IMAGE_CODECS = frozenset({"/DCTDecode", "/DCT", "/JPXDecode", "/CCITTFaxDecode", "/CCF", "/JBIG2Decode"})
_FLATE = frozenset({"/FlateDecode", "/Fl"})
_A85 = frozenset({"/ASCII85Decode", "/A85"})
_AHX = frozenset({"/ASCIIHexDecode", "/AHx"})
_RL = frozenset({"/RunLengthDecode", "/RL"})
ALLOWED_FILTERS = _IMAGE_CODECS | _FLATE | _A85 | _AHX | _RL

_ACTIONS_FILE = {"/Launch": "een startactie (/Launch) die een programma of bestand opent",
                 "/ImportData": "een actie die gegevens uit een ander bestand laadt (/ImportData)",
                 "/SubmitForm": "een actie die formuliergegevens verstuurt (/SubmitForm)",
                 "/GoToE": "een actie die een ingesloten document opent (/GoToE)",
                 "/GoToR": "een actie die een ander PDF-bestand opent (/GoToR)",
                 "/URI": "een actie die een internetadres opent (/URI)",
                 "/Named": "een benoemde actie van de lezer (/Named, bijvoorbeeld afdrukken)",
                 "/Sound": "een actie die geluid afspeelt (/Sound)",
                 "/Movie": "een actie die een film afspeelt (/Movie)",
                 "/Rendition": "een actie die media afspeelt (/Rendition)",
                 "/ResetForm": "een actie die het formulier wist (/ResetForm)",
                 "/Hide": "een actie die onderdelen verbergt (/Hide)",
                 "/SetOCGState": "een actie die zichtbare lagen wisselt (/SetOCGState)"}
_ACTIVE_SUBTYPES = {"/RichMedia": "RichMedia-inhoud (Flash/video met scripts)", "/3D": "3D-inhoud (kan scripts bevatten)",
                    "/Screen": "een mediascherm (kan een actie starten)", "/Sound": "een geluidsfragment (/Sound)",
                    "/Movie": "een film (/Movie)"}
_BENIGN_WARNINGS = ("Resources is missing",)  # qpdf fills in a page's empty /Resources


class Soort(str, Enum):
    TE_GROOT = "te-groot"
    GEEN_PDF = "geen-pdf"
    AFGEKAPT = "afgekapt"
    AANGEHANGD = "aangehangde-gegevens"
    CORRUPT = "corrupt"
    VERSLEUTELD = "versleuteld"
    JAVASCRIPT = "javascript"
    STARTACTIE = "startactie"
    INGESLOTEN_BESTAND = "ingesloten-bestand"
    ACTIEVE_INHOUD = "actieve-inhoud"
    NIET_TOEGESTAAN = "niet-toegestaan"
    STRUCTUUR = "structuur"
    TE_COMPLEX = "te-complex"
    TE_ZWAAR = "te-zwaar"  # the sandbox's CPU, memory or time limit was hit


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


def max_pdf_bytes(keten: Keten | None) -> int:
    return (keten.aannames if keten else Aannames()).max_pdf_bytes


def check_pdf(data: bytes, keten: Keten | None = None, *, max_bytes: int | None = None) -> PdfCheckResultaat:
    """Judge a received PDF; never raises on bad input (only MemoryError,
    which the sandbox turns into a refusal)."""
    limit = max_bytes if max_bytes is not None else max_pdf_bytes(keten)
    size = len(data)

    def result(*found: Bevinding) -> PdfCheckResultaat:
        return PdfCheckResultaat(size, limit, tuple(found))

    if size > limit:
        return result(Bevinding(Soort.TE_GROOT, f"het bestand is {_mb(size)} groot; de keten staat hoogstens {_mb(limit)} toe"))
    if data.find(b"%PDF-", 0, 1024) < 0:
        return result(Bevinding(Soort.GEEN_PDF, "het bestand is geen PDF: de kop %PDF- ontbreekt aan het begin"))
    end = data.rfind(b"%%EOF")
    if end < 0:
        return result(Bevinding(Soort.AFGEKAPT, "het bestand is afgekapt of onvolledig: de slotmarkering %%EOF ontbreekt aan het eind"))
    found = _outside_the_pdf(data, end)
    declared = max((int(m) for m in _SIZE.findall(data)), default=0)
    if declared > MAX_OBJECTS:  # refuse before qpdf reads a huge cross-reference table
        return result(*found, Bevinding(Soort.TE_COMPLEX, f"het bestand declareert {declared} objecten (/Size); "
                                                          f"hoogstens {MAX_OBJECTS} worden gecontroleerd"))
    try:
        pdf = pikepdf.open(io.BytesIO(data), suppress_warnings=True)
    except pikepdf.PasswordError:
        return result(*found, Bevinding(Soort.VERSLEUTELD, "het bestand is versleuteld met een wachtwoord; de inhoud "
                                                           "kan niet worden gecontroleerd", "trailer"))
    except MemoryError:
        raise
    except Exception as e:  # qpdf raises many kinds of errors on broken input
        return result(*found, _unreadable(e))
    with pdf:
        if pdf.is_encrypted:
            return result(*found, Bevinding(Soort.VERSLEUTELD, "het bestand is versleuteld (/Encrypt); de inhoud kan "
                                                               "niet worden gecontroleerd", "trailer"))
        found += _Walker(pdf).run()
        repairs = [w for w in pdf.get_warnings() if not any(b in w for b in _BENIGN_WARNINGS)]
    if repairs:  # qpdf had to repair a broken xref or object: the file is damaged
        more = f" (en {len(repairs) - 1} andere)" if len(repairs) > 1 else ""
        found.append(Bevinding(Soort.CORRUPT, f"het bestand is beschadigd: de PDF-lezer moest het herstellen: "
                                              f"{_short(repairs[0])}{more}"))
    return result(*found)


def _outside_the_pdf(data: bytes, end: int) -> list[Bevinding]:
    """PDF+ZIP polyglots and anything appended after the last %%EOF."""
    found = []
    tail = data[end + 5:]
    if tail.strip(b" \t\r\n\x00\x0c"):
        what = "een ZIP-archief" if b"PK\x03\x04" in tail or b"PK\x05\x06" in tail else f"{len(tail)} bytes"
        found.append(Bevinding(Soort.AANGEHANGD, f"na de slotmarkering %%EOF volgt nog {what}; een meldformulier "
                                                 "eindigt daar (een PDF die ook een ander bestand is?)"))
    elif _zip_directory(data):
        found.append(Bevinding(Soort.INGESLOTEN_BESTAND, "het bestand is tegelijk een ZIP-archief (een verstopt "
                                                         "archief in de PDF)"))
    return found


def _zip_directory(data: bytes) -> bool:
    """A ZIP end-of-central-directory record where a ZIP reader looks for it
    (the last 64 KB), pointing at a central directory before it."""
    start = max(0, len(data) - 65_557)
    pos = data.rfind(b"PK\x05\x06", start)
    while pos >= 0:
        record = data[pos:pos + 22]
        if len(record) == 22:
            cd_size, cd_offset = int.from_bytes(record[12:16], "little"), int.from_bytes(record[16:20], "little")
            if cd_size and cd_offset + cd_size <= pos and data[pos - cd_size:pos - cd_size + 4] == b"PK\x01\x02":
                return True
        pos = data.rfind(b"PK\x05\x06", start, pos)
    return False


#: qpdf refuses some broken structures on opening; say what they are.
_OPEN_ERRORS = (("unable to find page tree", Soort.STRUCTUUR,
                 "het bestand heeft geen paginaboom (/Pages); een meldformulier heeft pagina's"),
                ("loop detected in /pages", Soort.STRUCTUUR,
                 "de paginaboom bevat zichzelf (een lus); een lezer blijft daarin hangen"))


def _unreadable(e: Exception) -> Bevinding:
    text = str(e).lower()
    for needle, soort, reden in _OPEN_ERRORS:
        if needle in text:
            return Bevinding(soort, reden)
    return Bevinding(Soort.CORRUPT, f"het bestand is beschadigd en niet te lezen: {_err(e)}")


class _Walker:
    """Inspect every indirect object once, iteratively, within fixed bounds.

    Objects reachable from the trailer are visited breadth-first, so each
    object knows the chain of keys that led to it (``/OpenAction``,
    ``/Annots[0]/A``): the finding can say what would start the JavaScript.
    Unreferenced objects from the xref table follow.
    """

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.pdf = pdf
        self.found: dict[tuple[Soort, str], Bevinding] = {}
        self.nodes = 0
        self.decoded = 0  # bytes of decoded stream data, counted
        self.via: dict[tuple[int, int], str] = {}  # object -> key chain that referred to it
        self.queue: deque[tuple[int, int]] = deque()

    def run(self) -> list[Bevinding]:
        try:
            table = self.pdf.get_xref_table()
            refs = sorted(ref for ref, entry in table.items() if entry.type in (1, 2))
            if len(refs) > MAX_OBJECTS:
                self.add(Soort.TE_COMPLEX, f"het bestand bevat {len(refs)} objecten; hoogstens {MAX_OBJECTS} worden gecontroleerd")
                return list(self.found.values())
            # Object streams first, measured before qpdf parses what is inside them.
            for num in sorted({entry.obj_stream_number for entry in table.values() if entry.type == 2}):
                if not self.object_stream(num):
                    return list(self.found.values())
            self.walk(self.pdf.trailer, "trailer", "")
            self.pages()
            done: set[tuple[int, int]] = set()
            for ref in _chain(self.queue, refs):
                if ref in done:
                    continue
                done.add(ref)
                if len(done) > MAX_OBJECTS or self.nodes > MAX_NODES:
                    self.add(Soort.TE_COMPLEX, f"het bestand is te complex om veilig te controleren (meer dan {MAX_OBJECTS} objecten)")
                    break
                obj = self.pdf.get_object(ref)
                self.walk(obj, f"object {ref[0]} {ref[1]}", self.via.get(ref, ""))
        except MemoryError:
            raise
        except Exception as e:  # a broken object, a recursion bomb, ...
            self.add(Soort.CORRUPT, f"het bestand is beschadigd en niet volledig te controleren: {_err(e)}")
        return list(self.found.values())

    def add(self, soort: Soort, reden: str, plaats: str = "") -> None:
        self.found.setdefault((soort, plaats), Bevinding(soort, reden, plaats))

    # -- structure -------------------------------------------------------------------
    def object_stream(self, num: int) -> bool:
        where = f"object {num} 0"
        stream = self.pdf.get_object((num, 0))
        if not isinstance(stream, pikepdf.Stream):
            self.add(Soort.CORRUPT, "het bestand is beschadigd: een verwijzing naar een objectstroom wijst naar iets "
                                    "anders", where)
            return False
        return self.decode(stream, where, cap=MAX_OBJSTM_DECODED, what="een objectstroom", ratio=MAX_OBJSTM_RATIO)

    def pages(self) -> None:
        """The page tree: present, at least one page, no loops, bounded."""
        root = self.pdf.trailer.get("/Root")
        tree = root.get("/Pages") if isinstance(root, pikepdf.Dictionary) else None
        if not isinstance(tree, pikepdf.Dictionary):
            self.add(Soort.STRUCTUUR, "het bestand heeft geen paginaboom (/Pages); een meldformulier heeft pagina's",
                     "/Root")
            return
        seen: set[tuple[int, int]] = set()
        stack: list[tuple[pikepdf.Object, int]] = [(tree, 0)]
        leaves = 0
        while stack:
            node, depth = stack.pop()
            if node.is_indirect:
                if node.objgen in seen:
                    self.add(Soort.STRUCTUUR, "de paginaboom bevat zichzelf (een lus); een lezer blijft daarin hangen",
                             f"object {node.objgen[0]} {node.objgen[1]}")
                    return
                seen.add(node.objgen)
            if depth > MAX_DEPTH or len(seen) > MAX_PAGES * 2:
                self.add(Soort.TE_COMPLEX, f"de paginaboom is te groot of te diep (meer dan {MAX_PAGES} pagina's)")
                return
            kids = node.get("/Kids") if isinstance(node, pikepdf.Dictionary) else None
            if _name(node.get("/Type")) == "/Page" or (kids is None and isinstance(node, pikepdf.Dictionary)
                                                         and node is not tree):
                leaves += 1
                continue
            if isinstance(kids, pikepdf.Array):
                stack.extend((k, depth + 1) for k in reversed(list(kids)) if isinstance(k, pikepdf.Dictionary))
        if leaves == 0:
            self.add(Soort.STRUCTUUR, "het bestand heeft geen enkele pagina; een meldformulier heeft er minstens één",
                     "/Root/Pages")

    # -- every object ----------------------------------------------------------------
    def walk(self, root: pikepdf.Object, where: str, via: str) -> None:
        stack: list[tuple[pikepdf.Object, str, int]] = [(root, "", 0)]
        while stack:
            obj, path, depth = stack.pop()
            self.nodes += 1
            if self.nodes > MAX_NODES:
                self.add(Soort.TE_COMPLEX, f"het bestand is te complex om veilig te controleren (meer dan {MAX_NODES} onderdelen)")
                return
            if depth > MAX_DEPTH:
                self.add(Soort.TE_COMPLEX, f"objecten zijn dieper dan {MAX_DEPTH} niveaus genest", where)
                return
            if isinstance(obj, pikepdf.Stream):
                d = obj.stream_dict
                self.inspect(d, where, via + path)
                self.stream(obj, d, where)
                children = [(f"{path}{k}", v) for k, v in d.items()]
            elif isinstance(obj, pikepdf.Dictionary):
                self.inspect(obj, where, via + path)
                children = [(f"{path}{k}", v) for k, v in obj.items()]
            elif isinstance(obj, pikepdf.Array):
                children = [(f"{path}[{i}]", v) for i, v in enumerate(obj)]
            else:
                continue
            self.nodes += len(children)
            for child_path, value in children:
                if not isinstance(value, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
                    continue  # numbers, names, strings: nothing below them
                if value.is_indirect:  # walked on its own, from the queue
                    ref = value.objgen
                    if ref not in self.via:
                        self.via[ref] = _tail(via + child_path)
                        self.queue.append(ref)
                else:
                    stack.append((value, child_path, depth + 1))

    def inspect(self, d: pikepdf.Dictionary, where: str, chain: str) -> None:
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
        elif s and s != "/JavaScript" and _is_action(d, typ) and s not in ALLOWED_ACTIONS:
            self.add(Soort.ACTIEVE_INHOUD, f"het bestand bevat een actie {s} (alleen /GoTo binnen het document mag)", plaats)
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
        self.allowlist(d, keys, typ, subtype, plaats)

    def allowlist(self, d: pikepdf.Dictionary, keys: set[str], typ: str, subtype: str, plaats: str) -> None:
        """What a meldformulier may hold; the denylist above already named the dangerous kinds."""
        def refuse(what: str) -> None:
            self.add(Soort.NIET_TOEGESTAAN, f"het bestand bevat {what}, wat in een meldformulier niet hoort", plaats)

        if typ and typ not in ALLOWED_TYPES and typ not in ("/EmbeddedFile", "/Filespec"):
            refuse(f"een onbekend soort object (/Type {typ})")
        annot = typ == "/Annot" or (subtype and "/Rect" in keys and not typ)
        if annot and subtype and subtype not in ALLOWED_ANNOTS and subtype not in _ACTIVE_SUBTYPES \
                and subtype != "/FileAttachment":
            refuse(f"een annotatie van de soort {subtype}")
        if typ == "/XObject" and subtype and subtype not in ALLOWED_XOBJECTS:
            refuse(f"een XObject van de soort {subtype} (bijvoorbeeld PostScript)")
        if typ == "/Font" and subtype and subtype not in ALLOWED_FONTS:
            refuse(f"een lettertype van de soort {subtype}")
        ft = _name(d.get("/FT"))
        if ft and ft not in ALLOWED_FIELDS:
            refuse(f"een formulierveld van de soort {ft}")
        if typ == "/Catalog":
            names = d.get("/Names")
            if isinstance(names, pikepdf.Dictionary):
                for tree in set(names.keys()) - ALLOWED_NAME_TREES - {"/JavaScript", "/EmbeddedFiles"}:
                    refuse(f"een lijst {tree} in /Names")

    # -- streams ---------------------------------------------------------------------
    def stream(self, stream: pikepdf.Stream, d: pikepdf.Dictionary, where: str) -> None:
        typ, subtype = _name(d.get("/Type")), _name(d.get("/Subtype"))
        if typ == "/ObjStm":
            return  # measured before the walk
        if subtype == "/Image":
            cap = self.image_cap(d, where)
            if cap is not None:
                self.decode(stream, where, cap=cap, what="een afbeelding", image=True)
            return
        self.decode(stream, where, cap=MAX_STREAM_DECODED, what="een gegevensstroom")

    def image_cap(self, d: pikepdf.Dictionary, where: str) -> int | None:
        try:
            w, h = int(d.get("/Width", 0)), int(d.get("/Height", 0))
            bpc = 1 if bool(d.get("/ImageMask", False)) else int(d.get("/BitsPerComponent", 8))
        except (TypeError, ValueError):
            self.add(Soort.CORRUPT, "een afbeelding heeft geen geldige afmetingen", where)
            return None
        if w <= 0 or h <= 0 or not 1 <= bpc <= 16:
            self.add(Soort.CORRUPT, "een afbeelding heeft geen geldige afmetingen", where)
            return None
        if w * h > MAX_IMAGE_PIXELS:
            self.add(Soort.TE_COMPLEX, f"een afbeelding van {w} x {h} pixels is groter dan een lezer veilig "
                                       f"kan openen (hoogstens {MAX_IMAGE_PIXELS // 10**6} miljoen pixels)", where)
            return None
        row = -(-w * _components(d.get("/ColorSpace")) * bpc // 8)
        return (row + 1) * h + 4096  # + a PNG predictor byte per row

    def decode(self, stream: pikepdf.Stream, where: str, *, cap: int, what: str, image: bool = False,
               ratio: int = MAX_RATIO) -> bool:
        """Decode streaming, counting bytes; refuse what inflates beyond ``cap``
        or, for a non-image stream, beyond ``ratio`` times its own size (the
        decoding stops there: a bomb costs only what the limit allows)."""
        filters = _filters(stream.stream_dict.get("/Filter"))
        unknown = [f for f in filters if f not in ALLOWED_FILTERS]
        if unknown:
            self.add(Soort.NIET_TOEGESTAAN, f"{what} is gecomprimeerd met {unknown[0]}, wat in een meldformulier "
                                            "niet hoort", where)
            return False
        if self.decoded > MAX_DECODED:
            return True
        try:
            raw = stream.read_raw_bytes()
            by_ratio = max(RATIO_FLOOR, ratio * len(raw))
            n, head = _decoded_size(raw, filters, cap if image else min(cap, by_ratio))
        except _TooBig as e:
            if not image and e.cap == by_ratio < cap:
                self.add(Soort.TE_COMPLEX, f"{what} pakt uit tot meer dan {ratio} keer zijn grootte ({_mb(len(raw))} "
                                           f"wordt meer dan {_mb(e.cap)}; een decompressiebom?)", where)
            else:
                self.add(Soort.TE_COMPLEX, f"{what} pakt uit tot meer dan {_mb(e.cap)} "
                                           f"({'meer dan de afmetingen zeggen' if image else 'een decompressiebom?'})",
                         where)
            return False
        except MemoryError:
            raise
        except Exception as e:
            self.add(Soort.CORRUPT, f"{what} is beschadigd: {_err(e)}", where)
            return False
        self.decoded += n
        hidden = next((kind for magic, kind in _HIDDEN_FILES if head.startswith(magic) or raw.startswith(magic)), None)
        if hidden:
            self.add(Soort.INGESLOTEN_BESTAND, f"{what} bevat een verstopt bestand ({hidden})", where)
            return False
        if self.decoded > MAX_DECODED:
            self.add(Soort.TE_COMPLEX, f"de gegevensstromen zijn samen groter dan {_mb(MAX_DECODED)} uitgepakt")
            return False
        return True


class _TooBig(Exception):
    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self.cap = cap


#: Files that have no business inside a meldformulier's streams.
_HIDDEN_FILES = ((b"PK\x03\x04", "een ZIP-archief"), (b"%PDF-", "een tweede PDF"), (b"\x7fELF", "een programma"),
                 (b"MZ\x90\x00", "een Windows-programma"), (b"Rar!", "een RAR-archief"),
                 (b"7z\xbc\xaf", "een 7-Zip-archief"))


def _decoded_size(raw: bytes, filters: list[str], cap: int) -> tuple[int, bytes]:
    """The decoded length of a stream and its first bytes, never holding more
    than ``cap`` bytes (the last Flate step only counts). Image codecs end the
    chain: a viewer decodes those, bounded by the image's dimensions."""
    data = raw
    for i, f in enumerate(filters):
        if f in _IMAGE_CODECS:
            break
        last = i == len(filters) - 1 or filters[i + 1] in _IMAGE_CODECS
        if f in _FLATE:
            if last:
                return _inflate_count(data, cap)
            data = _inflate(data, cap)
        elif f in _A85:
            data = _a85(data)
        elif f in _AHX:
            data = _ahx(data)
        elif f in _RL:
            data = _run_length(data, cap)
        if len(data) > cap:
            raise _TooBig(cap)
    return len(data), data[:16]


def _inflate_count(data: bytes, cap: int) -> tuple[int, bytes]:
    d = zlib.decompressobj()
    total, tail, head = 0, data, b""
    while True:
        out = d.decompress(tail, _CHUNK)
        head = head or out[:16]
        total += len(out)
        if total > cap:
            raise _TooBig(cap)
        tail = d.unconsumed_tail
        if d.eof or (not tail and len(out) < _CHUNK):
            break
    return total + len(d.flush()), head


def _inflate(data: bytes, cap: int) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, cap + 1)
    if len(out) > cap or d.unconsumed_tail:
        raise _TooBig(cap)
    return out


def _a85(data: bytes) -> bytes:
    text = re.sub(rb"\s", b"", data)
    text = text[2:] if text.startswith(b"<~") else text
    return base64.a85decode(text.split(b"~>")[0], adobe=False)


def _ahx(data: bytes) -> bytes:
    text = re.sub(rb"\s", b"", data).split(b">")[0]
    return bytes.fromhex((text + b"0" if len(text) % 2 else text).decode("ascii"))


def _run_length(data: bytes, cap: int) -> bytes:
    out, i = bytearray(), 0
    while i < len(data) and data[i] != 128:
        n = data[i]
        if n < 128:
            out += data[i + 1:i + 2 + n]
            i += n + 2
        else:
            out += data[i + 1:i + 2] * (257 - n)
            i += 2
        if len(out) > cap:
            raise _TooBig(cap)
    return bytes(out)


def _filters(value: object) -> list[str]:
    if isinstance(value, pikepdf.Array):
        return [str(v) for v in value]
    return [str(value)] if isinstance(value, pikepdf.Name) else []


def _components(cs: object) -> int:
    if isinstance(cs, pikepdf.Name):
        return {"/DeviceGray": 1, "/G": 1, "/CalGray": 1, "/DeviceRGB": 3, "/RGB": 3, "/CalRGB": 3, "/Lab": 3,
                "/DeviceCMYK": 4, "/CMYK": 4, "/Indexed": 1, "/I": 1}.get(str(cs), 4)
    if isinstance(cs, pikepdf.Array) and len(cs):
        family = str(cs[0])
        if family in ("/Indexed", "/I", "/Separation"):
            return 1
        if family == "/ICCBased" and isinstance(cs[1], pikepdf.Stream):
            return int(cs[1].stream_dict.get("/N", 4))
        if family == "/DeviceN" and isinstance(cs[1], pikepdf.Array):
            return len(cs[1])
        return _components(cs[0])
    return 4


#: Every action type of ISO 32000-2 (12.6.4); /S means other things elsewhere
#: (border styles, transitions, groups, structure elements).
_ACTION_TYPES = frozenset({"/GoTo", "/GoToR", "/GoToE", "/GoToDp", "/Launch", "/Thread", "/URI", "/Sound", "/Movie",
                           "/Hide", "/Named", "/SubmitForm", "/ResetForm", "/ImportData", "/SetOCGState", "/Rendition",
                           "/Trans", "/GoTo3DView", "/JavaScript", "/RichMediaExecute"})


def _is_action(d: pikepdf.Dictionary, typ: str) -> bool:
    return typ in ("", "/Action") and _name(d.get("/S")) in _ACTION_TYPES


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
    return str(value) if isinstance(value, pikepdf.Name) else ""


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n} bytes"


def _short(text: str) -> str:
    return _STREAM_NAME.sub("", text).strip(" ,:")[:160]


_STREAM_NAME = re.compile(r"(stream )?<(_io\.BytesIO object at 0x[0-9a-f]+|memory)>:?")


def _err(e: BaseException) -> str:
    text = _short(str(e).strip().splitlines()[0]) if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
