"""The digitaal postkantoor's durable delivery queue (V09, S01, S02, S08).

Each melding is one record on disk (state, attempts, next attempt) plus its
signed message. A worker delivers what is due on the keten clock; temporary
failures are retried with back-off until the retry period (24 h by default)
has passed; a permanent failure, no secure route, or an expired retry period
makes the melding *onbestelbaar* and notifies the officer at once. Every
melding ends in exactly one final state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ketentest.clock import KetenClock
from ketentest.delivery import Outcome, officer_notice
from simulators.store import read_json, write_atomic, write_json

#: Back-off between attempts, in seconds of keten time; the last repeats.
BACKOFF = (60, 5 * 60, 15 * 60, 30 * 60, 60 * 60, 2 * 3600)


class Status(str, Enum):
    IN_WACHTRIJ = "in wachtrij"
    OPNIEUW = "opnieuw proberen"
    BEZORGD = "bezorgd"  # accepted by the meldpunt, awaiting ontvangstbevestiging
    BEZORGD_EN_BEVESTIGD = "bezorgd en bevestigd"
    ONBESTELBAAR = "onbestelbaar"

    @property
    def final(self) -> bool:
        return self in (Status.BEZORGD_EN_BEVESTIGD, Status.ONBESTELBAAR)


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
                 workers: int = 4) -> None:
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
        for path in sorted(self.dir.glob("*.json")):  # survive a restart
            entry = Entry.from_json(read_json(path))
            self._entries[entry.kenmerk] = entry

    # -- persistence ------------------------------------------------------
    def _save(self, entry: Entry) -> None:
        write_json(self.dir / f"{entry.kenmerk}.json", asdict(entry))
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
            write_atomic(self.dir / f"{kenmerk}.eml", message)
            now = self.clock.timestamp()
            due = max(now, not_before or now)
            entry = Entry(kenmerk, meldpunt, rcpt, submitted=now, first_due=due, next_attempt=due)
            self._entries[kenmerk] = entry
            self._save(entry)
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
            self._save(entry)
            return True

    def terugkoppeling(self, kenmerk: str, status: str, at: float | None = None) -> bool:
        with self._lock:
            entry = self._entries.get(kenmerk)
            if entry is None:
                return False
            entry.terugkoppelingen.append({"status": status, "at": self.clock.timestamp() if at is None else at})
            self._save(entry)
            return True

    # -- worker -----------------------------------------------------------
    def _wake(self) -> None:
        with self._lock:
            self._generation += 1
        self.clock.notify()

    def _next_due(self) -> Entry | None:
        with self._lock:
            pending = [e for e in self._entries.values()
                       if e.status in (Status.IN_WACHTRIJ.value, Status.OPNIEUW.value) and e.kenmerk not in self._in_flight]
            return min(pending, key=lambda e: e.next_attempt, default=None)

    def run_once(self) -> bool:
        """Attempt the entry that is due now, if any. Returns whether one was."""
        with self._lock:
            entry = self._next_due()
            if entry is None or entry.next_attempt > self.clock.timestamp():
                return False
            self._in_flight.add(entry.kenmerk)
        try:
            outcome, reason, trace = self.deliver(self.message(entry.kenmerk), entry)
            self._record(entry, outcome, reason, trace)
        finally:
            with self._lock:
                self._in_flight.discard(entry.kenmerk)
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
            self._save(entry)

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
