"""DNS look-ups through a validating resolver (the keten's Unbound), with the
DNSSEC state of every answer.

The resolver does the validation; this module only reads its verdict: the AD
bit (secure), SERVFAIL with a DNSSEC Extended DNS Error or a CD-retry that
succeeds (bogus), or neither (insecure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

from ketentest.errors import InfrastructureError

#: Extended DNS Error codes that mean a DNSSEC failure (RFC 8914, 1 and 5-12).
DNSSEC_EDE = {1, 5, 6, 7, 8, 9, 10, 11, 12}


class DnssecState(str, Enum):
    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"
    ERROR = "error"  # the resolver could not get an answer at all (not a DNSSEC verdict)

    @property
    def dutch(self) -> str:
        return {"secure": "veilig (DNSSEC)", "insecure": "onbeveiligd", "bogus": "ongeldig (bogus)",
                "error": "geen antwoord"}[self.value]


@dataclass(frozen=True)
class ExtendedError:
    code: int
    text: str

    def __str__(self) -> str:
        return f"EDE {self.code}{': ' + self.text if self.text else ''}"


@dataclass(frozen=True)
class DnsAnswer:
    """One look-up: the records, how the resolver judged them, and the raw answer."""

    qname: str
    rdtype: str
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL, ...
    state: DnssecState
    records: tuple[str, ...] = ()  # rdata text of the answer RRset(s) of rdtype
    ede: tuple[ExtendedError, ...] = ()
    raw: str = field(default="", repr=False)  # the full response as text, for reports
    algorithms: tuple[int, ...] = ()  # DNSSEC algorithms of the RRSIGs in the answer and authority sections

    @property
    def exists(self) -> bool:
        return self.rcode == "NOERROR" and bool(self.records)

    @property
    def proven_absent(self) -> bool:
        """Secure NXDOMAIN or NODATA: the absence itself is DNSSEC-proven."""
        return self.state is DnssecState.SECURE and self.rcode in ("NXDOMAIN", "NOERROR") and not self.records

    def txt_strings(self) -> tuple[str, ...]:
        """TXT records joined per record (RFC 7208 3.3), unquoted."""
        return tuple(_join_txt(r) for r in self.records)

    def describe(self) -> str:
        base = f"{self.qname} {self.rdtype}: {self.rcode}, {self.state.dutch}"
        if self.ede:
            base += " (" + "; ".join(map(str, self.ede)) + ")"
        return base


def definite(answer: DnsAnswer) -> bool:
    """A definite answer: NOERROR or NXDOMAIN, secure or insecure."""
    return answer.rcode in ("NOERROR", "NXDOMAIN") and answer.state in (DnssecState.SECURE, DnssecState.INSECURE)


def why_not_definite(answer: DnsAnswer) -> str:
    """Dutch: why there is no definite answer (call only when not definite)."""
    where = f"{answer.qname} {answer.rdtype}"
    if answer.state is DnssecState.BOGUS:
        ede = "; ".join(map(str, answer.ede)) or "geen Extended DNS Error"
        return (f"{where}: DNSSEC-validatie mislukt (bogus, {ede}); de resolver geeft SERVFAIL, "
                "dus geen enkele verzender krijgt dit antwoord")
    if answer.rcode == "GEEN_ANTWOORD":
        return f"{where}: de resolver gaf geen antwoord ({answer.raw or 'onbekende fout'})"
    extra = f" ({'; '.join(map(str, answer.ede))})" if answer.ede else ""
    return f"{where}: de resolver gaf {answer.rcode}{extra} in plaats van een antwoord"


class Lookup(Protocol):
    def __call__(self, name: str, rdtype: str) -> DnsAnswer: ...


def _join_txt(rdata_text: str) -> str:
    import dns.rdata
    import dns.rdataclass

    rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, rdata_text)
    return b"".join(rd.strings).decode("utf-8", "replace")


@dataclass(frozen=True)
class Resolver:
    """A client of one validating resolver (address, port)."""

    address: str
    port: int = 53
    timeout: float = 5.0

    def _ask(self, qname: dns.name.Name, rdtype: int, cd: bool) -> dns.message.Message:
        q = dns.message.make_query(qname, rdtype, want_dnssec=True, use_edns=0, payload=1232)
        if cd:
            q.flags |= dns.flags.CD
        try:
            r = dns.query.udp(q, self.address, port=self.port, timeout=self.timeout)
            if r.flags & dns.flags.TC:
                r = dns.query.tcp(q, self.address, port=self.port, timeout=self.timeout)
        except (dns.exception.Timeout, OSError) as e:
            raise InfrastructureError(
                f"de resolver op {self.address}:{self.port} antwoordt niet ({e.__class__.__name__})",
                "controleer of de keten-DNS (Unbound) draait; start de ketentest opnieuw",
            ) from None
        return r

    def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        qname = dns.name.from_text(name)
        qtype = dns.rdatatype.from_text(rdtype)
        r = self._ask(qname, qtype, cd=False)
        rcode = dns.rcode.to_text(r.rcode())
        ede = tuple(ExtendedError(int(o.code), o.text or "") for o in r.options if isinstance(o, dns.edns.EDEOption))
        if r.rcode() == dns.rcode.SERVFAIL:
            # Bogus if Unbound says so in an EDE, or if the data is there once
            # validation is switched off (CD).
            state = DnssecState.ERROR
            if any(e.code in DNSSEC_EDE for e in ede):
                state = DnssecState.BOGUS
            elif self._ask(qname, qtype, cd=True).rcode() != dns.rcode.SERVFAIL:
                state = DnssecState.BOGUS
            return DnsAnswer(name, rdtype, rcode, state, (), ede, r.to_text())
        state = DnssecState.SECURE if r.flags & dns.flags.AD else DnssecState.INSECURE
        records = tuple(
            rd.to_text() for rrset in r.answer if rrset.rdtype == qtype for rd in rrset
        )
        algorithms = tuple(sorted({int(rd.algorithm) for rrset in (*r.answer, *r.authority)
                                   if rrset.rdtype == dns.rdatatype.RRSIG for rd in rrset}))
        return DnsAnswer(name, rdtype, rcode, state, records, ede, r.to_text(), algorithms)

    __call__ = lookup


def within(name: str, domain: str) -> bool:
    """``name`` is ``domain`` or a name below it (label-wise, case-insensitive)."""
    name, domain = name.rstrip(".").lower(), domain.rstrip(".").lower()
    return name == domain or name.endswith("." + domain)


@dataclass(frozen=True)
class SplitResolver:
    """A hybrid keten's resolver (issue 15): names in a real deelnemer's
    domain go to the live resolver (the real root, or a stand-in for it),
    every other name to the keten's own Unbound. A simulated party never
    asks the simulated root about a real domain, nor the internet about a
    simulated one."""

    simulated: Resolver
    live: Resolver
    live_domains: tuple[str, ...]

    def for_name(self, name: str) -> Resolver:
        return self.live if any(within(name, d) for d in self.live_domains) else self.simulated

    def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        return self.for_name(name).lookup(name, rdtype)

    __call__ = lookup  # a Lookup, like Resolver (the checks call it)


#: Set by the harness for a hybrid keten: "ip:port" of the live resolver the parties use for real domains.
LIVE_RESOLVER_ENV = "KETENTEST_LIVE_RESOLVER"


def live_domains(keten) -> tuple[str, ...]:
    """The mail domains of the keten's real deelnemers."""
    return tuple(d.domain.name for d in keten.deelnemers if d.echt is not None)


def keten_resolver(keten, live: tuple[str, int] | None = None) -> "Resolver | SplitResolver":
    """The resolver a party of ``keten`` uses: the keten's Unbound, split
    with the live resolver (``live``, else $KETENTEST_LIVE_RESOLVER) when the
    keten has real deelnemers and a live resolver is known."""
    import os

    simulated = Resolver(keten.dns.resolver_ip)
    domains = live_domains(keten)
    if live is None and domains and os.environ.get(LIVE_RESOLVER_ENV):
        host, _, port = os.environ[LIVE_RESOLVER_ENV].rpartition(":")
        live = (host.strip("[]"), int(port))
    if not domains or live is None:
        return simulated
    return SplitResolver(simulated, Resolver(*live), domains)
