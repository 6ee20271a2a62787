"""The sub-rules of chapter B (Beveiligingsniveau e-maildomeinen) as step
sentences: see :class:`ketentest.regels.Regel`."""

from __future__ import annotations

from ketentest.checks import _dns, b02_spf, b03_dkim, b05_starttls, ncsc
from ketentest.dane import Usage
from ketentest.regels import Regel, lowest_tls, of_list

_r = Regel


def _passing_ratings() -> str:
    """The NCSC ratings B05 lets pass, in Dutch: "goed of voldoende"."""
    ok = [r.value for r, v in b05_starttls.RATING_VERDICT.items() if v is b05_starttls.P]
    return of_list(ok)


def _weakest_signature_hash() -> str:
    """The weakest certificate signature hash B05 lets pass: "SHA-256"."""
    ok = [h for h, r in ncsc.SIGNATURE_HASHES.items()
          if h and h.startswith("sha") and b05_starttls.RATING_VERDICT[r] is b05_starttls.P]
    return f"SHA-{min(int(h[3:]) for h in ok)}"


#: DANE usages that count for SMTP (RFC 7672, 3.1.3): "2 of 3".
_DANE_USAGES = f"{int(Usage.DANE_TA)} of {int(Usage.DANE_EE)}"

#: The rules of chapter B, in the order features/beveiligingsniveau.feature states them.
REGELS: tuple[Regel, ...] = (
    # --- B01 DNSSEC -----------------------------------------------------------------------------
    _r("B01", "valideert het maildomein als veilig met DNSSEC", ("dnssec.domein",),
       "De SOA- en MX-antwoorden van het maildomein dragen het AD-bit van de valiterende resolver: onbeveiligd "
       "(insecure) en bogus falen; ondertekenen met RSASHA1 waarschuwt en met een verboden algoritme faalt "
       "(RFC 8624)."),
    _r("B01", "valideert elke MX-host als veilig met DNSSEC", ("dnssec.mx",),
       "De A- en AAAA-antwoorden van elke MX-host zijn veilig; een null MX naast gewone MX-records faalt "
       "(RFC 7505) en een MX-naam die een alias (CNAME) is waarschuwt (RFC 2181, 10.3)."),
    _r("B01", "zijn alle MX-hosts op DNSSEC getoetst (hoogstens {max_mx:d} MX-hosts)", ("dnssec.mx_aantal",),
       "De toets kijkt naar hoogstens zoveel MX-hosts (op voorkeur); heeft het domein er meer, dan is de rest "
       "niet testbaar en staat dat in het verslag.",
       drempels={"max_mx": _dns.MAX_MX}, optioneel=("dnssec.mx_aantal",)),
    # --- B02 SPF ------------------------------------------------------------------------------
    _r("B02", "publiceert het maildomein precies één SPF-record", ("spf.record",),
       "Eén v=spf1-record op het domein: bij nul of twee records kan de ontvanger SPF niet toepassen "
       "(RFC 7208, 4.5)."),
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

    # --- B03 DKIM -------------------------------------------------------------------------------
    _r("B03", "bestaat _domainkey onder het maildomein", ("dkim.domainkey",),
       "_domainkey.<domein> antwoordt NOERROR; bij NXDOMAIN kan er geen enkele DKIM-sleutel onder staan."),
    _r("B03", "publiceert elke DKIM-selector precies één geldige sleutel", ("dkim.sleutel_aanwezig",),
       "Elke selector uit het ketenbestand heeft één geldig sleutelrecord (v=DKIM1; k=rsa|ed25519; p=…); "
       "een sleutel in testmodus (t=y) waarschuwt."),
    _r("B03", "is elke DKIM-sleutel Ed25519 of RSA van minstens {min_bits:d} bits", ("dkim.sleutel_sterkte",),
       "Een kortere RSA-sleutel, of een sleutel die alleen SHA-1 toestaat, faalt; RSA van precies de grens "
       "waarschuwt (NCSC: uitfaseren), langer of Ed25519 slaagt.",
       drempels={"min_bits": b03_dkim.MIN_RSA_BITS}),
    _r("B03", "wordt de DKIM-ondertekening van uitgaande mail getoetst op ontvangen mail (V03)",
       ("dkim.ondertekening",),
       "Of het domein alle uitgaande mail ondertekent, blijkt pas uit ontvangen mail: dat toetst V03; "
       "deze controle kijkt alleen naar DNS en meldt dat ter informatie."),
    # --- B04 DMARC ------------------------------------------------------------------------------
    _r("B04", "publiceert het maildomein precies één DMARC-record", ("dmarc.record",),
       "Eén v=DMARC1-record op _dmarc.<domein> (of op het organisatiedomein); bij nul of twee records passen "
       "ontvangers geen DMARC toe (RFC 7489, 6.6.3)."),
    _r("B04", "is het DMARC-record syntactisch geldig", ("dmarc.syntax",),
       "v=DMARC1 als eerste tag en elke tag geldig volgens RFC 7489, 6.3."),
    _r("B04", 'staat het DMARC-beleid op "{beleid}" voor alle mail', ("dmarc.beleid",),
       "Alleen p=reject laat ontvangers vervalste mail weigeren: p=quarantine, pct onder 100 of sp=none "
       "waarschuwen; p=none, pct=0 of een ongeldig beleid falen.",
       drempels={"beleid": "p=reject"}),
    _r("B04", "noemt het verslag ter informatie waar de DMARC-rapporten heen gaan", ("dmarc.rapportage_extern",),
       "Rapportadressen (rua/ruf) buiten het eigen organisatiedomein hebben een autorisatierecord nodig "
       "(RFC 7489, 7.1); dat staat ter informatie in het verslag, zonder eigen oordeel."),
    # --- B05 STARTTLS ---------------------------------------------------------------------------
    _r("B05", "zijn alle adressen van alle MX-hosts op STARTTLS getoetst (hoogstens {max_mx:d} MX-hosts)",
       ("starttls.mx", "starttls.adressen", "starttls.mx_aantal"),
       "Elk IPv4-adres van elke MX-host is bereikt en getoetst; een MX-host zonder adres, een adres dat niet "
       "antwoordt of meer MX-hosts dan de grens maken de rest niet testbaar.",
       drempels={"max_mx": _dns.MAX_MX}, optioneel=("starttls.mx", "starttls.mx_aantal")),
    _r("B05", "biedt elk adres STARTTLS aan", ("starttls.aanwezig",),
       "Zonder STARTTLS in het EHLO-antwoord gaat mail naar die server onversleuteld."),
    _r("B05", "accepteert elk adres alleen TLS {versie} of hoger", ("starttls.tls_versies",),
       "TLS 1.1, 1.0 en SSL zijn niet meer veilig (NCSC): een server die ze nog accepteert faalt.",
       drempels={"versie": lowest_tls(b05_starttls.ALLOWED_VERSIONS)}),
    _r("B05", "accepteert elk adres alleen cipher suites die het NCSC {oordelen} noemt", ("starttls.ciphers",),
       "Een suite met oordeel 'uitfaseren' (CBC, 3DES, statische RSA) waarschuwt, 'onvoldoende' (zoals RC4, MD5 "
       "of zonder authenticatie) faalt; de zwakste suite beslist.",
       drempels={"oordelen": _passing_ratings()}),
    _r("B05", "kiest elke server zelf de sterkste cipher suite", ("starttls.cipher_volgorde",),
       "Biedt een server suites van verschillende sterkte, dan dwingt hij zijn eigen volgorde af; anders "
       "waarschuwt de toets (zoals internet.nl)."),
    _r("B05", "gebruikt elk adres voor de sleuteluitwisseling alleen groepen die het NCSC {oordelen} noemt",
       ("starttls.sleuteluitwisseling",),
       "X25519, X448 en P-256/384/521 slagen; ffdhe- en eigen DH-groepen van minstens 3072 bits waarschuwen "
       "(uitfaseren), kleinere falen.",
       drempels={"oordelen": _passing_ratings()}),
    _r("B05", "gebruikt geen enkel adres TLS-compressie", ("starttls.compressie",),
       "TLS-compressie maakt de verbinding kwetsbaar voor CRIME."),
    _r("B05", "ondersteunt elk adres secure renegotiation", ("starttls.secure_renegotiation",),
       "Zonder secure renegotiation (RFC 5746) is renegotiation onveilig."),
    _r("B05", "weigert elk adres renegotiation die de client start", ("starttls.client_renegotiation",),
       "Door de client gestarte renegotiation geeft kans op denial of service (NCSC: onvoldoende); die faalt."),
    _r("B05", "heeft elk certificaat een ECDSA- of EdDSA-sleutel of RSA van minstens {rsa_bits:d} bits",
       ("starttls.certificaat_sleutel",),
       f"RSA van {ncsc.RSA_PHASE_OUT_BITS} tot de grens waarschuwt (NCSC: uitfaseren), korter faalt; ECDSA alleen "
       "op P-256, P-384 of P-521.",
       drempels={"rsa_bits": ncsc.RSA_GOOD_BITS}),
    _r("B05", "is elk certificaat ondertekend met {hash} of sterker", ("starttls.certificaat_handtekening",),
       "Een handtekening met SHA-1, SHA-224 of MD5 is niet meer te vertrouwen (NCSC: onvoldoende) en faalt.",
       drempels={"hash": _weakest_signature_hash()}),
    _r("B05", "noemt het verslag ter informatie extended master secret en het vertrouwen in het certificaat",
       ("starttls.extended_master_secret", "starttls.certificaat_vertrouwen"),
       "Extended master secret (RFC 7627) is aanbevolen, geen eis; of het certificaat van een vertrouwde CA is en "
       "de naam past, beslist voor mail DANE (B06). Beide staan ter informatie in het verslag."),
    # --- B06 DANE -------------------------------------------------------------------------------
    _r("B06", "zijn alle MX-hosts op DANE getoetst (hoogstens {max_mx:d} MX-hosts)", ("dane.mx", "dane.mx_aantal"),
       "Het domein heeft MX-hosts om te toetsen, en niet meer dan de grens (op voorkeur); anders is (de rest) "
       "niet testbaar.",
       drempels={"max_mx": _dns.MAX_MX}, optioneel=("dane.mx", "dane.mx_aantal")),
    _r("B06", "heeft elke MX-host een met DNSSEC beveiligd TLSA-record met usage {usages}", ("dane.tlsa",),
       "Op _25._tcp.<mx-host> staat in een ondertekende zone minstens één bruikbaar TLSA-record; usage 0 en 1 "
       "(PKIX) tellen voor SMTP niet (RFC 7672, 3.1.3), een onbeveiligd of bogus TLSA-record ook niet.",
       drempels={"usages": _DANE_USAGES}),
    _r("B06", "past elk certificaat dat een MX-host presenteert bij een TLSA-record", ("dane.overeenkomst",),
       "Elke certificaatketen die een adres laat zien (per sleuteltype en TLS-versie) komt overeen met een "
       "TLSA-record van die host; anders weigert een DANE-verzender de bezorging."),
    _r("B06", "heeft elke MX-host een reserve-TLSA-record voor een sleutelwissel", ("dane.rollover",),
       "Een tweede bruikbaar record (voor de volgende sleutel, of DANE-TA voor de CA) voorkomt dat een "
       "certificaatwissel de bezorging onderbreekt; zonder reserve waarschuwt de toets."),
)
