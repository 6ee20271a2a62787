"""The parties' container image (docker/Dockerfile, simulators/containers/image.py):
it builds on the local base, lists its roles, refuses an unknown one in Dutch,
holds no private key or token, runs as uid 10025, and a dns role binds port 53
as that user. Needs a Docker engine: without one these tests fail, never skip."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
import time

import dns.message
import dns.query
import pytest

from ketentest.config import load_keten
from simulators.containers.image import source_hash
from simulators.containers.mounts import CONTAINER_UID, fill_pki, prepare_mounts
from simulators.control import new_token
from simulators.partijen import CONTAINER_PATHS, ROLES, dns_parties
from tests.containers_helpers import (KETENS, engine, image, remove, shifted_keten, wait_for_log,  # noqa: F401
                                      wait_healthy)

pytestmark = pytest.mark.containers

#: A whole PEM private key (BEGIN, optional headers, base64, the matching END), not the bare
#: marker strings that libraries carry to parse one.
PRIVATE_KEY = re.compile(rb"-----BEGIN (?P<l>[A-Z0-9 ]*)PRIVATE KEY-----\r?\n(?:[A-Za-z-]+: [^\r\n]*\r?\n)*\r?\n?"
                         rb"(?:[A-Za-z0-9+/=]{1,80}\r?\n)+-----END (?P=l)PRIVATE KEY-----")


def run(engine, image, command, **kwargs):
    """(exit code, stdout, stderr) of a container that runs to its end."""
    c = engine.containers.create(image, command, labels={"ketentest": "test"}, **kwargs)
    try:
        c.start()
        code = c.wait(timeout=60)["StatusCode"]
        return code, c.logs(stderr=False).decode(), c.logs(stdout=False).decode()
    finally:
        remove(c)


def secrets_in_tar(stream) -> list[str]:
    """Paths in a tar stream that hold a PEM private key (ELF binaries aside) or are a control token."""
    found = []
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            if os.path.basename(member.name) == "besturing.token":
                found.append(member.name)
                continue
            data = tar.extractfile(member).read()
            # Compiled libraries carry self-test vectors (Debian's libgnutls holds PEM test keys);
            # a key baked in by us would be a file of its own.
            if not data.startswith(b"\x7fELF") and PRIVATE_KEY.search(data):
                found.append(member.name)
    return found


class _Chunks(io.RawIOBase):
    """A file over the chunks of container.export()."""

    def __init__(self, chunks) -> None:
        self.chunks, self.rest = iter(chunks), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.rest:
            self.rest = next(self.chunks, b"")
            if not self.rest:
                return 0
        n = min(len(buffer), len(self.rest))
        buffer[:n], self.rest = self.rest[:n], self.rest[n:]
        return n


def test_image_tag_is_the_hash_of_its_sources(engine, image):
    # Not compared with source_hash() now: other people edit the tree while this runs.
    assert re.fullmatch(r"localhost/ketentest:[0-9a-f]{12}", image)
    assert engine.images.get(image).labels["ketentest.bron"] == image.rsplit(":", 1)[1]


def test_the_hash_follows_the_sources_but_not_the_wheels(tmp_path):
    for name in ("ketentest/a.py", "simulators/b.py", "pyproject.toml", "docker/Dockerfile", "docker/wheels/x.whl"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("1")
    first = source_hash(tmp_path)
    (tmp_path / "docker/wheels/x.whl").write_text("2")
    (tmp_path / "docker/wheels/y.whl").write_text("3")
    assert source_hash(tmp_path) == first
    (tmp_path / "simulators/b.py").write_text("2")
    assert source_hash(tmp_path) != first


def test_help_lists_every_role(engine, image):
    code, out, _ = run(engine, image, ["--help"])
    assert code == 0
    for role in (*ROLES, "gezond"):
        assert re.search(rf"^\s+{role}\s", out, re.M), out


def test_unknown_role_is_one_dutch_line_and_exit_2(engine, image):
    code, out, err = run(engine, image, ["brandweer"])
    assert code == 2
    assert err.strip().splitlines() == [
        f"simulators.rol: onbekende rol 'brandweer'; kies uit: {', '.join(ROLES)} (of gezond)"]


def test_health_check_fails_without_a_party(engine, image):
    code, _, err = run(engine, image, ["gezond"])
    assert code == 1
    assert "nog niet klaar" in err


def test_runs_as_uid_10025(engine, image):
    assert engine.images.get(image).attrs["Config"]["User"] == "ketentest"
    code, out, _ = run(engine, image, ["-c", "import os; print(os.getuid(), os.getgid())"],
                       entrypoint=["/opt/ketentest/bin/python"])
    assert (code, out.split()) == (0, [str(CONTAINER_UID), str(CONTAINER_UID)])


def test_the_secret_scan_finds_a_key_and_a_token():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("etc/ok.txt", b"niets"), ("usr/lib/libx.so", b"\0-----BEGIN RSA PRIVATE KEY-----\0"),
                           ("usr/lib/liby.so", b"\x7fELF...-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\nIA==\n-----END EC PRIVATE KEY-----\n"),
                           ("opt/x/key.pem", b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\nIA==\n-----END EC PRIVATE KEY-----\n"),
                           ("data/besturing.token", b"geheim")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    assert secrets_in_tar(buf) == ["opt/x/key.pem", "data/besturing.token"]


def test_image_holds_no_private_key_or_token(engine, image):
    c = engine.containers.create(image, ["--help"], labels={"ketentest": "test"})
    try:
        found = secrets_in_tar(io.BufferedReader(_Chunks(c.export()), buffer_size=1 << 20))
    finally:
        remove(c)
    assert found == []


@pytest.fixture
def dns_mounts(tmp_path):
    """A keten on its own addresses, with a PKI and token made on the host, ready to mount read-only."""
    keten_file = shifted_keten(KETENS / "gezond.yaml", tmp_path / "keten.yaml")
    keten_file.chmod(0o644)
    keten = load_keten(keten_file)
    _, token = new_token(tmp_path / "host")
    pki, token = prepare_mounts(fill_pki(keten), token, tmp_path / "mounts")
    volumes = {str(keten_file): {"bind": CONTAINER_PATHS.keten, "mode": "ro"},
               str(pki): {"bind": CONTAINER_PATHS.pki, "mode": "ro"},
               str(token): {"bind": CONTAINER_PATHS.token, "mode": "ro"}}
    return keten, volumes


def start_dns(engine, image, keten, volumes, **kwargs):
    spec = dns_parties(keten, CONTAINER_PATHS)[0]
    return engine.containers.run(image, [spec.role, *spec.args], detach=True, network_mode="host", volumes=volumes,
                                 name=f"ketentest-test-dns-{os.getpid()}-{time.monotonic_ns()}",
                                 labels={"ketentest": "test"}, **kwargs)


def test_dns_role_binds_port_53_as_ketentest(engine, image, dns_mounts):
    keten, volumes = dns_mounts
    c = start_dns(engine, image, keten, volumes)
    try:
        wait_for_log(c, "KLAAR ", timeout=90)
        code, out = c.exec_run(["sh", "-c", "id -u; cat /proc/1/status | grep ^Uid"])
        assert code == 0 and out.decode().split()[0] == str(CONTAINER_UID)
        assert out.decode().split()[2:] == [str(CONTAINER_UID)] * 4  # the party's real/effective/saved/fs uid
        # The root zone answers on port 53 of the keten's root address, from the host.
        answer = dns.query.udp(dns.message.make_query(".", "SOA"), keten.dns.root_ip, port=53, timeout=5)
        assert answer.answer, answer
        wait_healthy(c, timeout=60)
    finally:
        remove(c)


def test_without_the_bind_capability_the_dns_role_cannot_start(engine, image, dns_mounts):
    """The broken case of the test above: port 53 needs NET_BIND_SERVICE for uid 10025."""
    keten, volumes = dns_mounts
    c = start_dns(engine, image, keten, volumes, cap_drop=["NET_BIND_SERVICE"])
    try:
        assert c.wait(timeout=90)["StatusCode"] != 0
        assert "KLAAR" not in c.logs().decode()
    finally:
        remove(c)


# -- scripts/docker-engine -------------------------------------------------------------------

ENGINE_SCRIPT = KETENS.parent.parent.parent / "scripts" / "docker-engine"


def engine_script(tmp_path, *args, fake_dockerd="echo 'kan niet starten: kapot' >&2; exit 1"):
    """scripts/docker-engine with a docker that never answers and a fake dockerd, on paths of its own."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "docker").write_text("#!/bin/sh\nexit 1\n")
    (fake / "dockerd").write_text(f"#!/bin/sh\n{fake_dockerd}\n")
    for f in fake.iterdir():
        f.chmod(0o755)
    env = {"PATH": f"{fake}:/usr/sbin:/usr/bin:/sbin:/bin", "KETENTEST_DOCKER_SOCK": f"unix://{tmp_path}/nee.sock",
           "KETENTEST_DOCKER_STATE": str(tmp_path / "gestart"), "KETENTEST_DOCKER_LOG": str(tmp_path / "dockerd.log")}
    return subprocess.run([str(ENGINE_SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.skipif(os.geteuid() != 0, reason="dockerd starten vraagt root")
def test_engine_start_never_passes_silently(tmp_path):
    done = engine_script(tmp_path, "start")
    assert done.returncode == 1
    assert done.stdout == ""  # no export line to eval
    assert "dockerd kwam niet op" in done.stderr and "kan niet starten: kapot" in done.stderr
    assert not (tmp_path / "gestart").exists()


def test_engine_stop_stops_only_a_daemon_it_started(tmp_path):
    assert "niets gestopt" in engine_script(tmp_path, "stop").stderr
    other = subprocess.Popen(["sleep", "60"])  # not a dockerd, whatever the state file says
    try:
        (tmp_path / "gestart").write_text(f"{other.pid}\n")
        done = engine_script(tmp_path, "stop")
        assert done.returncode == 0 and "geen dockerd" in done.stderr
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


# -- failures are one clear Dutch error ------------------------------------------------------


def test_no_engine_is_a_clear_error(monkeypatch):
    from ketentest.errors import InfrastructureError
    from simulators.containers.image import docker_client

    monkeypatch.setenv("DOCKER_HOST", "unix:///nergens/docker.sock")
    with pytest.raises(InfrastructureError) as e:
        docker_client()
    assert "geen container-engine bereikbaar via unix:///nergens/docker.sock" in str(e.value)
    assert "scripts/docker-engine start" in e.value.hint


def test_a_failed_build_is_a_clear_error_with_the_log(engine, image, monkeypatch):
    from ketentest.errors import InfrastructureError
    from simulators.containers import image as image_module

    monkeypatch.setattr(image_module, "REPOSITORY", "localhost/ketentest-test-kapot")
    lines = []
    with pytest.raises(InfrastructureError) as e:
        image_module.ensure_image(engine, base_image="localhost/bestaat-niet:1", progress=lines.append)
    assert "bouwen mislukte" in str(e.value) and "localhost/bestaat-niet:1" in str(e.value) + e.value.hint
    assert "scripts/docker-engine base" in e.value.hint
    assert any("bouwen op basis van localhost/bestaat-niet:1" in line for line in lines)


def test_a_new_build_removes_older_ketentest_images_but_not_one_in_use(engine, image):
    """Every source change builds a new image of some 650 MB: older ones of ours go, others stay."""
    import io

    import docker

    from simulators.containers.image import LOCAL_BASE, prune_old_images

    def tiny(tag: str, label: bool = True) -> str:
        dockerfile = f"FROM {LOCAL_BASE}\n" + ("LABEL ketentest=image" if label else "LABEL iemand=anders") + f" naam={tag}\n"
        engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
        return tag

    old, in_use, foreign = tiny("localhost/ketentest:oud-test"), tiny("localhost/ketentest:in-gebruik-test"), \
        tiny("localhost/iemand-anders:test", label=False)
    user = engine.containers.create(in_use, command=["true"], name=f"ketentest-prune-{os.getpid()}")
    try:
        removed = prune_old_images(engine, keep=image, progress=lambda line: None)
        assert old in removed and in_use not in removed and image not in removed
        with pytest.raises(docker.errors.ImageNotFound):
            engine.images.get(old)
        engine.images.get(image), engine.images.get(in_use), engine.images.get(foreign)
    finally:
        user.remove(force=True)
        for tag in (old, in_use, foreign):
            try:
                engine.images.remove(tag, force=True)
            except docker.errors.ImageNotFound:
                pass
