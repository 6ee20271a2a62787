"""Evidence adapters for the typed results ketentest itself defines.

Other modules register adapters for their own result types the same way
(``@adapter(MyResult)``, see ketentest/report/evidence.py); the report plugin
imports this module, so these are always active.
"""

from __future__ import annotations

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
