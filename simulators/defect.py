"""Injects a catalogue defect's run-time part (DNS changes, switches) into the
running simulated keten; the keten-file part is applied when the keten loads."""

from __future__ import annotations

from ketentest.defecten import Defect
from ketentest.errors import KetenConfigError


#: Men in the middle started for defects, by address; they live for the session.
_strippers: dict[str, object] = {}


def _strip_starttls(internet, meldpunt_id: str, mitm=None) -> None:
    """Point every MX of the meldpunt at a STARTTLS-stripping relay (S05);
    ``mitm(ip, upstream)`` starts one (default: in this process)."""
    from simulators.aanvaller import StarttlsStripper

    deelnemer = internet.keten.deelnemer(meldpunt_id)
    for i, mx in enumerate(deelnemer.domain.mx):
        ip = f"127.66.8.{10 + i}"
        if ip not in _strippers:
            _strippers[ip] = mitm(ip, mx.ip) if mitm else StarttlsStripper(ip, mx.ip).__enter__()
        internet.zones.replace(mx.name, "A", [ip])


def close_strippers() -> None:
    for s in _strippers.values():
        s.__exit__(None, None, None)
    _strippers.clear()


def apply_dns(defect: Defect, internet, mitm=None) -> None:
    zones = internet.zones
    for change in defect.dns:
        if "verloop" in change:
            zones.expire_signatures(change["verloop"])
        elif "breek_ds" in change:
            zones.break_ds(change["breek_ds"])
        elif "onondertekend" in change:
            zones.unsign(change["onondertekend"])
        elif "vervang" in change:
            c = change["vervang"]
            zones.replace(c["naam"], c["type"], list(c["data"]))
        elif "verwijder" in change:
            c = change["verwijder"]
            zones.remove(c["naam"], c["type"])
        elif "starttls_strippen" in change:
            _strip_starttls(internet, change["starttls_strippen"], mitm)
        elif "voeg_toe" in change:
            c = change["voeg_toe"]
            zones.add(c["naam"], c["type"], c["data"])
        else:
            raise KetenConfigError(f"defect {defect.id}", "dns", f"onbekende DNS-wijziging {change!r}",
                                   "gebruik verloop, breek_ds, onondertekend, vervang, verwijder, voeg_toe of starttls_strippen")
    if defect.dns:
        internet.changed()


def apply_switches(defect: Defect, sim) -> None:
    """A defect's switches are the party's configuration: a restarted party gets them again."""
    for party, switches in defect.schakelaars.items():
        sim.configure(party, dict(switches))
