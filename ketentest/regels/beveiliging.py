"""The sub-rules of chapter B (Beveiligingsniveau e-maildomeinen) as step
sentences: see :class:`ketentest.regels.Regel`."""

from __future__ import annotations

from ketentest.checks import b02_spf
from ketentest.regels import Regel

_r = Regel

#: The rules of chapter B, in the order features/beveiligingsniveau.feature states them.
REGELS: tuple[Regel, ...] = (
    # --- B02 SPF ------------------------------------------------------------------------------
    _r("B02", "publiceert het maildomein precies één SPF-record", ("spf.record",),
       "Eén v=spf1-record op het domein: bij nul of twee records kan de ontvanger SPF niet toepassen (RFC 7208, 4.5)."),
    _r("B02", "is elk SPF-record in de boom syntactisch geldig", ("spf.syntax",),
       "Elk record, ook via include en redirect, volgt de syntax van RFC 7208."),
    _r("B02", "bestaan alle domeinen waar het SPF-record naar verwijst", ("spf.verwijzingen",),
       "Elke include= en redirect= wijst naar een domein met een eigen SPF-record."),
    _r("B02", "vraagt het SPF-record hoogstens {max_lookups:d} DNS-opvragingen en {max_void:d} lege",
       ("spf.aantal_lookups", "spf.void_lookups"),
       "Meer opvragingen (include, a, mx, ptr, exists, redirect) of lege antwoorden geven bij de ontvanger "
       "een permerror (RFC 7208, 4.6.4).",
       drempels={"max_lookups": b02_spf.MAX_DNS_TERMS, "max_void": b02_spf.MAX_VOID}),
    _r("B02", 'eindigt het SPF-record op "{einde}"', ("spf.all",),
       "Alleen -all (hard fail) weigert andere afzenders; ~all waarschuwt, +all en ?all falen.",
       drempels={"einde": "-all"}),
)
