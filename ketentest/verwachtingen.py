"""Durable expectations against real deelnemers (issue 15); see docs/echte-deelnemers.md.

Agreements with a real party run on real time: an ontvangstbevestiging within
``bevestiging_minuten`` (V07), a terugkoppeling within
``terugkoppeling_werkdagen`` (V08). A run records what it still expects in a
small file (JSON lines, one :class:`Verwachting` a line, rewritten whole
under a lock with fsync + rename, so a reader never sees half a line from
us); ``ketentest ophalen`` later collects the replies that arrived (from a
pluggable :class:`Bron`: a folder of .eml files, or an IMAP mailbox) and
judges each expectation: voldaan, te laat, nog open or verlopen.

A malformed or truncated file is one :class:`VerwachtingenFout` naming the
file and line; it is never rewritten, so nothing recorded is lost.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import fcntl
import json
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from enum import Enum
from pathlib import Path
from typing import Iterable, Iterator, Protocol

from ketentest.clock import add_werkdagen
from ketentest.errors import KetentestError
from ketentest.mail.compose import KIND_HEADER, MessageKind, read_kenmerk
from ketentest.model import Deelnemer, ImapToegang, Keten

VERSIE = 1
#: A file of expectations is small; anything above this is a mistake.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_REPLY_BYTES = 25 * 1024 * 1024
#: A reply stamped this long before the send still counts (clocks of two machines differ).
KLOKMARGE = dt.timedelta(minutes=5)
_KEYS = {"versie", "kenmerk", "deelnemer", "naam", "domein", "soort", "verzonden", "uiterlijk", "termijn"}


class VerwachtingenFout(KetentestError):
    """The expectations file (or a source of replies) cannot be used."""


class Soort(str, Enum):
    """What the harness expects back."""

    ONTVANGSTBEVESTIGING = "ontvangstbevestiging"  # V07
    TERUGKOPPELING = "terugkoppeling"  # V08


class Oordeel(str, Enum):
    VOLDAAN = "voldaan"
    TE_LAAT = "te laat"
    NOG_OPEN = "nog open"  # nothing yet, deadline not passed
    VERLOPEN = "verlopen"  # nothing, deadline passed

    @property
    def bad(self) -> bool:
        return self in (Oordeel.TE_LAAT, Oordeel.VERLOPEN)


@dataclass(frozen=True)
class Verwachting:
    """One thing a real deelnemer still owes the harness."""

    kenmerk: str
    deelnemer: str  # id
    naam: str
    domein: str  # the reply must come from this mail domain (or a subdomain)
    soort: Soort
    verzonden: dt.datetime  # real time the melding was delivered (UTC)
    uiterlijk: dt.datetime  # deadline, real time (UTC)
    termijn: str  # e.g. "15 minuten", "5 werkdagen"

    @property
    def deadline(self) -> dt.datetime:
        return self.uiterlijk

    def to_json(self) -> str:
        return json.dumps({"versie": VERSIE, "kenmerk": self.kenmerk, "deelnemer": self.deelnemer, "naam": self.naam,
                           "domein": self.domein, "soort": self.soort.value, "verzonden": self.verzonden.isoformat(),
                           "uiterlijk": self.uiterlijk.isoformat(), "termijn": self.termijn}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str, where: str) -> Verwachting:
        def bad(problem: str) -> VerwachtingenFout:
            return VerwachtingenFout(f"{where}: {problem}", _REPAIR)

        try:
            obj = json.loads(line)
        except ValueError:
            raise bad("onvolledig of geen geldige JSON (is het schrijven onderbroken?)") from None
        if not isinstance(obj, dict):
            raise bad("verwacht een JSON-object")
        if obj.get("versie") != VERSIE:
            raise bad(f"onbekende versie {str(obj.get('versie'))[:20]!r}; deze ketentest leest versie {VERSIE}")
        missing = sorted(_KEYS - set(obj))
        if missing:
            raise bad(f"sleutel {missing[0]} ontbreekt")
        if any(not isinstance(obj[k], str) or not obj[k] for k in _KEYS - {"versie"}):
            raise bad("elke waarde behalve versie is een niet-lege tekst")
        try:
            soort = Soort(obj["soort"])
        except ValueError:
            raise bad(f"onbekende soort {obj['soort'][:30]!r}; verwacht ontvangstbevestiging of terugkoppeling") from None
        moments = []
        for key in ("verzonden", "uiterlijk"):
            try:
                moment = dt.datetime.fromisoformat(obj[key])
            except ValueError:
                raise bad(f"{key}: {obj[key][:40]!r} is geen tijdstip (ISO 8601)") from None
            if moment.tzinfo is None:
                raise bad(f"{key}: {obj[key][:40]!r} heeft geen tijdzone")
            moments.append(moment.astimezone(dt.timezone.utc))
        return cls(obj["kenmerk"], obj["deelnemer"], obj["naam"], obj["domein"].lower(), soort, *moments,
                   obj["termijn"])


_REPAIR = ("herstel of verwijder die regel (bijvoorbeeld met een teksteditor) en probeer opnieuw; de ketentest "
           "verandert het bestand niet zolang het fouten bevat, zodat niets verloren gaat")


# --- the file ---------------------------------------------------------------------------


def expectations_for(keten: Keten, deelnemer: Deelnemer, kenmerk: str, verzonden: dt.datetime) -> list[Verwachting]:
    """What a delivered melding to ``deelnemer`` makes the harness expect (V07, V08)."""
    sent = verzonden.astimezone(dt.timezone.utc) if verzonden.tzinfo else verzonden.replace(tzinfo=dt.timezone.utc)
    a = keten.aannames
    werkdagen = _werkdagen_na(sent, a.terugkoppeling_werkdagen)
    common = dict(kenmerk=kenmerk, deelnemer=deelnemer.id, naam=deelnemer.naam, domein=deelnemer.domain.name,
                  verzonden=sent)
    return [
        Verwachting(soort=Soort.ONTVANGSTBEVESTIGING, uiterlijk=sent + dt.timedelta(minutes=a.bevestiging_minuten),
                    termijn=f"{a.bevestiging_minuten} minuten", **common),
        Verwachting(soort=Soort.TERUGKOPPELING, uiterlijk=werkdagen, termijn=f"{a.terugkoppeling_werkdagen} werkdagen",
                    **common),
    ]


def _werkdagen_na(sent: dt.datetime, n: int) -> dt.datetime:
    """Working days are counted on the Dutch calendar (Mon-Fri, no holidays)."""
    try:
        from zoneinfo import ZoneInfo

        local = sent.astimezone(ZoneInfo("Europe/Amsterdam"))
    except Exception:  # no tzdata: count in UTC
        local = sent
    return add_werkdagen(local, n).astimezone(dt.timezone.utc)


def load(path: str | Path) -> list[Verwachting]:
    """Every expectation in the file; VerwachtingenFout (naming file and line)
    if it is missing, unreadable, too big or has a bad line."""
    return _parse(_read(Path(path)), Path(path))


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise VerwachtingenFout(f"{path}: bestand niet gevonden",
                                "geef het verwachtingenbestand dat de run schreef (ketentest run --verwachtingen)") from None
    except OSError as e:
        raise VerwachtingenFout(f"{path}: niet te lezen: {e.strerror}", "controleer het pad en de leesrechten") from None
    if len(raw) > MAX_FILE_BYTES:
        raise VerwachtingenFout(f"{path}: groter dan {MAX_FILE_BYTES // 2**20} MB",
                                "een verwachtingenbestand is klein; controleer of dit het goede bestand is")
    return raw


def _parse(raw: bytes, path: Path) -> list[Verwachting]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise VerwachtingenFout(f"{path}: regel {line}: geen geldige UTF-8", _REPAIR) from None
    out = []
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}: regel {number}"
        if number == len(lines):  # no newline after the last line: it was cut off
            raise VerwachtingenFout(f"{where}: de laatste regel is onvolledig (geen regeleinde; is het schrijven "
                                    f"onderbroken?); de {len(out)} regel(s) ervoor zijn in orde", _REPAIR)
        out.append(Verwachting.from_json(line, where))
    return out


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (several processes may send in one run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record(path: str | Path, new: Iterable[Verwachting]) -> None:
    """Add expectations: the whole file is written to a temporary file,
    fsynced and renamed into place (then the folder is fsynced). A broken
    existing file is left as it is (VerwachtingenFout)."""
    path = Path(path)
    new = list(new)
    with _locked(path):
        old = _read(path) if path.exists() else b""
        _parse(old, path)  # refuse to build on a broken file
        data = old + "".join(v.to_json() + "\n" for v in new).encode("utf-8")
        from simulators.store import write_atomic

        write_atomic(path, data)  # fsync, rename, directory fsync (under the lock: one writer)


def record_sent(path: str | Path, keten: Keten, deelnemer: Deelnemer, kenmerk: str,
                verzonden: dt.datetime) -> list[Verwachting]:
    """Record what a melding delivered to a real meldpunt at ``verzonden``
    (real time) makes the harness expect; returns those expectations."""
    found = expectations_for(keten, deelnemer, kenmerk, verzonden)
    record(path, found)
    return found


# --- sources of replies ----------------------------------------------------------------------


@dataclass(frozen=True)
class Antwoord:
    """A message that arrived: its bytes, when it arrived, and where it is."""

    data: bytes
    moment: dt.datetime  # UTC
    bron: str  # file name or "imap:<map>/<uid>", for evidence


class Bron(Protocol):
    """Where replies are collected from."""

    beschrijving: str

    def antwoorden(self) -> Iterable[Antwoord]: ...


class EmlMap:
    """A folder of messages (``*.eml``, or a Maildir's files), searched
    recursively. When a message arrived: the date of its top ``Received``
    header (the last hop), else its ``Date``, else the file's mtime."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.beschrijving = f"map {self.folder}"

    def antwoorden(self) -> Iterator[Antwoord]:
        if not self.folder.is_dir():
            raise VerwachtingenFout(f"{self.folder}: geen map", "geef een map met berichten (.eml)")
        for path in sorted(self.folder.rglob("*")):
            if not path.is_file() or path.name.startswith(".") or path.stat().st_size > MAX_REPLY_BYTES:
                continue
            if path.suffix != ".eml" and path.parent.name not in ("new", "cur"):
                continue
            data = path.read_bytes()
            yield Antwoord(data, arrival(data) or dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc),
                           str(path.relative_to(self.folder)))


def arrival(data: bytes) -> dt.datetime | None:
    """When a message arrived, from its headers (top Received, else Date)."""
    msg = message_from_bytes(data, policy=policy.compat32)
    for value in (*(msg.get_all("Received") or [])[:1], msg.get("Date")):
        if not value:
            continue
        text = str(value).rpartition(";")[2] if ";" in str(value) else str(value)
        try:
            when = email.utils.parsedate_to_datetime(text.strip())
        except (TypeError, ValueError, IndexError):
            continue
        if when is not None:
            return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
    return None


class ImapBron:
    """A real mailbox over IMAP with TLS (certificate and host name checked),
    read-only: each message with its INTERNALDATE as the arrival moment."""

    def __init__(self, toegang: ImapToegang, timeout: float = 30.0) -> None:
        self.toegang = toegang
        self.timeout = timeout
        self.beschrijving = f"IMAP {toegang.gebruiker}@{toegang.host}:{toegang.port}/{toegang.map}"

    def antwoorden(self) -> Iterator[Antwoord]:
        """Read with ketentest.imap (verified TLS, bounded count and sizes);
        the arrival moment is the server's INTERNALDATE."""
        from ketentest.imap import ImapFout, haal_op, wachtwoord_uit

        t = self.toegang
        try:
            berichten = haal_op(t, wachtwoord_uit(t), timeout=self.timeout)
        except ImapFout as e:
            raise VerwachtingenFout(e.message, e.hint) from None
        for b in berichten:
            moment = b.ontvangen or arrival(b.eml) or dt.datetime.now(dt.timezone.utc)
            yield Antwoord(b.eml, moment, f"imap:{t.map}/{b.uid}")


# --- judging ------------------------------------------------------------------------------------


def reply_kind(msg) -> Soort | None:
    """What a reply is: its X-Berichtsoort, else a subject naming a
    terugkoppeling, else (any other reply quoting a kenmerk, such as an
    automatic answer) an ontvangstbevestiging. A melding itself is none."""
    kind = str(msg.get(KIND_HEADER, "")).strip().lower()
    if kind == MessageKind.MELDING.value:
        return None
    if kind in (s.value for s in Soort):
        return Soort(kind)
    if "terugkoppeling" in str(msg.get("Subject", "")).lower():
        return Soort.TERUGKOPPELING
    return Soort.ONTVANGSTBEVESTIGING


@dataclass(frozen=True)
class Uitslag:
    verwachting: Verwachting
    oordeel: Oordeel
    moment: dt.datetime | None = None  # when the reply arrived
    bewijs: str | None = None  # where it is


def judge(verwachtingen: Iterable[Verwachting], antwoorden: Iterable[Antwoord], now: dt.datetime) -> list[Uitslag]:
    """Each expectation against the replies that arrived, at ``now``."""
    index: dict[tuple[str, Soort], list[tuple[dt.datetime, str, str]]] = {}
    for a in antwoorden:
        msg = message_from_bytes(a.data, policy=policy.default)
        kenmerk = read_kenmerk(msg)
        kind = reply_kind(msg) if kenmerk else None
        if kind is None:
            continue
        sender = email.utils.parseaddr(str(msg.get("From", "")))[1].rpartition("@")[2].lower()
        index.setdefault((kenmerk, kind), []).append((a.moment, sender, a.bron))
    out = []
    for v in verwachtingen:
        fits = sorted((m, bron) for m, sender, bron in index.get((v.kenmerk, v.soort), [])
                      if (sender == v.domein or sender.endswith("." + v.domein)) and m >= v.verzonden - KLOKMARGE)
        if fits:
            moment, bron = fits[0]
            out.append(Uitslag(v, Oordeel.VOLDAAN if moment <= v.uiterlijk else Oordeel.TE_LAAT, moment, bron))
        else:
            out.append(Uitslag(v, Oordeel.NOG_OPEN if now <= v.uiterlijk else Oordeel.VERLOPEN))
    return out


def _fmt(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def table(uitslagen: list[Uitslag]) -> str:
    """A Dutch table, one line per expectation, and a count."""
    rows = [("kenmerk", "deelnemer", "verwacht", "termijn", "uiterlijk", "oordeel", "ontvangen", "bewijs")]
    for u in uitslagen:
        v = u.verwachting
        rows.append((v.kenmerk, v.deelnemer, v.soort.value, v.termijn, _fmt(v.uiterlijk), u.oordeel.value,
                     _fmt(u.moment), u.bewijs or ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    counts = {o: sum(1 for u in uitslagen if u.oordeel is o) for o in Oordeel}
    lines.append("Samen: " + ", ".join(f"{n} {o.value}" for o, n in counts.items()) + ".")
    return "\n".join(lines)


def exit_code(uitslagen: list[Uitslag]) -> int:
    """1 when something is te laat or verlopen, else 0."""
    return 1 if any(u.oordeel.bad for u in uitslagen) else 0


def sources_for(keten: Keten, verwachtingen: list[Verwachting], only: str | None = None) -> list[Bron]:
    """The IMAP mailboxes of the real deelnemers with expectations (or only
    deelnemer ``only``), from their ``echt.imap`` in the keten file."""
    wanted = {v.deelnemer for v in verwachtingen} if only is None else {only}
    out: list[Bron] = []
    for d in keten.deelnemers:
        if d.id in wanted and d.echt is not None and d.echt.imap is not None:
            out.append(ImapBron(d.echt.imap))
        elif only is not None and d.id == only:
            raise VerwachtingenFout(f"deelnemer {only} heeft geen echt.imap in het ketenbestand ({keten.source})",
                                    "voeg een imap-blok toe bij echt, of lees een map met --map")
    if only is not None and not out and only not in {d.id for d in keten.deelnemers}:
        raise VerwachtingenFout(f"onbekende deelnemer {only}", "gebruik het id uit het ketenbestand")
    return out


def ophalen(path: str | Path, bronnen: list[Bron], now: dt.datetime | None = None) -> list[Uitslag]:
    """Load the expectations, collect the replies of every source and judge."""
    found = load(path)
    replies = [a for bron in bronnen for a in bron.antwoorden()]
    return judge(found, replies, now or dt.datetime.now(dt.timezone.utc))
