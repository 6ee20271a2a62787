"""Keten files (YAML) to the model in :mod:`ketentest.model`.

Every problem is a :class:`KetenConfigError` naming the file, the key and the
problem; the format is documented in docs/keten-formaat.md.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import reprlib
from importlib import resources
from pathlib import Path
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import yaml

from ketentest import landelijk, policy, referentie
from ketentest.errors import KetenConfigError
from ketentest.model import (
    RESERVED_TLDS,
    Aannames,
    Certificaat,
    Deelnemer,
    DkimKeySpec,
    DnsLayout,
    DsState,
    Echt,
    ExtraRecord,
    Host,
    ImapToegang,
    Keten,
    MailDomain,
    MxHost,
    Rol,
    Signatures,
    Signing,
    TlsaSpec,
    Zone,
)

DEFAULT_KETEN = "midden-nederland"
_HINT = "zie docs/keten-formaat.md voor het formaat van een ketenbestand"
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
#: The local part of an allowlisted address: no spaces, quotes or angle brackets.
_MAILBOX = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$")
#: What an MX host offers, per host or for all of a maildomein's hosts.
_MX_TLS_KEYS = ("certificaat", "tls", "starttls")
_RECORD = re.compile(r"^(?P<name>\S+)\s+(?:(?P<ttl>\d+)\s+)?(?:IN\s+)?(?P<type>[A-Za-z][A-Za-z0-9]*)\s+(?P<rdata>.+)$")

#: A keten file is a few kilobytes; anything above this is a mistake or an attack.
MAX_FILE_BYTES = 1024 * 1024
#: YAML nodes after expanding every alias (the default keten has about 400).
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 50
#: Record types a free record may have, and what their data may point at:
#: addresses must be on loopback, names under a reserved TLD (so nothing leaves the machine).
_ADDRESS_TYPES = {"A", "AAAA"}
_TARGET_FIELDS = {"MX": "exchange", "CNAME": "target", "DNAME": "target", "NS": "target", "PTR": "target",
                  "SRV": "target", "NAPTR": "replacement"}
_DATA_TYPES = {"TXT", "SPF", "TLSA", "SMIMEA", "CAA", "SSHFP", "HINFO", "OPENPGPKEY", "DS", "CDS", "DNSKEY",
               "CDNSKEY", "CERT", "URI"}
RECORD_TYPES = tuple(sorted(_ADDRESS_TYPES | set(_TARGET_FIELDS) | _DATA_TYPES))

_shown = reprlib.Repr()
_shown.maxstring, _shown.maxother, _shown.maxlist, _shown.maxdict, _shown.maxlevel = 60, 60, 4, 4, 2


def shown(value: Any) -> str:
    """A value as it may appear in an error message: short, whatever its size."""
    return _shown.repr(value)


def builtin_ketens() -> list[str]:
    folder = resources.files("ketentest.data").joinpath("ketens")
    files = {p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")}
    return sorted(files | set(landelijk.INGEBOUWD))


def builtin_keten_text(name: str) -> str:
    """A built-in keten as keten-file text: its file, or the generated
    ``landelijk`` keten (ketentest/landelijk.py)."""
    aantal = landelijk.aantal_uit_naam(name)
    if aantal is not None:
        return landelijk.keten_yaml(aantal)
    return resources.files("ketentest.data").joinpath("ketens", f"{name}.yaml").read_text(encoding="utf-8")


def load_keten(source: str | Path | None = None) -> Keten:
    """Load a keten from a file path, or a built-in keten by name (default:
    ``midden-nederland``)."""
    if source is None:
        source = DEFAULT_KETEN
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise KetenConfigError(str(path), "(bestand)", "bestand niet gevonden",
                                   f"geef een bestaand ketenbestand, of een ingebouwde keten: {', '.join(builtin_ketens())}")
        try:
            with path.open("rb") as f:
                raw = f.read(MAX_FILE_BYTES + 1)
        except OSError as e:
            raise KetenConfigError(str(path), "(bestand)", f"niet te lezen: {e.strerror}",
                                   "controleer het pad en de leesrechten") from None
        return parse_keten(decode_keten(raw, str(path)), str(path))
    name = str(source)
    aantal = landelijk.aantal_uit_naam(name)  # landelijk-<n>: generated, no YAML to parse
    if aantal is not None:
        return _Parser(f"ingebouwd:{name}").keten(landelijk.keten_data(aantal))
    if name not in builtin_ketens():
        raise KetenConfigError(name, "(keten)", "geen bestand en geen ingebouwde keten",
                               f"ingebouwde ketens: {', '.join(builtin_ketens())}")
    return parse_keten(builtin_keten_text(name), f"ingebouwd:{name}")


def _too_big(source: str) -> KetenConfigError:
    return KetenConfigError(source, "(bestand)", f"groter dan {MAX_FILE_BYTES // 1024} KB",
                            "een ketenbestand is een paar kilobyte; controleer of dit het goede bestand is")


def decode_keten(raw: bytes, source: str) -> str:
    """The bytes of a keten file as text: at most MAX_FILE_BYTES, UTF-8."""
    if len(raw) > MAX_FILE_BYTES:
        raise _too_big(source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise KetenConfigError(source, f"regel {line}", f"geen geldige UTF-8 (byte {e.start})",
                               "sla het ketenbestand op als UTF-8") from None


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses alias bombs and deep nesting: the document
    may nest MAX_YAML_DEPTH levels and expand to at most MAX_YAML_NODES nodes,
    checked before any Python object is built."""

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise RecursionError  # refused early: PyYAML's scanner is quadratic in flow depth
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_document(self, node):
        expanded_size(node, MAX_YAML_NODES)
        return super().construct_document(node)


class _TooManyNodes(Exception):
    pass


def expanded_size(root: yaml.Node, limit: int) -> int:
    """Number of nodes in ``root`` with every alias written out; raises
    _TooManyNodes above ``limit`` (a recursive alias counts as infinite)."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in busy:
            raise _TooManyNodes
        busy.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                raise _TooManyNodes
        busy.discard(key)
        sizes[key] = total
        return total

    return size(root)


def parse_keten(text: str, source: str = "<tekst>") -> Keten:
    if len(text) > MAX_FILE_BYTES:
        raise _too_big(source)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"regel {mark.line + 1}, kolom {mark.column + 1}" if mark else "(YAML)"
        raise KetenConfigError(source, where, f"geen geldige YAML: {shown(getattr(e, 'problem', None) or str(e))[1:-1]}",
                               _HINT) from None
    except _TooManyNodes:
        nodes = f"{MAX_YAML_NODES:,}".replace(",", ".")
        raise KetenConfigError(source, "(YAML)", f"de ankers en aliassen (&, *) lopen uit tot meer dan {nodes} waarden",
                               "gebruik ankers alleen voor kleine, herhaalde stukken; schrijf de keten verder uit") from None
    except RecursionError:
        raise KetenConfigError(source, "(YAML)", f"meer dan {MAX_YAML_DEPTH} niveaus diep genest",
                               "een ketenbestand heeft maar een paar niveaus") from None
    except (ValueError, OverflowError) as e:  # e.g. a date 2026-13-45, an integer of 5,000 digits
        raise KetenConfigError(source, "(YAML)", f"ongeldige waarde: {shown(str(e))[1:-1]}", _HINT) from None
    return _Parser(source).keten(data)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.addresses: dict[str, str] = {}  # ip -> key that claimed it

    # -- primitives -------------------------------------------------------
    def fail(self, key: str, problem: str, hint: str = _HINT) -> KetenConfigError:
        return KetenConfigError(self.source, key, problem, hint)

    def mapping(self, value: Any, key: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"verwacht een mapping (sleutel: waarde), kreeg {type(value).__name__}")
        unknown = set(map(str, value)) - allowed
        if unknown:
            raise self.fail(f"{key}.{shown(sorted(unknown)[0])[1:-1]}", f"onbekende sleutel; toegestaan: {', '.join(sorted(allowed))}")
        missing = required - set(value)
        if missing:
            raise self.fail(f"{key}.{sorted(missing)[0]}", "ontbreekt (verplicht)")
        return value

    def seq(self, value: Any, key: str) -> list:
        if not isinstance(value, list):
            raise self.fail(key, f"verwacht een lijst, kreeg {type(value).__name__}")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "verwacht een niet-lege tekst")
        return value.strip()

    def integer(self, value: Any, key: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(key, f"verwacht een geheel getal van {lo} tot en met {hi}, kreeg {shown(value)}")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"verwacht true of false, kreeg {shown(value)}")
        return value

    def domain_name(self, value: Any, key: str, real: bool = False) -> str:
        """A domain name; under a reserved TLD unless it belongs to a real
        (``echt``) deelnemer, whose own domain is a real one."""
        name = self.text(value, key).lower().rstrip(".")
        labels = name.split(".")
        if not all(_LABEL.match(label) for label in labels):
            raise self.fail(key, f"{shown(name)} is geen geldige domeinnaam")
        if real:
            if len(labels) < 2:
                raise self.fail(key, f"{shown(name)} is geen volledige domeinnaam",
                                "geef de volledige naam, bijvoorbeeld ggd-voorbeeld.nl")
            return name
        if labels[-1] not in RESERVED_TLDS:
            raise self.fail(key, f"{shown(name)} ligt niet onder een gereserveerd topdomein",
                            f"gebruik een naam onder .{', .'.join(RESERVED_TLDS)}, zodat nooit een echt domein bereikt wordt")
        return name

    def address(self, value: Any, key: str, real: bool = False) -> str:
        """An IPv4 address; on loopback unless it belongs to a real (``echt``)
        deelnemer, whose own hosts have real addresses."""
        text = self.text(value, key)
        try:
            ip = ipaddress.IPv4Address(text)
        except ValueError:
            raise self.fail(key, f"{shown(text)} is geen IPv4-adres") from None
        if real:
            if ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
                raise self.fail(key, f"{text} is geen adres van een host", "geef het adres van de server zelf")
            return text
        if not ip.is_loopback:
            raise self.fail(key, f"{text} ligt niet op loopback",
                            "geef elke gesimuleerde partij een eigen adres in 127.0.0.0/8; verkeer blijft op deze machine")
        return text

    def claim(self, ip: str, key: str) -> None:
        """Each DNS server and host needs its own address (on this machine:
        real hosts elsewhere may share one, e.g. at a hosting party)."""
        if not ipaddress.ip_address(ip).is_loopback:
            return
        if ip in self.addresses and not self.addresses[ip].startswith("dns-shared"):
            raise self.fail(key, f"adres {ip} is al in gebruik bij {self.addresses[ip]}",
                            "geef elke gesimuleerde partij een eigen 127.x.y.z-adres")
        self.addresses[ip] = key

    # -- sections ---------------------------------------------------------
    def keten(self, data: Any) -> Keten:
        top = self.mapping(data, "(ketenbestand)",
                           {"keten", "beschrijving", "aannames", "dns", "politie", "meldpunten", "zones"},
                           {"keten", "politie", "meldpunten"})
        layout = self.dns_layout(top.get("dns", {}))
        politie = self.deelnemer(top["politie"], "politie", Rol.POLITIE)
        meldpunten_raw = self.seq(top["meldpunten"], "meldpunten")
        if not meldpunten_raw:
            raise self.fail("meldpunten", "er is geen enkel meldpunt")
        meldpunten = tuple(self.deelnemer(m, f"meldpunten[{i}]", Rol.MELDPUNT) for i, m in enumerate(meldpunten_raw))
        self.unique([d.id for d in (politie, *meldpunten)], "id")
        self.unique([d.domain.name for d in (politie, *meldpunten)], "maildomein.naam")
        self.disjoint_werkgebieden(meldpunten)
        zones = tuple(self.zone(z, f"zones[{i}]") for i, z in enumerate(self.seq(top.get("zones", []), "zones")))
        keten = Keten(
            naam=self.text(top["keten"], "keten"),
            beschrijving=self.text(top["beschrijving"], "beschrijving") if top.get("beschrijving") else "",
            source=self.source,
            politie=politie,
            meldpunten=meldpunten,
            zones=zones,
            aannames=self.aannames(top.get("aannames", {})),
            dns=layout,
        )
        self.records_inside_zones(keten)
        if any(d.echt is not None for d in keten.deelnemers):
            from ketentest import echt

            echt.remember(keten)  # its allowlists guard every send of this process
        return keten

    def unique(self, values: list[str], key: str) -> None:
        seen = set()
        for v in values:
            if v in seen:
                raise self.fail(key, f"{shown(v)} komt meer dan eens voor", "elke deelnemer heeft een eigen id en maildomein")
            seen.add(v)

    def disjoint_werkgebieden(self, meldpunten: tuple[Deelnemer, ...]) -> None:
        owner: dict[str, str] = {}
        for m in meldpunten:
            for code in sorted(m.werkgebied):
                if code in owner:
                    naam = referentie.gemeenten()[code].naam
                    raise self.fail(f"meldpunten[{m.id}].werkgebied",
                                    f"gemeente {code} ({naam}) hoort ook al bij {owner[code]}",
                                    "een gemeente hoort bij precies één meldpunt")
                owner[code] = m.id

    def aannames(self, raw: Any) -> Aannames:
        a = self.mapping(raw, "aannames", {"max_pdf_mb", "bevestiging_minuten", "terugkoppeling_werkdagen",
                                           "herhalen_uren", "onbestelbaar_melden_minuten"})
        d = Aannames()
        return Aannames(
            max_pdf_bytes=self.integer(a.get("max_pdf_mb", d.max_pdf_bytes // 2**20), "aannames.max_pdf_mb", 1, 1000) * 2**20,
            bevestiging_minuten=self.integer(a.get("bevestiging_minuten", d.bevestiging_minuten), "aannames.bevestiging_minuten", 1, 10_000),
            terugkoppeling_werkdagen=self.integer(a.get("terugkoppeling_werkdagen", d.terugkoppeling_werkdagen), "aannames.terugkoppeling_werkdagen", 1, 100),
            herhalen_uren=self.integer(a.get("herhalen_uren", d.herhalen_uren), "aannames.herhalen_uren", 1, 1000),
            onbestelbaar_melden_minuten=self.integer(a.get("onbestelbaar_melden_minuten", d.onbestelbaar_melden_minuten), "aannames.onbestelbaar_melden_minuten", 1, 10_000),
        )

    def dns_layout(self, raw: Any) -> DnsLayout:
        d = self.mapping(raw, "dns", {"root", "resolver", "tld"})
        root = self.address(d.get("root", DnsLayout.root_ip), "dns.root")
        resolver = self.address(d.get("resolver", DnsLayout.resolver_ip), "dns.resolver")
        self.claim(root, "dns.root")
        self.claim(resolver, "dns.resolver")
        tlds = []
        for tld, ip in self.mapping(d.get("tld", {}), "dns.tld", set(RESERVED_TLDS)).items():
            ip = self.address(ip, f"dns.tld.{tld}")
            self.claim(ip, f"dns.tld.{tld}")
            tlds.append((tld, ip))
        return DnsLayout(root, resolver, tuple(tlds))

    def werkgebied(self, raw: Any, key: str) -> frozenset[str]:
        w = self.mapping(raw, key, {"gemeenten", "veiligheidsregio", "provincie"})
        codes: set[str] = set()
        known = referentie.gemeenten()
        for i, code in enumerate(self.seq(w.get("gemeenten", []), f"{key}.gemeenten")):
            code = self.text(code, f"{key}.gemeenten[{i}]").upper()
            if code not in known:
                raise self.fail(f"{key}.gemeenten[{i}]", f"onbekende CBS-gemeentecode {shown(code)}",
                                "gebruik een gemeentecode als GM0344 (zie ketentest/data/gemeenten.csv)")
            codes.add(code)
        for i, vr in enumerate(self.seq(w.get("veiligheidsregio", []), f"{key}.veiligheidsregio")):
            found = referentie.gemeenten_in_veiligheidsregio(self.text(vr, f"{key}.veiligheidsregio[{i}]").upper())
            if not found:
                raise self.fail(f"{key}.veiligheidsregio[{i}]", f"onbekende veiligheidsregio {shown(vr)}", "gebruik VR01 tot en met VR25")
            codes |= found
        for i, prov in enumerate(self.seq(w.get("provincie", []), f"{key}.provincie")):
            found = referentie.gemeenten_in_provincie(self.text(prov, f"{key}.provincie[{i}]"))
            if not found:
                raise self.fail(f"{key}.provincie[{i}]", f"onbekende provincie {shown(prov)}")
            codes |= found
        if not codes:
            raise self.fail(key, "het werkgebied is leeg", "noem gemeenten, een veiligheidsregio of een provincie")
        return frozenset(codes)

    def deelnemer(self, raw: Any, key: str, rol: Rol) -> Deelnemer:
        allowed = {"id", "naam", "adres", "maildomein", "echt"} | ({"werkgebied"} if rol is Rol.MELDPUNT else set())
        required = {"id", "naam", "adres", "maildomein"} | ({"werkgebied"} if rol is Rol.MELDPUNT else set())
        d = self.mapping(raw, key, allowed, required)
        ident = self.text(d["id"], f"{key}.id")
        real = "echt" in d
        if real and not isinstance(d["echt"], dict):
            raise self.fail(f"{key}.echt", f"verwacht een mapping met toegestane_adressen, kreeg {type(d['echt']).__name__}",
                            "zie 'Echte deelnemers' in docs/keten-formaat.md; laat echt weg voor een gesimuleerde deelnemer")
        domain = self.maildomein(d["maildomein"], f"{key}.maildomein", real=real)
        adres = self.text(d["adres"], f"{key}.adres").lower()
        local, _, at_domain = adres.partition("@")
        if not local or at_domain != domain.name:
            raise self.fail(f"{key}.adres", f"{shown(adres)} is geen adres in het maildomein {domain.name}")
        werkgebied = self.werkgebied(d["werkgebied"], f"{key}.werkgebied") if rol is Rol.MELDPUNT else frozenset()
        echt = self.echt(d["echt"], f"{key}.echt", domain.name, adres) if real else None
        return Deelnemer(ident, self.text(d["naam"], f"{key}.naam"), rol, adres, domain, werkgebied, echt)

    def mail_address(self, value: Any, key: str, domain: str) -> str:
        """A mailbox address in ``domain`` (or a subdomain of it), lower case."""
        adres = self.text(value, key).lower()
        local, at, at_domain = adres.rpartition("@")
        if not at or not _MAILBOX.match(local) or not all(_LABEL.match(label) for label in at_domain.split(".")):
            raise self.fail(key, f"{shown(adres)} is geen e-mailadres", "schrijf een adres als meldpunt@ggd-voorbeeld.nl")
        if at_domain != domain and not at_domain.endswith("." + domain):
            raise self.fail(key, f"{shown(adres)} ligt niet in het maildomein {domain} van deze deelnemer",
                            "zet alleen adressen van deze deelnemer zelf op toegestane_adressen")
        return adres

    def file_name(self, value: Any, key: str) -> str:
        """A file name, relative to the keten file's folder when that is a file."""
        name = self.text(value, key)
        path = Path(name).expanduser()
        if not path.is_absolute() and not self.source.startswith(("ingebouwd:", "<")):
            path = Path(self.source).parent / path
        return str(path)

    def echt(self, raw: Any, key: str, domain: str, adres: str) -> Echt:
        """``echt``: a real deelnemer; the harness mails only its allowlist."""
        e = self.mapping(raw, key, {"toegestane_adressen", "imap", "max_per_uur", "resolver"}, {"toegestane_adressen"})
        listed = self.seq(e["toegestane_adressen"], f"{key}.toegestane_adressen")
        if not listed:
            raise self.fail(f"{key}.toegestane_adressen", "de lijst is leeg: de ketentest mag deze echte deelnemer dan niets sturen",
                            f"noem minstens het adres van de deelnemer ({adres}); alleen deze adressen krijgen mail")
        allowed = frozenset(self.mail_address(a, f"{key}.toegestane_adressen[{i}]", domain) for i, a in enumerate(listed))
        if adres not in allowed:
            raise self.fail(f"{key}.toegestane_adressen", f"het adres van de deelnemer ({adres}) staat er niet op",
                            "zet het op de lijst, of geef als adres een adres dat er wel op staat: de ketentest "
                            "stuurt een echte deelnemer alleen mail op toegestane adressen")
        resolver = None
        if e.get("resolver") is not None:
            text = self.text(e["resolver"], f"{key}.resolver")
            try:
                resolver = str(ipaddress.ip_address(text))
            except ValueError:
                raise self.fail(f"{key}.resolver", f"{shown(text)} is geen IP-adres",
                                "geef het adres van een valiterende resolver, of laat resolver weg voor een lokale "
                                "Unbound met het echte root-sleutelanker") from None
        imap = self.imap(e["imap"], f"{key}.imap") if e.get("imap") is not None else None
        return Echt(allowed, imap, self.integer(e.get("max_per_uur", Echt.max_per_uur), f"{key}.max_per_uur", 1, 3600),
                    resolver)

    def imap(self, raw: Any, key: str) -> ImapToegang:
        if isinstance(raw, dict) and "wachtwoord" in raw:
            raise self.fail(f"{key}.wachtwoord", "een wachtwoord hoort niet in het ketenbestand",
                            "zet het wachtwoord in een eigen bestand (alleen leesbaar voor u) en noem dat bestand "
                            "met wachtwoord_bestand")
        m = self.mapping(raw, key, {"host", "ip", "poort", "gebruiker", "wachtwoord_bestand", "map", "ca_bestand"},
                         {"host", "gebruiker", "wachtwoord_bestand"})
        ip = None
        if m.get("ip") is not None:
            text = self.text(m["ip"], f"{key}.ip")
            try:
                ip = str(ipaddress.ip_address(text))
            except ValueError:
                raise self.fail(f"{key}.ip", f"{shown(text)} is geen IP-adres") from None
        return ImapToegang(
            host=self.domain_name(m["host"], f"{key}.host", real=True),
            ip=ip,
            port=self.integer(m.get("poort", ImapToegang.port), f"{key}.poort", 1, 65535),
            gebruiker=self.text(m["gebruiker"], f"{key}.gebruiker"),
            wachtwoord_bestand=self.file_name(m["wachtwoord_bestand"], f"{key}.wachtwoord_bestand"),
            map=self.text(m.get("map", ImapToegang.map), f"{key}.map"),
            ca_bestand=self.file_name(m["ca_bestand"], f"{key}.ca_bestand") if m.get("ca_bestand") is not None else None,
        )

    def hosts(self, raw: Any, key: str, domain: str, mx: bool, real: bool = False) -> tuple:
        out = []
        for i, h in enumerate(self.seq(raw, key)):
            k = f"{key}[{i}]"
            h = self.mapping(h, k, {"host", "ip", "voorkeur", *_MX_TLS_KEYS} if mx else {"host", "ip"}, {"host", "ip"})
            name = self.domain_name(h["host"], f"{k}.host", real)
            ip = self.address(h["ip"], f"{k}.ip", real)
            self.claim(ip, f"{k}.ip")
            if mx:
                out.append(MxHost(name, ip, self.integer(h.get("voorkeur", 10), f"{k}.voorkeur", 0, 65535)))
            else:
                out.append(Host(name, ip))
        return tuple(out)

    def mx_hosts(self, m: dict, key: str, domain: str, real: bool = False) -> tuple[MxHost, ...]:
        """``mx``: the receiving hosts, at least one. ``null_mx: true`` without
        ``mx``: the domain receives no mail (published as ``MX 0 .``, RFC 7505)."""
        if self.boolean(m.get("null_mx", False), f"{key}.null_mx"):
            if m.get("mx"):
                raise self.fail(f"{key}.null_mx", "null_mx: true naast mx-hosts; een null MX moet het enige "
                                "MX-record zijn (RFC 7505)",
                                "laat mx weg voor een domein dat geen mail ontvangt, of zet null_mx op false; een "
                                "bewust ongeldige mix beschrijft u met records: ['@ MX 0 .']")
            return ()
        if "mx" not in m:
            raise self.fail(f"{key}.mx", "ontbreekt (verplicht)",
                            "noem de ontvangende mailservers, of schrijf null_mx: true voor een domein dat geen "
                            "mail ontvangt")
        hosts = self.hosts(m["mx"], f"{key}.mx", domain, mx=True, real=real)
        if not hosts:
            raise self.fail(f"{key}.mx", "de lijst is leeg: zonder MX-host ontvangt het domein geen mail",
                            "noem minstens één {host, ip, voorkeur}, of schrijf null_mx: true (zonder mx) voor "
                            "een domein dat geen mail ontvangt (RFC 7505)")
        return hosts

    def maildomein(self, raw: Any, key: str, real: bool = False) -> MailDomain:
        """A mail domain; ``real``: of a real (``echt``) deelnemer, so its own
        names, addresses and free records need not stay on this machine."""
        allowed = {"naam", "dns", "dnssec", "mx", "verzenders", "spf", "dmarc", "dkim", "tlsa", "records", "null_mx", *_MX_TLS_KEYS}
        m = self.mapping(raw, key, allowed, {"naam", "dns", "verzenders"})
        name = self.domain_name(m["naam"], f"{key}.naam", real)
        dns_ip = self.address(m["dns"], f"{key}.dns", real)
        self.claim(dns_ip, f"{key}.dns")
        mx = self.mx_hosts(m, key, name, real)
        mx = self.mx_tls(m, key, mx)
        senders = self.hosts(m["verzenders"], f"{key}.verzenders", name, mx=False, real=real)
        spf = m.get("spf", "auto")
        if spf == "auto":
            spf = "v=spf1 " + " ".join(f"ip4:{h.ip}" for h in senders) + " -all"
        elif spf is not None:
            spf = self.text(spf, f"{key}.spf")
        dmarc = m.get("dmarc")
        dmarc = None if dmarc is None else self.text(dmarc, f"{key}.dmarc")
        dkim = []
        for i, k in enumerate(self.seq(m.get("dkim", []), f"{key}.dkim")):
            kk = f"{key}.dkim[{i}]"
            k = self.mapping(k, kk, {"selector", "type", "bits"}, {"selector", "type"})
            alg = self.text(k["type"], f"{kk}.type").lower()
            if alg not in ("rsa", "ed25519"):
                raise self.fail(f"{kk}.type", f"onbekend sleuteltype {shown(alg)}", "gebruik rsa of ed25519")
            bits = self.integer(k.get("bits", 2048), f"{kk}.bits", 512, 8192) if alg == "rsa" else 0
            sel = self.text(k["selector"], f"{kk}.selector").lower()
            if not _LABEL.match(sel):
                raise self.fail(f"{kk}.selector", f"{shown(sel)} is geen geldig DNS-label")
            dkim.append(DkimKeySpec(sel, alg, bits))
        tlsa = []
        for i, t in enumerate(self.seq(m.get("tlsa", []), f"{key}.tlsa")):
            parts = t.split() if isinstance(t, str) else []
            if len(parts) != 3 or not all(p.isdigit() and len(p) < 4 for p in parts):
                raise self.fail(f"{key}.tlsa[{i}]", f"{shown(t)} is geen 'usage selector matching' (zoals \"3 1 1\")")
            u, s, mt = map(int, parts)
            if u > 3 or s > 1 or mt > 2:
                raise self.fail(f"{key}.tlsa[{i}]", f"{shown(t)}: usage 0-3, selector 0-1, matching 0-2")
            tlsa.append(TlsaSpec(u, s, mt))
        records = self.records(m.get("records", []), f"{key}.records", name, real)
        signed, signing = self.dnssec(m.get("dnssec", True), f"{key}.dnssec")
        return MailDomain(name, dns_ip, signed, mx, senders, spf, dmarc, tuple(dkim), tuple(tlsa), records, signing)

    def choice(self, value: Any, key: str, allowed: dict[str, Any], what: str) -> Any:
        """One of a fixed set of keten words."""
        if isinstance(value, bool) or str(value) not in allowed:
            raise self.fail(key, f"onbekend(e) {what} {repr(value)[:60]}", f"kies uit: {', '.join(allowed)}")
        return allowed[str(value)]

    def dnssec(self, raw: Any, key: str) -> tuple[bool, Signing]:
        """``dnssec: true|false``, or a mapping: signed, with how (algoritme,
        ds_in_ouder, handtekeningen)."""
        if isinstance(raw, bool):
            return raw, Signing()
        if not isinstance(raw, dict):
            raise self.fail(key, f"verwacht true of false, of een mapping met algoritme, ds_in_ouder en/of "
                                 f"handtekeningen; kreeg {repr(raw)[:60]}")
        d = self.mapping(raw, key, {"algoritme", "ds_in_ouder", "handtekeningen"})
        algorithms = {str(n): n for n in policy.DNSSEC_ALGORITHMS}
        algorithm = self.choice(d.get("algoritme", Signing().algorithm), f"{key}.algoritme", algorithms,
                                "DNSSEC-algoritme")
        ds = d.get("ds_in_ouder", True)
        ds = str(ds).lower() if isinstance(ds, bool) else ds
        ds_words = {"true": DsState.PUBLISHED, "false": DsState.ABSENT, "kapot": DsState.BROKEN}
        return True, Signing(
            algorithm=algorithm,
            ds=self.choice(ds, f"{key}.ds_in_ouder", ds_words, "waarde voor ds_in_ouder"),
            signatures=self.choice(d.get("handtekeningen", "geldig"), f"{key}.handtekeningen",
                                   {s.value: s for s in Signatures}, "waarde voor handtekeningen"),
        )

    def mx_tls(self, m: dict, key: str, hosts: tuple[MxHost, ...]) -> tuple[MxHost, ...]:
        """What each MX host offers: ``certificaat``, ``tls`` and ``starttls``,
        per host or for all of them on the maildomein."""
        out = []
        for i, host in enumerate(hosts):
            raw = m["mx"][i]
            values = {}
            for field, word in (("certificate", "certificaat"), ("tls", "tls"), ("starttls", "starttls")):
                where, value = (f"{key}.mx[{i}].{word}", raw[word]) if word in raw else (f"{key}.{word}", m.get(word))
                if word not in raw and word not in m:
                    continue
                if word == "certificaat":
                    values[field] = self.choice(value, where, {c.value: c for c in Certificaat}, "certificaat")
                elif word == "tls":
                    values[field] = self.choice(value, where, {n: n for n in policy.PROFILES}, "TLS-profiel")
                else:
                    values[field] = self.boolean(value, where)
            out.append(dataclasses.replace(host, **values))
        return tuple(out)

    def records(self, raw: Any, key: str, origin: str, real: bool = False) -> tuple[ExtraRecord, ...]:
        out = []
        for i, line in enumerate(self.seq(raw, key)):
            k = f"{key}[{i}]"
            match = _RECORD.match(self.text(line, k))
            if not match:
                raise self.fail(k, f"{shown(line)} is geen record 'naam [ttl] TYPE gegevens'",
                                "bijvoorbeeld: \"_dmarc 3600 TXT 'v=DMARC1; p=reject'\"; '@' is de zone zelf")
            owner = match["name"].lower()
            if owner == "@":
                owner = origin
            elif owner.endswith("."):
                owner = owner.rstrip(".")
            else:
                owner = f"{owner}.{origin}" if origin else owner
            ttl = match["ttl"] or "3600"
            if len(ttl) > 10 or int(ttl) > 2**31 - 1:
                raise self.fail(k, f"TTL {shown(ttl)} is te groot", "een TTL is hoogstens 2147483647 seconden (RFC 2181)")
            rdtype_text = match["type"].upper()
            try:
                rdtype = dns.rdatatype.from_text(rdtype_text)
                rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, match["rdata"], origin=dns.name.from_text(origin or "."))
            except Exception as e:  # dnspython raises many kinds of syntax errors
                raise self.fail(k, f"ongeldig {shown(rdtype_text)[1:-1]}-record: {shown(str(e))[1:-1]}") from None
            self.record_data(rdata, k, dns.name.from_text(origin or "."), real)
            out.append(ExtraRecord(owner, int(ttl), dns.rdatatype.to_text(rdtype), rdata.to_text()))
        return tuple(out)

    def record_data(self, rdata: dns.rdata.Rdata, key: str, origin: dns.name.Name, real: bool = False) -> None:
        """What a free record points at stays on this machine, like the profile:
        addresses on loopback (A: 127.0.0.0/8, AAAA: only ::1), names under a
        reserved TLD; a null MX or SRV target "." is allowed."""
        rdtype = dns.rdatatype.to_text(rdata.rdtype)
        if real and (rdtype in _ADDRESS_TYPES or rdtype in _TARGET_FIELDS):
            return  # a real deelnemer's own zone points at its real hosts
        if rdtype in _ADDRESS_TYPES:
            ip = ipaddress.ip_address(rdata.address)
            if not ip.is_loopback:
                raise self.fail(key, f"{rdtype}-record naar {ip}: dat adres ligt niet op loopback",
                                "gebruik een adres in 127.0.0.0/8 (AAAA: alleen ::1); verkeer blijft op deze machine")
        elif rdtype in _TARGET_FIELDS:
            target: dns.name.Name = getattr(rdata, _TARGET_FIELDS[rdtype]).derelativize(origin)
            labels = [label.decode("ascii", "replace").lower() for label in target.labels if label]
            if not labels:
                if rdtype in ("MX", "SRV"):
                    return  # null MX (RFC 7505) / "no service" (RFC 2782)
            elif labels[-1] in RESERVED_TLDS:
                return
            raise self.fail(key, f"{rdtype}-record naar {shown(target.to_text())[1:-1]}: die naam ligt niet onder een "
                                 "gereserveerd topdomein",
                            f"verwijs naar een naam onder .{', .'.join(RESERVED_TLDS)} (bij voorkeur in een zone van "
                            "de keten); alleen MX en SRV mogen '.' zijn")
        elif rdtype not in _DATA_TYPES:
            raise self.fail(key, f"recordtype {rdtype} wordt niet ondersteund in vrije records",
                            f"gebruik een van: {', '.join(RECORD_TYPES)}")

    def zone(self, raw: Any, key: str) -> Zone:
        z = self.mapping(raw, key, {"naam", "dns", "dnssec", "records"}, {"naam", "dns"})
        name = self.domain_name(z["naam"], f"{key}.naam")
        ip = self.address(z["dns"], f"{key}.dns")
        self.claim(ip, f"{key}.dns")
        signed, signing = self.dnssec(z.get("dnssec", True), f"{key}.dnssec")
        return Zone(name, ip, signed, self.records(z.get("records", []), f"{key}.records", name), signing)

    def records_inside_zones(self, keten: Keten) -> None:
        """A record whose owner lies outside every zone can never be served."""
        zones = [z.name for z in keten.all_zones]
        for z in keten.all_zones:
            for r in z.records:
                if not any(r.name == n or r.name.endswith("." + n) for n in zones):
                    raise self.fail(f"records ({r.name})", "record ligt buiten elke zone van de keten",
                                    f"zones: {', '.join(zones)}; gebruik een naam binnen een van die zones")
