"""The pure judgement of B05 and B06 on hand-made records: the cases our
simulated servers cannot produce (TLS compression, weak DH, SHA-1
signatures, an RSA 2048 certificate, client renegotiation, a server that
follows the client's order) each fail or warn exactly their own sub-test."""

from __future__ import annotations

import dataclasses

import pytest

from ketentest.checks import ncsc
from ketentest.checks._dns import parse_mx
from ketentest.checks.b05_starttls import judge_starttls
from ketentest.checks.b06_dane import TlsaLookup, judge_tlsa_host
from ketentest.checks.ncsc import Rating
from ketentest.checks.tls_scan import (AcceptedSuite, CertInfo, CipherPreference, SmtpProbe, Target, TlsScan,
                                       cert_info)
from ketentest.dns import DnsAnswer, DnssecState
from ketentest.verdict import Uitslag

F, W, N, P, I = Uitslag.GEFAALD, Uitslag.WAARSCHUWING, Uitslag.NIET_TESTBAAR, Uitslag.GESLAAGD, Uitslag.INFORMATIE
S = DnssecState.SECURE
T = Target("mx1.ggdru.test", "127.60.2.25")
MX = DnsAnswer("ggdru.test", "MX", "NOERROR", S, ("10 mx1.ggdru.test.",))
A = {"mx1.ggdru.test": DnsAnswer("mx1.ggdru.test", "A", "NOERROR", S, ("127.60.2.25",))}

GOOD_SUITES = (
    AcceptedSuite("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", "TLSv1.3", "X25519"),
    AcceptedSuite("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", "TLSv1.2", "X25519"),
    AcceptedSuite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2", "secp256r1"),
)
EC_CERT = CertInfo("EC", 256, "secp256r1", (("CN=mx1.ggdru.test", "sha256"), ("CN=Mail CA", "sha256")),
                   "CN=mx1.ggdru.test", ("mx1.ggdru.test",), True, True)
RSA_CERT = CertInfo("RSA", 3072, None, (("CN=mx1.ggdru.test", "sha256"), ("CN=Mail CA", "sha256")),
                    "CN=mx1.ggdru.test", ("mx1.ggdru.test",), True, True)
HEALTHY = TlsScan(T, {"SSLv2": False, "SSLv3": False, "TLSv1.0": False, "TLSv1.1": False, "TLSv1.2": True,
                      "TLSv1.3": True}, GOOD_SUITES, ("X25519", "secp256r1", "secp384r1"), False, True, False, True,
                  (EC_CERT, RSA_CERT))


def judge(scan: TlsScan, probe: SmtpProbe | None = None):
    probe = probe or SmtpProbe(T, True, "220 mx1.ggdru.test ESMTP", True)
    scans = {T: scan} if probe.testable and probe.starttls else {}
    return judge_starttls(parse_mx("ggdru.test", MX), A, [probe], scans)


def bad(result) -> dict[str, Uitslag]:
    return {s.id: s.verdict for s in result.with_verdict(F, W)}


def test_the_healthy_record_passes() -> None:
    result = judge(HEALTHY)
    assert result.verdict is P and not result.problems, result.summary()
    assert result.subtest("starttls.extended_master_secret").verdict is I


CBC = AcceptedSuite("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", "TLSv1.2", "X25519")
DHE_2048 = AcceptedSuite("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256", "TLSv1.2", "DH-2048")
DHE_4096 = AcceptedSuite("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384", "TLSv1.2", "DH-4096")
RC4 = AcceptedSuite("TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA", "TLSv1.2", None)

CASES = {
    "compressie": (dict(compression=True), {"starttls.compressie": F}, ("compressie", "CRIME")),
    "zwakke_dh": (dict(suites=GOOD_SUITES + (DHE_2048,)), {"starttls.sleuteluitwisseling": F}, ("DH-2048",)),
    "dh_4096": (dict(suites=GOOD_SUITES + (DHE_4096,)), {"starttls.sleuteluitwisseling": W},
                ("uitfaseren", "DH-4096")),
    "brainpool": (dict(groups=("X25519", "brainpoolP256r1")), {"starttls.sleuteluitwisseling": F},
                  ("brainpoolP256r1",)),
    "rc4": (dict(suites=GOOD_SUITES + (RC4,)), {"starttls.ciphers": F}, ("RC4", "onvoldoende")),
    "sha1_handtekening": (dict(certificates=(dataclasses.replace(
        RSA_CERT, signature_hashes=(("CN=mx1.ggdru.test", "sha1"),)), EC_CERT)),
        {"starttls.certificaat_handtekening": F}, ("sha1", "RSA-certificaat", "SHA-256")),
    "rsa_2048": (dict(certificates=(EC_CERT, dataclasses.replace(RSA_CERT, key_size=2048))),
                 {"starttls.certificaat_sleutel": W}, ("RSA 2048", "uitfaseren", "3072")),
    "rsa_1024": (dict(certificates=(dataclasses.replace(RSA_CERT, key_size=1024),)),
                 {"starttls.certificaat_sleutel": F}, ("RSA 1024", "onvoldoende")),
    "onveilige_renegotiation": (dict(secure_renegotiation=False), {"starttls.secure_renegotiation": F},
                                ("RFC 5746",)),
    "client_renegotiation": (dict(client_renegotiation=True), {"starttls.client_renegotiation": F},
                             ("client",)),
    "ssl3": (dict(versions={**HEALTHY.versions, "SSLv3": True}), {"starttls.tls_versies": F}, ("SSLv3",)),
    "clientvolgorde": (dict(suites=GOOD_SUITES + (CBC,), preference=CipherPreference(
        (CBC.name, GOOD_SUITES[1].name), CBC.name)), {"starttls.cipher_volgorde": W, "starttls.ciphers": W},
        ("dwingt zijn eigen volgorde niet af", "tls_preempt_cipherlist")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_weakness_fails_or_warns_exactly_its_subtest(name: str) -> None:
    changes, expect, words = CASES[name]
    result = judge(dataclasses.replace(HEALTHY, **changes))
    assert bad(result) == expect, result.summary()
    first = result.subtest(next(iter(expect)))
    for w in words:
        assert w.lower() in first.explanation.lower(), f"{w!r} niet in: {first.explanation}"
    assert "mx1.ggdru.test (127.60.2.25)" in first.explanation  # names the server


def test_a_server_that_keeps_its_own_order_passes_the_order_subtest() -> None:
    scan = dataclasses.replace(HEALTHY, suites=GOOD_SUITES + (CBC,),
                               preference=CipherPreference((CBC.name, GOOD_SUITES[1].name), GOOD_SUITES[1].name))
    assert judge(scan).subtest("starttls.cipher_volgorde").verdict is P


def test_what_sslyze_could_not_measure_is_untestable_not_passed() -> None:
    scan = dataclasses.replace(HEALTHY, compression=None, errors={"tls_compression": "sslyze kon dit niet meten (x)"})
    result = judge(scan)
    assert result.subtest("starttls.compressie").verdict is N
    assert "sslyze kon dit niet meten" in result.subtest("starttls.compressie").explanation


def test_no_starttls_fails_and_skips_the_tls_subtests() -> None:
    result = judge(HEALTHY, SmtpProbe(T, True, "220 hallo", starttls=False))
    assert bad(result) == {"starttls.aanwezig": F}
    assert [s.id for s in result.subtests] == ["starttls.adressen", "starttls.aanwezig"]


def test_a_refusing_server_is_untestable_with_its_reply() -> None:
    probe = SmtpProbe(T, True, "421 busy", problem="mx1.ggdru.test (127.60.2.25) weigert tijdelijk (421 busy)")
    result = judge(HEALTHY, probe)
    assert result.verdict is N and "421 busy" in result.summary()


@pytest.mark.parametrize("suite, rating", [
    ("TLS_AES_128_GCM_SHA256", Rating.GOED), ("TLS_CHACHA20_POLY1305_SHA256", Rating.GOED),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", Rating.GOED),
    ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Rating.VOLDOENDE),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", Rating.UITFASEREN),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Rating.UITFASEREN),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", Rating.UITFASEREN), ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", Rating.UITFASEREN),
    ("TLS_RSA_WITH_RC4_128_MD5", Rating.ONVOLDOENDE), ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", Rating.ONVOLDOENDE),
    ("TLS_RSA_WITH_NULL_SHA256", Rating.ONVOLDOENDE),
    ("TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", Rating.ONVOLDOENDE),
    ("TLS_AES_128_CCM_8_SHA256", Rating.ONVOLDOENDE), ("SOMETHING_ELSE", Rating.ONVOLDOENDE),
])
def test_ncsc_suite_table(suite: str, rating: Rating) -> None:
    assert ncsc.suite_rating(suite)[0] is rating


def test_ncsc_groups_and_keys() -> None:
    assert [ncsc.group_rating(g) for g in ("X25519", "X448", "secp521r1", "ffdhe3072", "DH-3072", "DH-2048",
                                           "sect571r1")] == [Rating.GOED] * 3 + [Rating.UITFASEREN] * 2 + \
        [Rating.ONVOLDOENDE] * 2
    assert ncsc.cert_key_rating("RSA", 4096) is Rating.GOED and ncsc.cert_key_rating("RSA", 2048) is Rating.UITFASEREN
    assert ncsc.cert_key_rating("EC", 256, "secp256k1") is Rating.ONVOLDOENDE
    assert ncsc.cert_key_rating("Ed25519") is Rating.GOED
    assert ncsc.signature_rating(None) is Rating.GOED and ncsc.signature_rating("SHA1") is Rating.ONVOLDOENDE


def test_cert_info_reads_a_real_chain(pki) -> None:
    creds = pki.server_chain("mx1.ggdru.test", "rsa")
    info = cert_info(creds.chain, "mx1.ggdru.test")
    assert (info.key_type, info.key_size, info.name_matches) == ("RSA", 3072, True)
    assert [h for _, h in info.signature_hashes] == ["sha256", "sha256"]
    assert not cert_info(creds.chain, "mx2.ggdru.test").name_matches


# -- B06 TLSA judgement on hand-made answers -----------------------------------------------

OWNER = "_25._tcp.mx1.ggdru.test"


def tlsa_host(answer: DnsAnswer, mx: DnsAnswer = MX):
    return judge_tlsa_host(parse_mx("ggdru.test", mx), TlsaLookup("mx1.ggdru.test", OWNER, answer, "mx1.ggdru.test"))


def test_tlsa_host_judgement() -> None:
    ok = DnsAnswer(OWNER, "TLSA", "NOERROR", S, ("3 1 1 " + "AB" * 32,))
    assert tlsa_host(ok)[0] is P
    bogus = DnsAnswer(OWNER, "TLSA", "SERVFAIL", DnssecState.BOGUS)
    assert tlsa_host(bogus)[0] is F and "bogus" in tlsa_host(bogus)[1]
    dead = DnsAnswer(OWNER, "TLSA", "GEEN_ANTWOORD", DnssecState.ERROR, raw="Timeout")
    assert tlsa_host(dead)[0] is N
    pkix = DnsAnswer(OWNER, "TLSA", "NOERROR", S, ("0 0 1 " + "AB" * 32, "1 1 1 " + "CD" * 32))
    assert tlsa_host(pkix)[0] is F and "usage 0, 1" in tlsa_host(pkix)[1]
    insecure_mx = DnsAnswer("ggdru.test", "MX", "NOERROR", DnssecState.INSECURE, ("10 mx1.ggdru.test.",))
    verdict, reason, _ = tlsa_host(ok, insecure_mx)
    assert verdict is F and "MX-records" in reason
