"""``python -m simulators.rol <role> [args]``: the container image's entry point.

Runs one simulated party by its role (simulators.partijen.ROLES), as if it
were started with ``python -m <module> [args]``. ``gezond`` is the health
check: it asks the party's own control API for ``/status``, using the URL and
token file the party wrote when it became ready (env KETENTEST_GEZONDHEID,
see simulators.process.announce_ready).
"""

from __future__ import annotations

import json
import os
import runpy
import sys

from simulators.partijen import ROLES
from simulators.process import HEALTH_ENV

HEALTH = "gezond"
DESCRIPTIONS = {
    "dns": "de autoritatieve DNS van elke gesimuleerde zone (ondertekend)",
    "resolver": "de valiterende resolver (Unbound) die de partijen gebruiken",
    "politie": "het digitaal postkantoor van de politie",
    "meldpunt": "een meldpunt",
}


def usage() -> str:
    roles = "\n".join(f"  {role:<10} {DESCRIPTIONS.get(role, ROLES[role])}" for role in ROLES)
    return f"""gebruik: python -m simulators.rol <rol> [argumenten van de rol]

Start één gesimuleerde partij van de keten.

rollen:
{roles}
  {HEALTH:<10} gezondheidscontrole: vraagt /status aan de besturings-API van de partij in deze container
             (code 0 als die antwoordt, anders 1)

'<rol> --help' toont de argumenten van een rol.
"""


def health() -> int:
    """0 when the party in this container answers GET /status with 200, else 1."""
    import httpx

    path = os.environ.get(HEALTH_ENV)
    if not path:
        print(f"gezond: {HEALTH_ENV} is niet gezet; geen partij om te controleren", file=sys.stderr)
        return 1
    try:
        with open(path) as f:
            info = json.load(f)
        headers = {}
        if info.get("token_bestand"):
            with open(info["token_bestand"]) as f:
                headers["Authorization"] = f"Bearer {f.read().strip()}"
        response = httpx.get(info["url"].rstrip("/") + "/status", headers=headers, timeout=5.0)
    except FileNotFoundError as e:
        print(f"gezond: nog niet klaar ({e.filename} ontbreekt)", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError, TypeError, httpx.HTTPError) as e:
        print(f"gezond: besturings-API niet bereikbaar ({type(e).__name__}: {e})", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"gezond: {info['url']}/status antwoordde {response.status_code}", file=sys.stderr)
        return 1
    print(f"gezond: {info['url']} antwoordt")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    role, args = argv[0], argv[1:]
    if role == HEALTH:
        return health()
    if role not in ROLES:
        print(f"simulators.rol: onbekende rol {role!r}; kies uit: {', '.join(ROLES)} (of {HEALTH})", file=sys.stderr)
        return 2
    module = ROLES[role]
    # The role module parses sys.argv itself and calls simulators.party.run.
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
