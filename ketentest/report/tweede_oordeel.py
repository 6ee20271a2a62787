"""The reference MTA's opinion beside our B06 and V02 verdicts, as evidence.

After a step that produced a B06 or V02 :class:`CheckResult`, the report
plugin asks the session's reference (fixture ``referentie_mta``, a lazily
started Postfix, see conftest.py) for its DANE verdict on the same domain.
The opinion is evidence with verdict "informatie": it is shown beside ours
and never decides pass or fail (the differential test
tests/test_postfix_referentie.py asserts agreement). Without a reference the
evidence says "referentie niet beschikbaar: ..." instead of disappearing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from ketentest.errors import KetentestError
from ketentest.referentie_mta import MET_REFERENTIE, ReferentieOordeel
from ketentest.report.evidence import Evidence, Kind, adapter
from ketentest.verdict import CheckResult

FIXTURE = "referentie_mta"


def tweede_oordelen(request: pytest.FixtureRequest, values: Iterable[Any]) -> list[ReferentieOordeel]:
    out = []
    for value in values:
        if isinstance(value, CheckResult) and value.agreement in MET_REFERENTIE:
            out.append(oordeel(_referentie(request), value))
    return out


def _referentie(request: pytest.FixtureRequest):
    try:
        return request.getfixturevalue(FIXTURE)
    except pytest.FixtureLookupError:
        return None


def oordeel(referentie, result: CheckResult) -> ReferentieOordeel:
    ours = result.verdict.value
    if "." not in result.domain:  # "keten": the melding reached no meldpunt
        return ReferentieOordeel(result.agreement, result.domain, ours, None,
                                 "geen tweede oordeel: de melding ging naar geen maildomein")
    if referentie is None:
        return ReferentieOordeel(result.agreement, result.domain, ours, None,
                                 "referentie niet beschikbaar: deze run heeft geen referentie-MTA")
    try:
        uitslag = referentie.dane_probe(result.domain)
    except KetentestError as e:
        why = e.message if e.message.startswith("referentie niet beschikbaar") else \
            f"referentie niet beschikbaar: {e.message}"
        return ReferentieOordeel(result.agreement, result.domain, ours, None, why)
    return ReferentieOordeel(result.agreement, result.domain, ours, uitslag)


@adapter(ReferentieOordeel)
def referentie_bewijs(o: ReferentieOordeel) -> Iterator[Evidence]:
    mta = o.uitslag.mta if o.uitslag else "Postfix met DANE"
    lines = [o.samenvatting(), ""]
    if o.uitslag is not None:
        lines += ["Logregels van de referentie:", *o.uitslag.regels]
    yield Evidence.of(f"Tweede oordeel {o.afspraak} {o.domein}: {mta}", "\n".join(lines), Kind.TEXT,
                      verdict="informatie", note=o.samenvatting())
