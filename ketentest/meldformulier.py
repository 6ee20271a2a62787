"""The meldformulier: a Melding rendered as PDF (agreement V04), and read back.

:func:`render` draws a one- or two-page A4 form in Dutch with reportlab and
stores every field of the melding as a read-only, hidden AcroForm text field
(named after the keys of :data:`ketentest.melding.VELDEN`, dots replaced by
underscores, plus ``formulierversie``). The PDF has no active content, and the
same melding always gives the same bytes (``invariant=1`` fixes the creation
date and document ID).

:func:`parse` reads a received PDF back into a Melding from its form fields
(with pypdf); :func:`compare` names every field that differs.

The visible text uses the PDF standard font Helvetica (WinAnsi): a value with
a character outside Windows-1252 is refused with a DataError naming the field,
rather than shown wrongly.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from pypdf import PdfReader
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFString
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ketentest import referentie
from ketentest.errors import DataError
from ketentest.melding import LABELS, VELDEN, Melding, Risico, Verschil
from ketentest.melding import compare as _compare

FORMULIERVERSIE = "1"
#: The test marker (issue 15): every page shows it in the header band, and the
#: document information carries it as a keyword; not a form field, so
#: :func:`parse` and the agreed field list stay as they are.
TEST_MARKER = "TESTMELDING"
TEST_MARKER_TEXT = "TESTMELDING - fictieve gegevens (ketentest)"
VERSIE_VELD = "formulierversie"
#: PDF field name (no dots: a dot separates partial names in PDF) -> Melding key.
PDF_VELDEN: dict[str, str] = {k.replace(".", "_"): k for k in VELDEN}
INCIDENTCODES = {"E33": "verward/overspannen persoon"}

NAVY = colors.HexColor("#15325C")
BAND = colors.HexColor("#E4EAF2")
GRID = colors.HexColor("#B7C3D3")
GREY = colors.HexColor("#5A6472")
MARGIN = 18 * mm

_base = ParagraphStyle("basis", fontName="Helvetica", fontSize=9.5, leading=12.5, textColor=colors.black)
_label = ParagraphStyle("label", parent=_base, fontSize=8, leading=10.5, textColor=GREY)
_value = ParagraphStyle("waarde", parent=_base)
_value_bold = ParagraphStyle("waarde-vet", parent=_base, fontName="Helvetica-Bold")
_section_style = ParagraphStyle("sectie", parent=_base, fontName="Helvetica-Bold", fontSize=10.5, leading=13, textColor=NAVY)
_intro = ParagraphStyle("intro", parent=_base, fontSize=8.5, leading=11, textColor=GREY)


def compare(expected: Melding, actual: Melding) -> list[Verschil]:
    """Every differing field, named in Dutch (see :func:`ketentest.melding.compare`)."""
    return _compare(expected, actual)


# -- rendering -----------------------------------------------------------------
def render(melding: Melding) -> bytes:
    """The meldformulier PDF for a valid melding; deterministic."""
    melding.validate()
    velden = melding.velden()
    for key, text in velden.items():
        try:
            text.encode("cp1252")
        except UnicodeEncodeError as e:
            raise DataError(
                f"Melding {melding.kenmerk}: veld {LABELS[key]} ({key}) bevat het teken {text[e.start]!r}, "
                f"dat het meldformulier niet kan weergeven",
                "het formulier gebruikt de tekenset Windows-1252 (West-Europese letters); "
                "schrijf het teken zonder accent of met een verwant teken",
            )
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 18 * mm,
        bottomMargin=MARGIN + 8 * mm, invariant=1, pageCompression=1, lang="nl-NL",
        title=f"Meldformulier niet-acute zorg {melding.kenmerk}", author="Politie",
        subject="Melding niet-acute zorg", creator="ketentest meldformulier", producer="ketentest",
        keywords=[TEST_MARKER, "ketentest"],
    )
    doc.build(_story(melding),
              onFirstPage=lambda c, d: (_page(c, melding), _fields(c, velden)),
              onLaterPages=lambda c, d: _page(c, melding))
    return buf.getvalue()


def _page(c: Canvas, melding: Melding) -> None:
    w, h = A4
    c.saveState()
    # header band
    c.setFillColor(NAVY)
    c.rect(0, h - 30 * mm, w, 30 * mm, stroke=0, fill=1)
    c.setFillColor(colors.white)
    c.setFont("Helvetica-Bold", 20)
    c.drawString(MARGIN, h - 14 * mm, "POLITIE")
    c.setFont("Helvetica", 12)
    c.drawString(MARGIN, h - 21.5 * mm, "Meldformulier niet-acute zorg")
    c.setFont("Helvetica", 8)
    c.drawRightString(w - MARGIN, h - 11 * mm, "KENMERK")
    c.setFont("Helvetica-Bold", 14)
    c.drawRightString(w - MARGIN, h - 17.5 * mm, melding.kenmerk)
    c.setFont("Helvetica", 8)
    c.drawRightString(w - MARGIN, h - 23 * mm, "VERTROUWELIJK")
    c.setFont("Helvetica-Bold", 9)
    c.drawString(MARGIN, h - 27 * mm, TEST_MARKER_TEXT)
    # footer
    c.setStrokeColor(GRID)
    c.setLineWidth(0.5)
    c.line(MARGIN, MARGIN + 4 * mm, w - MARGIN, MARGIN + 4 * mm)
    c.setFillColor(GREY)
    c.setFont("Helvetica", 7.5)
    c.drawString(MARGIN, MARGIN, "Vertrouwelijk: bevat bijzondere persoonsgegevens. "
                                 f"Alleen voor het meldpunt niet-acute zorg. Formulierversie {FORMULIERVERSIE}.")
    c.drawRightString(w - MARGIN, MARGIN, f"{melding.kenmerk}  ·  pagina {c.getPageNumber()}")
    c.restoreState()


def _fields(c: Canvas, velden: dict[str, str]) -> None:
    """Store every field as a read-only (Ff 1), hidden (F 2) text field.

    reportlab's ``acroForm.textfield`` builds a visible appearance that only
    handles Latin-1 and cuts values at ``maxlen``; we need the exact value
    (any text, as a PDF text string) and no appearance, so the widget is built
    here from reportlab's PDF objects with an empty rectangle.
    """
    form = c.acroForm
    items = [(VERSIE_VELD, FORMULIERVERSIE)] + [(k.replace(".", "_"), v) for k, v in velden.items()]
    for name, value in items:
        widget = PDFDictionary(dict(
            Type=PDFName("Annot"), Subtype=PDFName("Widget"), FT=PDFName("Tx"),
            T=PDFString(name), V=PDFString(value), Ff=1, F=2,
            Rect=PDFArray([0, 0, 0, 0]), P=c._doc.thisPageRef(),
        ))
        c._addAnnotation(widget)
        form.fields.append(form.getRef(widget))


def _p(text: str, style: ParagraphStyle = _value) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


class _CheckBox(Flowable):
    """A small square, crossed when checked."""

    def __init__(self, checked: bool, size: float = 3.2 * mm) -> None:
        super().__init__()
        self.checked, self.size = checked, size
        self.width = self.height = size

    def draw(self) -> None:
        c, s = self.canv, self.size
        c.setLineWidth(0.7)
        c.setStrokeColor(NAVY if self.checked else GREY)
        c.rect(0, 0, s, s, stroke=1, fill=0)
        if self.checked:
            c.setLineWidth(1.1)
            c.line(0.7, 0.7, s - 0.7, s - 0.7)
            c.line(0.7, s - 0.7, s - 0.7, 0.7)


def _section(title: str) -> Table:
    t = Table([[Paragraph(escape(title), _section_style)]], colWidths=[A4[0] - 2 * MARGIN])
    t.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), BAND),
        ("LINEBELOW", (0, 0), (-1, -1), 1, NAVY),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return t


def _grid(rows: list[list], col_widths: list[float]) -> Table:
    t = Table(rows, colWidths=col_widths)
    t.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 3.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]))
    return t


def _pairs(items: list[tuple[str, str, bool]]) -> Table:
    """Label/value pairs, two per row."""
    width = A4[0] - 2 * MARGIN
    cols = [0.17 * width, 0.33 * width, 0.17 * width, 0.33 * width]
    cells = [[_p(label, _label), _p(value or "-", _value_bold if bold else _value)] for label, value, bold in items]
    if len(cells) % 2:
        cells.append(["", ""])
    return _grid([cells[i] + cells[i + 1] for i in range(0, len(cells), 2)], cols)


def _wide(items: list[tuple[str, object]]) -> Table:
    width = A4[0] - 2 * MARGIN
    rows = [[_p(label, _label), value if isinstance(value, Flowable) else _p(str(value))] for label, value in items]
    return _grid(rows, [0.17 * width, 0.83 * width])


def _story(m: Melding) -> list:
    p, a, mel = m.persoon, m.persoon.adres, m.melder
    gemeente = referentie.gemeenten()[a.gemeentecode]
    incident = f"{m.incidentcode} ({INCIDENTCODES[m.incidentcode]})" if m.incidentcode in INCIDENTCODES else m.incidentcode
    width = A4[0] - 2 * MARGIN

    risico_rows, vocab = [], list(Risico)
    half = (len(vocab) + 1) // 2
    for i in range(half):
        row = []
        for r in (vocab[i], vocab[i + half] if i + half < len(vocab) else None):
            row += [_CheckBox(r in m.risicos), _p(r.label, _value_bold if r in m.risicos else _value)] if r else ["", ""]
        risico_rows.append(row)
    risicos = Table(risico_rows, colWidths=[5 * mm, 0.415 * width - 5 * mm, 5 * mm, 0.415 * width - 5 * mm])
    risicos.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("TOPPADDING", (0, 0), (0, -1), 3), ("TOPPADDING", (2, 0), (2, -1), 3),
    ]))

    return [
        _p("Zorgmelding van de politie over een persoon over wie zorgen bestaan, zonder acuut gevaar. "
           "Bestemd voor het meldpunt niet-acute zorg van de woongemeente van betrokkene.", _intro),
        Spacer(0, 4 * mm),
        KeepTogether([_section("1. Melding"), _pairs([
            ("Kenmerk", m.kenmerk, True),
            ("Datum en tijd", m.tijdstip.strftime("%d-%m-%Y %H:%M"), False),
            ("Registratienummer politie", m.registratienummer, False),
            ("Incidentcode", incident, False),
        ])]),
        Spacer(0, 4 * mm),
        KeepTogether([_section("2. Betrokkene"), _pairs([
            ("Achternaam", p.achternaam, True),
            ("Voornamen", p.voornamen, False),
            ("Geboortedatum", p.geboortedatum.strftime("%d-%m-%Y"), False),
            ("BSN", p.bsn, False),
            ("Straat", a.straat, False),
            ("Huisnummer en toevoeging", f"{a.huisnummer} {a.toevoeging}".strip(), False),
            ("Postcode", a.postcode, False),
            ("Woonplaats", a.woonplaats, False),
            ("Gemeente", f"{gemeente.naam} ({a.gemeentecode})", False),
            ("Op de hoogte van de melding", "Ja, betrokkene weet van de melding" if m.op_de_hoogte
             else "Nee, betrokkene weet niet van de melding", False),
        ])]),
        Spacer(0, 4 * mm),
        KeepTogether([_section("3. Signaal en situatie"), _wide([
            ("Signaal", m.signaal),
            ("Situatieschets", m.situatie),
            ("Risico-indicaties", risicos),
        ])]),
        Spacer(0, 4 * mm),
        KeepTogether([_section("4. Melder (politie)"), _pairs([
            ("Naam", mel.naam, True),
            ("Basisteam", mel.basisteam, False),
            ("Telefoon", mel.telefoon, False),
            ("E-mail", mel.email, False),
        ])]),
        Spacer(0, 5 * mm),
        _p("Het meldpunt neemt de melding in behandeling en koppelt binnen de afgesproken termijn terug "
           "aan de melder. Vragen over deze melding: neem contact op met de melder en noem het kenmerk.", _intro),
    ]


def is_test_pdf(data: bytes) -> bool:
    """Does the PDF carry the test marker in its document information?"""
    try:
        keywords = str((PdfReader(io.BytesIO(data)).metadata or {}).get("/Keywords", ""))
    except Exception:  # pypdf raises many kinds of errors on broken input
        return False
    return TEST_MARKER in keywords.replace(",", " ").split()


# -- parsing -------------------------------------------------------------------
def parse(data: bytes) -> Melding:
    """Read a received meldformulier back into a (validated) Melding.

    DataError when the PDF cannot be read, is encrypted, or its form fields
    are missing, unknown, of the wrong version or invalid.
    """
    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted:
            raise DataError("het meldformulier is versleuteld en kan niet worden gelezen",
                            "stuur het formulier onversleuteld; de e-mailverbinding is al beveiligd (V02)")
        raw = reader.get_fields() or {}
    except DataError:
        raise
    except Exception as e:  # pypdf raises many kinds of errors on broken input
        raise DataError(f"het meldformulier is geen leesbare PDF ({type(e).__name__}: {str(e)[:200]})",
                        "vraag de afzender het formulier opnieuw te sturen") from None
    if not raw:
        raise DataError("het meldformulier bevat geen formuliervelden",
                        "het formulier moet met de meldformulier-generator van de politie gemaakt zijn")
    values: dict[str, str] = {}
    for name, field in raw.items():
        v = field.get("/V", "")
        if not isinstance(v, str):
            raise DataError(f"formulierveld {name!r} bevat geen tekst maar {type(v).__name__}")
        values[name] = str(v)
    version = values.pop(VERSIE_VELD, None)
    missing = [PDF_VELDEN[n] for n in PDF_VELDEN if n not in values]
    extra = sorted(n for n in values if n not in PDF_VELDEN)
    if version is None:
        missing.insert(0, VERSIE_VELD)
    if missing:
        names = ", ".join(f"{LABELS.get(k, 'Formulierversie')} ({k.replace('.', '_')})" for k in missing)
        raise DataError(f"in het meldformulier ontbreken formuliervelden: {names}",
                        "het formulier is onvolledig of niet met de meldformulier-generator gemaakt")
    if extra:
        raise DataError(f"het meldformulier bevat onbekende formuliervelden: {', '.join(extra)}",
                        "een meldformulier bevat alleen de afgesproken velden; vraag de afzender om een nieuw formulier")
    if version != FORMULIERVERSIE:
        raise DataError(f"meldformulier heeft formulierversie {version!r}; verwacht {FORMULIERVERSIE!r}",
                        "gebruik een formulier van de afgesproken versie")
    try:
        return Melding.from_velden({PDF_VELDEN[n]: v for n, v in values.items()})
    except DataError as e:
        raise DataError(f"meldformulier: {e.message}", e.hint) from None
