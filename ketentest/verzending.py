"""One melding's journey through the keten, as the harness observed it: what
the officer submitted, what the postkantoor did with it (every delivery
attempt, with its trace), and what the meldpunt received and sent back.

The V-checks in :mod:`ketentest.checks` judge a :class:`Verzending`; the
harness builds it from the simulators' control APIs (simulators/keten.py),
and a hybrid keten could build it from a real party's logs the same way.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ketentest.clock import UTC
from ketentest.melding import Melding


@dataclass(frozen=True)
class OntvangenBericht:
    """A message as the meldpunt's MX stored it (Authentication-Results first)."""

    sleutel: str
    map: str  # "new" or "quarantine"
    client_ip: str
    tls_versie: str
    tls_cipher: str
    authentication_results: str
    eml: bytes = field(repr=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "OntvangenBericht":
        return cls(data["sleutel"], str(data["map"]), data["client_ip"], data["tls_versie"], data["tls_cipher"],
                   data["authentication_results"], base64.b64decode(data["eml_base64"]))


@dataclass(frozen=True)
class Verzending:
    melding: Melding  # as the officer submitted it
    geweigerd: str | None = None  # the postkantoor refused it at submission (reason), e.g. V01
    meldpunt_id: str | None = None  # where the postkantoor routed it
    postkantoor: dict[str, Any] | None = None  # the queue entry: status, attempts (with traces), times, notice
    ontvangst: dict[str, Any] | None = None  # the meldpunt's register record (None: never registered)
    berichten: tuple[OntvangenBericht, ...] = ()  # what the meldpunt's MX stored for this kenmerk
    uitgaand: tuple[dict[str, Any], ...] = ()  # the meldpunt's outbound entries for this kenmerk
    aannames: dict[str, Any] = field(default_factory=dict)
    waargenomen_op: float | None = None  # keten time when this was collected

    @property
    def kenmerk(self) -> str:
        return self.melding.kenmerk

    @property
    def status(self) -> str | None:
        return None if self.postkantoor is None else self.postkantoor["status"]

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return [] if self.postkantoor is None else list(self.postkantoor["attempts"])

    @property
    def waargenomen(self) -> dt.datetime | None:
        """When the harness collected this, on the keten clock."""
        return None if self.waargenomen_op is None else dt.datetime.fromtimestamp(self.waargenomen_op, UTC)

    def time(self, key: str) -> dt.datetime | None:
        """A keten-clock moment from the postkantoor entry (delivered_at, ...)."""
        value = None if self.postkantoor is None else self.postkantoor.get(key)
        return None if value is None else dt.datetime.fromtimestamp(value, UTC)
