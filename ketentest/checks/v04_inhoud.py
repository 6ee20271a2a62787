"""V04 Inhoud: the melding travels as exactly one PDF attachment (the
meldformulier) whose fields equal the submitted melding; no active content;
at most ``max_pdf_bytes`` (10 MB [aanname]).

Judged on every message the meldpunt stored for the kenmerk. Sub-tests:

- ``v04.bijlage``: every MIME part judged by its bytes
  (:func:`ketentest.bijlagen.beoordeel`, the same judgement the meldpunt
  makes): exactly one PDF, and besides it only body text;
- ``v04.velden``: :func:`ketentest.meldformulier.parse` of the PDF equals
  the submitted melding; every differing field is named;
- ``v04.veilig``: :func:`ketentest.pdfcheck.check_pdf`, run in the sandbox
  (:mod:`ketentest.pdfsandbox`: a hostile PDF stored at a real meldpunt
  cannot exhaust the harness), finds no active content, encryption or damage;
  the fields are read only from a PDF found safe;
- ``v04.grootte``: the PDF is at most ``max_pdf_bytes``.

If nothing was stored because the meldpunt refused the content (5.6.x), that
refusal is ``v04.geweigerd`` (failed).
"""

from __future__ import annotations

import re

from ketentest.bijlagen import beoordeel
from ketentest.checks._vbase import F, G, N, aannames, parse_message, refusals, result, sub, was_delivered
from ketentest.meldformulier import compare, parse
from ketentest.model import Keten
from ketentest.pdfsandbox import check_pdf_isolated
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending

AGREEMENT = "V04"
_CONTENT_REFUSAL = re.compile(r"\b5\.6\.\d{1,3}\b")


def check_v04(verzending: Verzending, keten: Keten, *, now=None) -> CheckResult:
    v = verzending
    limit = aannames(v, keten).max_pdf_bytes
    if not v.berichten:
        refused = [r for r in refusals(v.postkantoor) if _CONTENT_REFUSAL.search(r["text"])]
        if refused:
            r = refused[-1]
            return result(AGREEMENT, v, keten, [sub(
                AGREEMENT, "geweigerd", F,
                f"Het meldpunt weigerde de inhoud van de melding: {r['code']} {r['text']}. Het postkantoor moet "
                "precies één veilige PDF (het meldformulier, zonder actieve inhoud) meesturen.", weigeringen=refused)])
        why = ("bezorgd, maar het meldpunt toont geen opgeslagen bericht met dit kenmerk" if was_delivered(v)
               else f"de melding is bij het indienen geweigerd ({v.geweigerd})" if v.geweigerd
               else f"nog niet bezorgd (status {v.status!r})")
        return result(AGREEMENT, v, keten, [sub(AGREEMENT, "bijlage", N,
                                                 f"Niet testbaar: {why}; de inhoud is pas te beoordelen als het "
                                                 "bericht bij het meldpunt is opgeslagen.", status=v.status)])
    problems: dict[str, list[str]] = {"bijlage": [], "velden": [], "veilig": [], "grootte": []}
    evidence: dict[str, list] = {"bijlagen": [], "verschillen": [], "bevindingen": [], "groottes": []}
    for b in v.berichten:
        msg = parse_message(b.eml)
        if msg is None:
            problems["bijlage"].append(f"{b.sleutel}: het opgeslagen bericht is niet te lezen")
            continue
        parts = beoordeel(msg)
        evidence["bijlagen"].append({"bericht": b.sleutel, "bijlagen": [
            {"type": p.type, "naam": p.naam, "soort": p.soort, "bytes": p.grootte} for p in parts.onderdelen]})
        if not parts.ok:
            problems["bijlage"].append(f"{b.sleutel}: {parts.reden}")
        if parts.pdf is None:
            continue
        pdf = parts.pdf
        evidence["groottes"].append({"bericht": b.sleutel, "bytes": len(pdf), "maximum": limit})
        if len(pdf) > limit:
            problems["grootte"].append(f"{b.sleutel}: de PDF is {len(pdf)} bytes, meer dan {limit}")
        safe = check_pdf_isolated(pdf, keten, max_bytes=max(limit, len(pdf)))  # size is judged above, apart
        evidence["bevindingen"] += [{"bericht": b.sleutel, "soort": f.soort.value, "reden": str(f)}
                                    for f in safe.bevindingen]
        if not safe.ok:
            problems["veilig"].append(f"{b.sleutel}: {safe.reden}")
            problems["velden"].append(f"{b.sleutel}: het meldformulier is niet gelezen, want de PDF is niet veilig")
            continue
        try:
            received = parse(pdf)
        except Exception as e:  # DataError for a bad form; anything else from a broken PDF
            problems["velden"].append(f"{b.sleutel}: het meldformulier is niet te lezen: {e}")
            continue
        diffs = compare(v.melding, received)
        evidence["verschillen"] += [{"bericht": b.sleutel, "veld": d.veld, "label": d.label} for d in diffs]
        if diffs:
            problems["velden"].append(f"{b.sleutel}: {len(diffs)} veld(en) wijken af: " + "; ".join(
                f"{d.label} ({d.veld})" for d in diffs))
    ok = {
        "bijlage": "Precies één PDF (het meldformulier) en verder alleen tekst, beoordeeld op de inhoud van elk "
                   "deel, niet op het label.",
        "velden": "Alle velden van het meldformulier zijn gelijk aan de ingediende melding.",
        "veilig": "De PDF bevat geen actieve inhoud (JavaScript, startacties, ingesloten bestanden), is niet "
                  "versleuteld en niet beschadigd.",
        "grootte": f"De PDF is niet groter dan {limit} bytes [aanname max_pdf_bytes].",
    }
    fix = {
        "bijlage": "Het postkantoor moet de melding als tekst met precies één PDF-bijlage versturen, zonder andere "
                   "delen en met het juiste label (application/pdf).",
        "velden": "Het meldformulier moet de ingediende melding exact weergeven; controleer het renderen van de PDF "
                  "(waarden worden niet vertaald, afgekapt of gewijzigd). De waarden staan bewust niet in dit "
                  "verslag (persoonsgegevens).",
        "veilig": "Maak het meldformulier zonder JavaScript, acties of ingesloten bestanden.",
        "grootte": f"Houd het meldformulier onder {limit} bytes (of pas de aanname max_pdf_bytes van de keten aan).",
    }
    subs = []
    for key, found in problems.items():
        if found:
            subs.append(sub(AGREEMENT, key, F, "; ".join(found) + ". " + fix[key], **evidence))
        elif key == "bijlage" or evidence["groottes"]:
            subs.append(sub(AGREEMENT, key, G, ok[key], **evidence))
    return result(AGREEMENT, v, keten, subs)
