"""An authoritative DNS server for the simulated zones, on loopback, UDP and TCP.

Each zone is served on its own address, as on the real internet, so the
resolver walks root -> TLD -> domain through referrals. Written by hand on
dnspython messages: no maintained Python library serves signed zones with
NSEC denial (dnspython has no server; see tests/nanonameserver.py there).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import socket
import struct
import threading
from collections.abc import Callable

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone

from ketentest.errors import InfrastructureError
from simulators.wachten import StartupDeadline

log = logging.getLogger("ketentest.dns")
RRSIG = dns.rdatatype.RRSIG
NSEC = dns.rdatatype.NSEC


def _rrset(zone: dns.zone.Zone, name: dns.name.Name, rdtype: int, covers: int = 0) -> dns.rrset.RRset | None:
    rds = zone.get_rdataset(name, rdtype, covers)
    if rds is None:
        return None
    rrset = dns.rrset.RRset(name, rds.rdclass, rds.rdtype, rds.covers)
    rrset.update(rds)
    return rrset


def _with_sigs(zone: dns.zone.Zone, name: dns.name.Name, rdtype: int, dnssec: bool) -> list[dns.rrset.RRset]:
    out = []
    rrset = _rrset(zone, name, rdtype)
    if rrset is not None:
        out.append(rrset)
        if dnssec:
            sig = _rrset(zone, name, RRSIG, rdtype)
            if sig is not None:
                out.append(sig)
    return out


class Answerer:
    """Builds the response for one query from one zone snapshot."""

    def __init__(self, zone: dns.zone.Zone) -> None:
        self.zone = zone
        self.origin = zone.origin
        self.signed = zone.get_rdataset(zone.origin, dns.rdatatype.DNSKEY) is not None
        self.nsec_owners = sorted(n for n, node in zone.nodes.items() if node.get_rdataset(dns.rdataclass.IN, NSEC) is not None) if self.signed else []

    def covering_nsec(self, name: dns.name.Name) -> dns.name.Name | None:
        """The NSEC owner whose span covers name (canonical order)."""
        if not self.nsec_owners:
            return None
        i = bisect.bisect_right(self.nsec_owners, name) - 1
        return self.nsec_owners[i] if i >= 0 else self.nsec_owners[-1]

    def cut(self, qname: dns.name.Name) -> dns.name.Name | None:
        """The highest delegation point between the origin and qname (inclusive)."""
        labels = qname.relativize(self.origin).labels
        for i in range(len(labels) - 1, -1, -1):
            name = dns.name.Name(labels[i:]).derelativize(self.origin)
            if self.zone.get_rdataset(name, dns.rdatatype.NS) is not None:
                return name
        return None

    def answer(self, query: dns.message.Message, response: dns.message.Message) -> None:
        q = query.question[0]
        qname, qtype = q.name, q.rdtype
        do = bool(query.ednsflags & dns.flags.DO) and self.signed
        cut = self.cut(qname)
        if cut is not None and not (qtype == dns.rdatatype.DS and cut == qname):
            self.referral(cut, response, do)
            return
        response.flags |= dns.flags.AA
        node = self.zone.get_node(qname)
        if node is not None and len(node.rdatasets) > 0:
            found = _with_sigs(self.zone, qname, qtype, do)
            if not found and qtype != dns.rdatatype.CNAME:
                found = _with_sigs(self.zone, qname, dns.rdatatype.CNAME, do)
            if found:
                response.answer += found
                return
            self.nodata(qname, response, do, exact=True)
            return
        if any(n.is_subdomain(qname) for n in self.zone.nodes):  # empty non-terminal
            self.nodata(qname, response, do, exact=False)
            return
        self.nxdomain(qname, response, do)

    def soa(self, response: dns.message.Message, do: bool) -> None:
        response.authority += _with_sigs(self.zone, self.origin, dns.rdatatype.SOA, do)

    def add_nsec(self, owner: dns.name.Name | None, response: dns.message.Message) -> None:
        if owner is None:
            return
        for rrset in _with_sigs(self.zone, owner, NSEC, True):
            if rrset not in response.authority:
                response.authority.append(rrset)

    def nodata(self, qname: dns.name.Name, response: dns.message.Message, do: bool, exact: bool) -> None:
        self.soa(response, do)
        if do:
            self.add_nsec(qname if exact else self.covering_nsec(qname), response)

    def nxdomain(self, qname: dns.name.Name, response: dns.message.Message, do: bool) -> None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        self.soa(response, do)
        if do:
            self.add_nsec(self.covering_nsec(qname), response)
            encloser = qname.parent()
            while encloser != self.origin and self.zone.get_node(encloser) is None:
                encloser = encloser.parent()
            self.add_nsec(self.covering_nsec(dns.name.Name(("*",)).concatenate(encloser)), response)

    def referral(self, cut: dns.name.Name, response: dns.message.Message, do: bool) -> None:
        ns = _rrset(self.zone, cut, dns.rdatatype.NS)
        response.authority.append(ns)
        if do:
            ds = _with_sigs(self.zone, cut, dns.rdatatype.DS, True)
            if ds:
                response.authority += ds
            else:
                self.add_nsec(cut, response)  # proves the child is unsigned
        for rd in ns:
            glue = _rrset(self.zone, rd.target, dns.rdatatype.A)
            if glue is not None:
                response.additional.append(glue)


def respond(wire: bytes, zones_at_address: Callable[[], list[dns.zone.Zone]], max_udp: int | None) -> bytes | None:
    """Answer one wire-format query; max_udp None means TCP."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None  # not DNS: drop, like a real server
    response = dns.message.make_response(query)
    response.flags &= ~dns.flags.RA
    if len(query.question) != 1 or query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.FORMERR if len(query.question) != 1 else dns.rcode.NOTIMP)
        return response.to_wire()
    qname = query.question[0].name
    best = None
    for zone in zones_at_address():
        if qname.is_subdomain(zone.origin) and (best is None or len(zone.origin) > len(best.origin)):
            best = zone
    if best is None:
        response.set_rcode(dns.rcode.REFUSED)
    else:
        try:
            Answerer(best).answer(query, response)
        except Exception:  # a bug here must not silence the server
            log.exception("fout bij beantwoorden van %s", query.question[0])
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
    if max_udp is None:
        return response.to_wire(max_size=65535)
    limit = max(512, query.payload) if query.edns >= 0 else 512
    try:
        return response.to_wire(max_size=min(limit, max_udp))
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.TC | (response.flags & dns.flags.AA)
        return truncated.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, zones: Callable[[], list[dns.zone.Zone]]) -> None:
        self.zones = zones

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        out = respond(data, self.zones, 4096)
        if out is not None:
            self.transport.sendto(out, addr)


class AuthoritativeServer:
    """Serves zone snapshots on (ip, port) for UDP and TCP; a context manager.

    Sockets are bound before the thread starts, so an address clash is a clear
    error in the caller's thread.
    """

    def __init__(self, bindings: dict[str, Callable[[], list[dns.zone.Zone]]], port: int = 53) -> None:
        self.bindings = bindings
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._sockets: list[tuple[str, socket.socket, socket.socket]] = []

    def _bind(self) -> None:
        for ip in self.bindings:
            try:
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                udp.bind((ip, self.port))
                tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((ip, self.port))
                tcp.listen(64)
            except PermissionError:
                self.close()
                raise InfrastructureError(
                    f"geen toestemming om DNS-poort {self.port} op {ip} te openen",
                    "draai de ketentest als root (of geef python CAP_NET_BIND_SERVICE)",
                ) from None
            except OSError as e:
                self.close()
                raise InfrastructureError(
                    f"adres {ip}:{self.port} is al in gebruik ({e.strerror})",
                    "stop het andere proces op dat adres, of kies in het ketenbestand een ander 127.x.y.z-adres",
                ) from None
            self._sockets.append((ip, udp, tcp))

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, zones) -> None:
        try:
            while True:
                header = await reader.readexactly(2)
                wire = await reader.readexactly(struct.unpack("!H", header)[0])
                out = respond(wire, zones, None)
                if out is None:
                    break
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> "AuthoritativeServer":
        self._bind()
        ready = threading.Event()

        async def start() -> None:
            for ip, udp, tcp in self._sockets:
                zones = self.bindings[ip]
                await self._loop.create_datagram_endpoint(lambda z=zones: _Udp(z), sock=udp)
                await asyncio.start_server(lambda r, w, z=zones: self._serve_tcp(r, w, z), sock=tcp)
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.create_task(start())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="sim-dns", daemon=True)
        self._thread.start()
        deadline = StartupDeadline(10.0)  # the bound grows with the machine's load
        while not ready.wait(min(max(deadline.left(), 0.0), 1.0)):
            if deadline.left() <= 0:
                self.close()
                raise InfrastructureError(f"de gesimuleerde DNS-server kwam niet op binnen {deadline.describe()}",
                                          "zie de log; start opnieuw")
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._thread = None
        for _, udp, tcp in self._sockets:
            udp.close()
            tcp.close()
        self._sockets.clear()

    def __exit__(self, *exc) -> None:
        self.close()
