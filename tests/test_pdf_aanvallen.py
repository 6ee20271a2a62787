"""Issue 10 (points 4, 5): hostile PDFs the old pypdf-based check accepted or
choked on, each built here from bytes, and the sandbox's hard limits.

Every attack below was accepted (or cost tens of seconds) before the check
moved to pikepdf with an allowlist and bounded stream decoding."""

from __future__ import annotations

import zlib

import pytest

from ketentest.pdfcheck import Soort, check_pdf
from ketentest.pdfsandbox import Limieten, PdfSandbox

from pdf_aanvallen_helpers import (CATALOG, PAGES, colour_scan, objstm_string_bomb, page, raw_pdf, stream,
                                   zip_bytes)

HELPERS = "pdf_aanvallen_helpers"


@pytest.fixture(scope="module")
def scan() -> bytes:
    return colour_scan()


def refused(data: bytes, soort: Soort, *words: str):
    r = check_pdf(data)
    assert soort in r.soorten, r.reden
    for w in words:
        assert w in r.reden, r.reden
    return r


# -- actions a meldformulier never has -----------------------------------------------------------


def test_uri_action_on_open_is_refused():
    catalog = b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /URI /URI (http://kwaad.test/x) >> >>"
    refused(raw_pdf(catalog, PAGES, page()), Soort.ACTIEVE_INHOUD, "/URI", "internetadres")


def test_uri_action_in_additional_actions_is_refused():
    refused(raw_pdf(CATALOG, PAGES, page(b"/AA << /O << /S /URI /URI (http://kwaad.test/) >> >> ")),
            Soort.ACTIEVE_INHOUD, "/URI")


def test_named_print_action_in_additional_actions_is_refused():
    refused(raw_pdf(CATALOG, PAGES, page(b"/AA << /O << /S /Named /N /Print >> >> ")),
            Soort.ACTIEVE_INHOUD, "/Named")


def test_sound_annotation_is_refused():
    annot = b"<< /Type /Annot /Subtype /Sound /Rect [0 0 10 10] /Sound 5 0 R >>"
    sound = stream(b"\x00" * 64, b"/Type /Sound /R 8000 ")
    r = refused(raw_pdf(CATALOG, PAGES, page(b"/Annots [4 0 R] "), annot, sound), Soort.ACTIEVE_INHOUD, "geluid")
    assert "object 4 0" in r.reden


def test_an_unknown_annotation_kind_is_not_allowed():
    annot = b"<< /Type /Annot /Subtype /Caret /Rect [0 0 10 10] >>"
    refused(raw_pdf(CATALOG, PAGES, page(b"/Annots [4 0 R] "), annot), Soort.NIET_TOEGESTAAN, "/Caret")


def test_postscript_xobject_is_not_allowed():
    ps = stream(b"showpage", b"/Type /XObject /Subtype /PS ")
    refused(raw_pdf(CATALOG, PAGES, page(b"/Resources << /XObject << /P 4 0 R >> >> "), ps),
            Soort.NIET_TOEGESTAAN, "/PS")


def test_a_goto_link_within_the_document_is_allowed():
    link = b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /GoTo /D [3 0 R /Fit] >> >>"
    assert check_pdf(raw_pdf(CATALOG, PAGES, page(b"/Annots [4 0 R] "), link)).ok


# -- PDF+ZIP polyglots and hidden files ----------------------------------------------------------


def test_zip_appended_after_eof_is_refused():
    r = refused(raw_pdf(CATALOG, PAGES, page(), tail=zip_bytes()), Soort.AANGEHANGD, "ZIP-archief", "%%EOF")
    assert r.reden.startswith("PDF geweigerd")


def test_zip_appended_with_a_second_eof_marker_is_still_found():
    # The attacker ends the file on %%EOF again, inside the ZIP comment.
    z = zip_bytes()
    z = z[:-2] + (7).to_bytes(2, "little") + b"\n%%EOF\n"
    r = check_pdf(raw_pdf(CATALOG, PAGES, page(), tail=z))
    assert r.soorten & {Soort.INGESLOTEN_BESTAND, Soort.AANGEHANGD}, r.reden


def test_zip_inside_a_stream_is_refused():
    r = refused(raw_pdf(CATALOG, PAGES, page(), stream(zip_bytes())), Soort.INGESLOTEN_BESTAND, "ZIP")
    assert "object 4 0" in r.reden


def test_compressed_zip_inside_a_stream_is_refused():
    z = zlib.compress(zip_bytes())
    refused(raw_pdf(CATALOG, PAGES, page(), stream(z, b"/Filter /FlateDecode ")), Soort.INGESLOTEN_BESTAND, "ZIP")


def test_a_second_pdf_inside_a_stream_is_refused():
    inner = raw_pdf(CATALOG, PAGES, page())
    refused(raw_pdf(CATALOG, PAGES, page(), stream(inner)), Soort.INGESLOTEN_BESTAND, "tweede PDF")


# -- the page tree ---------------------------------------------------------------------------------


def test_zero_pages_is_refused():
    refused(raw_pdf(CATALOG, b"<< /Type /Pages /Kids [] /Count 0 >>"), Soort.STRUCTUUR, "geen enkele pagina")


def test_no_page_tree_is_refused():
    refused(raw_pdf(b"<< /Type /Catalog >>"), Soort.STRUCTUUR, "geen paginaboom")


def test_page_tree_that_contains_itself_is_refused():
    refused(raw_pdf(CATALOG, b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"), Soort.STRUCTUUR, "zichzelf")


# -- bombs ----------------------------------------------------------------------------------------------


def test_content_stream_that_expands_1000_to_1_is_refused():
    comp = zlib.compress(b" " * (20 * 2**20), 9)
    assert 20 * 2**20 // len(comp) >= 1000
    refused(raw_pdf(CATALOG, PAGES, page(b"/Contents 4 0 R "), stream(comp, b"/Filter /FlateDecode ")),
            Soort.TE_COMPLEX, "keer zijn grootte", "object 4 0")


def test_huge_string_in_an_object_stream_is_refused_before_it_is_parsed():
    data = objstm_string_bomb()
    assert len(data) < 100_000
    refused(data, Soort.TE_COMPLEX, "objectstroom", "object 5 0")


def test_image_that_inflates_beyond_its_dimensions_is_refused():
    comp = zlib.compress(bytes(8 * 2**20))  # 8 MB for a 100 x 100 grey image (10 KB)
    image = stream(comp, b"/Type /XObject /Subtype /Image /Width 100 /Height 100 /ColorSpace /DeviceGray "
                         b"/BitsPerComponent 8 /Filter /FlateDecode ")
    refused(raw_pdf(CATALOG, PAGES, page(b"/Resources << /XObject << /I 4 0 R >> >> "), image),
            Soort.TE_COMPLEX, "meer dan de afmetingen zeggen")


def test_image_with_absurd_dimensions_is_refused():
    image = stream(b"x", b"/Type /XObject /Subtype /Image /Width 100000 /Height 100000 /ColorSpace /DeviceRGB "
                         b"/BitsPerComponent 8 ")
    refused(raw_pdf(CATALOG, PAGES, page(b"/Resources << /XObject << /I 4 0 R >> >> "), image),
            Soort.TE_COMPLEX, "pixels")


def test_an_lzw_stream_is_not_allowed():
    refused(raw_pdf(CATALOG, PAGES, page(b"/Contents 4 0 R "), stream(b"\x80\x0b", b"/Filter /LZWDecode ")),
            Soort.NIET_TOEGESTAAN, "/LZWDecode")


# -- what must pass ---------------------------------------------------------------------------------------


def test_a_600_dpi_colour_scan_of_about_4_6_mb_is_accepted(scan):
    assert 4.3 * 2**20 < len(scan) < 4.9 * 2**20
    r = check_pdf(scan)
    assert r.ok, r.reden


def test_the_scan_passes_the_sandbox_with_its_default_limits(scan):
    with PdfSandbox(workers=1) as sandbox:
        r = sandbox.check(scan)
    assert r.ok, r.reden


# -- the sandbox's hard limits -----------------------------------------------------------------------------


@pytest.fixture
def clean() -> bytes:
    return raw_pdf(CATALOG, PAGES, page())


@pytest.mark.parametrize("check, limits, words", [
    ("burn_cpu", Limieten(cpu_seconden=1), "rekentijd"),
    ("eat_memory", Limieten(geheugen_mb=256), "geheugen"),
    ("crash", Limieten(), "stopte onverwacht"),
    ("hang", Limieten(wandklok_seconden=0.5), "duurde langer dan 0.5 s"),
])
def test_a_limit_refuses_the_pdf_and_the_worker_is_replaced(clean, check, limits, words):
    with PdfSandbox(workers=1, limits=limits, check=f"{HELPERS}:{check}") as sandbox:
        r = sandbox.check(clean)
        assert r.soorten == {Soort.TE_ZWAAR} and words in r.reden, r.reden
        assert "te zwaar om veilig te openen" in r.reden
        assert sandbox.replaced == 1 and sandbox.workers() == []


def test_a_crashed_worker_is_replaced_and_the_next_check_runs(clean):
    with PdfSandbox(workers=1, check=f"{HELPERS}:crash") as sandbox:
        for n in (1, 2):  # each check gets a fresh worker
            assert sandbox.check(clean).soorten == {Soort.TE_ZWAAR} and sandbox.replaced == n


def test_the_sandbox_answers_like_the_check(clean):
    with PdfSandbox(workers=2) as sandbox:
        ok = sandbox.check(clean)
        bad = sandbox.check(raw_pdf(CATALOG, PAGES, page(b"/AA << /O << /S /Named /N /Print >> >> ")))
        big = sandbox.check(clean, max_bytes=10)
        assert len(sandbox.workers()) == 1 and sandbox.replaced == 0  # one warm worker did all
    assert ok == check_pdf(clean) and ok.ok
    assert bad == check_pdf(raw_pdf(CATALOG, PAGES, page(b"/AA << /O << /S /Named /N /Print >> >> ")))
    assert big.soorten == {Soort.TE_GROOT}


def test_a_worker_answer_is_json_not_pickle(clean):
    """A worker that a hostile file took over could send anything: the parent
    only accepts well-formed findings."""
    from ketentest.pdfsandbox import _result

    assert _result({"grootte": 1, "max_bytes": 2, "bevindingen": [["javascript", "x", ""]]}).soorten == {Soort.JAVASCRIPT}
    for junk in (None, [], {"grootte": "x"}, {"grootte": 1, "max_bytes": 2, "bevindingen": [["onbekend", "x", ""]]}):
        assert _result(junk) is None
