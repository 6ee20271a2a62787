"""B01-B04 checks on an in-memory DNS: the healthy domain passes every
sub-test; each broken case fails (or warns) exactly its own sub-test, with an
explanation naming the cause. Bad input gets a precise "niet testbaar"."""

from __future__ import annotations

import base64
import functools
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ketentest.checks import CHECKS, INFO_CHECKS, run_check, run_checks
from ketentest.checks.b01_dnssec import check_dnssec
from ketentest.checks.b02_spf import check_spf
from ketentest.checks.b03_dkim import DkimSignature, check_dkim, judge_signing, verify_message
from ketentest.checks.b04_dmarc import check_dmarc
from ketentest.checks.memory import MemoryDns
from ketentest.checks.mta_sts import check_mta_sts
from ketentest.dns import DnssecState
from ketentest.verdict import CheckResult, Uitslag

D = "ggdru.test"
SELECTORS = ("sel1", "sel2")
BAD = (Uitslag.GEFAALD, Uitslag.WAARSCHUWING)
MINE = ("B01", "B02", "B03", "B04")  # B05/B06 are registered by others and need servers


@functools.cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


@functools.cache
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def rsa_p(bits: int) -> str:
    der = rsa_key(bits).public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def ed_p() -> str:
    raw = ed_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def healthy(domain: str = D) -> MemoryDns:
    """A mail domain that meets B01-B04."""
    dns = MemoryDns()
    dns.add(domain, "SOA", f"ns1.{domain}. hostmaster.{domain}. 1 3600 600 86400 60")
    dns.add(domain, "MX", f"10 mx1.{domain}.", f"20 mx2.{domain}.")
    dns.add(f"mx1.{domain}", "A", "127.60.2.25")
    dns.add(f"mx2.{domain}", "A", "127.60.2.26")
    dns.add(f"uit.{domain}", "A", "127.60.2.10")
    dns.txt(domain, "v=spf1 ip4:127.60.2.10 -all")
    dns.txt(f"_dmarc.{domain}", f"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}")
    dns.txt(f"sel1._domainkey.{domain}", f"v=DKIM1; k=rsa; p={rsa_p(3072)}")
    dns.txt(f"sel2._domainkey.{domain}", f"v=DKIM1; k=ed25519; p={ed_p()}")
    return dns


def bad_ids(result: CheckResult) -> set[str]:
    return {s.id for s in result.with_verdict(*BAD)}


def assert_only(result: CheckResult, subtest: str, verdict: Uitslag, *words: str) -> None:
    """Exactly ``subtest`` fails or warns, with ``verdict``; its explanation
    names every word in ``words``."""
    assert bad_ids(result) == {subtest}, result.summary()
    s = result.subtest(subtest)
    assert s.verdict is verdict, result.summary()
    for w in words:
        assert w.lower() in s.explanation.lower(), f"{w!r} niet in: {s.explanation}"


def untestable(result: CheckResult) -> set[str]:
    return {s.id for s in result.with_verdict(Uitslag.NIET_TESTBAAR)}


# -- the healthy case ---------------------------------------------------------

@pytest.mark.parametrize("agreement", MINE)
def test_healthy_domain_passes(agreement: str) -> None:
    result = run_check(agreement, D, healthy(), dkim_selectors=SELECTORS)
    assert result.verdict is Uitslag.GESLAAGD, result.summary()
    assert not result.problems
    json.dumps(result.to_dict())  # serialisable for reports


def test_registry_knows_b01_to_b04_and_info_checks() -> None:
    assert set(MINE) <= set(CHECKS) and "mta-sts/tls-rpt" in INFO_CHECKS
    results = run_checks(D, healthy(), [*MINE, *INFO_CHECKS], dkim_selectors=SELECTORS)
    assert [r.agreement for r in results] == [*MINE, *(["B05"] * len(INFO_CHECKS))]


def test_unknown_agreement_and_crashing_lookup_are_untestable_not_exceptions() -> None:
    r = run_check("X99", D, healthy())
    assert r.verdict is Uitslag.NIET_TESTBAAR and "geen controle voor X99" in r.subtests[0].explanation

    def broken(name: str, rdtype: str):
        raise RuntimeError("kapot")

    for agreement in MINE:
        r = run_check(agreement, D, broken, dkim_selectors=SELECTORS)
        assert r.verdict is Uitslag.NIET_TESTBAAR, r.summary()
        assert "kapot" in r.summary()


# -- B01 DNSSEC -----------------------------------------------------------------

def with_foreign_mx(dns: MemoryDns) -> MemoryDns:
    """MX hosts in another (secure) zone, so the domain and its MX can differ."""
    dns.remove(D, "MX").add(D, "MX", "10 mx.hoster.test.")
    dns.add("mx.hoster.test", "A", "127.60.9.25")
    return dns


def test_b01_insecure_domain_fails_domain_subtest() -> None:
    dns = with_foreign_mx(healthy()).set_state(D, DnssecState.INSECURE)
    assert_only(check_dnssec(D, dns), "dnssec.domein", Uitslag.GEFAALD, "insecure", "DS-record")


def test_b01_bogus_domain_fails_with_ede_reason() -> None:
    # A bogus zone makes its MX RRset bogus too: no sender learns a secure MX name.
    dns = with_foreign_mx(healthy()).set_state(D, DnssecState.BOGUS, ede=(7, "signature expired"))
    result = check_dnssec(D, dns)
    assert bad_ids(result) == {"dnssec.domein", "dnssec.mx"}, result.summary()
    for sub in ("dnssec.domein", "dnssec.mx"):
        assert "EDE 7: signature expired" in result.subtest(sub).explanation
    assert "MX-records van ggdru.test" in result.subtest("dnssec.mx").explanation


def test_b01_insecure_mx_host_fails_mx_subtest() -> None:
    dns = with_foreign_mx(healthy()).set_state("hoster.test", DnssecState.INSECURE)
    assert_only(check_dnssec(D, dns), "dnssec.mx", Uitslag.GEFAALD, "mx.hoster.test", "insecure")


def test_b01_bogus_mx_host_fails_mx_subtest_naming_host_and_ede() -> None:
    dns = with_foreign_mx(healthy()).set_state("hoster.test", DnssecState.BOGUS, ede=(9, "DNSKEY missing"))
    assert_only(check_dnssec(D, dns), "dnssec.mx", Uitslag.GEFAALD, "mx.hoster.test", "EDE 9")


def test_b01_every_mx_host_is_checked_not_only_the_first() -> None:
    dns = healthy()
    dns.remove(D, "MX").add(D, "MX", "10 mx1.ggdru.test.", "20 mx.hoster.test.")
    dns.add("mx.hoster.test", "A", "127.60.9.25").set_state("hoster.test", DnssecState.INSECURE)
    result = check_dnssec(D, dns)
    assert_only(result, "dnssec.mx", Uitslag.GEFAALD, "mx.hoster.test")
    assert "mx1.ggdru.test" not in result.subtest("dnssec.mx").explanation


def test_b01_nonexistent_domain_is_untestable() -> None:
    result = check_dnssec("bestaatniet.test", healthy())
    assert result.verdict is Uitslag.NIET_TESTBAAR
    assert "bestaat niet" in result.subtest("dnssec.domein").explanation
    assert untestable(result) == {"dnssec.domein", "dnssec.mx"}


def test_b01_null_mx_is_untestable_for_mx_but_domain_still_judged() -> None:
    dns = healthy().remove(D, "MX").add(D, "MX", "0 .")
    result = check_dnssec(D, dns)
    assert result.subtest("dnssec.domein").verdict is Uitslag.GESLAAGD
    mx = result.subtest("dnssec.mx")
    assert mx.verdict is Uitslag.NIET_TESTBAAR and "null MX" in mx.explanation


def test_b01_resolver_error_on_one_mx_host_is_untestable_and_the_rest_goes_on() -> None:
    dns = healthy().fail("mx2.ggdru.test", "A", "SERVFAIL")
    result = check_dnssec(D, dns)
    mx = result.subtest("dnssec.mx")
    assert mx.verdict is Uitslag.NIET_TESTBAAR and "mx2.ggdru.test" in mx.explanation and "SERVFAIL" in mx.explanation
    assert mx.evidence["hosts"]["mx1.ggdru.test"]["uitslag"] == "geslaagd"
    assert result.subtest("dnssec.domein").verdict is Uitslag.GESLAAGD


def test_b01_resolver_that_does_not_answer_is_untestable_not_an_exception() -> None:
    dns = healthy().fail(D, "*", "raise")
    result = check_dnssec(D, dns)
    assert result.verdict is Uitslag.NIET_TESTBAAR
    assert "geen antwoord" in result.subtest("dnssec.domein").explanation


def test_b01_fifty_mx_records_tests_ten_and_reports_the_rest() -> None:
    dns = healthy().remove(D, "MX")
    dns.add(D, "MX", *(f"{i} mx{i:02d}.ggdru.test." for i in range(50)))
    for i in range(50):
        dns.add(f"mx{i:02d}.ggdru.test", "A", f"127.61.0.{i + 1}")
    result = check_dnssec(D, dns)
    assert result.subtest("dnssec.mx").verdict is Uitslag.GESLAAGD
    count = result.subtest("dnssec.mx_aantal")
    assert count.verdict is Uitslag.NIET_TESTBAAR and "50 MX-namen" in count.explanation
    assert len(count.evidence["niet_getest"]) == 40
    assert len({q for q in dns.queries if q[0].startswith("mx")}) == 30  # A, AAAA and CNAME of ten hosts
    assert bad_ids(result) == set()


def test_b01_no_mx_means_implicit_mx_on_the_domain_itself() -> None:
    dns = healthy().remove(D, "MX").add(D, "A", "127.60.2.25")
    mx = check_dnssec(D, dns).subtest("dnssec.mx")
    assert mx.verdict is Uitslag.GESLAAGD and "RFC 5321" in mx.explanation


@pytest.mark.parametrize("algorithm, name", [(5, "RSASHA1"), (7, "RSASHA1-NSEC3-SHA1")])
def test_b01_rsasha1_signed_domain_warns(algorithm: int, name: str) -> None:
    """RFC 8624: SHA-1 signatures are NOT RECOMMENDED; a secure answer alone hid it."""
    dns = with_foreign_mx(healthy()).set_algorithm(D, algorithm)
    assert_only(check_dnssec(D, dns), "dnssec.domein", Uitslag.WAARSCHUWING, name, "RFC 8624", "algoritme 13")


def test_b01_must_not_algorithm_fails_and_mx_zone_is_judged_too() -> None:
    dns = with_foreign_mx(healthy()).set_algorithm("hoster.test", 1)
    assert_only(check_dnssec(D, dns), "dnssec.mx", Uitslag.GEFAALD, "mx.hoster.test", "RSAMD5")
    dns = with_foreign_mx(healthy()).set_algorithm("hoster.test", 5)
    assert_only(check_dnssec(D, dns), "dnssec.mx", Uitslag.WAARSCHUWING, "mx.hoster.test", "RSASHA1")


def test_b01_modern_algorithms_pass() -> None:
    for algorithm in (8, 13, 15):
        assert check_dnssec(D, with_foreign_mx(healthy()).set_algorithm(D, algorithm)).verdict is Uitslag.GESLAAGD


def test_b01_null_mx_beside_real_mx_fails_mx_subtest() -> None:
    """RFC 7505 3: a null MX must be the only MX (Postfix then delivers nothing)."""
    dns = healthy().add(D, "MX", "0 .")
    result = check_dnssec(D, dns)
    assert_only(result, "dnssec.mx", Uitslag.GEFAALD, "null MX", "RFC 7505", "Postfix", "verwijder de null MX")


def test_b01_each_failing_mx_gets_its_own_advice() -> None:
    dns = with_foreign_mx(healthy()).add(D, "MX", "0 .").set_state("hoster.test", DnssecState.INSECURE)
    mx = check_dnssec(D, dns).subtest("dnssec.mx")
    assert mx.verdict is Uitslag.GEFAALD
    assert "Verwijder de null MX" in mx.explanation and "Onderteken de zone" in mx.explanation, mx.explanation


def test_b01_mx_that_is_an_alias_warns() -> None:
    """RFC 2181 10.3: an MX must not point at a CNAME (checkdmarc flags it too)."""
    dns = healthy().remove(D, "MX").add(D, "MX", "10 post.ggdru.test.")
    dns.add("post.ggdru.test", "CNAME", "mx1.ggdru.test.").add("post.ggdru.test", "A", "127.60.2.25")
    result = check_dnssec(D, dns)
    assert_only(result, "dnssec.mx", Uitslag.WAARSCHUWING, "post.ggdru.test", "CNAME naar mx1.ggdru.test", "RFC 2181")
    assert result.subtest("dnssec.mx").evidence["hosts"]["post.ggdru.test"]["cname"][0]["records"] == \
        ["mx1.ggdru.test."]


# -- B02 SPF --------------------------------------------------------------------

def spf(record: str | None, *extra: str, dns: MemoryDns | None = None) -> MemoryDns:
    dns = dns or healthy()
    dns.remove(D, "TXT")
    for r in ((record,) if record is not None else ()) + extra:
        dns.txt(D, r)
    return dns


def test_b02_missing_record_fails_record_subtest_and_the_rest_is_untestable() -> None:
    result = check_spf(D, spf(None, "google-site-verification=abc"))
    assert_only(result, "spf.record", Uitslag.GEFAALD, "geen SPF-record", "-all")
    assert untestable(result) == {"spf.syntax", "spf.verwijzingen", "spf.aantal_lookups", "spf.void_lookups", "spf.all"}


def test_b02_two_records_fail_record_subtest() -> None:
    result = check_spf(D, spf("v=spf1 -all", "v=spf1 ip4:127.60.2.10 -all"))
    assert_only(result, "spf.record", Uitslag.GEFAALD, "2 SPF-records", "permerror")


@pytest.mark.parametrize("record, cause", [
    ("v=spf1 ip4:999.1.1.1 -all", "999.1.1.1"),
    ("v=spf1 ip4:127.60.2.10/33 -all", "/33"),
    ("v=spf1 foo:bar.test -all", "onbekend mechanisme"),
    ("v=spf1 include:nodot -all", "twee labels"),
    ("v=spf1 a:%{z}.ggdru.test -all", "onbekende macroletter"),
    ("v=spf1 a:%{t}.ggdru.test -all", "alleen in exp="),
    ("v=spf1 redirect=a.test redirect=b.test", "meer dan eens"),
    ("v=spf1 -all:x", "all heeft geen argument"),
])
def test_b02_syntax_error_fails_syntax_subtest(record: str, cause: str) -> None:
    dns = spf(record)
    for name in ("a.test", "b.test"):
        dns.txt(name, "v=spf1 -all")
    result = check_spf(D, dns)
    assert result.subtest("spf.syntax").verdict is Uitslag.GEFAALD, result.summary()
    assert cause.lower() in result.subtest("spf.syntax").explanation.lower()
    assert bad_ids(result) <= {"spf.syntax", "spf.all"}  # a broken all term also leaves no valid all


def test_b02_syntax_error_in_an_included_record_names_that_domain() -> None:
    dns = spf("v=spf1 include:_spf.hoster.test -all")
    dns.txt("_spf.hoster.test", "v=spf1 ip4:1.2.3 -all")
    assert_only(check_spf(D, dns), "spf.syntax", Uitslag.GEFAALD, "_spf.hoster.test", "1.2.3")


def includes(n: int) -> MemoryDns:
    dns = spf("v=spf1 " + " ".join(f"include:i{i}.hoster.test" for i in range(n)) + " -all")
    for i in range(n):
        dns.txt(f"i{i}.hoster.test", f"v=spf1 ip4:127.70.0.{i + 1} -all")
    return dns


def test_b02_ten_dns_terms_pass_eleven_fail() -> None:
    ok = check_spf(D, includes(10))
    assert ok.subtest("spf.aantal_lookups").verdict is Uitslag.GESLAAGD, ok.summary()
    assert_only(check_spf(D, includes(11)), "spf.aantal_lookups", Uitslag.GEFAALD, "11 DNS-lookups", "grens is 10")


def test_b02_lookups_are_counted_through_the_whole_tree() -> None:
    # 2 in the top record + (1 include + a + mx + exists) + 5 a: below = 11
    dns = spf("v=spf1 include:_spf.hoster.test mx -all")
    dns.txt("_spf.hoster.test", "v=spf1 include:_deep.hoster.test a:mx1.ggdru.test mx:ggdru.test "
                                "exists:mx1.ggdru.test -all")
    dns.txt("_deep.hoster.test", "v=spf1 " + " ".join(["a:mx1.ggdru.test"] * 5) + " ip4:127.0.0.1 ip6:::1 -all")
    result = check_spf(D, dns)
    assert_only(result, "spf.aantal_lookups", Uitslag.GEFAALD, "11 DNS-lookups", "_deep.hoster.test: 5")
    tree = result.subtest("spf.aantal_lookups").evidence["boom"]
    assert tree["verwijzingen"][0]["verwijzingen"][0]["domein"] == "_deep.hoster.test"


def test_b02_redirect_counts_but_ignored_redirect_next_to_all_does_not() -> None:
    dns = includes(10)
    dns.remove(D, "TXT").txt(D, "v=spf1 " + " ".join(f"include:i{i}.hoster.test" for i in range(9))
                             + " redirect=i9.hoster.test")
    assert check_spf(D, dns).subtest("spf.aantal_lookups").evidence["totaal"] == 10
    dns.remove(D, "TXT").txt(D, "v=spf1 " + " ".join(f"include:i{i}.hoster.test" for i in range(10))
                             + " -all redirect=i9.hoster.test")
    assert check_spf(D, dns).subtest("spf.aantal_lookups").evidence["totaal"] == 10


def test_b02_mx_term_with_more_than_ten_names_fails_lookups() -> None:
    dns = spf("v=spf1 mx:many.ggdru.test -all")
    dns.add("many.ggdru.test", "MX", *(f"{i} m{i}.ggdru.test." for i in range(11)))
    assert_only(check_spf(D, dns), "spf.aantal_lookups", Uitslag.GEFAALD, "meer dan 10 mailservers")


def test_b02_two_void_lookups_pass_three_fail() -> None:
    two = check_spf(D, spf("v=spf1 a:weg1.ggdru.test mx:weg2.ggdru.test ip4:127.60.2.10 -all"))
    assert two.subtest("spf.void_lookups").verdict is Uitslag.GESLAAGD, two.summary()
    result = check_spf(D, spf("v=spf1 a:weg1.ggdru.test mx:weg2.ggdru.test exists:weg3.ggdru.test "
                              "ip4:127.60.2.10 -all"))
    assert_only(result, "spf.void_lookups", Uitslag.GEFAALD, "3 termen", "exists:weg3.ggdru.test")


@pytest.mark.parametrize("ending, verdict, cause", [
    ("~all", Uitslag.WAARSCHUWING, "softfail"),
    ("+all", Uitslag.GEFAALD, "iedereen mag"),
    ("all", Uitslag.GEFAALD, "iedereen mag"),
    ("?all", Uitslag.GEFAALD, "neutral"),
    ("", Uitslag.GEFAALD, "niet op een all-mechanisme"),
])
def test_b02_all_qualifier(ending: str, verdict: Uitslag, cause: str) -> None:
    result = check_spf(D, spf(f"v=spf1 ip4:127.60.2.10 {ending}".strip()))
    assert_only(result, "spf.all", verdict, cause)


def test_b02_redirect_target_decides_all() -> None:
    dns = spf("v=spf1 ip4:127.60.2.10 redirect=_spf.hoster.test")
    dns.txt("_spf.hoster.test", "v=spf1 ip4:127.70.0.1 -all")
    assert check_spf(D, dns).verdict is Uitslag.GESLAAGD
    dns.remove("_spf.hoster.test", "TXT").txt("_spf.hoster.test", "v=spf1 ip4:127.70.0.1 ~all")
    assert_only(check_spf(D, dns), "spf.all", Uitslag.WAARSCHUWING, "via redirect", "_spf.hoster.test")


def test_b02_include_without_record_fails_references() -> None:
    dns = spf("v=spf1 include:_spf.hoster.test -all")
    dns.add("_spf.hoster.test", "A", "127.70.0.1")  # exists, but no SPF record
    assert_only(check_spf(D, dns), "spf.verwijzingen", Uitslag.GEFAALD, "_spf.hoster.test", "geen v=spf1")


def test_b02_include_loop_fails_references() -> None:
    dns = spf("v=spf1 include:_spf.hoster.test -all")
    dns.txt("_spf.hoster.test", f"v=spf1 include:{D} -all")
    assert_only(check_spf(D, dns), "spf.verwijzingen", Uitslag.GEFAALD, "lus")


def test_b02_resolver_error_is_untestable() -> None:
    result = check_spf(D, healthy().fail(D, "TXT"))
    assert result.verdict is Uitslag.NIET_TESTBAAR and "SERVFAIL" in result.subtest("spf.record").explanation
    inc = spf("v=spf1 include:_spf.hoster.test -all").fail("_spf.hoster.test", "TXT")
    result = check_spf(D, inc)
    assert result.subtest("spf.verwijzingen").verdict is Uitslag.NIET_TESTBAAR and bad_ids(result) == set()


def test_b02_nonexistent_domain_is_untestable() -> None:
    result = check_spf("bestaatniet.test", healthy())
    assert result.verdict is Uitslag.NIET_TESTBAAR
    assert "bestaat niet" in result.subtest("spf.record").explanation


def test_b02_sender_dependent_macro_is_counted_but_not_followed() -> None:
    result = check_spf(D, spf("v=spf1 exists:%{i}._spf.ggdru.test include:%{l}.x.ggdru.test -all"))
    assert result.subtest("spf.aantal_lookups").evidence["totaal"] == 2
    assert result.subtest("spf.verwijzingen").verdict is Uitslag.NIET_TESTBAAR
    assert "macro" in result.subtest("spf.verwijzingen").explanation


# -- B03 DKIM -------------------------------------------------------------------

def test_b03_no_domainkey_fails_domainkey_subtest() -> None:
    dns = healthy().remove("sel1._domainkey.ggdru.test", "TXT").remove("sel2._domainkey.ggdru.test", "TXT")
    result = check_dkim(D, dns)  # no selectors known: only the NXDOMAIN judges
    assert_only(result, "dkim.domainkey", Uitslag.GEFAALD, "NXDOMAIN", "_domainkey.ggdru.test")
    assert "selectors" in result.subtest("dkim.sleutel_aanwezig").explanation


def test_b03_missing_key_for_a_known_selector_fails_presence() -> None:
    dns = healthy().remove("sel2._domainkey.ggdru.test", "TXT")
    assert_only(check_dkim(D, dns, dkim_selectors=SELECTORS), "dkim.sleutel_aanwezig", Uitslag.GEFAALD,
                "sel2._domainkey.ggdru.test", "selector sel2")


@pytest.mark.parametrize("record, cause", [
    ("v=DKIM1; k=rsa; p=", "ingetrokken"),
    ("v=DKIM1; k=rsa", "(p=) ontbreekt"),
    ("v=DKIM1; k=rsa; p=!!!", "base64"),
    ("v=DKIM1; k=dsa; p=AAAA", "k=dsa"),
    ("k=rsa; v=DKIM1; p=AAAA", "eerste tag"),
    ("v=DKIM1; p=AAAA; p=BBBB", "meer dan eens"),
    ("v=DKIM1; k=ed25519; p=AAAA", "32 bytes"),
])
def test_b03_broken_key_record_fails_presence(record: str, cause: str) -> None:
    dns = healthy().remove("sel2._domainkey.ggdru.test", "TXT").txt("sel2._domainkey.ggdru.test", record)
    assert_only(check_dkim(D, dns, dkim_selectors=SELECTORS), "dkim.sleutel_aanwezig", Uitslag.GEFAALD, cause)


def test_b03_testing_mode_warns_presence() -> None:
    dns = healthy().remove("sel2._domainkey.ggdru.test", "TXT")
    dns.txt("sel2._domainkey.ggdru.test", f"v=DKIM1; k=ed25519; t=y; p={ed_p()}")
    assert_only(check_dkim(D, dns, dkim_selectors=SELECTORS), "dkim.sleutel_aanwezig", Uitslag.WAARSCHUWING, "t=y")


@pytest.mark.parametrize("bits, verdict, cause", [
    (1024, Uitslag.GEFAALD, "1024 bits is te zwak"),
    (2048, Uitslag.WAARSCHUWING, "precies 2048"),
])
def test_b03_rsa_key_strength(bits: int, verdict: Uitslag, cause: str) -> None:
    dns = healthy().remove("sel1._domainkey.ggdru.test", "TXT")
    dns.txt("sel1._domainkey.ggdru.test", f"v=DKIM1; k=rsa; p={rsa_p(bits)}")
    assert_only(check_dkim(D, dns, dkim_selectors=SELECTORS), "dkim.sleutel_sterkte", verdict, cause, "sel1")


def test_b03_sha1_only_key_fails_strength() -> None:
    dns = healthy().remove("sel1._domainkey.ggdru.test", "TXT")
    dns.txt("sel1._domainkey.ggdru.test", f"v=DKIM1; k=rsa; h=sha1; p={rsa_p(3072)}")
    assert_only(check_dkim(D, dns, dkim_selectors=SELECTORS), "dkim.sleutel_sterkte", Uitslag.GEFAALD, "SHA-1")


def test_b03_resolver_error_on_selector_is_untestable() -> None:
    result = check_dkim(D, healthy().fail("sel1._domainkey.ggdru.test", "TXT"), dkim_selectors=SELECTORS)
    assert result.subtest("dkim.sleutel_aanwezig").verdict is Uitslag.NIET_TESTBAAR
    assert result.subtest("dkim.sleutel_sterkte").verdict is Uitslag.GESLAAGD  # sel2 still judged
    assert bad_ids(result) == set()


def test_b03_nonexistent_domain_is_untestable() -> None:
    result = check_dkim("bestaatniet.test", healthy(), dkim_selectors=SELECTORS)
    assert "bestaat niet" in result.subtest("dkim.domainkey").explanation
    assert {s.verdict for s in result.subtests} == {Uitslag.NIET_TESTBAAR}, result.summary()  # not "no key"


MESSAGE = (b"From: postkantoor@ggdru.test\r\nTo: meldpunt@politie.test\r\nSubject: Melding MN-1\r\n"
           b"Message-ID: <1@ggdru.test>\r\n\r\nZie bijlage.\r\n")


def signed(selector: bytes, domain: bytes, key_pem: bytes, message: bytes = MESSAGE) -> bytes:
    import dkim

    return dkim.sign(message, selector, domain, key_pem, include_headers=[b"from", b"to", b"subject"]) + message


def rsa_pem(bits: int) -> bytes:
    return rsa_key(bits).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())


def test_b03_verify_message_checks_every_signature_through_the_lookup() -> None:
    dns = healthy()
    msg = signed(b"sel1", b"ggdru.test", rsa_pem(3072))
    msg = signed(b"sel9", b"ander.test", rsa_pem(2048), msg)  # third-party signature without a key
    sigs = verify_message(msg, dns)
    assert [(s.domain, s.selector, s.passed) for s in sigs] == [("ander.test", "sel9", False),
                                                                 ("ggdru.test", "sel1", True)]
    assert ("sel1._domainkey.ggdru.test", "TXT") in dns.queries


def test_b03_signing_judged_on_received_mail() -> None:
    good = (DkimSignature("ggdru.test", "sel1", True),)
    ok = check_dkim(D, healthy(), dkim_selectors=SELECTORS, dkim_received={"<1@ggdru.test>": good})
    assert ok.verdict is Uitslag.GESLAAGD, ok.summary()
    received = {"<1@ggdru.test>": good, "<2@ggdru.test>": (), "<3@ggdru.test>": (DkimSignature("ggdru.test", "sel1", False, "body hash mismatch"),),
                "<4@ggdru.test>": (DkimSignature("hoster.test", "h1", True),)}
    result = check_dkim(D, healthy(), dkim_selectors=SELECTORS, dkim_received=received)
    assert_only(result, "dkim.ondertekening", Uitslag.GEFAALD, "3 van 4", "niet DKIM-ondertekend",
                "body hash mismatch", "andere domeinen")
    assert judge_signing(D, {}).verdict is Uitslag.NIET_TESTBAAR


def test_b03_tampered_message_fails_signing() -> None:
    dns = healthy()
    msg = signed(b"sel1", b"ggdru.test", rsa_pem(3072)).replace(b"Zie bijlage.", b"Vervalst.")
    sigs = verify_message(msg, dns)
    assert len(sigs) == 1 and not sigs[0].passed
    result = check_dkim(D, dns, dkim_selectors=SELECTORS, dkim_received={"<1@ggdru.test>": sigs})
    assert_only(result, "dkim.ondertekening", Uitslag.GEFAALD, "eigen domein faalt")


# -- B04 DMARC ------------------------------------------------------------------

def dmarc(*records: str, dns: MemoryDns | None = None, name: str = f"_dmarc.{D}") -> MemoryDns:
    dns = dns or healthy()
    dns.remove(name, "TXT")
    for r in records:
        dns.txt(name, r)
    return dns


def test_b04_missing_record_fails_record_subtest() -> None:
    result = check_dmarc(D, dmarc("v=spf1 -all"))
    assert_only(result, "dmarc.record", Uitslag.GEFAALD, "geen DMARC-record", "_dmarc.ggdru.test")
    assert untestable(result) == {"dmarc.syntax", "dmarc.beleid"}


def test_b04_two_records_fail_record_subtest() -> None:
    result = check_dmarc(D, dmarc("v=DMARC1; p=reject", "v=DMARC1; p=none"))
    assert_only(result, "dmarc.record", Uitslag.GEFAALD, "2 v=DMARC1-records")


@pytest.mark.parametrize("record, cause", [
    ("v=DMARC1; p=reject; adkim=x", "adkim=x"),
    ("v=DMARC1; p=reject; pct=150", "pct=150"),
    ("v=DMARC1; p=reject; rua=dmarc@ggdru.test", "geen geldige uri"),
    ("v=DMARC1; p=reject; rua=mailto:geen-adres", "geen geldig mailadres"),
    ("v=DMARC1; p=reject; fo=2", "fo=2"),
    ("v=DMARC1; p=reject; p=reject", "meer dan eens"),
])
def test_b04_syntax_error_fails_syntax_subtest(record: str, cause: str) -> None:
    result = check_dmarc(D, dmarc(record))
    if "meer dan eens" in cause:  # an unreadable tag list leaves no policy either
        assert bad_ids(result) == {"dmarc.syntax", "dmarc.beleid"}, result.summary()
        assert cause in result.subtest("dmarc.syntax").explanation
    else:
        assert_only(result, "dmarc.syntax", Uitslag.GEFAALD, cause)


@pytest.mark.parametrize("record, verdict, cause", [
    ("v=DMARC1; p=quarantine", Uitslag.WAARSCHUWING, "quarantine"),
    ("v=DMARC1; p=none", Uitslag.GEFAALD, "p=none"),
    ("v=DMARC1; p=reject; pct=50", Uitslag.WAARSCHUWING, "50%"),
    ("v=DMARC1; p=reject; pct=0", Uitslag.GEFAALD, "pct=0"),
])
def test_b04_policy(record: str, verdict: Uitslag, cause: str) -> None:
    assert_only(check_dmarc(D, dmarc(record)), "dmarc.beleid", verdict, cause, "p=reject")


@pytest.mark.parametrize("record, cause", [("v=DMARC1; rua=mailto:d@ggdru.test", "p= ontbreekt"),
                                           ("v=DMARC1; p=weiger", "p=weiger")])
def test_b04_missing_or_invalid_policy_fails_policy_and_syntax(record: str, cause: str) -> None:
    result = check_dmarc(D, dmarc(record))
    assert bad_ids(result) == {"dmarc.syntax", "dmarc.beleid"}, result.summary()
    assert cause in result.subtest("dmarc.beleid").explanation


def test_b04_record_at_organisational_domain_uses_sp() -> None:
    sub = f"mail.{D}"
    dns = healthy(sub)
    dns.remove(f"_dmarc.{sub}", "TXT").txt(f"_dmarc.{D}", "v=DMARC1; p=reject; sp=quarantine")
    result = check_dmarc(sub, dns)
    assert result.subtest("dmarc.record").evidence["gevonden_op"] == f"_dmarc.{D}"
    assert_only(result, "dmarc.beleid", Uitslag.WAARSCHUWING, "sp=quarantine", "organisatiedomein")


def test_b04_external_report_address_without_authorisation_is_a_notice() -> None:
    dns = dmarc("v=DMARC1; p=reject; rua=mailto:dmarc@ggdru.test,mailto:r@rapport.test!10m; ruf=mailto:f@ok.test")
    dns.txt("ggdru.test._report._dmarc.ok.test", "v=DMARC1")
    result = check_dmarc(D, dns)
    assert result.verdict is Uitslag.GESLAAGD
    note = result.subtest("dmarc.rapportage_extern")
    assert note.verdict is Uitslag.INFORMATIE
    assert "ggdru.test._report._dmarc.rapport.test" in note.explanation
    assert "geautoriseerd: ok.test" in note.explanation


def test_b04_sp_none_beside_p_reject_warns() -> None:
    """sp=none leaves every subdomain open to spoofing, even with p=reject."""
    assert_only(check_dmarc(D, dmarc("v=DMARC1; p=reject; sp=none")), "dmarc.beleid", Uitslag.WAARSCHUWING,
                "sp=none", "subdomein", "sp=reject")
    assert check_dmarc(D, dmarc("v=DMARC1; p=reject; sp=reject")).verdict is Uitslag.GESLAAGD


def test_b04_record_without_report_addresses_says_so() -> None:
    note = check_dmarc(D, dmarc("v=DMARC1; p=reject")).subtest("dmarc.rapportage_extern")
    assert note.verdict is Uitslag.INFORMATIE
    assert "geen rapportadressen" in note.explanation and "binnen het eigen" not in note.explanation
    inside = check_dmarc(D, dmarc(f"v=DMARC1; p=reject; rua=mailto:d@{D}")).subtest("dmarc.rapportage_extern")
    assert "binnen het eigen organisatiedomein" in inside.explanation


def test_b04_resolver_error_and_nonexistent_domain_are_untestable() -> None:
    result = check_dmarc(D, healthy().fail(f"_dmarc.{D}", "TXT"))
    assert result.verdict is Uitslag.NIET_TESTBAAR and "SERVFAIL" in result.subtest("dmarc.record").explanation
    result = check_dmarc("bestaatniet.test", healthy())
    assert result.verdict is Uitslag.NIET_TESTBAAR and "bestaat niet" in result.subtest("dmarc.record").explanation


# -- MTA-STS and TLS-RPT (informatie) -------------------------------------------

def test_mta_sts_and_tls_rpt_are_informational_either_way() -> None:
    absent = check_mta_sts(D, healthy())
    assert {s.verdict for s in absent.subtests} == {Uitslag.INFORMATIE}
    assert "geen MTA-STS-record" in absent.subtest("mta_sts.record").explanation
    dns = healthy().txt(f"_mta-sts.{D}", "v=STSv1; id=20261128").txt(f"_smtp._tls.{D}", f"v=TLSRPTv1; rua=mailto:tls@{D}")
    present = check_mta_sts(D, dns)
    assert {s.verdict for s in present.subtests} == {Uitslag.INFORMATIE}
    assert "id=20261128" in present.subtest("mta_sts.record").explanation
    assert f"mailto:tls@{D}" in present.subtest("tls_rpt.record").explanation


def test_b02_unanswered_term_lookup_makes_void_count_untestable() -> None:
    result = check_spf(D, spf("v=spf1 a:stuk.ggdru.test ip4:127.60.2.10 -all").fail("stuk.ggdru.test", "A"))
    void = result.subtest("spf.void_lookups")
    assert void.verdict is Uitslag.NIET_TESTBAAR and "stuk.ggdru.test A" in void.explanation
    assert bad_ids(result) == set()


def test_b04_nonexistent_subdomain_does_not_borrow_the_parents_record() -> None:
    result = check_dmarc(f"bestaatniet.{D}", healthy())
    assert result.verdict is Uitslag.NIET_TESTBAAR and "bestaat niet" in result.subtest("dmarc.record").explanation


@pytest.mark.parametrize("name, record, cause", [
    ("_mta-sts", "v=STSv1; id=", "geldige id="),
    ("_mta-sts", "v=STSv1 id=1", "geldige id="),
    ("_mta-sts", "v=STSv1; id=1; id=2", "meer dan eens"),
    ("_smtp._tls", "v=TLSRPTv1; rua=ftp://x.test", "geldige rua="),
    ("_smtp._tls", "v=TLSRPTv1", "geldige rua="),
])
def test_invalid_mta_sts_and_tls_rpt_records_are_named_but_only_inform(name: str, record: str, cause: str) -> None:
    result = check_mta_sts(D, healthy().txt(f"{name}.{D}", record))
    sub = result.subtest("mta_sts.record" if name == "_mta-sts" else "tls_rpt.record")
    assert sub.verdict is Uitslag.INFORMATIE and cause in sub.explanation, sub.explanation
    assert result.verdict is Uitslag.INFORMATIE


@pytest.mark.parametrize("domain, cause", [
    ("", "minstens twee labels"),
    ("test", "minstens twee labels"),
    ("exa mple.test", "geen geldige domeinnaam"),
    ("a" * 64 + ".test", "LabelTooLong"),
    ("-x.test", "label '-x'"),
])
def test_bad_domain_input_is_untestable_in_every_check(domain: str, cause: str) -> None:
    dns = healthy()
    for agreement in [*MINE, *INFO_CHECKS]:
        result = run_check(agreement, domain, dns, dkim_selectors=SELECTORS)
        assert {s.verdict for s in result.subtests} == {Uitslag.NIET_TESTBAAR}, result.summary()
        assert all(cause in s.explanation for s in result.subtests), result.summary()
    assert dns.queries == []  # nothing asked for a name that cannot exist


def test_domain_input_is_normalised() -> None:
    assert check_dnssec("GGDRU.Test.", healthy()).domain == D
    assert check_dkim(" ggdru.test ", healthy(), dkim_selectors=SELECTORS).verdict is Uitslag.GESLAAGD
