"""MX resolution as a DANE sender does it, in one place for the sender
(:mod:`ketentest.delivery`) and the checks (B01, B05, B06), so the two can
never disagree about where mail for a domain goes.

* :func:`parse_mx`: the MX answer to the hosts by preference (RFC 5321 5.1:
  no MX records means the domain itself; RFC 7505: a null MX ``MX 0 .``).
* :func:`expand_cname`: an MX host name that is an alias, followed (RFC 2181
  10.3 forbids it, but senders follow it).
* :func:`lookup_tlsa`: the TLSA RRset that counts for an MX host (RFC 7672
  2.2.3): after a secure CNAME expansion first ``_25._tcp.<expanded name>``,
  then ``_25._tcp.<mx host>``.

A null MX next to real MX records is invalid (RFC 7505 3). What a sender
does with it follows the reference MTA: Postfix 3.7 (``src/dns/dns_lookup.c``,
``dns_get_answer()``) ends the whole MX look-up as ``DNS_NULLMX`` as soon as
any MX record has an empty exchange name, and ``src/smtp/smtp_addr.c``
bounces with 5.1.0 "Domain ... does not accept mail (nullMX)". So
:attr:`MxSet.null_mx` is true, mixed or not, and the sender refuses
permanently; the checks fail the mix (B01) and still test the real hosts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketentest.dns import DnsAnswer, DnssecState, Lookup, definite, why_not_definite

#: Longest CNAME chain followed (Postfix follows 10; a loop ends here too).
MAX_CNAME = 8


def norm(name: str) -> str:
    return name.lower().rstrip(".")


@dataclass(frozen=True)
class MxSet:
    """A domain's mail hosts as the MX answer gives them."""

    domain: str
    answer: DnsAnswer
    hosts: tuple[str, ...] = ()  # by preference, then name; duplicates removed
    preferences: tuple[tuple[int, str], ...] = ()
    null_mx: bool = False  # RFC 7505 "MX 0 ." (possibly mixed with others: see mixed_null)
    mixed_null: bool = False  # a null MX next to real MX records (invalid per RFC 7505)
    implicit: bool = False  # no MX records: the domain itself (RFC 5321 5.1)
    problem: str = ""  # Dutch, when the hosts cannot be known

    def tested(self, limit: int) -> tuple[str, ...]:
        return self.hosts[:limit]

    def untested(self, limit: int) -> tuple[str, ...]:
        return self.hosts[limit:]

    @property
    def ranked(self) -> tuple[tuple[int, str], ...]:
        """(preference, host) in the order a sender tries them, each host once."""
        seen: dict[str, int] = {}
        for pref, host in self.preferences:
            seen.setdefault(host, pref)
        return tuple((pref, host) for host, pref in seen.items())

    @property
    def null_mx_reason(self) -> str:
        """Dutch: why a sender delivers nothing here ("" when not a null MX)."""
        if not self.null_mx:
            return ""
        if self.mixed_null:
            return (f"{self.domain} publiceert een null MX (MX 0 .) naast gewone MX-records "
                    f"({', '.join(self.hosts)}); dat is ongeldig (RFC 7505, 3), en verzenders als Postfix "
                    "behandelen het domein dan als 'ontvangt geen mail'")
        return self.problem


def parse_mx(domain: str, answer: DnsAnswer) -> MxSet:
    """Pure: the MX set from an MX answer."""
    domain = norm(domain)
    if not definite(answer):
        return MxSet(domain, answer, problem=why_not_definite(answer))
    if answer.rcode == "NXDOMAIN":
        return MxSet(domain, answer, problem=f"het domein {domain} bestaat niet (NXDOMAIN)")
    prefs: list[tuple[int, str]] = []
    null = False
    for rdata in answer.records:
        parts = rdata.split()
        try:
            pref, exchange = int(parts[0]), norm(parts[1])
        except (IndexError, ValueError):
            continue
        if exchange == "":
            null = True
        else:
            prefs.append((pref, exchange))
    prefs.sort()
    hosts = tuple(dict.fromkeys(h for _, h in prefs))
    if null and not hosts:
        return MxSet(domain, answer, null_mx=True,
                     problem=f"{domain} publiceert een null MX (MX 0 ., RFC 7505): het domein ontvangt geen mail")
    if not answer.records:
        return MxSet(domain, answer, hosts=(domain,), preferences=((0, domain),), implicit=True)
    return MxSet(domain, answer, hosts=hosts, preferences=tuple(prefs), null_mx=null, mixed_null=null)


@dataclass(frozen=True)
class Expansion:
    """An MX host name after following its CNAMEs."""

    host: str
    expanded: str  # == host when it is no alias
    chain: tuple[DnsAnswer, ...] = ()  # the CNAME answers, in order
    secure: bool = True  # every CNAME in the chain validated as secure

    @property
    def alias(self) -> bool:
        return self.expanded != self.host


def expand_cname(host: str, ask: Lookup) -> Expansion:
    """Follow the CNAMEs of ``host`` (at most :data:`MAX_CNAME`)."""
    host = norm(host)
    name, chain, secure = host, [], True
    for _ in range(MAX_CNAME):
        answer = ask(name, "CNAME")
        if answer.rcode != "NOERROR" or not answer.records:
            break
        chain.append(answer)
        secure = secure and answer.state is DnssecState.SECURE
        name = norm(answer.records[0])
    return Expansion(host, name, tuple(chain), secure)


@dataclass(frozen=True)
class TlsaLookup:
    """The TLSA RRset that counts for one MX host (RFC 7672 2.2.3)."""

    host: str
    owner: str  # "_25._tcp.<name>" that was used
    answer: DnsAnswer
    expanded: str  # the MX host after CNAME expansion (== host without CNAME)
    cname_chain: tuple[DnsAnswer, ...] = ()
    cname_secure: bool = True
    tried: tuple[DnsAnswer, ...] = ()  # every TLSA look-up made, in order

    @property
    def names(self) -> tuple[str, ...]:
        """Further reference names for usage 2 besides the MX host (RFC 7672 3.2.3)."""
        return (self.expanded,) if self.expanded != self.host else ()


def lookup_tlsa(host: str, ask: Lookup) -> TlsaLookup:
    """Expand CNAMEs of the MX host, then look up the TLSA RRset that counts:
    at the expanded name first (only after a secure expansion), and at the
    MX host name when the expanded name has none (a proven absence)."""
    exp = expand_cname(host, ask)
    host, name = exp.host, exp.expanded
    tried = []
    if exp.alias and exp.secure:
        first = ask(f"_25._tcp.{name}", "TLSA")
        tried.append(first)
        if first.records or not definite(first):
            return TlsaLookup(host, f"_25._tcp.{name}", first, name, exp.chain, exp.secure, tuple(tried))
    answer = ask(f"_25._tcp.{host}", "TLSA")
    tried.append(answer)
    return TlsaLookup(host, f"_25._tcp.{host}", answer, name, exp.chain, exp.secure, tuple(tried))
