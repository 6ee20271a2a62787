"""Second line of defence: a simulated party never sends traffic off this
machine. The keten file already keeps every address on loopback
(ketentest.config); this audit hook also refuses any socket connect or
sendto to a destination outside 127.0.0.0/8 and ::1, whatever DNS record,
switch or bug led there. Installed once per party process (an audit hook
cannot be removed), never in the harness or the tests' own process.
"""

from __future__ import annotations

import ipaddress
import sys

_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_installed = False


class OffMachineError(PermissionError):
    """A connection to an address off this machine, refused before it was made."""


def destination_problem(address) -> str | None:
    """Why ``address`` (a socket address) is not allowed, or None if it is."""
    if not isinstance(address, tuple) or not address:  # AF_UNIX path, or no destination
        return None
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return None
    if host.lower() in ("localhost", "localhost."):
        return None
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return f"{host} is geen IP-adres op loopback"
    mapped = getattr(ip, "ipv4_mapped", None)
    if ip.is_loopback or (mapped is not None and mapped.is_loopback):
        return None
    return f"{ip} ligt niet op loopback"


def _hook(event: str, args: tuple) -> None:
    if event in _EVENTS and len(args) > 1:
        problem = destination_problem(args[1])
        if problem is not None:
            raise OffMachineError(f"verbinding geweigerd: {problem}; een gesimuleerde partij verbindt alleen "
                                  "met 127.0.0.0/8 of ::1")


def install() -> None:
    """Refuse off-machine destinations in this process from now on."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
