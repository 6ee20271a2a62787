"""``ketentest compose``: a Docker Compose file for any keten.

The services are exactly :func:`simulators.partijen.keten_parties` with the
container paths, in start order; every container uses the host's network
(each party has its own 127.x.y.z address) and gets the keten file, the
simulated PKI and the control API's token read-only, plus a volume of its own
for durable data. Everything the file refers to is written next to it, so the
folder can be moved as a whole.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from ketentest.config import builtin_keten_text, load_keten
from ketentest.model import Keten
from simulators.containers.image import ROOT, image_tag
from simulators.containers.mounts import container_user, fill_pki, prepare_mounts
from simulators.control import new_token
from simulators.partijen import CONTAINER_PATHS, PartySpec, keten_parties

DEFAULT_OUT = ROOT / "docker" / "keten"
COMPOSE_FILE = "compose.yaml"
KETEN_FILE = "keten.yaml"
HEALTHCHECK = {"test": ["CMD", "/opt/ketentest/bin/python", "-m", "simulators.rol", "gezond"],
               "interval": "2s", "timeout": "5s", "retries": 3, "start_period": "60s"}


@dataclass(frozen=True)
class ComposeResult:
    folder: Path
    compose_file: Path
    token_file: Path
    image: str
    parties: list[PartySpec]
    user: str | None  # the containers' user, when not the image's own


def keten_bytes(keten: Keten) -> bytes:
    """The keten file as written: a file, or the built-in keten's YAML."""
    if keten.source.startswith("ingebouwd:"):
        return builtin_keten_text(keten.source.removeprefix("ingebouwd:")).encode()  # a file, or generated
    return Path(keten.source).read_bytes()


def compose_document(keten: Keten, image: str, user: str | None = None) -> dict:
    """The compose file's content for a keten (paths relative to its folder)."""
    parties = keten_parties(keten, CONTAINER_PATHS)
    binds = [f"./{KETEN_FILE}:{CONTAINER_PATHS.keten}:ro", f"./pki:{CONTAINER_PATHS.pki}:ro",
             f"./besturing.token:{CONTAINER_PATHS.token}:ro"]
    services, volumes = {}, {}
    for p in parties:
        volume = f"{p.name}-data"
        service = {
            "image": image,
            "command": [p.role, *p.args],
            "network_mode": "host",
            "volumes": [f"{volume}:{CONTAINER_PATHS.data}", *binds],
            "cap_add": ["NET_BIND_SERVICE"],
            "healthcheck": copy.deepcopy(HEALTHCHECK),
            "labels": {"ketentest": "partij", "ketentest.keten": keten.naam, "ketentest.rol": p.role,
                       "ketentest.besturing": p.control_url},
        }
        if user:
            service["user"] = user
        after = {"dns": [], "resolver": ["dns"]}.get(p.role, ["resolver"])
        if after:
            service["depends_on"] = {a: {"condition": "service_healthy"} for a in after}
        services[p.name] = service
        volumes[volume] = {"labels": {"ketentest": "data", "ketentest.keten": keten.naam}}
    return {"services": services, "volumes": volumes}


def project_name(keten: Keten) -> str:
    return "ketentest-" + (re.sub(r"[^a-z0-9_-]+", "-", keten.naam.lower()).strip("-") or "keten")


def write_compose(keten_source: str | Path | None, out: str | Path = DEFAULT_OUT, image: str | None = None) -> ComposeResult:
    """Write compose.yaml, keten.yaml, pki/ and besturing.token into ``out``."""
    keten = load_keten(keten_source)  # a broken keten file stops here, with its own clear error
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    image = image or image_tag()
    (out / KETEN_FILE).write_bytes(keten_bytes(keten))
    src_pki = fill_pki(keten)
    with tempfile.TemporaryDirectory() as tmp:
        _, token = new_token(Path(tmp))
        _, token_file = prepare_mounts(src_pki, token, out)
    user = container_user()
    doc = compose_document(keten, image, user)
    header = (f"# Keten {keten.naam} ({keten.source}) in containers; gemaakt door 'ketentest compose'.\n"
              f"# Starten: docker compose -p {project_name(keten)} -f {COMPOSE_FILE} up -d\n")
    compose_file = out / COMPOSE_FILE
    compose_file.write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=200))
    os.chmod(out / KETEN_FILE, 0o644)
    return ComposeResult(out, compose_file, token_file, image, keten_parties(keten, CONTAINER_PATHS), user)


def instructions(result: ComposeResult, keten: Keten | None = None) -> str:
    """How to start the keten and reach each control API (Dutch)."""
    f = result.compose_file
    name = project_name(keten) if keten else "ketentest"
    lines = [f"Compose-bestand: {f}",
             f"  met {f.parent / KETEN_FILE}, {f.parent / 'pki'}/ en {result.token_file} (alleen-lezen in de containers)",
             f"  image: {result.image} (bouw het zo nodig eerst met: ketentest image)", "",
             "Starten (Docker Compose v2, of docker-compose):",
             f"  docker compose -p {name} -f {f} up -d",
             f"Stoppen en de gegevens wissen:",
             f"  docker compose -p {name} -f {f} down -v", "",
             "Besturings-API's (docs/besturings-api.md):"]
    width = max(len(p.name) for p in result.parties)
    for p in result.parties:
        lines.append(f"  {p.name:<{width}}  curl -H \"Authorization: Bearer $(cat {result.token_file})\" {p.control_url}/status")
    if result.user:
        lines += ["", f"Let op: niet als root gemaakt; de containers draaien daarom als {result.user} (user: in het "
                      f"compose-bestand) en die gebruiker moet {f.parent / 'pki'} en {result.token_file} kunnen lezen."]
    return "\n".join(lines)
