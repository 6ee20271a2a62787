"""The postkantoor switch meldformulier_opvullen_tot_mb (V04 example rows): the
meldformulier grows to exactly the size asked, stays a valid and safe PDF
with the same fields, and the size limit of the keten decides."""

from __future__ import annotations

import pytest

from ketentest.config import load_keten
from ketentest.meldformulier import compare, parse, render
from ketentest.pdfcheck import Soort, check_pdf
from ketentest.synth import MeldingPool
from simulators.control import ApiError, typed_changes
from simulators.politie.postkantoor import SWITCH_BOUNDS, Switches, pad_pdf

KETEN = load_keten(None)
MELDING = MeldingPool(KETEN, 7, 1).pool.pop()
PDF = render(MELDING)


@pytest.mark.parametrize("size", [len(PDF) + 2_000, 100_000, 1_000_001])
def test_padded_to_exactly_the_size_and_still_the_same_safe_form(size):
    padded = pad_pdf(PDF, size)
    assert len(padded) == size
    result = check_pdf(padded, KETEN)
    assert result.ok, result.reden
    assert compare(MELDING, parse(padded)) == []


def test_the_padding_is_private_data_of_the_document_not_content():
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(pad_pdf(PDF, 50_000))) as doc:
        private = doc.Root.PieceInfo.Ketentest.Private
        assert set(private.read_bytes()) == {ord(" ")}
        assert "/Filter" not in private.stream_dict
        assert len(doc.pages) == len(pikepdf.open(io.BytesIO(PDF)).pages)


def test_a_size_the_pdf_already_has_leaves_it_as_it_is():
    assert pad_pdf(PDF, 0) is PDF
    assert pad_pdf(PDF, len(PDF)) is PDF


def test_over_the_ketens_limit_the_meldpunts_check_refuses_it_at_the_limit_it_passes():
    limit = KETEN.aannames.max_pdf_bytes
    assert check_pdf(pad_pdf(PDF, limit), KETEN).ok
    over = check_pdf(pad_pdf(PDF, limit + 1), KETEN)
    assert not over.ok and Soort.TE_GROOT in over.soorten


def test_the_switch_is_bounded_over_the_control_api():
    assert typed_changes(Switches, {"meldformulier_opvullen_tot_mb": 10.5}, bounds=SWITCH_BOUNDS) == {
        "meldformulier_opvullen_tot_mb": 10.5}
    for wrong in (33, -1, "10"):
        with pytest.raises(ApiError):
            typed_changes(Switches, {"meldformulier_opvullen_tot_mb": wrong}, bounds=SWITCH_BOUNDS)
