"""The defect catalogue: realistic ways the keten breaks, each a small overlay
on a healthy keten, with the agreements that must then fail.

An entry (ketentest/data/defecten.yaml) says what is broken (``wat``), how it
is injected, and what is expected:

- ``keten``: edits of the keten file, ``pad: waarde``; a path walks mapping
  keys with dots, and picks a meldpunt by id: ``meldpunten.ggd-flevoland.maildomein.dnssec``;
- ``dns``: changes to the running zones (``verloop: <zone>``, ``breek_ds: <zone>``,
  ``vervang: {naam, type, data: [...]}``, ``verwijder: {naam, type}``);
- ``schakelaars``: switches per party (``politie`` or a meldpunt id; a
  meldpunt's mail-server switches under ``mail``);
- ``verwacht``: agreements that must fail, ``B01`` (for any deelnemer) or
  ``B01@ggd-flevoland`` (for that deelnemer only), or several at once,
  ``B01 B06 V02@ggd-flevoland``; ``waarschuwing`` likewise for agreements
  that must warn. A defect's consequences are expected too: a meldpunt whose
  DNS is bogus cannot show any other agreement either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ketentest.afspraken import AFSPRAKEN
from ketentest.config import parse_keten
from ketentest.errors import KetenConfigError
from ketentest.model import Keten


@dataclass(frozen=True)
class Verwachting:
    afspraak: str
    deelnemer: str | None = None  # None: any deelnemer

    @classmethod
    def parse(cls, text: str) -> "Verwachting":
        afspraak, _, deelnemer = str(text).partition("@")
        return cls(afspraak.strip(), deelnemer.strip() or None)

    @classmethod
    def parse_many(cls, text: str) -> list["Verwachting"]:
        """"B01 B06 V02@ggd-flevoland": several agreements for one deelnemer."""
        afspraken, _, deelnemer = str(text).partition("@")
        return [cls(a, deelnemer.strip() or None) for a in afspraken.replace(",", " ").split()]

    def __str__(self) -> str:
        return self.afspraak + (f"@{self.deelnemer}" if self.deelnemer else "")

    def covers(self, afspraak: str, deelnemer: str | None) -> bool:
        return afspraak == self.afspraak and (self.deelnemer is None or self.deelnemer == deelnemer)


@dataclass(frozen=True)
class Defect:
    id: str
    titel: str
    wat: str
    keten: dict[str, Any] = field(default_factory=dict)
    dns: tuple[dict[str, Any], ...] = ()
    schakelaars: dict[str, dict[str, Any]] = field(default_factory=dict)
    verwacht: tuple[Verwachting, ...] = ()
    waarschuwing: tuple[Verwachting, ...] = ()

    @property
    def runtime(self) -> bool:
        return bool(self.dns or self.schakelaars)

    def keten_yaml(self, keten_yaml: str) -> str:
        """The keten file text with this defect's edits."""
        data = yaml.safe_load(keten_yaml)
        for path, value in self.keten.items():
            set_path(data, path, value, self.id)
        data["keten"] = f"{data.get('keten', 'keten')}+{self.id}"
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)

    def apply_to_keten(self, keten_yaml: str, source: str) -> Keten:
        """The keten file with this defect's edits, parsed."""
        return parse_keten(self.keten_yaml(keten_yaml), f"{source} + defect {self.id}")


def set_path(data: Any, path: str, value: Any, defect_id: str) -> None:
    node = data
    parts = path.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            matches = [item for item in node if isinstance(item, dict) and item.get("id") == part]
            if not matches:
                raise KetenConfigError(f"defect {defect_id}", path, f"geen element met id {part!r}")
            if last:
                raise KetenConfigError(f"defect {defect_id}", path, "een pad eindigt niet bij een lijstelement")
            node = matches[0]
            continue
        if not isinstance(node, dict):
            raise KetenConfigError(f"defect {defect_id}", path, f"{'.'.join(parts[:i])} is geen mapping")
        if last:
            node[part] = value  # null stays null: "spf: null" means no SPF record
        else:
            node = node.setdefault(part, {})


@cache
def catalogue() -> dict[str, Defect]:
    text = resources.files("ketentest.data").joinpath("defecten.yaml").read_text(encoding="utf-8")
    entries = yaml.safe_load(text) or []
    out: dict[str, Defect] = {}
    for i, e in enumerate(entries):
        key = f"[{i}] {e.get('id', '?')}"
        missing = {"id", "titel", "wat", "verwacht"} - set(e)
        if missing:
            raise KetenConfigError("defecten.yaml", key, f"ontbreekt: {', '.join(sorted(missing))}")
        d = Defect(
            id=e["id"], titel=e["titel"], wat=e["wat"], keten=e.get("keten") or {},
            dns=tuple(e.get("dns") or ()), schakelaars=e.get("schakelaars") or {},
            verwacht=tuple(v for text in e["verwacht"] for v in Verwachting.parse_many(text)),
            waarschuwing=tuple(v for text in e.get("waarschuwing") or () for v in Verwachting.parse_many(text)),
        )
        for v in (*d.verwacht, *d.waarschuwing):
            if v.afspraak not in AFSPRAKEN:
                raise KetenConfigError("defecten.yaml", key, f"onbekende afspraak {v.afspraak!r}")
        if d.id in out:
            raise KetenConfigError("defecten.yaml", key, "dubbel id")
        out[d.id] = d
    return out


def get(defect_id: str) -> Defect:
    try:
        return catalogue()[defect_id]
    except KeyError:
        raise KetenConfigError("--defect", defect_id, "onbekend defect",
                               f"bekende defecten: {', '.join(catalogue())}") from None


def keten_with_defect(keten_source: str | None, defect_id: str | None, workdir=None) -> Keten:
    """The keten a run uses: the given keten (default midden-nederland) with a
    defect's keten edits, written to a file so the parties' processes load
    the same keten. The same defect gives the same file name and content."""
    from ketentest.config import load_keten

    if not defect_id:
        return load_keten(keten_source)
    return keten_with_overlay(load_keten(keten_source), get(defect_id), workdir)


def keten_with_overlay(keten: Keten, defect: Defect, workdir=None) -> Keten:
    """``keten`` with ``defect``'s keten-file edits (a catalogue defect, or a
    feature's example row), written to a file named after both."""
    import tempfile
    from pathlib import Path

    from ketentest.config import builtin_keten_text, load_keten

    if not defect.keten:
        return keten
    if keten.source.startswith("ingebouwd:"):
        text = builtin_keten_text(keten.source.removeprefix("ingebouwd:"))  # a file, or generated (landelijk)
    else:
        text = Path(keten.source).read_text(encoding="utf-8")
    folder = Path(workdir) if workdir else Path(tempfile.gettempdir()) / "ketentest-defecten"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{keten.naam}+{defect.id}.yaml"
    path.write_text(defect.keten_yaml(text), encoding="utf-8")
    return load_keten(path)


def overlay(keten: Keten, deelnemer_id: str, instelling: str, waarde: str) -> Defect:
    """One setting changed for one deelnemer, as a feature's example row
    writes it (``Voorbeelden``): an ad-hoc defect without expectations.

    ``instelling``: ``maildomein.spf`` (relative to the deelnemer in the
    keten file), ``keten.aannames.max_pdf_mb`` (from the top of the keten
    file) or ``schakelaar.bevestiging_na_minuten`` (a switch of the
    deelnemer's simulator, set on the running keten; a mail-server switch as
    ``schakelaar.mail.perm_failure``). ``waarde``: YAML (``null``, ``false``,
    ``["3 1 1"]``, a text).
    """
    import hashlib

    where = f"voorbeeld {deelnemer_id} {instelling}"
    try:
        deelnemer = keten.deelnemer(deelnemer_id)
    except KeyError:
        raise KetenConfigError(where, deelnemer_id, "onbekende deelnemer",
                               f"kies uit: {', '.join(d.id for d in keten.deelnemers)}") from None
    try:
        value = yaml.safe_load(waarde)
    except yaml.YAMLError as e:
        raise KetenConfigError(where, waarde, f"geen geldige YAML-waarde ({str(e).splitlines()[0]})",
                               'zet tekst met bijzondere tekens tussen aanhalingstekens: "v=spf1 -all"') from None
    digest = hashlib.sha256(f"{deelnemer_id}\0{instelling}\0{waarde}".encode()).hexdigest()[:10]
    is_politie = deelnemer.id == keten.politie.id
    base = dict(id=f"voorbeeld-{digest}", titel=f"{instelling} = {waarde}", wat=f"{deelnemer.naam}: {instelling} = {waarde}")
    head, _, rest = instelling.partition(".")
    if not rest and head in ("schakelaar", "keten"):
        raise KetenConfigError(where, instelling, f"{head}. zonder naam erachter",
                               f"schrijf bijvoorbeeld {head}.{'bevestiging_na_minuten' if head == 'schakelaar' else 'aannames.max_pdf_mb'}")
    if head == "schakelaar":
        nested: Any = value
        for part in reversed(rest.split(".")):
            nested = {part: nested}
        return Defect(**base, schakelaars={"politie" if is_politie else deelnemer.id: nested})
    if head == "keten":
        return Defect(**base, keten={rest: value})
    prefix = "politie" if is_politie else f"meldpunten.{deelnemer.id}"
    return Defect(**base, keten={f"{prefix}.{instelling}": value})


def keten_for_check(keten_source: str | None, defect_id: str | None, warn=None) -> Keten:
    """The keten ``ketentest check --defect`` judges: the defect's keten-file
    overlay. Switches and DNS changes act on a running keten during a scenario
    run; the check does not apply them, and says so on ``warn`` (a stream)."""
    keten = keten_with_defect(keten_source, defect_id)
    if defect_id and warn is not None and get(defect_id).runtime:
        print(f"ketentest check: let op, defect {defect_id} werkt (ook) met schakelaars of DNS-wijzigingen tijdens "
              "een scenariorun; check past alleen de wijzigingen in het ketenbestand toe", file=warn)
    return keten
