"""Which simulated parties a keten runs, and each one's command line.

One list for every way a keten is started, so they cannot disagree: the
process backend, the container backend and the generated compose file
(``ketentest compose``) all take their parties from :func:`keten_parties`.

    dns       the authoritative DNS of every simulated zone (signed)
    resolver  a real Unbound validating them, the only resolver parties use
    politie   the police's digitaal postkantoor
    <id>      one meldpunt per keten meldpunt

and, only while a scenario needs one, an attacker: ``stripper`` (a man in
the middle that hides STARTTLS, S05; :func:`stripper_party`).

Each party's role is a module run as ``python -m simulators.rol <role> ...``
(or ``python -m <module> ...`` by the process backend).
"""

from __future__ import annotations

from dataclasses import dataclass

from ketentest.model import Keten

#: role -> module whose main() runs it
ROLES = {
    "dns": "simulators.dns",
    "resolver": "simulators.resolver",
    "politie": "simulators.politie",
    "meldpunt": "simulators.meldpunt",
    "stripper": "simulators.aanvaller",
}

#: Port of the control API of the parties (on their first MX address) and of
#: the DNS roles (dns on the root server's address, resolver on its own).
PARTY_CONTROL_PORT = 8025
DNS_CONTROL_PORT = 8053


@dataclass(frozen=True)
class RunPaths:
    """Where a party finds the run's shared inputs, as the party sees them
    (host paths for processes; fixed paths inside a container)."""

    keten: str  # keten file, or the name of a built-in keten
    pki: str  # the simulated PKI's key cache (read-only for the parties)
    token: str  # the control API's secret (docs/besturings-api.md)
    data: str  # durable data: a folder per party below it, or the volume itself
    data_per_party: bool = True  # processes: data/<id>; containers: each its own volume at data

    def data_for(self, name: str) -> str:
        return f"{self.data}/{name}" if self.data_per_party else self.data


#: The paths inside a container (docker/Dockerfile; mounted by the backend and compose).
CONTAINER_PATHS = RunPaths(keten="/ketentest/keten.yaml", pki="/ketentest/pki", token="/ketentest/besturing.token",
                           data="/data", data_per_party=False)


@dataclass(frozen=True)
class PartySpec:
    name: str  # container / service / process name
    role: str  # key of ROLES
    args: tuple[str, ...]
    control_ip: str
    control_port: int

    @property
    def module(self) -> str:
        return ROLES[self.role]

    @property
    def control_url(self) -> str:
        return f"http://{self.control_ip}:{self.control_port}"


def dns_parties(keten: Keten, paths: RunPaths) -> list[PartySpec]:
    """The simulated internet: authority first, then the resolver (which
    fetches the root's trust anchor from the authority's control API)."""
    common = ("--keten", paths.keten, "--control-port", str(DNS_CONTROL_PORT), "--token-bestand", paths.token)
    return [
        PartySpec("dns", "dns", (*common, "--pki", paths.pki), keten.dns.root_ip, DNS_CONTROL_PORT),
        PartySpec("resolver", "resolver", common, keten.dns.resolver_ip, DNS_CONTROL_PORT),
    ]


def deelnemer_parties(keten: Keten, paths: RunPaths) -> list[PartySpec]:
    """The police postkantoor, then every meldpunt; a real (``echt``)
    deelnemer is not simulated, so it has no party here."""
    out = []
    for d, role in ((keten.politie, "politie"), *((m, "meldpunt") for m in keten.meldpunten)):
        if not d.simulated:
            continue
        args = ("--keten", paths.keten, "--id", d.id, "--data", paths.data_for(d.id), "--pki", paths.pki,
                "--control-port", str(PARTY_CONTROL_PORT), "--token-bestand", paths.token)
        out.append(PartySpec(d.id, role, args, d.domain.mx[0].ip, PARTY_CONTROL_PORT))
    return out


def keten_parties(keten: Keten, paths: RunPaths) -> list[PartySpec]:
    """Every party of a keten run, in start order."""
    return [*dns_parties(keten, paths), *deelnemer_parties(keten, paths)]


def stripper_party(ip: str, upstream: str, paths: RunPaths) -> PartySpec:
    """A STARTTLS-stripping man in the middle on ``ip`` in front of the MX at ``upstream``."""
    args = ("--ip", ip, "--upstream", upstream, "--control-port", str(PARTY_CONTROL_PORT), "--token-bestand", paths.token)
    return PartySpec(f"stripper-{ip.replace('.', '-')}", "stripper", args, ip, PARTY_CONTROL_PORT)
