"""python -m simulators.politie --keten K --id POLITIE --data DIR: the police's digitaal postkantoor as its own process."""

from simulators.party import Party, parse_args, run
from simulators.politie.postkantoor import Postkantoor


def main() -> None:
    party = Party(parse_args("simulators.politie"))
    postkantoor = Postkantoor(party)
    party.routes.update(postkantoor.routes())
    party.routes[("GET", "/verbindingen")] = lambda p: postkantoor.mx.traces()
    party.stack.enter_context(postkantoor.mx)
    postkantoor.queue.start()
    party.stack.callback(postkantoor.queue.stop)
    party.serve()


if __name__ == "__main__":
    run(main)
