"""Safety rails for real (``echt``) deelnemers (issue 15); see docs/echte-deelnemers.md.

* :func:`check_recipient` refuses mail to a real address that is not on an
  allowlist in the keten file (:class:`RecipientNotAllowed`). Without a keten
  every address outside the reserved TLDs counts as real and unlisted.
* :class:`RateLimiter`: per real deelnemer at most ``max_per_uur`` sends in
  any hour of real time; over it, :class:`TooManySends` at once (never a wait).
* :class:`SendCounter`: real sends per deelnemer, for reports; with a
  :class:`Ledger` (``$KETENTEST_ECHTE_VERZENDINGEN``) shared by every
  process of a run, so the rate limit holds across them and a report can
  read the tallies (``Ledger(path).counter()``).
* :class:`Guard` combines the three; :func:`ketentest.delivery.deliver` asks
  the process's guard (:func:`default_guard`) before it touches the network,
  so no path through it reaches an unlisted real address. Which keten: the
  one passed to ``deliver``, else the one given to :func:`use_keten`, else
  every keten with a real deelnemer this process loaded (:func:`remember`,
  called by ketentest.config), else none (every real address refused).
* The test markers every composed message carries are in
  :mod:`ketentest.mail.compose` (``TEST_HEADER``, ``TEST_SUBJECT_PREFIX``).
"""

from __future__ import annotations

import collections
import datetime as dt
import fcntl
import json
import os
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ketentest.errors import KetentestError
from ketentest.model import RESERVED_TLDS, Deelnemer, Keten

#: Where a process's sends record their expectations (a ketentest.verwachtingen file), if set.
VERWACHTINGEN_ENV = "KETENTEST_VERWACHTINGEN"
#: The shared log of real sends of a run (a ketentest.echt.Ledger), if set.
LEDGER_ENV = "KETENTEST_ECHTE_VERZENDINGEN"
HOUR = 3600.0


class RecipientNotAllowed(KetentestError):
    """Mail would go to a real address that is not on the allowlist."""

    def __init__(self, address: str, deelnemer: Deelnemer | None, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.address = address
        self.deelnemer = deelnemer


class TooManySends(KetentestError):
    """A real deelnemer already had ``max_per_uur`` sends in the last hour."""

    def __init__(self, deelnemer: Deelnemer, count: int, retry_at: float) -> None:
        self.deelnemer = deelnemer
        self.count = count
        self.retry_at = retry_at  # real time (epoch seconds) when a slot frees
        when = dt.datetime.fromtimestamp(retry_at, dt.timezone.utc).strftime("%H:%M:%S UTC")
        super().__init__(
            f"te veel echte verzendingen naar {deelnemer.naam} ({deelnemer.id}): al {count} in het afgelopen uur, "
            f"de grens is {deelnemer.echt.max_per_uur} per uur (max_per_uur); er is niets verstuurd",
            f"wacht tot {when} (dan is er weer ruimte), of verhoog max_per_uur in het echt-blok van deze deelnemer "
            "in overleg met de deelnemer")


def _domain(address: str) -> str:
    return address.rpartition("@")[2].rstrip(".").lower()


def _within(domain: str, parent: str) -> bool:
    return domain == parent or domain.endswith("." + parent)


def is_reserved(domain: str) -> bool:
    """Is ``domain`` under a reserved TLD (a simulated name that can reach nobody)?"""
    return domain.rstrip(".").rpartition(".")[2].lower() in RESERVED_TLDS


def real_deelnemer(keten: Keten | None, address: str) -> Deelnemer | None:
    """The real deelnemer whose mail domain (or a subdomain of it) ``address`` is in, if any."""
    if keten is None:
        return None
    domain = _domain(address)
    for d in keten.deelnemers:
        if d.echt is not None and _within(domain, d.domain.name):
            return d
    return None


def check_recipient(keten: Keten | None, address: str) -> Deelnemer | None:
    """Raise :class:`RecipientNotAllowed` unless mail may go to ``address``.

    Allowed: an address on a real deelnemer's allowlist (returns that
    deelnemer), or a simulated address (under a reserved TLD, not in a real
    deelnemer's domain; returns None). Refused: any other address in a real
    deelnemer's domain, and any address outside the reserved TLDs that no
    allowlist names (with ``keten=None``: every such address)."""
    if not isinstance(address, str) or "@" not in address:
        raise RecipientNotAllowed(str(address), None, f"ongeldig ontvangstadres {address!r}: er is niets verstuurd",
                                  "geef een volledig e-mailadres")
    wanted = address.strip().lower()
    owner = real_deelnemer(keten, wanted)
    if owner is not None:
        if wanted in owner.echt.toegestane_adressen:
            return owner
        listed = ", ".join(sorted(owner.echt.toegestane_adressen))
        raise RecipientNotAllowed(
            wanted, owner,
            f"mail naar {wanted} geweigerd: dat adres staat niet op de toegestane lijst van de echte deelnemer "
            f"{owner.naam} ({owner.id}); er is niets verstuurd",
            f"stuur alleen naar een toegestaan adres ({listed}), of zet het adres in overleg met de deelnemer bij "
            f"echt.toegestane_adressen in het ketenbestand ({keten.source})")
    if is_reserved(_domain(wanted)):
        return None
    if keten is None:
        raise RecipientNotAllowed(
            wanted, None,
            f"mail naar {wanted} geweigerd: dat is een echt adres en er is geen keten met een toegestane lijst "
            "bekend; er is niets verstuurd",
            "geef de keten mee (ketentest.echt.use_keten of deliver(keten=...)) en zet het adres bij "
            "echt.toegestane_adressen van de echte deelnemer")
    raise RecipientNotAllowed(
        wanted, None,
        f"mail naar {wanted} geweigerd: dat is een echt adres en geen echte deelnemer van keten {keten.naam} "
        "heeft het op zijn toegestane lijst; er is niets verstuurd",
        f"maak de deelnemer van {_domain(wanted)} echt in het ketenbestand ({keten.source}) met dit adres bij "
        "echt.toegestane_adressen, of stuur naar een gesimuleerd adres (.test, .example, .invalid)")


_loaded: dict[tuple[str, str], Keten] = {}
_loaded_lock = threading.Lock()


def remember(keten: Keten) -> None:
    """Every keten with a real deelnemer that this process loads
    (ketentest.config does it) guards this process's sends when no keten is
    given: its real domains are refused except for their allowlists."""
    with _loaded_lock:
        _loaded[(keten.source, keten.naam)] = keten


def loaded_ketens() -> list[Keten]:
    with _loaded_lock:
        return list(_loaded.values())


def check_recipient_in(ketens: list[Keten], address: str) -> Deelnemer | None:
    """:func:`check_recipient` against several ketens: refused if any keten
    has ``address`` in a real deelnemer's domain without listing it; allowed
    if a keten lists it; else simulated addresses only."""
    if not ketens:
        return check_recipient(None, address)
    owners, refusals = [], []
    for keten in ketens:
        try:
            owner = check_recipient(keten, address)
        except RecipientNotAllowed as e:
            refusals.append(e)
            continue
        if owner is not None:
            owners.append(owner)
    for e in refusals:
        if e.deelnemer is not None:
            raise e
    if owners:
        return owners[0]
    if refusals:
        raise refusals[0]
    return None


class Ledger:
    """A shared log of real sends (JSON lines, appended under an exclusive
    lock, fsynced): every process of a run that sends to real deelnemers
    writes here, so the rate limit holds across processes and a report (in
    another process) can count. Set by path or by $KETENTEST_ECHTE_VERZENDINGEN."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def events(self) -> list[dict]:
        """Every well-formed event (a line cut off by a crash is skipped: this is a log)."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and isinstance(event.get("t"), (int, float)) and event.get("wat") in _WHAT:
                out.append(event)
        return out

    def append(self, event: dict) -> None:
        """Append one event; call inside :meth:`locked`."""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def counter(self, since: float | None = None) -> SendCounter:
        """The tallies of every process that wrote here (from ``since``, epoch seconds, e.g. a run's start)."""
        counter = SendCounter()
        with counter._lock:
            for e in self.events():
                if since is not None and e["t"] < since:
                    continue
                key = str(e.get("deelnemer", "?"))
                tally = counter._tallies.setdefault(key, Tally(key, str(e.get("naam", key))))
                setattr(tally, e["wat"], getattr(tally, e["wat"]) + 1)
        return counter


def ledger_from_env() -> Ledger | None:
    path = os.environ.get(LEDGER_ENV)
    return Ledger(path) if path else None


class RateLimiter:
    """At most ``max_per_uur`` sends per real deelnemer in any sliding hour
    of real time. ``clock`` (epoch seconds) is injectable for tests. With a
    :class:`Ledger` the hour counts the sends of every process writing it."""

    def __init__(self, clock: Callable[[], float] = time.time, ledger: Ledger | None = None) -> None:
        self.clock = clock
        self.ledger = ledger
        self._sent: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def _recent(self, deelnemer: Deelnemer, now: float) -> list[float]:
        if self.ledger is not None:
            return sorted(e["t"] for e in self.ledger.events()
                          if e.get("deelnemer") == deelnemer.id and e["wat"] == "pogingen" and e["t"] > now - HOUR)
        sent = self._sent[deelnemer.id]
        while sent and sent[0] <= now - HOUR:
            sent.popleft()
        return list(sent)

    def take(self, deelnemer: Deelnemer, address: str = "") -> float:
        """Reserve a send now, or raise :class:`TooManySends` (never waits).
        Returns the moment. With a ledger the reservation is its 'pogingen' event."""
        now = self.clock()
        with self._lock, (self.ledger.locked() if self.ledger is not None else nullcontext()):
            recent = self._recent(deelnemer, now)
            if len(recent) >= deelnemer.echt.max_per_uur:
                raise TooManySends(deelnemer, len(recent), recent[0] + HOUR)
            if self.ledger is not None:
                self.ledger.append(_event(now, "pogingen", deelnemer, address))
            else:
                self._sent[deelnemer.id].append(now)
        return now

    def used(self, deelnemer: Deelnemer) -> int:
        now = self.clock()
        with self._lock:
            return len(self._recent(deelnemer, now))


_WHAT = ("pogingen", "bezorgd", "geweigerd", "te_veel")


def _event(t: float, what: str, deelnemer: Deelnemer | None, address: str) -> dict:
    return {"t": t, "wat": what, "deelnemer": deelnemer.id if deelnemer is not None else f"(onbekend: {_domain(address)})",
            "naam": deelnemer.naam if deelnemer is not None else _domain(address), "adres": address,
            "pid": os.getpid()}


@dataclass
class Tally:
    """Real sends to one deelnemer, as a report shows them."""

    deelnemer: str
    naam: str
    pogingen: int = 0  # attempts that went out (passed the allowlist and the rate limit)
    bezorgd: int = 0  # of which delivered
    geweigerd: int = 0  # refused: not on the allowlist
    te_veel: int = 0  # refused: over max_per_uur

    def as_dict(self) -> dict:
        return {"deelnemer": self.deelnemer, "naam": self.naam, "pogingen": self.pogingen, "bezorgd": self.bezorgd,
                "geweigerd": self.geweigerd, "te_veel": self.te_veel}


class SendCounter:
    """Counts real sends per deelnemer (thread-safe)."""

    def __init__(self) -> None:
        self._tallies: dict[str, Tally] = {}
        self._lock = threading.Lock()

    def _tally(self, deelnemer: Deelnemer | None, address: str = "") -> Tally:
        key = deelnemer.id if deelnemer is not None else f"(onbekend: {_domain(address)})"
        if key not in self._tallies:
            self._tallies[key] = Tally(key, deelnemer.naam if deelnemer is not None else _domain(address))
        return self._tallies[key]

    def count(self, what: str, deelnemer: Deelnemer | None, address: str = "") -> None:
        with self._lock:
            tally = self._tally(deelnemer, address)
            setattr(tally, what, getattr(tally, what) + 1)

    def tallies(self) -> list[Tally]:
        with self._lock:
            return [Tally(**t.as_dict()) for t in sorted(self._tallies.values(), key=lambda t: t.deelnemer)]

    def total(self) -> int:
        """Real sends that went out."""
        return sum(t.pogingen for t in self.tallies())

    def table(self) -> str:
        """Dutch text table, for a report or the terminal."""
        rows = [("deelnemer", "verstuurd", "bezorgd", "geweigerd (lijst)", "te veel (per uur)")]
        rows += [(t.deelnemer, str(t.pogingen), str(t.bezorgd), str(t.geweigerd), str(t.te_veel)) for t in self.tallies()]
        if len(rows) == 1:
            return "Geen echte verzendingen."
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


@dataclass
class Guard:
    """The allowlist, the rate limiter, the counter and (optionally) the
    expectations file of one process. :meth:`admit` before a send,
    :meth:`sent` after it."""

    keten: Keten | None = None
    clock: Callable[[], float] = time.time
    verwachtingen: Path | None = None  # None: $KETENTEST_VERWACHTINGEN, if set
    ledger: Ledger | None = None  # None: $KETENTEST_ECHTE_VERZENDINGEN, if set (read when the guard is made)
    limiter: RateLimiter = field(init=False)
    counter: SendCounter = field(default_factory=SendCounter)  # this process's sends

    def __post_init__(self) -> None:
        if self.ledger is None:
            self.ledger = ledger_from_env()
        self.limiter = RateLimiter(self.clock, self.ledger)

    def _count(self, what: str, deelnemer: Deelnemer | None, address: str) -> None:
        self.counter.count(what, deelnemer, address)
        if self.ledger is not None and what != "pogingen":  # the limiter writes 'pogingen' itself
            with self.ledger.locked():
                self.ledger.append(_event(self.clock(), what, deelnemer, address))

    def admit(self, address: str, keten: Keten | None = None) -> Deelnemer | None:
        """May mail go to ``address`` now? Returns the real deelnemer (None for
        a simulated address); raises RecipientNotAllowed or TooManySends, counted."""
        keten = keten if keten is not None else self.keten
        try:
            owner = check_recipient(keten, address) if keten is not None else check_recipient_in(loaded_ketens(), address)
        except RecipientNotAllowed as e:
            self._count("geweigerd", e.deelnemer, address)
            raise
        if owner is None:
            return None
        if keten is None and is_reserved(owner.domain.name):
            # A keten merely loaded in this process (e.g. by another test) and a
            # real server under a reserved TLD, so on this machine: counted, not limited.
            self.counter.count("pogingen", owner, address)
            if self.ledger is not None:
                with self.ledger.locked():
                    self.ledger.append(_event(self.clock(), "pogingen", owner, address))
            return owner
        try:
            self.limiter.take(owner, address)
        except TooManySends:
            self._count("te_veel", owner, address)
            raise
        self._count("pogingen", owner, address)
        return owner

    def sent(self, owner: Deelnemer | None, delivered: bool, message: bytes = b"",
             keten: Keten | None = None) -> None:
        """After a send to a real deelnemer: count it and, for a delivered
        melding to a real meldpunt, record what the harness now expects back."""
        if owner is None or not delivered:
            return
        self._count("bezorgd", owner, "")
        path = self.verwachtingen or (Path(os.environ[VERWACHTINGEN_ENV]) if os.environ.get(VERWACHTINGEN_ENV) else None)
        keten = keten or self.keten or next((k for k in loaded_ketens() if owner in k.deelnemers), None)
        if path is None or keten is None or not message:
            return
        from ketentest.mail.compose import KIND_HEADER, MessageKind, read_kenmerk
        from email import message_from_bytes, policy

        parsed = message_from_bytes(message, policy=policy.default)
        kenmerk = read_kenmerk(parsed)
        if kenmerk is None or str(parsed.get(KIND_HEADER, "")).strip() != MessageKind.MELDING.value:
            return
        from ketentest import verwachtingen

        verwachtingen.record_sent(path, keten, owner, kenmerk,
                                  dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc))


_default: Guard | None = None
_default_lock = threading.Lock()


def default_guard() -> Guard:
    """This process's guard (real clock), created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Guard()
        return _default


def use_keten(keten: Keten | None) -> Guard:
    """Tell this process's guard which keten (and so which allowlists) holds.
    Without it the guard uses every keten with a real deelnemer this process
    loaded (see :func:`remember`); with none, every real address is refused."""
    guard = default_guard()
    guard.keten = keten
    return guard
