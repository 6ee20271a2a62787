"""The meldformulier PDF: deterministic, read-only fields, round-trips, and the
acceptance run over 1,000 seeded meldingen (BSN, routering, render + parse)."""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
import time
from dataclasses import replace
from importlib import resources

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFString
from reportlab.pdfgen.canvas import Canvas

from ketentest import meldformulier
from ketentest.config import load_keten
from ketentest.errors import DataError
from ketentest.melding import MAX_KORT, MAX_SIGNAAL, MAX_SITUATIE, VELDEN
from ketentest.pdfcheck import check_pdf
from ketentest.routering import route_melding
from ketentest.synth import generate_meldingen, is_test_bsn


@pytest.fixture(scope="module")
def keten():
    return load_keten()


@pytest.fixture(scope="module")
def melding(keten):
    return generate_meldingen(keten, seed=11, n=1)[0]


def pdf_with_fields(fields: dict[str, str]) -> bytes:
    """A bare PDF holding exactly these text fields (built independently of render())."""
    buf = io.BytesIO()
    c = Canvas(buf, invariant=1)
    for name, value in fields.items():
        w = PDFDictionary(dict(Type=PDFName("Annot"), Subtype=PDFName("Widget"), FT=PDFName("Tx"), T=PDFString(name),
                               V=PDFString(value), Ff=1, F=2, Rect=PDFArray([0, 0, 0, 0])))
        c._addAnnotation(w)
        c.acroForm.fields.append(c.acroForm.getRef(w))
    c.showPage()
    c.save()
    return buf.getvalue()


def form_fields(melding) -> dict[str, str]:
    return {"formulierversie": "1"} | {k.replace(".", "_"): v for k, v in melding.velden().items()}


def test_render_is_deterministic(melding):
    assert meldformulier.render(melding) == meldformulier.render(melding)


def test_render_is_deterministic_across_processes(melding):
    code = ("import hashlib,sys; from ketentest.config import load_keten; from ketentest.synth import generate_meldingen;"
            "from ketentest.meldformulier import render;"
            "sys.stdout.write(hashlib.sha256(render(generate_meldingen(load_keten(), seed=11, n=1)[0])).hexdigest())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert other == hashlib.sha256(meldformulier.render(melding)).hexdigest()


def test_round_trip_and_one_field_change(melding):
    assert meldformulier.parse(meldformulier.render(melding)) == melding
    changed = replace(melding, persoon=replace(melding.persoon, adres=replace(melding.persoon.adres, huisnummer=999)))
    received = meldformulier.parse(meldformulier.render(changed))
    diffs = meldformulier.compare(melding, received)
    assert [d.veld for d in diffs] == ["persoon.adres.huisnummer"]
    assert str(diffs[0]).startswith("Huisnummer (persoon.adres.huisnummer): verwacht")
    assert meldformulier.render(changed) != meldformulier.render(melding)


def test_fields_are_read_only_hidden_text_fields(melding):
    data = meldformulier.render(melding)
    reader = PdfReader(io.BytesIO(data))
    fields = reader.get_fields()
    assert set(fields) == {"formulierversie"} | {k.replace(".", "_") for k in VELDEN}
    for f in fields.values():
        assert f["/FT"] == "/Tx" and int(f["/Ff"]) & 1  # read-only
    for annot in reader.pages[0]["/Annots"]:
        assert int(annot.get_object()["/F"]) & 2  # hidden widget: the page text is what people read
    assert check_pdf(data).ok
    meta = reader.metadata
    assert meta.title == f"Meldformulier niet-acute zorg {melding.kenmerk}"
    assert melding.persoon.achternaam not in str(dict(meta))  # V05: no personal data outside the content


def test_page_text_shows_the_fields(melding):
    reader = PdfReader(io.BytesIO(meldformulier.render(melding)))
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    for value in (melding.kenmerk, melding.persoon.bsn, melding.persoon.adres.postcode, melding.melder.email,
                  melding.persoon.achternaam, melding.registratienummer):
        assert value in text
    assert "Meldformulier niet-acute zorg" in text and "Risico-indicaties" in text


def test_longest_melding_fits_two_pages(melding):
    long = replace(
        melding,
        signaal="S" + "ignaal met veel woorden " * (MAX_SIGNAAL // 24) + "x",
        situatie=("Een lange situatieschets met \"aanhalingstekens\" & <tekens>. " * 30)[: MAX_SITUATIE - 1] + ".",
        persoon=replace(melding.persoon, voornamen="V" * MAX_KORT, achternaam="A" * MAX_KORT),
        melder=replace(melding.melder, basisteam="B" * MAX_KORT),
    ).validate()
    data = meldformulier.render(long)
    assert len(PdfReader(io.BytesIO(data)).pages) <= 2
    assert meldformulier.parse(data) == long


def test_character_outside_the_form_font_is_refused(melding):
    polish = replace(melding, persoon=replace(melding.persoon, achternaam="Wiśniewski"))
    with pytest.raises(DataError, match=r"Achternaam \(persoon.achternaam\) bevat het teken 'ś'"):
        meldformulier.render(polish)


def test_parser_reads_independently_built_form(melding):
    assert meldformulier.parse(pdf_with_fields(form_fields(melding))) == melding


def test_parser_missing_field(melding):
    fields = form_fields(melding)
    del fields["persoon_bsn"]
    with pytest.raises(DataError, match=r"ontbreken formuliervelden: BSN \(persoon_bsn\)"):
        meldformulier.parse(pdf_with_fields(fields))


def test_parser_extra_field(melding):
    with pytest.raises(DataError, match="onbekende formuliervelden: opmerking"):
        meldformulier.parse(pdf_with_fields(form_fields(melding) | {"opmerking": "x"}))


def test_parser_wrong_version(melding):
    with pytest.raises(DataError, match="formulierversie '2'"):
        meldformulier.parse(pdf_with_fields(form_fields(melding) | {"formulierversie": "2"}))


def test_parser_invalid_value_names_the_field(melding):
    with pytest.raises(DataError, match=r"meldformulier: .*BSN \(persoon.bsn\)"):
        meldformulier.parse(pdf_with_fields(form_fields(melding) | {"persoon_bsn": "123456789"}))
    with pytest.raises(DataError, match=r"Geboortedatum \(persoon.geboortedatum\)"):
        meldformulier.parse(pdf_with_fields(form_fields(melding) | {"persoon_geboortedatum": "17-05-1961"}))


def test_parser_no_fields_garbage_and_encrypted(melding):
    with pytest.raises(DataError, match="geen formuliervelden"):
        meldformulier.parse(pdf_with_fields({}))
    with pytest.raises(DataError, match="geen leesbare PDF"):
        meldformulier.parse(b"geen pdf")
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(meldformulier.render(melding))))
    w.encrypt(user_password="", owner_password="x", algorithm="AES-128")
    buf = io.BytesIO()
    w.write(buf)
    with pytest.raises(DataError, match="versleuteld"):
        meldformulier.parse(buf.getvalue())


def test_duizend_meldingen(keten, capsys):
    """Acceptance: 1,000 seeded meldingen: test-range BSNs, routing as the keten
    configuration says (checked from the CSV, not through routering), render + parse equal."""
    with resources.files("ketentest.data").joinpath("pc4_gemeente.csv").open(encoding="utf-8") as f:
        pc4_gemeente = {r["pc4"]: r["gemeentecode"] for r in csv.DictReader(f)}
    expected_meldpunt = {code: m.id for m in keten.meldpunten for code in m.werkgebied}

    t0 = time.perf_counter()
    meldingen = generate_meldingen(keten, seed=20261128, n=1000)
    t1 = time.perf_counter()
    for m in meldingen:
        assert is_test_bsn(m.persoon.bsn), m.kenmerk
        assert route_melding(keten, m).meldpunt.id == expected_meldpunt[pc4_gemeente[m.persoon.adres.postcode[:4]]]
    t2 = time.perf_counter()
    pdfs = [meldformulier.render(m) for m in meldingen]
    t3 = time.perf_counter()
    for m, data in zip(meldingen, pdfs):
        received = meldformulier.parse(data)
        assert received == m, meldformulier.compare(m, received)
    t4 = time.perf_counter()
    with capsys.disabled():
        print(f"\n1000 meldingen: genereren {t1 - t0:.2f}s, routeren {t2 - t1:.2f}s, "
              f"renderen {t3 - t2:.2f}s, parsen {t4 - t3:.2f}s", end=" ")
