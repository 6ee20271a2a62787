"""python -m simulators.dns --keten K --pki DIR --control-port 8053 --token-bestand F

The keten's authoritative DNS as its own party (role ``dns``): every zone,
signed, on its own address (port 53), and the control API on the root
server's address (docs/besturings-api.md). The DNSSEC keys are made fresh in
memory at every start; only the PKI's key cache (TLSA, DKIM) is read, which
may be mounted read-only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ketentest.config import load_keten
from ketentest.errors import InfrastructureError
from simulators.control import ControlServer, read_token
from simulators.dns.besturing import ZoneControl, serve_until_stopped
from simulators.dns.zones import ZoneTree
from simulators.internet import authoritative_server, build_zone_tree
from simulators.party import run
from simulators.partijen import DNS_CONTROL_PORT
from simulators.pki import Pki


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="simulators.dns", description="gesimuleerde partij: de autoritatieve DNS")
    p.add_argument("--keten", required=True, help="ketenbestand of ingebouwde keten")
    p.add_argument("--pki", type=Path, required=True, help="sleutelcache van de gesimuleerde PKI (mag alleen-lezen zijn)")
    p.add_argument("--control-port", type=int, default=DNS_CONTROL_PORT, help="poort van de besturings-API")
    p.add_argument("--token-bestand", type=Path, required=True, help="bestand met het geheime token van de besturings-API")
    return p.parse_args(argv)


def build_zones(keten, pki_dir: Path) -> ZoneTree:
    """The signed zones; a key cache that lacks a key and cannot be written
    (read-only in a container) is one clear error."""
    try:
        return build_zone_tree(keten, Pki(pki_dir))
    except OSError as e:
        raise InfrastructureError(
            f"dns: de sleutelcache {pki_dir} mist een sleutel en is niet te beschrijven "
            f"({e.strerror or e}: {e.filename or pki_dir})",
            "maak de sleutels vooraf op de host (start de keten één keer als processen met dezelfde --pki-map), "
            "of koppel de map beschrijfbaar") from None


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    keten = load_keten(args.keten)
    token = read_token(args.token_bestand)
    zones = build_zones(keten, args.pki)
    with authoritative_server(zones):
        serve_until_stopped(ControlServer(keten.dns.root_ip, args.control_port, ZoneControl(zones).routes(), token))


if __name__ == "__main__":
    run(main)
