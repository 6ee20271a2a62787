"""The sub-rules of chapter V (Verzenden en ontvangen) as step sentences:
see :class:`ketentest.regels.Regel`."""

from __future__ import annotations

import re

from ketentest.checks import _vbase, v08_terugkoppeling
from ketentest.melding import KENMERK_RE
from ketentest.model import Aannames, Keten
from ketentest.regels import Regel, lowest_tls, of_list

_r = Regel


def _kenmerk_vorm() -> str:
    """KENMERK_RE as the afspraken write it (XX-JJJJ-NNNNNN); if the pattern
    changes shape the result does too, and the feature's sentence stops matching."""
    vorm = KENMERK_RE.pattern.strip("^$")
    vorm = re.sub(r"\[A-Z\]\{(\d+)\}", lambda m: "X" * int(m.group(1)), vorm)
    vorm = re.sub(r"\(\?P<jaar>\\d\{(\d+)\}\)", lambda m: "J" * int(m.group(1)), vorm)
    return re.sub(r"\(\?P<volgnummer>\\d\{(\d+)\}\)", lambda m: "N" * int(m.group(1)), vorm)


def _aanname(naam: str):
    """The keten's [aanname] ``naam``; without a keten (a step catalogue) the protocol's default."""
    return lambda k: getattr(k.aannames if k is not None else Aannames(), naam)


def _max_pdf_mb(k: Keten | None) -> int | float:
    mb = _aanname("max_pdf_bytes")(k) / 2**20
    return int(mb) if mb.is_integer() else mb


_TRANSPORT = ("STARTTLS met TLS {tls} of hoger, een DANE-overeenkomst en DNSSEC-veilige MX- en TLSA-records")

#: The rules of chapter V, in the order features/verzenden.feature states them.
REGELS: tuple[Regel, ...] = (
    # --- V01 Routering ------------------------------------------------------------------------
    _r("V01", "komt de melding bij het meldpunt van de gemeente van de postcode van betrokkene",
       ("v01.meldpunt", "v01.gemeentecode"),
       "Het postkantoor routeert op de postcode (niet op de gemeentecode in de melding) naar het meldpunt wiens "
       "werkgebied die gemeente bevat, op diens adres. Een afwijkende gemeentecode in de melding is alleen "
       "informatie (v01.gemeentecode verschijnt alleen dan).",
       optioneel=("v01.gemeentecode",)),
    _r("V01", "wordt de melding geweigerd en niet in de wachtrij gezet", ("v01.meldpunt",),
       "Een postcode buiten elk werkgebied: het postkantoor weigert de melding bij het indienen, met een "
       "foutmelding aan de agent, en zet haar nooit in de wachtrij."),
    _r("V01", "noemt de foutmelding aan de agent de postcode", ("v01.foutmelding",),
       "Bij een weigering ziet de agent waarom: de foutmelding noemt de postcode (alleen bij een terechte "
       "weigering beoordeeld)."),
    # --- V02 Alleen veilig transport -----------------------------------------------------------
    _r("V02", "wordt de melding alleen overgedragen na " + _TRANSPORT,
       ("v02.transport", "v02.onveilige_mx_overgeslagen"),
       "Elke MX-host die (een deel van) de melding kreeg, kreeg haar pas na STARTTLS met TLS 1.3 of 1.2, een "
       "DANE-overeenkomst (RFC 7672) en DNSSEC-veilige MX- en TLSA-records. Ontbreekt een veilige route, dan "
       "beoordeelt de volgende regel het (v02.transport ontbreekt dan); een overgeslagen onveilige MX is informatie.",
       drempels={"tls": lowest_tls(_vbase.GOOD_TLS)}, optioneel=("v02.transport", "v02.onveilige_mx_overgeslagen")),
    _r("V02", "wordt zonder veilige route niets verstuurd en hoort de agent de alternatieve route te gebruiken",
       ("v02.geen_veilige_route",),
       "Vond de laatste poging geen veilige route, dan is niets bezorgd, heeft het meldpunt niets ontvangen en "
       "noemt de melding aan de agent de alternatieve route; nooit een onveilige terugval. Alleen beoordeeld als "
       "er geen veilige route was.",
       optioneel=("v02.geen_veilige_route",)),
    # --- V03 Afzenderauthenticatie --------------------------------------------------------------
    _r("V03", "weigert het meldpunt de melding niet om de afzenderauthenticatie", ("v03.geweigerd",),
       "Geen 5xx-weigering om SPF, DKIM of DMARC (5.7.x, RFC 7372). v03.geweigerd verschijnt alleen bij zo'n "
       "weigering.",
       optioneel=("v03.geweigerd",)),
    _r("V03", "legt het meldpunt zijn controle vast in een eigen Authentication-Results-kopregel",
       ("v03.authentication_results",),
       "Het meldpunt voegt bij ontvangst een Authentication-Results-kopregel (RFC 8601) toe met zijn eigen "
       "authserv-id; een kopregel van een ander bewijst niets."),
    _r("V03", "slaagt SPF voor het afzendadres van de politie", ("v03.spf",),
       "spf=pass voor een MAIL FROM in het politiedomein, volgens het meldpunt."),
    _r("V03", "slaagt DKIM met een handtekening in lijn met het politiedomein", ("v03.dkim",),
       "dkim=pass met header.d in lijn met het politiedomein, onder het adkim-beleid van de politie (s: precies het "
       "domein; r: hetzelfde organisatiedomein)."),
    _r("V03", "slaagt DMARC voor het From-domein van de politie", ("v03.dmarc",),
       "dmarc=pass met header.from het politiedomein."),
    _r("V03", "draagt het opgeslagen bericht een DKIM-handtekening van de politie", ("v03.ondertekend",),
       "Los van het oordeel van het meldpunt: het bericht zelf heeft een DKIM-Signature met d= in lijn met het "
       "politiedomein."),
    _r("V03", "over-ondertekent die handtekening elke kopregel waar de keten op leunt", ("v03.overondertekend",),
       "h= noemt elke kopregel van de keten (From, Subject, X-Kenmerk, ...) één keer vaker dan het bericht hem "
       "heeft (RFC 6376, 8.15), zodat niemand er ongemerkt een tweede voor zet."),
    _r("V03", "slaat het meldpunt de melding op in de inbox en niet in quarantaine", ("v03.opgeslagen",),
       "Een echte melding komt in de inbox (new/); quarantaine wijst op een SPF-, DKIM- of DMARC-fout."),
    # --- V04 Inhoud ------------------------------------------------------------------------------
    _r("V04", "weigert het meldpunt de inhoud van de melding niet", ("v04.geweigerd",),
       "Geen 5xx-weigering om de inhoud (5.6.x), bijvoorbeeld een onveilige of te grote PDF. v04.geweigerd "
       "verschijnt alleen bij zo'n weigering.",
       optioneel=("v04.geweigerd",)),
    _r("V04", "komt de melding aan met precies één PDF, het meldformulier, en verder alleen tekst", ("v04.bijlage",),
       "Elk MIME-deel beoordeeld op zijn bytes, niet op zijn label: precies één PDF en verder alleen de tekst."),
    _r("V04", "bevat de PDF geen actieve inhoud en is ze niet versleuteld of beschadigd", ("v04.veilig",),
       "Geen JavaScript, startacties, ingesloten bestanden of andere inhoud buiten wat een meldformulier mag "
       "bevatten; gecontroleerd in een afgeschermd proces."),
    _r("V04", "zijn alle velden van het meldformulier gelijk aan de ingediende melding", ("v04.velden",),
       "Het meldformulier in de PDF geeft de melding van de agent exact weer; afwijkende velden worden genoemd, "
       "hun waarden niet (persoonsgegevens)."),
    _r("V04", "is de PDF hoogstens {max_mb:g} MB groot", ("v04.grootte",),
       "De PDF is niet groter dan de aanname max_pdf_mb van de keten (1 MB = 1.048.576 bytes).",
       drempels={"max_mb": _max_pdf_mb}),
    # --- V05 Privacy -----------------------------------------------------------------------------
    _r("V05", "noemen onderwerp, X-Kenmerk en tekst het kenmerk", ("v05.kenmerk",),
       "Het meldpunt herkent de melding aan het kenmerk, zonder persoonsgegevens nodig te hebben."),
    _r("V05", "staan in onderwerp, kopregels en tekst geen persoonsgegevens: geen namen, BSN, geboortedatum, adres, "
              "postcode, gegevens van de melder, registratienummer, signaal of situatieschets",
       ("v05.persoonsgegevens",),
       "Persoonsgegevens staan alleen in de PDF; gezocht wordt in elke kopregel en in de tekst buiten de bijlage, "
       "in de gangbare schrijfwijzen (ook BSN in groepjes, datum als 17 mei 1980)."),
    # --- V06 Kenmerk -----------------------------------------------------------------------------
    _r("V06", "heeft het kenmerk de vorm {vorm}", ("v06.vorm",),
       "Het postkantoor geeft elk kenmerk uit in de afgesproken vorm (twee letters, jaar, volgnummer).",
       drempels={"vorm": _kenmerk_vorm()}),
    _r("V06", "registreert het meldpunt het kenmerk precies één keer", ("v06.registratie",),
       "Het register van het meldpunt heeft het kenmerk één keer, hoe vaak het bericht ook binnenkomt."),
    _r("V06", "draagt elk ontvangen bericht het kenmerk van de melding", ("v06.kenmerk_behouden",),
       "Ook een opnieuw verstuurde melding houdt haar kenmerk, en de registratie staat onder dat kenmerk. "
       "Alleen beoordeeld als het meldpunt de ontvangen berichten toont.",
       optioneel=("v06.kenmerk_behouden",)),
    _r("V06", "ontvangt de politie hoogstens één ontvangstbevestiging voor het kenmerk", ("v06.een_bevestiging",),
       "Een tweede, andere ontvangstbevestiging is aan de kant van de politie het teken van een tweede registratie. "
       "Alleen beoordeeld als de politie een bevestiging telde.",
       optioneel=("v06.een_bevestiging",)),
    _r("V06", "krijgt elke melding een eigen kenmerk", ("v06.uniek",),
       "Over een reeks meldingen: geen kenmerk voor twee verschillende meldingen."),
    # --- V07 Ontvangstbevestiging ----------------------------------------------------------------
    _r("V07", "ontvangt de politie een ontvangstbevestiging met het kenmerk van de melding", ("v07.ontvangen",),
       "Het meldpunt bevestigt elke melding aan het antwoordadres van de politie, met het kenmerk; geen bevestiging "
       "na de termijn faalt."),
    _r("V07", "komt de ontvangstbevestiging binnen {minuten:d} minuten op de ketenklok bij de politie",
       ("v07.tijdig",),
       "Gemeten op de ketenklok van de bezorging (250) tot de ontvangst bij de politie [aanname bevestiging_minuten]. "
       "Alleen beoordeeld als er een bevestiging is.",
       drempels={"minuten": _aanname("bevestiging_minuten")}, optioneel=("v07.tijdig",)),
    _r("V07", "gaat de ontvangstbevestiging naar het antwoordadres van de politie na " + _TRANSPORT,
       ("v07.veilige_route", "v07.extra_bevestigingen"),
       "Het meldpunt bezorgt net als de politie alleen over een veilige route (zoals V02). Alleen beoordeeld als er "
       "een bevestiging is; een tweede bevestiging is informatie (V06 beoordeelt die).",
       drempels={"tls": lowest_tls(_vbase.GOOD_TLS)}, optioneel=("v07.veilige_route", "v07.extra_bevestigingen")),
    # --- V08 Terugkoppeling ----------------------------------------------------------------------
    _r("V08", "koppelt het meldpunt binnen {werkdagen:d} werkdagen op de ketenklok terug wat het met de melding deed",
       ("v08.tijdig",),
       "De eerste terugkoppeling met een geldige status bereikt de politie binnen de termijn na de bezorging "
       "[aanname terugkoppeling_werkdagen; maandag tot en met vrijdag, feestdagen niet meegeteld].",
       drempels={"werkdagen": _aanname("terugkoppeling_werkdagen")}),
    _r("V08", "heeft elke terugkoppeling de status {statussen}", ("v08.status",),
       "Alleen de afgesproken statussen. Alleen beoordeeld als er een terugkoppeling is.",
       drempels={"statussen": of_list(f'"{s}"' for s in v08_terugkoppeling.VALID)}, optioneel=("v08.status",)),
    # --- V09 Niets raakt zoek --------------------------------------------------------------------
    _r("V09", "eindigt de melding in precies één eindtoestand: {eindtoestanden}", ("v09.eindtoestand",),
       "Bezorgd en bevestigd (met bezorg- en bevestigingsmoment), of onbestelbaar (met reden, niets bezorgd). Een "
       "melding die na de termijnen nog onderweg is, faalt.",
       drempels={"eindtoestanden": of_list(f'"{s}"' for s in _vbase.FINAL_STATES)}),
    _r("V09", "herhaalt het postkantoor een tijdelijke fout ten minste {uren:d} uur met steeds langere tussenpozen",
       ("v09.herhalen",),
       "Back-off: nooit een kortere tussenpoos dan de vorige, niet steeds dezelfde; pas na de herhaalperiode "
       "opgeven [aanname herhalen_uren]. Alleen beoordeeld als een poging tijdelijk mislukte.",
       drempels={"uren": _aanname("herhalen_uren")}, optioneel=("v09.herhalen",)),
    _r("V09", "hoort de agent binnen {minuten:d} minuten na de laatste poging dat de melding onbestelbaar is",
       ("v09.agent_gemeld",),
       "Bij onbestelbaar krijgt de agent direct bericht, met de reden en de alternatieve route "
       "[aanname onbestelbaar_melden_minuten]. Alleen beoordeeld als de melding onbestelbaar is.",
       drempels={"minuten": _aanname("onbestelbaar_melden_minuten")}, optioneel=("v09.agent_gemeld",)),
    _r("V09", "is de melding hoogstens één keer bezorgd en door het meldpunt één keer ontvangen",
       ("v09.eenmaal_bezorgd",),
       "Ook na een verbroken verbinding of een herstart: één bezorgde poging, één ontvangst bij het meldpunt."),
)
