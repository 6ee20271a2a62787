"""What a keten's containers get mounted read-only: the simulated PKI and the
control API's token (simulators/partijen.py CONTAINER_PATHS).

The parties run as uid 10025 in the image; the host writes keys and token
readable by root only. :func:`prepare_mounts` copies them into a folder of
their own and, as root, hands that copy to the container user.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ketentest.model import Keten
from simulators.pki import DEFAULT_CACHE_DIR, CertVariant, Pki

#: The user the image runs as (docker/Dockerfile).
CONTAINER_UID = 10025
CONTAINER_GID = 10025


def fill_pki(keten: Keten, cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    """Make every key any party of the keten may need in ``cache_dir``: the
    containers mount it read-only, so a missing RSA key could not be made
    later. Server chains of every MX host in every variant (a switch may
    present another one at run time) and every DKIM key."""
    pki = Pki(cache_dir)
    for d in keten.deelnemers:
        for mx in d.domain.mx:
            for variant in CertVariant:
                pki.server_chains(mx.name, variant)
        for spec in d.domain.dkim:
            pki.dkim_key(d.domain.name, spec)
    return pki.cache_dir


def prepare_mounts(src_pki: str | Path, token_file: str | Path, dest_dir: str | Path) -> tuple[Path, Path]:
    """Copy the PKI's key cache and the token file into ``dest_dir`` (as
    ``pki/`` and ``besturing.token``) for mounting read-only. As root the copy
    belongs to the container user (files 0400, folder 0500); otherwise it
    stays the caller's, and the containers must run as the caller
    (:func:`container_user`)."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    pki, token = dest / "pki", dest / "besturing.token"
    if pki.exists():
        _make_writable(pki)
        shutil.rmtree(pki)
    pki.mkdir(mode=0o700)
    for key in sorted(Path(src_pki).glob("*.pem")):
        shutil.copyfile(key, pki / key.name)
    if token.exists():
        token.chmod(0o600)
        token.unlink()
    shutil.copyfile(token_file, token)
    owner = (CONTAINER_UID, CONTAINER_GID) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    for path in (*pki.iterdir(), token):
        os.chown(path, *owner)
        path.chmod(0o400)
    os.chown(pki, *owner)
    pki.chmod(0o500)
    return pki, token


def container_user() -> str | None:
    """The ``user`` a container needs to read what prepare_mounts wrote:
    None as root (the image's own user owns it), else the caller's uid with the
    image's group, which may write /data (docker/Dockerfile)."""
    return None if os.geteuid() == 0 else f"{os.geteuid()}:{CONTAINER_GID}"


def _make_writable(folder: Path) -> None:
    folder.chmod(0o700)
    for p in folder.iterdir():
        p.chmod(0o600)
