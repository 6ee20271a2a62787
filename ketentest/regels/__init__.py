"""The sub-rules of each agreement as Dutch step sentences: what a feature
says, sentence by sentence, and which sub-tests of the check judge it.

A :class:`Regel` is one ``Dan``/``En`` step of a B or V scenario, e.g. for
B02 "vraagt het SPF-record hoogstens 10 DNS-opvragingen en 2 lege". It
names the sub-tests (``spf.aantal_lookups``, ``spf.void_lookups``) whose
verdicts decide the step, and for every number in the sentence the value
the check itself uses (``b02_spf.MAX_DNS_TERMS``). A sentence whose number
differs from the check's fails with a message that says so: the feature and
the check cannot drift apart.

steps/regels.py turns every Regel into a pytest-bdd step; tests/test_regels.py
checks that every sub-test a check can report belongs to a Regel and that the
features use every Regel. The rules themselves are in
:mod:`ketentest.regels.beveiliging` (B) and :mod:`ketentest.regels.verzenden` (V).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ketentest.model import Keten
from ketentest.verdict import CheckResult, SubtestResult, Uitslag, worst

#: A threshold: a fixed value from a check module, or one the keten decides (an [aanname]).
Drempel = Any | Callable[[Keten], Any]


@dataclass(frozen=True)
class Regel:
    """One sub-rule of an agreement, as a Dutch step sentence.

    ``zin``: the sentence (pytest-bdd ``parsers.parse`` format, without the
    keyword); ``subtests``: the sub-test ids that judge it; ``drempels``: per
    ``{name}`` in the sentence, the value the check uses (or a function of the
    keten, for an [aanname]); ``optioneel``: sub-tests a check reports only when
    they apply (their absence is no verdict of its own); ``uitleg``: one Dutch
    line on what the rule asks and why, for the step catalogue.
    """

    afspraak: str
    zin: str
    subtests: tuple[str, ...]
    uitleg: str
    drempels: Mapping[str, Drempel] = field(default_factory=dict)
    optioneel: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "drempels", MappingProxyType(dict(self.drempels)))

    @property
    def velden(self) -> tuple[str, ...]:
        """The names of the ``{fields}`` in the sentence (the step's parameters)."""
        import string

        return tuple(f for _, f, _, _ in string.Formatter().parse(self.zin) if f)

    def drempel(self, naam: str, keten: Keten | None) -> Any:
        value = self.drempels[naam]
        return value(keten) if callable(value) else value

    def voorbeeld(self, keten: Keten | None = None) -> str:
        """The sentence with every threshold filled in (as the features write it)."""
        import re

        return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: str(self.drempel(m.group(1), keten)), self.zin)


@dataclass(frozen=True)
class Beoordeling:
    """What one Regel step found in a check result."""

    regel: Regel
    subtests: tuple[SubtestResult, ...]  # the sub-tests of the rule that the check reported
    afwijkingen: tuple[str, ...]  # thresholds in the sentence that differ from the check's (Dutch)

    @property
    def uitslag(self) -> Uitslag:
        if self.afwijkingen:
            return Uitslag.GEFAALD
        if not self.subtests:
            # nothing reported: fine only if every sub-test of the rule is optional
            missing = set(self.regel.subtests) - set(self.regel.optioneel)
            return Uitslag.NIET_TESTBAAR if missing else Uitslag.GESLAAGD
        return worst(s.verdict for s in self.subtests)

    @property
    def ok(self) -> bool:
        return self.uitslag.ok

    def melding(self, controle: CheckResult, wie: str, keten: Keten | None = None) -> str:
        """Dutch message for a failed step: the rule (with the keten's thresholds), who, and what the check said."""
        a = self.regel.afspraak
        lines = [f"{a} — {wie} ({controle.domain}): niet voldaan aan \"{self.regel.voorbeeld(keten)}\""]
        lines += [f"  {s}" for s in self.afwijkingen]
        lines += [f"  {s}" for s in self.subtests if s.verdict is not Uitslag.GESLAAGD]
        if not self.subtests and not self.afwijkingen:
            others = "; ".join(str(s) for s in controle.problems) or "geen"
            lines.append(f"  De controle gaf geen uitslag voor {', '.join(self.regel.subtests)}; "
                         f"wel deze bevindingen: {others}")
        return "\n".join(lines)


def beoordeel(regel: Regel, controle: CheckResult, gelezen: Mapping[str, Any],
              keten: Keten | None) -> Beoordeling:
    """Judge one rule on a check result. ``gelezen``: the values parsed from
    the feature's sentence, compared with the thresholds the check uses."""
    afwijkingen = []
    for naam, value in gelezen.items():
        if naam not in regel.drempels:
            continue
        expected = regel.drempel(naam, keten)
        if value != expected:
            afwijkingen.append(
                f"De feature noemt {value} ({naam}), maar de controle rekent met {expected}: pas de zin in de "
                f"feature aan, of de afspraak (de aanname in het ketenbestand of de controle).")
    found = tuple(s for s in controle.subtests if s.id in regel.subtests)
    return Beoordeling(regel, found, tuple(afwijkingen))


def lowest_tls(versions) -> str:
    """The lowest of ("TLSv1.3", "TLSv1.2") as a reader writes it: "1.2"."""
    plain = (v.removeprefix("TLSv") for v in versions)
    return min(plain, key=lambda v: tuple(map(int, v.split("."))))


def of_list(items) -> str:
    """Dutch enumeration: 'a of b', 'a, b of c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " of " + items[-1]


def _alle() -> tuple[Regel, ...]:
    from ketentest.regels.beveiliging import REGELS as B
    from ketentest.regels.verzenden import REGELS as V

    return (*B, *V)


def regels_voor(afspraak: str) -> tuple[Regel, ...]:
    return tuple(r for r in REGELS if r.afspraak == afspraak)


#: Every rule, in the order the features state them: chapter B in
#: ketentest/regels/beveiliging.py, chapter V in ketentest/regels/verzenden.py.
REGELS: tuple[Regel, ...] = _alle()
