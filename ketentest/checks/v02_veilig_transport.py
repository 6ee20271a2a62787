"""V02 Alleen veilig transport: delivery only over DANE-authenticated
STARTTLS (RFC 7672); without a secure route the melding is not sent and the
officer is told to use the alternative route. Never a fallback.

Read from the postkantoor's attempt traces (:class:`ketentest.delivery.
DeliveryAttempt` as JSON). Sub-tests:

- ``v02.transport``: every MX host to which the postkantoor began handing
  over the melding (MAIL FROM, DATA or a 250) was reached over STARTTLS
  (before MAIL FROM), TLS 1.3/1.2, a DANE match, with DNSSEC-secure MX and
  TLSA records;
- ``v02.geen_veilige_route`` (when the last attempt found no secure route):
  nothing was delivered, nothing arrived at the meldpunt, and the officer's
  notice names the alternative route.
"""

from __future__ import annotations

from ketentest.checks._vbase import (F, G, I, N, attempts_of, entry_time, fmt, result, sub, transport_review,
                                     was_delivered)
from ketentest.model import Keten
from ketentest.verdict import CheckResult
from ketentest.verzending import Verzending

AGREEMENT = "V02"


def check_v02(verzending: Verzending, keten: Keten, *, now=None) -> CheckResult:
    v = verzending
    if v.postkantoor is None:
        why = (f"de melding is bij het indienen geweigerd ({v.geweigerd})" if v.geweigerd
               else "de melding staat niet in de wachtrij van het postkantoor")
        return result(AGREEMENT, v, keten, [sub(AGREEMENT, "transport", N,
                                                 f"Niet testbaar: {why}; er is geen bezorging om te beoordelen.")])
    attempts = attempts_of(v.postkantoor)
    subs = []
    seen, problems, untraced = transport_review(v.postkantoor)
    if problems:
        subs.append(sub(AGREEMENT, "transport", F,
                        "Verstuurd zonder veilige route: " + "; ".join(problems) + ". Het postkantoor mag alleen "
                        "bezorgen na STARTTLS met TLS 1.2 of hoger en een DANE-overeenkomst (RFC 7672); zonder die "
                        "route niets versturen en de agent naar de alternatieve route verwijzen.",
                        hosts=seen, problemen=problems))
    elif untraced:
        subs.append(sub(AGREEMENT, "transport", N,
                        f"Niet testbaar: bezorgd ({', '.join(untraced)}), maar zonder spoor van de verbinding; "
                        "zonder TLS- en DANE-gegevens is niet na te gaan of de route veilig was. Laat het "
                        "postkantoor per poging het volledige spoor bewaren.", pogingen=untraced))
    elif seen:
        subs.append(sub(AGREEMENT, "transport", G,
                        "Alleen over een veilige route overgedragen: " + "; ".join(
                            f"{h['host']} via {h['tls']} met DANE-overeenkomst ({h['tlsa_record']})" for h in seen) + ".",
                        hosts=seen))

    last = attempts[-1] if attempts else None
    if last is not None and last.get("outcome") == "no_secure_route":
        subs.append(_no_secure_route(v, last))
    elif not subs:
        subs.append(sub(AGREEMENT, "transport", N,
                        f"Niet testbaar: nog niets overgedragen (status {v.status!r}, {len(attempts)} poging(en)); "
                        "V02 is te beoordelen na een bezorging of na een poging zonder veilige route.",
                        status=v.status, pogingen=len(attempts)))
    for a in attempts:  # per-host refusals to use an insecure route, for the report
        for h in (a.get("trace") or {}).get("hosts") or []:
            if isinstance(h, dict) and h.get("outcome") == "no_secure_route" and last is not None \
                    and last.get("outcome") != "no_secure_route":
                subs.append(sub(AGREEMENT, "onveilige_mx_overgeslagen", I,
                                f"{h.get('host')} bood geen veilige route ({h.get('reason')}); daar is niets "
                                "verstuurd.", host=h.get("host"), beveiliging=h.get("failed")))
    return result(AGREEMENT, v, keten, subs)


def _no_secure_route(v: Verzending, last: dict):
    trace = last.get("trace") or {}
    evidence = {"poging": fmt(entry_time(last, "at")), "reden": last.get("reason"),
                "beveiliging_gefaald": trace.get("failed"), "status": v.status,
                "melding_agent": v.postkantoor.get("officer_notice")}
    wrong = []
    if was_delivered(v):
        wrong.append("toch bezorgd")
    if v.ontvangst is not None or v.berichten:
        wrong.append("het meldpunt heeft een bericht met dit kenmerk ontvangen")
    notice = str(v.postkantoor.get("officer_notice") or "")
    if "alternatieve route" not in notice.lower():
        wrong.append("de agent is niet verteld de alternatieve route te gebruiken"
                     + (f" (melding aan de agent: {notice!r})" if notice else " (geen melding aan de agent)"))
    if wrong:
        return sub(AGREEMENT, "geen_veilige_route", F,
                   f"Geen veilige route ({last.get('reason')}), maar: " + "; ".join(wrong) + ". Zonder veilige route "
                   "mag er niets verstuurd worden en moet de agent direct horen dat hij de alternatieve route "
                   "gebruikt.", **evidence)
    return sub(AGREEMENT, "geen_veilige_route", G,
               f"Terecht niet verstuurd: {last.get('reason')} De agent kreeg: {notice}", **evidence)
