"""The keten (chain) as frozen values: deelnemers, their mail domains and zones.

Built from a keten file by :mod:`ketentest.config`; everything else reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

#: Reserved top-level domains (RFC 2606/6761): a simulated name can never
#: reach a real domain.
RESERVED_TLDS = ("test", "example", "invalid")


class Rol(str, Enum):
    POLITIE = "politie"
    MELDPUNT = "meldpunt"


@dataclass(frozen=True)
class Host:
    """A named host with its own loopback address."""

    name: str  # fully qualified, no trailing dot
    ip: str


class Certificaat(str, Enum):
    """The certificate an MX host presents (keten key ``certificaat``); all
    but VALID are deliberately broken worlds. The values are the keten words."""

    VALID = "geldig"
    EXPIRED = "verlopen"
    WRONG_NAME = "verkeerde-naam"
    SELF_SIGNED = "zelfondertekend"
    LEAF_ONLY = "alleen-blad"  # the leaf without its intermediate
    NEW_KEY = "nieuwe-sleutel"  # replaced by a new key; TLSA not updated
    OTHER_CA = "andere-ca"
    REPLACED = "vervangen"  # a new key from another CA


@dataclass(frozen=True)
class MxHost(Host):
    preference: int = 10
    #: What the host offers: see :class:`Certificaat`, ketentest.policy.PROFILES, STARTTLS at all.
    certificate: Certificaat = Certificaat.VALID
    tls: str = "ncsc-goed"
    starttls: bool = True


@dataclass(frozen=True)
class DkimKeySpec:
    selector: str
    algorithm: str  # "rsa" | "ed25519"
    bits: int = 0  # RSA modulus size; 0 for ed25519


@dataclass(frozen=True)
class TlsaSpec:
    usage: int
    selector: int
    matching: int

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.matching}"


@dataclass(frozen=True)
class ExtraRecord:
    """A free-form record: owner name (absolute), TTL, type and rdata text."""

    name: str
    ttl: int
    rdtype: str
    rdata: str

    def __str__(self) -> str:
        return f"{self.name}. {self.ttl} IN {self.rdtype} {self.rdata}"


class DsState(str, Enum):
    """What the parent zone publishes for a signed zone (keten key ``dnssec.ds_in_ouder``)."""

    PUBLISHED = "ja"  # a DS matching the zone's KSK: secure
    ABSENT = "nee"  # none: a signed island, insecure
    BROKEN = "kapot"  # a DS matching no key (botched rollover): bogus


class Signatures(str, Enum):
    """The zone's RRSIG validity (keten key ``dnssec.handtekeningen``)."""

    VALID = "geldig"
    EXPIRED = "verlopen"  # expired a week ago: bogus
    NOT_YET_VALID = "nog-niet-geldig"  # inception a week ahead: bogus


@dataclass(frozen=True)
class Signing:
    """How a signed zone is signed and anchored; the default is healthy."""

    algorithm: int = 13  # ECDSAP256SHA256; one of ketentest.policy.DNSSEC_ALGORITHMS
    ds: DsState = DsState.PUBLISHED
    signatures: Signatures = Signatures.VALID


@dataclass(frozen=True)
class Zone:
    """A DNS zone served by the simulated internet."""

    name: str  # no trailing dot; "" is the root
    dns_ip: str
    dnssec: bool = True
    records: tuple[ExtraRecord, ...] = ()
    signing: Signing = Signing()


@dataclass(frozen=True)
class MailDomain:
    """A deelnemer's mail domain and its DNS / mail-security profile."""

    name: str
    dns_ip: str
    dnssec: bool
    mx: tuple[MxHost, ...]
    senders: tuple[Host, ...]
    spf: str | None
    dmarc: str | None
    dkim: tuple[DkimKeySpec, ...]
    tlsa: tuple[TlsaSpec, ...]
    records: tuple[ExtraRecord, ...] = ()
    signing: Signing = Signing()

    @property
    def null_mx(self) -> bool:
        """No MX host: the domain receives no mail and publishes ``MX 0 .`` (RFC 7505)."""
        return not self.mx

    @property
    def zone(self) -> Zone:
        return Zone(self.name, self.dns_ip, self.dnssec, self.records, self.signing)


@dataclass(frozen=True)
class ImapToegang:
    """A real mailbox the harness reads over IMAP with TLS (issue 15): what a
    real deelnemer received, or its replies when it can only mail a normal
    address. The password is never in the keten file, only a file name."""

    host: str  # the name the server's certificate carries
    ip: str | None = None  # connect here instead of resolving ``host``
    port: int = 993
    gebruiker: str = ""
    wachtwoord_bestand: str = ""
    map: str = "INBOX"
    ca_bestand: str | None = None  # trust these CAs instead of the system's


@dataclass(frozen=True)
class Echt:
    """A real (not simulated) deelnemer (keten key ``echt``): the harness
    starts no simulator for it, mails only the addresses on the allowlist,
    and judges it only on what it can observe."""

    toegestane_adressen: frozenset[str]  # the only recipients mail may go to (lower case)
    imap: ImapToegang | None = None
    max_per_uur: int = 20  # real sends per hour to this deelnemer
    resolver: str | None = None  # a resolver the coordinator names; None: a local Unbound, real root anchor


@dataclass(frozen=True)
class Deelnemer:
    id: str
    naam: str
    rol: Rol
    adres: str  # mailbox: the police reply address, or the meldpunt's inbox
    domain: MailDomain
    werkgebied: frozenset[str] = frozenset()  # CBS gemeentecodes (meldpunt only)
    echt: Echt | None = None  # None: simulated by the harness

    @property
    def simulated(self) -> bool:
        return self.echt is None


@dataclass(frozen=True)
class Aannames:
    """The protocol's [aanname] values, configurable per keten."""

    max_pdf_bytes: int = 10 * 1024 * 1024
    bevestiging_minuten: int = 15
    terugkoppeling_werkdagen: int = 5
    herhalen_uren: int = 24
    onbestelbaar_melden_minuten: int = 15

    def as_dutch(self) -> dict[str, str]:
        """Labelled values, for reports."""
        return {
            "Maximale grootte PDF": f"{self.max_pdf_bytes // (1024 * 1024)} MB",
            "Ontvangstbevestiging binnen": f"{self.bevestiging_minuten} minuten",
            "Terugkoppeling binnen": f"{self.terugkoppeling_werkdagen} werkdagen",
            "Herhalen bij tijdelijke fout": f"{self.herhalen_uren} uur",
            "Melding onbestelbaar aan agent binnen": f"{self.onbestelbaar_melden_minuten} minuten",
        }


@dataclass(frozen=True)
class DnsLayout:
    root_ip: str = "127.53.0.1"
    resolver_ip: str = "127.53.53.53"
    tld_ips: tuple[tuple[str, str], ...] = ()  # (tld, ip); others are allocated


@dataclass(frozen=True)
class Keten:
    naam: str
    beschrijving: str
    source: str  # file path, or "ingebouwd:<naam>"
    politie: Deelnemer
    meldpunten: tuple[Deelnemer, ...]
    zones: tuple[Zone, ...] = ()
    aannames: Aannames = field(default_factory=Aannames)
    dns: DnsLayout = field(default_factory=DnsLayout)

    @property
    def deelnemers(self) -> tuple[Deelnemer, ...]:
        return (self.politie, *self.meldpunten)

    def deelnemer(self, key: str) -> Deelnemer:
        """Find a deelnemer by id, name or mail domain."""
        for d in self.deelnemers:
            if key in (d.id, d.naam, d.domain.name):
                return d
        known = ", ".join(d.id for d in self.deelnemers)
        raise KeyError(f"onbekende deelnemer {key!r}; bekend: {known}")

    @property
    def all_zones(self) -> tuple[Zone, ...]:
        """Every non-TLD, non-root zone: deelnemers' domains plus extra zones."""
        return tuple(d.domain.zone for d in self.deelnemers) + self.zones
