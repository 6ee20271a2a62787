"""The meldpunt's PDF safety check (V04, S07): every refusal shown on a crafted PDF,
the clean meldformulier passes, and hostile input never crashes it."""

from __future__ import annotations

import io
import random
from dataclasses import replace

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

from ketentest import meldformulier
from ketentest.config import load_keten
from ketentest.model import Aannames
from ketentest.pdfcheck import MAX_OBJECTS, Soort, check_pdf
from ketentest.synth import generate_meldingen
from pdf_aanvallen_helpers import CATALOG, PAGES, page, raw_pdf


@pytest.fixture(scope="module")
def keten():
    return load_keten()


@pytest.fixture(scope="module")
def clean(keten) -> bytes:
    return meldformulier.render(generate_meldingen(keten, seed=3, n=1)[0])


def clone(data: bytes) -> PdfWriter:
    return PdfWriter(clone_from=PdfReader(io.BytesIO(data)))


def written(w: PdfWriter) -> bytes:
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def js_action(w: PdfWriter, code: str = "app.alert('x')"):
    return w._add_object(DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                           NameObject("/JS"): TextStringObject(code)}))


def test_clean_meldformulier_passes(clean, keten):
    r = check_pdf(clean, keten)
    assert r.ok, r.reden
    assert r.bevindingen == () and r.max_bytes == 10 * 2**20 and r.grootte == len(clean)
    assert r.reden.startswith("PDF goedgekeurd")


def test_minimal_raw_pdf_passes():
    assert check_pdf(raw_pdf(CATALOG, PAGES, page())).ok  # the raw builder itself is sound


def test_names_javascript(clean):
    w = clone(clean)
    w._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): DictionaryObject(
        {NameObject("/Names"): ArrayObject([TextStringObject("start"), js_action(w)])})})
    r = check_pdf(written(w))
    assert r.soorten == {Soort.JAVASCRIPT}
    assert "lijst met documentscripts (/Names)" in r.reden
    assert "PDF geweigerd" in r.reden


def test_openaction_javascript(clean):
    w = clone(clean)
    w._root_object[NameObject("/OpenAction")] = js_action(w)
    r = check_pdf(written(w))
    assert r.soorten == {Soort.JAVASCRIPT}
    assert "bij het openen van het bestand (/OpenAction)" in r.reden
    assert "via /Root/OpenAction" in r.reden


def test_annotation_additional_action_with_escaped_name():
    # /J#53 is the name /JS written with a hex escape; /AA on a link annotation
    annot = b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /AA << /E << /S /JavaScript /J#53 (app.alert(1)) >> >> >>"
    r = check_pdf(raw_pdf(CATALOG, PAGES, page(b"/Annots [4 0 R] "), annot))
    assert r.soorten == {Soort.JAVASCRIPT}
    assert "bij een gebeurtenis (/AA)" in r.reden and "object 4 0" in r.reden


def test_unreferenced_javascript_object_is_found():
    orphan = b"<< /S /JavaScript /JS (app.alert(1)) >>"
    r = check_pdf(raw_pdf(CATALOG, PAGES, page(), orphan))
    assert r.soorten == {Soort.JAVASCRIPT}
    assert "object 4 0" in r.reden


def test_launch_action(clean):
    w = clone(clean)
    w._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe")})
    r = check_pdf(written(w))
    assert r.soorten == {Soort.STARTACTIE}
    assert "startactie (/Launch)" in r.reden


def test_submitform_action_is_active_content():
    link = b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /SubmitForm /F (http://x.test/) >> >>"
    r = check_pdf(raw_pdf(CATALOG, PAGES, page(b"/Annots [4 0 R] "), link))
    assert r.soorten == {Soort.ACTIEVE_INHOUD}
    assert "/SubmitForm" in r.reden


def test_embedded_file(clean):
    w = clone(clean)
    w.add_attachment("bijlage.txt", b"hallo")
    r = check_pdf(written(w))
    assert r.soorten == {Soort.INGESLOTEN_BESTAND}
    assert "/EmbeddedFiles" in r.reden


def test_file_attachment_annotation():
    annot = b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 10 10] /FS (x.exe) >>"
    r = check_pdf(raw_pdf(CATALOG, PAGES, page(b"/Annots [4 0 R] "), annot))
    assert r.soorten == {Soort.INGESLOTEN_BESTAND}
    assert "bijlage-annotatie" in r.reden


def test_xfa_form_is_active_content():
    catalog = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] /XFA (<xdp/>) >> >>"
    assert check_pdf(raw_pdf(catalog, PAGES, page())).soorten == {Soort.ACTIEVE_INHOUD}


def test_encrypted(clean):
    w = clone(clean)
    w.encrypt(user_password="", owner_password="geheim", algorithm="AES-128")
    r = check_pdf(written(w))
    assert r.soorten == {Soort.VERSLEUTELD}
    assert "versleuteld" in r.reden


def test_oversized_with_configured_limit(clean, keten):
    small = replace(keten, aannames=Aannames(max_pdf_bytes=len(clean) - 1))
    r = check_pdf(clean, small)
    assert r.soorten == {Soort.TE_GROOT}
    assert f"{len(clean)} bytes" in r.reden and f"{len(clean) - 1} bytes" in r.reden
    assert check_pdf(clean, replace(keten, aannames=Aannames(max_pdf_bytes=len(clean)))).ok  # the limit itself is allowed
    assert check_pdf(clean, max_bytes=100).soorten == {Soort.TE_GROOT}


def test_truncated(clean):
    r = check_pdf(clean[: len(clean) // 2])
    assert r.soorten == {Soort.AFGEKAPT}
    assert "%%EOF" in r.reden


def test_garbage():
    r = check_pdf(bytes(random.Random(1).randrange(256) for _ in range(5000)))
    assert r.soorten == {Soort.GEEN_PDF}
    assert check_pdf(b"").soorten == {Soort.GEEN_PDF}


def test_corrupt_structure(clean):
    broken = clean.replace(b"startxref", b"startxrfe")
    r = check_pdf(broken)
    assert r.soorten == {Soort.CORRUPT}
    assert "beschadigd" in r.reden


def test_corrupt_object_body():
    r = check_pdf(raw_pdf(CATALOG, PAGES, page(), b"<< /S /JavaScript /JS (unterminated >>"))
    assert not r.ok  # either found as JavaScript or refused as corrupt, never accepted
    assert r.soorten <= {Soort.CORRUPT, Soort.JAVASCRIPT}


def test_deep_nesting_does_not_crash():
    deep = b"[" * 5000 + b"]" * 5000
    r = check_pdf(raw_pdf(CATALOG, PAGES, page(), deep))
    assert not r.ok
    assert r.soorten <= {Soort.CORRUPT, Soort.TE_COMPLEX}


def test_too_many_objects_is_refused_quickly():
    filler = [b"null"] * (MAX_OBJECTS + 10)
    r = check_pdf(raw_pdf(CATALOG, PAGES, page(), *filler))
    assert r.soorten == {Soort.TE_COMPLEX}


def test_mutated_pdfs_never_crash(clean):
    rnd = random.Random(20261128)
    for _ in range(150):
        data = bytearray(clean)
        for _ in range(rnd.randrange(1, 8)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        r = check_pdf(bytes(data))  # must return a result, whatever the bytes
        assert r.ok or r.bevindingen


def test_xref_repaired_by_the_reader_is_corrupt():
    data = raw_pdf(CATALOG, PAGES, page())
    offset = data.index(b"3 0 obj")
    wrong = data.replace(b"%010d 00000 n" % offset, b"%010d 00000 n" % (offset + 3))
    assert wrong != data
    r = check_pdf(wrong)
    assert r.soorten == {Soort.CORRUPT}
    assert "moest het herstellen" in r.reden


def test_huge_declared_xref_is_refused_before_parsing():
    import zlib

    n = 1_000_000  # an xref stream of a million (free) entries: slow for the reader to expand
    comp = zlib.compress(bytes(3 * n), 9)
    head = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    xref = len(head)
    data = head + (b"3 0 obj\n<< /Type /XRef /Size %d /W [1 1 1] /Root 1 0 R /Filter /FlateDecode /Length %d >>\nstream\n"
                   % (n, len(comp))) + comp + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref
    r = check_pdf(data)
    assert r.soorten == {Soort.TE_COMPLEX}
    assert "1000000 objecten" in r.reden


def test_decompression_bomb_is_refused():
    import zlib

    comp = zlib.compress(bytes(100 * 2**20), 9)  # 100 KB that inflates to 100 MB
    bomb = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(comp), comp)
    r = check_pdf(raw_pdf(CATALOG, PAGES, page(b"/Contents 4 0 R "), bomb))
    assert r.soorten == {Soort.TE_COMPLEX}
    assert "decompressiebom" in r.reden and "object 4 0" in r.reden


def test_reasons_name_no_reader_internals(clean):
    # qpdf names its input "stream <_io.BytesIO object at 0x...>": not for the sender's eyes.
    for data in (clean.replace(b"startxref", b"startxrfe"), raw_pdf(CATALOG, PAGES, page(), b"[" * 5000 + b"]" * 5000)):
        r = check_pdf(data)
        assert not r.ok and "BytesIO" not in r.reden and "0x" not in r.reden, r.reden
