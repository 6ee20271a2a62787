"""Synthetic zorgmeldingen: realistic, reproducible, and never about a real person.

``generate_meldingen(keten, seed, n)`` draws ``n`` meldingen from a Faker
(locale nl_NL) seeded with ``seed``: the same seed gives the same meldingen,
byte for byte (with the same Faker version; Faker may change its word lists
between versions).

BSN choice
    Every BSN lies in **999 990 000 - 999 999 999** (the "99999" prefix) and
    passes the elfproef. This prefix is what the test environments of the
    Dutch government use for fictitious persons: the RvIG test persons of the
    BRP proefomgeving and the Haal Centraal BRP test data all have BSNs
    99999xxxx, and the wider test series 9999xxxxx (999 900 006 - 999 999 990)
    is named for chain test environments such as the iWmo/iJw Keten Test
    Omgeving. Our range sits inside both, so a generated BSN can never be a
    real person's. About 909 numbers in the range pass the elfproef, so BSNs
    repeat across larger sets, as they would for persons reported more than
    once. :func:`is_test_bsn` checks both conditions; the generator validates
    every BSN it makes with it. See docs/synthetische-data.md.

Addresses
    Real PC4 postcodes with their gemeente and woonplaats from
    :mod:`ketentest.referentie`; by default only PC4s whose gemeente lies in a
    werkgebied of the keten (``anywhere=True`` draws from the whole country,
    for routing-failure tests). Street names follow common Dutch patterns;
    house numbers, additions and the two PC6 letters are drawn (letters never
    SA, SD or SS). A street + number is therefore plausible, not real.

Officers
    E-mail in the keten's police mail domain (``politie.test``); telephone
    numbers 06-0xxxxxxx: Dutch mobile numbers are issued in 06-1 to 06-5, so
    the 06-0 block should reach nobody (not checked against the current
    number allocations of the ACM).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from functools import cache

from faker import Faker
from faker.providers import BaseProvider

from ketentest import referentie
from ketentest.errors import DataError
from ketentest.melding import Adres, Melder, Melding, Persoon, Risico, elfproef
from ketentest.model import Keten

#: The reserved BSN range (inclusive) for synthetic persons; see the module docstring.
BSN_TEST_RANGE = (999_990_000, 999_999_999)
#: Letters used in the PC6 part; SA, SD and SS are excluded separately.
_PC6_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
INCIDENTCODE = "E33"  # "verward/overspannen persoon" in the police code list
EENHEIDCODE = "PL0900"  # registration prefix of Politie Eenheid Midden-Nederland


def is_test_bsn(bsn: str) -> bool:
    """True if ``bsn`` passes the elfproef and lies in :data:`BSN_TEST_RANGE`."""
    return elfproef(bsn) and BSN_TEST_RANGE[0] <= int(bsn) <= BSN_TEST_RANGE[1]


@cache
def reserved_bsns() -> tuple[str, ...]:
    """Every BSN in the reserved range that passes the elfproef, ascending."""
    return tuple(s for s in (str(i) for i in range(BSN_TEST_RANGE[0], BSN_TEST_RANGE[1] + 1)) if elfproef(s))


def kenmerk_prefix(keten: Keten) -> str:
    """Two capitals from the keten name: midden-nederland -> MN."""
    parts = [p for p in keten.naam.replace("_", "-").split("-") if p and p[0].isalpha()]
    letters = "".join(p[0] for p in parts)[:2] if len(parts) >= 2 else "".join(c for c in keten.naam if c.isalpha())[:2]
    if len(letters) != 2:
        raise DataError(f"uit ketennaam {keten.naam!r} is geen kenmerkvoorvoegsel van twee letters te maken",
                        "geef de keten een naam als midden-nederland")
    return _ascii(letters).upper()


# -- vocabulary ---------------------------------------------------------------
_STRATEN = (
    "Kerkstraat", "Dorpsstraat", "Schoolstraat", "Molenstraat", "Nieuwstraat", "Stationsweg",
    "Julianastraat", "Wilhelminastraat", "Beatrixstraat", "Oranjestraat", "Kastanjelaan",
    "Parallelweg", "Marktplein", "Hoofdstraat", "Emmastraat", "Prins Bernhardlaan",
    "Burgemeester van Nispenstraat", "Dorpsweg", "Kerkweg", "Achterweg", "Brink", "Veldweg",
    "Industrieweg", "Nieuwe Gracht", "Oudegracht", "Lange Nieuwstraat", "Boschstraat",
    "Van Goghstraat", "Rembrandtlaan", "Vondellaan", "Churchilllaan", "Europalaan",
)
_THEMA = (
    "Eiken", "Beuken", "Berken", "Linden", "Iepen", "Wilgen", "Populieren", "Esdoorn", "Hazelaar",
    "Meidoorn", "Vlier", "Rozen", "Tulpen", "Narcissen", "Zonnebloem", "Klaver", "Merel", "Lijster",
    "Zwaluw", "Kievit", "Roodborst", "Reiger", "Havik", "Meeuwen", "Smeden", "Bakkers", "Kuipers",
    "Wevers", "Schilders", "Sweelinck", "Mozart", "Vermeer", "Frans Hals", "Jan Steen", "Mesdag",
)
_SUFFIX = ("straat", "laan", "weg", "hof", "plein", "singel", "erf", "dreef", "pad", "kade")
_SIGNALEN = {
    Risico.GEVAAR_ZELF: ("Betrokkene heeft tegenover agenten geuit niet meer verder te willen leven.",
                         "Familie maakt zich zorgen om uitspraken van betrokkene over zelfdoding."),
    Risico.GEVAAR_ANDEREN: ("Betrokkene dreigde buren iets aan te doen na een ruzie in het portiek.",
                            "Betrokkene liep met een stok te zwaaien naar voorbijgangers."),
    Risico.VERWARD_GEDRAG: ("Betrokkene liep 's nachts verward over straat en wist niet waar hij/zij woonde.",
                            "Melding van buurtbewoners over verward gedrag op het plein."),
    Risico.MIDDELENGEBRUIK: ("Betrokkene was onder invloed en kon niet voor zichzelf zorgen.",
                             "Herhaaldelijk aangetroffen onder invloed van alcohol in de openbare ruimte."),
    Risico.VERWAARLOZING: ("Buren melden stankoverlast uit de woning van betrokkene.",
                           "Bij een controle bleek de woning sterk vervuild."),
    Risico.VEREENZAMING: ("Betrokkene is al weken niet buiten gezien; post stapelt zich op.",
                          "Oudere betrokkene woont alleen en heeft geen contact met familie."),
    Risico.FINANCIEEL: ("Betrokkene vertelt dat de energie is afgesloten wegens schulden.",
                        "Deurwaarder trof betrokkene in zorgwekkende toestand aan."),
    Risico.OVERLAST: ("Aanhoudende geluidsoverlast en ruzies, meerdere meldingen deze maand.",
                      "Betrokkene veroorzaakt overlast in het trappenhuis en belt 's nachts bij buren aan."),
    Risico.WAPENS: ("In de woning werd een mes binnen handbereik aangetroffen.",),
    Risico.KINDEREN: ("Er wonen minderjarige kinderen in het huishouden van betrokkene.",),
}
_SITUATIE = (
    "Bij aankomst trof de politie betrokkene alleen thuis aan.",
    "De woning maakte een rommelige indruk; er lag veel oud eten en afval.",
    "Betrokkene was aanspreekbaar maar gaf wisselende antwoorden.",
    "Een buurvrouw (ca. 70 jaar) vertelde dat het \"al maanden\" niet goed gaat.",
    "Er is geen sprake van een strafbaar feit; wel zijn er duidelijke zorgen.",
    "Betrokkene wil geen hulp van de huisarts maar staat open voor een gesprek.",
    "Familie woont ver weg en heeft weinig zicht op de situatie.",
    "De huisbaas overweegt stappen vanwege een huurachterstand van ruim € 1.200.",
    "Betrokkene zei: 'ik red me wel', maar at volgens eigen zeggen al dagen niet.",
    "Er was eerder contact met het wijkteam; dat contact is verwaterd.",
    "De situatie is niet acuut; de politie vraagt het meldpunt om contact te zoeken.",
    "Betrokkene was rustig en meewerkend tijdens het gesprek – ruim een half uur.",
)
_BASISTEAMS = {
    "GM0344": "Utrecht-Centrum", "GM0307": "Amersfoort", "GM0034": "Almere", "GM0995": "Lelystad",
    "GM0402": "Hilversum", "GM0356": "Nieuwegein", "GM0345": "Veenendaal",
}


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


class ZorgmeldingProvider(BaseProvider):
    """Faker provider for the parts of a zorgmelding; uses the Faker's own seeded random."""

    def reserved_bsn(self) -> str:
        bsn = self.random_element(reserved_bsns())
        if not is_test_bsn(bsn):  # a guard, not a test: never emit a possibly real BSN
            raise DataError(f"gegenereerd BSN {bsn} ligt niet in de testreeks", "meld dit als fout in synth.py")
        return bsn

    def straatnaam(self) -> str:
        if self.generator.random.random() < 0.45:
            return self.random_element(_STRATEN)
        thema, suffix = self.random_element(_THEMA), self.random_element(_SUFFIX)
        return f"{thema}{suffix}"

    def huisnummer_toevoeging(self) -> tuple[int, str]:
        r = self.generator.random
        nummer = int(r.triangular(1, 250, 8))
        roll = r.random()
        toevoeging = ("" if roll < 0.8 else self.random_element(("A", "B", "C", "D")) if roll < 0.93
                      else self.random_element(("bis", "1", "2", "3", "hs", "rd")))
        return nummer, toevoeging

    def pc6(self, pc4: str) -> str:
        while True:
            letters = self.random_element(_PC6_LETTERS) + self.random_element(_PC6_LETTERS)
            if letters not in ("SA", "SD", "SS"):
                return f"{pc4} {letters}"

    def politie_telefoon(self) -> str:
        return "06-0" + "".join(str(self.random_digit()) for _ in range(7))


def generate_meldingen(keten: Keten, seed: int, n: int, *, anywhere: bool = False,
                       jaar: int = 2026, start: int | None = None) -> list[Melding]:
    """``n`` valid synthetic meldingen for ``keten``, reproducible from ``seed``.

    Kenmerken are ``<prefix>-<jaar>-<volgnummer>``, consecutive from ``start``
    (default: drawn from the seed, so runs with other seeds rarely overlap),
    in order of tijdstip. ``anywhere=True`` draws addresses from all of the
    Netherlands instead of the keten's werkgebieden.
    """
    if not isinstance(n, int) or n < 0 or n > 100_000:
        raise DataError(f"aantal meldingen {n!r} is ongeldig", "vraag 0 tot en met 100000 meldingen")
    fake = Faker("nl_NL")
    fake.add_provider(ZorgmeldingProvider)
    fake.seed_instance(seed)
    r = fake.random

    werkgebied = frozenset().union(*(m.werkgebied for m in keten.meldpunten))
    pool = [p for _, p in sorted(referentie.postcodegebieden().items())
            if p.woonplaatsen and (anywhere or p.gemeentecode in werkgebied)]
    if not pool:
        raise DataError(f"keten {keten.naam}: geen postcodegebied in de werkgebieden",
                        "controleer de werkgebieden van de meldpunten in het ketenbestand")
    gemeenten = referentie.gemeenten()
    prefix = kenmerk_prefix(keten)
    first = r.randrange(1, 1_000_001 - n) if start is None else start
    if not 1 <= first <= 999_999 - n + 1:
        raise DataError(f"volgnummer {first} met {n} meldingen past niet in zes cijfers",
                        "kies een start tussen 1 en 999999 - n + 1")

    begin = datetime(jaar, 1, 1)
    minutes_in_year = (datetime(jaar + 1, 1, 1) - begin) // timedelta(minutes=1)
    tijdstippen = sorted(begin + timedelta(minutes=r.randrange(minutes_in_year)) for _ in range(n))
    politie_domein = keten.politie.domain.name

    out = []
    for i, tijdstip in enumerate(tijdstippen):
        gebied = r.choice(pool)
        gemeente = gemeenten[gebied.gemeentecode]
        huisnummer, toevoeging = fake.huisnummer_toevoeging()
        vrouw = r.random() < 0.5
        voornaam = fake.first_name_female if vrouw else fake.first_name_male
        voornamen = " ".join(voornaam() for _ in range(r.choice((1, 1, 2, 2, 3))))
        leeftijd_dagen = r.randrange(18 * 365, 92 * 365)
        risicos = tuple(sorted(r.sample(list(Risico), r.choice((1, 1, 2, 2, 3))), key=list(Risico).index))
        signaal = " ".join(r.choice(_SIGNALEN[x]) for x in risicos[:2])
        zinnen = r.sample(_SITUATIE, r.randrange(2, 7))
        situatie = " ".join(zinnen[:-1]) + ("\n" if r.random() < 0.3 else " ") + zinnen[-1]
        agent_voornaam, agent_achternaam = fake.first_name(), fake.last_name()
        melding = Melding(
            kenmerk=f"{prefix}-{jaar}-{first + i:06d}",
            tijdstip=tijdstip,
            registratienummer=f"{EENHEIDCODE}-{jaar}{r.randrange(1_000_000):06d}",
            incidentcode=INCIDENTCODE,
            persoon=Persoon(
                voornamen=voornamen,
                achternaam=fake.last_name(),
                geboortedatum=tijdstip.date() - timedelta(days=leeftijd_dagen),
                bsn=fake.reserved_bsn(),
                adres=Adres(
                    straat=fake.straatnaam(),
                    huisnummer=huisnummer,
                    toevoeging=toevoeging,
                    postcode=fake.pc6(gebied.pc4),
                    woonplaats=r.choice(gebied.woonplaatsen),
                    gemeentecode=gemeente.code,
                ),
            ),
            signaal=signaal,
            situatie=situatie,
            risicos=risicos,
            op_de_hoogte=r.random() < 0.6,
            melder=Melder(
                naam=f"{agent_voornaam} {agent_achternaam}",
                telefoon=fake.politie_telefoon(),
                email=_email(agent_voornaam, agent_achternaam, politie_domein),
                basisteam="Basisteam " + _BASISTEAMS.get(gemeente.code, gemeente.naam),
            ),
        )
        out.append(melding.validate())
    return out


def _email(voornaam: str, achternaam: str, domein: str) -> str:
    local = _ascii(voornaam[:1] + "." + achternaam).lower()
    local = "".join(c for c in local if c.isalnum() or c == ".")
    return f"{local}@{domein}"



class MeldingPool:
    """Fresh synthetic meldingen (unique kenmerken), handed out one at a time
    for the meldpunt they route to; each is used once."""

    def __init__(self, keten: Keten, seed: int, n: int) -> None:
        self.keten = keten
        self.pool = generate_meldingen(keten, seed, n)

    def voor(self, meldpunt_id: str) -> Melding:
        from ketentest.routering import route

        for i, m in enumerate(self.pool):
            if route(self.keten, m.persoon.adres.postcode).meldpunt.id == meldpunt_id:
                return self.pool.pop(i)
        raise LookupError(f"geen synthetische melding meer voor {meldpunt_id}")
