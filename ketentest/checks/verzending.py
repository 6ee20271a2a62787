"""The V-checks (V01-V09): one melding's journey judged against the
agreements of chapter V. Kept apart from the B-registry in
:mod:`ketentest.checks` (those take a domain and a DNS look-up; these take a
:class:`~ketentest.verzending.Verzending`).

Every check has the signature ``check_vNN(verzending, keten, *, now=None)
-> CheckResult``. ``now`` is the keten-clock moment the Verzending was
collected; without it, the latest moment recorded in the Verzending is used
(so a deadline that has passed without anything being recorded since may be
reported as niet testbaar instead of gefaald). A check never raises:
:func:`check_verzending` turns a crash into a niet-testbaar result.

    results = check_verzending(sim.verzending(melding, submitted), keten, now=sim_now)
    [r.summary() for r in results if not r.verdict.ok]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from ketentest.afspraken import AFSPRAKEN
from ketentest.checks._vbase import domain_of
from ketentest.checks.v01_routering import check_v01
from ketentest.checks.v02_veilig_transport import check_v02
from ketentest.checks.v03_afzenderauthenticatie import check_v03
from ketentest.checks.v04_inhoud import check_v04
from ketentest.checks.v05_privacy import check_v05
from ketentest.checks.v06_kenmerk import check_unique_kenmerken, check_v06
from ketentest.checks.v07_ontvangstbevestiging import check_v07
from ketentest.checks.v08_terugkoppeling import check_v08
from ketentest.checks.v09_niets_zoek import check_v09
from ketentest.model import Keten
from ketentest.verdict import CheckResult, SubtestResult, Uitslag
from ketentest.verzending import Verzending

VerzendingCheck = Callable[..., CheckResult]

#: Agreement ID -> its check. The one place a V-check is registered.
VERZENDING_CHECKS: dict[str, VerzendingCheck] = {
    "V01": check_v01,
    "V02": check_v02,
    "V03": check_v03,
    "V04": check_v04,
    "V05": check_v05,
    "V06": check_v06,
    "V07": check_v07,
    "V08": check_v08,
    "V09": check_v09,
}

assert set(VERZENDING_CHECKS) <= set(AFSPRAKEN), "VERZENDING_CHECKS names an agreement ketentest.afspraken lacks"


def run_verzending_check(agreement: str, verzending: Verzending, keten: Keten, *,
                         now: dt.datetime | None = None) -> CheckResult:
    """One registered V-check. An unknown agreement or a crash inside the
    check becomes a NIET_TESTBAAR result, never an exception."""
    check = VERZENDING_CHECKS.get(agreement)
    try:
        domain = domain_of(verzending, keten)
    except Exception:  # a malformed Verzending still gets a result
        domain = "keten"
    if check is None:
        return CheckResult(agreement, domain, (SubtestResult(
            f"{agreement.lower()}.beschikbaar", agreement, Uitslag.NIET_TESTBAAR,
            f"Niet testbaar: er is geen verzendingscontrole voor {agreement}; beschikbaar: "
            f"{', '.join(VERZENDING_CHECKS)}."),))
    try:
        return check(verzending, keten, now=now)
    except Exception as e:  # a bug in one check must not stop the others
        return CheckResult(agreement, domain, (SubtestResult(
            f"{agreement.lower()}.fout", agreement, Uitslag.NIET_TESTBAAR,
            f"Niet testbaar: de controle zelf liep vast ({e.__class__.__name__}: {e}); meld dit aan de beheerders "
            "van de ketentest.", {"fout": repr(e)}),))


def check_verzending(verzending: Verzending, keten: Keten, agreements: Iterable[str] | None = None, *,
                     now: dt.datetime | None = None) -> tuple[CheckResult, ...]:
    """Judge one Verzending against the given (default: all) V-agreements."""
    ids = list(VERZENDING_CHECKS) if agreements is None else list(agreements)
    return tuple(run_verzending_check(a, verzending, keten, now=now) for a in ids)


__all__ = ["VERZENDING_CHECKS", "VerzendingCheck", "check_unique_kenmerken", "check_verzending",
           "run_verzending_check"]
