"""Each pytest-xdist worker in its own network namespace (issue 14, point 4):
two workers can bind the same 127.x.y.z address, and a container test goes
back to the host's loopback for its duration."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from simulators import netns

pytestmark = pytest.mark.skipif(not netns.available(), reason="een eigen netwerknamespace vraagt root en iproute2")

PROBE = textwrap.dedent("""
    import os, socket
    from simulators import netns
    host = netns.current()
    own = netns.enter_own()
    s = socket.create_server(("127.53.0.1", 5353))   # the same address in every process: no clash
    with netns.host_network():
        back = netns.current()
    print(host != own, back == host, netns.current() == own, os.readlink("/proc/self/ns/net") != host)
""")


def test_a_worker_binds_the_same_address_as_another_in_its_own_namespace():
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    first = subprocess.Popen([sys.executable, "-c", PROBE + "\nimport time; time.sleep(0.5)"], env=env,
                             stdout=subprocess.PIPE, text=True)
    second = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    out, _ = first.communicate(timeout=60)
    assert second.returncode == 0 and first.returncode == 0, second.stderr
    assert out.split() == second.stdout.split() == ["True"] * 4


def test_host_network_goes_to_the_host_and_back_only_from_a_private_namespace():
    before = netns.current()
    with netns.host_network():
        inside = netns.current()
    assert netns.current() == before
    assert (inside != before) == netns.is_private()  # an xdist worker: the host's; else: unchanged


def test_the_run_script_starts_workers_and_container_tests_take_turns(pytestconfig):
    run = (pytestconfig.rootpath / "run").read_text()
    assert '-n "${KETENTEST_WERKERS:-3}" --dist worksteal' in run
    conftest = (pytestconfig.rootpath / "conftest.py").read_text()
    assert "netns.host_loopback_turn(), netns.host_network()" in conftest


def test_container_tests_on_different_workers_take_turns(tmp_path):
    """The turn is a flock: a second holder waits until the first is done.
    Its own lock file: the real one may be held by a container test on
    another worker for minutes."""
    import threading

    lock = str(tmp_path / "beurt.lock")

    first_in, release, second_in = threading.Event(), threading.Event(), threading.Event()

    def first():
        with netns.host_loopback_turn(lock):
            first_in.set()
            release.wait(30)

    def second():
        first_in.wait(30)
        with netns.host_loopback_turn(lock):
            second_in.set()

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start(), b.start()
    assert first_in.wait(30)
    assert not second_in.wait(0.5)  # still the first one's turn
    release.set()
    assert second_in.wait(30)
    a.join(), b.join()


@pytest.mark.parametrize("own", [True, False], ids=["eigen-namespace", "gedeeld"])
def test_xdist_workers_really_are_apart(tmp_path, pytestconfig, own):
    """Two workers each hold a server on the same address at the same moment
    (a file barrier makes them overlap): fine in their own namespaces, an
    'address in use' when they share one (the control). The address is one
    no simulator uses, with a port that was free a moment ago: in the shared
    case the runner's own namespace may hold a keten on 127.53.0.1:53."""
    with socket.create_server(("127.231.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import os
        from simulators import netns
        def pytest_configure(config):
            if os.environ.get("PYTEST_XDIST_WORKER") and {own}:
                netns.enter_own()
    """))
    (tmp_path / "test_twee.py").write_text(textwrap.dedent(f"""
        import pathlib, socket, time, pytest
        @pytest.mark.parametrize("i", [1, 2])
        def test_bind(i):
            s = socket.create_server(("127.231.0.1", {port}))
            pathlib.Path({str(tmp_path)!r}, f"bound-{{i}}").touch()
            end = time.monotonic() + 20
            while len(list(pathlib.Path({str(tmp_path)!r}).glob("bound-*"))) < 2 and time.monotonic() < end:
                time.sleep(0.05)  # a barrier between two processes; nothing to await across them
            s.close()
    """))
    env = {**os.environ, "PYTHONPATH": str(pytestconfig.rootpath)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-q",
                           "--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    if own:
        assert proc.returncode == 0 and "2 passed" in proc.stdout, proc.stdout + proc.stderr
    else:
        assert "Address already in use" in proc.stdout and "1 failed" in proc.stdout, proc.stdout + proc.stderr
