"""V01 Routering: the melding goes to the meldpunt whose werkgebied contains
the gemeente of the person's postcode; a postcode outside every werkgebied is
refused at submission with a clear reason and never queued.

The expected meldpunt is computed independently with
:func:`ketentest.routering.route` on the postcode (not the gemeentecode
written in the melding). Sub-tests:

- ``v01.meldpunt``: routed (and addressed) to the expected meldpunt; or, for
  a postcode without meldpunt, refused and never queued;
- ``v01.foutmelding`` (refusals only): the refusal names the postcode, so
  the officer sees why;
- ``v01.gemeentecode`` (informatie): the gemeentecode in the melding differs
  from the postcode's gemeente (routing follows the postcode).
"""

from __future__ import annotations

from ketentest.checks._vbase import F, G, I, N, W, attempts_of, result, sub
from ketentest.model import Keten
from ketentest.routering import RouteringsFout, normalise_postcode, route
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending

AGREEMENT = "V01"


def check_v01(verzending: Verzending, keten: Keten, *, now=None) -> CheckResult:
    v = verzending
    postcode = v.melding.persoon.adres.postcode
    try:
        expected = route(keten, postcode)
        refusal = None
    except RouteringsFout as e:
        expected, refusal = None, e
    queued = v.postkantoor is not None or v.meldpunt_id is not None
    if expected is None:
        return result(AGREEMENT, v, keten, _no_meldpunt(v, postcode, refusal, queued))

    base = {"postcode": expected.postcode, "gemeente": f"{expected.gemeente.code} ({expected.gemeente.naam})",
            "verwacht_meldpunt": expected.meldpunt.id, "verwacht_adres": expected.meldpunt.adres,
            "methode": expected.methode}
    subs = []
    if v.geweigerd:
        subs.append(sub(AGREEMENT, "meldpunt", F,
                        f"Het postkantoor weigerde de melding ({v.geweigerd}), maar postcode {expected.postcode} ligt in "
                        f"gemeente {expected.gemeente.naam}, in het werkgebied van {expected.meldpunt.naam}. Corrigeer "
                        "de routeringstabel of de werkgebieden van het postkantoor.", **base, weigering=v.geweigerd))
    elif v.meldpunt_id is None:
        subs.append(sub(AGREEMENT, "meldpunt", N,
                        "Niet testbaar: de verzending noemt geen meldpunt (de melding is niet in de wachtrij gevonden); "
                        "bied de melding aan en verzamel de verzending opnieuw.", **base))
    else:
        rcpts = {str(v.postkantoor.get("rcpt"))} if v.postkantoor and v.postkantoor.get("rcpt") else set()
        rcpts |= {str((a.get("trace") or {}).get("rcpt_to")) for a in attempts_of(v.postkantoor)
                  if (a.get("trace") or {}).get("rcpt_to")}
        wrong_rcpt = sorted(r for r in rcpts if r.lower() != expected.meldpunt.adres.lower())
        evidence = {**base, "meldpunt": v.meldpunt_id, "adressen": sorted(rcpts)}
        if v.meldpunt_id != expected.meldpunt.id:
            subs.append(sub(AGREEMENT, "meldpunt", F,
                            f"De melding ging naar meldpunt {v.meldpunt_id}, maar postcode {expected.postcode} ligt in "
                            f"gemeente {expected.gemeente.naam}, in het werkgebied van {expected.meldpunt.id}. Het "
                            "postkantoor routeert verkeerd: controleer de postcodetabel en de werkgebieden.", **evidence))
        elif wrong_rcpt:
            subs.append(sub(AGREEMENT, "meldpunt", F,
                            f"Het juiste meldpunt ({expected.meldpunt.id}), maar verstuurd naar {', '.join(wrong_rcpt)} "
                            f"in plaats van {expected.meldpunt.adres}. Corrigeer het adres van het meldpunt in het "
                            "postkantoor.", **evidence))
        else:
            subs.append(sub(AGREEMENT, "meldpunt", G,
                            f"Naar het juiste meldpunt: {expected}.", **evidence))
    code = v.melding.persoon.adres.gemeentecode
    if code != expected.gemeente.code:
        subs.append(sub(AGREEMENT, "gemeentecode", I,
                        f"De melding noemt gemeente {code}, maar postcode {expected.postcode} ligt in "
                        f"{expected.gemeente.code} ({expected.gemeente.naam}); de routering volgt de postcode.",
                        gemeentecode_melding=code, gemeente_postcode=expected.gemeente.code))
    return result(AGREEMENT, v, keten, subs)


def _no_meldpunt(v: Verzending, postcode: str, refusal: RouteringsFout | None, queued: bool) -> list:
    why = refusal.message if refusal is not None else f"postcode {postcode} hoort bij geen meldpunt"
    evidence = {"postcode": postcode, "routering": why}
    if queued:
        where = v.meldpunt_id or "onbekend"
        return [sub(AGREEMENT, "meldpunt", F,
                    f"De melding is in de wachtrij gezet (meldpunt {where}), terwijl {why}. Zo'n melding mag niet "
                    "verstuurd worden: het postkantoor moet hem bij het indienen weigeren en de agent naar de "
                    "alternatieve route verwijzen.", **evidence, meldpunt=v.meldpunt_id, status=v.status,
                    weigering=v.geweigerd)]
    if not v.geweigerd:
        return [sub(AGREEMENT, "meldpunt", F,
                    f"De melding is niet verstuurd, maar de agent kreeg geen foutmelding, terwijl {why}. Het postkantoor "
                    "moet de weigering met reden aan de agent teruggeven.", **evidence)]
    subs = [sub(AGREEMENT, "meldpunt", G,
                f"Terecht geweigerd bij het indienen en niet in de wachtrij gezet: {why}.", **evidence,
                weigering=v.geweigerd)]
    try:
        written, pc4 = normalise_postcode(postcode)
    except RouteringsFout:
        written, pc4 = postcode, postcode
    text = v.geweigerd.upper().replace(" ", "")
    if written.upper().replace(" ", "") in text or pc4 in text:
        subs.append(sub(AGREEMENT, "foutmelding", G, f"De foutmelding noemt de postcode: {v.geweigerd}",
                        weigering=v.geweigerd))
    else:
        subs.append(sub(AGREEMENT, "foutmelding", W,
                        f"De foutmelding ({v.geweigerd!r}) noemt de postcode {written} niet; de agent ziet niet waarom "
                        "de melding niet verstuurd wordt. Noem postcode en gemeente in de foutmelding.",
                        weigering=v.geweigerd))
    return subs
