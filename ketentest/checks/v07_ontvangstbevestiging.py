"""V07 Ontvangstbevestiging: the meldpunt confirms receipt to the police
reply address, quoting the kenmerk, within ``bevestiging_minuten`` (15
[aanname]) of the delivery, over the same secure route.

Times are keten-clock times: the delivery is the postkantoor's
``delivered_at``, the confirmation its ``confirmed_at`` (set when a
bevestiging with this kenmerk arrived: the police match it by kenmerk).
Sub-tests:

- ``v07.ontvangen``: the police registered a confirmation for the kenmerk;
  missing after the deadline fails, before it is niet testbaar;
- ``v07.tijdig``: confirmed at most ``bevestiging_minuten`` after delivery;
- ``v07.veilige_route``: the meldpunt's outbound ``<kenmerk>.bevestiging``
  went to the police reply address over DANE-authenticated STARTTLS
  (same judgement as V02); a bevestiging that found no secure route fails
  (the police domain does not meet B01-B06).
"""

from __future__ import annotations

import datetime as dt

from ketentest.checks._vbase import (F, G, I, N, aannames, attempts_of, entry_time, fmt, minutes, moment, not_delivered_reason,
                                     observed_until, outbound, repeats, result, sub, transport_review)
from ketentest.model import Keten
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending

AGREEMENT = "V07"


def check_v07(verzending: Verzending, keten: Keten, *, now: dt.datetime | None = None) -> CheckResult:
    v = verzending
    limit = aannames(v, keten).bevestiging_minuten
    delivered = entry_time(v.postkantoor, "delivered_at")
    if delivered is None:
        why = not_delivered_reason(v)
        return result(AGREEMENT, v, keten, [sub(AGREEMENT, "ontvangen", N,
                                                 f"Niet testbaar: {why}; een ontvangstbevestiging volgt op een "
                                                 "bezorging.")])
    deadline = delivered + dt.timedelta(minutes=limit)
    confirmed = entry_time(v.postkantoor, "confirmed_at")
    seen = observed_until(v, now)
    evidence = {"bezorgd": fmt(delivered), "bevestigd": fmt(confirmed), "uiterlijk": fmt(deadline),
                "bevestiging_minuten": limit, "waargenomen_tot": fmt(seen)}
    entry = outbound(v, "bevestiging")
    subs = []
    if confirmed is None:
        if entry is not None and entry.get("status") == "onbestelbaar":
            subs.append(sub(AGREEMENT, "ontvangen", F,
                            f"Het meldpunt kon de ontvangstbevestiging niet bezorgen: {entry.get('reason')}. Het "
                            f"maildomein van de politie ({keten.politie.domain.name}) moet B01-B06 halen, zodat het "
                            "meldpunt veilig kan antwoorden.", **evidence, uitgaand=entry.get("status")))
        elif seen is not None and seen >= deadline:
            subs.append(sub(AGREEMENT, "ontvangen", F,
                            f"Geen ontvangstbevestiging bij de politie binnen {limit} minuten na de bezorging "
                            f"({fmt(delivered)}; waargenomen tot {fmt(seen)})"
                            + (" en het meldpunt heeft er ook geen verstuurd" if entry is None else
                               f"; het meldpunt heeft er een in de uitgaande wachtrij (status {entry.get('status')!r})")
                            + ". Het meldpunt moet elke melding binnen de termijn bevestigen aan "
                            f"{keten.politie.adres}, met het kenmerk.", **evidence))
        else:
            subs.append(sub(AGREEMENT, "ontvangen", N,
                            f"Niet testbaar: nog geen ontvangstbevestiging, maar de termijn loopt tot {fmt(deadline)} "
                            f"(waargenomen tot {fmt(seen)}). Zet de ketenklok voorbij die tijd en verzamel opnieuw.",
                            **evidence))
        return result(AGREEMENT, v, keten, subs)

    subs.append(sub(AGREEMENT, "ontvangen", G,
                    f"De politie ontving een ontvangstbevestiging met kenmerk {v.kenmerk} ({fmt(confirmed)}).",
                    **evidence))
    took = max((confirmed - delivered).total_seconds(), 0.0)  # a confirmation may overtake the bookkeeping
    if confirmed <= deadline:
        subs.append(sub(AGREEMENT, "tijdig", G, f"Bevestigd {minutes(took)} na de bezorging; binnen {limit} minuten "
                                                "[aanname bevestiging_minuten].", **evidence, duur_seconden=took))
    else:
        subs.append(sub(AGREEMENT, "tijdig", F,
                        f"Bevestigd {minutes(took)} na de bezorging, later dan de afgesproken {limit} minuten. Het "
                        "meldpunt moet direct na ontvangst automatisch bevestigen.", **evidence, duur_seconden=took))
    subs.append(_route(v, keten, entry))
    extra = repeats(v, "bevestiging")
    if extra:
        subs.append(sub(AGREEMENT, "extra_bevestigingen", I,
                        f"Het meldpunt stuurde meer dan één bevestiging: {', '.join(extra)} (zie V06).", extra=extra))
    return result(AGREEMENT, v, keten, subs)


def _route(v: Verzending, keten: Keten, entry: dict | None):
    if entry is None:
        return sub(AGREEMENT, "veilige_route", N,
                   "Niet testbaar: de uitgaande sporen van het meldpunt ontbreken, dus de route van de bevestiging is "
                   "niet na te gaan. Laat het meldpunt per bericht het bezorgspoor bewaren.")
    seen, problems, untraced = transport_review(entry)
    rcpts = sorted({str((a.get("trace") or {}).get("rcpt_to")) for a in attempts_of(entry)
                    if (a.get("trace") or {}).get("rcpt_to")} | ({str(entry["rcpt"])} if entry.get("rcpt") else set()))
    wrong = [r for r in rcpts if r.lower() != keten.politie.adres.lower()]
    if wrong:
        problems.append(f"verstuurd naar {', '.join(wrong)} in plaats van het antwoordadres {keten.politie.adres}")
    evidence = {"uitgaand": entry.get("kenmerk"), "status": entry.get("status"), "hosts": seen, "adressen": rcpts,
                "bezorgd": fmt(moment(entry.get("delivered_at")))}
    if problems:
        return sub(AGREEMENT, "veilige_route", F,
                   "De bevestiging ging niet over de afgesproken veilige route: " + "; ".join(problems) + ". Het "
                   "meldpunt moet net als de politie alleen bezorgen over STARTTLS met DANE (RFC 7672).", **evidence,
                   problemen=problems)
    if untraced or not seen:
        return sub(AGREEMENT, "veilige_route", N,
                   "Niet testbaar: de bevestiging is bij de politie aangekomen, maar het meldpunt heeft geen spoor van "
                   "een veilige overdracht (TLS en DANE) bewaard.", **evidence)
    return sub(AGREEMENT, "veilige_route", G,
               "De bevestiging ging over een veilige route naar " + keten.politie.adres + ": " + "; ".join(
                   f"{h['host']} via {h['tls']} met DANE-overeenkomst" for h in seen) + ".", **evidence)
