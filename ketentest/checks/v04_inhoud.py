"""V04 Inhoud: the melding travels as exactly one PDF attachment (the
meldformulier) whose fields equal the submitted melding; no active content;
at most ``max_pdf_bytes`` (10 MB [aanname]).

Judged on every message the meldpunt stored for the kenmerk. Sub-tests:

- ``v04.bijlage``: exactly one attachment, and it is a PDF (type
  application/pdf and a ``%PDF-`` header);
- ``v04.velden``: :func:`ketentest.meldformulier.parse` of the PDF equals
  the submitted melding; every differing field is named;
- ``v04.veilig``: :func:`ketentest.pdfcheck.check_pdf` finds no active
  content, encryption or damage;
- ``v04.grootte``: the PDF is at most ``max_pdf_bytes``.

If nothing was stored because the meldpunt refused the content (5.6.x), that
refusal is ``v04.geweigerd`` (failed).
"""

from __future__ import annotations

import re

from ketentest.checks._vbase import F, G, N, aannames, parse_message, refusals, result, sub, was_delivered
from ketentest.meldformulier import compare, parse
from ketentest.model import Keten
from ketentest.pdfcheck import check_pdf
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending

AGREEMENT = "V04"
_CONTENT_REFUSAL = re.compile(r"\b5\.6\.\d{1,3}\b")


def attachments(msg) -> list[tuple[str, str, bytes]]:
    """(content type, file name, decoded bytes) of every part that is not
    body text (inline text parts are the body)."""
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() != "attachment" and part.get_content_maintype() == "text":
            continue  # the body (plain or an html alternative), not an attachment
        out.append((part.get_content_type(), part.get_filename() or "", part.get_payload(decode=True) or b""))
    return out


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
        parts = attachments(msg)
        evidence["bijlagen"].append({"bericht": b.sleutel, "bijlagen": [
            {"type": t, "naam": name, "bytes": len(data)} for t, name, data in parts]})
        pdfs = [(t, name, data) for t, name, data in parts if t == "application/pdf" and data.lstrip()[:5] == b"%PDF-"]
        if len(parts) != 1 or len(pdfs) != 1:
            kinds = ", ".join(f"{t} {name!r}".strip() for t, name, _ in parts) or "geen"
            problems["bijlage"].append(f"{b.sleutel}: {len(parts)} bijlage(n) ({kinds}); verwacht precies één PDF")
        if not pdfs:
            continue
        pdf = pdfs[0][2]
        evidence["groottes"].append({"bericht": b.sleutel, "bytes": len(pdf), "maximum": limit})
        if len(pdf) > limit:
            problems["grootte"].append(f"{b.sleutel}: de PDF is {len(pdf)} bytes, meer dan {limit}")
        safe = check_pdf(pdf, keten, max_bytes=max(limit, len(pdf)))  # size is judged above, apart
        evidence["bevindingen"] += [{"bericht": b.sleutel, "soort": f.soort.value, "reden": str(f)}
                                    for f in safe.bevindingen]
        if not safe.ok:
            problems["veilig"].append(f"{b.sleutel}: {safe.reden}")
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
        "bijlage": "Precies één bijlage, een PDF (het meldformulier).",
        "velden": "Alle velden van het meldformulier zijn gelijk aan de ingediende melding.",
        "veilig": "De PDF bevat geen actieve inhoud (JavaScript, startacties, ingesloten bestanden), is niet "
                  "versleuteld en niet beschadigd.",
        "grootte": f"De PDF is niet groter dan {limit} bytes [aanname max_pdf_bytes].",
    }
    fix = {
        "bijlage": "Het postkantoor moet de melding als precies één PDF-bijlage versturen, zonder andere bijlagen.",
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
