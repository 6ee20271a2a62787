"""Whether a received message may be believed as coming from one party of the
keten: the judgement a meldpunt makes before it registers a melding (V03,
S06), and the police before they count an ontvangstbevestiging or
terugkoppeling (V07, V08).

    origin = check_origin(stored.content, stored.auth, "politie.test")
    if not origin.ok:
        quarantine(stored, origin.reason)      # Dutch, says what is wrong

A message is believed only when all of these hold:

- no header the chain relies on occurs twice (a reader takes the first
  instance, a DKIM verifier the last: an added ``X-Kenmerk`` relabels it);
- the From domain is exactly the expected party's, and DMARC passes for it
  (``require_dmarc``: a melding, V03 asks the police's DMARC to pass; a
  receipt needs only the meldpunt's aligned DKIM, so a meldpunt without a
  DMARC record, a B04 matter, can still confirm);
- a DKIM signature that passed is aligned with that domain (under the
  domain's own ``adkim``, relaxed without a record): SPF alone is not
  enough, as V03 asks DKIM;
- that signature covers From, ``X-Kenmerk`` and ``X-Berichtsoort``, so the
  kenmerk and the kind of message are the signer's words;
- the message names exactly one well-formed kenmerk in ``X-Kenmerk``.

Pure: it reads the message and the :class:`AuthResult` the receiving MX
computed; no DNS, no state.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass

from ketentest.mail.auth import AuthResult, aligned
from ketentest.mail.compose import KENMERK_HEADER, KIND_HEADER, STATUS_HEADER, is_kenmerk, repeated_headers

#: Headers the trusted signature must cover.
MUST_BE_SIGNED = ("from", KENMERK_HEADER.lower(), KIND_HEADER.lower())


@dataclass(frozen=True)
class Origin:
    ok: bool
    reason: str  # Dutch; "" when ok
    kenmerk: str | None  # the single X-Kenmerk, when there is exactly one well-formed one
    kind: str  # X-Berichtsoort, "" if absent or repeated
    status: str  # X-Terugkoppeling-Status, "" if absent
    message_id: str
    signer: str  # d= of the trusted signature, "" if none

    def describe(self) -> str:
        return "vertrouwd" if self.ok else self.reason


def _single(headers, name: str) -> str:
    values = headers.get_all(name) or []
    return str(values[0]).strip() if len(values) == 1 else ""


def repeated_reason(message: bytes) -> str:
    """Why a message with a repeated chain header is not believed ("" if none is repeated)."""
    repeated = repeated_headers(message)
    if not repeated:
        return ""
    listed = ", ".join(f"{name} ({n} keer)" for name, n in sorted(repeated.items()))
    return (f"kopregel(s) dubbel: {listed}; welk exemplaar ondertekend is, is niet te zeggen. "
            "Een bericht van de keten heeft elke kopregel precies één keer")


def check_origin(message: bytes, auth: AuthResult, domain: str, *, require_dmarc: bool = True) -> Origin:
    """Judge one received message against the party whose mail domain is ``domain``."""
    domain = domain.lower().rstrip(".")
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(message)
    except Exception as e:  # noqa: BLE001 - a hostile header block is a reason, never a crash
        return Origin(False, f"kopregels onleesbaar ({type(e).__name__})", None, "", "", "", "")
    raw_kenmerk = _single(headers, KENMERK_HEADER)
    kenmerk = raw_kenmerk if is_kenmerk(raw_kenmerk) else None
    kind, status = _single(headers, KIND_HEADER), _single(headers, STATUS_HEADER)
    message_id = _single(headers, "Message-ID")

    def refuse(reason: str, signer: str = "") -> Origin:
        return Origin(False, reason, kenmerk, kind, status, message_id, signer)

    repeated = repeated_reason(message)
    if repeated:
        return refuse(repeated)
    dmarc = auth.dmarc
    if dmarc.result in ("fail", "permerror", "temperror") or (require_dmarc and not dmarc.passed):
        return refuse(f"DMARC {dmarc.result} voor From-domein {dmarc.from_domain or '(geen eenduidige From)'}: "
                      f"{dmarc.reason}; alleen post van {domain} met geslaagde DMARC telt")
    if dmarc.from_domain != domain:
        return refuse(f"afzender {dmarc.from_domain} is niet {domain}, van wie dit bericht moet komen")
    trusted = [r for r in auth.dkim if r.passed and aligned(r.domain, domain, dmarc.adkim)]
    if not trusted:
        seen = ", ".join(f"d={r.domain} {r.result}" for r in auth.dkim) or "geen handtekening"
        return refuse(f"geen geldige DKIM-handtekening van {domain} (adkim={dmarc.adkim}; gezien: {seen}); "
                      "DMARC slaagde alleen via SPF, en dat bewijst niet wie het bericht schreef")
    covering = [r for r in trusted if all(h in r.signed_headers for h in MUST_BE_SIGNED)]
    if not covering:
        return refuse(f"de handtekening van {trusted[0].domain} dekt niet {', '.join(MUST_BE_SIGNED)}; "
                      "kenmerk en berichtsoort zijn dan niet van de afzender", trusted[0].domain)
    signer = covering[0].domain
    if kenmerk is None:
        return refuse(f"geen geldig kenmerk in {KENMERK_HEADER} ({raw_kenmerk or 'ontbreekt'!s})", signer)
    return Origin(True, "", kenmerk, kind, status, message_id, signer)
