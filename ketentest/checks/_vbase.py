"""Shared helpers for the V-checks (V01-V09): they judge one
:class:`~ketentest.verzending.Verzending` (one melding's observed journey).

Pure functions over the Verzending's plain data (queue entries, attempt
traces as JSON, stored messages): no I/O, never an exception for bad data.
Keten-clock moments are POSIX timestamps in the Verzending; here they become
aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, fields
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from ketentest.clock import UTC
from ketentest.model import Aannames, Keten
from ketentest.verdict import CheckResult, SubtestResult, Uitslag
from ketentest.verzending import OntvangenBericht, Verzending

G, W, F, N, I = (Uitslag.GESLAAGD, Uitslag.WAARSCHUWING, Uitslag.GEFAALD, Uitslag.NIET_TESTBAAR,
                 Uitslag.INFORMATIE)

#: TLS versions V02 accepts for delivery (NCSC: 1.3 and 1.2 only).
GOOD_TLS = ("TLSv1.3", "TLSv1.2")
#: Final states of a melding in the postkantoor (V09).
FINAL_STATES = ("bezorgd en bevestigd", "onbestelbaar")
#: Folder names a meldpunt uses for its normal inbox (Maildir new/ or "inbox").
INBOX_NAMES = ("new", "inbox", "cur")


def sub(agreement: str, name: str, verdict: Uitslag, explanation: str, **evidence: Any) -> SubtestResult:
    return SubtestResult(f"{agreement.lower()}.{name}", agreement, verdict, explanation, evidence)


def domain_of(v: Verzending, keten: Keten) -> str:
    """The meldpunt's mail domain, or "keten" when the melding went nowhere."""
    if not v.meldpunt_id:
        return "keten"
    try:
        return keten.deelnemer(v.meldpunt_id).domain.name
    except KeyError:
        return v.meldpunt_id


def result(agreement: str, v: Verzending, keten: Keten, subtests: list[SubtestResult]) -> CheckResult:
    return CheckResult(agreement, domain_of(v, keten), tuple(subtests))


def aannames(v: Verzending, keten: Keten) -> Aannames:
    """The assumed values the keten ran with: the Verzending's own record,
    else the keten's configuration."""
    known = {f.name for f in fields(Aannames)}
    values = {**asdict(keten.aannames), **{k: val for k, val in (v.aannames or {}).items() if k in known}}
    try:
        return Aannames(**{k: int(val) for k, val in values.items()})
    except (TypeError, ValueError):
        return keten.aannames


def moment(value: Any) -> dt.datetime | None:
    """A keten-clock timestamp (float seconds) as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, UTC)
    return None


def fmt(when: dt.datetime | None) -> str:
    return "onbekend" if when is None else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} minuten" if seconds < 3 * 3600 else f"{seconds / 3600:.1f} uur"


def entry_time(entry: dict[str, Any] | None, key: str) -> dt.datetime | None:
    return None if not entry else moment(entry.get(key))


def attempts_of(entry: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not entry or not isinstance(entry.get("attempts"), list):
        return []
    return [a for a in entry["attempts"] if isinstance(a, dict)]


def observed_until(v: Verzending, now: dt.datetime | None = None) -> dt.datetime | None:
    """How far the keten was observed: ``now`` when the caller knows it,
    else the latest moment recorded anywhere in the Verzending (a lower
    bound of the moment it was collected)."""
    if now is not None:
        return moment(now)
    stamps: list[float] = []

    def take(entry: dict[str, Any] | None) -> None:
        if not entry:
            return
        for key in ("submitted", "first_due", "delivered_at", "confirmed_at", "officer_notified_at"):
            if isinstance(entry.get(key), (int, float)):
                stamps.append(float(entry[key]))
        stamps.extend(float(a["at"]) for a in attempts_of(entry) if isinstance(a.get("at"), (int, float)))
        stamps.extend(float(t["at"]) for t in entry.get("terugkoppelingen") or []
                      if isinstance(t, dict) and isinstance(t.get("at"), (int, float)))

    take(v.postkantoor)
    for e in v.uitgaand:
        take(e)
    if v.ontvangst:
        stamps.extend(float(r["op"]) for r in v.ontvangst.get("ontvangen") or []
                      if isinstance(r, dict) and isinstance(r.get("op"), (int, float)))
    return moment(max(stamps)) if stamps else None


def delivered_attempts(entry: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [a for a in attempts_of(entry) if a.get("outcome") == "delivered"]


def was_delivered(v: Verzending) -> bool:
    return entry_time(v.postkantoor, "delivered_at") is not None or bool(delivered_attempts(v.postkantoor))


def not_delivered_reason(v: Verzending) -> str:
    """Why a melding has no delivery moment yet, in Dutch (V07, V08)."""
    if was_delivered(v):
        return "bezorgd volgens de pogingen, maar zonder bezorgmoment (delivered_at)"
    if v.geweigerd:
        return f"de melding is bij het indienen geweigerd ({v.geweigerd})"
    return f"nog niet bezorgd (status {v.status!r})"


def outbound(v: Verzending, suffix: str) -> dict[str, Any] | None:
    """The meldpunt's first outbound entry ``<kenmerk>.<suffix>`` (not a
    repeat like ``.bevestiging-2``)."""
    for e in v.uitgaand:
        if e.get("kenmerk") == f"{v.kenmerk}.{suffix}":
            return e
    return None


def repeats(v: Verzending, suffix: str) -> list[str]:
    """Extra outbound entries for the same kenmerk (``.bevestiging-2`` ...)."""
    return [e.get("kenmerk", "") for e in v.uitgaand if str(e.get("kenmerk", "")).startswith(f"{v.kenmerk}.{suffix}-")]


def parse_message(data: bytes) -> EmailMessage | None:
    try:
        return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]
    except Exception:  # a stored message we cannot read is judged as unreadable, not raised
        return None


def in_inbox(b: OntvangenBericht) -> bool:
    return str(b.map).lower() in INBOX_NAMES


def refusals(entry: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every 5xx answer the receiver gave, per attempt: {at, code, text, host}."""
    out = []
    for a in attempts_of(entry):
        trace = a.get("trace") or {}
        for h in trace.get("hosts") or []:
            reply = (h or {}).get("reply") or {}
            if isinstance(reply.get("code"), int) and 500 <= reply["code"] < 600:
                out.append({"at": fmt(moment(a.get("at"))), "host": h.get("host"), "code": reply["code"],
                            "text": str(reply.get("text", ""))})
        reply = trace.get("reply") or {}
        if not trace.get("hosts") and isinstance(reply.get("code"), int) and 500 <= reply["code"] < 600:
            out.append({"at": fmt(moment(a.get("at"))), "host": None, "code": reply["code"], "text": str(reply.get("text", ""))})
    return out


# -- transport (V02, V07) ----------------------------------------------------------------------


def _client_lines(host: dict[str, Any]) -> list[str]:
    return [str(line.get("text", "")) for line in host.get("transcript") or []
            if isinstance(line, dict) and line.get("side") == "C"]


def began_transaction(host: dict[str, Any]) -> bool:
    """Did the sender start handing over the message (MAIL FROM) to this host?"""
    return (host.get("outcome") == "delivered" or bool(host.get("data_sent"))
            or any(t.lower().startswith("mail from") for t in _client_lines(host)))


def host_transport_problems(host: dict[str, Any], mx_state: str | None) -> list[str]:
    """Why a transaction with this host did not run over DANE-authenticated
    STARTTLS with TLS >= 1.2 (empty: it did). Dutch, one reason each."""
    name = host.get("host") or "?"
    problems = []
    lines = [t.lower() for t in _client_lines(host)]
    starttls = next((i for i, t in enumerate(lines) if t.strip() == "starttls"), None)
    mail = next((i for i, t in enumerate(lines) if t.startswith("mail from")), None)
    if starttls is None or (mail is not None and mail < starttls):
        problems.append(f"{name}: de melding ging over zonder STARTTLS (leesbaar onderweg)")
    tls = host.get("tls") or {}
    if not tls:
        problems.append(f"{name}: geen TLS-sessie in het spoor")
    elif tls.get("version") not in GOOD_TLS:
        problems.append(f"{name}: TLS-versie {tls.get('version')!r}; alleen TLS 1.3 en 1.2 zijn toegestaan")
    dane = host.get("dane") or {}
    if not dane.get("matched"):
        problems.append(f"{name}: geen DANE-overeenkomst tussen TLSA-record en certificaat"
                        + (f" ({dane.get('explanation')})" if dane.get("explanation") else ""))
    tlsa = host.get("tlsa") or {}
    if tlsa.get("state") != "secure":
        problems.append(f"{name}: het TLSA-record was niet DNSSEC-veilig (toestand {tlsa.get('state', 'onbekend')})")
    if mx_state is not None and mx_state != "secure":
        problems.append(f"{name}: het MX-record was niet DNSSEC-veilig (toestand {mx_state})")
    return problems


def host_evidence(host: dict[str, Any]) -> dict[str, Any]:
    tls = host.get("tls") or {}
    dane = host.get("dane") or {}
    return {"host": host.get("host"), "ip": host.get("ip"), "uitkomst": host.get("outcome"),
            "tls": tls.get("version"), "cipher": tls.get("cipher"), "dane": dane.get("matched"),
            "tlsa_record": dane.get("matched_record"), "tlsa_dnssec": (host.get("tlsa") or {}).get("state")}


def transport_review(entry: dict[str, Any] | None) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Every host of every attempt that began a transaction: (evidence,
    problems, attempts without a trace to judge)."""
    seen, problems, untraced = [], [], []
    for a in attempts_of(entry):
        trace = a.get("trace") or {}
        hosts = [h for h in trace.get("hosts") or [] if isinstance(h, dict)]
        if a.get("outcome") == "delivered" and not hosts:
            untraced.append(fmt(moment(a.get("at"))))
            continue
        mx_state = (trace.get("mx") or {}).get("state") if trace.get("mx") is not None else None
        for h in hosts:
            if began_transaction(h):
                seen.append({"poging": fmt(moment(a.get("at"))), **host_evidence(h)})
                problems += host_transport_problems(h, mx_state)
    return seen, problems, untraced
