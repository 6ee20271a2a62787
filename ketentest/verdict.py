"""Typed results shared by every check: a verdict per sub-test, folded into
one result per agreement and domain.

A check never raises for a problem it finds: it says so in a
:class:`SubtestResult` (what is wrong, how to fix it, and the evidence).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any


class Uitslag(str, Enum):
    """The verdict of a sub-test or a check."""

    GESLAAGD = "geslaagd"
    WAARSCHUWING = "waarschuwing"
    GEFAALD = "gefaald"
    NIET_TESTBAAR = "niet_testbaar"
    INFORMATIE = "informatie"

    @property
    def rank(self) -> int:
        """Severity, for "worst of": informatie never outweighs a real verdict;
        niet testbaar outweighs a warning (the agreement is not shown to hold)
        but not a proven failure."""
        return _RANK[self]

    @property
    def dutch(self) -> str:
        return self.value.replace("_", " ")

    @property
    def ok(self) -> bool:
        """True if this verdict does not stand in the way of go-live."""
        return self in (Uitslag.GESLAAGD, Uitslag.WAARSCHUWING, Uitslag.INFORMATIE)


_RANK = {
    Uitslag.INFORMATIE: 0,
    Uitslag.GESLAAGD: 1,
    Uitslag.WAARSCHUWING: 2,
    Uitslag.NIET_TESTBAAR: 3,
    Uitslag.GEFAALD: 4,
}


def worst(verdicts: Iterable[Uitslag]) -> Uitslag:
    """The most severe verdict; INFORMATIE when there is none."""
    return max(verdicts, key=lambda v: v.rank, default=Uitslag.INFORMATIE)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


@dataclass(frozen=True)
class SubtestResult:
    """One sub-test: its id (``spf.aantal_lookups``), the agreement it belongs
    to, the verdict, a Dutch explanation (what is wrong and how to fix it) and
    the evidence (records, values, counts) the verdict rests on."""

    id: str
    agreement: str
    verdict: Uitslag
    explanation: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Read-only view: a result is a record of what was seen.
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))

    def __hash__(self) -> int:  # evidence is not hashable; identity by id and verdict
        return hash((self.id, self.agreement, self.verdict, self.explanation))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "afspraak": self.agreement,
            "uitslag": self.verdict.value,
            "toelichting": self.explanation,
            "bewijs": _jsonable(self.evidence),
        }

    def __str__(self) -> str:
        return f"[{self.verdict.dutch}] {self.id}: {self.explanation}"


@dataclass(frozen=True)
class CheckResult:
    """The result of one agreement's check on one domain."""

    agreement: str
    domain: str
    subtests: tuple[SubtestResult, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "subtests", tuple(self.subtests))

    @property
    def verdict(self) -> Uitslag:
        """Worst of the sub-tests; NIET_TESTBAAR if there are none."""
        if not self.subtests:
            return Uitslag.NIET_TESTBAAR
        return worst(s.verdict for s in self.subtests)

    def subtest(self, subtest_id: str) -> SubtestResult:
        for s in self.subtests:
            if s.id == subtest_id:
                return s
        raise KeyError(f"geen subtest {subtest_id!r} in {self.agreement}; wel: {', '.join(s.id for s in self.subtests)}")

    def with_verdict(self, *verdicts: Uitslag) -> tuple[SubtestResult, ...]:
        return tuple(s for s in self.subtests if s.verdict in verdicts)

    @property
    def problems(self) -> tuple[SubtestResult, ...]:
        """Sub-tests that failed, warned or could not be tested."""
        return self.with_verdict(Uitslag.GEFAALD, Uitslag.WAARSCHUWING, Uitslag.NIET_TESTBAAR)

    def to_dict(self) -> dict[str, Any]:
        return {
            "afspraak": self.agreement,
            "domein": self.domain,
            "uitslag": self.verdict.value,
            "subtests": [s.to_dict() for s in self.subtests],
        }

    def summary(self) -> str:
        """Dutch one-per-line text for logs and assertion messages."""
        lines = [f"{self.agreement} {self.domain}: {self.verdict.dutch}"]
        lines += [f"  {s}" for s in self.subtests]
        return "\n".join(lines)
