"""The one evidence API: everything a report shows as proof goes through here.

Two ways in, both ending in :func:`record`:

- ``attach(name, content, kind)`` for a simulator or a hook that has raw
  evidence (an e-mail, a PDF, an SMTP transcript) while a test runs;
- ``@adapter(SomeResult)`` to turn a typed result into evidence. The report
  plugin calls the adapters after every pytest-bdd step, on the step's
  arguments and on the value it stored in its ``target_fixture``: steps
  themselves never attach anything.

A passing test becomes "waarschuwing" when any of its evidence carries
``verdict="waarschuwing"`` (or ``warn(...)`` was called). Evidence with other
verdicts is shown, but only the test's own pass/fail decides failure.

Outside a running test (no plugin active) ``attach`` only builds the
:class:`Evidence` and returns it. See docs/rapportage.md.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol


class Kind(str, Enum):
    """What an evidence item is; decides its MIME type and how it is shown."""

    EML = "eml"
    PDF = "pdf"
    DNS_JSON = "dns-json"
    SMTP_TRANSCRIPT = "smtp-transcript"
    TLS_JSON = "tls-json"
    CHECK_JSON = "check-json"
    TEXT = "text"

    @property
    def mime(self) -> str:
        return _KIND_INFO[self][0]

    @property
    def extension(self) -> str:
        return _KIND_INFO[self][1]

    @property
    def dutch(self) -> str:
        return _KIND_INFO[self][2]

    @property
    def is_text(self) -> bool:
        return self is not Kind.PDF

    @property
    def is_json(self) -> bool:
        return self.extension == "json"


_KIND_INFO = {
    Kind.EML: ("message/rfc822", "eml", "e-mailbericht"),
    Kind.PDF: ("application/pdf", "pdf", "PDF"),
    Kind.DNS_JSON: ("application/json", "json", "DNS-antwoorden"),
    Kind.SMTP_TRANSCRIPT: ("text/plain", "txt", "SMTP-gesprek"),
    Kind.TLS_JSON: ("application/json", "json", "TLS-gegevens"),
    Kind.CHECK_JSON: ("application/json", "json", "controle-uitslag"),
    Kind.TEXT: ("text/plain", "txt", "tekst"),
}

# The values of ketentest.verdict.Uitslag; only WAARSCHUWING changes an outcome.
VERDICTS = ("geslaagd", "waarschuwing", "gefaald", "niet_testbaar", "informatie")
WAARSCHUWING = "waarschuwing"


@dataclass(frozen=True)
class Evidence:
    """One piece of proof: a name a reader understands, its kind, the bytes,
    and optionally a verdict and a Dutch note (why it matters)."""

    name: str
    kind: Kind
    content: bytes
    verdict: str | None = None
    note: str = ""

    @classmethod
    def of(cls, name: str, content: Any, kind: Kind | str = Kind.TEXT, *,
           verdict: Any = None, note: str = "") -> Evidence:
        """Build from str, bytes, a dict/list, a dataclass or an object with
        ``to_dict()`` (JSON kinds), normalising kind and verdict."""
        kind = _kind(kind)
        return cls(name=str(name), kind=kind, content=_to_bytes(content, kind),
                   verdict=_verdict(verdict), note=str(note or ""))

    @property
    def is_warning(self) -> bool:
        return self.verdict == WAARSCHUWING


def _kind(kind: Kind | str) -> Kind:
    try:
        return Kind(getattr(kind, "value", kind))
    except ValueError:
        known = ", ".join(k.value for k in Kind)
        raise ValueError(f"onbekende soort bewijs {kind!r}; kies uit: {known}") from None


def _verdict(verdict: Any) -> str | None:
    if verdict is None:
        return None
    value = str(getattr(verdict, "value", verdict))
    if value not in VERDICTS:
        raise ValueError(f"onbekend oordeel {verdict!r}; kies uit: {', '.join(VERDICTS)}")
    return value


def jsonable(value: Any) -> Any:
    """Plain JSON data from typed results (to_dict, dataclasses, enums, sets)."""
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _to_bytes(content: Any, kind: Kind) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    if kind.is_json:
        return json.dumps(jsonable(content), indent=2, ensure_ascii=False).encode("utf-8")
    return str(content).encode("utf-8")


class Collector(Protocol):
    """Receives the evidence of the running test (the report plugin)."""

    def add(self, evidence: Evidence) -> None: ...


# The running test's collector. A plain module global on purpose: in-process
# simulators attach from their own threads, which a ContextVar would not reach.
_lock = threading.Lock()
_active: Collector | None = None


def activate(collector: Collector | None) -> None:
    """Used by the report plugin around each test; not for steps."""
    global _active
    with _lock:
        _active = collector


def record(evidence: Evidence) -> Evidence:
    """Hand an evidence item to the running test (if any) and return it."""
    with _lock:
        collector = _active
    if collector is not None:
        collector.add(evidence)
    return evidence


def attach(name: str, content: Any, kind: Kind | str = Kind.TEXT, *,
           verdict: Any = None, note: str = "") -> Evidence:
    """Attach evidence to the running test: to Allure (when active), to
    reports/bewijs/ and to the stuurgroep report.

    ``kind``: eml, pdf, dns-json, smtp-transcript, tls-json, check-json, text.
    ``verdict``: an Uitslag or its value; "waarschuwing" marks a passing test
    as a warning. ``note``: Dutch explanation shown next to it.
    """
    return record(Evidence.of(name, content, kind, verdict=verdict, note=note))


def warn(message: str, *, name: str = "Waarschuwing") -> Evidence:
    """Mark the running test as "waarschuwing" with a Dutch reason."""
    return attach(name, message, Kind.TEXT, verdict=WAARSCHUWING, note=message)


# --- adapters: typed results -> evidence, applied after each step ------------

Adapter = Callable[[Any], Iterable[Evidence]]
_adapters: dict[type, tuple[Adapter, bool]] = {}


def adapter(cls: type, *, many: bool = False) -> Callable[[Adapter], Adapter]:
    """Register ``func(value) -> Iterable[Evidence]`` for values of ``cls``
    (and subclasses) found in a step's fixtures. With ``many=True`` a list or
    tuple of such values reaches the function at once, as a tuple."""

    def register(func: Adapter) -> Adapter:
        _adapters[cls] = (func, many)
        return func

    return register


def _lookup(value: Any) -> tuple[Adapter, bool] | None:
    for klass in type(value).__mro__:
        if klass in _adapters:
            return _adapters[klass]
    return None


def has_adapter(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_lookup(v) is not None for v in value)
    return _lookup(value) is not None


def evidence_for(value: Any) -> list[Evidence]:
    """Evidence for one fixture value: a typed result, or a list/tuple of them."""
    if not isinstance(value, (list, tuple)):
        found = _lookup(value)
        if found is None:
            return []
        func, many = found
        return list(func((value,) if many else value))
    out: list[Evidence] = []
    batches: dict[Adapter, list[Any]] = {}
    for item in value:
        found = _lookup(item)
        if found is None:
            continue
        func, many = found
        if many:
            batches.setdefault(func, []).append(item)
        else:
            out.extend(func(item))
    for func, items in batches.items():
        out.extend(func(tuple(items)))
    return out
