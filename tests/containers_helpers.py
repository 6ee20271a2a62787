"""Engine and image fixtures for the container tests (issue 12).

    from tests.containers_helpers import engine, image  # noqa: F401  (pytest fixtures)

A test that needs an engine fails loudly when none answers: it is never
skipped, so a CI without Docker cannot pass by testing nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ketentest.errors import InfrastructureError
from simulators.containers.image import LOCAL_BASE, docker_client, ensure_image

ROOT = Path(__file__).resolve().parent.parent
KETENS = ROOT / "tests" / "data" / "ketens"


def engine_or_fail():
    try:
        return docker_client()
    except InfrastructureError as e:
        pytest.fail(f"geen container-engine voor deze test: {e}", pytrace=False)


def image_or_fail(client) -> str:
    """The parties' image for the current sources, on the local base (no registry needed)."""
    import docker

    try:
        client.images.get(LOCAL_BASE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"basisimage {LOCAL_BASE} ontbreekt; maak het met scripts/docker-engine base", pytrace=False)
    try:
        return ensure_image(client, base_image=LOCAL_BASE, progress=lambda line: None)
    except InfrastructureError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def engine():
    client = engine_or_fail()
    yield client
    client.close()


@pytest.fixture(scope="session")
def image(engine) -> str:
    return image_or_fail(engine)


def shifted_keten(src: Path, dest: Path, offset: int = 100) -> Path:
    """A copy of a keten file on other loopback addresses (127.53.x -> 127.153.x,
    127.60.x -> 127.160.x): host-network containers share the host's
    addresses with whatever else runs there."""
    text = src.read_text()
    for second in ("53", "60"):
        text = text.replace(f"127.{second}.", f"127.{int(second) + offset}.")
    dest.write_text(text)
    return dest


def wait_for_log(container, text: str, timeout: float = 60.0) -> str:
    """The container's log once it contains ``text``; fails with the log when
    the container stops first or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        logs = container.logs().decode(errors="replace")
        if text in logs:
            return logs
        container.reload()
        if container.status in ("exited", "dead"):
            pytest.fail(f"container {container.name} stopte voor {text!r} (code "
                        f"{container.attrs['State']['ExitCode']}):\n{logs}", pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"geen {text!r} van {container.name} binnen {timeout:.0f} s:\n{logs}", pytrace=False)
        time.sleep(0.3)


def wait_healthy(container, timeout: float = 60.0) -> None:
    """Until Docker's health check (python -m simulators.rol gezond) says healthy."""
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        health = container.attrs["State"].get("Health") or {}
        if health.get("Status") == "healthy":
            return
        if container.status in ("exited", "dead") or time.monotonic() > deadline:
            log = [f"{h.get('ExitCode')}: {h.get('Output', '').strip()}" for h in health.get("Log", [])[-3:]]
            pytest.fail(f"container {container.name} werd niet gezond ({health.get('Status')}):\n" + "\n".join(log),
                        pytrace=False)
        time.sleep(0.5)


def remove(container) -> None:
    """Stop and remove a container this test started (and its anonymous volumes)."""
    import docker

    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
