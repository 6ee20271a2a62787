"""The police's digitaal postkantoor: takes a melding from the officer,
routes it (V01), renders the meldformulier (V04), composes the e-mail without
personal data (V05), DKIM-signs it (V03) and queues it for DANE-checked
delivery (V02, V09). Confirmations and terugkoppelingen coming back on the
police's own MX count only when they come, DKIM-aligned, from the meldpunt
the melding went to and name that melding (V07, V08); anything else goes to
quarantine with its reason."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import pikepdf

from ketentest.delivery import Outcome, Verbindingen
from ketentest.errors import DataError
from ketentest.mail import dkim
from ketentest.mail.compose import KIND_HEADER, STATUS_HEADER, MessageKind, compose_melding, read_kenmerk
from ketentest.mail.origin import check_origin, repeated_reason
from ketentest.meldformulier import render
from ketentest.melding import Melding
from ketentest.routering import route_melding
from simulators.control import ApiError, param, timeout_param, typed_changes
from simulators.mailserver.server import MailServer
from simulators.mailserver.store import StoredMessage
from simulators.party import Party
from simulators.politie import onveilig
from simulators.politie.onveilig import deliver_carelessly
from simulators.politie.queue import DeliveryQueue, Entry, Status, deliver_as
from simulators.quarantaine import Quarantine


@dataclass
class Switches:
    """How the postkantoor misbehaves on purpose (for defect tests)."""

    dkim_ondertekenen: bool = True  # False: send unsigned (B03/V03 must catch it)
    alleen_veilige_route: bool = True  # False: deliver anyway without DANE when no secure route (V02 must catch it)
    herhalen: bool = True  # False: give up on the first temporary failure (V09/S01 must catch it)
    permanent_herhalen: bool = False  # True: retry a 5xx as if temporary (S02 must catch it)
    # Content mistakes (defects): V04, V05 and V03 must catch each.
    pdf_wijzigen: bool = False  # the PDF says something else than the officer submitted
    pdf_met_javascript: bool = False  # the PDF carries an OpenAction script
    bsn_in_onderwerp: bool = False
    naam_in_tekst: bool = False
    wijzigen_na_ondertekenen: bool = False  # a relay alters the body after DKIM signing
    verkeerd_meldpunt: bool = False  # routing error: the next meldpunt in the keten gets it
    overondertekenen: bool = True  # False: DKIM signs each header once, so one can be added (V03 must catch it)
    bevestiging_controleren: bool = True  # False: any receipt naming a kenmerk counts, whoever sent it (V07)
    # > 0: the meldformulier PDF is padded to this many MB (2**20 bytes), still a valid and safe PDF (V04 size)
    meldformulier_opvullen_tot_mb: float = 0.0
    # True: keep an authenticated connection for the next melding to the same MX (DANE checked again each
    # time against that attempt's TLSA records); off by default, so every attempt meets the MX's switches afresh
    verbindingen_hergebruiken: bool = False


#: Bounds of the numeric switches over the control API (MB; keeps memory bounded).
SWITCH_BOUNDS = {"meldformulier_opvullen_tot_mb": (0, 32)}


def pad_pdf(pdf: bytes, size: int) -> bytes:
    """``pdf`` grown to exactly ``size`` bytes with an uncompressed stream of
    spaces as private application data of the document (``/PieceInfo``, PDF
    1.7 section 14.5): the fields and the pages stay as they are, and the file
    stays a valid PDF without active content. A PDF already that large is
    returned as it is, and so is one that even the smallest padding would make
    larger than ``size``."""
    if size <= len(pdf) or len(_with_padding(pdf, 0)) > size:
        return pdf
    padding = size - len(pdf)
    for _ in range(8):  # the /Length digits and the xref shift the size a little: converge
        out = _with_padding(pdf, max(padding, 0))
        if len(out) == size:
            return out
        padding += size - len(out)
    raise ValueError(f"kan de PDF niet precies op {size} bytes brengen (nu {len(out)})")


def _with_padding(pdf: bytes, n: int) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        stream = doc.make_stream(b" " * n)
        doc.Root.PieceInfo = pikepdf.Dictionary(Ketentest=pikepdf.Dictionary(
            LastModified=pikepdf.String("D:20260101000000Z"), Private=doc.make_indirect(stream)))
        buf = io.BytesIO()
        # keep every existing stream as it is and leave the padding uncompressed, so the size is exact
        doc.save(buf, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none,
                 deterministic_id=True)
        return buf.getvalue()


def overview(entry: Entry) -> dict:
    """One melding's state without the delivery traces (for a tally of many)."""
    return {"kenmerk": entry.kenmerk, "meldpunt": entry.meldpunt, "status": entry.status,
            "submitted": entry.submitted, "delivered_at": entry.delivered_at, "confirmed_at": entry.confirmed_at,
            "attempts": [{"outcome": a.outcome, "at": a.at} for a in entry.attempts],
            "bevestigingen": len(entry.bevestigingen)}


def build_message(melding: Melding, recipient: str, sender: str, sender_name: str, date: dt.datetime,
                  sw: Switches, keys: list) -> bytes:
    """The signed e-mail of one melding: meldformulier (V04), message without
    personal data (V05), DKIM (V03), with the content defects ``sw`` asks for.
    A pure function of its arguments, so it can run in a worker process."""
    shown = melding
    if sw.pdf_wijzigen:
        shown = dataclasses.replace(melding, signaal=melding.signaal + " (gewijzigd)")
    pdf = render(shown)
    if sw.pdf_met_javascript:
        pdf = onveilig.with_javascript(pdf)
    if sw.meldformulier_opvullen_tot_mb:
        pdf = pad_pdf(pdf, round(sw.meldformulier_opvullen_tot_mb * 2**20))
    data = compose_melding(melding.kenmerk, pdf, sender=sender, recipient=recipient, date=date,
                           sender_name=sender_name).data
    if sw.bsn_in_onderwerp:
        data = onveilig.subject_with(data, f"BSN {melding.persoon.bsn}")
    if sw.naam_in_tekst:
        data = onveilig.body_with(data, f"{melding.persoon.voornamen} {melding.persoon.achternaam}")
    if sw.dkim_ondertekenen and keys:
        data = dkim.sign(data, keys, oversign=sw.overondertekenen)
    if sw.wijzigen_na_ondertekenen:
        data = onveilig.altered_in_transit(data)
    return data


#: Worker processes that build messages (0: in the postkantoor's own process).
OPMAAK_PROCESSEN = min(8, os.cpu_count() or 1)  # one per core, each ~70 MB


class Opmaak:
    """Builds the messages (render the PDF, compose, sign: most of the CPU per
    melding) in a few long-lived worker processes, so the postkantoor's own
    process, one interpreter with one lock, keeps delivering and receiving
    while officers submit (issue 14). Started on first use; a broken pool is
    replaced, and until then the message is built here."""

    def __init__(self, workers: int = OPMAAK_PROCESSEN) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor | None:
        if self.workers < 1:
            return None
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def build(self, *args) -> bytes:
        pool = self._executor()
        if pool is not None:
            try:
                return pool.submit(build_message, *args).result()
            except BrokenProcessPool:
                with self._lock:
                    if self._pool is pool:
                        self._pool = None
        return build_message(*args)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class Postkantoor:
    def __init__(self, party: Party) -> None:
        self.party = party
        self.keten = party.keten
        self.deelnemer = party.deelnemer
        self.sender = self.deelnemer.domain.senders[0]
        self.switches = Switches()
        self._lock = threading.Lock()
        self.keys = party.dkim_keys
        self.opmaak = Opmaak()
        self.connections = Verbindingen()  # used while switch verbindingen_hergebruiken is on
        self.queue = DeliveryQueue(party.data / "wachtrij", party.clock, self._deliver,
                                   retry_hours=self.keten.aannames.herhalen_uren)
        self.unmatched: list[dict[str, Any]] = []  # authentic receipts that matched no melding state
        # The police's own MX receives ontvangstbevestigingen and terugkoppelingen.
        self.mx = MailServer.for_deelnemer(self.keten, self.deelnemer, party.pki, party.data / "maildir",
                                           on_message=self.on_message, on_quarantine=self.on_quarantined,
                                           clock=party.clock.timestamp)
        self.quarantine = Quarantine(party.data / "quarantaine", self.mx.store)

    # -- outbound ---------------------------------------------------------
    def _deliver(self, message: bytes, entry: Entry):
        pool = self.connections if self.switches.verbindingen_hergebruiken else None
        outcome, reason, trace = deliver_as(self.party, message, entry.rcpt, pool)
        if outcome is Outcome.NO_SECURE_ROUTE and not self.switches.alleen_veilige_route:
            outcome, reason = deliver_carelessly(message, self.deelnemer.adres, entry.rcpt,
                                                 resolver_ip=self.keten.dns.resolver_ip, source_ip=self.sender.ip,
                                                 helo=self.sender.name)
            trace["onveilig"] = reason
        if outcome is Outcome.TEMPORARY and not self.switches.herhalen:
            outcome = Outcome.PERMANENT
        elif outcome is Outcome.PERMANENT and self.switches.permanent_herhalen:
            outcome = Outcome.TEMPORARY
        return outcome, reason, trace

    def submit(self, params: dict) -> dict:
        raw = params.get("melding")
        if not isinstance(raw, dict):
            raise ApiError("verwacht {\"melding\": {...}} met de velden van de melding")
        melding = Melding.from_dict(raw).validate()  # DataError -> 422 with a hint
        routering = route_melding(self.keten, melding)  # RouteringsFout: not sent (V01)
        sw = self.switches
        meldpunt = routering.meldpunt
        if sw.verkeerd_meldpunt:
            others = [m for m in self.keten.meldpunten if m.id != meldpunt.id]
            meldpunt = others[0] if others else meldpunt
        data = self.opmaak.build(melding, meldpunt.adres, self.deelnemer.adres, self.deelnemer.naam,
                                 self.party.clock.now(), sw, self.keys)
        entry = self.queue.submit(melding.kenmerk, meldpunt.id, meldpunt.adres, data)
        return {"kenmerk": melding.kenmerk, "meldpunt": meldpunt.id, "routering": str(routering),
                "status": entry.status}

    def resend(self, params: dict) -> dict:
        """Send a melding again with the same kenmerk and the same signed
        message (V06: a resent melding keeps its kenmerk), as a separate
        delivery next to the original."""
        kenmerk = params["kenmerk"]
        self.entry(kenmerk)
        n = 1 + sum(1 for e in self.queue.all() if e.kenmerk.startswith(f"{kenmerk}.opnieuw-"))
        original = self.entry(kenmerk)
        again = self.queue.submit(f"{kenmerk}.opnieuw-{n}", original.meldpunt, original.rcpt, self.queue.message(kenmerk))
        return {"kenmerk": kenmerk, "herzending": again.kenmerk, "status": again.status}

    # -- inbound (from the mail server's on_message) -----------------------
    def on_message(self, stored: StoredMessage) -> None:
        """Count a receipt for the melding it names, if it is genuinely from
        the meldpunt that melding went to; otherwise quarantine it."""
        if not self.switches.bevestiging_controleren:
            self._believe(stored)
            return
        kenmerk = read_kenmerk(stored.content)
        entry = self.queue.get(kenmerk) if kenmerk else None
        if entry is None:
            self._quarantine(stored, repeated_reason(stored.content)
                             or f"noemt geen melding van de politie (kenmerk {kenmerk or 'onleesbaar'})")
            return
        try:
            meldpunt = self.keten.deelnemer(entry.meldpunt)
        except KeyError:
            self._quarantine(stored, f"melding {kenmerk} ging naar onbekend meldpunt {entry.meldpunt}")
            return
        origin = check_origin(stored.content, stored.auth, meldpunt.domain.name, require_dmarc=False)
        if not origin.ok:
            self._quarantine(stored, f"niet van {meldpunt.naam}, waar melding {kenmerk} heen ging: {origin.reason}")
            return
        if origin.kind == MessageKind.ONTVANGSTBEVESTIGING.value:
            matched = self.queue.confirm(origin.kenmerk, origin.message_id, stored.mail_from, at=stored.received_at)
        elif origin.kind == MessageKind.TERUGKOPPELING.value:
            matched = self.queue.terugkoppeling(origin.kenmerk, origin.status, at=stored.received_at)
        else:
            self._quarantine(stored, f"berichtsoort {origin.kind or '(geen)'!r} is geen ontvangstbevestiging of "
                                     "terugkoppeling")
            return
        if not matched:
            self.unmatched.append({"kenmerk": kenmerk, "soort": origin.kind, "sleutel": stored.key,
                                   "reden": f"melding {kenmerk} heeft status {entry.status!r}"})

    def _believe(self, stored: StoredMessage) -> None:
        """The defect: match on kenmerk and kind alone, whoever sent it."""
        from email import message_from_bytes

        msg = message_from_bytes(stored.content)
        kenmerk = read_kenmerk(msg)
        kind = str(msg.get(KIND_HEADER, "")).strip()
        matched = False
        if kenmerk and kind == MessageKind.ONTVANGSTBEVESTIGING.value:
            matched = self.queue.confirm(kenmerk, str(msg.get("Message-ID", "")), stored.mail_from,
                                         at=stored.received_at)
        elif kenmerk and kind == MessageKind.TERUGKOPPELING.value:
            matched = self.queue.terugkoppeling(kenmerk, str(msg.get(STATUS_HEADER, "")).strip(),
                                                 at=stored.received_at)
        if not matched:
            self.unmatched.append({"kenmerk": kenmerk, "soort": kind, "sleutel": stored.key, "reden": "niet gekoppeld"})

    def on_quarantined(self, stored: StoredMessage) -> None:
        dmarc = stored.auth.dmarc
        self._quarantine(stored, f"DMARC {dmarc.result} voor {dmarc.from_domain or '(geen eenduidige From)'} met "
                                 f"beleid p={dmarc.policy or 'quarantine'}: de mailserver zette het in quarantaine")

    def _quarantine(self, stored: StoredMessage, reason: str) -> None:
        self.quarantine.add(stored, reason, self.party.clock.timestamp())

    # -- control API --------------------------------------------------------
    def entry(self, kenmerk: str) -> Entry:
        entry = self.queue.get(kenmerk)
        if entry is None:
            raise ApiError(f"geen melding met kenmerk {kenmerk}", 404)
        return entry

    def wait(self, params: dict) -> dict:
        """Long poll: answer once the melding has one of the given statuses."""
        kenmerk = params["kenmerk"]
        wanted = {s.strip() for s in str(params.get("status", "")).split(",") if s.strip()}
        known = {s.value for s in Status}
        if not wanted or not wanted <= known:
            raise ApiError(f"status moet een of meer zijn van: {', '.join(sorted(known))}")
        timeout = timeout_param(params)
        terugkoppelingen = param(params, "terugkoppelingen", 0, 0, 1000, integer=True)
        bevestigingen = param(params, "bevestigingen", 0, 0, 1000, integer=True)
        self.entry(kenmerk)
        reached = self.queue.wait_for(lambda: self.queue.get(kenmerk).status in wanted
                                      and len(self.queue.get(kenmerk).terugkoppelingen) >= terugkoppelingen
                                      and len(self.queue.get(kenmerk).bevestigingen) >= bevestigingen, timeout)
        return {"bereikt": reached, **asdict(self.entry(kenmerk))}

    def message(self, params: dict) -> dict:
        self.entry(params["kenmerk"])
        return {"eml_base64": base64.b64encode(self.queue.message(params["kenmerk"])).decode()}

    def set_switches(self, params: dict) -> dict:
        self.switches = dataclasses.replace(self.switches, **typed_changes(Switches, params, bounds=SWITCH_BOUNDS))
        if not self.switches.verbindingen_hergebruiken:
            self.connections.close()
        return asdict(self.switches)

    def routes(self) -> dict:
        return {
            ("POST", "/meldingen"): self.submit,
            ("GET", "/meldingen"): lambda p: [asdict(e) for e in self.queue.all()],
            ("GET", "/telling"): lambda p: dict(Counter(e.status for e in self.queue.all())),
            ("GET", "/overzicht"): lambda p: [overview(e) for e in self.queue.all()],
            ("GET", "/meldingen/{kenmerk}"): lambda p: asdict(self.entry(p["kenmerk"])),
            ("GET", "/meldingen/{kenmerk}/wacht"): self.wait,
            ("GET", "/rust"): lambda p: {"rustig": self.queue.wait_idle(timeout_param(p)),
                                       "volgende": self.queue.next_due()},
            ("GET", "/meldingen/{kenmerk}/bericht"): self.message,
            ("POST", "/meldingen/{kenmerk}/opnieuw"): self.resend,
            ("GET", "/ongekoppeld"): lambda p: self.unmatched,
            ("GET", "/quarantaine"): lambda p: self.quarantine.all(),
            ("GET", "/quarantaine/wacht"): self.quarantine.route,
            ("GET", "/verwerkt"): lambda p: {"verwerkt": self.mx.wait_handled(timeout_param(p))},
            ("GET", "/schakelaars"): lambda p: asdict(self.switches),
            ("POST", "/schakelaars"): self.set_switches,
            ("POST", "/schakelaars/herstel"): self.reset_switches,
        }

    def reset_switches(self, params: dict) -> dict:
        self.switches = Switches()
        self.connections.close()
        return asdict(self.switches)


__all__ = ["Opmaak", "Postkantoor", "Switches", "DataError", "build_message", "pad_pdf"]
