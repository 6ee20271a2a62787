"""Durable expectations against real deelnemers (issue 15,
ketentest.verwachtingen and ``ketentest ophalen``): a run leaves an
expectation open, a later run collects the reply and judges it; te laat and
verlopen fail; a broken file is one clear error and is never rewritten."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
import yaml

from ketentest import verwachtingen as vw
from ketentest.cli import main
from ketentest.config import parse_keten
from ketentest.mail.compose import compose_melding, compose_ontvangstbevestiging, compose_terugkoppeling
from ketentest.verwachtingen import EmlMap, Oordeel, Soort, VerwachtingenFout
from tests.test_echt_keten import ECHT_ADRES, echt_data

KENMERK = "MN-2026-000777"
POLITIE = "postkantoor@politie.test"
UTC = dt.timezone.utc
#: Wednesday 2 December 2026, 10:00 UTC: five werkdagen later is Wednesday 9 December.
SENT = dt.datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_shared_files(monkeypatch):
    from ketentest import echt

    monkeypatch.delenv(echt.LEDGER_ENV, raising=False)
    monkeypatch.delenv(echt.VERWACHTINGEN_ENV, raising=False)


@pytest.fixture
def keten(tmp_path):
    path = tmp_path / "hybride.yaml"
    path.write_text(yaml.safe_dump(echt_data()))
    return parse_keten(path.read_text(), str(path))


@pytest.fixture
def gv(keten):
    return keten.deelnemer("meldpunt-gooi-vechtstreek")


@pytest.fixture
def bestand(tmp_path, keten, gv):
    path = tmp_path / "verwachtingen.jsonl"
    vw.record_sent(path, keten, gv, KENMERK, SENT)
    return path


def reply(folder, name: str, at: dt.datetime, kind: str = "ontvangstbevestiging", kenmerk: str = KENMERK,
          sender: str = ECHT_ADRES):
    """A real reply as an .eml file, composed by ketentest.mail.compose (no DKIM needed here)."""
    folder.mkdir(exist_ok=True)
    if kind == "ontvangstbevestiging":
        m = compose_ontvangstbevestiging(kenmerk, sender=sender, recipient=POLITIE, date=at)
    else:
        m = compose_terugkoppeling(kenmerk, "in behandeling", sender=sender, recipient=POLITIE, date=at)
    (folder / name).write_bytes(m.data)


def ophalen(bestand, folder, now: dt.datetime, capsys) -> tuple[int, str]:
    code = main(["ophalen", "--verwachtingen", str(bestand), "--map", str(folder), "--nu", now.isoformat()])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_delivered_melding_records_both_deadlines_in_real_time(bestand, gv):
    found = vw.load(bestand)
    assert [(v.kenmerk, v.deelnemer, v.soort, v.verzonden) for v in found] == [
        (KENMERK, gv.id, Soort.ONTVANGSTBEVESTIGING, SENT), (KENMERK, gv.id, Soort.TERUGKOPPELING, SENT)]
    assert found[0].uiterlijk == SENT + dt.timedelta(minutes=15) and found[0].termijn == "15 minuten"
    assert found[1].uiterlijk == dt.datetime(2026, 12, 9, 10, 0, tzinfo=UTC) and found[1].termijn == "5 werkdagen"
    line = json.loads(bestand.read_text().splitlines()[0])
    assert line["versie"] == 1 and line["verzonden"] == "2026-12-02T10:00:00+00:00" and line["domein"] == "meldpunt-gv.nl"


def test_a_run_leaves_expectations_open_and_a_later_run_collects_them(bestand, tmp_path, capsys):
    antwoorden = tmp_path / "antwoorden"
    antwoorden.mkdir()
    # the run: just sent, nothing back yet
    code, out = ophalen(bestand, antwoorden, SENT + dt.timedelta(minutes=2), capsys)
    assert code == 0, out
    assert "Samen: 0 voldaan, 0 te laat, 2 nog open, 0 verlopen." in out
    # a later run: the receipt came after 4 minutes, the terugkoppeling after 3 days
    reply(antwoorden, "bevestiging.eml", SENT + dt.timedelta(minutes=4))
    reply(antwoorden, "terugkoppeling.eml", SENT + dt.timedelta(days=3), kind="terugkoppeling")
    code, out = ophalen(bestand, antwoorden, SENT + dt.timedelta(days=10), capsys)
    assert code == 0, out
    assert "Samen: 2 voldaan, 0 te laat, 0 nog open, 0 verlopen." in out
    assert "2026-12-02 10:04 UTC" in out and "bevestiging.eml" in out and "terugkoppeling.eml" in out
    # ophalen reads; it never changes the file
    assert len(vw.load(bestand)) == 2


def test_te_laat_and_verlopen_fail(bestand, tmp_path, capsys):
    antwoorden = tmp_path / "antwoorden"
    reply(antwoorden, "laat.eml", SENT + dt.timedelta(minutes=16))  # one minute over the 15
    code, out = ophalen(bestand, antwoorden, SENT + dt.timedelta(days=6), capsys)  # 9 Dec 10:00 not yet passed
    assert code == 1, out
    assert "Samen: 0 voldaan, 1 te laat, 1 nog open, 0 verlopen." in out
    code, out = ophalen(bestand, antwoorden, dt.datetime(2026, 12, 9, 10, 1, tzinfo=UTC), capsys)
    assert code == 1 and "Samen: 0 voldaan, 1 te laat, 0 nog open, 1 verlopen." in out, out


def test_only_a_fitting_reply_counts(bestand, tmp_path):
    """Another kenmerk, another sender's domain, or a reply from before the
    send (beyond the clock margin) does not satisfy the expectation."""
    antwoorden = tmp_path / "antwoorden"
    reply(antwoorden, "ander-kenmerk.eml", SENT + dt.timedelta(minutes=1), kenmerk="MN-2026-000778")
    reply(antwoorden, "ander-domein.eml", SENT + dt.timedelta(minutes=1), sender="meldpunt@ggdru.test")
    reply(antwoorden, "te-vroeg.eml", SENT - dt.timedelta(hours=1))
    melding = compose_melding(KENMERK, b"%PDF-1.7\n", sender=ECHT_ADRES, recipient=POLITIE,
                              date=SENT + dt.timedelta(minutes=1))
    (antwoorden / "melding.eml").write_bytes(melding.data)  # a melding is not a reply
    found = vw.ophalen(bestand, [EmlMap(antwoorden)], SENT + dt.timedelta(hours=1))
    assert [u.oordeel for u in found] == [Oordeel.VERLOPEN, Oordeel.NOG_OPEN]
    reply(antwoorden, "subdomein.eml", SENT + dt.timedelta(minutes=3), sender="zorg@post.meldpunt-gv.nl")
    found = vw.ophalen(bestand, [EmlMap(antwoorden)], SENT + dt.timedelta(hours=1))
    assert found[0].oordeel is Oordeel.VOLDAAN and found[0].bewijs == "subdomein.eml"


def test_an_automatic_reply_without_our_headers_counts_as_receipt(bestand, tmp_path):
    antwoorden = tmp_path / "antwoorden"
    antwoorden.mkdir()
    (antwoorden / "auto.eml").write_bytes(
        f"From: Meldpunt <{ECHT_ADRES}>\r\nTo: {POLITIE}\r\nSubject: Automatisch antwoord: [TEST] Zorgmelding "
        f"{KENMERK}\r\nReceived: from mx1 by mx.politie.test; Wed, 02 Dec 2026 10:07:00 +0000\r\n"
        "Date: Wed, 02 Dec 2026 09:00:00 +0000\r\n\r\nOntvangen.\r\n".encode())
    [receipt, feedback] = vw.ophalen(bestand, [EmlMap(antwoorden)], SENT + dt.timedelta(hours=1))
    assert receipt.oordeel is Oordeel.VOLDAAN and receipt.moment == SENT + dt.timedelta(minutes=7)  # Received wins
    assert feedback.oordeel is Oordeel.NOG_OPEN


def test_a_half_written_last_line_is_one_clear_error_and_nothing_is_lost(bestand, tmp_path, capsys, keten, gv):
    good = bestand.read_bytes()
    extra = vw.expectations_for(keten, gv, "MN-2026-000778", SENT)[0].to_json()
    bestand.write_bytes(good + extra[: len(extra) // 2].encode())  # a writer died half-way
    before = bestand.read_bytes()
    code, out = ophalen(bestand, tmp_path, SENT, capsys)
    assert code == 2 and "Traceback" not in out
    assert f"{bestand}: regel 3: de laatste regel is onvolledig" in out and "de 2 regel(s) ervoor zijn in orde" in out
    assert "Wat te doen:" in out
    with pytest.raises(VerwachtingenFout):  # recording more refuses too, and leaves the file as it was
        vw.record_sent(bestand, keten, gv, "MN-2026-000779", SENT)
    assert bestand.read_bytes() == before


@pytest.mark.parametrize("content, problem", [
    (b'{"versie": 1}\n', "regel 1: sleutel deelnemer ontbreekt"),
    (b'[1, 2]\n', "regel 1: verwacht een JSON-object"),
    (b'{"versie": 2}\n', "regel 1: onbekende versie"),
    (b'{nee\n', "regel 1: onvolledig of geen geldige JSON"),
    (b'\xff\xfe\n', "regel 1: geen geldige UTF-8"),
])
def test_each_malformed_file_names_the_line_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "v.jsonl"
    path.write_bytes(content)
    with pytest.raises(VerwachtingenFout) as err:
        vw.load(path)
    assert problem in err.value.message and err.value.hint


@pytest.mark.parametrize("key, value, problem", [
    ("soort", "brief", "onbekende soort"),
    ("uiterlijk", "morgen", "geen tijdstip"),
    ("verzonden", "2026-12-02T10:00:00", "geen tijdzone"),
    ("kenmerk", 7, "niet-lege tekst"),
])
def test_each_bad_value_is_named(bestand, key, value, problem):
    lines = bestand.read_text().splitlines()
    obj = json.loads(lines[1])
    obj[key] = value
    bestand.write_text(lines[0] + "\n" + json.dumps(obj) + "\n")
    with pytest.raises(VerwachtingenFout) as err:
        vw.load(bestand)
    assert "regel 2" in err.value.message and problem in err.value.message


def test_recording_is_atomic_and_appends(bestand, keten, gv):
    vw.record_sent(bestand, keten, gv, "MN-2026-000778", SENT)
    assert [v.kenmerk for v in vw.load(bestand)] == [KENMERK, KENMERK, "MN-2026-000778", "MN-2026-000778"]
    assert not [p for p in bestand.parent.iterdir() if p.name.endswith(".tmp")]


def test_missing_file_missing_source_and_a_bad_time_are_clear_errors(tmp_path, bestand, capsys):
    assert main(["ophalen", "--verwachtingen", str(tmp_path / "nergens.jsonl"), "--map", str(tmp_path)]) == 2
    assert "bestand niet gevonden" in capsys.readouterr().err
    assert main(["ophalen", "--verwachtingen", str(bestand)]) == 2
    assert "geen bron om antwoorden uit op te halen" in capsys.readouterr().err
    assert main(["ophalen", "--verwachtingen", str(bestand), "--map", str(tmp_path), "--nu", "gisteren"]) == 2
    assert "geen tijdstip" in capsys.readouterr().err
    assert main(["ophalen", "--verwachtingen", str(bestand), "--map", str(tmp_path / "geen-map")]) == 2
    assert "geen map" in capsys.readouterr().err


def test_imap_source_comes_from_the_keten_and_needs_its_password_file(tmp_path, bestand, capsys):
    data = echt_data(toegestane_adressen=[ECHT_ADRES], imap={
        "host": "imap.meldpunt-gv.nl", "ip": "127.0.0.1", "poort": 1, "gebruiker": "ketentest",
        "wachtwoord_bestand": "geheim.txt"})
    keten_path = tmp_path / "hybride.yaml"
    keten_path.write_text(yaml.safe_dump(data))
    argv = ["ophalen", "--keten", str(keten_path), "--verwachtingen", str(bestand), "--imap"]
    assert main(argv) == 2
    assert f"wachtwoordbestand {tmp_path / 'geheim.txt'} niet gevonden" in capsys.readouterr().err
    (tmp_path / "geheim.txt").write_text("")
    assert main(argv) == 2 and "is leeg" in capsys.readouterr().err
    (tmp_path / "geheim.txt").write_text("s3cret\n")
    assert main(argv) == 2  # port 1 on loopback: nobody listens
    err = capsys.readouterr().err
    assert "geen verbinding" in err and "s3cret" not in err and "Traceback" not in err
    assert main(argv[:-1] + ["--imap", "ggd-flevoland"]) == 2
    assert "heeft geen echt.imap" in capsys.readouterr().err


def test_the_guard_records_through_the_environment(keten, gv, tmp_path, monkeypatch):
    """``ketentest run --verwachtingen FILE`` sets the variable every party process inherits."""
    from ketentest.echt import VERWACHTINGEN_ENV, Guard

    path = tmp_path / "via-env.jsonl"
    monkeypatch.setenv(VERWACHTINGEN_ENV, str(path))
    melding = compose_melding(KENMERK, b"%PDF-1.7\n", sender=POLITIE, recipient=ECHT_ADRES).data
    Guard(keten, clock=lambda: SENT.timestamp()).sent(gv, delivered=True, message=melding)
    assert [v.verzonden for v in vw.load(path)] == [SENT, SENT]
    assert os.environ[VERWACHTINGEN_ENV] == str(path)


# --- a real IMAP mailbox: Dovecot from Debian ---------------------------------------------------


@pytest.fixture
def dovecot(tmp_path):
    """A real Dovecot on 127.0.0.1 (a free port), IMAP over TLS only, one user
    with a Maildir; yields (ImapToegang, Maildir path). Awaited by its
    'starting up' log line; stopped by its own pid."""
    import shutil
    import socket
    import subprocess

    from ketentest.model import ImapToegang
    from simulators.wachten import load_factor

    import pwd
    import tempfile
    from pathlib import Path

    if shutil.which("dovecot") is None or os.geteuid() != 0:
        pytest.skip("dovecot is niet geïnstalleerd, of dit is geen root")
    # Dovecot's own processes (other users) must reach the files: not under tmp_path (0700)
    d = Path(tempfile.mkdtemp(prefix="ketentest-dovecot-"))
    d.chmod(0o755)
    (d / "base").mkdir()
    nobody = pwd.getpwnam("nobody")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
                    "-subj", "/CN=imap.meldpunt-gv.nl", "-addext", "subjectAltName=DNS:imap.meldpunt-gv.nl"],
                   check=True, capture_output=True)
    (d / "passwd").write_text("ketentest:{PLAIN}s3cret\n")
    (d / "geheim.txt").write_text("s3cret\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (d / "dovecot.conf").write_text(f"""\
base_dir = {d}/base
state_dir = {d}/base
log_path = /dev/stderr
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = uid={nobody.pw_uid} gid={nobody.pw_gid} home={d}/mail/%u
}}
mail_location = maildir:{d}/mail/%u/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")
    proc = subprocess.Popen(["dovecot", "-F", "-c", str(d / "dovecot.conf")], stderr=subprocess.PIPE, text=True)
    try:
        import threading

        ready = threading.Event()
        log: list[str] = []

        def read() -> None:
            for line in proc.stderr:
                log.append(line)
                if "starting up" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(15 * load_factor()), "".join(log) or "dovecot kwam niet op"
        maildir = d / "mail" / "ketentest" / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True)
        for p in (d / "mail", *(d / "mail").rglob("*")):
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
        yield ImapToegang("imap.meldpunt-gv.nl", "127.0.0.1", port, "ketentest", str(d / "geheim.txt"), "INBOX",
                          str(d / "cert.pem")), maildir
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(d, ignore_errors=True)


def test_replies_are_collected_from_a_real_imap_mailbox(dovecot, bestand):
    """ImapBron against Dovecot: TLS with the host name checked while connecting
    to an address, INTERNALDATE as the arrival moment, read-only."""
    toegang, maildir = dovecot
    m = compose_ontvangstbevestiging(KENMERK, sender=ECHT_ADRES, recipient=POLITIE, date=SENT - dt.timedelta(days=1))
    path = maildir / "new" / "1.ketentest"
    path.write_bytes(m.data)
    arrived = SENT + dt.timedelta(minutes=9)
    os.utime(path, (arrived.timestamp(), arrived.timestamp()))  # Dovecot's INTERNALDATE of a Maildir file
    os.chown(path, os.stat(maildir).st_uid, os.stat(maildir).st_gid)
    [receipt, feedback] = vw.ophalen(bestand, [vw.ImapBron(toegang)], SENT + dt.timedelta(hours=1))
    assert receipt.oordeel is Oordeel.VOLDAAN and receipt.moment == arrived, receipt
    assert receipt.bewijs == "imap:INBOX/1" and feedback.oordeel is Oordeel.NOG_OPEN
    assert list((maildir / "new").iterdir()) == [path]  # read-only: still unseen
    # a wrong host name in the certificate check is refused
    import dataclasses

    with pytest.raises(VerwachtingenFout) as err:
        list(vw.ImapBron(dataclasses.replace(toegang, host="ander.meldpunt-gv.nl")).antwoorden())
    assert "certificaat is niet te vertrouwen" in err.value.message
    # a wrong password
    bad = maildir.parent.parent.parent / "fout.txt"
    bad.write_text("fout\n")
    with pytest.raises(VerwachtingenFout) as err:
        list(vw.ImapBron(dataclasses.replace(toegang, wachtwoord_bestand=str(bad))).antwoorden())
    assert "controleer gebruiker en wachtwoord" in err.value.hint


def test_run_hands_the_expectations_file_and_the_ledger_to_the_parties(tmp_path, monkeypatch):
    """``ketentest run --verwachtingen FILE`` sets the variables every party process inherits."""
    import pytest as pytest_module

    from ketentest import echt

    seen = {}

    def fake_main(argv):
        seen.update({k: os.environ.get(k) for k in (echt.VERWACHTINGEN_ENV, echt.LEDGER_ENV)})
        return 5

    monkeypatch.setattr(pytest_module, "main", fake_main)
    for name in (echt.VERWACHTINGEN_ENV, echt.LEDGER_ENV):  # so that monkeypatch removes what run sets
        monkeypatch.setenv(name, "x")
        monkeypatch.delenv(name)
    main(["run", "--verwachtingen", str(tmp_path / "v.jsonl")])
    assert seen[echt.VERWACHTINGEN_ENV] == str((tmp_path / "v.jsonl").resolve())
    assert seen[echt.LEDGER_ENV].endswith("reports/echte-verzendingen.jsonl")
    assert seen[echt.LEDGER_ENV] != "x"

