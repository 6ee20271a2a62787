"""V06 Kenmerk: every melding has a well-formed kenmerk; a resent melding
keeps its kenmerk; the meldpunt registers each kenmerk exactly once, however
often the message arrives.

Sub-tests:

- ``v06.vorm``: the kenmerk has the form XX-JJJJ-NNNNNN;
- ``v06.registratie``: the meldpunt's register holds the kenmerk with
  ``registraties == 1`` (0 after a delivery, or more than 1, fails);
- ``v06.kenmerk_behouden``: every stored message for the kenmerk carries
  that kenmerk (X-Kenmerk), and the register record is filed under it;
- ``v06.een_bevestiging``: the police counted at most one ontvangstbevestiging
  for the kenmerk (distinct by Message-ID; a retransmission of the same one
  is no second). A second, different confirmation from the meldpunt is what
  a second registration looks like from the police's side, also when the
  meldpunt's own register cannot be seen (a real meldpunt).

Uniqueness across meldingen needs more than one Verzending:
:func:`check_unique_kenmerken`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ketentest.checks._vbase import F, G, N, parse_message, repeats, result, sub, was_delivered
from ketentest.mail.compose import read_kenmerk
from ketentest.melding import KENMERK_RE
from ketentest.model import Keten
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending

AGREEMENT = "V06"


def check_v06(verzending: Verzending, keten: Keten, *, now=None) -> CheckResult:
    v = verzending
    subs = []
    if isinstance(v.kenmerk, str) and KENMERK_RE.match(v.kenmerk):
        subs.append(sub(AGREEMENT, "vorm", G, f"Kenmerk {v.kenmerk} heeft de vorm XX-JJJJ-NNNNNN.", kenmerk=v.kenmerk))
    else:
        subs.append(sub(AGREEMENT, "vorm", F,
                        f"Kenmerk {v.kenmerk!r} heeft niet de vorm XX-JJJJ-NNNNNN (zoals MN-2026-000123). Het "
                        "postkantoor moet elk kenmerk in deze vorm uitgeven.", kenmerk=v.kenmerk))
    subs += _confirmations(v)
    arrivals = len((v.ontvangst or {}).get("ontvangen") or []) or len(v.berichten)
    if v.ontvangst is None:
        if was_delivered(v):
            subs.append(sub(AGREEMENT, "registratie", F,
                            f"Het postkantoor heeft de melding bezorgd (250), maar het meldpunt heeft kenmerk {v.kenmerk} "
                            "niet geregistreerd (0 keer): de melding is bij het meldpunt zoek of in quarantaine. Het "
                            "meldpunt moet elke geaccepteerde melding registreren.", registraties=0,
                            ontvangen=len(v.berichten)))
        else:
            why = (f"de melding is bij het indienen geweigerd ({v.geweigerd})" if v.geweigerd
                   else f"nog niet bezorgd (status {v.status!r})")
            subs.append(sub(AGREEMENT, "registratie", N, f"Niet testbaar: {why}; er is nog niets te registreren."))
        return result(AGREEMENT, v, keten, subs)

    count = v.ontvangst.get("registraties")
    evidence = {"registraties": count, "ontvangen": arrivals, "eerst_ontvangen": v.ontvangst.get("eerst_ontvangen")}
    extra = repeats(v, "bevestiging") + repeats(v, "terugkoppeling")
    if count == 1:
        how = f"na {arrivals} ontvangsten" if arrivals > 1 else "bij de ontvangst"
        subs.append(sub(AGREEMENT, "registratie", G, f"Het meldpunt registreerde kenmerk {v.kenmerk} precies één keer "
                                                     f"({how}).", **evidence))
    else:
        also = (f" Het meldpunt stuurde daardoor ook extra berichten: {', '.join(extra)}." if extra else "")
        subs.append(sub(AGREEMENT, "registratie", F,
                        f"Het meldpunt registreerde kenmerk {v.kenmerk} {count!r} keer na {arrivals} ontvangst(en); "
                        f"afgesproken is precies één keer.{also} Het meldpunt moet een bericht met een al "
                        "geregistreerd kenmerk herkennen als herhaling en niet opnieuw verwerken.",
                        **evidence, extra_berichten=extra))
    wrong = []
    if v.ontvangst.get("kenmerk") not in (None, v.kenmerk):
        wrong.append(f"registerregel onder {v.ontvangst.get('kenmerk')!r}")
    for b in v.berichten:
        msg = parse_message(b.eml)
        got = read_kenmerk(msg) if msg is not None else None
        if got != v.kenmerk:
            wrong.append(f"{b.sleutel}: kenmerk {got!r}")
    if wrong:
        subs.append(sub(AGREEMENT, "kenmerk_behouden", F,
                        "Het kenmerk is onderweg veranderd: " + "; ".join(wrong) + f" in plaats van {v.kenmerk}. Een "
                        "(opnieuw verstuurde) melding houdt altijd haar kenmerk.", problemen=wrong))
    elif v.berichten:
        subs.append(sub(AGREEMENT, "kenmerk_behouden", G,
                        f"Elk ontvangen bericht ({len(v.berichten)}) draagt kenmerk {v.kenmerk}."))
    return result(AGREEMENT, v, keten, subs)


def _confirmations(v: Verzending) -> list:
    """The police's side of V06: distinct ontvangstbevestigingen counted."""
    counted = (v.postkantoor or {}).get("bevestigingen")
    if not isinstance(counted, list) or not counted:
        return []
    ids = list(dict.fromkeys(str(b.get("message_id") or f"(zonder Message-ID, {i})")
                             for i, b in enumerate(counted) if isinstance(b, dict)))
    if len(ids) > 1:
        return [sub(AGREEMENT, "een_bevestiging", F,
                    f"De politie ontving {len(ids)} verschillende ontvangstbevestigingen voor kenmerk {v.kenmerk} "
                    f"({', '.join(ids)}): het meldpunt heeft de melding meer dan eens geregistreerd. Een meldpunt "
                    "registreert en bevestigt elk kenmerk één keer, ook als de melding opnieuw binnenkomt.",
                    bevestigingen=counted)]
    return [sub(AGREEMENT, "een_bevestiging", G,
                f"De politie ontving één ontvangstbevestiging voor kenmerk {v.kenmerk}.", bevestigingen=counted)]


def check_unique_kenmerken(verzendingen: Iterable[Verzending], keten: Keten) -> CheckResult:
    """V06 over a set of meldingen: no kenmerk given to two different meldingen."""
    items = list(verzendingen)
    by_kenmerk: dict[str, set] = {}
    for v in items:
        by_kenmerk.setdefault(v.kenmerk, set()).add(repr(v.melding.to_dict()))
    counts = Counter(v.kenmerk for v in items)
    clashes = sorted(k for k, meldingen in by_kenmerk.items() if len(meldingen) > 1)
    if clashes:
        s = sub(AGREEMENT, "uniek", F,
                f"Hetzelfde kenmerk voor verschillende meldingen: {', '.join(clashes)}. Het postkantoor moet elke "
                "nieuwe melding een eigen kenmerk geven.", dubbel=clashes)
    else:
        s = sub(AGREEMENT, "uniek", G, f"{len(by_kenmerk)} kenmerken, elk van één melding.",
                herhaald={k: c for k, c in counts.items() if c > 1})
    return CheckResult(AGREEMENT, "keten", (s,))
