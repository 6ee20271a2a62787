"""python -m simulators.politie --keten K --id POLITIE --data DIR: the police's digitaal postkantoor as its own process."""

from simulators.mailserver.server import MailServer
from simulators.party import Party, parse_args, run
from simulators.politie.postkantoor import Postkantoor


def main() -> None:
    party = Party(parse_args("simulators.politie"))
    postkantoor = Postkantoor(party)
    party.routes.update(postkantoor.routes())
    # The police's own MX receives ontvangstbevestigingen and terugkoppelingen.
    mx = MailServer.for_deelnemer(party.keten, party.deelnemer, party.pki, party.data / "maildir",
                                  on_message=lambda stored: postkantoor.on_message(stored.content),
                                  clock=party.clock.timestamp)
    party.routes[("GET", "/verbindingen")] = lambda p: mx.traces()
    party.stack.enter_context(mx)
    postkantoor.queue.start()
    party.stack.callback(postkantoor.queue.stop)
    party.serve()


if __name__ == "__main__":
    run(main)
