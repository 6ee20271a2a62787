"""V08 Terugkoppeling: the meldpunt tells the police what it did with the
melding (in behandeling / doorgezet / afgesloten) within
``terugkoppeling_werkdagen`` (5 [aanname]) werkdagen after delivery.

The deadline is :func:`ketentest.clock.add_werkdagen` from the keten-clock
delivery moment (Monday to Friday; public holidays are not modelled).
Sub-tests:

- ``v08.tijdig``: the first terugkoppeling with a valid status reached the
  police by the deadline. None yet: failed when the deadline has passed (or
  the meldpunt has it planned after the deadline, or could not deliver it),
  otherwise niet testbaar;
- ``v08.status``: every terugkoppeling the police registered has one of the
  agreed statuses.
"""

from __future__ import annotations

import datetime as dt

from ketentest.checks._vbase import (F, G, N, aannames, entry_time, fmt, moment, not_delivered_reason, observed_until,
                                     outbound, result, sub)
from ketentest.clock import add_werkdagen
from ketentest.mail.compose import TerugkoppelingStatus
from ketentest.model import Keten
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending

AGREEMENT = "V08"
VALID = tuple(s.value for s in TerugkoppelingStatus)


def check_v08(verzending: Verzending, keten: Keten, *, now: dt.datetime | None = None) -> CheckResult:
    v = verzending
    werkdagen = aannames(v, keten).terugkoppeling_werkdagen
    delivered = entry_time(v.postkantoor, "delivered_at")
    if delivered is None:
        why = not_delivered_reason(v)
        return result(AGREEMENT, v, keten, [sub(AGREEMENT, "tijdig", N,
                                                 f"Niet testbaar: {why}; een terugkoppeling volgt op een bezorging.")])
    deadline = add_werkdagen(delivered, werkdagen)
    seen = observed_until(v, now)
    received = [t for t in (v.postkantoor or {}).get("terugkoppelingen") or [] if isinstance(t, dict)]
    listed = [{"status": t.get("status"), "op": fmt(moment(t.get("at")))} for t in received]
    evidence = {"bezorgd": fmt(delivered), "uiterlijk": fmt(deadline), "terugkoppeling_werkdagen": werkdagen,
                "ontvangen": listed, "waargenomen_tot": fmt(seen)}
    subs = []
    invalid = [t for t in received if t.get("status") not in VALID]
    if received:
        if invalid:
            subs.append(sub(AGREEMENT, "status", F,
                            "Terugkoppeling met een onbekende status: " + ", ".join(repr(t.get("status")) for t in invalid)
                            + f". Afgesproken statussen: {', '.join(VALID)}.", **evidence))
        else:
            subs.append(sub(AGREEMENT, "status", G, "Elke terugkoppeling heeft een afgesproken status: "
                                                    + ", ".join(str(t.get("status")) for t in received) + ".", **evidence))
    valid = sorted((moment(t.get("at")), t.get("status")) for t in received
                   if t.get("status") in VALID and moment(t.get("at")) is not None)
    if valid:
        first, status = valid[0]
        if first <= deadline:
            subs.insert(0, sub(AGREEMENT, "tijdig", G,
                               f"Terugkoppeling '{status}' ontvangen op {fmt(first)}, binnen {werkdagen} werkdagen na "
                               f"de bezorging (uiterlijk {fmt(deadline)}).", **evidence))
        else:
            subs.insert(0, sub(AGREEMENT, "tijdig", F,
                               f"Terugkoppeling '{status}' pas ontvangen op {fmt(first)}, na de termijn van {werkdagen} "
                               f"werkdagen (uiterlijk {fmt(deadline)}). Het meldpunt moet binnen de termijn laten weten "
                               "wat het met de melding doet, desnoods 'in behandeling'.", **evidence))
        return result(AGREEMENT, v, keten, subs)

    entry = outbound(v, "terugkoppeling")
    planned = moment(entry.get("first_due")) if entry else None
    if entry is not None and entry.get("status") == "onbestelbaar":
        subs.insert(0, sub(AGREEMENT, "tijdig", F,
                           f"Het meldpunt kon de terugkoppeling niet bezorgen: {entry.get('reason')}. Het maildomein "
                           f"van de politie moet B01-B06 halen, en het meldpunt moet dan een andere route nemen.",
                           **evidence, uitgaand=entry.get("status")))
    elif planned is not None and planned > deadline and entry.get("delivered_at") is None:
        subs.insert(0, sub(AGREEMENT, "tijdig", F,
                           f"Het meldpunt heeft de terugkoppeling pas gepland op {fmt(planned)}, na de termijn van "
                           f"{werkdagen} werkdagen (uiterlijk {fmt(deadline)}). Stuur binnen de termijn een "
                           "terugkoppeling, desnoods 'in behandeling'.", **evidence, gepland=fmt(planned)))
    elif seen is not None and seen >= deadline and (entry is None or entry.get("delivered_at") is None):
        subs.insert(0, sub(AGREEMENT, "tijdig", F,
                           f"Geen terugkoppeling bij de politie binnen {werkdagen} werkdagen na de bezorging (uiterlijk "
                           f"{fmt(deadline)}, waargenomen tot {fmt(seen)}). Het meldpunt moet binnen de termijn laten "
                           "weten wat het met de melding doet.", **evidence))
    elif entry is not None and entry.get("delivered_at") is not None:
        subs.insert(0, sub(AGREEMENT, "tijdig", N,
                           f"Niet testbaar: het meldpunt meldt de terugkoppeling bezorgd op "
                           f"{fmt(moment(entry.get('delivered_at')))}, maar het postkantoor heeft hem (nog) niet bij "
                           "deze melding geregistreerd. Verzamel de verzending opnieuw; blijft dit zo, dan koppelt het "
                           "postkantoor de terugkoppeling niet op kenmerk.", **evidence))
    else:
        subs.insert(0, sub(AGREEMENT, "tijdig", N,
                           f"Niet testbaar: nog geen terugkoppeling, maar de termijn loopt tot {fmt(deadline)} "
                           f"(waargenomen tot {fmt(seen)}). Zet de ketenklok voorbij die tijd en verzamel opnieuw.",
                           **evidence))
    return result(AGREEMENT, v, keten, subs)
