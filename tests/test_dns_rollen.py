"""The DNS authority and the resolver as their own parties (roles ``dns`` and
``resolver``), driven through InternetParties: the same answers as the
in-process SimulatedInternet, defects through ``POST /zones``, checked input,
the token, and the roles' start-up errors.

Network tests need root (port 53) and Unbound; run them in their own
namespace:  unshare --net sh -c 'ip link set lo up && exec .venv/bin/pytest tests/test_dns_rollen.py'
"""

from __future__ import annotations

import inspect
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ketentest.config import load_keten
from ketentest.dns import DnssecState
from ketentest.errors import InfrastructureError
from simulators.control import ApiError, ControlServer, new_token
from simulators.dns.besturing import ACTIONS, zone_call
from simulators.dns.zones import Record, ZoneTree
from simulators.internet import InternetParties, ZonesOverApi, build_zone_tree, mail_domain_queries
from simulators.partijen import DNS_CONTROL_PORT, RunPaths
from simulators.resolver.__main__ import fetch_anchor
from simulators.wachten import StartupDeadline

KETEN = "midden-nederland"
ROOT = Path(__file__).resolve().parent.parent

needs_network = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unbound") is None,
                                   reason="de DNS-rollen luisteren op poort 53 (root) en gebruiken Unbound")


# -- without network ----------------------------------------------------------------------------


def test_zones_proxy_has_zone_trees_signatures():
    for action in ACTIONS:
        assert inspect.signature(getattr(ZonesOverApi, action)) == inspect.signature(getattr(ZoneTree, action)), action


@pytest.fixture
def tree() -> ZoneTree:
    return ZoneTree({"": ("127.0.0.1", True), "test": ("127.0.0.2", True), "a.test": ("127.0.0.3", True)},
                    [Record("mx.a.test.", "A", "127.0.0.10")])


def snapshot(tree: ZoneTree):
    return {o: (list(z.records), vars(z.state).copy(), z.served) for o, z in tree.zones.items()}


@pytest.mark.parametrize("body, fout", [
    ({"actie": "wis_alles"}, "onbekende actie 'wis_alles'"),
    ({}, "onbekende actie None"),
    ({"actie": "replace", "name": "mx.a.test", "rdtype": "A"}, "argument 'rdatas' ontbreekt"),
    ({"actie": "replace", "name": "mx.a.test", "rdtype": "A", "rdatas": "127.0.0.9"}, "'rdatas' moet een lijst"),
    ({"actie": "replace", "name": "mx.a.test", "rdtype": "A", "rdatas": [9]}, "'rdatas[0]' moet een tekst"),
    ({"actie": "replace", "name": "mx.a.test", "rdtype": "A", "rdatas": ["127.0.0.9"], "ttl": "60"},
     "'ttl' moet een geheel getal"),
    ({"actie": "add", "name": "mx.a.test", "rdtype": "A", "rdata": "127.0.0.9", "ttl": True}, "'ttl' moet een geheel"),
    ({"actie": "add", "name": "mx.a.test", "rdtype": "A", "rdata": "127.0.0.9", "ttl": -1}, "'ttl' moet een geheel"),
    ({"actie": "add", "name": 5, "rdtype": "A", "rdata": "127.0.0.9"}, "'name' moet een tekst"),
    ({"actie": "add", "name": "mx.a.test", "rdtype": "A", "rdata": "127.0.0.9", "ip": "x"}, "onbekend argument 'ip'"),
    ({"actie": "add", "name": "mx.a.test", "rdtype": "A", "rdata": "geen-adres"}, "A-gegevens 'geen-adres' zijn ongeldig"),
    ({"actie": "add", "name": "mx.a.test", "rdtype": "GEEN", "rdata": "x"}, "onbekend recordtype 'GEEN'"),
    ({"actie": "add", "name": "mx.a.test", "rdtype": "RRSIG", "rdata": "x"}, "maakt de zone zelf"),
    ({"actie": "add", "name": "a..test", "rdtype": "A", "rdata": "127.0.0.9"}, "geen geldige DNS-naam"),
    ({"actie": "remove", "name": "mx.a.test", "rdtype": "A", "contains": 1}, "'contains' moet een tekst"),
    ({"actie": "expire_signatures", "zone_name": "b.test"}, "zone 'b.test' bestaat niet"),
    ({"actie": "unsign"}, "argument 'zone_name' ontbreekt"),
    ({"actie": "reset", "zone_name": "a.test"}, "onbekend argument 'zone_name'"),
])
def test_a_zone_request_that_does_not_fit_is_refused_and_changes_nothing(tree, body, fout):
    before = snapshot(tree)
    with pytest.raises(ApiError) as refused:
        zone_call(tree, body)
    assert fout in str(refused.value)
    assert snapshot(tree) == before


def test_a_name_outside_every_zone_is_refused():
    tree = ZoneTree({"test": ("127.0.0.2", True)}, [])
    with pytest.raises(ApiError, match="ligt in geen enkele gesimuleerde zone"):
        zone_call(tree, {"actie": "add", "name": "elders.example", "rdtype": "A", "rdata": "127.0.0.9"})


def test_bad_rdata_would_break_the_zone_without_the_check(tree):
    """Why the rdata is parsed first: ZoneTree itself stores the record, then fails signing."""
    with pytest.raises(Exception):
        tree.add("mx.a.test", "A", "geen-adres")
    assert any(r.rdata == "geen-adres" for r in tree.zone_for("mx.a.test").records)


def test_a_fitting_zone_request_gives_the_methods_arguments(tree):
    assert zone_call(tree, {"actie": "replace", "name": "mx.a.test", "rdtype": "a", "rdatas": ["127.0.0.9"]}) == (
        "replace", {"name": "mx.a.test", "rdtype": "a", "rdatas": ["127.0.0.9"]})
    assert zone_call(tree, {"actie": "remove", "name": "mx.a.test", "rdtype": "A", "contains": None}) == (
        "remove", {"name": "mx.a.test", "rdtype": "A", "contains": None})
    assert zone_call(tree, {"actie": "break_ds", "zone_name": "a.test."}) == ("break_ds", {"zone_name": "a.test."})
    assert zone_call(tree, {"actie": "reset"}) == ("reset", {})


def test_the_resolver_gives_up_on_a_dns_role_that_never_answers(tmp_path):
    with pytest.raises(InfrastructureError, match="antwoordt niet"):
        fetch_anchor("http://127.0.0.1:9", "x" * 20, tmp_path / "t", StartupDeadline(0.5))


# -- the roles as processes ---------------------------------------------------------------------


class Running:
    """The two roles as processes, started on first use (at most one keten at a time)."""

    def __init__(self, internet_lab, pki, folder: Path) -> None:
        from simulators.process import SimulatorProcess

        self.lab, self.pki = internet_lab, pki
        self.keten = load_keten(KETEN)
        self.token, token_file = new_token(folder)
        self.paths = RunPaths(keten=KETEN, pki=str(pki.cache_dir), token=str(token_file), data=str(folder / "data"))
        self.start_party = lambda spec: SimulatorProcess(spec.name, spec.module, list(spec.args), self.token).__enter__()
        self.net: InternetParties | None = None

    def get(self) -> InternetParties:
        if self.net is None:
            self.lab.stop()  # an in-process internet of another test holds the addresses
            self.net = InternetParties(self.keten, self.pki, self.paths, self.start_party).__enter__()
        return self.net

    def stop(self) -> None:
        if self.net is not None:
            self.net.__exit__(None, None, None)
            self.net = None


@pytest.fixture(scope="module")
def running(internet_lab, pki, tmp_path_factory):
    r = Running(internet_lab, pki, tmp_path_factory.mktemp("dns-rollen"))
    yield r
    r.stop()


@pytest.fixture
def net(running):
    net = running.get()
    yield net
    net.reset()


def dns_url(keten) -> str:
    return f"http://{keten.dns.root_ip}:{DNS_CONTROL_PORT}"


def resolver_url(keten) -> str:
    return f"http://{keten.dns.resolver_ip}:{DNS_CONTROL_PORT}"


@needs_network
def test_every_meldpunt_mx_is_secure(net):
    for meldpunt in net.keten.meldpunten:
        answer = net.resolver.lookup(meldpunt.domain.name, "MX")
        assert answer.state is DnssecState.SECURE, answer.describe()
        assert answer.records, answer.describe()


@needs_network
def test_a_replaced_a_record_is_seen_after_changed_and_reset_restores_it(net):
    mx = net.keten.meldpunten[0].domain.mx[0]
    assert net.resolver.lookup(mx.name, "A").records == (mx.ip,)
    net.zones.replace(mx.name, "A", ["127.0.0.99"])
    net.changed()
    answer = net.resolver.lookup(mx.name, "A")
    assert answer.records == ("127.0.0.99",) and answer.state is DnssecState.SECURE, answer.describe()
    net.reset()
    assert net.resolver.lookup(mx.name, "A").records == (mx.ip,)


@needs_network
def test_expired_signatures_are_bogus_until_reset(net):
    domain = net.keten.meldpunten[0].domain.name
    net.zones.expire_signatures(domain)
    net.changed()
    assert net.resolver.lookup(domain, "MX").state is DnssecState.BOGUS
    net.reset()
    assert net.resolver.lookup(domain, "MX").state is DnssecState.SECURE


@needs_network
def test_remove_says_how_many_records_went(net):
    domain = net.keten.meldpunten[0].domain
    assert net.zones.remove(f"_dmarc.{domain.name}", "TXT") == 1
    net.changed()
    assert not net.resolver.lookup(f"_dmarc.{domain.name}", "TXT").records


@needs_network
def test_bad_zone_requests_over_http_are_refused_and_change_nothing(net, running):
    mx = net.keten.meldpunten[0].domain.mx[0]
    auth = {"Authorization": f"Bearer {running.token}"}
    bad = [{"actie": "wis_alles"},
           {"actie": "replace", "name": mx.name, "rdtype": "A", "rdatas": "127.0.0.9"},
           {"actie": "replace", "name": mx.name, "rdtype": "A", "rdatas": ["127.0.0.9"], "ttl": "60"},
           {"actie": "add", "name": mx.name, "rdtype": "A", "rdata": "geen-adres"}]
    with httpx.Client(trust_env=False, headers=auth) as client:
        for body in bad:
            response = client.post(f"{dns_url(net.keten)}/zones", json=body)
            assert response.status_code == 400, body
            assert response.json()["fout"], body
    with pytest.raises(InfrastructureError, match="'rdatas' moet een lijst"):
        net.zones.replace(mx.name, "A", "127.0.0.9")  # type: ignore[arg-type]
    net.changed()
    answer = net.resolver.lookup(mx.name, "A")
    assert answer.records == (mx.ip,) and answer.state is DnssecState.SECURE, answer.describe()
    net.zones.add(mx.name, "A", "127.0.0.98")  # the zone still signs: nothing half-stored
    net.changed()
    assert sorted(net.resolver.lookup(mx.name, "A").records) == sorted([mx.ip, "127.0.0.98"])


@needs_network
def test_requests_without_the_token_are_refused(net):
    mx = net.keten.meldpunten[0].domain.mx[0]
    with httpx.Client(trust_env=False) as client:
        for url in (f"{dns_url(net.keten)}/status", f"{dns_url(net.keten)}/anker", f"{resolver_url(net.keten)}/status"):
            assert client.get(url).status_code == 401, url
            assert client.get(url, headers={"Authorization": "Bearer " + "y" * 43}).status_code == 401, url
        refused = client.post(f"{dns_url(net.keten)}/zones", json={"actie": "replace", "name": mx.name, "rdtype": "A",
                                                                   "rdatas": ["127.0.0.9"]})
        assert refused.status_code == 401
        assert client.post(f"{resolver_url(net.keten)}/leeg").status_code == 401
    assert net.resolver.lookup(mx.name, "A").records == (mx.ip,)


@needs_network
def test_status_and_anchor(net):
    assert net.dns_party.get("/status")["rol"] == "dns"
    assert net.resolver_party.get("/status")["rol"] == "resolver"
    assert net.zones.root_trust_anchor().startswith(". 3600 IN DS ")
    assert net.keten.dns.root_ip in net.zones.root_hints()


def role(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@needs_network
def test_the_resolver_role_with_a_wrong_token_stops_with_a_clear_message(net, tmp_path):
    wrong, wrong_file = new_token(tmp_path)
    out = role("simulators.resolver", "--keten", KETEN, "--token-bestand", str(wrong_file))
    assert out.returncode == 2, out
    assert "weigert het token" in out.stderr and str(wrong_file) in out.stderr, out.stderr
    (tmp_path / "kort").write_text("kort\n")
    out = role("simulators.resolver", "--keten", KETEN, "--token-bestand", str(tmp_path / "kort"))
    assert out.returncode == 2 and "bevat geen geldig token" in out.stderr, out.stderr


@needs_network
def test_the_resolver_role_waits_for_a_dns_role_that_starts_later(net, tmp_path):
    """Connection refused is retried; an answer without an anchor is one clear error."""
    port = 18053
    token, token_file = new_token(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "simulators.resolver", "--keten", KETEN, "--control-port", str(port),
                             "--token-bestand", str(token_file)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        assert proc.poll() is None, proc.stderr.read()
        routes = {("GET", "/anker"): lambda p: {"root_hints": "", "trust_anchor": ""}}
        with ControlServer(net.keten.dns.root_ip, port, routes, token):
            _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 2 and "gaf geen anker" in err, err


def dns_role_in_own_namespace(pki_setup: str, tmp_path: Path) -> subprocess.Popen:
    """The dns role in a fresh network and mount namespace (free addresses),
    its PKI folder at /ketentest-pki as ``pki_setup`` mounts it."""
    _, token_file = new_token(tmp_path)
    pki = tmp_path / "pki"
    pki.mkdir()
    script = (f"ip link set lo up && {pki_setup.format(pki=pki)} && exec {sys.executable} -m simulators.dns "
              f"--keten {KETEN} --pki {pki} --token-bestand {token_file}")
    return subprocess.Popen(["unshare", "--net", "--mount", "sh", "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def first_line(proc: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


@needs_network
def test_the_dns_role_runs_on_a_read_only_complete_key_cache_and_stops_on_sigterm(pki, tmp_path):
    build_zone_tree(load_keten(KETEN), pki)  # every key of the keten in the cache (writable here)
    mount = f"mount --bind {pki.cache_dir} {{pki}} && mount -o remount,bind,ro {{pki}}"
    proc = dns_role_in_own_namespace(mount, tmp_path)
    try:
        line = first_line(proc, 60)
        assert line.startswith("KLAAR http://127.53.0.1:8053"), (line, proc.stderr.read() if proc.poll() is not None else "")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        proc.kill()
        proc.wait()


@needs_network
def test_the_dns_role_on_a_read_only_incomplete_key_cache_says_so(tmp_path):
    proc = dns_role_in_own_namespace("mount -t tmpfs -o ro tmpfs {pki}", tmp_path)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 2, err
    assert "mist een sleutel en is niet te beschrijven" in err and "Read-only file system" in err, err
    assert "Traceback" not in err


@needs_network
def test_both_roles_stop_cleanly_on_sigterm(running):
    net = running.get()
    procs = [net.dns_party.proc, net.resolver_party.proc]
    running.stop()  # SIGTERM, SIGKILL only after 10 s
    assert [p.returncode for p in procs] == [0, 0]


@needs_network
def test_the_same_lookups_give_the_same_states_as_the_in_process_internet(running, internet_lab):
    """Healthy, and with each DNSSEC defect: parties and SimulatedInternet agree."""
    keten = running.keten
    meldpunt, politie = keten.meldpunten[0].domain.name, keten.politie.domain.name
    defects = [lambda z: None, lambda z: z.expire_signatures(meldpunt), lambda z: z.break_ds(politie),
               lambda z: z.unsign(meldpunt)]
    queries = [q for d in keten.deelnemers for q in mail_domain_queries(d.domain)]

    def states(net) -> list[list[str]]:
        out = []
        for defect in defects:
            defect(net.zones)
            net.changed()
            out.append([net.resolver.lookup(name, rdtype).state.value for name, rdtype in queries])
            net.reset()
        return out

    as_parties = states(running.get())
    running.stop()
    try:
        in_process = states(internet_lab.start(keten))
    finally:
        internet_lab.stop()
    assert as_parties == in_process
    assert {s for row in as_parties for s in row} >= {"secure", "bogus", "insecure"}
