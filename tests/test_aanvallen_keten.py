"""Attacks on keten files (issue 10, points 6 and 7): traffic off loopback
through free records, YAML bombs, oversized and undecodable files. Each gets
one clear KetenConfigError, quickly, never a traceback or a huge message."""

from __future__ import annotations

import copy
import time

import pytest
import yaml

from ketentest.config import MAX_FILE_BYTES, _Parser, load_keten, parse_keten
from ketentest.errors import KetenConfigError


def default_text() -> str:
    from importlib import resources

    return resources.files("ketentest.data").joinpath("ketens", "midden-nederland.yaml").read_text()


def with_records(*records: str, zone: bool = False) -> str:
    data = yaml.safe_load(default_text())
    if zone:
        data["zones"] = [{"naam": "hosting.test", "dns": "127.53.9.1", "records": list(records)}]
    else:
        data["politie"]["maildomein"]["records"] = list(records)
    return yaml.safe_dump(data, allow_unicode=True)


@pytest.mark.parametrize("record, problem", [
    ("mx1 300 A 10.0.0.1", "niet op loopback"),
    ("www 300 A 192.0.2.7", "niet op loopback"),
    ("mx1 300 AAAA 2001:db8::1", "niet op loopback"),
    ("mx1 300 AAAA ::ffff:127.0.0.1", "niet op loopback"),  # IPv4-mapped: not the IPv6 loopback
    (r"mx1 300 A \# 4 0a000001", "niet op loopback"),  # generic syntax for 10.0.0.1
    ("mx1 300 TYPE1 10.0.0.1", "niet op loopback"),
    ("@ 60 MX 5 mail.example.com.", "gereserveerd topdomein"),
    ("@ 60 MX 5 smtp.gmail.com.", "gereserveerd topdomein"),
    ("alias 60 CNAME mail.example.nl.", "gereserveerd topdomein"),
    ("sub 60 NS ns1.provider.nl.", "gereserveerd topdomein"),
    ("_smtp._tcp 60 SRV 0 0 25 mail.example.org.", "gereserveerd topdomein"),
    ("ptr 60 PTR host.example.com.", "gereserveerd topdomein"),
    ("deleg 60 DNAME example.net.", "gereserveerd topdomein"),
    ("svc 60 HTTPS 1 . ipv4hint=10.0.0.1", "niet ondersteund"),
    ("x 60 TYPE65280 \\# 1 00", "niet ondersteund"),
    ("x 99999999999999999999 A 127.0.0.1", "TTL"),
])
def test_free_record_pointing_off_the_machine_is_refused(record, problem):
    for zone in (False, True):
        with pytest.raises(KetenConfigError) as err:
            parse_keten(with_records(record, zone=zone), "variant.yaml")
        assert problem in err.value.problem, str(err.value)
        assert err.value.key.endswith("records[0]") and "Wat te doen:" in str(err.value)


@pytest.mark.parametrize("record", [
    "mx1 300 A 127.60.1.99",
    "mx1 300 AAAA ::1",
    "@ 60 MX 0 .",  # null MX (RFC 7505)
    "@ 60 MX 20 mx2.politie.test.",
    "@ 60 MX 30 mx3",  # relative: mx3.politie.test
    "alias 60 CNAME mx1.politie.test.",
    "_smtp._tcp 60 SRV 0 0 0 .",
    '_dmarc 60 TXT "v=DMARC1; p=none; rua=mailto:x@elders.nl"',  # only data
    "_25._tcp.mx1 60 TLSA 3 1 1 " + "ab" * 32,
])
def test_free_record_that_stays_on_the_machine_is_kept(record):
    keten = parse_keten(with_records(record), "variant.yaml")
    assert len(keten.politie.domain.records) == 1


def test_keten_command_shows_the_free_records(tmp_path, capsys):
    from ketentest.cli import main

    path = tmp_path / "k.yaml"
    path.write_text(with_records('_report._dmarc 300 TXT "v=DMARC1"', "@ 60 MX 0 .")
                    .replace("zones: []", ""), encoding="utf-8")
    data = yaml.safe_load(path.read_text())
    data["zones"] = [{"naam": "hosting.test", "dns": "127.53.9.1", "records": ["mx 300 A 127.60.9.25"]}]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["keten", "--keten", str(path)]) == 0
    out = capsys.readouterr().out
    assert "_report._dmarc.politie.test 300 TXT" in out and "politie.test 60 MX 0 ." in out
    assert "zone hosting.test" in out and "mx.hosting.test 300 A 127.60.9.25" in out


# -- bombs ---------------------------------------------------------------------------------

def alias_bomb(levels: int = 9) -> str:
    """The classic 'billion laughs', all inside one value: 9**levels strings."""
    parts = ["&a0 [" + ", ".join(["lol"] * 9) + "]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def test_alias_bomb_is_refused_quickly_and_briefly():
    text = default_text().replace("  max_pdf_mb: 10", f"  max_pdf_mb: {alias_bomb()}")
    assert len(text.encode()) < 8_000
    started = time.monotonic()
    with pytest.raises(KetenConfigError) as err:
        parse_keten(text, "bom.yaml")
    assert time.monotonic() - started < 5
    assert "ankers en aliassen (&, *)" in err.value.problem and len(str(err.value)) < 400


def test_recursive_alias_is_refused():
    text = default_text() + "\nlus: &lus [*lus]\n"
    with pytest.raises(KetenConfigError, match="ankers en aliassen"):
        parse_keten(text, "lus.yaml")


def test_small_aliases_still_work():
    text = default_text().replace('tlsa: ["3 1 1", "2 0 1"]', 'tlsa: &tlsa ["3 1 1", "2 0 1"]', 1)
    text = text.replace('tlsa: ["3 1 1", "2 0 1"]', "tlsa: *tlsa")
    assert "*tlsa" in text
    keten = parse_keten(text, "anker.yaml")
    assert keten.politie.domain.tlsa == keten.meldpunten[0].domain.tlsa


def test_a_huge_value_is_never_written_out_in_the_error():
    huge = "x" * 500_000
    text = default_text().replace("  max_pdf_mb: 10", f"  max_pdf_mb: {huge}")
    with pytest.raises(KetenConfigError) as err:
        parse_keten(text, "groot.yaml")
    assert "aannames.max_pdf_mb" in str(err.value) and len(str(err.value)) < 400


def test_oversized_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "groot.yaml"
    with path.open("w") as f:
        f.write(default_text())
        f.write("# " + "x" * 78 + "\n" * 1)
        f.write(("# " + "x" * 78 + "\n") * (50 * 1024 * 1024 // 81))
    started = time.monotonic()
    with pytest.raises(KetenConfigError) as err:
        load_keten(path)
    assert time.monotonic() - started < 2
    assert f"groter dan {MAX_FILE_BYTES // 1024} KB" in err.value.problem and err.value.key == "(bestand)"


def test_invalid_utf8_is_one_clear_error(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(default_text().replace("Pilotregio", "Pilotr\xe9gio").encode("latin-1"))
    with pytest.raises(KetenConfigError) as err:
        load_keten(path)
    assert "geen geldige UTF-8" in err.value.problem and err.value.key.startswith("regel ")
    assert "UTF-8" in err.value.hint


@pytest.mark.parametrize("text, problem", [
    ("[" * 500_000 + "]" * 500_000, "diep genest"),
    ("a:\n" + "".join(" " * i + "b:\n" for i in range(1, 200)), "diep genest"),
    ("keten: 2026-13-45\n", "ongeldige waarde"),
    ("keten: " + "9" * 5000 + "\n", "ongeldige waarde"),
    ("keten: x\x00\n", "geen geldige YAML"),
    ("keten: !!python/object/apply:os.system [echo hoi]\n", "geen geldige YAML"),
])
def test_hostile_yaml_is_one_clear_error(text, problem):
    with pytest.raises(KetenConfigError) as err:
        parse_keten(text, "vijandig.yaml")
    assert problem in err.value.problem and len(str(err.value)) < 500


@pytest.mark.parametrize("value", [None, ["a"] * 10, {"a": 1}, 3.5, "x" * 10_000])
def test_any_wrong_type_anywhere_is_a_keten_error(value):
    """A structural fuzz: every key of the default keten replaced by values of
    the wrong shape gives a KetenConfigError, never another exception."""
    base = yaml.safe_load(default_text())

    def paths(node, prefix=()):
        if isinstance(node, dict):
            for k, v in node.items():
                yield (*prefix, k)
                yield from paths(v, (*prefix, k))
        elif isinstance(node, list):
            for i, v in enumerate(node[:2]):
                yield (*prefix, i)
                yield from paths(v, (*prefix, i))

    for path in list(paths(base)):
        data = copy.deepcopy(base)
        node = data
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
        try:
            _Parser("fuzz.yaml").keten(data)
        except KetenConfigError as e:
            assert len(str(e)) < 600, (path, str(e)[:200])
