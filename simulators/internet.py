"""The simulated internet of a keten: signed zones on their own loopback
addresses, an authoritative server, and a real Unbound validating them.

    with SimulatedInternet(keten, Pki()) as net:
        answer = net.resolver.lookup("ggdru.test", "MX")

Scenarios inject DNS defects through ``net.zones`` (a :class:`ZoneTree`) and
then call ``net.changed()`` so Unbound forgets what it cached.

:class:`InternetParties` has the same surface, with the authority and the
resolver running as their own parties (roles ``dns`` and ``resolver``:
processes or containers) driven over their control APIs.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Protocol

from ketentest.dane import tlsa_rdata
from ketentest.dns import Resolver
from ketentest.model import Keten, MailDomain
from simulators.dns.server import AuthoritativeServer
from simulators.dns.zones import TTL, Record, SigningState, ZoneTree
from simulators.partijen import PartySpec, RunPaths, dns_parties
from simulators.pki import Pki
from simulators.resolver.unbound import Unbound

#: (mx host name, TlsaSpec) -> TLSA rdata texts (one per certificate the host offers)
TlsaSource = Callable[[str, object], list[str]]
#: (domain, DkimKeySpec) -> DKIM TXT rdata text (quoted strings)
DkimSource = Callable[[str, object], str]


def domain_records(domain: MailDomain, tlsa: TlsaSource, dkim: DkimSource) -> list[Record]:
    """The records a mail domain's profile implies, plus its free-form extras."""
    name = domain.name
    out: list[Record] = []
    if domain.null_mx:
        out.append(Record(f"{name}.", "MX", "0 ."))  # RFC 7505: receives no mail
    for mx in domain.mx:
        out.append(Record(f"{name}.", "MX", f"{mx.preference} {mx.name}."))
        out.append(Record(f"{mx.name}.", "A", mx.ip))
        seen: set[str] = set()
        for spec in domain.tlsa:
            for rdata in tlsa(mx.name, spec):
                if rdata not in seen:
                    seen.add(rdata)
                    out.append(Record(f"_25._tcp.{mx.name}.", "TLSA", rdata))
    for host in domain.senders:
        out.append(Record(f"{host.name}.", "A", host.ip))
    if domain.spf is not None:
        out.append(Record(f"{name}.", "TXT", txt_rdata(domain.spf)))
    if domain.dmarc is not None:
        out.append(Record(f"_dmarc.{name}.", "TXT", txt_rdata(domain.dmarc)))
    for spec in domain.dkim:
        out.append(Record(f"{spec.selector}._domainkey.{name}.", "TXT", dkim(name, spec)))
    return out


def mail_domain_queries(domain: MailDomain) -> list[tuple[str, str]]:
    """The look-ups that the profile's records answer: MX, A, SPF, DMARC, DKIM, TLSA."""
    queries = [(domain.name, "MX")]
    for mx in domain.mx:
        queries.append((mx.name, "A"))
        if domain.tlsa:
            queries.append((f"_25._tcp.{mx.name}", "TLSA"))
    if domain.spf is not None:
        queries.append((domain.name, "TXT"))
    if domain.dmarc is not None:
        queries.append((f"_dmarc.{domain.name}", "TXT"))
    queries += [(f"{k.selector}._domainkey.{domain.name}", "TXT") for k in domain.dkim]
    return queries


def txt_rdata(value: str) -> str:
    """A TXT value as zone-file text, split in 255-byte strings."""
    raw = value.encode()
    chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join('"' + c.decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


def zone_layout(keten: Keten) -> dict[str, tuple[str, SigningState]]:
    """label -> (server ip, how it is signed) for root, every TLD and every zone."""
    layout: dict[str, tuple[str, SigningState]] = {"": (keten.dns.root_ip, SigningState())}
    fixed = dict(keten.dns.tld_ips)
    taken = {keten.dns.root_ip, keten.dns.resolver_ip, *fixed.values()}
    next_ip = ipaddress.IPv4Address(keten.dns.root_ip) + 1
    for zone in keten.all_zones:
        tld = zone.name.rsplit(".", 1)[-1]
        if tld not in layout:
            if tld not in fixed:
                while str(next_ip) in taken:
                    next_ip += 1
                fixed[tld] = str(next_ip)
                taken.add(str(next_ip))
            layout[tld] = (fixed[tld], SigningState())
        layout[zone.name] = (zone.dns_ip, SigningState.from_keten(zone.dnssec, zone.signing))
    return layout


def keten_records(keten: Keten, tlsa: TlsaSource, dkim: DkimSource) -> list[Record]:
    records: list[Record] = []
    for d in keten.deelnemers:
        records += domain_records(d.domain, tlsa, dkim)
    for zone in keten.all_zones:
        records += [Record(f"{r.name}.", r.rdtype, r.rdata, r.ttl) for r in zone.records]
    return records


def pki_sources(pki: Pki) -> tuple[TlsaSource, DkimSource]:
    """TLSA and DKIM record data from the simulated PKI."""

    def tlsa(host: str, spec) -> list[str]:
        return [tlsa_rdata(creds.chain_der, spec) for creds in pki.server_chains(host)]

    def dkim(domain: str, spec) -> str:
        return pki.dkim_key(domain, spec).txt_rdata

    return tlsa, dkim


def build_zone_tree(keten: Keten, pki: Pki) -> ZoneTree:
    """The keten's zones, signed, with TLSA and DKIM data from the PKI."""
    tlsa, dkim = pki_sources(pki)
    return ZoneTree(zone_layout(keten), keten_records(keten, tlsa, dkim))


def authoritative_server(zones: ZoneTree, port: int = 53) -> AuthoritativeServer:
    """A server for every zone of the tree, each on its own address."""
    bindings: dict[str, list] = {}
    for z in zones.zones.values():
        bindings.setdefault(z.ip, []).append(z)
    served = {ip: (lambda zs=zs: [z.served for z in zs]) for ip, zs in bindings.items()}
    return AuthoritativeServer(served, port)


def _lock_file() -> Path:
    """One lock per network namespace: runs in separate namespaces (unshare -n)
    have their own loopback and need not wait for each other."""
    try:
        ns = os.readlink("/proc/self/ns/net").replace(":", "-").strip("[]").replace("[", "")
    except OSError:
        ns = "net"
    return Path(tempfile.gettempdir()) / f"ketentest-keten-{ns}.lock"


@contextmanager
def machine_lock():
    """One simulated keten per machine at a time: the addresses are fixed.

    A second run waits for the first (flock: released even if the holder is
    killed) instead of failing on an address in use.
    """
    with open(_lock_file(), "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "onbekend"
            print(f"ketentest: wacht tot een andere ketentest klaar is (proces {holder})", file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass
class SimulatedInternet:
    keten: Keten
    pki: Pki
    dns_port: int = 53

    def __post_init__(self) -> None:
        self._stack = ExitStack()
        self.zones: ZoneTree | None = None
        self.unbound: Unbound | None = None
        self.resolver = Resolver(self.keten.dns.resolver_ip, self.dns_port)

    def __enter__(self) -> "SimulatedInternet":
        self._stack.enter_context(machine_lock())
        try:
            self.zones = build_zone_tree(self.keten, self.pki)
            self._stack.enter_context(authoritative_server(self.zones, self.dns_port))
            self.unbound = self._stack.enter_context(
                Unbound(self.keten.dns.resolver_ip, self.zones.root_hints(), self.zones.root_trust_anchor(), self.dns_port)
            )
        except BaseException:
            self._stack.close()
            raise
        return self

    def reset(self) -> None:
        """Back to the keten as described, caches flushed."""
        assert self.zones is not None
        self.zones.reset()
        self.changed()

    def changed(self) -> None:
        """Call after changing zones: Unbound forgets its cache."""
        assert self.unbound is not None
        self.unbound.flush()

    def __exit__(self, *exc) -> None:
        self._stack.close()


class PartyHandle(Protocol):
    """A started party as the backends give it (simulators.process.SimulatorProcess,
    the container backend's handle): its control API, and close()."""

    def get(self, path: str, **params) -> Any: ...

    def post(self, path: str, body: dict | None = None) -> Any: ...

    def close(self) -> None: ...


class ZonesOverApi:
    """:class:`ZoneTree`'s changes, sent to the ``dns`` role (``POST /zones``);
    the same method names and signatures, so steps and defects use either."""

    def __init__(self, dns_party: PartyHandle) -> None:
        self._dns = dns_party

    def _call(self, action: str, **args) -> Any:
        return self._dns.post("/zones", {"actie": action, **args})["resultaat"]

    def add(self, name: str, rdtype: str, rdata: str, ttl: int = TTL) -> None:
        self._call("add", name=name, rdtype=rdtype, rdata=rdata, ttl=ttl)

    def remove(self, name: str, rdtype: str, contains: str | None = None) -> int:
        return self._call("remove", name=name, rdtype=rdtype, contains=contains)

    def replace(self, name: str, rdtype: str, rdatas: list[str], ttl: int = TTL) -> None:
        # A tuple travels as a list; anything else as it is, for the role to refuse (a str is not split).
        rdatas = list(rdatas) if isinstance(rdatas, tuple) else rdatas
        self._call("replace", name=name, rdtype=rdtype, rdatas=rdatas, ttl=ttl)

    def expire_signatures(self, zone_name: str) -> None:
        self._call("expire_signatures", zone_name=zone_name)

    def break_ds(self, zone_name: str) -> None:
        self._call("break_ds", zone_name=zone_name)

    def unsign(self, zone_name: str) -> None:
        self._call("unsign", zone_name=zone_name)

    def reset(self) -> None:
        self._call("reset")

    def root_hints(self) -> str:
        return self._dns.get("/anker")["root_hints"]

    def root_trust_anchor(self) -> str:
        return self._dns.get("/anker")["trust_anchor"]


class InternetParties:
    """The simulated internet as two parties, the ``dns`` authority and the
    ``resolver`` (processes or containers, whatever ``start`` makes), with
    :class:`SimulatedInternet`'s surface: ``keten``, ``pki``, ``resolver``,
    ``zones``, ``changed()``, ``reset()``.

        start = lambda spec: SimulatorProcess(spec.name, spec.module, list(spec.args), token).__enter__()
        with InternetParties(keten, pki, paths, start) as net:
            net.zones.expire_signatures("politie.test")
            net.changed()
    """

    def __init__(self, keten: Keten, pki: Pki, paths: RunPaths, start: Callable[[PartySpec], PartyHandle]) -> None:
        self.keten, self.pki, self.paths = keten, pki, paths
        self._start = start
        self.resolver = Resolver(keten.dns.resolver_ip)
        self.dns_party: PartyHandle | None = None
        self.resolver_party: PartyHandle | None = None
        self.zones: ZonesOverApi | None = None
        self._stack = ExitStack()

    def __enter__(self) -> "InternetParties":
        self._stack.enter_context(machine_lock())
        try:
            dns_spec, resolver_spec = dns_parties(self.keten, self.paths)
            self.dns_party = self._started(dns_spec)
            self.zones = ZonesOverApi(self.dns_party)
            self.resolver_party = self._started(resolver_spec)
        except BaseException:
            self._stack.close()
            raise
        return self

    def _started(self, spec: PartySpec) -> PartyHandle:
        handle = self._start(spec)
        self._stack.callback(handle.close)
        return handle

    def reset(self) -> None:
        """Back to the keten as described, caches flushed."""
        assert self.zones is not None
        self.zones.reset()
        self.changed()

    def changed(self) -> None:
        """Call after changing zones: the resolver forgets its cache."""
        assert self.resolver_party is not None
        self.resolver_party.post("/leeg")

    def __exit__(self, *exc) -> None:
        self._stack.close()
        self.dns_party = self.resolver_party = self.zones = None
