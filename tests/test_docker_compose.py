"""``ketentest compose`` (simulators/containers/compose.py): a compose file for
any keten that Docker Compose accepts, with exactly the keten's parties, and
the mounts the containers' user can read. Needs Compose v2 (``docker compose``)
or Debian's docker-compose (apt package docker-compose); without either the
tests fail, never skip. ``config`` needs no engine; the last test starts the
keten from the file and needs one (it fails without, never skips)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from ketentest.cli import main
from ketentest.config import load_keten
from simulators.containers import mounts
from simulators.containers.compose import write_compose
from simulators.partijen import CONTAINER_PATHS, keten_parties
from tests.containers_helpers import engine, image  # noqa: F401  (fixtures)

pytestmark = pytest.mark.containers

KETENS = Path(__file__).resolve().parent / "data" / "ketens"
IMAGE = "localhost/ketentest:test"


def compose_command() -> list[str]:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("Docker Compose ontbreekt: installeer de plugin, of Debians docker-compose (apt-get install "
                "docker-compose)", pytrace=False)


def compose_config(compose_file: Path) -> subprocess.CompletedProcess:
    """``docker compose -f F config``: Compose's own validation and normal form."""
    return subprocess.run([*compose_command(), "-f", str(compose_file), "config"], capture_output=True, text=True,
                          cwd=compose_file.parent, timeout=60)


def volume(v) -> dict:
    """A volume of ``config`` output: long form (Compose v2) or 'src:dst:mode' (docker-compose 1.x)."""
    if isinstance(v, dict):
        return {"source": v["source"], "read_only": bool(v.get("read_only"))}
    source, _, mode = v.split(":", 2)
    return {"source": source, "read_only": mode == "ro"}


@pytest.mark.parametrize("keten_source", [None, str(KETENS / "gezond.yaml")], ids=["standaard", "gezond.yaml"])
def test_compose_accepts_the_file_and_its_services_are_the_parties(tmp_path, keten_source):
    result = write_compose(keten_source, tmp_path / "uit", image=IMAGE)
    done = compose_config(result.compose_file)
    assert done.returncode == 0, done.stderr
    parties = keten_parties(load_keten(keten_source), CONTAINER_PATHS)
    ours = yaml.safe_load(result.compose_file.read_text())
    assert list(ours["services"]) == [p.name for p in parties]
    normal = yaml.safe_load(done.stdout)
    assert set(normal["services"]) == {p.name for p in parties}
    for p in parties:
        s = ours["services"][p.name]
        assert s["command"] == [p.role, *p.args]
        assert (s["image"], s["network_mode"]) == (IMAGE, "host")
        assert s["volumes"] == [f"{p.name}-data:/data", f"./keten.yaml:{CONTAINER_PATHS.keten}:ro",
                                f"./pki:{CONTAINER_PATHS.pki}:ro", f"./besturing.token:{CONTAINER_PATHS.token}:ro"]
        after = {"dns": set(), "resolver": {"dns"}}.get(p.role, {"resolver"})
        assert set(s.get("depends_on", {})) == after
        assert all(v == {"condition": "service_healthy"} for v in s.get("depends_on", {}).values())
        assert s["healthcheck"]["test"][-2:] == ["simulators.rol", "gezond"]
        # The binds resolve to the files written next to the compose file.
        binds = [b for b in map(volume, normal["services"][p.name]["volumes"]) if b["source"].startswith("/")]
        assert {Path(b["source"]).resolve() for b in binds} == {
            (result.folder / n).resolve() for n in ("keten.yaml", "pki", "besturing.token")}
        assert all(b["read_only"] for b in binds)


def test_compose_rejects_a_file_with_a_missing_dependency(tmp_path):
    """The broken case of the check above: Compose does refuse what it cannot run."""
    result = write_compose(None, tmp_path / "uit", image=IMAGE)
    doc = yaml.safe_load(result.compose_file.read_text())
    del doc["services"]["dns"]
    result.compose_file.write_text(yaml.safe_dump(doc))
    assert compose_config(result.compose_file).returncode != 0


def test_the_keten_file_is_copied_as_written(tmp_path):
    result = write_compose(str(KETENS / "gezond.yaml"), tmp_path / "uit", image=IMAGE)
    assert (result.folder / "keten.yaml").read_bytes() == (KETENS / "gezond.yaml").read_bytes()


def test_every_key_a_party_needs_is_in_the_pki(tmp_path):
    """The containers mount the PKI read-only: a party that had to make a key would fail."""
    from simulators.pki import CertVariant, Pki

    result = write_compose(None, tmp_path / "uit", image=IMAGE)
    (tmp_path / "kopie").mkdir()
    for f in (result.folder / "pki").iterdir():
        shutil.copyfile(f, tmp_path / "kopie" / f.name)
    before = sorted(p.name for p in (tmp_path / "kopie").iterdir())
    pki = Pki(tmp_path / "kopie")
    for d in load_keten(None).deelnemers:
        for mx in d.domain.mx:
            for v in CertVariant:
                pki.server_chains(mx.name, v)
        for spec in d.domain.dkim:
            pki.dkim_key(d.domain.name, spec)
    assert sorted(p.name for p in (tmp_path / "kopie").iterdir()) == before
    assert any("dkim" in name for name in before) and any("server" in name for name in before)


@pytest.mark.skipif(os.geteuid() != 0, reason="alleen root kan de bestanden aan uid 10025 geven")
def test_as_root_the_mounts_belong_to_the_container_user(tmp_path):
    result = write_compose(None, tmp_path / "uit", image=IMAGE)
    pki = result.folder / "pki"
    for path, mode in ((pki, 0o500), (result.token_file, 0o400), *((k, 0o400) for k in pki.iterdir())):
        st = path.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (10025, 10025, mode), path
    assert result.user is None
    assert all("user" not in s for s in yaml.safe_load(result.compose_file.read_text())["services"].values())


def test_not_as_root_the_containers_run_as_the_caller(tmp_path, monkeypatch):
    # Pretend to be uid 1000; as root the chown to that uid still works.
    if os.geteuid() == 0:
        monkeypatch.setattr(mounts.os, "geteuid", lambda: 1000)
        monkeypatch.setattr(mounts.os, "getegid", lambda: 1000)
    uid = mounts.os.geteuid()
    result = write_compose(None, tmp_path / "uit", image=IMAGE)
    assert result.user == f"{uid}:10025"
    assert result.token_file.stat().st_uid == uid
    services = yaml.safe_load(result.compose_file.read_text())["services"]
    assert {s["user"] for s in services.values()} == {f"{uid}:10025"}
    assert compose_config(result.compose_file).returncode == 0


def test_rewriting_replaces_the_previous_output(tmp_path):
    write_compose(None, tmp_path / "uit", image=IMAGE)
    token = (tmp_path / "uit" / "besturing.token").read_text()
    result = write_compose(str(KETENS / "gezond.yaml"), tmp_path / "uit", image=IMAGE)
    assert result.token_file.read_text() != token
    assert list(yaml.safe_load(result.compose_file.read_text())["services"]) == [
        p.name for p in keten_parties(load_keten(str(KETENS / "gezond.yaml")), CONTAINER_PATHS)]


def test_cli_prints_how_to_start_and_reach_each_party(tmp_path, capsys):
    assert main(["compose", "--keten", str(KETENS / "gezond.yaml"), "--uit", str(tmp_path / "uit"),
                 "--image", IMAGE]) == 0
    out = capsys.readouterr().out
    assert f"-f {tmp_path / 'uit' / 'compose.yaml'} up -d" in out
    for p in keten_parties(load_keten(str(KETENS / "gezond.yaml")), CONTAINER_PATHS):
        assert f"{p.control_url}/status" in out
    assert "Authorization: Bearer $(cat " in out


def test_a_broken_keten_file_is_one_clear_error(tmp_path, capsys):
    broken = tmp_path / "kapot.yaml"
    broken.write_text((KETENS / "gezond.yaml").read_text().replace("dns: {root: 127.53.0.1", "dns: {root: geen-ip"))
    assert main(["compose", "--keten", str(broken), "--uit", str(tmp_path / "uit")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"ketentest: {broken}") and "root" in err[0], err
    assert not (tmp_path / "uit").exists()


def test_the_keten_comes_up_healthy_and_answers_with_the_token(tmp_path, engine, image):  # noqa: F811
    """The whole keten from the compose file, on its own loopback addresses: every party
    healthy, every control API answers with the token from the output folder."""
    import httpx

    from simulators.containers.image import PROJECT_SOCKET
    from tests.containers_helpers import shifted_keten, wait_healthy

    keten_file = shifted_keten(KETENS / "gezond.yaml", tmp_path / "keten.yaml", offset=110)
    result = write_compose(str(keten_file), tmp_path / "uit", image=image)
    project = f"kt-test-{os.getpid()}"
    env = {**os.environ, "DOCKER_HOST": os.environ.get("DOCKER_HOST") or f"unix://{PROJECT_SOCKET}"}
    compose = [*compose_command(), "-p", project, "-f", str(result.compose_file)]
    try:
        up = subprocess.run([*compose, "up", "-d"], capture_output=True, text=True, env=env, timeout=300)
        assert up.returncode == 0, up.stderr
        token = result.token_file.read_text().strip()
        for p in result.parties:
            [c] = engine.containers.list(filters={"label": [f"com.docker.compose.project={project}",
                                                            f"com.docker.compose.service={p.name}"]})
            wait_healthy(c, timeout=90)
            r = httpx.get(f"{p.control_url}/status", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert r.status_code == 200, (p.name, r.text)
            assert httpx.get(f"{p.control_url}/status", timeout=10).status_code == 401
    finally:
        down = subprocess.run([*compose, "down", "-v"], capture_output=True, text=True, env=env, timeout=300)
        assert down.returncode == 0, down.stderr
