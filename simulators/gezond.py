"""The container health check: ``python -m simulators.gezond`` (docker/Dockerfile
HEALTHCHECK; also ``python -m simulators.rol gezond``).

Exit 0 when the party in this container answers ``GET /status`` on its
control API with 200, else 1 with one Dutch line. It runs every few seconds
in every container, so it imports nothing but the standard library's
socket/json/os (a plain HTTP/1.0 request by hand: httpx or urllib would make
each check cost ten times the CPU).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from urllib.parse import urlsplit

#: Where a party (simulators.process.announce_ready) writes its control URL and token file.
HEALTH_ENV = "KETENTEST_GEZONDHEID"
MAX_REPLY = 4096


def check() -> tuple[bool, str]:
    path = os.environ.get(HEALTH_ENV)
    if not path:
        return False, f"{HEALTH_ENV} is niet gezet; geen partij om te controleren"
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
        url = urlsplit(info["url"])
        token = ""
        if info.get("token_bestand"):
            with open(info["token_bestand"], encoding="ascii") as f:
                token = f.read().strip()
    except FileNotFoundError as e:
        return False, f"nog niet klaar ({e.filename} ontbreekt)"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return False, f"gezondheidsbestand onleesbaar ({type(e).__name__}: {e})"
    request = (f"GET /status HTTP/1.0\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
    try:
        with socket.create_connection((url.hostname, url.port or 80), timeout=5) as s:
            s.sendall(request)
            reply = b""
            while b"\r\n" not in reply and len(reply) < MAX_REPLY:
                chunk = s.recv(MAX_REPLY)
                if not chunk:
                    break
                reply += chunk
    except OSError as e:
        return False, f"besturings-API niet bereikbaar ({type(e).__name__}: {e})"
    status = reply.split(b"\r\n", 1)[0].decode("latin-1")
    if status.split(" ")[1:2] != ["200"]:
        return False, f"{info['url']}/status antwoordde {status or '(niets)'!r}"
    return True, f"{info['url']} antwoordt"


def main() -> int:
    ok, text = check()
    print(f"gezond: {text}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
