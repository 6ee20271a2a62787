"""V09 Niets raakt zoek: every melding ends in exactly one state (*bezorgd
en bevestigd*, or *onbestelbaar* with its reason); a temporary failure is
retried with back-off for at least ``herhalen_uren`` (24 [aanname]); a
permanent failure or an expired retry period notifies the officer within
``onbestelbaar_melden_minuten`` (15 [aanname]); delivered at most once.

Sub-tests:

- ``v09.eindtoestand``: the final state is consistent (bezorgd en bevestigd:
  delivered and confirmed; onbestelbaar: a reason, nothing delivered). A
  melding still underway is niet testbaar, unless it should have ended by
  now: still "bezorgd" past the confirmation deadline, or still queued past
  the retry period, fails;
- ``v09.herhalen`` (when an attempt failed temporarily): the postkantoor
  kept retrying until at least ``herhalen_uren`` after the first due time
  before giving up on temporary failures, with growing intervals
  (back-off: never shorter than the one before, not all the same; a cap
  may repeat, and the last interval may be shorter when it ends the period);
- ``v09.agent_gemeld`` (onbestelbaar): the officer was notified, with a
  notice, within ``onbestelbaar_melden_minuten`` of the final attempt;
- ``v09.eenmaal_bezorgd``: at most one attempt delivered, and the meldpunt
  received the message at most once.
"""

from __future__ import annotations

import datetime as dt

from ketentest.checks._vbase import (F, FINAL_STATES, G, N, aannames, attempts_of, delivered_attempts, entry_time, fmt,
                                     minutes, moment, observed_until, result, sub)
from ketentest.model import Keten
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending

AGREEMENT = "V09"
#: Slack for timestamps taken a moment apart in different processes (seconds).
SLACK = 5.0


def check_v09(verzending: Verzending, keten: Keten, *, now: dt.datetime | None = None) -> CheckResult:
    v = verzending
    a = aannames(v, keten)
    if v.postkantoor is None:
        why = (f"de melding is bij het indienen geweigerd ({v.geweigerd}); ze kwam niet in de wachtrij en V01 "
               "beoordeelt de weigering" if v.geweigerd else "de melding staat niet in de wachtrij van het postkantoor")
        return result(AGREEMENT, v, keten, [sub(AGREEMENT, "eindtoestand", N, f"Niet testbaar: {why}.")])
    entry = v.postkantoor
    attempts = attempts_of(entry)
    seen = observed_until(v, now)
    subs = [_final_state(v, entry, attempts, a, seen)]
    if any(x.get("outcome") == "temporary" for x in attempts):
        subs.append(_retries(entry, attempts, a))
    if v.status == "onbestelbaar":
        subs.append(_officer(entry, attempts, a))
    subs.append(_once(v, attempts))
    return result(AGREEMENT, v, keten, subs)


def _final_state(v: Verzending, entry: dict, attempts: list[dict], a, seen: dt.datetime | None):
    status = v.status
    delivered, confirmed = entry_time(v.postkantoor, "delivered_at"), entry_time(v.postkantoor, "confirmed_at")
    evidence = {"status": status, "reden": entry.get("reason"), "bezorgd": fmt(delivered), "bevestigd": fmt(confirmed),
                "pogingen": len(attempts), "waargenomen_tot": fmt(seen)}
    if status == "bezorgd en bevestigd":
        if delivered is None or confirmed is None:
            return sub(AGREEMENT, "eindtoestand", F,
                       "Status 'bezorgd en bevestigd', maar " + ("zonder bezorgmoment" if delivered is None else
                                                                  "zonder bevestigingsmoment")
                       + ". Het postkantoor moet de eindtoestand alleen zetten op grond van een bezorging en een "
                       "ontvangen bevestiging.", **evidence)
        return sub(AGREEMENT, "eindtoestand", G,
                   f"Eindtoestand: bezorgd ({fmt(delivered)}) en bevestigd ({fmt(confirmed)}).", **evidence)
    if status == "onbestelbaar":
        problems = []
        if not str(entry.get("reason") or "").strip():
            problems.append("zonder reden")
        if delivered is not None or delivered_attempts(entry):
            problems.append("terwijl een poging wel bezorgde")
        if problems:
            return sub(AGREEMENT, "eindtoestand", F,
                       "Status 'onbestelbaar' " + " en ".join(problems) + ". Een onbestelbare melding krijgt altijd "
                       "de reden mee, en een bezorgde melding is niet onbestelbaar.", **evidence)
        return sub(AGREEMENT, "eindtoestand", G, f"Eindtoestand: onbestelbaar, met reden: {entry.get('reason')}",
                   **evidence)
    if status == "bezorgd" and delivered is not None:
        deadline = delivered + dt.timedelta(minutes=a.bevestiging_minuten)
        if seen is not None and seen >= deadline:
            return sub(AGREEMENT, "eindtoestand", F,
                       f"Geen eindtoestand: de melding staat sinds {fmt(delivered)} op 'bezorgd', zonder bevestiging "
                       f"(termijn {a.bevestiging_minuten} minuten, waargenomen tot {fmt(seen)}). Een melding moet "
                       "eindigen als 'bezorgd en bevestigd' of 'onbestelbaar'; zie V07 voor de ontbrekende bevestiging.",
                       **evidence)
        return sub(AGREEMENT, "eindtoestand", N,
                   f"Niet testbaar: bezorgd, de bevestiging kan nog komen tot {fmt(deadline)}.", **evidence)
    if status in ("in wachtrij", "opnieuw proberen"):
        first_due = moment(entry.get("first_due")) or moment(entry.get("submitted"))
        end = (first_due + dt.timedelta(hours=a.herhalen_uren, minutes=a.onbestelbaar_melden_minuten)
               if first_due else None)
        if end is not None and seen is not None and seen > end:
            return sub(AGREEMENT, "eindtoestand", F,
                       f"Geen eindtoestand: de melding staat nog op {status!r}, terwijl de herhaalperiode van "
                       f"{a.herhalen_uren} uur sinds {fmt(first_due)} voorbij is (waargenomen tot {fmt(seen)}). Na de "
                       "herhaalperiode moet de melding onbestelbaar worden en de agent een melding krijgen.", **evidence)
        return sub(AGREEMENT, "eindtoestand", N,
                   f"Niet testbaar: de melding is nog onderweg (status {status!r}); zet de ketenklok door en verzamel "
                   "opnieuw.", **evidence)
    known = ", ".join(FINAL_STATES)
    return sub(AGREEMENT, "eindtoestand", F,
               f"Onbekende status {status!r}; een melding eindigt als een van: {known}.", **evidence)


def _retries(entry: dict, attempts: list[dict], a):
    period = a.herhalen_uren * 3600
    first_due = moment(entry.get("first_due")) or moment(entry.get("submitted")) or moment(attempts[0].get("at"))
    times = [moment(x.get("at")) for x in attempts]
    gaps = [(t2 - t1).total_seconds() for t1, t2 in zip(times, times[1:]) if t1 and t2]
    last = attempts[-1]
    last_at = times[-1]
    spread = (last_at - first_due).total_seconds() if last_at and first_due else 0.0
    evidence = {"eerste_poging_gepland": fmt(first_due), "pogingen": [{"op": fmt(t), "uitkomst": x.get("outcome")}
                                                                      for t, x in zip(times, attempts)],
                "tussenpozen_seconden": gaps, "herhalen_uren": a.herhalen_uren}
    problems = []
    shrinking = [i for i in range(1, len(gaps)) if gaps[i] < gaps[i - 1] - SLACK
                 and not (i == len(gaps) - 1 and spread >= period - SLACK)]
    if shrinking:
        problems.append("de tussenpozen worden korter in plaats van langer (geen back-off): "
                        + ", ".join(minutes(g) for g in gaps))
    if len(gaps) >= 3 and max(gaps) - min(gaps) <= SLACK:
        problems.append(f"steeds dezelfde tussenpoos van {minutes(gaps[0])} (geen back-off)")
    if any(g <= 0 for g in gaps):
        problems.append("twee pogingen op hetzelfde moment")
    gave_up = entry.get("status") == "onbestelbaar" and last.get("outcome") == "temporary"
    if gave_up and spread < period - SLACK:
        problems.append(f"opgegeven na {minutes(spread)} tijdelijke fouten, eerder dan de afgesproken "
                        f"{a.herhalen_uren} uur")
    if problems:
        return sub(AGREEMENT, "herhalen", F,
                   "Herhalen na een tijdelijke fout schiet tekort: " + "; ".join(problems) + ". Het postkantoor moet "
                   f"een tijdelijke fout ten minste {a.herhalen_uren} uur lang herhalen, met steeds langere "
                   "tussenpozen.", **evidence)
    if gave_up:
        how = f"herhaald tot {minutes(spread)} na de eerste geplande poging en toen opgegeven"
    elif entry.get("status") in ("in wachtrij", "opnieuw proberen"):
        how = f"nog aan het herhalen ({len(attempts)} pogingen, {minutes(spread)})"
    else:
        how = f"na {len(attempts) - 1} herhaling(en) afgerond: {last.get('outcome')}"
    return sub(AGREEMENT, "herhalen", G, f"Tijdelijke fouten herhaald met back-off; {how}.", **evidence)


def _officer(entry: dict, attempts: list[dict], a):
    notified = moment(entry.get("officer_notified_at"))
    notice = str(entry.get("officer_notice") or "").strip()
    last_at = moment(attempts[-1].get("at")) if attempts else None
    evidence = {"laatste_poging": fmt(last_at), "agent_gemeld": fmt(notified), "melding_agent": notice,
                "onbestelbaar_melden_minuten": a.onbestelbaar_melden_minuten}
    if notified is None or not notice:
        return sub(AGREEMENT, "agent_gemeld", F,
                   "Onbestelbaar, maar de agent is niet op de hoogte gebracht" + ("" if notified is None else
                                                                                 " (geen tekst)")
                   + ". Het postkantoor moet de agent direct laten weten dat de melding niet is aangekomen en dat hij "
                   "de alternatieve route moet gebruiken.", **evidence)
    if last_at is not None:
        took = (notified - last_at).total_seconds()
        if took > a.onbestelbaar_melden_minuten * 60:
            return sub(AGREEMENT, "agent_gemeld", F,
                       f"De agent hoorde het pas {minutes(took)} na de laatste poging; afgesproken is binnen "
                       f"{a.onbestelbaar_melden_minuten} minuten.", **evidence, duur_seconden=took)
        return sub(AGREEMENT, "agent_gemeld", G,
                   f"De agent is {minutes(max(took, 0))} na de laatste poging gemeld: {notice}", **evidence,
                   duur_seconden=took)
    return sub(AGREEMENT, "agent_gemeld", G, f"De agent is gemeld ({fmt(notified)}): {notice}", **evidence)


def _once(v: Verzending, attempts: list[dict]):
    delivered = delivered_attempts(v.postkantoor)
    received = len((v.ontvangst or {}).get("ontvangen") or []) or len(v.berichten)
    evidence = {"bezorgde_pogingen": len(delivered), "ontvangen_bij_meldpunt": received}
    problems = []
    if len(delivered) > 1:
        problems.append(f"het postkantoor bezorgde de melding {len(delivered)} keer")
    if received > 1:
        problems.append(f"het meldpunt ontving het bericht {received} keer")
    if problems:
        return sub(AGREEMENT, "eenmaal_bezorgd", F,
                   "Meer dan eens bezorgd: " + "; ".join(problems) + ". Een melding wordt precies één keer bezorgd "
                   "(ook na een verbroken verbinding, S08); V06 beoordeelt of het meldpunt haar één keer registreerde.",
                   **evidence)
    if not delivered and received == 0:
        return sub(AGREEMENT, "eenmaal_bezorgd", G, "Niet bezorgd, dus ook niet dubbel.", **evidence)
    return sub(AGREEMENT, "eenmaal_bezorgd", G, "Precies één keer bezorgd en één keer ontvangen."
               if received == 1 else "Eén keer bezorgd.", **evidence)
