"""The readiness matrix (agreement x deelnemer), the go/no-go advice, the
main findings and what changed since the previous run — as values, so the
HTML only renders them and tests can check them directly.

Rules (docs/rapportage.md):

- A cell holds the tests of one agreement that concern one deelnemer (its
  ``deelnemer_id`` parameter or a ``@deelnemer_<id>`` tag). Several tests:
  the worst counts (gefaald > niet getest > waarschuwing > geslaagd). A test
  that erred in the harness makes its cell "niet getest": it proves nothing.
- The "Hele keten" column holds every test of the agreement; for the
  per-deelnemer agreements (B01-B06) also every deelnemer cell, so a
  deelnemer that was not tested keeps the keten cell "niet getest".
- Agreements that are not per deelnemer (V, S): a deelnemer cell shows the
  tests that concern that deelnemer; with none it is "n.v.t." and the keten
  column carries the verdict.
- A test that is "niet van toepassing" (a real deelnemer the harness cannot
  switch, steps/echt.py) makes its deelnemer cell "n.v.t." with the reason
  (state NVT_ECHT, ranked between waarschuwing and niet getest): not tested
  here, never geslaagd. In the keten column it counts as "niet getest".
- Every deelnemer cell says whether the deelnemer was echt or gesimuleerd.
- Advice: NO-GO if any agreement failed; GO only if, besides, every keten
  cell is geslaagd or waarschuwing; otherwise "nog geen GO" (incomplete).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

from ketentest.afspraken import AFSPRAKEN, Afspraak, Hoofdstuk
from ketentest.report.results import Outcome, Run, TestRecord

KETEN = "keten"  # the column id of the keten-wide column


class CellState(str, Enum):
    GESLAAGD = "geslaagd"
    WAARSCHUWING = "waarschuwing"
    GEFAALD = "gefaald"
    NIET_GETEST = "niet-getest"
    NVT = "nvt"  # no test concerns this deelnemer; the keten column carries the verdict
    NVT_ECHT = "nvt-echt"  # not applicable to this real deelnemer: not tested here

    @property
    def dutch(self) -> str:
        return {"niet-getest": "niet getest", "nvt": "n.v.t.", "nvt-echt": "n.v.t."}.get(self.value, self.value)

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {CellState.NVT: 0, CellState.GESLAAGD: 1, CellState.WAARSCHUWING: 2, CellState.NVT_ECHT: 3,
         CellState.NIET_GETEST: 4, CellState.GEFAALD: 5}

ECHT = "echt"
GESIMULEERD = "gesimuleerd"


@dataclass(frozen=True)
class Cell:
    agreement: str
    deelnemer: str  # a deelnemer id, or KETEN
    state: CellState
    tests: tuple[TestRecord, ...] = ()
    reason: str = ""  # Dutch, why "niet getest" or "n.v.t." (harness error, skipped, real deelnemer)
    soort: str = ""  # ECHT or GESIMULEERD for a deelnemer cell; "" for the keten column

    @property
    def anchor(self) -> str:
        return f"bewijs-{self.agreement}-{self.deelnemer}"


@dataclass(frozen=True)
class Row:
    afspraak: Afspraak
    cells: tuple[Cell, ...]  # one per deelnemer column, then the keten cell

    @property
    def keten(self) -> Cell:
        return self.cells[-1]


@dataclass(frozen=True)
class Matrix:
    deelnemers: tuple[tuple[str, str], ...]  # (id, naam)
    rows: tuple[Row, ...]
    echt: frozenset[str] = frozenset()  # ids of the real deelnemers

    def soort(self, deelnemer: str) -> str:
        """ECHT or GESIMULEERD."""
        return ECHT if deelnemer in self.echt else GESIMULEERD

    def cell(self, agreement: str, deelnemer: str) -> Cell:
        for row in self.rows:
            if row.afspraak.id == agreement:
                for c in row.cells:
                    if c.deelnemer == deelnemer:
                        return c
        raise KeyError(f"geen cel {agreement} x {deelnemer}")

    def naam(self, deelnemer: str) -> str:
        return dict(self.deelnemers).get(deelnemer, "hele keten" if deelnemer == KETEN else deelnemer)

    def cells(self) -> Iterable[Cell]:
        for row in self.rows:
            yield from row.cells


def _test_state(t: TestRecord) -> CellState:
    return {
        Outcome.GESLAAGD: CellState.GESLAAGD,
        Outcome.WAARSCHUWING: CellState.WAARSCHUWING,
        Outcome.GEFAALD: CellState.GEFAALD,
        Outcome.FOUT: CellState.NIET_GETEST,
        Outcome.OVERGESLAGEN: CellState.NIET_GETEST,
        Outcome.NVT: CellState.NVT_ECHT,
    }[t.uitslag]


def _fold(agreement: str, deelnemer: str, tests: tuple[TestRecord, ...], empty: CellState) -> Cell:
    if not tests:
        reason = "geen scenario voor deze afspraak in deze run" if empty is CellState.NIET_GETEST else ""
        return Cell(agreement, deelnemer, empty, (), reason)
    ran = [t for t in tests if t.uitslag is not Outcome.OVERGESLAGEN]
    if not ran:
        return Cell(agreement, deelnemer, CellState.NIET_GETEST, tests, "overgeslagen")
    state = max((_test_state(t) for t in ran), key=lambda s: s.rank)
    reason = ""
    if state is CellState.NIET_GETEST:
        errors = sum(t.uitslag is Outcome.FOUT for t in ran)
        reason = f"testomgeving faalde bij {errors} van {len(tests)} scenario's"
    elif state is CellState.NVT_ECHT:
        reason = "\n".join(dict.fromkeys(t.melding for t in ran if t.uitslag is Outcome.NVT and t.melding))
    return Cell(agreement, deelnemer, state, tests, reason)


def _keten_nvt(keten: Cell, cells: list[Cell], deelnemers) -> Cell:
    """A keten cell whose worst is a real deelnemer's n.v.t.: not tested there, so "niet getest"."""
    if keten.state is not CellState.NVT_ECHT:
        return keten
    who = [run_naam(deelnemers, c.deelnemer) for c in cells if c.state is CellState.NVT_ECHT]
    if who:
        why = f"n.v.t. bij echte deelnemer {', '.join(who)}: daar niet getest (de ketentest kan een echte partij niet schakelen)"
    else:  # keten-wide scenarios (e.g. a grensgeval row about a real deelnemer)
        why = "n.v.t. bij een echte deelnemer: niet getest" + (f" ({first_lines(keten.reason, 1)})" if keten.reason else "")
    return replace(keten, state=CellState.NIET_GETEST, reason=why)


def build_matrix(run: Run) -> Matrix:
    deelnemers = list(run.deelnemers)
    known = {d for d, _ in deelnemers}
    for t in run.tests:  # a deelnemer the keten does not know still gets a column
        for d in t.deelnemers:
            if d not in known:
                deelnemers.append((d, d))
                known.add(d)
    echt = frozenset(run.echt)
    rows = []
    for a in AFSPRAKEN.values():
        mine = tuple(t for t in run.tests if a.id in t.afspraken)
        cells = []
        for d, _ in deelnemers:
            tests = tuple(t for t in mine if d in t.deelnemers)
            cell = _fold(a.id, d, tests, CellState.NIET_GETEST if a.per_deelnemer else CellState.NVT)
            cells.append(replace(cell, soort=ECHT if d in echt else GESIMULEERD))
        keten = _fold(a.id, KETEN, mine, CellState.NIET_GETEST)
        if a.per_deelnemer and cells:
            worst = max(cells, key=lambda c: c.state.rank)
            if worst.state.rank > keten.state.rank:
                why = worst.reason if worst.state is CellState.NIET_GETEST else ""
                if worst.state is CellState.NIET_GETEST:
                    missing = [run_naam(deelnemers, c.deelnemer) for c in cells if c.state is CellState.NIET_GETEST]
                    why = "niet getest voor " + ", ".join(missing)
                keten = Cell(a.id, KETEN, worst.state, mine, why)
        rows.append(Row(a, (*cells, _keten_nvt(keten, cells, deelnemers))))
    return Matrix(tuple(deelnemers), tuple(rows), echt)


def run_naam(deelnemers: list[tuple[str, str]] | tuple[tuple[str, str], ...], ident: str) -> str:
    return dict(deelnemers).get(ident, ident)


# --- advice ---------------------------------------------------------------------

class Advice(str, Enum):
    GO = "go"
    NO_GO = "no-go"
    ONVOLLEDIG = "onvolledig"

    @property
    def dutch(self) -> str:
        return {"go": "GO", "no-go": "NO-GO", "onvolledig": "NOG GEEN GO"}[self.value]


@dataclass(frozen=True)
class Summary:
    advice: Advice
    reason: str  # one Dutch sentence
    gehaald: tuple[str, ...]  # agreement ids per keten cell state
    waarschuwing: tuple[str, ...]
    gefaald: tuple[str, ...]
    niet_getest: tuple[str, ...]
    nvt_echt: tuple[str, ...] = ()  # agreements with a real deelnemer's n.v.t. (not tested there)


def nvt_rows(matrix: Matrix) -> tuple[str, ...]:
    """Agreements with a "niet van toepassing" outcome (a real deelnemer)."""
    return tuple(r.afspraak.id for r in matrix.rows
                 if any(t.uitslag is Outcome.NVT for c in r.cells for t in c.tests))


def summarize(matrix: Matrix) -> Summary:
    by = {s: tuple(r.afspraak.id for r in matrix.rows if r.keten.state is s) for s in CellState}
    failed, untested = by[CellState.GEFAALD], by[CellState.NIET_GETEST]
    nvt = nvt_rows(matrix)
    if failed:
        advice = Advice.NO_GO
        reason = (f"{_count(len(failed), 'afspraak', 'afspraken')} niet gehaald: {', '.join(failed)}. "
                  "Zolang een afspraak faalt, kan de keten niet live.")
    elif untested:
        advice = Advice.ONVOLLEDIG
        reason = (f"Geen afspraak gefaald, maar {_count(len(untested), 'afspraak is', 'afspraken zijn')} "
                  f"niet (volledig) getest: {', '.join(untested)}. Een GO vraagt een volledige run.")
    else:
        advice = Advice.GO
        reason = "Alle afspraken zijn getest en gehaald"
        reason += (f"; {len(by[CellState.WAARSCHUWING])} met een waarschuwing (geen beletsel)."
                   if by[CellState.WAARSCHUWING] else ".")
    if nvt:
        reason += (f" N.v.t. bij een echte deelnemer ({', '.join(nvt)}) betekent: daar niet getest, want de "
                   "ketentest kan een echte partij niet schakelen; het telt nooit als gehaald.")
    return Summary(advice, reason, by[CellState.GESLAAGD], by[CellState.WAARSCHUWING], failed, untested, nvt)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# --- findings ---------------------------------------------------------------------

@dataclass(frozen=True)
class FindingItem:
    who: str  # a deelnemer's name, "hele keten", or the agreements concerned
    text: str  # Dutch message (first lines)
    anchor: str


@dataclass(frozen=True)
class Finding:
    state: CellState
    title: str  # e.g. "B04 DMARC", or "De testomgeving faalde bij 12 scenario's"
    items: tuple[FindingItem, ...]

    @property
    def anchor(self) -> str:
        return self.items[0].anchor


def first_lines(text: str, n: int = 3) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[:n]) + ("\n…" if len(lines) > n else "")


def _cell_tests(cell: Cell) -> list[TestRecord]:
    # the keten cell repeats the deelnemer cells' tests; keep only keten-wide ones
    return [t for t in cell.tests if not t.deelnemers] if cell.deelnemer == KETEN else list(cell.tests)


def findings(matrix: Matrix) -> list[Finding]:
    """For a reader, short: one finding per agreement that failed (then per
    agreement with a warning), listing the deelnemers and their messages; harness
    errors grouped by message, since they say nothing about the keten."""
    out: list[Finding] = []
    for state, outcome in ((CellState.GEFAALD, Outcome.GEFAALD), (CellState.WAARSCHUWING, Outcome.WAARSCHUWING)):
        for row in matrix.rows:
            items = []
            for cell in row.cells:
                hits = [t for t in _cell_tests(cell) if t.uitslag is outcome]
                if hits and cell.state is state:
                    text = "\n".join(dict.fromkeys(first_lines(t.melding) for t in hits if t.melding))
                    items.append(FindingItem(matrix.naam(cell.deelnemer), text, cell.anchor))
            if items:
                out.append(Finding(state, f"{row.afspraak.id} {row.afspraak.titel}", tuple(items)))
    errors: dict[str, list[tuple[str, str]]] = {}
    for row in matrix.rows:
        for cell in row.cells:
            for t in _cell_tests(cell):
                if t.uitslag is Outcome.FOUT:
                    errors.setdefault(first_lines(t.melding, 2), []).append((row.afspraak.id, cell.anchor))
    for message, hits in errors.items():
        ids = ", ".join(dict.fromkeys(a for a, _ in hits))
        n = len(hits)
        title = f"De testomgeving faalde bij {n} scenario{'' if n == 1 else chr(39) + 's'}: geen oordeel over {ids}"
        out.append(Finding(CellState.NIET_GETEST, title, (FindingItem(ids, message, hits[0][1]),)))
    return out


# --- what changed -----------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    test: TestRecord
    before: Outcome | None  # None: the test did not run last time


@dataclass(frozen=True)
class Changes:
    previous_started: str
    previous_keten: str
    new_failures: tuple[Change, ...]
    fixed: tuple[Change, ...]
    new_warnings: tuple[Change, ...]
    new_errors: tuple[Change, ...]
    not_run: tuple[TestRecord, ...]  # ran last time, not now
    previous_advice: Advice

    @property
    def nothing(self) -> bool:
        return not (self.new_failures or self.fixed or self.new_warnings or self.new_errors)


def changes(current: Run, previous: Run | None) -> Changes | None:
    if previous is None:
        return None
    before = {t.nodeid: t for t in previous.tests}
    now = {t.nodeid for t in current.tests}
    ok = (Outcome.GESLAAGD, Outcome.WAARSCHUWING)
    new_failures, fixed, new_warnings, new_errors = [], [], [], []
    for t in current.tests:
        old = before.get(t.nodeid)
        was = old.uitslag if old else None
        if t.uitslag is Outcome.GEFAALD and was is not Outcome.GEFAALD:
            new_failures.append(Change(t, was))
        elif was is Outcome.GEFAALD and t.uitslag in ok:
            fixed.append(Change(t, was))
        elif t.uitslag is Outcome.WAARSCHUWING and was not in (Outcome.WAARSCHUWING, Outcome.GEFAALD):
            new_warnings.append(Change(t, was))
        elif t.uitslag is Outcome.FOUT and was is not Outcome.FOUT:
            new_errors.append(Change(t, was))
    not_run = tuple(t for t in previous.tests if t.nodeid not in now)
    return Changes(previous.gestart, previous.keten, tuple(new_failures), tuple(fixed), tuple(new_warnings),
                   tuple(new_errors), not_run, summarize(build_matrix(previous)).advice)


HOOFDSTUKKEN = tuple(Hoofdstuk)
