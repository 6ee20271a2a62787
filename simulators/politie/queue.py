"""The digitaal postkantoor's durable delivery queue (V09, S01, S02, S08).

Each melding is one record on disk (state, attempts, next attempt) plus its
signed message. A worker delivers what is due on the keten clock; temporary
failures are retried with back-off until the retry period (24 h by default)
has passed; a permanent failure, no secure route, or an expired retry period
makes the melding *onbestelbaar* and notifies the officer at once. Every
melding ends in exactly one final state.

Scale (issue 14): due entries sit in a heap (no scan of every melding per
attempt), and the disk writes (fsync) happen outside the queue's lock, so
several workers and submitters wait for the disk at the same time instead of
one after the other. A state change is on disk before the call that made it
returns and before waiters are told.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

from ketentest.clock import KetenClock
from ketentest.delivery import Outcome, officer_notice
from simulators.store import read_json, write_json

#: Back-off between attempts, in seconds of keten time; the last repeats.
BACKOFF = (60, 5 * 60, 15 * 60, 30 * 60, 60 * 60, 2 * 3600)


#: Delivery workers per queue: an attempt mostly waits (DNS, TLS, the receiver's checks).
WORKERS = 4
_STRIPES = 64  # file-write locks, by kenmerk


class Status(str, Enum):
    IN_WACHTRIJ = "in wachtrij"
    OPNIEUW = "opnieuw proberen"
    BEZORGD = "bezorgd"  # accepted by the meldpunt, awaiting ontvangstbevestiging
    BEZORGD_EN_BEVESTIGD = "bezorgd en bevestigd"
    ONBESTELBAAR = "onbestelbaar"

    @property
    def final(self) -> bool:
        return self in (Status.BEZORGD_EN_BEVESTIGD, Status.ONBESTELBAAR)


_PENDING = (Status.IN_WACHTRIJ.value, Status.OPNIEUW.value)


@dataclass
class Attempt:
    at: float  # keten time
    outcome: str
    reason: str
    trace: dict[str, Any] = field(default_factory=dict)


@dataclass
class Entry:
    kenmerk: str
    meldpunt: str
    rcpt: str
    submitted: float
    first_due: float = 0.0  # when it was first meant to go out (retry period counts from here)
    status: str = Status.IN_WACHTRIJ.value
    next_attempt: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    reason: str = ""
    delivered_at: float | None = None
    confirmed_at: float | None = None
    officer_notified_at: float | None = None
    officer_notice: str = ""
    terugkoppelingen: list[dict[str, Any]] = field(default_factory=list)
    #: Every distinct ontvangstbevestiging counted (message_id, afzender, at): more than one means the
    #: meldpunt registered the melding more than once (V06); a retransmission of the same one counts once.
    bevestigingen: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict) -> "Entry":
        data = dict(data)
        data["attempts"] = [Attempt(**a) for a in data.get("attempts", [])]
        return cls(**data)


#: deliver(message bytes, entry) -> (Outcome, Dutch reason, trace dict)
Deliver = Callable[[bytes, Entry], tuple[Outcome, str, dict]]


class DeliveryQueue:
    def __init__(self, directory: Path, clock: KetenClock, deliver: Deliver, retry_hours: int = 24,
                 workers: int = WORKERS) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.deliver = deliver
        self.retry_seconds = retry_hours * 3600
        self._lock = threading.RLock()
        self._entries: dict[str, Entry] = {}
        self._stop = threading.Event()
        self._generation = 0  # bumped on new work, so every idle worker looks again
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._in_flight: set[str] = set()  # kenmerken being attempted right now
        self.changed = threading.Condition(self._lock)  # notified on every state change
        self._due: list[tuple[float, int, str]] = []  # heap of (next_attempt, seq, kenmerk); stale ones skipped
        self._seq = itertools.count()
        self._version: dict[str, int] = {}  # kenmerk -> last state handed to disk
        self._on_disk: dict[str, int] = {}  # kenmerk -> version written
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        for path in sorted(self.dir.glob("*.json")):  # survive a restart
            entry = Entry.from_json(read_json(path))
            self._entries[entry.kenmerk] = entry
            self._schedule(entry)

    # -- persistence ------------------------------------------------------
    def _schedule(self, entry: Entry) -> None:
        """(Under the lock.) Make a pending entry due at its next_attempt."""
        if entry.status in _PENDING:
            heapq.heappush(self._due, (entry.next_attempt, next(self._seq), entry.kenmerk))

    def _snapshot(self, entry: Entry) -> tuple[str, int, dict]:
        """(Under the lock.) The entry's state as it must go to disk: what
        ``asdict`` gives, without deep-copying the traces (an attempt, a
        confirmation or a terugkoppeling is never changed once recorded)."""
        version = self._version.get(entry.kenmerk, 0) + 1
        self._version[entry.kenmerk] = version
        data = {f.name: getattr(entry, f.name) for f in fields(Entry)}
        data["attempts"] = [dict(vars(a)) for a in entry.attempts]
        data["terugkoppelingen"] = list(entry.terugkoppelingen)
        data["bevestigingen"] = list(entry.bevestigingen)
        return entry.kenmerk, version, data

    def _persist(self, snapshot: tuple[str, int, dict]) -> None:
        """(Not under the lock.) Write a snapshot, unless a newer one of the
        same entry is on disk already; then tell the waiters."""
        kenmerk, version, data = snapshot
        with self._stripes[hash(kenmerk) % _STRIPES]:
            if self._on_disk.get(kenmerk, 0) < version:
                write_json(self.dir / f"{kenmerk}.json", data)
                self._on_disk[kenmerk] = version
        with self._lock:
            self.changed.notify_all()

    def message(self, kenmerk: str) -> bytes:
        return (self.dir / f"{kenmerk}.eml").read_bytes()

    # -- API --------------------------------------------------------------
    def submit(self, kenmerk: str, meldpunt: str, rcpt: str, message: bytes, not_before: float | None = None) -> Entry:
        """Queue a signed message, to go out at once or not before a keten
        time. A resent melding keeps its kenmerk (V06): submitting a kenmerk
        that is already queued returns that entry."""
        with self._lock:
            if kenmerk in self._entries:
                return self._entries[kenmerk]
            now = self.clock.timestamp()
            due = max(now, not_before or now)
            entry = Entry(kenmerk, meldpunt, rcpt, submitted=now, first_due=due, next_attempt=due)
            self._entries[kenmerk] = entry  # known at once (a second submit returns it), due once on disk
            snapshot = self._snapshot(entry)
        try:
            _write_unsynced_dir(self.dir / f"{kenmerk}.eml", message)
            self._persist(snapshot)  # its directory fsync makes the message's rename durable too
        except BaseException:
            with self._lock:  # not queued after all
                self._entries.pop(kenmerk, None)
                self._version.pop(kenmerk, None)
            raise
        with self._lock:
            self._schedule(entry)
        self._wake()
        return entry

    def get(self, kenmerk: str) -> Entry | None:
        with self._lock:
            return self._entries.get(kenmerk)

    def all(self) -> list[Entry]:
        with self._lock:
            return list(self._entries.values())

    def confirm(self, kenmerk: str, message_id: str = "", sender: str = "", at: float | None = None) -> bool:
        """An (authenticated) ontvangstbevestiging arrived for kenmerk. The
        first one makes the melding *bezorgd en bevestigd*; every distinct
        one (by Message-ID) is kept, so a second registration shows (V06).
        ``at``: when our MX accepted it (keten clock); the moment this runs
        may be later, after the harness moved the clock on (V07 timing)."""
        with self._lock:
            entry = self._entries.get(kenmerk)
            if entry is None or entry.status == Status.ONBESTELBAAR.value:
                return False
            if entry.delivered_at is None and entry.kenmerk not in self._in_flight:
                return False  # never delivered: a confirmation for it is not ours
            if message_id and any(b.get("message_id") == message_id for b in entry.bevestigingen):
                return True  # the same confirmation once more (a retransmission)
            now = self.clock.timestamp() if at is None else at
            entry.bevestigingen.append({"message_id": message_id, "afzender": sender, "at": now})
            if entry.confirmed_at is None:
                entry.confirmed_at = now
                if entry.status == Status.BEZORGD.value:
                    entry.status = Status.BEZORGD_EN_BEVESTIGD.value
            snapshot = self._snapshot(entry)
        self._persist(snapshot)
        return True

    def terugkoppeling(self, kenmerk: str, status: str, at: float | None = None) -> bool:
        with self._lock:
            entry = self._entries.get(kenmerk)
            if entry is None:
                return False
            entry.terugkoppelingen.append({"status": status, "at": self.clock.timestamp() if at is None else at})
            snapshot = self._snapshot(entry)
        self._persist(snapshot)
        return True

    # -- worker -----------------------------------------------------------
    def _wake(self) -> None:
        with self._lock:
            self._generation += 1
        self.clock.notify()

    def _next_due(self) -> Entry | None:
        """The pending entry with the earliest next attempt (not in flight)."""
        with self._lock:
            while self._due:
                at, _, kenmerk = self._due[0]
                entry = self._entries.get(kenmerk)
                if entry is not None and entry.status in _PENDING and entry.next_attempt == at \
                        and kenmerk not in self._in_flight:
                    return entry
                heapq.heappop(self._due)  # stale: attempted, rescheduled or final since
            return None

    def run_once(self) -> bool:
        """Attempt the entry that is due now, if any. Returns whether one was."""
        with self._lock:
            entry = self._next_due()
            if entry is None or entry.next_attempt > self.clock.timestamp():
                return False
            heapq.heappop(self._due)  # that is the top
            self._in_flight.add(entry.kenmerk)
        try:
            outcome, reason, trace = self.deliver(self.message(entry.kenmerk), entry)
            self._record(entry, outcome, reason, trace)
        finally:
            with self._lock:
                self._in_flight.discard(entry.kenmerk)
                self._schedule(entry)  # a retry is due again (scheduled only once out of flight)
                self.changed.notify_all()
        return True

    def idle(self) -> bool:
        """Nothing is being attempted and nothing is due on the keten clock."""
        with self._lock:
            entry = self._next_due()
            return not self._in_flight and (entry is None or entry.next_attempt > self.clock.timestamp())

    def next_due(self) -> float | None:
        """Keten time of the next scheduled attempt, if any."""
        entry = self._next_due()
        return None if entry is None else entry.next_attempt

    def wait_idle(self, timeout: float) -> bool:
        """Block until idle. A clock jump makes work due: the worker picks it
        up and notifies, so this answers after that work is done."""
        self.clock.notify()
        with self._lock:
            return self.changed.wait_for(self.idle, timeout)

    def _record(self, entry: Entry, outcome: Outcome, reason: str, trace: dict) -> None:
        now = self.clock.timestamp()
        with self._lock:
            entry.attempts.append(Attempt(now, outcome.value, reason, trace))
            if outcome is Outcome.DELIVERED:
                entry.status, entry.delivered_at, entry.reason = Status.BEZORGD.value, now, ""
                if entry.confirmed_at is not None:  # the confirmation overtook our bookkeeping
                    entry.status = Status.BEZORGD_EN_BEVESTIGD.value
            elif outcome is Outcome.TEMPORARY and now - entry.first_due < self.retry_seconds:
                delay = BACKOFF[min(len(entry.attempts) - 1, len(BACKOFF) - 1)]
                entry.status, entry.reason = Status.OPNIEUW.value, reason
                entry.next_attempt = min(now + delay, entry.first_due + self.retry_seconds)
            else:
                if outcome is Outcome.TEMPORARY:
                    reason = f"herhaalperiode van {self.retry_seconds // 3600} uur verstreken; laatste fout: {reason}"
                entry.status, entry.reason = Status.ONBESTELBAAR.value, reason
                entry.officer_notified_at = now
                entry.officer_notice = officer_notice(entry.kenmerk, entry.meldpunt, reason)
            snapshot = self._snapshot(entry)
        self._persist(snapshot)

    def _worker(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                seen = self._generation
            if self.run_once():
                continue
            entry = self._next_due()
            deadline = entry.next_attempt if entry is not None else float("inf")
            self.clock.wait_until(deadline, lambda: self._stop.is_set() or self._generation != seen)

    def start(self) -> "DeliveryQueue":
        for i in range(self._workers):
            t = threading.Thread(target=self._worker, name=f"wachtrij-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.clock.notify()
        for t in self._threads:
            t.join(30)
        self._threads.clear()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block (real time) until predicate() holds after some state change."""
        with self._lock:
            return self.changed.wait_for(predicate, timeout)


def deliver_as(party, message: bytes, rcpt: str, pool=None):
    """``party.deliver`` (its address, sending host and clock, the
    DANE-checked route) with an optional connection pool
    (:class:`ketentest.delivery.Verbindingen`): (outcome, reason, trace)."""
    if pool is None:
        return party.deliver(message, rcpt)
    from ketentest.delivery import deliver
    from simulators.control import jsonable

    sender = party.deelnemer.domain.senders[0]
    attempt = deliver(message, party.deelnemer.adres, rcpt, resolver=party.resolver, source_ip=sender.ip,
                      helo=sender.name, clock=party.clock, pool=pool)
    return attempt.outcome, attempt.reason, {"beschrijving": attempt.describe(), **jsonable(attempt)}


def _write_unsynced_dir(path: Path, data: bytes) -> None:
    """Write, fsync and rename into place, without the directory fsync: the
    caller's next write in the same directory does that (simulators.store)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
