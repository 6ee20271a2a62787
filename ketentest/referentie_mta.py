"""The reference MTA's conclusion, read from its log, and how it compares to
ours: a second opinion on B06 and V02 from a real DANE-enforcing Postfix.

Pure functions on log lines (the Postfix process itself lives in
:mod:`simulators.referentie.postfix`). One delivery ends in one status line::

    postfix/smtp[21865]: 7C0292149BE: to=<meldpunt@ggdru.test>, relay=mx1.ggdru.test[127.60.2.25]:25,
        delay=0.14, delays=..., dsn=2.0.0, status=sent (250 2.0.0 Ontvangen, ...)

and, with ``smtp_tls_loglevel = 1``, the smtp process says before it how the
TLS session was authenticated ("Verified" = DANE matched at security level
``dane``; "Trusted"/"Untrusted"/"Anonymous" = not authenticated by DANE).

Both sides are reduced to a :class:`Conclusie` plus a :class:`Redenklasse`
(which safeguard stopped the mail), so :func:`vergelijk` can say whether
Postfix and our postkantoor agree. The one deliberate difference is V02:
where DANE does not apply (insecure DNS, no usable TLSA) RFC 7672 lets
Postfix send with unauthenticated TLS, while the afspraken say: do not send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum


class Conclusie(str, Enum):
    VEILIG_BEZORGD = "veilig bezorgd"  # over DANE-authenticated STARTTLS
    BEZORGD_ZONDER_DANE = "bezorgd zonder DANE"  # delivered, TLS not authenticated by DANE (or no TLS)
    NIET_BEZORGD = "niet bezorgd"  # deferred or bounced: nothing delivered


class Redenklasse(str, Enum):
    """Which part of the route stopped the mail. The first five equal
    :class:`ketentest.delivery.Safeguard` values."""

    DNSSEC = "DNSSEC"
    TLSA = "TLSA"
    STARTTLS = "STARTTLS"
    TLS = "TLS"
    DANE = "DANE"
    SMTP = "SMTP-antwoord"  # the server answered 4xx/5xx
    GEEN_MAIL = "domein ontvangt geen mail"  # by DNS: null MX, proven non-existent, no address
    VERBINDING = "verbinding"  # refused, reset, timed out


_LINE = re.compile(r"postfix(?:-[\w-]+)?/(?P<daemon>[\w/-]+)\[(?P<pid>\d+)\]: (?P<text>.*)$")
_QUEUE_ID = re.compile(r"^(?P<qid>[0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-z]{10,}): (?P<rest>.*)$")
_STATUS = re.compile(r"\bto=<(?P<rcpt>[^>]*)>, (?:orig_to=<[^>]*>, )?relay=(?P<relay>[^,]+), .*?dsn=(?P<dsn>[\d.]+), "
                     r"status=(?P<status>sent|deferred|bounced|expired) \((?P<text>.*)\)$")
_TLS = re.compile(r"^(?P<trust>Verified|Trusted|Untrusted|Anonymous) TLS connection established to "
                  r"(?P<peer>\S+): (?P<detail>.*)$")

#: Postfix's words -> the reason class, first match wins (status text first, then the other lines).
_REASONS: tuple[tuple[re.Pattern, Redenklasse], ...] = tuple((re.compile(p, re.I), k) for p, k in (
    (r"TLS is required, but was not offered", Redenklasse.STARTTLS),
    (r"Server certificate not verified|certificate verification failed|TLSA.*(mismatch|not match)",
     Redenklasse.DANE),
    (r"TLSA lookup error|type=TLSA|TLSA records? .*(insecure|bogus|malformed)", Redenklasse.TLSA),
    (r"Cannot start TLS|handshake failure|SSL_connect error|TLS session failed|wrong version number|"
     r"unsupported protocol|no protocols available", Redenklasse.TLS),
    (r"does not accept mail|nullMX", Redenklasse.GEEN_MAIL),
    # In the keten a failed look-up is a failed validation: Unbound answers SERVFAIL for bogus data.
    (r"Host not found, try again|DNSSEC|bogus", Redenklasse.DNSSEC),
    (r"Host or domain name not found|Host not found", Redenklasse.GEEN_MAIL),  # a proven NXDOMAIN
    (r"Name service error", Redenklasse.DNSSEC),
    (r"(said|refused to talk to me): [45]\d\d", Redenklasse.SMTP),
    (r"connect to .*(refused|timed out)|lost connection|Connection (refused|reset|timed out)|"
     r"conversation with .* timed out", Redenklasse.VERBINDING),
))


@dataclass(frozen=True)
class LogLine:
    daemon: str  # "smtp", "qmgr", ...
    pid: int
    queue_id: str | None
    text: str  # after "QUEUEID: " when there is one
    raw: str


def parse_line(raw: str) -> LogLine | None:
    """One Postfix log line, or None for anything else (not Postfix, garbage)."""
    found = _LINE.search(raw)
    if not found:
        return None
    text, queue_id = found["text"], None
    q = _QUEUE_ID.match(text)
    if q:
        queue_id, text = q["qid"], q["rest"]
    return LogLine(found["daemon"], int(found["pid"]), queue_id, text, raw.rstrip("\r\n"))


def final_status(lines: Iterable[str], queue_id: str) -> bool:
    """Whether the log holds the outcome of the first attempt for ``queue_id``."""
    return any((p := parse_line(line)) is not None and p.queue_id == queue_id and _STATUS.search(p.text)
               for line in lines)


def relevant_lines(lines: Iterable[str], queue_id: str) -> list[LogLine]:
    """The lines about one message: those naming its queue ID, and what the
    smtp process that tried it said in between (TLS, warnings), which Postfix
    logs without a queue ID. One smtp process serves messages one after the
    other, so its lines since its previous status line belong to this one."""
    parsed = [p for p in map(parse_line, lines) if p is not None]
    out: list[LogLine] = []
    pending: dict[int, list[LogLine]] = {}  # per smtp pid: lines since its last status line
    for p in parsed:
        if p.queue_id is None:
            if p.daemon in ("smtp", "lmtp", "relay") or "warning" in p.text:
                pending.setdefault(p.pid, []).append(p)
            continue
        is_status = bool(_STATUS.search(p.text))
        if p.queue_id == queue_id:
            if is_status:
                out += pending.pop(p.pid, [])
            out.append(p)
        elif is_status:
            pending.pop(p.pid, None)
    return out


@dataclass(frozen=True)
class PostfixUitslag:
    """What the reference MTA concluded about one message, with its log lines."""

    mta: str  # "Postfix 3.7.11 met DANE"
    queue_id: str
    status: str  # sent | deferred | bounced | expired | "" (no status line)
    conclusie: Conclusie
    reden: Redenklasse | None
    relay: str  # "mx1.ggdru.test[127.60.2.25]:25" or "none"
    dsn: str
    toelichting: str  # Postfix's own text in the status line
    tls: str  # Verified | Trusted | Untrusted | Anonymous | "" (no TLS)
    tls_detail: str  # "TLSv1.3 with cipher ..."
    regels: tuple[str, ...]  # the relevant log lines, as logged
    tls_naar: str = ""  # the host the TLS session was with: "mx1.ggdru.test[127.60.2.25]:25"

    def samenvatting(self) -> str:
        """One Dutch line for a report cell."""
        tls = (f"{self.tls} TLS connection naar {self.tls_naar or self.relay} ({self.tls_detail})" if self.tls
               else "geen TLS-sessie")
        return (f"{self.mta}: {self.conclusie.value}; {tls}; status={self.status or 'onbekend'} "
                f"(dsn {self.dsn or '-'}: {self.toelichting or 'geen toelichting'})")


def classify(lines: Sequence[str], queue_id: str, mta: str = "Postfix met DANE") -> PostfixUitslag:
    """Postfix's conclusion about ``queue_id`` from its log lines."""
    mine = relevant_lines(lines, queue_id)
    status = next((m for p in reversed(mine) if (m := _STATUS.search(p.text))), None)
    tls = next((m for p in reversed(mine) if (m := _TLS.match(p.text))), None)
    state = status["status"] if status else ""
    text = status["text"] if status else ""
    if state == "sent":
        conclusie = Conclusie.VEILIG_BEZORGD if tls and tls["trust"] == "Verified" else Conclusie.BEZORGD_ZONDER_DANE
        reden = None
    else:
        conclusie = Conclusie.NIET_BEZORGD
        reden = reason_class([text, *(p.text for p in mine)])
    return PostfixUitslag(
        mta, queue_id, state, conclusie, reden, status["relay"] if status else "",
        status["dsn"] if status else "", text, tls["trust"] if tls else "", tls["detail"] if tls else "",
        tuple(p.raw for p in mine), tls["peer"] if tls else "")


def reason_class(texts: Sequence[str]) -> Redenklasse | None:
    """The first reason class that the texts (most telling first) name."""
    for text in texts:
        for pattern, klasse in _REASONS:
            if pattern.search(text):
                return klasse
    return None


# --- our side, and the comparison ---------------------------------------------------


def onze_conclusie(outcome: str, failed: Sequence[str] = (), onveilig: bool = False,
                   smtp_reply: bool = False) -> tuple[Conclusie, Redenklasse | None]:
    """Our postkantoor's attempt (:class:`ketentest.delivery.Outcome` value,
    the failed safeguards, whether it fell back to unsafe delivery, whether a
    server reply decided) as a conclusion in the same terms as Postfix's."""
    if outcome == "delivered":
        return (Conclusie.BEZORGD_ZONDER_DANE if onveilig else Conclusie.VEILIG_BEZORGD), None
    if failed:
        return Conclusie.NIET_BEZORGD, Redenklasse(failed[0])
    if smtp_reply:
        return Conclusie.NIET_BEZORGD, Redenklasse.SMTP
    # Without a server reply: permanent is the domain itself (null MX, NXDOMAIN), temporary the network.
    return Conclusie.NIET_BEZORGD, Redenklasse.GEEN_MAIL if outcome == "permanent" else Redenklasse.VERBINDING


#: The reasons for which V02 deliberately refuses where RFC 7672 sends without authentication.
V02_ZONDER_DANE = (Redenklasse.DNSSEC, Redenklasse.TLSA)


@dataclass(frozen=True)
class Vergelijking:
    referentie: tuple[Conclusie, Redenklasse | None]
    ons: tuple[Conclusie, Redenklasse | None]
    overeen: bool
    verwacht_verschil: bool  # the V02 difference, named by the afspraken
    toelichting: str  # Dutch

    @property
    def in_orde(self) -> bool:
        return self.overeen or self.verwacht_verschil


def _shown(side: tuple[Conclusie, Redenklasse | None]) -> str:
    return side[0].value + (f" ({side[1].value})" if side[1] else "")


def vergelijk(referentie: tuple[Conclusie, Redenklasse | None],
              ons: tuple[Conclusie, Redenklasse | None]) -> Vergelijking:
    """Do Postfix and our postkantoor reach the same conclusion (and, when
    nothing was delivered, for the same reason class)?"""
    same = referentie[0] == ons[0] and (ons[0] is not Conclusie.NIET_BEZORGD or referentie[1] == ons[1])
    if same:
        return Vergelijking(referentie, ons, True, False,
                            f"Referentie en postkantoor zijn het eens: {_shown(ons)}.")
    if (referentie[0] is Conclusie.BEZORGD_ZONDER_DANE and ons[0] is Conclusie.NIET_BEZORGD
            and ons[1] in V02_ZONDER_DANE):
        return Vergelijking(referentie, ons, False, True,
                            f"Verwacht verschil (V02): DANE is hier niet van toepassing ({ons[1].value}); "
                            f"volgens RFC 7672 bezorgt Postfix dan zonder DANE-authenticatie, volgens "
                            f"afspraak V02 wordt de melding niet verstuurd.")
    return Vergelijking(referentie, ons, False, False,
                        f"Referentie en postkantoor verschillen: Postfix {_shown(referentie)}, "
                        f"postkantoor {_shown(ons)}.")


# --- the second opinion beside a verdict (B06, V02) ----------------------------------

#: The agreements whose verdicts get the reference MTA's opinion beside them.
MET_REFERENTIE = ("B06", "V02")
#: Reasons that say something about the secure route itself.
_ROUTE_REASONS = (Redenklasse.DNSSEC, Redenklasse.TLSA, Redenklasse.STARTTLS, Redenklasse.TLS, Redenklasse.DANE)


@dataclass(frozen=True)
class ReferentieOordeel:
    """What the reference MTA concluded about a domain, beside our verdict;
    or why there is no reference opinion (never silently absent)."""

    afspraak: str
    domein: str
    ons_oordeel: str  # our Uitslag value
    uitslag: PostfixUitslag | None
    niet_beschikbaar: str = ""  # "referentie niet beschikbaar: ..." when there is no uitslag

    @property
    def dane_geverifieerd(self) -> bool | None:
        return None if self.uitslag is None else self.uitslag.tls == "Verified"

    def samenvatting(self) -> str:
        if self.uitslag is None:
            return f"{self.afspraak} {self.domein}: {self.niet_beschikbaar}"
        u = self.uitslag
        if u.tls:
            tls = f"{u.tls} TLS connection naar {u.tls_naar or u.relay}"
        else:
            tls = f"geen TLS-sessie ({u.toelichting or 'geen uitslag'})"
        if self.dane_geverifieerd:
            dane = "DANE geverifieerd"
        elif u.reden in _ROUTE_REASONS:
            dane = f"DANE niet geverifieerd ({u.reden.value})"
        elif u.tls:  # a probe's refused mailbox is no DANE reason: TLS was up, unauthenticated
            dane = "DANE niet van toepassing: TLS zonder DANE-authenticatie (geen bruikbare TLSA of geen DNSSEC)"
        else:
            dane = f"DANE niet geverifieerd ({u.reden.value if u.reden else 'geen uitslag'})"
        return f"{u.mta}: {tls}; {dane}. Ons oordeel {self.afspraak}: {self.ons_oordeel}."
