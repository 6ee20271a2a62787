"""B05 STARTTLS and B06 DANE against the simulated keten: its signed DNS, a
real Unbound, and every deelnemer's real MX (aiosmtpd, STARTTLS, ECDSA and
RSA chains). The default keten passes; each variant breaks one thing and
exactly that sub-test fails or warns, naming the cause. Bad input gets a
precise "niet testbaar" and the rest goes on. TLSA verdicts are
cross-checked with ldns-dane."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ketentest.checks.b05_starttls import check_starttls
from ketentest.checks.b06_dane import check_dane, distinct_chains, fetch_chains
from ketentest.checks.runner import check_targets, simulated_keten
from ketentest.checks.tls_scan import Target
from ketentest.config import load_keten
from ketentest.dane import tlsa_rdata, verify
from ketentest.model import TlsaSpec
from ketentest.policy import ONLY_CBC, ONLY_TLS10_11, TlsProfile
from ketentest.verdict import CheckResult, Uitslag
from simulators.mailserver import Stage
from simulators.pki import CertVariant

pytestmark = pytest.mark.dns

F, W, N, P = Uitslag.GEFAALD, Uitslag.WAARSCHUWING, Uitslag.NIET_TESTBAAR, Uitslag.GESLAAGD
BAD = (F, W)
CHECK = {"B05": check_starttls, "B06": check_dane}


@pytest.fixture(scope="module")
def sim(internet_lab):
    """The default keten with every deelnemer's MX running."""
    net = internet_lab.start(load_keten())
    with simulated_keten(net.keten, internet=net) as s:
        yield s


@pytest.fixture
def keten_sim(sim):
    """Per test: whatever a test broke (zones, switches) is undone afterwards."""
    yield sim
    for mx in sim.servers.values():
        mx.switches.reset()
    sim.internet.reset()


def run(sim, agreement: str, domain: str) -> CheckResult:
    return CHECK[agreement](domain, sim.resolver, **sim.context)


def bad(result: CheckResult) -> dict[str, Uitslag]:
    return {s.id: s.verdict for s in result.with_verdict(*BAD)}


def tlsa(pki, host: str, spec: str, key_type: str = "ecdsa", variant: str = "valid") -> str:
    return tlsa_rdata(pki.server_chain(host, key_type, variant).chain_der, TlsaSpec(*map(int, spec.split())))


# -- the default keten ------------------------------------------------------------------

def test_every_deelnemer_of_the_default_keten_passes_b05_and_b06(keten_sim) -> None:
    keten = keten_sim.internet.keten
    reports = check_targets(keten.deelnemers, keten_sim.resolver, ["B05", "B06"], context=keten_sim.context)
    for rep in reports:
        for r in rep.results:
            assert r.verdict is P, r.summary()
            assert not r.problems, r.summary()
    # every IP of every MX was tested, both certificate types
    b05 = {rep.domain: rep.result("B05") for rep in reports}
    assert "127.60.2.26" in b05["ggdru.test"].subtest("starttls.adressen").explanation
    trust = b05["ggdru.test"].subtest("starttls.certificaat_vertrouwen").explanation
    assert trust.count("ECDSA-certificaat") == 2 and trust.count("RSA-certificaat") == 2
    match = reports[1].result("B06").subtest("dane.overeenkomst").evidence
    assert {k.split("-")[0] for v in match.values() for k in v} >= {"ECDSA", "RSA"}


# -- variants: each breaks one thing ----------------------------------------------------

@dataclass(frozen=True)
class Case:
    agreement: str
    deelnemer: str
    expect: dict[str, Uitslag]
    words: tuple[str, ...]
    switches: dict | None = None
    zone: str | None = None  # name of a zone change below


def _break_zone(sim, how: str, domain: str) -> None:
    pki, zones = sim.internet.pki, sim.internet.zones
    mx = sim.internet.keten.deelnemer(next(d.id for d in sim.internet.keten.deelnemers
                                           if d.domain.name == domain)).domain.mx[0].name
    owner = f"_25._tcp.{mx}"
    if how == "tlsa_weg":
        zones.remove(owner, "TLSA")
    elif how == "unsigned":
        zones.unsign(domain)
    elif how == "alleen_usage_1":
        zones.replace(owner, "TLSA", [tlsa(pki, mx, "1 1 1"), tlsa(pki, mx, "1 1 1", "rsa")])
    elif how == "een_tlsa":
        zones.replace(owner, "TLSA", [tlsa(pki, mx, "2 0 1")])
    elif how == "alleen_3_1_1":
        zones.replace(owner, "TLSA", [tlsa(pki, mx, "3 1 1"), tlsa(pki, mx, "3 1 1", "rsa")])
    elif how == "verdrongen_hash":  # RFC 7671 9: the stale 3 1 2 hides both matching 3 1 1 records
        zones.replace(owner, "TLSA", [tlsa(pki, mx, "3 1 1"), tlsa(pki, mx, "3 1 1", "rsa"),
                                      tlsa(pki, mx, "3 1 2", variant="new_key")])
    elif how == "onleesbare_reserve":  # a digest of the wrong length is no spare
        zones.replace(owner, "TLSA", [tlsa(pki, mx, "3 1 1"), tlsa(pki, mx, "3 1 1", "rsa"), "3 1 1 00"])
    elif how == "alleen_onleesbaar":
        zones.replace(owner, "TLSA", ["3 1 1 00"])
    else:
        raise ValueError(how)
    sim.internet.changed()


CASES = {
    "geen_starttls": Case("B05", "ggd-flevoland", {"starttls.aanwezig": F}, ("geen starttls", "smtpd_tls"),
                          {"offer_starttls": False}),
    "geen_starttls_dane": Case("B06", "ggd-flevoland", {"dane.overeenkomst": F}, ("geen starttls",),
                               {"offer_starttls": False}),
    "tls10_11": Case("B05", "meldpunt-gooi-vechtstreek", {"starttls.tls_versies": F, "starttls.ciphers": W},
                     ("TLSv1.0", "TLSv1.1", ">=TLSv1.2"), {"tls_profile": ONLY_TLS10_11}),
    "alleen_cbc": Case("B05", "ggd-flevoland", {"starttls.ciphers": W}, ("uitfaseren", "AES_256_CBC", "GCM"),
                       {"tls_profile": ONLY_CBC}),
    "nieuwe_sleutel": Case("B06", "ggd-flevoland", {"dane.overeenkomst": F},
                           ("komt niet overeen", "ECDSA-certificaat", "RSA-certificaat", "werk het TLSA-record bij"),
                           {"cert_variant": CertVariant.NEW_KEY}, "alleen_3_1_1"),
    "tlsa_weg": Case("B06", "ggd-flevoland", {"dane.tlsa": F}, ("geen TLSA-record", "_25._tcp.mx1.ggdflevoland.test"),
                     zone="tlsa_weg"),
    "tlsa_onbeveiligd": Case("B06", "meldpunt-gooi-vechtstreek", {"dane.tlsa": F}, ("insecure", "onderteken"),
                             zone="unsigned"),
    "alleen_usage_1": Case("B06", "ggd-flevoland", {"dane.tlsa": F}, ("usage 1", "RFC 7672"), zone="alleen_usage_1"),
    "een_tlsa": Case("B06", "ggd-flevoland", {"dane.rollover": W}, ("maar één bruikbaar", "reserve"), zone="een_tlsa"),
    "geen_reserve": Case("B06", "ggd-flevoland", {"dane.rollover": W}, ("precies één DANE-EE", "volgende sleutel"),
                         zone="alleen_3_1_1"),
    "verdrongen_hash": Case("B06", "ggd-flevoland", {"dane.overeenkomst": F, "dane.rollover": W},
                            ("RFC 7671", "sterkste hash", "verwijder het zwakkere record"), zone="verdrongen_hash"),
    "onleesbare_reserve": Case("B06", "ggd-flevoland", {"dane.rollover": W}, ("precies één DANE-EE",),
                               zone="onleesbare_reserve"),
    "alleen_onleesbaar": Case("B06", "ggd-flevoland", {"dane.tlsa": F},
                              ("geen enkel bruikbaar", "32 bytes", "herstel de onleesbare"), zone="alleen_onleesbaar"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_broken_variant_fails_exactly_its_subtest(keten_sim, name: str) -> None:
    case = CASES[name]
    deelnemer = keten_sim.internet.keten.deelnemer(case.deelnemer)
    if case.switches:
        keten_sim.servers[case.deelnemer].switches.set(**case.switches)
    if case.zone:
        _break_zone(keten_sim, case.zone, deelnemer.domain.name)
    result = run(keten_sim, case.agreement, deelnemer.domain.name)
    assert bad(result) == case.expect, result.summary()
    first = result.subtest(next(iter(case.expect)))
    for word in case.words:
        assert word.lower() in first.explanation.lower(), f"{word!r} niet in: {first.explanation}"


def test_advice_fits_the_cause(keten_sim) -> None:
    """A lone 2 x x record is not told to add a 2 x x record; a lone malformed
    record is not reported as both usable and unusable."""
    _break_zone(keten_sim, "een_tlsa", "ggdflevoland.test")
    rollover = run(keten_sim, "B06", "ggdflevoland.test").subtest("dane.rollover").explanation
    assert "(2 x x) voor de uitgevende CA" not in rollover and "3 1 1" in rollover, rollover
    _break_zone(keten_sim, "alleen_onleesbaar", "ggdflevoland.test")
    result = run(keten_sim, "B06", "ggdflevoland.test")
    assert result.subtest("dane.tlsa").verdict is F and result.subtest("dane.overeenkomst").verdict is N


def test_the_variants_leave_the_other_agreement_alone(keten_sim) -> None:
    """TLS weaknesses are B05's business, TLSA problems B06's."""
    keten_sim.servers["ggd-flevoland"].switches.set(tls_profile=ONLY_CBC)
    assert run(keten_sim, "B06", "ggdflevoland.test").verdict is P
    keten_sim.servers["ggd-flevoland"].switches.reset()
    _break_zone(keten_sim, "tlsa_weg", "ggdflevoland.test")
    assert run(keten_sim, "B05", "ggdflevoland.test").verdict is P


def test_a_new_key_still_matches_through_the_dane_ta_record(keten_sim) -> None:
    """The keten's rollover scheme at work: 3 1 1 no longer matches, 2 0 1 does."""
    keten_sim.servers["ggd-flevoland"].switches.set(cert_variant=CertVariant.NEW_KEY)
    result = run(keten_sim, "B06", "ggdflevoland.test")
    assert result.verdict is P, result.summary()
    assert "DANE-TA" in result.subtest("dane.overeenkomst").explanation


def test_a_tls13_only_server_still_has_both_certificate_types_checked(keten_sim) -> None:
    """TLS 1.3 chooses the certificate by signature algorithm, not cipher suite."""
    only13 = TlsProfile("alleen-tls1.3", ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)
    keten_sim.servers["ggd-flevoland"].switches.set(tls_profile=only13)
    b05, b06 = (run(keten_sim, a, "ggdflevoland.test") for a in ("B05", "B06"))
    assert b05.verdict is P and b06.verdict is P, b05.summary() + b06.summary()
    keys = b05.subtest("starttls.certificaat_sleutel").evidence["mx1.ggdflevoland.test (127.60.3.25)"]["sleutels"]
    assert set(keys) == {"EC secp256r1", "RSA 3072 bits"}
    labels = set(b06.subtest("dane.overeenkomst").evidence["mx1.ggdflevoland.test (127.60.3.25)"])
    assert labels == {"ECDSA-certificaat (TLSv1.3)", "RSA-certificaat (TLSv1.3)"}


def test_the_tlsa_of_a_cname_target_counts_rfc7672(keten_sim) -> None:
    """MX host -> CNAME -> mx1.ggdru.test: the TLSA at the expanded name is
    used, and usage 2 accepts the expanded name in the certificate."""
    zones = keten_sim.internet.zones
    zones.add("alias.ggdru.test", "MX", "10 post.alias.ggdru.test.")
    zones.add("post.alias.ggdru.test", "CNAME", "mx1.ggdru.test.")
    keten_sim.internet.changed()
    result = run(keten_sim, "B06", "alias.ggdru.test")
    assert result.verdict is P, result.summary()
    assert "_25._tcp.mx1.ggdru.test (na CNAME naar mx1.ggdru.test)" in result.subtest("dane.tlsa").explanation
    assert run(keten_sim, "B05", "alias.ggdru.test").verdict is P


# -- bad input: a precise "niet testbaar", the rest goes on -----------------------------

def test_a_domain_that_does_not_exist_is_untestable(keten_sim) -> None:
    for agreement, sub in (("B05", "starttls.mx"), ("B06", "dane.mx")):
        result = run(keten_sim, agreement, "bestaatniet.test")
        assert result.verdict is N and result.subtests[0].id == sub, result.summary()
        assert "bestaat niet" in result.summary()


def test_null_mx_is_untestable(keten_sim) -> None:
    keten_sim.internet.zones.add("geenmail.ggdru.test", "MX", "0 .")
    keten_sim.internet.changed()
    for agreement in CHECK:
        result = run(keten_sim, agreement, "geenmail.ggdru.test")
        assert result.verdict is N and "null MX" in result.summary(), result.summary()


def _extra_domain(sim, name: str, ip: str, with_tlsa: bool = True) -> None:
    zones = sim.internet.zones
    zones.add(name, "MX", f"10 mx.{name}.")
    zones.add(f"mx.{name}", "A", ip)
    if with_tlsa:
        zones.add(f"_25._tcp.mx.{name}", "TLSA", tlsa(sim.internet.pki, "mx1.ggdru.test", "3 1 1"))
    sim.internet.changed()


class Dropper:
    """Accepts on ip:25 and closes every connection at once; bound before its
    thread starts, so no client races it."""

    def __init__(self, ip: str) -> None:
        self.sock = socket.create_server((ip, 25))
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()

    def __enter__(self) -> "Dropper":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        self.sock.close()
        self.thread.join(5)


def test_an_mx_where_nothing_listens_is_untestable_and_the_others_still_run(keten_sim) -> None:
    _extra_domain(keten_sim, "stil.ggdru.test", "127.60.9.99")
    reports = check_targets(["stil.ggdru.test", "ggdru.test"], keten_sim.resolver, ["B05", "B06"],
                            context=keten_sim.context)
    b05, b06 = reports[0].results
    assert b05.subtest("starttls.adressen").verdict is N
    assert "weigert de verbinding" in b05.subtest("starttls.adressen").explanation
    assert b06.subtest("dane.overeenkomst").verdict is N
    assert "geen verbinding" in b06.subtest("dane.overeenkomst").explanation
    assert [r.verdict for r in reports[1].results] == [P, P]  # the healthy domain is not held up


def test_an_mx_that_drops_the_connection_is_untestable(keten_sim) -> None:
    _extra_domain(keten_sim, "valweg.ggdru.test", "127.60.9.98")
    with Dropper("127.60.9.98"):
        result = run(keten_sim, "B05", "valweg.ggdru.test")
    assert result.verdict is N, result.summary()
    assert "verbreekt de verbinding" in result.subtest("starttls.adressen").explanation


def test_a_rate_limiting_server_is_untestable_with_its_reply(keten_sim) -> None:
    keten_sim.servers["ggd-flevoland"].switches.set(temp_failures=10**6, temp_fail_stage=Stage.GREETING)
    for agreement in CHECK:
        result = run(keten_sim, agreement, "ggdflevoland.test")
        assert result.verdict is N, result.summary()
        assert not bad(result), result.summary()
    text = run(keten_sim, "B05", "ggdflevoland.test").subtest("starttls.adressen").explanation
    assert "421" in text and "rate limiting" in text
    assert "421" in run(keten_sim, "B06", "ggdflevoland.test").subtest("dane.overeenkomst").explanation


def test_a_slow_server_is_cut_off_at_the_scan_deadline(keten_sim) -> None:
    keten_sim.servers["ggd-flevoland"].switches.set(reply_delay=0.3)  # ~1 s per connection
    started = time.monotonic()
    result = check_starttls("ggdflevoland.test", keten_sim.resolver, scan_deadline=2, **keten_sim.context)
    took = time.monotonic() - started
    assert result.verdict is N and not bad(result), result.summary()
    assert "duurde langer dan 2 s" in result.subtest("starttls.tls_versies").explanation
    assert took < 10, took  # probe (~1 s) + deadline, not the ~600 connections of a full scan


def test_fifty_mx_records_are_bounded_and_reported(keten_sim) -> None:
    zones = keten_sim.internet.zones
    zones.replace("veel.ggdru.test", "MX", [f"{i} mx{i}.veel.ggdru.test." for i in range(50)])
    zones.add("*.veel.ggdru.test", "A", "127.60.9.97")  # nothing listens there
    keten_sim.internet.changed()
    started = time.monotonic()
    for agreement, sub in (("B05", "starttls.mx_aantal"), ("B06", "dane.mx_aantal")):
        result = run(keten_sim, agreement, "veel.ggdru.test")
        s = result.subtest(sub)
        assert s.verdict is N and "50 MX-namen" in s.explanation and "40 niet" in s.explanation
    assert time.monotonic() - started < 30


# -- ldns-dane agrees with every TLSA verdict ---------------------------------------------

LDNS_DANE = shutil.which("ldns-dane")


def _pem(chain_der) -> bytes:
    return b"".join(x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM) for d in chain_der)


@pytest.mark.skipif(LDNS_DANE is None, reason="ldns-dane (Debian ldnsutils) is not installed")
@pytest.mark.parametrize("variant", ["valid", "new_key_only_3_1_1", "single_2_0_1"])
def test_ldns_dane_agrees_with_b06(keten_sim, tmp_path, variant: str) -> None:
    if variant == "new_key_only_3_1_1":
        keten_sim.servers["ggd-flevoland"].switches.set(cert_variant=CertVariant.NEW_KEY)
        _break_zone(keten_sim, "alleen_3_1_1", "ggdflevoland.test")
    elif variant == "single_2_0_1":
        _break_zone(keten_sim, "een_tlsa", "ggdflevoland.test")
    outcomes = set()
    for d in keten_sim.internet.keten.deelnemers:
        result = run(keten_sim, "B06", d.domain.name)
        evidence = result.subtest("dane.overeenkomst").evidence
        for mx in d.domain.mx:
            records = keten_sim.resolver.lookup(f"_25._tcp.{mx.name}", "TLSA").records
            tlsafile = tmp_path / "tlsa.zone"
            tlsafile.write_text("".join(f"_25._tcp.{mx.name}. 3600 IN TLSA {r}\n" for r in records))
            chains = distinct_chains(fetch_chains(Target(mx.name, mx.ip)))
            assert {label.split("-")[0] for label, _ in chains} == {"ECDSA", "RSA"}
            for label, chain in chains:
                chainfile = tmp_path / "chain.pem"
                chainfile.write_bytes(_pem(chain))
                out = subprocess.run([LDNS_DANE, "-n", "-c", str(chainfile), "-t", str(tlsafile), "verify",
                                      mx.name, "25"], capture_output=True, text=True, timeout=30)
                ours = evidence[f"{mx.name} ({mx.ip})"][label]["past"]
                assert (out.returncode == 0) == ours == verify(chain, records, mx.name).matched, \
                    f"{mx.name} {label}: ldns-dane {out.stdout}{out.stderr}; B06: {ours}"
                outcomes.add(ours)
    assert outcomes == ({True, False} if variant == "new_key_only_3_1_1" else {True})
