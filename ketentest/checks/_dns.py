"""Shared DNS helpers for the checks: a look-up that never raises and asks
each question once, Dutch descriptions of unusable answers, and the MX set
of a domain (null MX, implicit MX, too many MX).
"""

from __future__ import annotations

import re
from typing import Any

import dns.name

from ketentest.dns import DnsAnswer, DnssecState, Lookup, definite, why_not_definite
from ketentest.mx import MxSet, parse_mx  # noqa: F401  (the checks' names for the shared MX resolution)
from ketentest.verdict import CheckResult, SubtestResult, Uitslag

#: Most MX hosts a check looks at (by preference); more is reported as
#: "niet testbaar" for the rest, so fifty MX records cannot stall a run.
MAX_MX = 10


class GuardedLookup:
    """Wraps a :class:`Lookup`: every exception becomes an answer in state
    ERROR (rcode ``GEEN_ANTWOORD``) and each (name, type) is asked once."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._cache: dict[tuple[str, str], DnsAnswer] = {}

    def __call__(self, name: str, rdtype: str) -> DnsAnswer:
        key = (name.lower().rstrip("."), rdtype.upper())
        if key not in self._cache:
            try:
                self._cache[key] = self._lookup(*key)
            except Exception as e:  # a check must never raise: record why the answer is missing
                self._cache[key] = DnsAnswer(key[0], key[1], "GEEN_ANTWOORD", DnssecState.ERROR,
                                             raw=f"{e.__class__.__name__}: {e}")
        return self._cache[key]

    @property
    def asked(self) -> int:
        return len(self._cache)


def guarded(lookup: Lookup) -> GuardedLookup:
    return lookup if isinstance(lookup, GuardedLookup) else GuardedLookup(lookup)


#: One definition for checks and sender (ketentest.dns).
usable = definite
why_unusable = why_not_definite


def evidence(answer: DnsAnswer) -> dict[str, Any]:
    """The parts of an answer worth keeping in a report."""
    out: dict[str, Any] = {
        "vraag": f"{answer.qname} {answer.rdtype}",
        "rcode": answer.rcode,
        "dnssec": answer.state.value,
        "records": list(answer.records),
    }
    if answer.ede:
        out["ede"] = [str(e) for e in answer.ede]
    if answer.rcode == "GEEN_ANTWOORD":
        out["fout"] = answer.raw
    return out


def mx_set(domain: str, lookup: Lookup) -> MxSet:
    return parse_mx(domain, guarded(lookup)(domain, "MX"))


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def normalize_domain(domain: str) -> tuple[str, str]:
    """(name, problem): the domain lower-case without the final dot (IDN as
    A-labels), and a Dutch reason when it cannot be a mail domain."""
    raw = str(domain).strip()
    try:
        name = dns.name.from_unicode(raw) if raw and not raw.isascii() else dns.name.from_text(raw or ".")
        text = "" if name == dns.name.root else name.to_text(omit_final_dot=True).lower()
    except Exception as e:  # dnspython has many name errors; all mean: not a name
        return raw.lower().rstrip("."), f"{raw!r} is geen geldige domeinnaam ({e.__class__.__name__})"
    labels = text.split(".") if text else []
    if len(labels) < 2:
        return text, f"{raw!r} is geen maildomein (verwacht een naam met minstens twee labels, zoals ggdru.test)"
    bad = [label for label in labels if not _HOST_LABEL.match(label)]
    if bad:
        return text, f"{raw!r} is geen geldige domeinnaam (label {bad[0]!r})"
    return text, ""


def mx_count_subtest(subtest_id: str, agreement: str, mxs: MxSet, max_mx: int) -> SubtestResult:
    """Pure: MX hosts beyond the limit are reported, not silently skipped."""
    rest = mxs.untested(max_mx)
    return SubtestResult(
        subtest_id, agreement, Uitslag.NIET_TESTBAAR,
        f"Niet testbaar: {mxs.domain} heeft {len(mxs.hosts)} MX-namen; alleen de eerste {max_mx} "
        f"(op voorkeur) zijn getest, {len(rest)} niet ({', '.join(rest[:5])}{', …' if len(rest) > 5 else ''}). "
        "Beperk het aantal MX-records, of verhoog de grens (max_mx) voor deze test.",
        {"aantal_mx": len(mxs.hosts), "grens": max_mx, "niet_getest": list(rest)},
    )


def untestable_result(agreement: str, domain: str, subtest_ids: tuple[str, ...], reason: str) -> CheckResult:
    """Every sub-test of a check 'niet testbaar' for one reason (bad input)."""
    return CheckResult(agreement, domain, tuple(
        SubtestResult(i, agreement, Uitslag.NIET_TESTBAAR, f"Niet testbaar: {reason}.", {"invoer": domain})
        for i in subtest_ids))
