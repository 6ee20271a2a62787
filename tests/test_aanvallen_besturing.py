"""Attacks on the control API (issue 10, point 8): no token, NaN and huge
numbers, strings for booleans, a bad Content-Length, an oversized or endless
body, a long poll that never returns. Each is one clear 400/401/411/413 and
leaves the party's state as it was.

The parties run in-process behind a real ControlServer on 127.0.0.1 (port 0),
so no keten and no fixed addresses are needed; test_besturing_keten.py checks
the wiring of a running keten."""

from __future__ import annotations

import http.client
import json
import stat
import threading
import time

import httpx
import pytest

from simulators.control import ControlServer, new_token, read_token
from simulators.party import Party, parse_args

UTRECHT = "ggd-regio-utrecht"


def party(tmp_path, ident: str) -> Party:
    return Party(parse_args("test", ["--keten", "midden-nederland", "--id", ident, "--data", str(tmp_path / ident)]))


@pytest.fixture
def meldpunt(tmp_path):
    from simulators.meldpunt.app import Meldpunt

    p = party(tmp_path, UTRECHT)
    mp = Meldpunt(p)
    p.routes.update(mp.routes())
    with ControlServer("127.0.0.1", 0, p.routes, p.token) as server:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {p.token}"}, timeout=10) as client:
            yield mp, client, server


@pytest.fixture
def postkantoor(tmp_path):
    from simulators.politie.postkantoor import Postkantoor

    p = party(tmp_path, "politie-mn")
    pk = Postkantoor(p)
    p.routes.update(pk.routes())
    with ControlServer("127.0.0.1", 0, p.routes, p.token) as server:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {p.token}"}, timeout=10) as client:
            yield pk, client


def refused(response: httpx.Response, status: int = 400, *words: str) -> str:
    assert response.status_code == status, response.text
    text = response.json()["fout"]
    assert all(w in text for w in words), text
    return text


# -- the token ------------------------------------------------------------------------------------


def test_every_request_needs_the_runs_token(meldpunt):
    _, client, server = meldpunt
    for headers in ({}, {"Authorization": "Bearer verkeerd-token-van-32-tekens-lang!!"}, {"Authorization": "Basic eDp5"}):
        for method, path in (("GET", "/status"), ("POST", "/schakelaars"), ("POST", "/klok"), ("GET", "/bestaat-niet")):
            r = httpx.request(method, server.url + path, headers=headers, json={"bevestigen": False})
            assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
            assert "Authorization: Bearer" in r.json()["wat_te_doen"]
    assert client.get("/schakelaars").json()["bevestigen"] is True  # the refused POSTs changed nothing
    assert client.get("/status").status_code == 200


def test_token_file_is_private_and_fresh(tmp_path):
    token, path = new_token(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and read_token(path) == token and len(token) >= 32
    again, _ = new_token(tmp_path)
    assert again != token and read_token(path) == again
    with pytest.raises(ValueError):
        ControlServer("127.0.0.1", 0, {}, "")


def test_a_party_started_by_hand_makes_its_own_token(tmp_path):
    p = party(tmp_path, UTRECHT)
    assert read_token(tmp_path / UTRECHT / "besturing.token") == p.token


# -- numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"vooruit": "nan"}, {"vooruit": "inf"}, {"vooruit": 1e300}, {"vooruit": -5},
                                  {"vooruit": "abc"}, {"vooruit": True}, {"vooruit": [1]}])
def test_clock_refuses_what_is_not_a_sane_step(meldpunt, body):
    _, client, _ = meldpunt
    before = client.get("/klok").json()["nu"]
    refused(client.post("/klok", json=body), 400, "vooruit")
    assert client.get("/status").status_code == 200
    after = client.get("/klok").json()["nu"]
    assert after[:16] == before[:16]  # same minute: not moved


def test_nan_literal_in_json_is_refused(meldpunt):
    _, client, _ = meldpunt
    r = client.post("/klok", content=b'{"vooruit": NaN}', headers={"Content-Type": "application/json"})
    refused(r, 400, "NaN")
    r = client.post("/klok", content=b'{"vooruit": Infinity}')
    refused(r, 400, "Infinity")
    assert client.get("/status").status_code == 200


def test_clock_still_moves_forward_within_bounds(meldpunt):
    mp, client, _ = meldpunt
    before = mp.party.clock.timestamp()
    assert client.post("/klok", json={"vooruit": 86400}).status_code == 200
    assert mp.party.clock.timestamp() - before >= 86400


@pytest.mark.parametrize("timeout", ["nan", "inf", "-1", "601", "1e300", "abc"])
def test_long_poll_timeout_is_finite_and_bounded(meldpunt, timeout):
    _, client, _ = meldpunt
    threads = threading.active_count()
    started = time.monotonic()
    refused(client.get("/meldingen/MN-2026-000001/wacht", params={"timeout": timeout}), 400, "timeout")
    refused(client.get("/rust", params={"timeout": timeout}), 400, "timeout")
    assert time.monotonic() - started < 5
    assert threading.active_count() <= threads + 1  # no waiter left behind


def test_quarantine_wait_is_bounded_too(meldpunt):
    _, client, _ = meldpunt
    started = time.monotonic()
    refused(client.get("/quarantaine/wacht", params={"timeout": "nan"}), 400, "timeout")
    refused(client.get("/quarantaine/wacht", params={"aantal": "x", "timeout": "0"}), 400, "aantal")
    assert client.get("/quarantaine/wacht", params={"aantal": "1", "timeout": "0"}).json()["bereikt"] is False
    assert time.monotonic() - started < 5


def test_long_poll_other_numbers_are_checked(meldpunt, postkantoor):
    _, client, _ = meldpunt
    refused(client.get("/meldingen/X/wacht", params={"timeout": "0", "ontvangen": "veel"}), 400, "ontvangen")
    _, pk_client = postkantoor
    pk_client.post("/meldingen", json={})  # nothing queued; the kenmerk check comes after the parameters
    refused(pk_client.get("/meldingen/X/wacht", params={"status": "bezorgd", "timeout": "nan"}), 400, "timeout")
    refused(pk_client.get("/meldingen/X/wacht", params={"status": "bezorgd", "terugkoppelingen": "1e9"}), 400)


# -- switches -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, words", [
    ({"bevestiging_na_minuten": "abc"}, ("bevestiging_na_minuten", "getal")),
    ({"bevestiging_na_minuten": "nan"}, ("bevestiging_na_minuten",)),
    ({"bevestiging_na_minuten": 1e300}, ("bevestiging_na_minuten",)),
    ({"bevestiging_na_minuten": -1}, ("bevestiging_na_minuten",)),
    ({"bevestigen": "false"}, ("bevestigen", "true of false")),
    ({"bevestigen": 0}, ("bevestigen", "true of false")),
    ({"terugkoppeling_na_werkdagen": 2.5}, ("terugkoppeling_na_werkdagen", "geheel getal")),
    ({"terugkoppeling_status": "weggegooid"}, ("terugkoppeling_status",)),
    ({"onbekend": True}, ("onbekende schakelaar",)),
    ({"bevestigen": False, "mail": {"temp_failures": -1}}, ("temp_failures",)),
    ({"bevestigen": False, "mail": {"tls_profile": "ssl3"}}, ("TLS-profiel",)),
    ({"bevestigen": False, "mail": {"cert_variant": "stuk"}}, ("cert_variant",)),
    ({"bevestigen": False, "mail": {"temp_fail_stage": "ergens"}}, ("temp_fail_stage",)),
    ({"bevestigen": False, "mail": {"reply_delay": "inf"}}, ("reply_delay",)),
    ({"bevestigen": False, "mail": {"offer_starttls": "nee"}}, ("offer_starttls",)),
    ({"bevestigen": False, "mail": "alles"}, ("JSON-object",)),
])
def test_a_bad_switch_is_400_and_changes_nothing(meldpunt, body, words):
    mp, client, _ = meldpunt
    before = client.get("/schakelaars").json()
    refused(client.post("/schakelaars", json=body), 400, *words)
    assert client.get("/schakelaars").json() == before
    assert mp.switches.bevestigen is True and mp.mx.switches.current.describe() == "gezond"


def test_good_switches_are_applied_with_their_types(meldpunt):
    mp, client, _ = meldpunt
    r = client.post("/schakelaars", json={"bevestiging_na_minuten": 30, "terugkoppeling_status": "afgesloten",
                                          "mail": {"temp_failures": 100000, "tls_profile": "alleen-cbc",
                                                   "temp_fail_stage": "rcpt", "stall_at": None}})
    assert r.status_code == 200, r.text
    assert mp.switches.bevestiging_na_minuten == 30.0 and mp.switches.terugkoppeling_status == "afgesloten"
    current = mp.mx.switches.current
    assert current.temp_failures == 100000 and current.tls_profile.name == "alleen-cbc"
    assert current.temp_fail_stage.value == "rcpt"


def test_postkantoor_switches_are_typed_too(postkantoor):
    pk, client = postkantoor
    refused(client.post("/schakelaars", json={"herhalen": 0, "dkim_ondertekenen": False}), 400, "herhalen")
    assert pk.switches.dkim_ondertekenen is True  # all or nothing
    assert client.post("/schakelaars", json={"herhalen": False}).json()["herhalen"] is False


# -- the body -------------------------------------------------------------------------------------


def raw_request(server: ControlServer, token: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict]:
    conn = http.client.HTTPConnection(server.ip, server.port, timeout=10)
    conn.putrequest("POST", "/schakelaars")
    conn.putheader("Authorization", f"Bearer {token}")
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders(body or None)
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    return response.status, data


@pytest.mark.parametrize("headers, status, words", [
    ({"Content-Length": "abc"}, 400, "Content-Length"),
    ({"Content-Length": "-1"}, 400, "Content-Length"),
    ({"Content-Length": "1" * 40}, 400, "Content-Length"),
    ({"Content-Length": str(300 * 1024 * 1024)}, 413, "groter dan"),
    ({"Transfer-Encoding": "chunked"}, 411, "Content-Length"),
])
def test_bad_or_huge_body_is_refused_without_reading_it(meldpunt, headers, status, words):
    mp, client, server = meldpunt
    started = time.monotonic()
    code, data = raw_request(server, mp.party.token, headers)  # the body is never sent: the server must not wait for it
    assert (code, words in data["fout"]) == (status, True), data
    assert time.monotonic() - started < 5
    assert client.get("/status").status_code == 200


@pytest.mark.parametrize("body, words", [
    (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    (b'{"bevestigen": fal', "JSON"),
    (b"\xff\xfe", "JSON"),
    (b"[1, 2]", "JSON-object"),
])
def test_malformed_json_is_400(meldpunt, body, words):
    mp, client, server = meldpunt
    code, data = raw_request(server, mp.party.token, {"Content-Length": str(len(body))}, body)
    assert code in (400, 413) and words in data["fout"], data
    assert mp.switches.bevestigen is True
