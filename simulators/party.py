"""What every simulated party process shares: its command line, the keten,
the PKI, the keten clock, the resolver, and the clock/status control routes.

A party module's ``__main__`` builds a :class:`Party`, adds its own routes and
services, and calls :meth:`Party.serve`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

from ketentest.clock import KetenClock
from ketentest.config import load_keten
from ketentest.dns import SplitResolver, keten_resolver
from ketentest.errors import KetentestError
from ketentest.model import Deelnemer, Keten
from simulators.control import ApiError, ControlServer, Route, new_token, number, read_token
from simulators import loopback
from simulators.pki import Pki
from simulators.process import announce_ready


MAX_CLOCK_STEP = 10 * 366 * 86400  # seconds
LATEST_KETEN_TIME = 32503680000.0  # 3000-01-01: far from datetime's year 9999


def parse_args(prog: str, argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=f"gesimuleerde partij: {prog}")
    p.add_argument("--keten", required=True, help="ketenbestand of ingebouwde keten")
    p.add_argument("--id", required=True, help="id van de deelnemer in de keten")
    p.add_argument("--data", required=True, type=Path, help="map voor de duurzame gegevens van deze partij")
    p.add_argument("--pki", type=Path, default=None, help="sleutelcache van de gesimuleerde PKI")
    p.add_argument("--control-port", type=int, default=8025, help="poort van de besturings-API")
    p.add_argument("--token-bestand", type=Path, default=None,
                   help="bestand met het geheime token van de besturings-API (standaard: een nieuw token in "
                        "<data>/besturing.token)")
    return p.parse_args(argv)


class Party:
    def __init__(self, args: argparse.Namespace) -> None:
        self.keten: Keten = load_keten(args.keten)
        self.deelnemer: Deelnemer = self.keten.deelnemer(args.id)
        self.data: Path = args.data
        self.data.mkdir(parents=True, exist_ok=True)
        self.pki = Pki(args.pki) if args.pki else Pki()
        self.clock = KetenClock()
        # A hybrid keten: real deelnemers' domains through the live resolver the harness names.
        self.resolver = keten_resolver(self.keten)
        # pyspf and friends use dnspython's default resolver: point it at the keten's Unbound (split likewise).
        from ketentest.mail.auth import use_keten_resolver, use_split_resolver

        if isinstance(self.resolver, SplitResolver):
            live = self.resolver.live
            use_split_resolver((self.keten.dns.resolver_ip, 53), (live.address, live.port), self.resolver.live_domains)
        else:
            use_keten_resolver(self.keten.dns.resolver_ip)
        self.control_ip = self.deelnemer.domain.mx[0].ip
        self.control_port = args.control_port
        if args.token_bestand is not None:
            self.token = read_token(args.token_bestand)
        else:
            self.token, path = new_token(self.data)
            print(f"besturings-API: token in {path}", flush=True)
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "/status"): self.status,
            ("GET", "/klok"): lambda p: {"nu": self.clock.now().isoformat()},
            ("POST", "/klok"): self.move_clock,
        }
        self.stack = ExitStack()

    @property
    def dkim_keys(self) -> list:
        """This party's DKIM keys, one per selector of its mail domain."""
        return [self.pki.dkim_key(self.deelnemer.domain.name, spec) for spec in self.deelnemer.domain.dkim]

    def deliver(self, message: bytes, rcpt: str):
        """Deliver as this party (its address, sending host and clock) over the
        DANE-checked route; returns (outcome, Dutch reason, trace for the API)."""
        from ketentest.delivery import deliver
        from simulators.control import jsonable

        sender = self.deelnemer.domain.senders[0]
        attempt = deliver(message, self.deelnemer.adres, rcpt, resolver=self.resolver, source_ip=sender.ip,
                          helo=sender.name, clock=self.clock)
        return attempt.outcome, attempt.reason, {"beschrijving": attempt.describe(), **jsonable(attempt)}

    def status(self, params: dict) -> dict:
        return {"deelnemer": self.deelnemer.id, "naam": self.deelnemer.naam, "klok": self.clock.now().isoformat()}

    def move_clock(self, params: dict) -> dict:
        """Forward only, at most ten years at a time (the clock stays a valid date)."""
        seconds = number(params.get("vooruit", 0), "vooruit", 0, MAX_CLOCK_STEP)
        if self.clock.timestamp() + seconds > LATEST_KETEN_TIME:
            raise ApiError("de ketenklok gaat niet verder dan het jaar 2999")
        return {"nu": self.clock.advance(seconds).isoformat()}

    def serve(self) -> None:
        """Open the control API, announce readiness, run until SIGTERM/SIGINT."""
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        with self.stack:
            control = self.stack.enter_context(ControlServer(self.control_ip, self.control_port, self.routes, self.token))
            announce_ready(control.url)
            stop.wait()


def run(main) -> None:
    """Process entry: a KetentestError is one clear line on stderr, exit 2.
    From here on nothing in this process connects off this machine."""
    loopback.install()
    try:
        main()
    except KetentestError as e:
        print(f"ketentest: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
