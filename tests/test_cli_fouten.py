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


@pytest.mark.parametrize("content", [
    "keten: x\nmeldpunten: &a [*a]\n".encode(),                                   # recursive alias
    b"keten: caf\xe9\n",                                                             # Latin-1, not UTF-8
    b"# " + b"x" * (2 * 1024 * 1024) + b"\n",                                      # 2 MB
])
def test_a_hostile_keten_file_is_one_dutch_error_on_the_command_line(tmp_path, capsys, content):
    path = tmp_path / "vijandig.yaml"
    path.write_bytes(content)
    assert main(["keten", "--keten", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"ketentest: {path}: ") and "Wat te doen:" in err and "Traceback" not in err + out
    assert len(err) < 400 and out == ""


@pytest.mark.parametrize("argv, words", [
    (["bogus"], ("onbekende keuze", "'bogus'", "kies uit")),
    (["run", "--seed", "tien"], ("--seed", "geen geheel getal", "'tien'")),
    (["check", "--afspraken"], ("--afspraken", "verwacht één waarde")),
])
def test_argparse_errors_are_one_dutch_line(argv, words, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert all(w in err for w in words) and "usage:" not in err and "Wat te doen:" in err, err
