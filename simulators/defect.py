"""Injects a catalogue defect's run-time part (DNS changes, switches) into the
running simulated keten; the keten-file part is applied when the keten loads."""

from __future__ import annotations

from ketentest.defecten import Defect
from ketentest.errors import KetenConfigError


def apply_dns(defect: Defect, internet) -> None:
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
        elif "voeg_toe" in change:
            c = change["voeg_toe"]
            zones.add(c["naam"], c["type"], c["data"])
        else:
            raise KetenConfigError(f"defect {defect.id}", "dns", f"onbekende DNS-wijziging {change!r}",
                                   "gebruik verloop, breek_ds, onondertekend, vervang, verwijder of voeg_toe")
    if defect.dns:
        internet.changed()


def apply_switches(defect: Defect, sim) -> None:
    for party, switches in defect.schakelaars.items():
        target = sim.politie if party in ("politie", sim.keten.politie.id) else sim.meldpunt(party)
        target.post("/schakelaars", dict(switches))
