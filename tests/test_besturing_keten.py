"""The control API of a running keten: one secret per run, in a file only its
owner can read, passed to every party process; without it every party
answers 401 (issue 10, point 8). Binds the keten's fixed addresses: run it
in its own network namespace (see README)."""

from __future__ import annotations

import stat

import httpx

from simulators.control import TOKEN_FILE, read_token


def test_every_party_of_a_running_keten_wants_the_runs_token(keten_sim):
    path = keten_sim.workdir / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = read_token(path)
    assert token == keten_sim.token
    for process in keten_sim.processes:
        assert httpx.get(process.url + "/status").status_code == 401
        assert httpx.post(process.url + "/klok", json={"vooruit": 3600}).status_code == 401
        wrong = {"Authorization": "Bearer " + "x" * len(token)}
        assert httpx.get(process.url + "/status", headers=wrong).status_code == 401
        right = {"Authorization": f"Bearer {token}"}
        assert httpx.get(process.url + "/status", headers=right).status_code == 200
        assert process.get("/status")["deelnemer"]  # the harness's own client carries it
