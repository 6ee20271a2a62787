"""Second line of defence (issue 10, point 6): in a party process nothing
connects off this machine, whatever record or bug points there. Each case
runs in a fresh interpreter, because an audit hook cannot be removed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from simulators.loopback import destination_problem


@pytest.mark.parametrize("address, allowed", [
    (("127.60.2.25", 25), True), (("127.0.0.1", 53), True), (("::1", 25, 0, 0), True),
    (("::ffff:127.0.0.1", 25, 0, 0), True), (("localhost", 8025), True), ("/run/socket", True),
    (("10.0.0.1", 25), False), (("192.0.2.7", 25), False), (("2001:db8::1", 25, 0, 0), False),
    (("0.0.0.0", 25), False), (("mail.example.com", 25), False), (("8.8.8.8", 53), False),
])
def test_destination_rule(address, allowed):
    assert (destination_problem(address) is None) is allowed


def run_party(code: str) -> subprocess.CompletedProcess:
    program = "from simulators.party import run\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)


def test_a_party_process_refuses_off_machine_connections():
    done = run_party("""
        import socket, smtplib, time

        def main():
            started = time.monotonic()
            for target in [("10.0.0.1", 25), ("192.0.2.7", 25)]:
                try:
                    socket.create_connection(target, timeout=5)
                except PermissionError as e:
                    print("GEWEIGERD", target[0], e)
            try:
                smtplib.SMTP("10.0.0.1", 25, timeout=5)
            except PermissionError as e:
                print("GEWEIGERD smtp", e)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                udp.sendto(b"x", ("8.8.8.8", 53))
            except PermissionError as e:
                print("GEWEIGERD udp", e)
            try:
                socket.create_connection(("127.0.0.1", 1), timeout=5)
            except ConnectionRefusedError:
                print("LOOPBACK MAG")
            print("SECONDEN", time.monotonic() - started)

        run(main)
    """)
    out = done.stdout
    assert out.count("GEWEIGERD") == 4 and "ligt niet op loopback" in out and "LOOPBACK MAG" in out, done
    assert float(out.split("SECONDEN ")[1]) < 2  # refused at once, no packet waiting for a time-out


def test_the_harness_itself_is_not_guarded():
    done = subprocess.run([sys.executable, "-c", "import simulators.party, socket, sys; "
                           "sys.exit(0 if sys.modules['simulators.loopback']._installed is False else 1)"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
