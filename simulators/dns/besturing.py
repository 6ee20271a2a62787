"""The control API of the DNS roles (``dns`` and ``resolver``).

``POST /zones {"actie": ..., <arguments>}`` calls the :class:`ZoneTree` method
of that name with the same arguments (name, rdtype, rdata, rdatas, ttl,
contains, zone_name). The arguments are checked against that method's own
signature and against the zones before anything changes, so a refused
request changes nothing. Used by the ``dns`` role (:mod:`simulators.dns`);
the harness side is :class:`simulators.internet.InternetParties`.
"""

from __future__ import annotations

import inspect
import signal
import threading
import types
import typing
from typing import Any

import dns.exception
import dns.name
import dns.rdatatype

from simulators.control import ApiError, ControlServer, Route, _show
from simulators.dns.zones import Record, ZoneTree
from simulators.process import announce_ready

#: The ZoneTree methods the API offers, in the order docs/besturings-api.md lists them.
ACTIONS = ("replace", "remove", "add", "expire_signatures", "break_ds", "unsign", "reset")
MAX_TTL = 2**31 - 1  # RFC 2181 8
MAX_TEXT = 65535  # one rdata can never be longer on the wire
MAX_LIST = 1000


def _typed(hint: Any, value: Any, name: str) -> Any:
    """``value`` as the annotation ``hint`` (str, int, list[str], X | None) wants it."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
    if hint is str:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ApiError(f"argument {name!r} moet een tekst zijn, kreeg {_show(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TTL:
            raise ApiError(f"argument {name!r} moet een geheel getal van 0 tot en met {MAX_TTL} zijn, "
                           f"kreeg {_show(value)}")
        return value
    if typing.get_origin(hint) is list:
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise ApiError(f"argument {name!r} moet een lijst (hoogstens {MAX_LIST}) zijn, kreeg {_show(value)}")
        (item,) = typing.get_args(hint)
        return [_typed(item, v, f"{name}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"ZoneTree-argument {name} heeft een type dat de API niet kent: {hint}")


def zone_call(tree: ZoneTree, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The checked action and keyword arguments of a ``POST /zones`` body;
    ApiError (nothing changed) if it does not fit the ZoneTree method."""
    action = body.get("actie")
    if action not in ACTIONS:
        raise ApiError(f"onbekende actie {_show(action)}; kies uit: {', '.join(ACTIONS)}")
    method = getattr(ZoneTree, action)
    hints = typing.get_type_hints(method)
    params = list(inspect.signature(method).parameters.values())[1:]  # without self
    given = {k: v for k, v in body.items() if k != "actie"}
    known = [p.name for p in params]
    for name in given:
        if name not in known:
            raise ApiError(f"actie {action}: onbekend argument {_show(name)}; "
                           f"verwacht: {', '.join(known) or 'geen argumenten'}")
    kwargs: dict[str, Any] = {}
    for p in params:
        if p.name in given:
            kwargs[p.name] = _typed(hints[p.name], given[p.name], p.name)
        elif p.default is inspect.Parameter.empty:
            raise ApiError(f"actie {action}: argument {p.name!r} ontbreekt")
    _check_meaning(tree, kwargs)
    return action, kwargs


def _check_meaning(tree: ZoneTree, kwargs: dict[str, Any]) -> None:
    """Names in a zone, known record types, rdata that parses: ZoneTree would
    otherwise store a record first and fail while signing."""
    if "zone_name" in kwargs:
        try:
            origin = dns.name.from_text(kwargs["zone_name"])
        except dns.exception.DNSException as e:
            raise ApiError(f"zone {_show(kwargs['zone_name'])} is geen geldige naam ({e})") from None
        if origin not in tree.zones:
            known = ", ".join(z.label for z in tree.zones.values())
            raise ApiError(f"zone {_show(kwargs['zone_name'])} bestaat niet; zones: {known}")
    if "name" not in kwargs:
        return
    try:
        zone = tree.zone_for(kwargs["name"])
    except dns.exception.DNSException as e:
        raise ApiError(f"naam {_show(kwargs['name'])} is geen geldige DNS-naam ({e})") from None
    except KeyError:
        raise ApiError(f"naam {_show(kwargs['name'])} ligt in geen enkele gesimuleerde zone") from None
    try:
        rdtype = dns.rdatatype.from_text(kwargs["rdtype"])
    except dns.exception.DNSException:
        raise ApiError(f"onbekend recordtype {_show(kwargs['rdtype'])}") from None
    if dns.rdatatype.is_metatype(rdtype) or rdtype in (dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.DNSKEY,
                                                       dns.rdatatype.SOA):
        raise ApiError(f"recordtype {kwargs['rdtype']} maakt de zone zelf (ondertekening); "
                       "kies de fout met expire_signatures, break_ds of unsign")
    rdatas = kwargs.get("rdatas", [kwargs["rdata"]] if "rdata" in kwargs else [])
    for rdata in rdatas:
        try:
            Record(kwargs["name"], kwargs["rdtype"].upper(), rdata).to_rdata(zone.origin)
        except (dns.exception.DNSException, ValueError) as e:
            raise ApiError(f"{kwargs['rdtype']}-gegevens {_show(rdata)} zijn ongeldig ({e})") from None


class ZoneControl:
    """The routes of the ``dns`` role over one ZoneTree."""

    def __init__(self, tree: ZoneTree) -> None:
        self.tree = tree
        self._lock = threading.Lock()  # one change at a time: check, then apply

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/status"): self.status,
            ("GET", "/anker"): lambda params: {"root_hints": self.tree.root_hints(),
                                               "trust_anchor": self.tree.root_trust_anchor()},
            ("POST", "/zones"): self.change,
        }

    def status(self, params: dict) -> dict:
        return {"rol": "dns", "zones": [{"zone": z.label, "ip": z.ip, "ondertekend": z.state.signed}
                                        for z in self.tree.zones.values()]}

    def change(self, body: dict) -> dict:
        with self._lock:
            action, kwargs = zone_call(self.tree, body)
            return {"actie": action, "resultaat": getattr(self.tree, action)(**kwargs)}


def serve_until_stopped(control: ControlServer) -> None:
    """Open the control API, announce readiness, block until SIGTERM/SIGINT."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    with control:
        announce_ready(control.url)
        stop.wait()
