"""The detection matrix of the defect catalogue, for the stuurgroep: one Dutch
HTML page in the stuurgroep report's style, and one Allure result per defect
(epic "Defectencatalogus"), so both reports show how strong a green run is."""

from __future__ import annotations

from html import escape
from pathlib import Path

from ketentest.afspraken import AFSPRAKEN
from ketentest.report.html import _CSS


def _agreement_of(cell: str) -> str:
    return cell.split("@", 1)[0].split(" ", 1)[0]


def cell_states(defect: dict) -> dict[str, str]:
    """Per agreement: gevangen / gemist / bijschade (worst wins), from one defect's result."""
    states: dict[str, str] = {}
    for kind in ("gevangen", "gemist", "bijschade"):
        for cell in defect[kind]:
            a = _agreement_of(cell)
            if states.get(a) in ("gemist", "bijschade") and kind == "gevangen":
                continue
            states[a] = kind
    return states


_PILL = {"gevangen": ("geslaagd", "✓"), "gemist": ("gefaald", "✗"), "bijschade": ("waarschuwing", "!")}


def render(result: dict) -> str:
    defects = result["defecten"]
    exact = sum(d["in_orde"] for d in defects)
    green = not result["gezond"]["gefaald"]
    ids = list(AFSPRAKEN)
    head = "".join(f'<th title="{escape(AFSPRAKEN[a].titel)}">{a}</th>' for a in ids)
    rows = []
    for d in defects:
        states = cell_states(d)
        cells = []
        for a in ids:
            state = states.get(a)
            if state is None:
                cells.append(f'<td data-afspraak="{a}" data-uitslag="">·</td>')
            else:
                cls, sym = _PILL[state]
                cells.append(f'<td data-afspraak="{a}" data-uitslag="{state}"><span class="pill {cls}">{sym}</span></td>')
        detail = "; ".join(f"{k}: {', '.join(d[k])}" for k in ("gemist", "bijschade", "fouten") if d[k])
        rows.append(f'<tr data-defect="{escape(d["id"])}"><th scope="row"><b>{escape(d["titel"])}</b><br>'
                    f'<small>{escape(d["wat"])}</small>{"<br><small><b>" + escape(detail) + "</b></small>" if detail else ""}'
                    f'</th>{"".join(cells)}</tr>')
    verdict = "sterk" if exact == len(defects) and green else "nog niet sterk genoeg"
    return f"""<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8"><title>Ketentest — defectencatalogus</title><style>{_CSS}</style></head>
<body><main>
<h1>Hoe sterk is een groene ketentest?</h1>
<p>Elk defect uit de catalogus is in een verder gezonde keten aangebracht; daarna zijn alle scenario's gedraaid.
Een defect is <b>precies gevangen</b> als precies de verwachte afspraken falen (of waarschuwen) en geen andere.</p>
<p><b>{exact} van de {len(defects)}</b> defecten precies gevangen; de gezonde keten is
<b>{"groen" if green else "NIET groen: " + escape(", ".join(result["gezond"]["gefaald"]))}</b>.
Het bewijs is daarmee <b>{verdict}</b>. Duur: {result.get("seconden", 0):.0f} s.</p>
<table class="matrix"><thead><tr><th>Defect</th>{head}</tr></thead><tbody>
{"".join(rows)}
</tbody></table>
<p><span class="pill geslaagd">✓</span> verwacht en gevangen &nbsp; <span class="pill gefaald">✗</span> verwacht maar gemist
&nbsp; <span class="pill waarschuwing">!</span> niet verwacht, toch gefaald (bijschade) &nbsp; · niet geraakt</p>
</main></body></html>"""


def write(result: dict, path: Path) -> Path:
    path.write_text(render(result), encoding="utf-8")
    return path


def write_allure(result: dict, results_dir: Path) -> list[Path]:
    """One Allure test result per defect: passed when caught exactly."""
    import json
    import time
    import uuid

    results_dir.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    written = []
    for d in result["defecten"]:
        message = "; ".join(f"{k}: {', '.join(d[k])}" for k in ("gemist", "bijschade", "fouten") if d[k])
        data = {
            "uuid": str(uuid.uuid4()),
            "historyId": f"defect-{d['id']}",
            "name": f"Defect gevangen: {d['titel']}",
            "fullName": f"defectencatalogus.{d['id']}",
            "status": "passed" if d["in_orde"] else "failed",
            "statusDetails": {"message": message or f"gevangen door {', '.join(d['gevangen']) or 'de verwachte waarschuwing'}"},
            "description": d["wat"],
            "labels": [{"name": "epic", "value": "Defectencatalogus"}, {"name": "story", "value": d["id"]},
                       {"name": "suite", "value": "Defectencatalogus"}, {"name": "severity", "value": "critical"},
                       *({"name": "tag", "value": _agreement_of(v)} for v in d["verwacht"])],
            "parameters": [{"name": "verwacht", "value": ", ".join(d["verwacht"])}],
            "start": now, "stop": now + int(d.get("seconden", 0) * 1000),
        }
        path = results_dir / f"{data['uuid']}-result.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written
