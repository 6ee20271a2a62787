"""Evidence adapters for the typed results ketentest itself defines.

Other modules register adapters for their own result types the same way
(``@adapter(MyResult)``, see ketentest/report/evidence.py); the report plugin
imports this module, so these are always active.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator

from ketentest.dns import DnsAnswer
from ketentest.report.evidence import Evidence, Kind, adapter, jsonable
from ketentest.verdict import CheckResult, Uitslag


@adapter(CheckResult)
def check_result(result: CheckResult) -> Iterator[Evidence]:
    verdict = result.verdict
    note = "; ".join(f"{s.id}: {s.explanation}" for s in result.problems)
    yield Evidence.of(
        f"Controle {result.agreement} {result.domain}: {verdict.dutch}",
        result.to_dict(),
        Kind.CHECK_JSON,
        verdict=verdict,
        note=note if verdict is not Uitslag.GESLAAGD else "",
    )


def _answer(a: DnsAnswer) -> dict:
    return {
        "naam": a.qname,
        "type": a.rdtype,
        "rcode": a.rcode,
        "dnssec": a.state.value,
        "beoordeling": a.describe(),
        "records": list(a.records),
        "extended_dns_errors": [str(e) for e in a.ede],
        "antwoord": a.raw,
    }


@adapter(DnsAnswer, many=True)
def dns_answers(answers: tuple[DnsAnswer, ...]) -> Iterator[Evidence]:
    if len(answers) == 1:
        name = f"DNS-antwoord {answers[0].qname} {answers[0].rdtype}"
    else:
        name = f"DNS-antwoorden ({len(answers)} opvragingen)"
    yield Evidence.of(name, jsonable([_answer(a) for a in answers]), Kind.DNS_JSON)


def _pdf_parts(eml: bytes) -> list[bytes]:
    msg = email.message_from_bytes(eml, policy=email.policy.default)
    return [part.get_content() for part in msg.walk() if part.get_content_type() == "application/pdf"]


def verzending(v) -> Iterator[Evidence]:
    """One melding's journey: the postkantoor's queue entry and delivery
    attempts, and per message the meldpunt stored: TLS and authentication, the
    e-mail itself and the PDF inside it."""
    k = v.kenmerk
    journey = {"kenmerk": k, "geweigerd": v.geweigerd, "meldpunt": v.meldpunt_id, "postkantoor": v.postkantoor,
               "ontvangst": v.ontvangst, "uitgaand": list(v.uitgaand), "aannames": v.aannames}
    yield Evidence.of(f"Verloop van melding {k}", json.dumps(jsonable(journey), indent=2, ensure_ascii=False),
                      Kind.TEXT, note=f"geweigerd: {v.geweigerd}" if v.geweigerd else "")
    for b in v.berichten:
        where = "quarantaine" if b.map == "quarantine" else "postvak"
        yield Evidence.of(f"Ontvangst van {k} bij het meldpunt ({where}): TLS en afzendercontrole", {
            "client_ip": b.client_ip, "tls_versie": b.tls_versie, "tls_cipher": b.tls_cipher,
            "authentication_results": b.authentication_results}, Kind.TLS_JSON)
        yield Evidence.of(f"Ontvangen bericht {k} ({where})", b.eml, Kind.EML)
        for i, pdf in enumerate(_pdf_parts(b.eml), 1):
            yield Evidence.of(f"Meldformulier {k}" + (f" ({i})" if i > 1 else ""), pdf, Kind.PDF)


try:  # the chain's journey type; registered only when that module is there
    from ketentest.verzending import Verzending
except ImportError:  # pragma: no cover
    pass
else:
    adapter(Verzending)(verzending)
