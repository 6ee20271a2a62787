"""The stuurgroep report: one self-contained Dutch HTML file.

Inline CSS, no scripts, no external resources: it opens offline and can be
mailed as one attachment. Evidence is inlined (text) or embedded as a data:
link (PDF), so the file stands on its own. Every matrix cell carries
``data-afspraak``, ``data-deelnemer`` and ``data-uitslag`` for tests; a
deelnemer cell also ``data-soort`` (echt / gesimuleerd), shown as a mark.
"""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from ketentest.report.evidence import Kind
from ketentest.report.matrix import (
    ECHT,
    KETEN,
    Advice,
    Cell,
    CellState,
    Changes,
    Matrix,
    build_matrix,
    changes,
    findings,
    summarize,
)
from ketentest.report.results import EvidenceRef, Outcome, Run, TestRecord

MAX_INLINE_TEXT = 60_000  # characters of one text evidence item shown inline
MAX_EMBED_BINARY = 1_500_000  # bytes of one PDF embedded as a data: link

_SYMBOL = {
    CellState.GESLAAGD: "✓",
    CellState.WAARSCHUWING: "!",
    CellState.GEFAALD: "✗",
    CellState.NIET_GETEST: "?",
    CellState.NVT: "–",
    CellState.NVT_ECHT: "⊘",
}
_OUTCOME_STATE = {
    Outcome.GESLAAGD: CellState.GESLAAGD,
    Outcome.WAARSCHUWING: CellState.WAARSCHUWING,
    Outcome.GEFAALD: CellState.GEFAALD,
    Outcome.FOUT: CellState.NIET_GETEST,
    Outcome.OVERGESLAGEN: CellState.NIET_GETEST,
    Outcome.NVT: CellState.NVT_ECHT,
}
#: The mark in every deelnemer cell and column head: was the deelnemer real or simulated?
_SOORT_LABEL = {ECHT: "echt", "gesimuleerd": "gesim."}
_SOORT_TITLE = {ECHT: "echte deelnemer: de ketentest toetst alleen wat hij kan waarnemen",
                "gesimuleerd": "gesimuleerd door de ketentest"}
_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december")
_DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")


def dutch_datetime(iso: str) -> str:
    """'zaterdag 28 november 2026, 22:14' in Dutch time."""
    try:
        t = datetime.fromisoformat(iso).astimezone(ZoneInfo("Europe/Amsterdam"))
    except ValueError:
        return iso or "onbekend"
    return f"{_DAYS[t.weekday()]} {t.day} {_MONTHS[t.month - 1]} {t.year}, {t:%H:%M}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".", ",")
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} kB"
    return f"{n / (1024 * 1024):.1f} MB".replace(".", ",")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _pill(state: CellState, href: str | None = None, label: str | None = None) -> str:
    inner = f'<span class="sym" aria-hidden="true">{_SYMBOL[state]}</span> {_e(label or state.dutch)}'
    if href:
        return f'<a class="pil {state.value}" href="{_e(href)}">{inner}</a>'
    return f'<span class="pil {state.value}">{inner}</span>'


def _soort(soort: str) -> str:
    return (f'<span class="soort {_e(soort)}" title="{_e(_SOORT_TITLE[soort])}">'
            f"{_e(_SOORT_LABEL[soort])}</span>")


def _deelnemers_fact(run: Run) -> str:
    """Which deelnemers were real and which simulated (and the real sends, when counted)."""
    real = [n for i, n in run.deelnemers if i in run.echt]
    text = f"{len(run.deelnemers) - len(real)} gesimuleerd, {len(real)} echt"
    if real:
        text += ": " + ", ".join(real)
    if run.echte_verzendingen is not None:
        text += f"; {run.echte_verzendingen} bericht(en) aan echte deelnemers verstuurd"
        if run.verzendingen_geteld_door:
            text += f" (geteld: {run.verzendingen_geteld_door})"
    return text


def render(run: Run, previous: Run | None, reports_dir: Path) -> str:
    """The whole report for one run (and the previous one, if any)."""
    matrix = build_matrix(run)
    summary = summarize(matrix)
    parts = [
        _head(run),
        _header(run),
        _advice(summary, matrix),
        _findings(matrix, summary),
        _changes(changes(run, previous), matrix, run.keten),
        _matrix(matrix),
        _assumptions(run),
        _evidence(matrix, reports_dir),
        _footer(run),
    ]
    return "\n".join(parts) + "\n</body>\n</html>\n"


def write_report(run: Run, previous: Run | None, reports_dir: Path, name: str = "stuurgroep.html") -> Path:
    path = reports_dir / name
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(run, previous, reports_dir), encoding="utf-8")
    tmp.replace(path)
    return path


# --- sections -----------------------------------------------------------------------

def _head(run: Run) -> str:
    return f"""<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ketentest — rapport voor de stuurgroep — keten {_e(run.keten)}</title>
<style>{_CSS}</style>
</head>
<body>"""


def _header(run: Run) -> str:
    facts = [
        ("Keten", f"<b>{_e(run.keten)}</b>" + (f" — {_e(run.beschrijving)}" if run.beschrijving else "")),
        ("Bron", _e(run.ketenbron)),
        ("Datum", _e(dutch_datetime(run.gestart))),
        ("Zaad (seed)", _e(run.zaad if run.zaad is not None else "niet opgegeven")),
        ("Duur", _e(_duration(run.duur))),
        ("Selectie", _e(f"alleen -m {run.selectie}") if run.selectie else "alle scenario's"),
        ("Scenario's", _e(f"{len(run.tests)} uitgevoerd")),
        ("Deelnemers", _e(_deelnemers_fact(run))),
    ]
    rows = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    note = ('<p class="let-op">Let op: deze run is onderbroken; de uitslagen zijn onvolledig.</p>'
            if run.onderbroken else "")
    return f"""<header class="kop">
<p class="bovenschrift">Ketentest niet-acute zorgmeldingen · politie → meldpunt</p>
<h1>Rapport voor de stuurgroep</h1>
<dl class="feiten">{rows}</dl>{note}
</header>
<main>"""


def _advice(summary, matrix: Matrix) -> str:
    counts = [
        (CellState.GESLAAGD, len(summary.gehaald), "gehaald"),
        (CellState.WAARSCHUWING, len(summary.waarschuwing), "gehaald met waarschuwing"),
        (CellState.GEFAALD, len(summary.gefaald), "niet gehaald"),
        (CellState.NIET_GETEST, len(summary.niet_getest), "niet (volledig) getest"),
    ]
    items = "".join(
        f'<li><span class="pil {s.value} klein"><span class="sym" aria-hidden="true">{_SYMBOL[s]}</span> {n}</span>'
        f" {_e('afspraak' if n == 1 else 'afspraken')} {_e(label)}</li>"
        for s, n, label in counts
    )
    meaning = {
        Advice.GO: "De keten voldoet aantoonbaar aan alle afspraken.",
        Advice.NO_GO: "De keten voldoet niet aan alle afspraken.",
        Advice.ONVOLLEDIG: "Er is (nog) geen volledig bewijs.",
    }[summary.advice]
    return f"""<section class="advies {summary.advice.value}" id="advies" data-advies="{summary.advice.value}">
<div class="advies-kop"><span class="advies-label">Advies</span><span class="advies-waarde">{_e(summary.advice.dutch)}</span></div>
<div class="advies-tekst"><p class="advies-betekenis">{_e(meaning)}</p><p>{_e(summary.reason)}</p>
<ul class="tellers">{items}</ul>
<p class="klein-grijs">Van de {len(matrix.rows)} afspraken uit het afsprakenkader. GO alleen als geen afspraak faalt en alles getest is;
n.v.t. bij een echte deelnemer betekent: daar niet getest, en telt dus nooit als gehaald.</p></div>
</section>"""


def _findings(matrix: Matrix, summary) -> str:
    heading = {CellState.GEFAALD: "Niet gehaald", CellState.NIET_GETEST: "Testomgeving faalde",
               CellState.WAARSCHUWING: "Waarschuwing"}
    items = []
    for f in findings(matrix):
        if f.state is CellState.NIET_GETEST:  # harness errors: one message for many scenarios
            detail = f'<pre class="melding">{_e(f.items[0].text)}</pre>' if f.items[0].text else ""
        else:
            rows = "".join(
                f'<li><a href="#{_e(i.anchor)}">{_e(i.who)}</a>'
                + (f'<pre class="melding">{_e(i.text)}</pre>' if i.text else "") + "</li>"
                for i in f.items)
            detail = f'<ul class="wie">{rows}</ul>'
        items.append(f'<li class="bevinding {f.state.value}">{_pill(f.state, "#" + f.anchor, heading[f.state])}'
                     f' <span class="titel">{_e(f.title)}</span>{detail}</li>')
    if summary.nvt_echt:
        items.append(
            f'<li class="bevinding nvt-echt">{_pill(CellState.NVT_ECHT, None, "Niet van toepassing")}'
            f' <span class="titel">{len(summary.nvt_echt)} '
            f"{'afspraak vraagt' if len(summary.nvt_echt) == 1 else 'afspraken vragen'} een schakelaar die de"
            " ketentest bij een echte deelnemer niet kan zetten: daar niet getest</span>"
            f'<p class="afspraken-lijst">{_e(", ".join(summary.nvt_echt))}</p></li>'
        )
    if summary.niet_getest:
        items.append(
            f'<li class="bevinding niet-getest">{_pill(CellState.NIET_GETEST, None, "Niet getest")}'
            f' <span class="titel">{len(summary.niet_getest)} van de {len(matrix.rows)} afspraken zijn niet'
            f" (volledig) getest in deze run</span>"
            f'<p class="afspraken-lijst">{_e(", ".join(summary.niet_getest))}</p></li>'
        )
    if not items:
        items.append(f'<li class="bevinding geslaagd">{_pill(CellState.GESLAAGD)} '
                     '<span class="titel">Alle afspraken zijn getest en gehaald, zonder waarschuwingen.</span></li>')
    return f"""<section id="bevindingen">
<h2>Belangrijkste bevindingen</h2>
<ol class="bevindingen">{"".join(items)}</ol>
</section>"""


def _matrix(matrix: Matrix) -> str:
    head = "".join(f'<th scope="col" data-soort="{matrix.soort(d)}">{_e(naam)}<br>{_soort(matrix.soort(d))}</th>'
                   for d, naam in matrix.deelnemers)
    width = len(matrix.deelnemers) + 2
    body = []
    current = None
    for row in matrix.rows:
        chapter = row.afspraak.hoofdstuk
        if chapter is not current:
            current = chapter
            body.append(f'<tr class="hoofdstuk"><th colspan="{width}" scope="rowgroup">'
                        f"{_e(chapter.name)} — {_e(chapter.value)}</th></tr>")
        a = row.afspraak
        label = (f'<th scope="row"><span class="id">{_e(a.id)}</span> {_e(a.titel)}'
                 + ('' if a.per_deelnemer else ' <span class="klein-grijs">(keten)</span>') + "</th>")
        cells = "".join(_cell(c) for c in row.cells)
        body.append(f"<tr>{label}{cells}</tr>")
    legend = "".join(f"<li>{_pill(s)} {_e(text)}</li>" for s, text in (
        (CellState.GESLAAGD, "afspraak gehaald"),
        (CellState.WAARSCHUWING, "gehaald, met een aandachtspunt"),
        (CellState.GEFAALD, "afspraak niet gehaald"),
        (CellState.NIET_GETEST, "geen bewijs: niet getest, overgeslagen of de testomgeving faalde"),
        (CellState.NVT, "geen aparte toets voor deze deelnemer; zie de kolom Hele keten"),
        (CellState.NVT_ECHT, "niet van toepassing bij deze echte deelnemer: het scenario vraagt een schakelaar die de"
                             " ketentest bij een echte partij niet kan zetten; hier niet getest, telt nooit als gehaald"),
    ))
    legend += (f"<li>{_soort(ECHT)} echte deelnemer (eigen systemen; de ketentest toetst wat hij kan waarnemen)</li>"
               f"<li>{_soort('gesimuleerd')} gesimuleerd door de ketentest</li>")
    return f"""<section id="matrix">
<h2>Gereedheid per deelnemer en afspraak</h2>
<p class="uitleg">Elke cel vat de scenario's samen van één afspraak voor één deelnemer; klik op een cel voor het bewijs.
De afspraken B01–B06 gelden voor elke deelnemer. De afspraken V en S gaan over de uitwisseling zelf:
hun uitslag staat in de kolom <b>Hele keten</b>, en bij een deelnemer als het scenario die deelnemer betreft.</p>
<div class="tabel-wrap"><table class="matrix">
<thead><tr><th scope="col">Afspraak</th>{head}<th scope="col" class="keten">Hele keten</th></tr></thead>
<tbody>{"".join(body)}</tbody>
</table></div>
<ul class="legenda">{legend}</ul>
</section>"""


def _cell(c: Cell) -> str:
    href = None
    if c.tests:
        href = f"#afspraak-{c.agreement}" if c.deelnemer == KETEN else f"#{c.anchor}"
    title = f' title="{_e(c.reason)}"' if c.reason else ""
    cls = "cel keten" if c.deelnemer == KETEN else "cel"
    soort, mark = (f' data-soort="{_e(c.soort)}"', " " + _soort(c.soort)) if c.soort else ("", "")
    return (f'<td class="{cls}" data-afspraak="{_e(c.agreement)}" data-deelnemer="{_e(c.deelnemer)}"'
            f' data-uitslag="{c.state.value}"{soort}{title}>{_pill(c.state, href)}{mark}</td>')


def _change_item(kind: str, change, matrix: Matrix) -> str:
    t: TestRecord = change.test
    who = ", ".join(matrix.naam(d) for d in t.deelnemers) or "hele keten"
    was = f"was: {change.before.dutch}" if change.before else "nieuw scenario"
    return (f'<li data-verandering="{kind}" data-nodeid="{_e(t.nodeid)}"><b>{_e(" ".join(t.afspraken))}</b>'
            f" — {_e(who)}: {_e(t.scenario)} <span class=\"klein-grijs\">({_e(was)}, nu: {_e(t.uitslag.dutch)})</span></li>")


def _changes(ch: Changes | None, matrix: Matrix, keten: str) -> str:
    if ch is None:
        body = "<p>Dit is de eerste run met resultaten in deze map: er is niets om mee te vergelijken.</p>"
    else:
        lines = [f"<p>Vergeleken met de vorige run van {_e(dutch_datetime(ch.previous_started))}"
                 f" (advies toen: <b>{_e(ch.previous_advice.dutch)}</b>).</p>"]
        if ch.previous_keten != keten:
            lines.append(f'<p class="let-op">De vorige run was op een andere keten ({_e(ch.previous_keten)});'
                         " vergelijk met beleid.</p>")
        groups = [
            ("nieuw-gefaald", "Nieuw gefaald", CellState.GEFAALD, ch.new_failures),
            ("opgelost", "Opgelost", CellState.GESLAAGD, ch.fixed),
            ("nieuwe-waarschuwing", "Nieuwe waarschuwingen", CellState.WAARSCHUWING, ch.new_warnings),
            ("nieuwe-fout", "Nieuwe fouten in de testomgeving", CellState.NIET_GETEST, ch.new_errors),
        ]
        for kind, title, state, items in groups:
            if items:
                lis = "".join(_change_item(kind, c, matrix) for c in items)
                lines.append(f'<div class="verandering {kind}"><h3>{_pill(state, None, title)} {len(items)}</h3>'
                             f"<ul>{lis}</ul></div>")
        if ch.nothing:
            lines.append('<p data-verandering="geen">Geen nieuwe fouten, waarschuwingen of oplossingen.</p>')
        if ch.not_run:
            lines.append(f"<p class=\"klein-grijs\">{len(ch.not_run)} scenario('s) van de vorige run zijn deze"
                         " keer niet uitgevoerd (andere selectie of gewijzigde scenario's).</p>")
        body = "\n".join(lines)
    return f"""<section id="veranderd">
<h2>Wat is er veranderd sinds de vorige run</h2>
{body}
</section>"""


def _assumptions(run: Run) -> str:
    rows = "".join(f"<tr><th scope=\"row\">{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in run.aannames.items())
    if not rows:
        rows = '<tr><td colspan="2">De aannames van de keten konden niet worden gelezen.</td></tr>'
    versions = "".join(f"<tr><th scope=\"row\">{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in run.versies.items())
    return f"""<section id="aannames" class="twee-kolommen">
<div><h2>Aannames in deze run</h2>
<p class="uitleg">Waarden die het afsprakenkader als <i>[aanname]</i> noemt, zoals ze voor deze keten golden.</p>
<table class="lijst">{rows}</table></div>
<div><h2>Testomgeving</h2><table class="lijst">{versions}</table></div>
</section>"""


def _evidence(matrix: Matrix, reports_dir: Path) -> str:
    sections = []
    for row in matrix.rows:
        if not row.keten.tests:
            continue
        a = row.afspraak
        blocks = []
        for cell in row.cells:
            if cell.deelnemer == KETEN:
                tests = [t for t in cell.tests if not t.deelnemers]
                if not tests:
                    continue
                cell_state = max((_OUTCOME_STATE[t.uitslag] for t in tests), key=lambda s: s.rank)
                title = "Hele keten (scenario's zonder één deelnemer)"
            else:
                tests = list(cell.tests)
                if not tests:
                    continue
                cell_state = cell.state
                title = f"{matrix.naam(cell.deelnemer)} ({'echte deelnemer' if cell.soort == ECHT else 'gesimuleerd'})"
            articles = "".join(_test_block(t, reports_dir) for t in tests)
            blocks.append(f'<div class="bewijscel" id="{_e(cell.anchor)}"><h4>{_e(title)} {_pill(cell_state)}</h4>'
                          f"{articles}</div>")
        sections.append(f'<section class="afspraak" id="afspraak-{_e(a.id)}"><h3><span class="id">{_e(a.id)}</span>'
                        f" {_e(a.titel)} {_pill(row.keten.state)}</h3>{''.join(blocks)}</section>")
    if not sections:
        sections.append("<p>Er zijn in deze run geen scenario's uitgevoerd.</p>")
    return f"""<section id="bewijs">
<h2>Bewijs per afspraak</h2>
<p class="uitleg">Per afspraak en deelnemer de scenario's, hun uitslag en het bewijs dat ze vastlegden
(DNS-antwoorden, controle-uitslagen, berichten). Klik op een bewijsstuk om het te openen.</p>
{"".join(sections)}
</section>"""


def _test_block(t: TestRecord, reports_dir: Path) -> str:
    """A scenario: its steps as the feature reads them, each with the evidence it recorded
    (evidence from before the first step, such as starting the keten, comes first)."""
    state = _OUTCOME_STATE[t.uitslag]
    label = t.uitslag.dutch
    message = f'<pre class="melding">{_e(t.melding)}</pre>' if t.melding else ""
    texts = {s.tekst for s in t.stappen}
    loose = "".join(_evidence_item(ev, reports_dir) for ev in t.bewijs if ev.stap not in texts)
    body = f'<ul class="bewijsstukken">{loose}</ul>' if loose else ""
    if t.stappen:
        steps = []
        for s in t.stappen:
            items = "".join(_evidence_item(ev, reports_dir, nested=True) for ev in t.bewijs if ev.stap == s.tekst)
            mark = {"geslaagd": "✓", "gefaald": "✗"}.get(s.uitslag, "–")
            steps.append(f'<li class="stap" data-uitslag="{_e(s.uitslag)}"><span class="stapteken" '
                         f'title="{_e(s.uitslag)}">{mark}</span> {_e(s.tekst)}'
                         + (f'<ul class="bewijsstukken">{items}</ul>' if items else "") + "</li>")
        body += f'<ol class="stappen">{"".join(steps)}</ol>'
    if not body:
        body = '<p class="klein-grijs">Geen bewijsstukken vastgelegd.</p>'
    return (f'<article class="test" data-nodeid="{_e(t.nodeid)}" data-uitslag="{_e(t.uitslag.value)}">'
            f'<p class="scenario">{_pill(state, None, label)} <b>Scenario:</b> {_e(t.scenario)}'
            f' <span class="klein-grijs">— {_e(t.functionaliteit)}</span></p>{message}{body}</article>')


def _evidence_item(ev: EvidenceRef, reports_dir: Path, nested: bool = False) -> str:
    try:
        kind = Kind(ev.soort)
    except ValueError:
        kind = Kind.TEXT
    meta = f"{kind.dutch}, {_size(ev.grootte)}" + (f", bij stap “{ev.stap}”" if ev.stap and not nested else "")
    verdict = ""
    if ev.oordeel in ("waarschuwing", "gefaald", "geslaagd"):
        verdict = " " + _pill(CellState(ev.oordeel))
    note = f'<p class="toelichting">{_e(ev.toelichting)}</p>' if ev.toelichting else ""
    path = reports_dir / ev.bestand
    try:
        data = path.read_bytes()
    except OSError:
        body = f'<p class="klein-grijs">Bestand niet gevonden: {_e(ev.bestand)}</p>'
    else:
        if kind.is_text:
            text = data.decode("utf-8", "replace")
            cut = ""
            if len(text) > MAX_INLINE_TEXT:
                text = text[:MAX_INLINE_TEXT]
                cut = f'<p class="klein-grijs">Ingekort; het volledige bestand staat in {_e(ev.bestand)}.</p>'
            body = f"<pre>{_e(text)}</pre>{cut}"
        elif len(data) <= MAX_EMBED_BINARY:
            b64 = base64.b64encode(data).decode("ascii")
            filename = Path(ev.bestand).name
            body = (f'<p><a class="download" download="{_e(filename)}" href="data:{kind.mime};base64,{b64}">'
                    f"{_e(kind.dutch)} opslaan ({_e(_size(len(data)))})</a></p>")
        else:
            body = f'<p class="klein-grijs">Te groot om in te voegen; het bestand staat in {_e(ev.bestand)}.</p>'
    return (f"<li><details><summary><b>{_e(ev.naam)}</b>{verdict} <span class=\"klein-grijs\">({_e(meta)})</span>"
            f"</summary>{note}{body}</details></li>")


def _footer(run: Run) -> str:
    return f"""</main>
<footer>
<p>Gemaakt door ketentest na de run van {_e(dutch_datetime(run.gestart))}. Dezelfde uitslagen staan, voor machines,
in <code>resultaten.json</code>, <code>junit.xml</code> en <code>cucumber.json</code>; met Node.js ook in het
Allure-rapport (<code>allure-rapport/index.html</code>). De vorige run staat in <code>vorige-resultaten.json</code>.</p>
</footer>"""


_CSS = """
:root{--groen:#1a7f37;--groen-bg:#e6f6ea;--oranje:#8a5a00;--oranje-bg:#fff4d6;--rood:#c4232f;--rood-bg:#fde8e9;
--grijs:#5b6470;--grijs-bg:#eef1f4;--lijn:#d8dee4;--tekst:#1f2328;--blauw:#154273}
*{box-sizing:border-box}
body{margin:0;font-family:"Liberation Sans","DejaVu Sans",Arial,Helvetica,sans-serif;color:var(--tekst);
background:#f6f7f9;font-size:15px;line-height:1.45}
.kop{background:var(--blauw);color:#fff;padding:22px 40px 18px}
.kop h1{margin:2px 0 12px;font-size:28px;font-weight:700}
.bovenschrift{margin:0;font-size:13px;letter-spacing:.04em;text-transform:uppercase;opacity:.85}
.feiten{display:flex;flex-wrap:wrap;gap:6px 28px;margin:0}
.feiten div{display:flex;gap:6px}.feiten dt{opacity:.8}.feiten dd{margin:0}
.let-op{background:#fff4d6;color:#5c3d00;padding:6px 10px;border-radius:4px;display:inline-block}
main{max-width:1180px;margin:0 auto;padding:22px 40px 10px}
section{background:#fff;border:1px solid var(--lijn);border-radius:8px;padding:18px 24px;margin:0 0 20px}
h2{font-size:20px;margin:0 0 10px;color:var(--blauw)}
h3{font-size:17px;margin:14px 0 8px}h4{font-size:15px;margin:12px 0 6px}
.uitleg{color:var(--grijs);margin:0 0 12px;max-width:900px}
.klein-grijs{color:var(--grijs);font-size:13px}
.advies{display:flex;gap:28px;align-items:center;border-width:2px}
.advies.go{border-color:var(--groen);background:var(--groen-bg)}
.advies.no-go{border-color:var(--rood);background:var(--rood-bg)}
.advies.onvolledig{border-color:#c98a00;background:var(--oranje-bg)}
.advies-kop{display:flex;flex-direction:column;align-items:center;flex:0 0 auto;min-width:200px;padding:8px 20px;
border-radius:8px;background:#fff;border:1px solid var(--lijn)}
.advies-label{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--grijs)}
.advies-waarde{font-size:32px;font-weight:800;white-space:nowrap}
.go .advies-waarde{color:var(--groen)}.no-go .advies-waarde{color:var(--rood)}.onvolledig .advies-waarde{color:var(--oranje)}
.advies-betekenis{font-size:18px;font-weight:700;margin:0 0 4px}
.advies-tekst p{margin:0 0 6px}
.tellers{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:6px 22px}
.pil{display:inline-flex;align-items:center;gap:5px;padding:2px 10px;border-radius:999px;font-size:13px;
font-weight:700;white-space:nowrap;text-decoration:none;border:1px solid transparent}
a.pil:hover{filter:brightness(.95);text-decoration:underline}
.pil.klein{padding:1px 8px}
.pil .sym{font-weight:800}
.pil.geslaagd{background:var(--groen-bg);color:var(--groen);border-color:#a9dcb6}
.pil.waarschuwing{background:var(--oranje-bg);color:var(--oranje);border-color:#ecc66b}
.pil.gefaald{background:var(--rood-bg);color:var(--rood);border-color:#f2a9ae}
.pil.niet-getest{background:var(--grijs-bg);color:var(--grijs);border-color:var(--lijn)}
.pil.nvt{background:transparent;color:#8c959f;font-weight:400}
.pil.nvt-echt{background:transparent;color:var(--grijs);border:1px dashed #8c959f;font-weight:400}
.soort{display:inline-block;margin-left:4px;padding:0 5px;border-radius:3px;font-size:11px;font-weight:400;
color:var(--grijs);border:1px solid var(--lijn);vertical-align:middle}
.soort.echt{color:#fff;background:var(--blauw);border-color:var(--blauw);font-weight:700}
.bevindingen{margin:0;padding-left:22px}
.bevinding{margin:0 0 10px}
.bevinding .titel{font-weight:700;color:var(--tekst);margin-left:6px}
.wie{margin:4px 0 0;padding-left:18px}.wie li{margin:2px 0}
.wie pre.melding{margin:2px 0 6px}
pre{white-space:pre-wrap;word-break:break-word;font-family:"Liberation Mono","DejaVu Sans Mono",monospace;
font-size:12.5px;background:#f6f8fa;border:1px solid var(--lijn);border-radius:6px;padding:8px 10px;margin:6px 0;
max-height:420px;overflow:auto}
pre.melding{background:#fff;border-left:4px solid var(--rood)}
.waarschuwing pre.melding,article[data-uitslag=waarschuwing] pre.melding{border-left-color:#c98a00}
article[data-uitslag=fout] pre.melding,article[data-uitslag=overgeslagen] pre.melding,
article[data-uitslag=nvt] pre.melding{border-left-color:var(--grijs)}
.tabel-wrap{overflow-x:auto}
table.matrix{border-collapse:separate;border-spacing:0;width:100%;font-size:14px}
.matrix th,.matrix td{padding:7px 10px;border-bottom:1px solid var(--lijn);text-align:center}
.matrix thead th{background:#f0f3f6;font-size:13px;vertical-align:bottom;position:sticky;top:0}
.matrix th[scope=row]{text-align:left;font-weight:400;white-space:nowrap}
.matrix .id{font-weight:700;display:inline-block;min-width:34px}
.matrix tr.hoofdstuk th{text-align:left;background:#e8eef5;color:var(--blauw);font-weight:700;font-size:13px;
letter-spacing:.02em}
.matrix td.keten,.matrix th.keten{background:#f7f9fb;border-left:2px solid var(--lijn)}
.legenda{list-style:none;padding:0;margin:12px 0 0;display:flex;flex-wrap:wrap;gap:6px 20px;font-size:13px;color:var(--grijs)}
.verandering ul{margin:4px 0 10px}
.twee-kolommen{display:grid;grid-template-columns:1fr 1fr;gap:28px}
table.lijst{border-collapse:collapse;width:100%}
.lijst th,.lijst td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--lijn);vertical-align:top}
.lijst th{font-weight:400;color:var(--grijs);width:55%}
.afspraak{border:1px solid var(--lijn);border-radius:8px;padding:4px 16px 10px;margin:0 0 14px}
.afspraak h3 .id{color:var(--blauw)}
.bewijscel{border-top:1px dashed var(--lijn);padding-top:2px}
.test{margin:6px 0 12px}
.scenario{margin:4px 0}
.bewijsstukken{list-style:none;padding-left:10px;margin:4px 0}
.bewijsstukken li{margin:3px 0}
.stappen{list-style:none;padding-left:10px;margin:4px 0}
.stap{margin:2px 0}
.stap[data-uitslag="gefaald"]{font-weight:bold}
.stap[data-uitslag="niet uitgevoerd"]{color:#666}
.stapteken{display:inline-block;width:1.2em}
summary{cursor:pointer}
.toelichting{margin:4px 0;color:var(--oranje)}
footer{max-width:1180px;margin:0 auto;padding:0 40px 30px;color:var(--grijs);font-size:13px}
code{font-family:"Liberation Mono","DejaVu Sans Mono",monospace;font-size:12.5px}
:target{outline:3px solid #7aa7d8;outline-offset:2px}
@media print{body{background:#fff}.kop{background:#fff;color:#000}section{break-inside:avoid}pre{max-height:none}}
"""
