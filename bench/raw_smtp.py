"""The raw-SMTP baseline of the exchange benchmark: plain SMTP (no TLS, no
DNS, no DKIM/SPF/DMARC, no PDF check, nothing stored) from sender threads in
this process into an aiosmtpd sink in a process of its own, on this machine.
It shows what moving the same bytes costs here without any safeguard.

    sink = Sink("127.0.0.1", 2525).start()
    result = send_all(messages, "127.0.0.1", 2525, senders=4)
    counted = sink.stop()   # {"ontvangen": n, "uniek": n, "bytes": ...}

Each message carries an ``X-Bench-Volgnummer`` header; the sink counts the
distinct numbers, so a lost or doubled message shows.

    python -m bench.raw_smtp --sink 127.0.0.1 2525   (the sink itself)
"""

from __future__ import annotations

import asyncio
import json
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

NUMBER_HEADER = b"X-Bench-Volgnummer"
READY = "SINK KLAAR"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Basislijn:
    aantal: int
    verzonden: int
    fouten: list[str] = field(default_factory=list)
    seconden: float = 0.0
    latenties: list[float] = field(default_factory=list)

    @property
    def per_seconde(self) -> float:
        return self.verzonden / self.seconden if self.seconden else 0.0


def numbered(message: bytes, number: int) -> bytes:
    """``message`` with the sink's counting header in front."""
    return NUMBER_HEADER + b": " + str(number).encode() + b"\r\n" + message


class Sink:
    """The aiosmtpd sink as a child process."""

    def __init__(self, ip: str, port: int) -> None:
        self.ip, self.port = ip, port
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Sink":
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.raw_smtp", "--sink", self.ip, str(self.port)],
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.proc.stdout.readline().strip()
        if line != READY:
            self.proc.kill()
            raise RuntimeError(f"de SMTP-sink startte niet: {line!r}")
        return self

    def stop(self) -> dict:
        """Stop the sink; its tally."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        self.proc = None
        return json.loads(out.strip().splitlines()[-1])


def send_all(messages, ip: str, port: int, senders: int = 4, per_connection: int = 1, progress=None,
             helo: str = "bench.test") -> Basislijn:
    """Send every message over plain SMTP with ``senders`` threads;
    ``per_connection`` messages share one connection (1: a new connection per
    message, as the postkantoor delivers without reuse). ``messages``: a list
    of bytes (already numbered), or (count, make) with make(i) -> bytes, so
    40,000 messages need not be in memory at once."""
    count, make = messages if isinstance(messages, tuple) else (len(messages), messages.__getitem__)
    chunks = [range(i, min(i + per_connection, count)) for i in range(0, count, per_connection)]
    result = Basislijn(count, 0)
    lock = threading.Lock()

    def send(chunk: range) -> None:
        try:
            with smtplib.SMTP(ip, port, local_hostname=helo, timeout=30) as smtp:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for i in chunk:
                    message = make(i)
                    t = time.perf_counter()
                    smtp.sendmail("afzender@bench.test", ["ontvanger@bench.test"], message)
                    with lock:
                        result.latenties.append(time.perf_counter() - t)
                        result.verzonden += 1
                        if progress:
                            progress(result.verzonden)
        except (smtplib.SMTPException, OSError) as e:
            with lock:
                result.fouten.append(f"{type(e).__name__}: {e}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="basislijn") as pool:
        list(pool.map(send, chunks))
    result.seconden = time.perf_counter() - started
    return result


def _serve(ip: str, port: int) -> None:
    from aiosmtpd.smtp import SMTP

    counted = {"ontvangen": 0, "bytes": 0}
    numbers: set[bytes] = set()
    prefix = NUMBER_HEADER + b": "

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            content = envelope.original_content or b""
            counted["ontvangen"] += 1
            counted["bytes"] += len(content)
            if content.startswith(prefix):
                numbers.add(content[len(prefix):content.index(b"\r\n")])
            return "250 OK"

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(Handler(), hostname="sink.bench.test", data_size_limit=64 * 2**20, loop=loop), ip, port))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print(READY, flush=True)
    loop.run_forever()
    server.close()
    print(json.dumps({**counted, "uniek": len(numbers)}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--sink":
        _serve(sys.argv[2], int(sys.argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
