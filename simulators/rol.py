"""``python -m simulators.rol <role> [args]``: the container image's entry point.

Runs one simulated party by its role (simulators.partijen.ROLES), as if it
were started with ``python -m <module> [args]``. ``gezond`` is the health
check: it asks the party's own control API for ``/status``, using the URL and
token file the party wrote when it became ready (env KETENTEST_GEZONDHEID,
see simulators.process.announce_ready).
"""

from __future__ import annotations

import runpy
import sys

from simulators.partijen import ROLES

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
    from simulators.gezond import main as health_main

    return health_main()


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
