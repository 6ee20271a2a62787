"""The built-in national keten (``landelijk``), generated from the public data
in ketentest/data (gemeenten, veiligheidsregio's, PC4 -> gemeente).

    keten_data(25)      one meldpunt per veiligheidsregio (``landelijk``)
    keten_data(100)     about a hundred meldpunten (``landelijk-100``)
    keten_yaml(n)       the same as a keten file (docs/keten-formaat.md)

Every gemeente lies in exactly one meldpunt's werkgebied. With more meldpunten
than veiligheidsregio's, each extra meldpunt goes to the veiligheidsregio whose
meldpunten now cover the most gemeenten on average; a region's gemeenten are
ordered by their median PC4 (a proxy for neighbouring) and cut into consecutive
groups of near-equal size. Everything is deterministic: no randomness.
Assumptions and data dates: docs/landelijk.md.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from ketentest import referentie
from ketentest.errors import KetenConfigError

NAAM = "landelijk"
#: The names ``builtin_ketens()`` lists; ``landelijk-<n>`` works for any n in range.
INGEBOUWD = ("landelijk", "landelijk-100")
_NAME = re.compile(r"^landelijk(?:-(?P<n>.*))?$")
_HINT = ("kies 'landelijk' (één meldpunt per veiligheidsregio), 'landelijk-100', of 'landelijk-<aantal>' "
         "met een aantal meldpunten van {lo} tot en met {hi}")

POLITIE_DOMEIN = "politie.test"
AANNAMES = {"max_pdf_mb": 10, "bevestiging_minuten": 15, "terugkoppeling_werkdagen": 5, "herhalen_uren": 24,
            "onbestelbaar_melden_minuten": 15}
DNS = {"root": "127.53.0.1", "resolver": "127.53.53.53", "tld": {"test": "127.53.0.2"}}
#: Second octet of a slot's addresses: DNS server 127.53.<slot>.1, mail hosts
#: 127.60.<slot>.x as in the pilot; slots past 255 continue in 127.55 / 127.61.
_DNS_NET, _MAIL_NET = (53, 55), (60, 61)


@dataclass(frozen=True)
class Groep:
    """One meldpunt's werkgebied: (part of) one veiligheidsregio."""

    veiligheidsregio: str  # VR01..VR25
    vr_naam: str
    deel: int  # 1-based; 0 when the region is one group
    delen: int
    gemeenten: tuple[str, ...]  # CBS codes, in postcode order

    @property
    def slug(self) -> str:
        base = slug(self.vr_naam)
        return f"{base}-{self.deel}" if self.deel else base

    @property
    def kern(self) -> str:
        """The gemeente with the most PC4 areas (a proxy for the largest)."""
        return max(self.gemeenten, key=lambda c: (len(_pc4s()[c]), -self.gemeenten.index(c)))


def slug(text: str) -> str:
    """'Noord- en Oost-Gelderland' -> 'noord-en-oost-gelderland', 'Fryslân' -> 'fryslan'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@cache
def _pc4s() -> dict[str, tuple[str, ...]]:
    """gemeentecode -> its PC4s, ascending. Reads only the first two columns
    (cheaper than referentie.postcodegebieden(): every party process loads this)."""
    out: dict[str, list[str]] = {}
    text = resources.files("ketentest.data").joinpath("pc4_gemeente.csv").read_text(encoding="utf-8")
    for line in sorted(text.splitlines()[1:]):
        pc4, code = line.split(",", 2)[:2]
        out.setdefault(code, []).append(pc4)
    return {code: tuple(v) for code, v in out.items()}


@cache
def _regions() -> dict[str, tuple[str, ...]]:
    """VR code -> its gemeenten ordered by median PC4 (then code)."""
    pc4s = _pc4s()
    regions: dict[str, list[str]] = {}
    for g in referentie.gemeenten().values():
        regions.setdefault(g.veiligheidsregio, []).append(g.code)

    def key(code: str) -> tuple[str, str]:
        own = pc4s.get(code, ("9999",))
        return own[(len(own) - 1) // 2], code

    return {vr: tuple(sorted(codes, key=key)) for vr, codes in sorted(regions.items())}


def grenzen() -> tuple[int, int]:
    """The allowed numbers of meldpunten: one per veiligheidsregio up to one per gemeente."""
    return len(_regions()), len(referentie.gemeenten())


def verdeling(aantal: int) -> dict[str, int]:
    """Meldpunten per veiligheidsregio: one each, then each extra one to the
    region with the most gemeenten per meldpunt (ties: lowest VR code)."""
    regions = _regions()
    lo, hi = grenzen()
    if not lo <= aantal <= hi:
        raise ValueError(f"aantal {aantal} buiten {lo}..{hi}")
    parts = {vr: 1 for vr in regions}
    for _ in range(aantal - lo):
        # Compare n_a/k_a with n_b/k_b exactly (cross-multiplied), no floats.
        best = None
        for vr in regions:
            if parts[vr] >= len(regions[vr]):
                continue
            if best is None or len(regions[vr]) * parts[best] > len(regions[best]) * parts[vr]:
                best = vr
        parts[best] += 1
    return parts


def groepen(aantal: int) -> tuple[Groep, ...]:
    """The werkgebieden of ``aantal`` meldpunten, in VR order."""
    gemeenten = referentie.gemeenten()
    parts = verdeling(aantal)
    out = []
    for vr, codes in _regions().items():
        k = parts[vr]
        size, extra = divmod(len(codes), k)
        start = 0
        for i in range(k):
            end = start + size + (1 if i < extra else 0)
            out.append(Groep(vr, gemeenten[codes[0]].veiligheidsregio_naam, i + 1 if k > 1 else 0, k,
                             tuple(codes[start:end])))
            start = end
    return tuple(out)


def _ip(net: tuple[int, int], slot: int, host: int) -> str:
    second = net[0] if slot < 256 else net[1]
    return f"127.{second}.{slot % 256}.{host}"


def _maildomein(domain: str, slot: int, dkim: list[dict]) -> dict:
    return {
        "naam": domain,
        "dns": _ip(_DNS_NET, slot, 1),
        "dnssec": True,
        "mx": [{"host": f"mx1.{domain}", "ip": _ip(_MAIL_NET, slot, 25), "voorkeur": 10}],
        "verzenders": [{"host": f"{'postkantoor' if domain == POLITIE_DOMEIN else 'uit'}.{domain}",
                        "ip": _ip(_MAIL_NET, slot, 10)}],
        "spf": "auto",
        # The police align strictly, as in the pilot.
        "dmarc": f"v=DMARC1; p=reject; {'adkim=s; aspf=s; ' if domain == POLITIE_DOMEIN else ''}"
                 f"rua=mailto:dmarc@{domain}",
        "dkim": dkim,
        "tlsa": ["3 1 1", "2 0 1"],
    }


def _meldpunt(groep: Groep, index: int) -> dict:
    domain = f"mp-{groep.slug}.test"
    # Every meldpunt signs with RSA 3072 (2048 draws a B03 warning); every
    # other one also with Ed25519, like the pilot's mix.
    dkim = [{"selector": "mp2026r", "type": "rsa", "bits": 3072}]
    if index % 2:
        dkim.insert(0, {"selector": "mp2026e", "type": "ed25519"})
    naam = f"Meldpunt niet-acute zorg {groep.vr_naam}"
    if groep.deel:
        kern = referentie.gemeenten()[groep.kern].naam
        naam += f", deel {groep.deel} van {groep.delen} ({kern} e.o.)"
    return {
        "id": f"meldpunt-{groep.slug}",
        "naam": naam,
        "adres": f"meldpunt@{domain}",
        "werkgebied": ({"veiligheidsregio": [groep.veiligheidsregio]} if not groep.deel
                       else {"gemeenten": list(groep.gemeenten)}),
        "maildomein": _maildomein(domain, index + 2, dkim),
    }


def keten_naam(aantal: int) -> str:
    return NAAM if aantal == grenzen()[0] else f"{NAAM}-{aantal}"


def keten_data(aantal: int | None = None) -> dict:
    """The keten as parse_keten reads it (a mapping), for ``aantal`` meldpunten
    (default: one per veiligheidsregio)."""
    lo, hi = grenzen()
    aantal = lo if aantal is None else aantal
    if isinstance(aantal, bool) or not isinstance(aantal, int) or not lo <= aantal <= hi:
        raise KetenConfigError(f"{NAAM}-{aantal}", "(aantal meldpunten)",
                               f"een landelijke keten heeft {lo} tot en met {hi} meldpunten, niet {aantal!r}",
                               _HINT.format(lo=lo, hi=hi))
    per_vr = "één meldpunt per veiligheidsregio" if aantal == lo else (
        f"{aantal} meldpunten: elke veiligheidsregio in groepen van aangrenzende gemeenten (postcodevolgorde)")
    return {
        "keten": keten_naam(aantal),
        "beschrijving": (f"Landelijke keten, gegenereerd uit de openbare gegevens van het project: de politie met "
                         f"één maildomein en {per_vr}; elke gemeente bij precies één meldpunt. Gemeentelijke "
                         f"indeling 1 januari 2025, veiligheidsregio's naar een bron uit 2023, postcodes (PC4) "
                         f"naar CBS 1 augustus 2024. Aanname, geen echte meldpunten (docs/landelijk.md)."),
        "aannames": dict(AANNAMES),
        "dns": {**DNS, "tld": dict(DNS["tld"])},
        "politie": {
            "id": "politie",
            "naam": "Politie Nederland - landelijk digitaal postkantoor",
            "adres": f"postkantoor@{POLITIE_DOMEIN}",
            "maildomein": _maildomein(POLITIE_DOMEIN, 1, [{"selector": "pol2026e", "type": "ed25519"},
                                                          {"selector": "pol2026r", "type": "rsa", "bits": 3072}]),
        },
        "meldpunten": [_meldpunt(g, i) for i, g in enumerate(groepen(aantal))],
    }


def keten_yaml(aantal: int | None = None) -> str:
    """The generated keten as a keten file, to read or edit."""
    data = keten_data(aantal)
    head = (f"# Keten {data['keten']}: gegenereerd door ketentest/landelijk.py uit ketentest/data\n"
            f"# (gemeenten.csv, pc4_gemeente.csv). Aannames en peildata: docs/landelijk.md.\n"
            f"# Formaat: docs/keten-formaat.md. Alle namen onder .test, alle adressen op loopback.\n")
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
    return head + _WERKGEBIED.sub(_with_names, body)


_WERKGEBIED = re.compile(r"(?P<key>gemeenten|veiligheidsregio): \[(?P<codes>[A-Z0-9,\s]*)\]")


def _with_names(match: re.Match) -> str:
    """A werkgebied line with the names as a comment, for whoever edits the file."""
    codes = match["codes"].replace(",", " ").split()
    gemeenten = referentie.gemeenten()
    if match["key"] == "gemeenten":
        names = ", ".join(gemeenten[c].naam for c in codes)
    else:
        names = ", ".join(f"{gemeenten[min(referentie.gemeenten_in_veiligheidsregio(vr))].veiligheidsregio_naam} "
                          f"({len(referentie.gemeenten_in_veiligheidsregio(vr))} gemeenten)" for vr in codes)
    return f"{match[0]}  # {names}"


def aantal_uit_naam(name: str) -> int | None:
    """``landelijk`` -> the default, ``landelijk-<n>`` -> n; None if the name is
    no landelijke keten; KetenConfigError if it is one, malformed."""
    match = _NAME.match(name)
    if not match:
        return None
    lo, hi = grenzen()
    raw = match["n"]
    if raw is None:
        return lo
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
        raise KetenConfigError(name, "(keten)", f"na 'landelijk-' hoort een aantal meldpunten, geen {raw[:20]!r}",
                               _HINT.format(lo=lo, hi=hi))
    aantal = int(raw)
    if not lo <= aantal <= hi:
        raise KetenConfigError(name, "(keten)", f"een landelijke keten heeft {lo} tot en met {hi} meldpunten, "
                                                f"niet {aantal}", _HINT.format(lo=lo, hi=hi))
    return aantal
