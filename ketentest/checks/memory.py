"""An in-memory :class:`~ketentest.dns.Lookup` for unit tests and dry runs of
the checks: records per name, a DNSSEC state per zone, injected errors.

    dns = MemoryDns()
    dns.add("ggdru.test", "MX", "10 mx1.ggdru.test.")
    dns.txt("ggdru.test", "v=spf1 -all")
    dns.set_state("ggdru.test", DnssecState.BOGUS, ede=(7, "signature expired"))

Names without records but with records below them are empty non-terminals
(NOERROR, no data); other unknown names are NXDOMAIN.
"""

from __future__ import annotations

from ketentest.dns import DnsAnswer, DnssecState, ExtendedError
from ketentest.errors import InfrastructureError


def txt_rdata(value: str) -> str:
    """A TXT value as rdata text, split in 255-byte strings."""
    raw = value.encode()
    chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join('"' + c.decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


def _n(name: str) -> str:
    return name.lower().rstrip(".")


class MemoryDns:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.states: dict[str, tuple[DnssecState, tuple[ExtendedError, ...]]] = {}
        self.failures: dict[tuple[str, str], str] = {}  # (name, type or "*") -> rcode, or "raise"
        self.queries: list[tuple[str, str]] = []
        self.algorithms: dict[str, int] = {}  # zone -> DNSSEC algorithm of its signatures (default 13)

    # -- building ---------------------------------------------------------
    def add(self, name: str, rdtype: str, *rdata: str) -> "MemoryDns":
        self.records.setdefault((_n(name), rdtype.upper()), []).extend(rdata)
        return self

    def txt(self, name: str, *values: str) -> "MemoryDns":
        return self.add(name, "TXT", *(txt_rdata(v) for v in values))

    def remove(self, name: str, rdtype: str) -> "MemoryDns":
        self.records.pop((_n(name), rdtype.upper()), None)
        return self

    def set_state(self, zone: str, state: DnssecState, ede: tuple[int, str] | None = None) -> "MemoryDns":
        """Every name at or below ``zone`` answers with this DNSSEC state."""
        self.states[_n(zone)] = (state, (ExtendedError(*ede),) if ede else ())
        return self

    def set_algorithm(self, zone: str, algorithm: int) -> "MemoryDns":
        """Secure answers at or below ``zone`` carry RRSIGs of this algorithm."""
        self.algorithms[_n(zone)] = algorithm
        return self

    def _algorithms(self, name: str, state: DnssecState) -> tuple[int, ...]:
        if state is not DnssecState.SECURE:
            return ()
        zones = [z for z in self.algorithms if name == z or name.endswith("." + z) or z == ""]
        return (self.algorithms[max(zones, key=len)],) if zones else (13,)

    def fail(self, name: str, rdtype: str = "*", rcode: str = "SERVFAIL") -> "MemoryDns":
        """The resolver answers ``rcode`` (state ERROR); rcode "raise" makes the
        look-up raise, like a resolver that does not answer at all."""
        self.failures[(_n(name), rdtype.upper())] = rcode
        return self

    # -- answering --------------------------------------------------------
    def _state(self, name: str) -> tuple[DnssecState, tuple[ExtendedError, ...]]:
        best = ("", (DnssecState.SECURE, ()))
        for zone, st in self.states.items():
            if (name == zone or name.endswith("." + zone) or zone == "") and len(zone) >= len(best[0]):
                best = (zone, st)
        return best[1]

    def _exists(self, name: str) -> bool:
        return any(n == name or n.endswith("." + name) for n, _ in self.records)

    def __call__(self, name: str, rdtype: str) -> DnsAnswer:
        name, rdtype = _n(name), rdtype.upper()
        self.queries.append((name, rdtype))
        failure = self.failures.get((name, rdtype)) or self.failures.get((name, "*"))
        if failure == "raise":
            raise InfrastructureError(f"de resolver antwoordt niet op {name} {rdtype} (gesimuleerd)")
        if failure:
            return DnsAnswer(name, rdtype, failure, DnssecState.ERROR)
        state, ede = self._state(name)
        if state is DnssecState.BOGUS:
            return DnsAnswer(name, rdtype, "SERVFAIL", state, (), ede)
        algorithms = self._algorithms(name, state)
        if not self._exists(name):
            return DnsAnswer(name, rdtype, "NXDOMAIN", state, (), ede, algorithms=algorithms)
        return DnsAnswer(name, rdtype, "NOERROR", state, tuple(self.records.get((name, rdtype), ())), ede,
                         algorithms=algorithms)

    lookup = __call__
