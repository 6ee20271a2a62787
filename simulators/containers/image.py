"""The container image of the simulated parties (docker/Dockerfile).

:func:`ensure_image` builds it once per version of the sources: the tag is a
content hash of what goes into the image, so a changed source file gives a
new image and an unchanged tree reuses the existing one. The project's wheels
are built on the host first (docker/wheels): pip cannot reach the package
registry from inside a build on the project's machines.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

from ketentest.errors import InfrastructureError

ROOT = Path(__file__).resolve().parent.parent.parent
DOCKER_DIR = ROOT / "docker"
WHEELS = DOCKER_DIR / "wheels"
REPOSITORY = "localhost/ketentest"
LOCAL_BASE = "localhost/ketentest-base:bookworm"
DEFAULT_BASE = "python:3.11-slim"
BASE_ENV = "KETENTEST_BASE_IMAGE"
#: The Docker Engine scripts/docker-engine starts.
PROJECT_SOCKET = "/run/ketentest-docker.sock"
#: What goes into the image (docker/wheels is built from these, so it is not hashed itself).
WHEEL_SOURCES = ("ketentest", "simulators", "steps", "pyproject.toml")
SOURCES = (*WHEEL_SOURCES, "docker/Dockerfile", "docker/.dockerignore")
LABELS = {"ketentest": "image"}


def docker_client():
    """A Docker API client: $DOCKER_HOST, else the engine of scripts/docker-engine,
    else Docker's default socket. A clear Dutch error when none answers."""
    import docker

    hint = ("start er een met scripts/docker-engine start (en export DOCKER_HOST=unix://" + PROJECT_SOCKET
            + "), of zet DOCKER_HOST op een draaiende Docker Engine of Podman-API")
    try:
        if not os.environ.get("DOCKER_HOST") and os.path.exists(PROJECT_SOCKET):
            client = docker.DockerClient(base_url=f"unix://{PROJECT_SOCKET}")
        else:
            client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        where = os.environ.get("DOCKER_HOST") or "de standaardsocket"
        raise InfrastructureError(f"geen container-engine bereikbaar via {where} ({_first_line(e)})", hint) from None
    return client


def source_files(root: Path = ROOT, sources: tuple[str, ...] = SOURCES) -> list[Path]:
    """The files that go into the image: tracked and new (not ignored) files under SOURCES."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                              "--", *sources], capture_output=True, check=True).stdout
        names = {n for n in out.decode().split("\0") if n}
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file, bytecode aside
        names = {str(p.relative_to(root)) for s in sources for p in ([root / s] if (root / s).is_file()
                 else (root / s).rglob("*")) if p.is_file() and "__pycache__" not in p.parts}
    return [root / n for n in sorted(names) if (root / n).is_file()]


def source_hash(root: Path = ROOT, sources: tuple[str, ...] = SOURCES) -> str:
    """Content hash of :func:`source_files` (names and bytes), 12 hex digits."""
    h = hashlib.sha256()
    for path in source_files(root, sources):
        h.update(str(path.relative_to(root)).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:12]


def image_tag(root: Path = ROOT) -> str:
    """The tag ensure_image builds for the current sources."""
    return f"{REPOSITORY}:{source_hash(root)}"


def resolve_base_image(client, base: str | None = None) -> str:
    """The base: the argument, $KETENTEST_BASE_IMAGE, the local Debian base
    (scripts/docker-engine base) if present, else python:3.11-slim."""
    import docker

    if base or os.environ.get(BASE_ENV):
        return base or os.environ[BASE_ENV]
    try:
        client.images.get(LOCAL_BASE)
        return LOCAL_BASE
    except docker.errors.ImageNotFound:
        return DEFAULT_BASE


def build_wheels(progress: Callable[[str], None] = print) -> None:
    """The project's dependencies (docker/wheels/deps, again only when
    pyproject.toml changes) and the project itself (docker/wheels/project, per
    version of the sources) as wheels, with the project's own pip on the host,
    which reaches the package registry."""
    deps, project = WHEELS / "deps", WHEELS / "project"
    for folder, sources, args, what in ((deps, ("pyproject.toml",), [], "afhankelijkheden"),
                                        (project, WHEEL_SOURCES, ["--no-deps"], "project")):
        digest = source_hash(ROOT, sources)
        marker = folder / ".bron-hash"
        if marker.exists() and marker.read_text().strip() == digest:
            continue
        progress(f"wheels bouwen ({what}) in {folder.relative_to(ROOT)}/")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", *args, "-w", str(folder), str(ROOT)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n    ".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise InfrastructureError(f"wheels bouwen mislukte (pip wheel, code {done.returncode}):\n    {tail}",
                                      "lees de melding hierboven; pip moet het pakketregister kunnen bereiken")
        if folder is deps:  # the project's own wheel goes in project/
            for own in folder.glob("ketentest-*.whl"):
                own.unlink()
        marker.write_text(digest + "\n")


def ensure_image(client, base_image: str | None = None, progress: Callable[[str], None] = print) -> str:
    """The tag of the image for the current sources; built if it does not exist yet."""
    import docker

    digest = source_hash()
    tag = f"{REPOSITORY}:{digest}"
    asked = base_image or os.environ.get(BASE_ENV)
    try:
        built_on = client.images.get(tag).labels.get("ketentest.basis")
        if not asked or built_on == asked:
            progress(f"image {tag} bestaat al (basis {built_on})")
            return tag
        progress(f"image {tag} bestaat al, maar op basis {built_on}; opnieuw bouwen op {asked}")
    except docker.errors.ImageNotFound:
        pass
    base = resolve_base_image(client, base_image)
    build_wheels(progress)
    progress(f"image {tag} bouwen op basis van {base} (duurt de eerste keer een paar minuten)")
    try:
        client.images.build(path=str(DOCKER_DIR), buildargs={"BASE_IMAGE": base}, tag=tag, network_mode="host",
                            rm=True, forcerm=True, labels={**LABELS, "ketentest.bron": digest, "ketentest.basis": base})
    except docker.errors.BuildError as e:
        lines = [str(c.get("stream") or c.get("error") or "").rstrip() for c in e.build_log]
        tail = "\n    ".join([ln for ln in lines if ln][-15:])
        raise InfrastructureError(f"image {tag} bouwen mislukte: {e.msg}\n    {tail}",
                                  f"lees de build-log hierboven (docker/Dockerfile, basisimage {base}); zonder "
                                  f"register: maak het lokale basisimage met scripts/docker-engine base") from None
    except docker.errors.APIError as e:
        raise InfrastructureError(f"image {tag} bouwen mislukte: {_first_line(e)}",
                                  f"bestaat het basisimage {base}? Zonder register: scripts/docker-engine base") from None
    progress(f"image {tag} gebouwd")
    prune_old_images(client, keep=tag, progress=progress)
    return tag


def prune_old_images(client, keep: str, progress: Callable[[str], None] = print) -> list[str]:
    """Remove earlier ketentest images (our label only) that no container uses:
    every source change builds a new one of some 650 MB. One in use stays."""
    import docker

    removed = []
    for image in client.images.list(filters={"label": "ketentest=image"}):
        if keep in image.tags:
            continue
        for tag in image.tags:
            if not tag.startswith(f"{REPOSITORY}:"):
                continue
            try:
                client.images.remove(tag)
                removed.append(tag)
            except docker.errors.APIError:  # a container (of a run still going) uses it
                continue
    if removed:  # (untagged build stages stay: they are the build cache of the next source change)
        progress(f"oude images verwijderd: {', '.join(removed)}")
    return removed


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
