"""The legacy-version probe of the TLS scan (issue 14, point 3): one hello
offering every suite of SSLv2..TLS 1.1 instead of one handshake per suite.
It must not change a single verdict: sslyze's own full enumeration is the
oracle, on the keten's real MX with each TLS profile. Only a clean refusal
skips a version; anything unclear is enumerated as before."""

from __future__ import annotations

import pytest

from ketentest.checks import tls_scan
from ketentest.checks.runner import simulated_keten
from ketentest.checks.tls_scan import Target, refused_versions, scan_tls
from ketentest.config import load_keten
from ketentest.policy import ONLY_CBC, ONLY_TLS10_11

pytestmark = pytest.mark.dns

LEGACY = {"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"}


@pytest.fixture(scope="module")
def sim(internet_lab):
    net = internet_lab.start(load_keten())
    with simulated_keten(net.keten, internet=net) as s:
        yield s


@pytest.fixture
def mx(sim):
    server = sim.servers["ggd-flevoland"]
    yield server
    server.switches.reset()


TARGET = Target("mx1.ggdflevoland.test", "127.60.3.25")


def both_ways(sim):
    ca = sim.context.get("ca_file")
    fast = scan_tls([TARGET], ca_file=ca)[TARGET]
    full = scan_tls([TARGET], ca_file=ca, probe=False)[TARGET]
    return fast, full


@pytest.mark.parametrize("profile, refused", [(None, LEGACY), (ONLY_TLS10_11, {"SSLv2", "SSLv3"}),
                                              (ONLY_CBC, LEGACY)], ids=["gezond", "alleen-tls10-11", "alleen-cbc"])
def test_the_probe_gives_what_sslyze_enumerates_suite_by_suite(sim, mx, profile, refused):
    if profile is not None:
        mx.switches.set(tls_profile=profile)
    fast, full = both_ways(sim)
    assert not fast.errors and not full.errors, (fast.errors, full.errors)
    assert set(fast.refused_at_once) == refused and full.refused_at_once == ()
    assert fast.versions == full.versions
    assert sorted(map(repr, fast.suites)) == sorted(map(repr, full.suites))
    assert {v for v, ok in full.versions.items() if not ok} >= refused  # only what sslyze also found refused


class FakeConnection:
    def __init__(self, error):
        self.error, self.ssl_client = error, self

    def set_cipher_list(self, _):
        pass

    def connect(self):
        if self.error:
            raise self.error

    def close(self):
        pass


@pytest.mark.parametrize("error, counts", [("rejected", True), ("timeout", False), ("other", False), (None, False)])
def test_only_a_clean_refusal_skips_a_version(monkeypatch, error, counts):
    from sslyze import errors, server_connectivity

    loc = server_connectivity.ServerNetworkLocation("mx.test", 25, ip_address="127.0.0.1")
    made = {"rejected": lambda: errors.ServerRejectedTlsHandshake(loc, None, "alert handshake failure"),
            "timeout": lambda: errors.TlsHandshakeTimedOut(loc, None, "time-out"),
            "other": lambda: ConnectionResetError("weg"), None: lambda: None}[error]
    monkeypatch.setattr(server_connectivity, "check_connectivity_to_server", lambda *a: None)
    monkeypatch.setattr(server_connectivity.ServerConnectivityInfo, "get_preconfigured_tls_connection",
                        lambda self, **kw: FakeConnection(made()))
    monkeypatch.setattr(server_connectivity.ServerConnectivityInfo, "__init__", lambda self, **kw: None)
    assert refused_versions(loc, None) == (frozenset(LEGACY) if counts else frozenset())


def test_no_connection_at_all_claims_nothing(monkeypatch):
    from sslyze import server_connectivity

    def fails(*a):
        raise OSError("geen verbinding")

    monkeypatch.setattr(server_connectivity, "check_connectivity_to_server", fails)
    assert refused_versions(None, None) == frozenset()
    assert tls_scan._LEGACY_VERSIONS.keys() == LEGACY
