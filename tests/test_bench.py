"""The bench entry point (issue 14): it runs on a tiny N and writes JSON with
the machine, the command, the seed, the versions and per measurement the
figures; the raw-SMTP baseline's sink really receives every message once."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bench.ketentest_bench import METINGEN, parse_args, table
from bench.meten import percentiel, tree_rss
from bench.raw_smtp import Sink, numbered, send_all

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("per_connection", [1, 7])
def test_the_baseline_sink_receives_every_message_once(per_connection):
    port = _free_port()
    body = b"From: a@bench.test\r\nTo: b@bench.test\r\nSubject: x\r\n\r\n" + b"regel\r\n" * 200
    sink = Sink("127.0.0.1", port).start()
    try:
        sent = send_all([numbered(body, i) for i in range(40)], "127.0.0.1", port, senders=3,
                        per_connection=per_connection)
    finally:
        counted = sink.stop()
    assert sent.verzonden == 40 and not sent.fouten
    assert counted["ontvangen"] == 40 and counted["uniek"] == 40
    assert len(sent.latenties) == 40 and sent.per_seconde > 0


def test_percentiles_are_nearest_rank():
    assert percentiel([], 50) is None
    assert percentiel([3.0], 99) == 3.0
    assert percentiel(list(range(1, 11)), 50) == 5
    assert percentiel(list(range(1, 101)), 99) == 99


def test_arguments_pick_measurements_by_name_and_refuse_unknown_ones(capsys):
    assert parse_args([]).metingen == ["opstarten", "uitwisseling", "check"]
    assert parse_args(["alles"]).metingen == list(METINGEN)
    args = parse_args(["check", "uitwisseling", "--n", "12", "--seed", "7"])
    assert args.metingen == ["uitwisseling", "check"] and args.n == 12 and args.seed == 7
    with pytest.raises(SystemExit):
        parse_args(["snelheid"])
    assert "onbekende meting snelheid" in capsys.readouterr().err


def test_memory_of_the_process_tree_counts_this_process():
    assert tree_rss() > 10 * 2**20


def test_the_entry_point_runs_a_tiny_exchange_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "uitwisseling", "--n", "4", "--seed", "11",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert {"machine", "commando", "seed", "versies", "metingen"} <= set(report)
    assert report["seed"] == 11 and "--n 4" in report["commando"]
    assert report["machine"]["cores"] >= 1 and report["versies"]["python"]
    assert report["versies"]["dkimpy"] and report["versies"]["aiosmtpd"]
    r = report["metingen"]["uitwisseling"]
    assert r["n"] == 4 and r["bevestigd"] == 4 and r["in_orde"]
    assert r["kwijt"] == 0 and r["dubbel_bezorgd"] == 0 and r["dubbel_geregistreerd"] == 0
    assert r["per_seconde"] > 0 and 0 < r["latentie_p50_s"] <= r["latentie_p99_s"]
    assert r["piek_geheugen_mb"] > 0 and r["cpu_ms_per_melding"] > 0
    assert r["basislijn"]["uniek_ontvangen"] == 4 and r["verhouding_tot_basislijn"] > 0
    assert "uitwisseling 4" in proc.stdout and "basislijn kaal SMTP" in proc.stdout
    assert table(report) in proc.stdout
