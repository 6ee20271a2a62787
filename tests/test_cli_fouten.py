"""The command line names what is wrong (issue 10, points 10b and 10c)."""

from __future__ import annotations

import pytest

from ketentest.cli import main


@pytest.mark.parametrize("argv, named", [
    (["--bogus"], "--bogus"),
    (["--bogus", "-x"], "--bogus -x"),
    (["keten", "--bogus"], "--bogus"),
])
def test_an_unknown_option_is_named(argv, named, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert f"onbekende optie" in err and named in err and "--help" in err
    assert "usage:" not in out  # not the whole help instead of the problem


def test_run_does_not_announce_reports_it_did_not_write(capsys):
    # pytest refuses an unknown option before collecting anything: no report is written
    code = main(["run", "--optie-die-pytest-niet-kent"])
    out, err = capsys.readouterr()
    assert code == 4
    assert "Rapporten:" not in out and "geen rapporten geschreven" in err and "code 4" in err
