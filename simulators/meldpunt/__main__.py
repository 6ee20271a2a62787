"""python -m simulators.meldpunt --keten K --id MELDPUNT --data DIR: one meldpunt as its own process."""

from simulators.meldpunt.app import Meldpunt
from simulators.party import Party, parse_args, run


def main() -> None:
    party = Party(parse_args("simulators.meldpunt"))
    meldpunt = Meldpunt(party)
    party.routes.update(meldpunt.routes())
    party.stack.enter_context(meldpunt.mx)
    meldpunt.outbound.start()
    party.stack.callback(meldpunt.outbound.stop)
    party.serve()


if __name__ == "__main__":
    run(main)
