"""The simulated DNS tree: zones built from the keten, signed with dnspython.

One :class:`SimZone` per zone (root, each TLD, each domain), each with its own
keys (of the zone's algorithm) and its own server address. :class:`ZoneTree`
builds them from a list of records, signs children before parents (DS), and
applies the changes that scenarios inject: records added or removed,
signatures expired, a broken DS, a zone served unsigned. A keten file can ask
for the same worlds from the start (:meth:`SigningState.from_keten`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import dns.dnssec
import dns.name
import dns.node
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ketentest.errors import KetenConfigError
from ketentest.model import DsState, Signatures, Signing

ALGORITHM = dns.dnssec.Algorithm.ECDSAP256SHA256
#: RSA modulus for RSA-signed zones (RSASHA1, RSASHA256, RSASHA512).
RSA_BITS = 2048
SIG_LIFETIME = 30 * 24 * 3600
#: Expired / not-yet-valid signatures: a week past either edge, beyond
#: Unbound's clock-skew allowance (at most a day by default).
EXPIRED_WINDOW = (-40 * 24 * 3600, -7 * 24 * 3600)
FUTURE_WINDOW = (7 * 24 * 3600, 40 * 24 * 3600)
TTL = 3600
NEGATIVE_TTL = 60
#: A zone built again from the same inputs within this many seconds is served as it was (not signed again).
REUSE_SECONDS = 600
_now = time.time  # the age of a build (a test moves it)


@dataclass(frozen=True)
class Record:
    """One authoritative record: absolute owner name, TTL, type, rdata text."""

    name: str
    rdtype: str
    rdata: str
    ttl: int = TTL

    @property
    def owner(self) -> dns.name.Name:
        return dns.name.from_text(self.name)

    def to_rdata(self, origin: dns.name.Name) -> dns.rdata.Rdata:
        return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(self.rdtype), self.rdata, origin=origin, relativize=False)


@dataclass
class SigningState:
    """How a zone is signed right now; scenarios change these to inject defects."""

    signed: bool = True
    # Seconds relative to now; expired signatures have both in the past.
    inception: int = -3600
    expiration: int = SIG_LIFETIME
    ds_broken: bool = False  # the parent publishes a DS that matches no key
    ds_published: bool = True  # False: the parent publishes no DS (a signed island: insecure)
    algorithm: int = int(ALGORITHM)

    @classmethod
    def from_keten(cls, signed: bool, signing: Signing = Signing()) -> "SigningState":
        """The state a keten file describes (``dnssec: false`` or its mapping)."""
        window = {Signatures.VALID: (-3600, SIG_LIFETIME), Signatures.EXPIRED: EXPIRED_WINDOW,
                  Signatures.NOT_YET_VALID: FUTURE_WINDOW}[signing.signatures]
        return cls(signed=signed, inception=window[0], expiration=window[1],
                   ds_broken=signing.ds is DsState.BROKEN, ds_published=signing.ds is not DsState.ABSENT,
                   algorithm=signing.algorithm)


@dataclass
class SimZone:
    origin: dns.name.Name
    ip: str
    ns_name: dns.name.Name
    state: SigningState
    records: list[Record] = field(default_factory=list)
    ksk: tuple = ()
    zsk: tuple = ()
    served: dns.zone.Zone | None = None  # the zone as served now (signed or not)
    _stray_ksk: tuple = ()  # the key a broken DS points at

    def ensure_keys(self) -> None:
        """Keys for the state's algorithm (made again when the algorithm changes)."""
        if not self.ksk or self.ksk[1].algorithm != self.state.algorithm:
            self.ksk, self.zsk = make_key(257, self.state.algorithm), make_key(256, self.state.algorithm)
            self._stray_ksk = ()

    @property
    def label(self) -> str:
        return self.origin.to_text(omit_final_dot=True) or "."

    def ds_rdata(self) -> list[dns.rdata.Rdata]:
        """The DS the parent should publish (empty when unsigned)."""
        if not self.state.signed or not self.state.ds_published:
            return []
        self.ensure_keys()
        if self.state.ds_broken:
            # A DS for a key the zone does not have (a botched key rollover).
            if not self._stray_ksk:
                self._stray_ksk = make_key(257, self.state.algorithm)
            return [dns.dnssec.make_ds(self.origin, self._stray_ksk[1], "SHA256")]
        return [dns.dnssec.make_ds(self.origin, self.ksk[1], "SHA256")]


def make_key(flags: int, algorithm: int = ALGORITHM) -> tuple:
    """A fresh private key and its DNSKEY for one of ketentest.policy.DNSSEC_ALGORITHMS."""
    alg = dns.dnssec.Algorithm(algorithm)
    if alg in (dns.dnssec.Algorithm.RSASHA1, dns.dnssec.Algorithm.RSASHA1NSEC3SHA1, dns.dnssec.Algorithm.RSASHA256,
               dns.dnssec.Algorithm.RSASHA512):
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    elif alg is dns.dnssec.Algorithm.ECDSAP256SHA256:
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg is dns.dnssec.Algorithm.ECDSAP384SHA384:
        private = ec.generate_private_key(ec.SECP384R1())
    elif alg is dns.dnssec.Algorithm.ED25519:
        private = ed25519.Ed25519PrivateKey.generate()
    elif alg is dns.dnssec.Algorithm.ED448:
        private = ed448.Ed448PrivateKey.generate()
    else:
        raise ValueError(f"DNSSEC-algoritme {algorithm} wordt niet ondersteund")
    return private, dns.dnssec.make_dnskey(private.public_key(), alg, flags=flags)


def zone_of(name: dns.name.Name, origins: list[dns.name.Name]) -> dns.name.Name | None:
    """The deepest zone origin that contains name."""
    best = None
    for o in origins:
        if name.is_subdomain(o) and (best is None or len(o) > len(best)):
            best = o
    return best


class ZoneTree:
    """All simulated zones and their signing; thread-safe snapshot swaps.

    ``zones`` maps origin -> SimZone. The server reads ``SimZone.served``, which
    is replaced (never mutated) on every change.
    """

    def __init__(self, zones: dict[str, tuple[str, bool | SigningState]], records: list[Record]) -> None:
        """zones: label ("" for root) -> (server ip, signed or a SigningState)."""
        self._lock = threading.RLock()
        self._built: dict[dns.name.Name, tuple[tuple, float]] = {}  # origin -> (inputs of its last build, when)
        self._children: dict[dns.name.Name, list[SimZone]] | None = None  # origin -> child zones (see children())
        self._ns_home: dict[dns.name.Name, dns.name.Name | None] | None = None  # origin -> zone holding its NS name
        self.zones: dict[dns.name.Name, SimZone] = {}
        for label, (ip, signing) in zones.items():
            origin = dns.name.from_text(label) if label else dns.name.root
            ns = dns.name.from_text("a.root-servers.test.") if origin == dns.name.root else dns.name.from_text("ns1", origin)
            state = signing if isinstance(signing, SigningState) else SigningState(signed=signing)
            self.zones[origin] = SimZone(origin, ip, ns, state)
            self.zones[origin].ensure_keys()
        origins = list(self.zones)
        # Every zone's name server needs an address record somewhere.
        records = [*records, *(Record(z.ns_name.to_text(), "A", z.ip) for z in self.zones.values())]
        for r in records:
            home = zone_of(r.owner, origins)
            if home is None:
                raise KetenConfigError("(keten)", r.name, "record ligt buiten elke zone", "voeg de zone toe of gebruik een naam binnen een zone")
            self.zones[home].records.append(r)
        self._baseline = {o: (list(z.records), SigningState(**vars(z.state))) for o, z in self.zones.items()}
        self.rebuild_all()

    def reset(self) -> None:
        """Undo every injected change: the zones as the keten describes them."""
        with self._lock:
            for origin, (records, state) in self._baseline.items():
                self.zones[origin].records = list(records)
                self.zones[origin].state = SigningState(**vars(state))
            self.rebuild_all()

    # -- structure --------------------------------------------------------
    def parent(self, origin: dns.name.Name) -> SimZone | None:
        if origin == dns.name.root:
            return None
        home = zone_of(origin.parent(), list(self.zones))
        return self.zones[home] if home is not None else None

    def children(self, origin: dns.name.Name) -> list[SimZone]:
        # The set of zones is fixed after __init__: the tree is computed once
        # (every build asks; scanning all zones per zone was O(n^2) on a national keten).
        if self._children is None:
            tree: dict[dns.name.Name, list[SimZone]] = {}
            for z in self.zones.values():
                p = self.parent(z.origin)
                if p is not None and p.origin != z.origin:
                    tree.setdefault(p.origin, []).append(z)
            self._children = tree
        return list(self._children.get(origin, ()))

    def zone_for(self, name: str | dns.name.Name) -> SimZone:
        qname = dns.name.from_text(name) if isinstance(name, str) else name
        home = zone_of(qname, list(self.zones))
        if home is None:
            raise KeyError(f"{qname} ligt in geen enkele zone")
        return self.zones[home]

    def _glue_records(self, zone: SimZone) -> list[Record]:
        """NS + DS for each child, and glue for NS names below the cut."""
        out: list[Record] = []
        for child in self.children(zone.origin):
            cname = child.origin.to_text()
            out.append(Record(cname, "NS", child.ns_name.to_text()))
            out += [Record(cname, "DS", ds.to_text()) for ds in child.ds_rdata()]
        # Address records for name servers that live below a cut (glue), incl. our own.
        if self._ns_home is None:  # fixed after __init__, like the tree
            origins = list(self.zones)
            self._ns_home = {z.origin: zone_of(z.ns_name, origins) for z in self.zones.values()}
        for z in self.zones.values():
            if z.ns_name.is_subdomain(zone.origin) and self._ns_home[z.origin] != zone.origin:
                out.append(Record(z.ns_name.to_text(), "A", z.ip))
        return out

    def _build(self, zone: SimZone) -> dns.zone.Zone:
        """The zone as served: its records, glue and DS of its children,
        signed per its state. Signing is most of a keten reset's work and a
        reset rebuilds every zone, so a zone whose inputs are the same as at
        its last build (and whose signatures were made less than
        REUSE_SECONDS ago) is served as it was."""
        glue = self._glue_records(zone)
        if zone.state.signed:
            zone.ensure_keys()
        inputs = (tuple(zone.records), tuple(glue), tuple(sorted(vars(zone.state).items())),
                  tuple(k[1].to_text() for k in (zone.ksk, zone.zsk) if k) if zone.state.signed else ())
        built = self._built.get(zone.origin)
        if zone.served is not None and built and built[0] == inputs and _now() - built[1] < REUSE_SECONDS:
            return zone.served
        served = self._sign(zone, glue)
        self._built[zone.origin] = (inputs, _now())
        return served

    def _sign(self, zone: SimZone, glue: list[Record]) -> dns.zone.Zone:
        origin = zone.origin
        zone_obj = dns.zone.Zone(origin, relativize=False)
        with zone_obj.writer() as txn:
            soa = dns.rdata.from_text(
                dns.rdataclass.IN, dns.rdatatype.SOA,
                f"{zone.ns_name} hostmaster.{origin.to_text() if origin != dns.name.root else 'root-servers.test.'} "
                f"{int(time.time())} 3600 900 604800 {NEGATIVE_TTL}",
            )
            txn.add(origin, TTL, soa)
            txn.add(origin, TTL, dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.NS, zone.ns_name.to_text()))
            for r in [*zone.records, *glue]:
                txn.add(r.owner, r.ttl, r.to_rdata(origin))
        if zone.state.signed:
            zone.ensure_keys()
            now = int(time.time())
            dns.dnssec.sign_zone(
                zone_obj,
                keys=[zone.ksk, zone.zsk],
                inception=now + zone.state.inception,
                expiration=now + zone.state.expiration,
                dnskey_ttl=TTL,
            )
        return zone_obj

    def rebuild_all(self) -> None:
        with self._lock:
            # Children before parents, so each parent sees its children's DS.
            for zone in sorted(self.zones.values(), key=lambda z: -len(z.origin)):
                zone.served = self._build(zone)

    def rebuild(self, zone: SimZone, parent_too: bool = False) -> None:
        with self._lock:
            zone.served = self._build(zone)
            parent = self.parent(zone.origin)
            if parent_too and parent is not None:
                parent.served = self._build(parent)

    # -- changes scenarios inject ----------------------------------------
    def add(self, name: str, rdtype: str, rdata: str, ttl: int = TTL) -> None:
        with self._lock:
            zone = self.zone_for(name)
            zone.records.append(Record(dns.name.from_text(name).to_text(), rdtype.upper(), rdata, ttl))
            self.rebuild(zone)

    def remove(self, name: str, rdtype: str, contains: str | None = None) -> int:
        """Remove records of a type at a name (optionally only those whose rdata
        contains a text); returns how many were removed."""
        with self._lock:
            zone = self.zone_for(name)
            owner = dns.name.from_text(name)
            keep, gone = [], 0
            for r in zone.records:
                if r.owner == owner and r.rdtype == rdtype.upper() and (contains is None or contains in r.rdata):
                    gone += 1
                else:
                    keep.append(r)
            zone.records = keep
            self.rebuild(zone)
            return gone

    def replace(self, name: str, rdtype: str, rdatas: list[str], ttl: int = TTL) -> None:
        with self._lock:
            self.remove(name, rdtype)
            zone = self.zone_for(name)
            zone.records += [Record(dns.name.from_text(name).to_text(), rdtype.upper(), rd, ttl) for rd in rdatas]
            self.rebuild(zone)

    def set_signing(self, zone_name: str, **changes) -> None:
        """Change a zone's SigningState (signed, inception, expiration,
        ds_broken) and re-sign it and its parent."""
        with self._lock:
            zone = self.zones[dns.name.from_text(zone_name)]
            for k, v in changes.items():
                setattr(zone.state, k, v)
            self.rebuild(zone, parent_too=True)

    def expire_signatures(self, zone_name: str) -> None:
        self.set_signing(zone_name, inception=EXPIRED_WINDOW[0], expiration=EXPIRED_WINDOW[1])

    def break_ds(self, zone_name: str) -> None:
        self.set_signing(zone_name, ds_broken=True)

    def unsign(self, zone_name: str) -> None:
        self.set_signing(zone_name, signed=False)

    # -- for the resolver ---------------------------------------------------
    @property
    def root(self) -> SimZone:
        return self.zones[dns.name.root]

    def root_trust_anchor(self) -> str:
        """The root KSK as a DS, in zone-file form (Unbound's trust-anchor-file)."""
        ds = dns.dnssec.make_ds(dns.name.root, self.root.ksk[1], "SHA256")
        return f". {TTL} IN DS {ds.to_text()}\n"

    def root_hints(self) -> str:
        root = self.root
        return f". {TTL} IN NS {root.ns_name}\n{root.ns_name} {TTL} IN A {root.ip}\n"
