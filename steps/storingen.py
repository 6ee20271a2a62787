"""Steps for chapter S: faults and abuse the keten must survive. Each
'Gegeven' step flips one switch or injects one DNS change; outcomes are
asserted on the observed Verzending."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_bdd import given, parsers, then, when

from ketentest.delivery import DeliveryAttempt, Outcome
from ketentest.errors import InfrastructureError
from ketentest.model import Deelnemer
from ketentest.verzending import Verzending
from simulators import aanvaller
from simulators.wachten import StartupDeadline
from steps.echt import ATTACK, CRASH, LOOK_INSIDE, WATCH_POSTKANTOOR, controlled, require_simulated

HOSTILE_PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>"
               b" endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def mail_switches(sim, deelnemer: Deelnemer, **switches) -> None:
    party = controlled(sim, deelnemer, switch=", ".join(f"mail.{k}" for k in switches))
    party.post("/schakelaars", {"mail": switches})


@given(parsers.parse("het meldpunt antwoordt de eerste {n:d} keer met een tijdelijke fout (4xx)"))
def tijdelijke_fouten(sim, deelnemer: Deelnemer, n: int) -> None:
    mail_switches(sim, deelnemer, temp_failures=n)


@given("het meldpunt weigert alle mail met een permanente fout (5xx)")
def permanente_fout(sim, deelnemer: Deelnemer) -> None:
    mail_switches(sim, deelnemer, perm_failure=True)


@given("de verbinding valt een keer weg tijdens DATA")
def verbinding_valt_weg(sim, deelnemer: Deelnemer) -> None:
    mail_switches(sim, deelnemer, drop_in_data=1)


@given("de DNSSEC-handtekeningen van het maildomein van het meldpunt zijn verlopen")
def handtekeningen_verlopen(sim, deelnemer: Deelnemer) -> None:
    require_simulated(deelnemer, action="de DNSSEC-handtekeningen van zijn eigen zone niet laten verlopen")
    sim.internet.zones.expire_signatures(deelnemer.domain.name)
    sim.internet.changed()


@given("de DS van het maildomein van het meldpunt past niet bij zijn sleutel")
def ds_kapot(sim, deelnemer: Deelnemer) -> None:
    require_simulated(deelnemer, action="de DS van zijn eigen zone niet onjuist maken")
    sim.internet.zones.break_ds(deelnemer.domain.name)
    sim.internet.changed()


@given("het meldpunt presenteert een nieuw certificaat met een nieuwe sleutel van een andere CA zonder de TLSA-records bij te werken")
def nieuw_certificaat(sim, deelnemer: Deelnemer) -> None:
    mail_switches(sim, deelnemer, cert_variant="replaced")


@given("het meldpunt biedt alleen TLS 1.0 en 1.1 aan")
def alleen_oude_tls(sim, deelnemer: Deelnemer) -> None:
    mail_switches(sim, deelnemer, tls_profile="alleen-tls1.0-1.1")


@given("een aanvaller tussen politie en meldpunt haalt STARTTLS weg", target_fixture="mitm")
def starttls_gestript(sim, deelnemer: Deelnemer):
    """The man in the middle takes over every MX address in DNS."""
    require_simulated(deelnemer, action="geen aanvaller tussen de politie en zijn eigen mailserver zetten")
    strippers = []
    for i, mx in enumerate(deelnemer.domain.mx):
        ip = f"127.66.7.{10 + i}"
        strippers.append(sim.man_in_the_middle(ip, mx.ip))
        sim.internet.zones.replace(mx.name, "A", [ip])
    sim.internet.changed()
    yield strippers
    for s in strippers:
        s.__exit__(None, None, None)


@dataclass(frozen=True)
class Poging:
    """A message sent outside the postkantoor, and how its delivery went."""

    kenmerk: str
    bezorging: DeliveryAttempt
    meldpunt_id: str = ""  # where it was sent, when not the scenario's meldpunt


def ontvanger(poging: Poging, deelnemer: Deelnemer) -> str:
    return poging.meldpunt_id or deelnemer.id


@when("een aanvaller een melding stuurt met het afzenderadres van de politie, zonder DKIM, van een onbekend adres",
      target_fixture="poging")
def vervalste_melding(sim, meldingen, deelnemer: Deelnemer) -> Poging:
    require_simulated(deelnemer, action=ATTACK)
    from ketentest.meldformulier import render

    melding = meldingen.voor(deelnemer)
    return Poging(melding.kenmerk, aanvaller.spoof_melding(sim.keten, deelnemer.id, melding.kenmerk, render(melding)))


@when("de politie een melding stuurt met een PDF met JavaScript erin", target_fixture="poging")
def vijandige_pdf(sim, meldingen, deelnemer: Deelnemer, pki) -> Poging:
    require_simulated(deelnemer, action=ATTACK)
    kenmerk = meldingen.voor(deelnemer).kenmerk
    return Poging(kenmerk, aanvaller.send_as_politie(sim.keten, pki, deelnemer.id, kenmerk, HOSTILE_PDF))


@when("de politie een melding stuurt met het goede meldformulier en daarnaast een verstopte PDF met JavaScript",
      target_fixture="poging")
def verstopte_pdf(sim, meldingen, deelnemer: Deelnemer, pki) -> Poging:
    require_simulated(deelnemer, action=ATTACK)
    from ketentest.meldformulier import render

    melding = meldingen.voor(deelnemer)
    return Poging(melding.kenmerk, aanvaller.send_as_politie(sim.keten, pki, deelnemer.id, melding.kenmerk,
                                                             render(melding),
                                                             hidden=(HOSTILE_PDF, aanvaller.HiddenPdf.INLINE)))


@then(parsers.re(r"is de melding precies één keer bezorgd, na (?P<n>\d+) poginge?n?"), converters={"n": int})
def precies_een_keer(verzending: Verzending, n: int) -> None:
    outcomes = [a["outcome"] for a in verzending.attempts]
    assert outcomes.count(Outcome.DELIVERED.value) == 1 and len(outcomes) == n, (
        f"melding {verzending.kenmerk}: pogingen {outcomes}, verwacht {n} met één bezorging")
    assert verzending.ontvangst is not None and len(verzending.ontvangst["ontvangen"]) == 1, (
        f"melding {verzending.kenmerk}: het meldpunt ontving hem niet precies één keer")


@then("is de melding niet verstuurd en weet de agent dat hij de alternatieve route moet gebruiken")
def niet_verstuurd(verzending: Verzending) -> None:
    assert verzending.status == "onbestelbaar" and not verzending.berichten, (
        f"melding {verzending.kenmerk}: status {verzending.status}, {len(verzending.berichten)} bericht(en) aangekomen")
    assert all(a["outcome"] == Outcome.NO_SECURE_ROUTE.value for a in verzending.attempts), (
        f"melding {verzending.kenmerk}: pogingen {[a['outcome'] for a in verzending.attempts]}, verwacht: geen veilige route")
    assert "alternatieve route" in verzending.postkantoor["officer_notice"]


@then("is de melding onbestelbaar na één poging en weet de agent waarom")
def onbestelbaar(verzending: Verzending) -> None:
    assert verzending.status == "onbestelbaar" and len(verzending.attempts) == 1, (
        f"melding {verzending.kenmerk}: status {verzending.status} na {len(verzending.attempts)} poging(en)")
    assert verzending.postkantoor["officer_notified_at"] is not None and verzending.postkantoor["reason"]


@then("weigert het meldpunt het bericht op grond van DMARC")
def dmarc_geweigerd(poging: Poging) -> None:
    b = poging.bezorging
    assert b.outcome is Outcome.PERMANENT and b.reply is not None and "DMARC" in b.reply.text, (
        f"vervalste melding {poging.kenmerk}: {b.outcome.dutch}: {b.reason}")


@then("weigert het meldpunt het bericht met een reden over de PDF")
def pdf_geweigerd(poging: Poging) -> None:
    b = poging.bezorging
    assert b.outcome is Outcome.PERMANENT and b.reply is not None and "PDF" in b.reply.text, (
        f"vijandige PDF in melding {poging.kenmerk}: {b.outcome.dutch}: {b.reason}")


@then("registreert het meldpunt geen melding met dat kenmerk")
def niet_geregistreerd(sim, deelnemer: Deelnemer, poging: Poging) -> None:
    meldpunt = controlled(sim, ontvanger(poging, deelnemer), action=LOOK_INSIDE)
    meldpunt.get("/verwerkt")  # the meldpunt handles a message beside its 250
    registered = meldpunt.get(f"/meldingen/{poging.kenmerk}", missing_ok=True)
    assert registered is None or registered["registraties"] == 0, (
        f"{deelnemer.naam} registreerde de melding {poging.kenmerk} toch")


@then("neemt het meldpunt daarna een gewone melding gewoon aan")
def blijft_werken(sim, meldingen, deelnemer: Deelnemer) -> None:
    v = sim.doorloop(meldingen.voor(deelnemer))
    assert v.ontvangst is not None and v.ontvangst["registraties"] == 1, (
        f"na de geweigerde melding kwam melding {v.kenmerk} niet goed aan: {v.status}")


# --- S08: a meldpunt that crashes loses nothing it answered 250 --------------------------------------


@given("het meldpunt blijft hangen nadat de inhoud van een melding binnen is, vóór zijn antwoord")
def hangt_na_data(sim, deelnemer: Deelnemer) -> None:
    mail_switches(sim, deelnemer, stall_at="data")


@given("de backoffice van het meldpunt verwerkt binnenkomende mail nog niet")
def backoffice_gepauzeerd(sim, deelnemer: Deelnemer) -> None:
    controlled(sim, deelnemer, switch="verwerking_pauzeren").post("/schakelaars", {"verwerking_pauzeren": True})


SETTLED = ("bezorgd", "bezorgd en bevestigd", "onbestelbaar")


@when("de politie een melding doet over iemand in het werkgebied van het meldpunt en het meldpunt crasht terwijl "
      "die binnenkomt", target_fixture="verzending")
def crash_tijdens_data(sim, meldingen, deelnemer: Deelnemer) -> Verzending:
    """Killed once the whole message is in and before it answers: the
    postkantoor never saw a 250, so it must try again. A melding that never
    reaches the meldpunt (a defect: no secure route, refused) is not crashed
    into; the Dan-steps judge what happened."""
    meldpunt = controlled(sim, deelnemer, action=CRASH)
    politie = controlled(sim, "politie", action=WATCH_POSTKANTOOR)
    before = meldpunt.get("/verbindingen/wacht", data="0", timeout="0")["aangekomen"]

    def crash(kenmerk: str) -> None:
        deadline = StartupDeadline(120.0)
        while meldpunt.get("/verbindingen/wacht", data=str(before + 1), timeout="1")["aangekomen"] <= before:
            if politie.get(f"/meldingen/{kenmerk}")["status"] in SETTLED:
                return
            rest = politie.get("/rust", timeout="0")
            if rest["rustig"] and rest["volgende"] is not None:  # a retry on the keten clock: run to it
                sim.advance(max(0.0, rest["volgende"] - sim.now()))
            if deadline.left() <= 0:
                raise InfrastructureError(f"melding {kenmerk} kwam in {deadline.describe()} niet aan bij "
                                          f"{deelnemer.naam} en werd ook niet afgerond", "zie de log van het postkantoor")
        status = politie.get(f"/meldingen/{kenmerk}")["status"]
        assert status not in ("bezorgd", "bezorgd en bevestigd"), f"melding {kenmerk} was al {status} vóór de crash"
        sim.herstart(deelnemer.id)

    return sim.doorloop(meldingen.voor(deelnemer), tussendoor=crash)


@when("de politie een melding doet over iemand in het werkgebied van het meldpunt en het meldpunt crasht direct "
      "nadat het de melding met 250 heeft aangenomen", target_fixture="verzending")
def crash_na_250(sim, meldingen, deelnemer: Deelnemer) -> Verzending:
    """Killed after its 250 and before its back office registered the
    melding; a melding that is never accepted is not crashed into."""
    meldpunt = controlled(sim, deelnemer, action=CRASH)
    politie = controlled(sim, "politie", action=WATCH_POSTKANTOOR)

    def crash(kenmerk: str) -> None:
        status = lambda: politie.get(f"/meldingen/{kenmerk}")["status"]  # noqa: E731
        sim.run_until(sim.now() + sim.keten.aannames.herhalen_uren * 3600 + 3600, stop=lambda: status() in SETTLED)
        if status() != "bezorgd":
            return
        record = meldpunt.get(f"/meldingen/{kenmerk}", missing_ok=True)
        assert record is None, f"{deelnemer.naam} had melding {kenmerk} al geregistreerd; de crash zou niets toetsen"
        sim.herstart(deelnemer.id)

    return sim.doorloop(meldingen.voor(deelnemer), tussendoor=crash)


@then("heeft het meldpunt de melding precies één keer geregistreerd en bevestigd")
def een_keer_geregistreerd_en_bevestigd(verzending: Verzending) -> None:
    record = verzending.ontvangst or {"registraties": 0, "ontvangen": []}
    assert (record["registraties"], len(record["ontvangen"])) == (1, 1), (
        f"melding {verzending.kenmerk}: {record['registraties']} keer geregistreerd, {len(record['ontvangen'])} keer "
        f"ontvangen; verwacht precies één keer")
    confirmations = verzending.postkantoor["bevestigingen"] if verzending.postkantoor else []
    assert verzending.status == "bezorgd en bevestigd" and len(confirmations) == 1, (
        f"melding {verzending.kenmerk}: status {verzending.status}, {len(confirmations)} ontvangstbevestiging(en)")


# --- S06: mail whose origin is not proven is never a melding --------------------------------------


@when("een buitenstaander zonder DMARC-record het meldpunt een melding stuurt met een kenmerk in het onderwerp",
      target_fixture="poging")
def buitenstaander(sim, meldingen, deelnemer: Deelnemer) -> Poging:
    require_simulated(deelnemer, action=ATTACK)
    from ketentest.meldformulier import render

    melding = meldingen.voor(deelnemer)
    return Poging(melding.kenmerk, aanvaller.outsider_melding(sim.keten, deelnemer.id, melding.kenmerk, render(melding)))


@when("een buitenstaander zonder DMARC-record het meldpunt een bericht stuurt met het kenmerk van die melding",
      target_fixture="poging")
def buitenstaander_met_echt_kenmerk(sim, verzending: Verzending) -> Poging:
    """Sent to the meldpunt that has the melding (where the postkantoor routed it)."""
    require_simulated(sim.keten.deelnemer(verzending.meldpunt_id), action=ATTACK)
    from ketentest.meldformulier import render

    return Poging(verzending.kenmerk, aanvaller.outsider_melding(sim.keten, verzending.meldpunt_id, verzending.kenmerk,
                                                                 render(verzending.melding)), verzending.meldpunt_id)


@when("een aanvaller die melding met een ander kenmerk ervoor opnieuw afspeelt vanaf een eigen adres",
      target_fixture="poging")
def opnieuw_afgespeeld(sim, meldingen, deelnemer: Deelnemer, verzending: Verzending) -> Poging:
    import base64

    require_simulated(sim.keten.deelnemer(verzending.meldpunt_id), action=ATTACK)

    politie = controlled(sim, "politie", action="het ondertekende bericht niet uit zijn postkantoor halen")
    signed = base64.b64decode(politie.get(f"/meldingen/{verzending.kenmerk}/bericht")["eml_base64"])
    nieuw = meldingen.voor(deelnemer).kenmerk  # a kenmerk no melding has yet
    to = sim.keten.deelnemer(verzending.meldpunt_id)  # the meldpunt that has the melding
    return Poging(nieuw, aanvaller.replay_relabelled(sim.keten, signed, nieuw, to.adres), to.id)


@then("zet het meldpunt het bericht in quarantaine met de reden")
def in_quarantaine(sim, deelnemer: Deelnemer, poging: Poging) -> None:
    meldpunt = controlled(sim, ontvanger(poging, deelnemer), action=LOOK_INSIDE)
    meldpunt.get("/verwerkt")
    view = meldpunt.get(f"/meldingen/{poging.kenmerk}", missing_ok=True) or {"berichten": []}
    redenen = [b.get("reden") for b in view["berichten"] if b["map"] == "quarantaine"]
    assert redenen and all(redenen), (
        f"{deelnemer.naam} zette het bericht over {poging.kenmerk} niet in quarantaine "
        f"(bezorging: {poging.bezorging.reason}; mappen: {[b['map'] for b in view['berichten']]})")


@then("stuurt het meldpunt geen ontvangstbevestiging voor dat kenmerk")
def geen_bevestiging(sim, deelnemer: Deelnemer, poging: Poging) -> None:
    meldpunt = controlled(sim, ontvanger(poging, deelnemer), action=LOOK_INSIDE)
    meldpunt.get("/verwerkt")
    replies = [e["kenmerk"] for e in meldpunt.get("/uitgaand")
               if e["kenmerk"].startswith(f"{poging.kenmerk}.")]
    assert not replies, f"{deelnemer.naam} beantwoordt het bericht over {poging.kenmerk} toch: {replies}"


@then("heeft het meldpunt die melding nog steeds precies één keer ontvangen")
def nog_een_keer_ontvangen(sim, deelnemer: Deelnemer, verzending: Verzending) -> None:
    meldpunt = controlled(sim, verzending.meldpunt_id, action=LOOK_INSIDE)
    meldpunt.get("/verwerkt")
    record = meldpunt.get(f"/meldingen/{verzending.kenmerk}", missing_ok=True) or {
        "registraties": 0, "ontvangen": []}
    assert (record["registraties"], len(record["ontvangen"])) == (1, 1), (
        f"{deelnemer.naam}: melding {verzending.kenmerk} nu {record['registraties']} keer geregistreerd en "
        f"{len(record['ontvangen'])} keer ontvangen; het bericht van de buitenstaander hoort daar niet bij")
