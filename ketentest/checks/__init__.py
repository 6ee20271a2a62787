"""The checks of the afsprakenkader: one module per agreement, one registry.

Every check has the signature ``check_x(domain, lookup, **context) ->
CheckResult``; it ignores context keys it does not use and never raises.
Context keys in use: ``max_mx`` (B01), ``dkim_selectors`` and
``dkim_received`` (B03). :func:`context_for` builds them from the keten.

To add a check (B05 STARTTLS, B06 DANE, ...): write ``bNN_name.py`` with its
``check_*`` function, import it here and add one line to :data:`CHECKS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ketentest.afspraken import AFSPRAKEN
from ketentest.checks.b01_dnssec import check_dnssec
from ketentest.checks.b02_spf import check_spf
from ketentest.checks.b03_dkim import check_dkim
from ketentest.checks.b04_dmarc import check_dmarc
from ketentest.checks.b05_starttls import check_starttls
from ketentest.checks.b06_dane import check_dane
from ketentest.checks.mta_sts import check_mta_sts
from ketentest.dns import Lookup
from ketentest.model import Deelnemer
from ketentest.verdict import CheckResult, SubtestResult, Uitslag

CheckFunction = Callable[..., CheckResult]

#: Agreement ID -> its check. The one place a check is registered.
CHECKS: dict[str, CheckFunction] = {
    "B01": check_dnssec,
    "B02": check_spf,
    "B03": check_dkim,
    "B04": check_dmarc,
    "B05": check_starttls,
    "B06": check_dane,
}

#: Checks that only inform (no agreement of their own; never change a verdict).
INFO_CHECKS: dict[str, CheckFunction] = {
    "mta-sts/tls-rpt": check_mta_sts,
}

assert set(CHECKS) <= set(AFSPRAKEN), "CHECKS names an agreement that ketentest.afspraken does not know"


def context_for(deelnemer: Deelnemer) -> dict[str, Any]:
    """The check context the keten knows for a deelnemer (its DKIM selectors)."""
    return {"dkim_selectors": tuple(k.selector for k in deelnemer.domain.dkim)}


def run_check(agreement: str, domain: str, lookup: Lookup, **context: Any) -> CheckResult:
    """Run one registered check. An unknown agreement or a crash inside a
    check becomes a NIET_TESTBAAR result, never an exception."""
    check = CHECKS.get(agreement) or INFO_CHECKS.get(agreement)
    if check is None:
        known = ", ".join([*CHECKS, *INFO_CHECKS])
        return CheckResult(agreement, domain, (SubtestResult(
            f"{agreement.lower()}.beschikbaar", agreement, Uitslag.NIET_TESTBAAR,
            f"Niet testbaar: er is (nog) geen controle voor {agreement}; beschikbaar: {known}."),))
    try:
        return check(domain, lookup, **context)
    except Exception as e:  # a bug in a check must not stop the other checks
        return CheckResult(agreement, domain, (SubtestResult(
            f"{agreement.lower()}.fout", agreement, Uitslag.NIET_TESTBAAR,
            f"Niet testbaar: de controle zelf liep vast ({e.__class__.__name__}: {e}); meld dit aan de "
            "beheerders van de ketentest.", {"fout": repr(e)}),))


def run_checks(domain: str, lookup: Lookup, agreements: Iterable[str] | None = None,
               *, info: bool = True, **context: Any) -> tuple[CheckResult, ...]:
    """Run the given (default: all registered) checks on one domain."""
    ids = list(CHECKS) if agreements is None else list(agreements)
    if info and agreements is None:
        ids += list(INFO_CHECKS)
    return tuple(run_check(a, domain, lookup, **context) for a in ids)


def check_deelnemer(deelnemer: Deelnemer, lookup: Lookup, agreements: Iterable[str] | None = None,
                    **context: Any) -> tuple[CheckResult, ...]:
    """Run the checks on a deelnemer's mail domain, with what the keten knows."""
    return run_checks(deelnemer.domain.name, lookup, agreements, **{**context_for(deelnemer), **context})


__all__ = ["CHECKS", "INFO_CHECKS", "CheckFunction", "check_deelnemer", "context_for", "run_check", "run_checks"]
