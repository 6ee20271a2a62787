"""Run the registered checks on many mail domains at once: against the
simulated keten (its DNS, Unbound and every deelnemer's MX started here),
or live through a local validating Unbound with the real root trust anchor.

    with simulated_keten(keten) as sim:
        run = check_targets(keten.deelnemers, sim.resolver, context=sim.context)
    run = check_keten(keten)                 # the same, in one call
    print(render_table(run))

Every (domain, agreement) pair is one job in a thread pool: the checks wait
on the network far more than on the CPU, and B05's sslyze scan runs its own
connections in parallel on top. Progress goes to an observer (a callable),
never straight to a terminal.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ketentest.checks import CHECKS, context_for, run_check
from ketentest.dns import Lookup, Resolver
from ketentest.model import Deelnemer, Keten
from ketentest.verdict import CheckResult, Uitslag, worst

#: The live resolver's address (loopback; no keten uses it).
LIVE_RESOLVER_IP = "127.54.53.53"
#: Debian's copy of the root zone's trust anchor (package dns-root-data).
ROOT_KEY = Path("/usr/share/dns/root.key")


@dataclass(frozen=True)
class DomainReport:
    """Every check result for one mail domain."""

    domain: str
    results: tuple[CheckResult, ...]
    seconds: float
    deelnemer: str = ""  # id, when the domain belongs to a deelnemer of the keten
    naam: str = ""

    @property
    def verdict(self) -> Uitslag:
        return worst(r.verdict for r in self.results) if self.results else Uitslag.NIET_TESTBAAR

    def result(self, agreement: str) -> CheckResult:
        return next(r for r in self.results if r.agreement == agreement)

    def to_dict(self) -> dict[str, Any]:
        return {"domein": self.domain, "deelnemer": self.deelnemer or None, "naam": self.naam or None,
                "uitslag": self.verdict.value, "seconden": round(self.seconds, 2),
                "afspraken": [r.to_dict() for r in self.results]}


@dataclass(frozen=True)
class CheckRun:
    mode: str  # "gesimuleerd" | "live"
    keten: str
    resolver: str
    agreements: tuple[str, ...]
    reports: tuple[DomainReport, ...]
    seconds: float  # the checks themselves
    note: str = ""  # Dutch: a problem with the run itself (e.g. the live resolver reaches nothing)
    startup_seconds: float = 0.0  # starting resolver and simulators (incl. waiting for another keten run)

    @property
    def verdict(self) -> Uitslag:
        return worst(r.verdict for r in self.reports) if self.reports else Uitslag.NIET_TESTBAAR

    @property
    def ok(self) -> bool:
        return all(r.verdict.ok for r in self.reports)

    def report(self, domain: str) -> DomainReport:
        return next(r for r in self.reports if r.domain == domain)

    def to_dict(self) -> dict[str, Any]:
        return {"modus": self.mode, "keten": self.keten, "resolver": self.resolver,
                "afspraken": list(self.agreements), "uitslag": self.verdict.value,
                "seconden": round(self.seconds, 2),
                "opstarten_seconden": round(self.startup_seconds, 2), "opmerking": self.note or None,
                "domeinen": [r.to_dict() for r in self.reports]}


@dataclass(frozen=True)
class ProgressEvent:
    domain: str
    agreement: str
    verdict: Uitslag | None  # None: the run started (done == 0)
    done: int
    total: int
    seconds: float


Progress = Callable[[ProgressEvent], None]


def _domain_of(target: str | Deelnemer) -> str:
    return target.domain.name if isinstance(target, Deelnemer) else target


def check_targets(targets: Sequence[str | Deelnemer], lookup: Lookup, agreements: Sequence[str] | None = None, *,
                  context: dict[str, Any] | None = None, progress: Progress | None = None,
                  workers: int | None = None) -> tuple[DomainReport, ...]:
    """Run the checks on every target (a deelnemer or a bare domain) in parallel."""
    ids = list(agreements) if agreements is not None else list(CHECKS)
    context = dict(context or {})
    jobs = [(i, t, a) for i, t in enumerate(targets) for a in ids]
    total, done, count_lock = len(jobs), [0], threading.Lock()
    started = time.monotonic()
    results: dict[tuple[int, str], tuple[CheckResult, float]] = {}

    def run(job: tuple[int, str | Deelnemer, str]) -> None:
        i, target, agreement = job
        extra = context_for(target) if isinstance(target, Deelnemer) else {}
        t0 = time.monotonic()
        result = run_check(agreement, _domain_of(target), lookup, **{**extra, **context})
        with count_lock:
            results[(i, agreement)] = (result, time.monotonic() - t0)
            done[0] += 1
            if progress is not None:  # under the lock: lines come out in order
                progress(ProgressEvent(result.domain, agreement, result.verdict, done[0], total,
                                       time.monotonic() - started))

    if progress is not None:
        progress(ProgressEvent("", "", None, 0, total, 0.0))
    if jobs:
        size = workers or min(32, len(jobs))
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="ketentest-check") as pool:
            list(pool.map(run, jobs))
    reports = []
    for i, target in enumerate(targets):
        pairs = [results[(i, a)] for a in ids]
        d = target if isinstance(target, Deelnemer) else None
        reports.append(DomainReport(_domain_of(target).lower().rstrip("."), tuple(r for r, _ in pairs),
                                    max((s for _, s in pairs), default=0.0), d.id if d else "", d.naam if d else ""))
    return tuple(reports)


# --- the simulated keten -----------------------------------------------------------


@dataclass
class SimulatedKeten:
    """The simulated internet plus every deelnemer's MX, running."""

    internet: Any  # simulators.internet.SimulatedInternet
    servers: dict[str, Any] = field(default_factory=dict)  # deelnemer id -> MailServer
    ca_file: str = ""

    @property
    def resolver(self) -> Resolver:
        return self.internet.resolver

    @property
    def context(self) -> dict[str, Any]:
        """Check context: the simulated root CA, so B05 reports the trust chain."""
        return {"ca_file": self.ca_file}


@contextmanager
def quiet_mailservers() -> Iterator[None]:
    """The scan's refused handshakes are expected: keep the MX log quiet meanwhile."""
    log = logging.getLogger("simulators.mailserver.server")
    before = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(before)


@contextmanager
def simulated_keten(keten: Keten, pki=None, *, internet=None, quiet: bool = True) -> Iterator[SimulatedKeten]:
    """Start the keten's DNS + Unbound (unless ``internet`` is given: an
    already running SimulatedInternet) and every deelnemer's MailServer."""
    from simulators.internet import SimulatedInternet
    from simulators.mailserver import MailServer
    from simulators.pki import Pki

    with ExitStack() as stack:
        if internet is None:
            pki = pki or Pki()
            internet = stack.enter_context(SimulatedInternet(keten, pki))
        pki = internet.pki
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ketentest-check-")))
        if quiet:
            stack.enter_context(quiet_mailservers())
        sim = SimulatedKeten(internet)
        ca = tmp / "root-ca.pem"
        ca.write_bytes(pki.ca_pem)
        sim.ca_file = str(ca)
        for d in keten.deelnemers:
            if d.domain.null_mx:  # receives no mail: nothing listens (the checks judge the null MX)
                continue
            sim.servers[d.id] = stack.enter_context(MailServer.for_deelnemer(keten, d, pki, tmp / d.id))
        yield sim


# --- live: a local Unbound with the real root trust anchor --------------------------

def live_unbound_config(ip: str, port: int, directory: Path | str, root_key: Path | str = ROOT_KEY,
                        root_hints: Path | str | None = None) -> str:
    """Pure: the Unbound configuration of live mode (``root_hints``: a root
    of one's own instead of Unbound's built-in list, e.g. a stand-in)."""
    from simulators.resolver.unbound import unbound_config

    return unbound_config(ip, port, directory, root_key, simulated=False, root_hints=root_hints)


def live_unbound(ip: str = LIVE_RESOLVER_IP, port: int = 53, root_key: Path | str = ROOT_KEY,
                 root_hints: Path | str | None = None):
    """A context manager: Unbound validating from the real root (no
    root-hints line: Unbound's built-in list), or from the root that
    ``root_hints`` names with ``root_key`` as its anchor (a stand-in for the
    internet, simulators.standin). Reuses the harness's Unbound runner; only
    the configuration differs."""
    from ketentest.errors import InfrastructureError
    from simulators.resolver.unbound import LiveUnbound

    if not Path(root_key).is_file():
        hint = ("installeer het Debian-pakket dns-root-data (of geef een ander bestand op)" if Path(root_key) == ROOT_KEY
                else "geef een bestaand sleutelankerbestand op (DS- of DNSKEY-records van de root, zonebestandvorm)")
        raise InfrastructureError(f"het root-sleutelanker {root_key} ontbreekt", hint)
    if root_hints is not None and not Path(root_hints).is_file():
        raise InfrastructureError(f"het root-hints-bestand {root_hints} ontbreekt",
                                  "geef een bestaand bestand op (NS- en A-records van de root-servers, zonebestandvorm)")
    return LiveUnbound(ip, port, root_key, root_hints)


def _live_where(ip: str, port: int, root_key: Path | str, root_hints: Path | str | None) -> str:
    """Dutch: which resolver a live run used."""
    address = ip if port == 53 else f"{ip}:{port}"
    if root_hints is None and Path(root_key) == ROOT_KEY:
        return f"{address} (Unbound, echt root-sleutelanker)"
    hints = f"root-hints {root_hints}" if root_hints is not None else "ingebouwde root-hints"
    return f"{address} (Unbound, {hints}, sleutelanker {root_key})"


@dataclass(frozen=True)
class EchtResolver:
    """The validating resolver for the real (echt) deelnemers of a keten."""

    resolver: Resolver
    description: str  # Dutch, for reports: which resolver and where its trust comes from
    started: bool  # True: a local Unbound this run started; False: one the coordinator named
    trust_anchor: Path | str = ROOT_KEY  # of the started Unbound
    root_hints: Path | str | None = None

    def preflight(self) -> str:
        """Dutch note when this resolver cannot validate the root ("" = fine)."""
        return live_preflight(self.resolver, self.trust_anchor, self.root_hints, started=self.started)


def parse_resolver_address(text: str) -> tuple[str, int]:
    """"ip", "ip:poort", "[ipv6]:poort" or a bare IPv6 address -> (ip, port)."""
    import ipaddress

    from ketentest.errors import InfrastructureError

    value = text.strip()
    host, port = value, "53"
    if value.startswith("[") and "]" in value:
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (rest or "53")
    elif value.count(":") == 1:
        host, port = value.split(":")
    try:
        ip = str(ipaddress.ip_address(host))
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError(port)
    except ValueError:
        raise InfrastructureError(f"resolver {text!r} is geen geldig adres",
                                  "schrijf een IP-adres, eventueel met poort: 192.0.2.53 of 192.0.2.53:5353") from None
    return ip, number


@contextmanager
def resolver_for_echt(keten: Keten, *, root_hints: Path | str | None = None, trust_anchor: Path | str | None = None,
                      ip: str = LIVE_RESOLVER_IP, port: int = 53) -> Iterator[EchtResolver]:
    """The validating resolver for the keten's real deelnemers: the one an
    echt deelnemer names (``echt.resolver``; all that name one must name the
    same), else a local live Unbound started here (the real root trust
    anchor, or a stand-in's ``root_hints`` and ``trust_anchor``), stopped on exit."""
    from ketentest.errors import KetenConfigError

    named = {d.id: parse_resolver_address(d.echt.resolver) for d in keten.deelnemers
             if d.echt is not None and d.echt.resolver}
    if len(set(named.values())) > 1:
        listed = ", ".join(f"{i}: {a}" + (f":{p}" if p != 53 else "") for i, (a, p) in sorted(named.items()))
        raise KetenConfigError(f"keten {keten.naam}", "echt.resolver",
                               f"de echte deelnemers noemen verschillende resolvers ({listed})",
                               "noem bij alle echte deelnemers dezelfde resolver, of laat hem weg (lokale Unbound)")
    if named:
        address, named_port = next(iter(named.values()))
        where = address if named_port == 53 else f"{address}:{named_port}"
        yield EchtResolver(Resolver(address, named_port),
                           f"{where} (resolver van de coördinator, uit het ketenbestand)", started=False)
        return
    root_key = trust_anchor if trust_anchor is not None else ROOT_KEY
    with live_unbound(ip, port, root_key, root_hints) as unbound:
        yield EchtResolver(Resolver(unbound.ip, unbound.port), _live_where(ip, port, root_key, root_hints),
                           started=True, trust_anchor=root_key, root_hints=root_hints)


# --- one call ----------------------------------------------------------------------


def _targets(keten: Keten, domains: Sequence[str] | None) -> list[str | Deelnemer]:
    if not domains:
        return list(keten.deelnemers)
    by_domain = {d.domain.name: d for d in keten.deelnemers}
    return [by_domain.get(x.lower().rstrip("."), x) for x in domains]


def check_keten(keten: Keten, domains: Sequence[str] | None = None, agreements: Sequence[str] | None = None, *,
                live: bool = False, progress: Progress | None = None, internet=None,
                live_ip: str = LIVE_RESOLVER_IP, live_port: int = 53, root_hints: Path | str | None = None,
                trust_anchor: Path | str | None = None) -> CheckRun:
    """Check the keten's deelnemers (or ``domains``): simulated by default,
    starting whatever is not running yet; ``live`` through a local Unbound
    on ``live_ip``:``live_port`` validating from the real root, or from the
    root that ``root_hints`` names with ``trust_anchor`` as its key (a
    stand-in for the internet; default anchor: the real one, ROOT_KEY)."""
    if not live and (root_hints is not None or trust_anchor is not None):
        from ketentest.errors import KetentestError

        raise KetentestError("root-hints en sleutelanker gelden alleen voor live (--live)",
                             "voeg --live toe, of laat --root-hints en --sleutelanker weg")
    ids = tuple(agreements) if agreements is not None else tuple(CHECKS)
    targets = _targets(keten, domains)
    started = time.monotonic()
    note = ""
    if live:
        root_key = trust_anchor if trust_anchor is not None else ROOT_KEY
        with live_unbound(live_ip, live_port, root_key, root_hints) as unbound:
            resolver = Resolver(unbound.ip, unbound.port)
            ready = time.monotonic()
            with ThreadPoolExecutor(max_workers=1) as pool:  # the root check runs beside the checks
                preflight = pool.submit(live_preflight, resolver, root_key, root_hints)
                reports = check_targets(targets, resolver, ids, progress=progress)
                note = preflight.result()
            done = time.monotonic()
        mode, where = "live", _live_where(live_ip, live_port, root_key, root_hints)
    else:
        with simulated_keten(keten, internet=internet) as sim:
            ready = time.monotonic()
            reports = check_targets(targets, sim.resolver, ids, context=sim.context, progress=progress)
            done = time.monotonic()
        mode, where = "gesimuleerd", f"{keten.dns.resolver_ip} (Unbound van de gesimuleerde keten)"
    return CheckRun(mode, keten.naam, where, ids, reports, done - ready, note, ready - started)


def live_preflight(resolver: Resolver, root_key: Path | str | None = ROOT_KEY,
                   root_hints: Path | str | None = None, *, started: bool = True) -> str:
    """Dutch note when the live resolver cannot validate the root itself ("" = fine).
    ``started``: a local Unbound (with ``root_key`` and ``root_hints``), not one the coordinator named."""
    from ketentest.checks._dns import guarded
    from ketentest.dns import DnssecState

    answer = guarded(resolver)(".", "DNSKEY")
    if answer.state is DnssecState.SECURE:
        return ""
    if not started:
        return (f"De opgegeven resolver {resolver.address}:{resolver.port} valideert de root-zone niet als veilig "
                f"(DNSKEY van de root: {answer.describe().partition(': ')[2]}): kies een validerende resolver, of "
                "laat de ketentest er zelf een starten.")
    if answer.rcode == "GEEN_ANTWOORD" or answer.state is DnssecState.ERROR:
        if root_hints is None:
            return ("De lokale Unbound krijgt geen antwoord van de echte root-servers (geen internetverbinding, of "
                    "uitgaand DNS-verkeer op poort 53 geblokkeerd): alle uitslagen hieronder zijn 'niet testbaar'.")
        return (f"De lokale Unbound krijgt geen antwoord van de root-servers uit {root_hints} (draait daar een "
                f"root-server?): alle uitslagen hieronder zijn 'niet testbaar'.")
    return (f"De root-zone valideert niet als veilig (DNSKEY van de root: {answer.describe().partition(': ')[2]}): "
            f"controleer het sleutelanker {root_key}.")


# --- output ------------------------------------------------------------------------


def stderr_progress(stream: TextIO) -> Progress:
    """A progress observer writing one line per finished check."""
    def show(e: ProgressEvent) -> None:
        if e.verdict is None:
            stream.write(f"ketentest check: {e.total} controles gestart (domein x afspraak, parallel)\n")
        else:
            stream.write(f"[{e.done:>3}/{e.total}] {e.seconds:5.1f} s  {e.domain:<24} {e.agreement}  "
                         f"{e.verdict.dutch}\n")
            stream.flush()
    return show


def render_table(run: CheckRun, details: bool = False) -> str:
    """Dutch table: one row per domain, one column per agreement; then every
    sub-test that failed, warned or could not be tested, with its explanation."""
    ids = list(run.agreements)
    dom_w = max([len("domein"), *(len(r.domain) for r in run.reports)])
    col_w = max(len("niet testbaar"), *(len(i) for i in ids))
    lines = [f"Ketentest check — keten {run.keten}, {run.mode}, resolver {run.resolver}, "
             f"{len(run.reports)} domein(en) in {run.seconds:.1f} s (opstarten {run.startup_seconds:.1f} s)", ""]
    lines.append(f"{'domein':<{dom_w}}  " + "  ".join(f"{i:<{col_w}}" for i in ids) + "  deelnemer")
    lines.append("-" * (dom_w + (col_w + 2) * len(ids) + 11))
    for rep in run.reports:
        cells = []
        for i in ids:
            r = next((x for x in rep.results if x.agreement == i), None)
            cells.append(f"{(r.verdict.dutch if r else '-'):<{col_w}}")
        lines.append(f"{rep.domain:<{dom_w}}  " + "  ".join(cells) + f"  {rep.naam or '(los domein)'}")
    problems = [(rep, r, s) for rep in run.reports for r in rep.results
                for s in (r.subtests if details else r.problems)]
    if problems:
        lines += ["", "Toelichting:" if details else "Bevindingen (gefaald, waarschuwing, niet testbaar):"]
        for rep, r, s in problems:
            lines.append(f"- {rep.domain} {r.agreement} {s.id} [{s.verdict.dutch}]: {s.explanation}")
    if run.note:
        lines += ["", f"Let op: {run.note}"]
    verdict = "alles in orde" if run.ok else "NIET in orde"
    lines += ["", f"Totaal: {run.verdict.dutch} ({verdict})."]
    return "\n".join(lines)
