"""Fault switches of a simulated mail server, settable while it runs.

    server.switches.set(temp_failures=2)              # 451 twice, then normal
    server.switches.set(tls_profile=ONLY_TLS10_11)    # new connections only
    server.switches.reset()

:class:`Switches` is a frozen value; :class:`SwitchBoard` holds the current
one behind a lock and hands out the one-shot faults (counted 4xx, counted
drops) atomically, so two connections never both take the last one.

The healthy defaults defer to the keten file: an MX host with ``tls:
alleen-tls1.1`` in the keten offers that profile until a switch says otherwise
(:meth:`Switches.offer`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ketentest.model import Host, MxHost
from ketentest.policy import NCSC_GOED, PROFILES, TlsProfile
from simulators.control import typed_changes
from simulators.pki import CertVariant


class Stage(str, Enum):
    """Where in the SMTP dialogue a fault strikes."""

    GREETING = "greeting"  # instead of the 220 banner
    MAIL = "mail"  # reply to MAIL FROM
    RCPT = "rcpt"  # reply to RCPT TO
    DATA = "data"  # the reply after the message was received (end of DATA)


@dataclass(frozen=True)
class Switches:
    """How the server misbehaves; the defaults are a healthy server."""

    #: Answer 4xx (451 4.3.0; 421 at GREETING) this many times at ``temp_fail_stage`` ...
    temp_failures: int = 0
    #: ... or until this time (the server's clock: keten clock or wall clock, a timestamp).
    temp_fail_until: float | None = None
    temp_fail_stage: Stage = Stage.DATA
    #: Answer 5xx (554 5.3.0 at GREETING, 550 5.7.1 otherwise) at ``perm_fail_stage``.
    perm_failure: bool = False
    perm_fail_stage: Stage = Stage.RCPT
    #: Drop the connection after the message data arrived, before replying; this many times.
    drop_in_data: int = 0
    #: Delay every reply (including the banner) by this many seconds.
    reply_delay: float = 0.0
    #: Stop answering at this stage: the client has to time out.
    stall_at: Stage | None = None
    #: Offer STARTTLS (False: a plain-text server, as after STARTTLS stripping).
    offer_starttls: bool = True
    tls_profile: TlsProfile = NCSC_GOED  # or its name (ketentest.policy.PROFILES)
    cert_variant: CertVariant = CertVariant.VALID
    #: Refuse all service: 554 banner, 503 to every command but QUIT (RFC 5321 3.1).
    reject_all: bool = False
    #: Act on the sender's DMARC policy (False: a defect, spoofed mail is taken in like any other).
    enforce_dmarc: bool = True
    #: Journal what was answered 250 until the application handled it (False: a defect,
    #: a crash between the 250 and the application loses the message; S08 must catch it).
    journal: bool = True

    def __post_init__(self) -> None:
        if self.temp_failures < 0 or self.drop_in_data < 0:
            raise ValueError("temp_failures en drop_in_data kunnen niet negatief zijn")
        if self.reply_delay < 0:
            raise ValueError("reply_delay kan niet negatief zijn")
        object.__setattr__(self, "temp_fail_stage", Stage(self.temp_fail_stage))
        object.__setattr__(self, "perm_fail_stage", Stage(self.perm_fail_stage))
        object.__setattr__(self, "cert_variant", CertVariant(self.cert_variant))
        if isinstance(self.tls_profile, str):  # by name, e.g. from a JSON control API
            if self.tls_profile not in PROFILES:
                raise ValueError(f"onbekend TLS-profiel {self.tls_profile!r}; bekend: {', '.join(PROFILES)}")
            object.__setattr__(self, "tls_profile", PROFILES[self.tls_profile])
        if self.stall_at is not None:
            object.__setattr__(self, "stall_at", Stage(self.stall_at))

    def describe(self) -> str:
        """The switches that differ from a healthy server, for reports."""
        healthy = Switches()
        changed = [f"{f.name}={getattr(self, f.name)!s}" for f in dataclasses.fields(self)
                   if getattr(self, f.name) != getattr(healthy, f.name)]
        return ", ".join(changed) or "gezond"

    def offer(self, host: Host) -> "TlsOffer":
        """What one listening host offers: the keten file's settings for that
        MX host (certificaat, tls, starttls), unless a switch was flipped away
        from healthy, which then wins for every host."""
        keten = host if isinstance(host, MxHost) else MxHost(host.name, host.ip)
        return TlsOffer(
            starttls=self.offer_starttls and keten.starttls,
            profile=self.tls_profile if self.tls_profile != NCSC_GOED else PROFILES[keten.tls],
            variant=self.cert_variant if self.cert_variant is not CertVariant.VALID else CertVariant.of(keten.certificate),
        )


@dataclass(frozen=True)
class TlsOffer:
    """STARTTLS, TLS profile and certificate variant of one listening host."""

    starttls: bool
    profile: TlsProfile
    variant: CertVariant


class SwitchBoard:
    """The current :class:`Switches` of one server, thread-safe."""

    def __init__(self, initial: Switches | None = None, clock: Callable[[], float] | None = None) -> None:
        import time

        self._lock = threading.Lock()
        self._current = initial or Switches()
        self._clock = clock or time.time
        self._listeners: list[Callable[[Switches], None]] = []

    def on_change(self, listener: Callable[[Switches], None]) -> None:
        """Call ``listener(new)`` in the changing thread after every set/reset."""
        self._listeners.append(listener)

    def _changed(self, new: Switches) -> Switches:
        for listener in self._listeners:
            listener(new)
        return new

    @property
    def current(self) -> Switches:
        with self._lock:
            return self._current

    def set(self, **changes) -> Switches:
        """Change some switches; takes effect for the next reply or connection."""
        with self._lock:
            self._current = dataclasses.replace(self._current, **changes)
            new = self._current
        return self._changed(new)

    def reset(self) -> Switches:
        with self._lock:
            self._current = new = Switches()
        return self._changed(new)

    def take_temp_failure(self, stage: Stage) -> bool:
        """Whether this reply at ``stage`` is a 4xx; uses up one counted failure."""
        with self._lock:
            s = self._current
            if s.temp_fail_stage is not stage:
                return False
            if s.temp_fail_until is not None and self._clock() < s.temp_fail_until:
                return True
            if s.temp_failures > 0:
                self._current = dataclasses.replace(s, temp_failures=s.temp_failures - 1)
                return True
            return False

    def take_drop(self) -> bool:
        """Whether to drop this DATA; uses up one counted drop."""
        with self._lock:
            s = self._current
            if s.drop_in_data > 0:
                self._current = dataclasses.replace(s, drop_in_data=s.drop_in_data - 1)
                return True
            return False


#: Bounds of the numeric switches over the control API.
API_BOUNDS = {"reply_delay": (0, 600), "temp_fail_until": (0, 32503680000.0)}


def _profile(name) -> TlsProfile:
    if not isinstance(name, str) or name not in PROFILES:
        raise ValueError(f"onbekend TLS-profiel {str(name)[:40]!r}; bekend: {', '.join(PROFILES)}")
    return PROFILES[name]


def api_changes(raw) -> dict:
    """Switch changes as the control API sends them (JSON), checked by type and
    bound before anything is applied; TLS profiles by name."""
    return typed_changes(Switches, raw, bounds=API_BOUNDS, converters={"tls_profile": _profile})
