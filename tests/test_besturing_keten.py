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


def test_a_record_changed_to_point_off_the_machine_is_never_dialled(keten_sim, keten):
    """The second line of defence in a running keten: the meldpunt's MX
    suddenly resolves to 10.0.0.1 (a change during the run, past the keten
    file's checks); the postkantoor refuses to dial it and says why."""
    from ketentest.routering import route
    from ketentest.synth import generate_meldingen

    melding = next(m for m in generate_meldingen(keten, 20261201, 40)
                   if route(keten, m.persoon.adres.postcode).meldpunt.id == "ggd-regio-utrecht")
    for mx in keten.deelnemer("ggd-regio-utrecht").domain.mx:
        keten_sim.internet.zones.replace(mx.name, "A", ["10.0.0.1"])
    keten_sim.internet.changed()
    submitted = keten_sim.submit(melding.to_dict())
    entry = keten_sim.wait_for(submitted["kenmerk"], "opnieuw proberen", "onbestelbaar", timeout=30)
    reasons = " ".join(a["reason"] for a in entry["attempts"])
    assert entry["delivered_at"] is None and "10.0.0.1 ligt niet op loopback" in reasons, reasons
    # Permanent at once: retrying for 24 hours cannot make the address legal.
    assert entry["status"] == "onbestelbaar", entry["status"]
