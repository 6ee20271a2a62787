"""The step catalogue: every Dutch step sentence of steps/*.py, with where a
feature uses it, as docs/stappen.md (``ketentest stappen``), and the closest
sentences for a step that does not exist (steps/catalogus.py).

pytest-bdd's decorators leave a fixture per step definition in the module
(named ``pytestbdd_stepdef_...``); its function is registered with the step's
StepFunctionContext (type, parser, function). That is what we read.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS_DIR = ROOT / "steps"
FEATURES_DIR = ROOT / "features"
DOC = ROOT / "docs" / "stappen.md"

#: pytest-bdd's step types and the Dutch Gherkin keywords a coordinator writes.
KEYWORDS = {"given": "Gegeven", "when": "Als", "then": "Dan"}
KEYWORD_ORDER = ("given", "when", "then")
#: What a parse format spec ({n:d}) asks of the text, in Dutch.
_SPEC_DUTCH = {"d": "een geheel getal", "n": "een geheel getal", "f": "een getal", "g": "een getal",
               "w": "één woord (letters, cijfers, _)", "l": "letters", "ti": "een tijdstip (ISO 8601)"}
UNUSED = "(nog niet gebruikt)"


@dataclass(frozen=True)
class Param:
    """A place in a sentence a coordinator fills in; name None: any text (from a regex)."""

    name: str | None
    soort: str = ""  # what it must be, in Dutch ("een geheel getal"); empty: any text

    def __str__(self) -> str:
        return f"<{self.name}>" if self.name else "…"


@dataclass(frozen=True)
class Voorbeeld:
    """A line of a .feature file that uses a step."""

    bestand: str  # relative to the project root
    regel: int
    tekst: str  # the line as written, keyword included

    def __str__(self) -> str:
        return f"{self.bestand}:{self.regel}: {self.tekst}"


@dataclass
class Stap:
    """One step definition: its type, sentence and where it lives."""

    type: str | None  # given / when / then; None: any (pytest-bdd's @step)
    delen: tuple[str | Param, ...]  # the sentence: literal text and parameters
    module: str  # steps/dns.py
    functie: str
    regel: int
    uitleg: str  # the docstring's summary (its first paragraph, on one line)
    parser: object = field(repr=False)  # pytest-bdd's StepParser
    voorbeeld: Voorbeeld | None = None

    @property
    def keyword(self) -> str:
        return KEYWORDS.get(self.type or "", "Gegeven/Als/Dan")

    @property
    def zin(self) -> str:
        """The sentence with its parameters as <naam>."""
        return "".join(map(str, self.delen))

    @property
    def params(self) -> list[Param]:
        return [d for d in self.delen if isinstance(d, Param)]

    def matches(self, step_type: str, text: str) -> bool:
        if self.type is not None and self.type != step_type:
            return False
        try:
            return bool(self.parser.is_matching(text))
        except Exception:  # a custom parser that chokes on odd text does not match it
            return False


# --- reading the step definitions -------------------------------------------------------------------


def step_modules(steps_dir: Path = STEPS_DIR) -> list[str]:
    """The importable step modules: steps/*.py (the package itself excluded)."""
    return [f"{steps_dir.name}.{p.stem}" for p in sorted(steps_dir.glob("*.py")) if p.stem != "__init__"]


def steps_in_module(module) -> list[Stap]:
    """The step definitions pytest-bdd registered in a module, in source order."""
    from pytest_bdd.steps import StepNamePrefix, step_function_context_registry

    found = []
    for name, value in vars(module).items():
        if not name.startswith(StepNamePrefix.step_def.value):
            continue
        # pytest >= 8.4 wraps a fixture's function (FixtureFunctionDefinition, functools.update_wrapper)
        marker = getattr(value, "__wrapped__", value)
        try:
            context = step_function_context_registry.get(marker)
        except TypeError:  # not weak-referenceable: not a step
            context = None
        if context is None:
            continue
        func = inspect.unwrap(context.step_func)
        try:
            line = inspect.getsourcelines(func)[1]
            source = Path(inspect.getsourcefile(func) or module.__file__)
        except (OSError, TypeError):
            line, source = 0, Path(module.__file__)
        summary = (inspect.getdoc(func) or "").strip().split("\n\n")[0]
        found.append(Stap(
            type=context.type, delen=sentence_parts(context.parser, context.converters), module=_relative(source),
            functie=func.__name__, regel=line, uitleg=" ".join(summary.split()),
            parser=context.parser))
    return sorted(found, key=lambda s: s.regel)


def collect_steps(modules: Iterable[str] | None = None) -> list[Stap]:
    """Every step definition of the project's step modules (importing them)."""
    steps = []
    for name in step_modules() if modules is None else modules:
        steps.extend(steps_in_module(importlib.import_module(name)))
    return steps


def sentence_parts(parser, converters: dict | None = None) -> tuple[str | Param, ...]:
    """A step parser's sentence as literal text and parameters."""
    from pytest_bdd import parsers

    converters = converters or {}
    if isinstance(parser, parsers.parse):  # also cfparse: Python's format syntax
        parts: list[str | Param] = []
        for literal, name, spec, _conv in string.Formatter().parse(parser.name):
            if literal:
                parts.append(literal)
            if name is not None:
                soort = _SPEC_DUTCH.get(spec or "", "") or _converter_dutch(converters.get(name))
                parts.append(Param(name or None, soort))
        return _merge(parts)
    if isinstance(parser, parsers.re):
        return _merge(_regex_parts(parser.regex, converters))
    return (parser.name,)


def _converter_dutch(converter) -> str:
    return {int: "een geheel getal", float: "een getal"}.get(converter, "")


def _regex_parts(regex: re.Pattern, converters: dict) -> list[str | Param]:
    """A readable form of a step regex: named groups become <naam>, an
    optional piece is shown (poginge?n? reads 'pogingen'), alternatives as a/b,
    anything else a person cannot read as '…'."""
    try:  # the stdlib's own regex parser (sre_parse)
        import re._parser as sre
        from re._constants import (ASSERT, ASSERT_NOT, AT, BRANCH, LITERAL, MAX_REPEAT, MIN_REPEAT,
                                   POSSESSIVE_REPEAT, SUBPATTERN)
    except ImportError:  # moved in a later Python: show the regex as it is
        return [regex.pattern]

    names = {number: name for name, number in regex.groupindex.items()}
    repeats = {MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT}

    def walk(items) -> list[str | Param]:
        out: list[str | Param] = []
        for op, arg in items:
            if op is LITERAL:
                out.append(chr(arg))
            elif op is SUBPATTERN:
                group, sub = arg[0], arg[-1]
                if group in names:
                    out.append(Param(names[group], _converter_dutch(converters.get(names[group]))))
                else:
                    out.extend(walk(sub))
            elif op is BRANCH:
                alternatives = ["".join(map(str, walk(b))) for b in arg[1]]
                out.append("/".join(alternatives))
            elif op in repeats:
                low, high, sub = arg
                inner = walk(sub)
                out.extend(inner if all(isinstance(p, str) for p in inner) or low == high == 1 else [Param(None)])
            elif op in (AT, ASSERT, ASSERT_NOT):
                continue
            else:  # ANY, IN, NOT_LITERAL, back references: text the step recognises itself
                out.append(Param(None))
        return out

    return walk(sre.parse(regex.pattern, regex.flags))


def _merge(parts: Sequence[str | Param]) -> tuple[str | Param, ...]:
    """Adjacent literal pieces as one string; a run of '…' as one."""
    out: list[str | Param] = []
    for p in parts:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        elif p == Param(None) and out and out[-1] == Param(None):
            continue
        elif p != "":
            out.append(p)
    return tuple(out)


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.as_posix()


# --- examples from the features ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureStap:
    """A step line of a .feature file, with the texts it runs as (one per Voorbeelden row)."""

    type: str
    texts: tuple[str, ...]
    voorbeeld: Voorbeeld


def feature_steps(features_dir: Path = FEATURES_DIR) -> list[FeatureStap]:
    """Every step line of features/**/*.feature, in file and line order."""
    from pytest_bdd.parser import FeatureParser

    out = []
    for path in sorted(features_dir.rglob("*.feature")):
        feature = FeatureParser(str(path.parent), path.name).parse()
        lines = path.read_text(encoding="utf-8").splitlines()
        texts: dict[int, tuple[str, set[str]]] = {}
        for template in feature.scenarios.values():
            contexts = [c for ex in template.examples for c in ex.as_contexts()]
            rendered = [template.render(c).steps for c in contexts]
            for i, step in enumerate(template.steps):
                kind, names = texts.setdefault(step.line_number, (step.type, set()))
                names.add(step.name)
                names.update(r[i].name for r in rendered)
        for line, (kind, names) in sorted(texts.items()):
            written = lines[line - 1].strip() if 0 < line <= len(lines) else kind
            out.append(FeatureStap(kind, tuple(sorted(names)), Voorbeeld(_relative(path), line, written)))
    return out


def catalogue(steps: list[Stap] | None = None, features_dir: Path = FEATURES_DIR) -> list[Stap]:
    """The step definitions, each with the first feature line that uses it."""
    steps = collect_steps() if steps is None else steps
    used = feature_steps(features_dir)
    for s in steps:
        s.voorbeeld = next((f.voorbeeld for f in used if any(s.matches(f.type, t) for t in f.texts)), None)
    return steps


@lru_cache(maxsize=1)
def project_steps() -> tuple[Stap, ...]:
    """The project's step definitions, read once (for the not-found message)."""
    return tuple(collect_steps())


# --- closest sentences for a step that does not exist -----------------------------------------------

_WILD = "\x00"


def similarity(pattern: Sequence[str | Param], text: str) -> float:
    """How much `text` looks like a step sentence, 0..1: difflib's ratio over
    the sentence's literal text, where the text opposite a parameter is its
    value ('gecontroleerd op B03' is a perfect 'gecontroleerd op <afspraak>').
    Unrelated sentences score about 0.4-0.55, a typo about 0.95."""
    a = "".join(_WILD if isinstance(p, Param) else p.lower() for p in pattern)
    b = text.lower()
    matched = total = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        wild = a[i1:i2].count(_WILD)
        literal = (i2 - i1) - wild
        total += literal + (j2 - j1)
        if op == "equal":
            matched += 2 * literal
        elif wild:
            # the text opposite a parameter is its value: it weighs nothing either way, so a
            # parameter cannot make a sentence look like anything by swallowing words
            total -= max(0, (j2 - j1) - literal)
    return matched / total if total else 1.0


def closest(step_type: str, text: str, steps: Iterable[Stap], n: int = 3, cutoff: float = 0.6) -> list[Stap]:
    """The n sentences most like `text` (a step of the same type first on a tie)."""
    scored = sorted(((similarity(s.delen, text), s.type in (step_type, None), s) for s in steps),
                    key=lambda t: (-t[0], not t[1], t[2].zin))
    return [s for score, _same, s in scored if score >= cutoff][:n]


def not_found_message(keyword: str, step_type: str, text: str, where: str, steps: Iterable[Stap]) -> str:
    """The Dutch message for a step no definition matches."""
    steps = list(steps)
    lines = [f"Stap bestaat niet: '{keyword} {text}'" + (f" ({where})" if where else "") + "."]
    elsewhere = [s for s in steps if s.type not in (step_type, None) and s.matches(s.type, text)]
    if elsewhere:
        s = elsewhere[0]
        lines.append(f"Deze zin bestaat wel als {s.keyword}-stap: zet hem na '{s.keyword}' (of een 'En' daarna), "
                     f"niet na '{KEYWORDS.get(step_type, keyword)}'.")
    suggestions = closest(step_type, text, steps)
    if suggestions:
        lines.append("Bedoelde u:")
        lines += [f"  {s.keyword} {s.zin}" for s in suggestions]
    else:
        lines.append("Geen bestaande zin lijkt erop.")
    lines.append("Alle zinnen met een voorbeeld: docs/stappen.md (of 'ketentest stappen').")
    return "\n".join(lines)


# --- docs/stappen.md --------------------------------------------------------------------------------

INTRO = """\
<!-- Gemaakt door `ketentest stappen --schrijf` uit de stapdefinities in steps/; niet met de hand bewerken.
     tests/test_stappen.py faalt als dit bestand niet meer klopt met de code. -->

# Stappencatalogus

Een scenario in `features/` is een rij **stappen**: zinnen in gewoon Nederlands die elk met
een sleutelwoord beginnen. Achter elke zin zit een stapdefinitie in `steps/` die precies
één ding doet: de keten in een toestand brengen, iets laten gebeuren, of iets controleren.

- **Gegeven** beschrijft de uitgangssituatie (de keten draait, een meldpunt heeft een storing).
- **Als** beschrijft wat er gebeurt (de politie doet een melding, een aanvaller stuurt iets).
- **Dan** beschrijft wat er moet gelden (de melding is bezorgd, het bericht is geweigerd).
- **En** en **Maar** herhalen het sleutelwoord van de regel ervoor.

Een testcoördinator schrijft nieuwe scenario's door deze zinnen letterlijk over te nemen;
daar is geen Python voor nodig. Een zin moet precies kloppen, op de plaatsen tussen
punthaken na: `<naam>` is een **parameter** die u zelf invult, bijvoorbeeld
`Als het maildomein van de deelnemer wordt gecontroleerd op B03`. In een
`Abstract Scenario` kan de parameter ook uit een tabel `Voorbeelden` komen: schrijf dan
`<kolomnaam>` in de zin, en elke rij van de tabel wordt een eigen scenario:

```gherkin
Abstract Scenario: DKIM-sleutels die niet of net wel voldoen
  Gegeven de keten met voor "<deelnemer>" de instelling maildomein.dkim op <sleutels>
  Als het maildomein van "<deelnemer>" wordt gecontroleerd op B03
  Dan is de uitslag "<uitslag>"

  Voorbeelden:
    | deelnemer                 | sleutels                                     | uitslag |
    | meldpunt-gooi-vechtstreek | [{selector: gv2026, type: rsa, bits: 1024}]  | gefaald |
    | meldpunt-gooi-vechtstreek | [{selector: gv2026, type: rsa, bits: 3072}]  | geslaagd |
```

Elke deelregel van een afspraak is een eigen `Dan`/`En`-zin met de drempel erin ("vraagt het
SPF-record hoogstens 10 DNS-opvragingen en 2 lege"); wijkt de drempel af van wat de controle
gebruikt, dan faalt de stap en zegt dat. Meer over regels en grensgevallen:
[grensgevallen.md](grensgevallen.md).

Een `…` in een zin staat voor tekst die de stap zelf herkent. Gebruikt u een zin die niet
bestaat, dan faalt het scenario met de melding *Stap bestaat niet* en de zinnen die er het
meest op lijken. Dit bestand komt uit de code: `ketentest stappen` toont het,
`ketentest stappen --schrijf` werkt het bij na een wijziging in `steps/`.
"""

SECTIONS = {"given": "Gegeven: de uitgangssituatie", "when": "Als: wat er gebeurt",
            "then": "Dan: wat er moet gelden", None: "Gegeven, Als of Dan"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Inline code that survives a Markdown table (backticks inside, pipes)."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return _cell(f"{fence}{pad}{text}{pad}{fence}")


def render_markdown(steps: list[Stap]) -> str:
    """docs/stappen.md for these steps (with their examples filled in)."""
    out = [INTRO]
    total = len(steps)
    used = sum(s.voorbeeld is not None for s in steps)
    out.append(f"{total} zinnen, waarvan {used} in een scenario gebruikt.\n")
    for kind in (*KEYWORD_ORDER, None):
        group = sorted((s for s in steps if s.type == kind), key=lambda s: (s.zin.lower(), s.module, s.regel))
        if not group:
            continue
        out.append(f"## {SECTIONS[kind]}\n")
        out.append("| Zin | Voorbeeld uit de features | Toelichting | Stapdefinitie |")
        out.append("|---|---|---|---|")
        for s in group:
            example = UNUSED
            if s.voorbeeld is not None:  # the line itself only when it reads otherwise than the sentence
                example = f"[{s.voorbeeld.bestand}:{s.voorbeeld.regel}](../{s.voorbeeld.bestand}#L{s.voorbeeld.regel})"
                if s.voorbeeld.tekst != f"{s.keyword} {s.zin}":
                    example = f"{_code(s.voorbeeld.tekst)}<br>{example}"
            notes = [f"`{p}`: {p.soort}" for p in s.params if p.name and p.soort]
            if s.uitleg:
                notes.insert(0, _cell(s.uitleg))
            # no line number for the definition: the doc need not change when code above it does
            out.append(f"| {_code(s.keyword + ' ' + s.zin)} | {example} | {'<br>'.join(notes)} | "
                       f"[{s.module}](../{s.module}) `{s.functie}` |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def generate() -> str:
    """docs/stappen.md as the code makes it now."""
    return render_markdown(catalogue())


def write(path: Path = DOC) -> Path:
    path.write_text(generate(), encoding="utf-8")
    return path


def stale_message(written: str, generated: str, name: str = "docs/stappen.md") -> str | None:
    """None when the written catalogue is what the code makes now; otherwise a
    Dutch message with the first differing lines."""
    if written == generated:
        return None
    diff = list(difflib.unified_diff(written.splitlines(), generated.splitlines(), name, "wat de code nu maakt",
                                     n=0, lineterm=""))
    shown = "\n".join(diff[:14]) + ("\n…" if len(diff) > 14 else "")
    return (f"{name} klopt niet meer met de stapdefinities in steps/ of de features.\n"
            f"  Wat te doen: draai `ketentest stappen --schrijf` en neem {name} mee in de commit.\n{shown}")
