"""A meldpunt: receives meldingen on its MX (the mail server checks SPF, DKIM,
DMARC and stores durably), refuses hostile or broken PDFs (S07), registers
each kenmerk once (V06), and answers the police with an ontvangstbevestiging
(V07) and later a terugkoppeling (V08) over the same secure route."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from email import message_from_bytes, policy
from typing import Any

from ketentest.clock import UTC, add_werkdagen
from ketentest.delivery import Verbindingen
from ketentest.mail import dkim
from ketentest.mail.auth import AuthResult
from ketentest.mail.origin import check_origin
from ketentest.mail.compose import (KIND_HEADER, MessageKind, TerugkoppelingStatus, compose_ontvangstbevestiging,
                                    compose_terugkoppeling, read_kenmerk)
from ketentest.bijlagen import beoordeel, smtp_text
from ketentest.pdfsandbox import check_pdf_isolated
from simulators.control import ApiError, jsonable, param, timeout_param, typed_changes
from simulators.mailserver.server import MailServer
from simulators.mailserver.switches import api_changes
from simulators.mailserver.store import StoredMessage
from simulators.party import Party
from simulators.politie.queue import DeliveryQueue, Entry, deliver_as
from simulators.quarantaine import Quarantine, message_facts
from simulators.store import read_json, write_json


@dataclass
class Switches:
    """How the meldpunt's back office behaves (defaults: as the afspraken ask)."""

    bevestigen: bool = True  # False: never send an ontvangstbevestiging
    bevestiging_na_minuten: float = 1.0  # keten minutes after receipt
    terugkoppelen: bool = True
    terugkoppeling_na_werkdagen: int = 1
    terugkoppeling_status: str = TerugkoppelingStatus.IN_BEHANDELING.value
    dubbel_verwerken: bool = False  # defect: a resent kenmerk is registered again
    pdf_controleren: bool = True  # False: defect, hostile PDFs are accepted (S07 must catch it)
    pdf_controleren_alle_delen: bool = True  # False: defect, only the first part labelled PDF is checked
    herkomst_controleren: bool = True  # False: defect, mail of unproven origin is registered (S06 must catch it)
    verwerking_pauzeren: bool = False  # hold the back office: mail is accepted (250) but not yet registered
    # True: keep an authenticated connection to the police MX for the next reply (DANE checked each time)
    verbindingen_hergebruiken: bool = False


#: Bounds of the numeric switches over the control API.
SWITCH_BOUNDS = {"bevestiging_na_minuten": (0, 100_000), "terugkoppeling_na_werkdagen": (0, 1000)}


def terugkoppeling_status(value) -> str:
    return TerugkoppelingStatus(value).value  # ValueError: not a status


def pdf_attachments(data: bytes) -> list[bytes]:
    """Parts *labelled* as attachment or PDF: what a careless meldpunt looks
    at (the defect ``pdf_controleren_alle_delen: false``); the real check
    judges every part by its bytes (ketentest.bijlagen)."""
    msg = message_from_bytes(data, policy=policy.default)
    return [part.get_payload(decode=True) or b"" for part in msg.walk()
            if part.get_content_disposition() == "attachment" or part.get_content_type() == "application/pdf"]


class Meldpunt:
    def __init__(self, party: Party) -> None:
        self.party = party
        self.keten = party.keten
        self.deelnemer = party.deelnemer
        self.switches = Switches()
        self.keys = party.dkim_keys
        self.register_dir = party.data / "register"
        self.register_dir.mkdir(parents=True, exist_ok=True)
        self.changed = threading.Condition()
        self.connections = Verbindingen()  # used while switch verbindingen_hergebruiken is on
        self.outbound = DeliveryQueue(party.data / "uitgaand", party.clock, self._deliver,
                                      retry_hours=self.keten.aannames.herhalen_uren)
        self.mx = MailServer.for_deelnemer(self.keten, self.deelnemer, party.pki, party.data / "maildir",
                                           on_message=self.on_message, on_quarantine=self.on_quarantined,
                                           content_check=self.content_check,
                                           clock=party.clock.timestamp)
        self.quarantine = Quarantine(party.data / "quarantaine", self.mx.store)

    # -- inbound ----------------------------------------------------------
    def content_check(self, data: bytes, auth: AuthResult) -> str | None:
        """S07: every part judged by its bytes, exactly one PDF, and a safe
        one (checked in the sandbox); refused with the reason."""
        if not self.switches.pdf_controleren:
            return None
        if self.switches.pdf_controleren_alle_delen:
            parts = beoordeel(data)
            if not parts.ok:
                return "550 5.6.0 Geweigerd: " + smtp_text(parts.reden)
            pdf = parts.pdf
        else:  # defect: the first part labelled PDF, the rest unseen
            pdf = next(iter(pdf_attachments(data)), None)
            if pdf is None:
                return "550 5.6.0 Geweigerd: geen PDF-bijlage (het meldformulier) gevonden"
        result = check_pdf_isolated(pdf, self.keten)
        if not result.ok:
            reasons = "; ".join(str(b) for b in result.bevindingen)
            return "550 5.6.0 Geweigerd: onveilige of onleesbare PDF: " + smtp_text(reasons)
        return None

    def _record(self, kenmerk: str) -> dict[str, Any] | None:
        path = self.register_dir / f"{kenmerk}.json"
        return read_json(path) if path.exists() else None

    def on_quarantined(self, stored: StoredMessage) -> None:
        """Mail the MX quarantined for its DMARC policy is not processed as a melding (S06)."""
        dmarc = stored.auth.dmarc
        self._quarantine(stored, f"DMARC {dmarc.result} voor {dmarc.from_domain or '(geen eenduidige From)'} met "
                                 f"beleid p={dmarc.policy or 'quarantine'}: de mailserver zette het in quarantaine")

    def _quarantine(self, stored: StoredMessage, reason: str) -> None:
        with self.changed:
            self.quarantine.add(stored, reason, stored.received_at)
            self.changed.notify_all()

    def _judge(self, stored: StoredMessage) -> tuple[str | None, str, str]:
        """(kenmerk, message id, reason not to register it or "")."""
        if not self.switches.herkomst_controleren:  # the defect: believe what the message says
            msg = message_from_bytes(stored.content)
            kenmerk = read_kenmerk(msg)
            kind = str(msg.get(KIND_HEADER, "")).strip()
            reason = "" if kenmerk and kind in ("", MessageKind.MELDING.value) else "geen melding"
            return kenmerk, str(msg.get("Message-ID", "")), reason
        origin = check_origin(stored.content, stored.auth, self.keten.politie.domain.name)
        if origin.ok and origin.kind != MessageKind.MELDING.value:
            return origin.kenmerk, origin.message_id, f"geen melding maar berichtsoort {origin.kind or '(geen)'!r}"
        return origin.kenmerk, origin.message_id, origin.reason

    def on_message(self, stored: StoredMessage) -> None:
        """Register a melding once its origin is proven (V03, S06, V06);
        anything else goes to quarantine with its reason, unregistered and
        unconfirmed, and never touches another melding's record."""
        with self.changed:  # a paused back office (switch) takes nothing in until it resumes
            self.changed.wait_for(lambda: not self.switches.verwerking_pauzeren)
        kenmerk, message_id, reason = self._judge(stored)
        if reason or kenmerk is None:
            self._quarantine(stored, reason or "geen kenmerk")
            return
        now = stored.received_at  # when the MX accepted it (keten clock), not when this callback ran
        with self.changed:
            record = self._record(kenmerk)
            if record is None:
                record = {"kenmerk": kenmerk, "eerst_ontvangen": now, "ontvangen": [], "registraties": 0,
                          "message_id": message_id, "van": stored.mail_from}
            seen = [i for i, o in enumerate(record["ontvangen"]) if o["bericht"] == stored.key]
            if seen:  # handed over again after a crash (the MX's journal): the same message, no new registration
                first, counted = seen[0] == 0, False
            else:
                first = record["registraties"] == 0
                counted = first or self.switches.dubbel_verwerken
                record["ontvangen"].append({"op": now, "bericht": stored.key,
                                            **message_facts(stored, stored.folder, stored.path)})
                if counted:
                    record["registraties"] += 1
            # Replies are queued before the record shows the melding as registered: whoever sees
            # it registered (the wait route, the harness's keten clock) also sees its replies due.
            # Queueing is idempotent (one entry per key), so a crash in between repeats nothing.
            if first or counted:
                self._schedule_replies(kenmerk, record["message_id"], now,
                                       suffix="" if first else f"-{record['registraties']}")
            if not seen:
                write_json(self.register_dir / f"{kenmerk}.json", record)
            self.changed.notify_all()

    def _schedule_replies(self, kenmerk: str, in_reply_to: str, received: float, suffix: str) -> None:
        politie = self.keten.politie.adres
        received_at = dt.datetime.fromtimestamp(received, UTC)
        sw = self.switches
        if sw.bevestigen:
            when = received_at + dt.timedelta(minutes=sw.bevestiging_na_minuten)
            message = compose_ontvangstbevestiging(kenmerk, sender=self.deelnemer.adres, recipient=politie,
                                                   in_reply_to=in_reply_to or None, received_at=received_at,
                                                   date=when, sender_name=self.deelnemer.naam)
            self.outbound.submit(f"{kenmerk}.bevestiging{suffix}", self.keten.politie.id, politie,
                                 dkim.sign(message.data, self.keys), not_before=when.timestamp())
        if sw.terugkoppelen:
            when = add_werkdagen(received_at, sw.terugkoppeling_na_werkdagen)
            message = compose_terugkoppeling(kenmerk, sw.terugkoppeling_status, sender=self.deelnemer.adres,
                                             recipient=politie, in_reply_to=in_reply_to or None, date=when,
                                             sender_name=self.deelnemer.naam)
            self.outbound.submit(f"{kenmerk}.terugkoppeling{suffix}", self.keten.politie.id, politie,
                                 dkim.sign(message.data, self.keys), not_before=when.timestamp())

    # -- outbound ---------------------------------------------------------
    def _deliver(self, message: bytes, entry: Entry):
        return deliver_as(self.party, message, entry.rcpt,
                          self.connections if self.switches.verbindingen_hergebruiken else None)

    # -- control API ------------------------------------------------------
    def melding(self, params: dict) -> dict:
        """The register record of a kenmerk with every stored message about it,
        quarantined ones included (those are never registered, and carry
        their reason). O(1) in the number of stored messages: the register
        record and the quarantine index are kept by kenmerk."""
        kenmerk = params["kenmerk"]
        record = self._record(kenmerk)
        quarantined = self.quarantine.about(kenmerk)
        if record is None and not quarantined:
            raise ApiError(f"geen melding met kenmerk {kenmerk} ontvangen", 404)
        if record is None:
            record = {"kenmerk": kenmerk, "eerst_ontvangen": None, "ontvangen": [], "registraties": 0,
                      "message_id": "", "van": ""}
        berichten = [{**facts, "eml_base64": base64.b64encode(Path(facts["pad"]).read_bytes()).decode()}
                     for facts in (*record["ontvangen"], *quarantined) if facts.get("pad")]
        return {**record, "berichten": berichten}

    def wait(self, params: dict) -> dict:
        kenmerk = params["kenmerk"]
        timeout = timeout_param(params)
        wanted = param(params, "ontvangen", 1, 1, 1000, integer=True)

        def arrived() -> bool:
            record = self._record(kenmerk)
            if wanted > 1:
                return record is not None and len(record["ontvangen"]) >= wanted
            return record is not None or bool(self.quarantine.about(kenmerk))

        with self.changed:
            reached = self.changed.wait_for(arrived, timeout)
        return {"bereikt": reached, "geregistreerd": self._record(kenmerk) is not None}

    def set_switches(self, params: dict) -> dict:
        """Both parts are checked before either is applied: a bad request changes nothing."""
        mail = params.pop("mail", None)
        own = typed_changes(Switches, params, bounds=SWITCH_BOUNDS,
                            converters={"terugkoppeling_status": terugkoppeling_status})
        mail_changes = api_changes(mail) if mail is not None else {}
        with self.changed:
            self.switches = replace(self.switches, **own)
            self.changed.notify_all()  # e.g. a paused back office resumes
        if not self.switches.verbindingen_hergebruiken:
            self.connections.close()
        if mail_changes:
            self.mx.switches.set(**mail_changes)
        return self.get_switches({})

    def get_switches(self, params: dict) -> dict:
        return {**asdict(self.switches), "mail": self.mx.switches.current.describe()}

    def reset_switches(self, params: dict) -> dict:
        with self.changed:
            self.switches = Switches()
            self.changed.notify_all()
        self.connections.close()
        self.mx.switches.reset()
        return self.get_switches({})

    def routes(self) -> dict:
        return {
            ("GET", "/meldingen"): lambda p: sorted((read_json(f) for f in self.register_dir.glob("*.json")),
                                                    key=lambda r: r["eerst_ontvangen"]),
            ("GET", "/meldingen/{kenmerk}"): self.melding,
            ("GET", "/meldingen/{kenmerk}/wacht"): self.wait,
            ("GET", "/uitgaand"): lambda p: [asdict(e) for e in self.outbound.all()],
            ("GET", "/quarantaine"): lambda p: self.quarantine.all(),
            ("GET", "/quarantaine/wacht"): self.quarantine.route,
            ("GET", "/verwerkt"): lambda p: {"verwerkt": self.mx.wait_handled(timeout_param(p))},
            ("GET", "/rust"): lambda p: {"rustig": self.outbound.wait_idle(timeout_param(p)),
                                       "volgende": self.outbound.next_due()},
            ("GET", "/verbindingen"): lambda p: jsonable(self.mx.traces()),
            ("GET", "/verbindingen/wacht"): lambda p: {"aangekomen": self.mx.wait_data(
                param(p, "data", 1, 0, 1_000_000, integer=True), timeout_param(p))},
            ("GET", "/schakelaars"): self.get_switches,
            ("POST", "/schakelaars"): self.set_switches,
            ("POST", "/schakelaars/herstel"): self.reset_switches,
        }
