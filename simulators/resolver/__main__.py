"""python -m simulators.resolver --keten K --control-port 8053 --token-bestand F

The keten's validating resolver as its own party (role ``resolver``): a real
Unbound on the resolver address (port 53), with the root hints and the trust
anchor it fetches from the ``dns`` role's control API (``GET /anker``), and its
own control API on the resolver address (docs/besturings-api.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx

from ketentest.config import load_keten
from ketentest.errors import InfrastructureError
from simulators.control import ControlServer, read_token
from simulators.dns.besturing import serve_until_stopped
from simulators.party import run
from simulators.partijen import DNS_CONTROL_PORT
from simulators.resolver.unbound import Unbound
from simulators.wachten import StartupDeadline

#: How long the dns role may take to come up on an idle machine (stretched by the load).
DNS_STARTUP = 30.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="simulators.resolver", description="gesimuleerde partij: de validerende resolver")
    p.add_argument("--keten", required=True, help="ketenbestand of ingebouwde keten")
    p.add_argument("--control-port", type=int, default=DNS_CONTROL_PORT,
                   help="poort van de besturings-API (van deze resolver én van de dns-rol)")
    p.add_argument("--token-bestand", type=Path, required=True, help="bestand met het geheime token van de besturings-API")
    return p.parse_args(argv)


def fetch_anchor(url: str, token: str, token_file: Path, deadline: StartupDeadline) -> tuple[str, str]:
    """Root hints and trust anchor from the dns role at ``url``; waits while
    it is still starting (connection refused), at most the deadline."""
    with httpx.Client(timeout=10.0, trust_env=False, headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            try:
                response = client.get(f"{url}/anker")
                break
            except httpx.TransportError as e:
                if deadline.left() <= 0:
                    raise InfrastructureError(f"resolver: de dns-rol op {url} antwoordt niet na {deadline.describe()} ({e})",
                                              "start eerst de dns-rol; zie haar log") from None
                time.sleep(0.2)
    if response.status_code == 401:
        raise InfrastructureError(f"resolver: de dns-rol op {url} weigert het token uit {token_file}",
                                  "geef de resolver hetzelfde tokenbestand als de dns-rol (--token-bestand)")
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200 or not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) and data[k] for k in ("root_hints", "trust_anchor")):
        raise InfrastructureError(f"resolver: de dns-rol op {url} gaf geen anker (status {response.status_code}: "
                                  f"{response.text[:200]})", "controleer of op dat adres de dns-rol van deze keten draait")
    return data["root_hints"], data["trust_anchor"]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    keten = load_keten(args.keten)
    token = read_token(args.token_bestand)
    dns_url = f"http://{keten.dns.root_ip}:{args.control_port}"
    hints, anchor = fetch_anchor(dns_url, token, args.token_bestand, StartupDeadline(DNS_STARTUP))
    # Unbound works in its own temporary folder (also as a non-root user in a container).
    with Unbound(keten.dns.resolver_ip, hints, anchor) as unbound:
        routes = {
            ("GET", "/status"): lambda params: {"rol": "resolver", "ip": keten.dns.resolver_ip, "dns": dns_url},
            ("POST", "/leeg"): lambda body: (unbound.flush(), {"geleegd": True})[1],
        }
        serve_until_stopped(ControlServer(keten.dns.resolver_ip, args.control_port, routes, token))


if __name__ == "__main__":
    run(main)
