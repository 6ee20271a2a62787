"""The pure parts of the B02-B04 checks: SPF syntax (RFC 7208 ABNF), macro
expansion, DKIM tag lists and keys, DMARC syntax, the organisational domain;
and that no record text, however broken, makes a check raise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketentest.checks import CHECKS, run_check
from ketentest.checks.b02_spf import expand, is_spf, parse_spf
from ketentest.checks.b03_dkim import parse_key, parse_tag_list
from ketentest.checks.b04_dmarc import is_dmarc, organizational_domain, syntax_errors
from ketentest.checks.memory import MemoryDns
from ketentest.dns import DnsAnswer, DnssecState
from ketentest.verdict import CheckResult, SubtestResult, Uitslag, worst

MINE = ("B01", "B02", "B03", "B04")  # the DNS-only checks; B05/B06 need servers

VALID_SPF = [
    "v=spf1",
    "v=spf1 -all",
    "V=SPF1 MX -ALL",
    "v=spf1 +mx a:colo.example.com/28 -all",
    "v=spf1 a/24 mx/24//64 a:mail.example.com//48 -all",
    "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.123 ip6:2001:db8::/32 ip6:::1 -all",
    "v=spf1 include:_spf.example.com include:example.net. ~all",
    "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
    "v=spf1 redirect=_spf.example.com",
    "v=spf1 mx -all exp=explain._spf.%{d}",
    "v=spf1 ptr:example.com ?all",
    "v=spf1 -all foo=bar moo=%{d}",
    "v=spf1  ip4:192.0.2.1   -all ",
    "v=spf1 a:x-1.example.123-4 -all",
]

INVALID_SPF = [
    ("v=spf1 ip4:192.0.2.300 -all", "192.0.2.300"),
    ("v=spf1 ip4:192.0.2.0/40 -all", "/40"),
    ("v=spf1 ip6:2001:db8::/129 -all", "/129"),
    ("v=spf1 ip6:192.0.2.1 -all", "IPv6"),
    ("v=spf1 ip4 -all", "vereist een adres"),
    ("v=spf1 a/33 -all", "buiten bereik"),
    ("v=spf1 mx//129 -all", "buiten bereik"),
    ("v=spf1 include -all", "vereist een domeinnaam"),
    ("v=spf1 include:example -all", "twee labels"),
    ("v=spf1 include:example.123 -all", "topdomeinlabel"),
    ("v=spf1 exists:%{q}.example.com -all", "onbekende macroletter"),
    ("v=spf1 exists:%{c}.example.com -all", "alleen in exp="),
    ("v=spf1 a:exa%mple.com -all", "ongeldige macro"),
    ("v=spf1 ptr/24 -all", "onverwachte tekst na 'ptr'"),
    ("v=spf1 ~ -all", "geen mechanisme"),
    ("v=spf1 -all exp=a.example exp=b.example", "meer dan eens"),
    ("v=spf1 all/24", "onverwachte tekst na 'all'"),
    ("v=spf1 ip4:192.0.2.1 -all é", "US-ASCII"),
]


@pytest.mark.parametrize("record", VALID_SPF)
def test_valid_spf_records_parse_without_errors(record: str) -> None:
    terms, errors = parse_spf(record)
    assert errors == (), errors


@pytest.mark.parametrize("record, cause", INVALID_SPF)
def test_invalid_spf_records_name_the_cause(record: str, cause: str) -> None:
    _, errors = parse_spf(record)
    assert errors and any(cause.lower() in e.lower() for e in errors), errors


def test_spf_version_must_be_a_whole_term() -> None:
    assert is_spf("v=spf1") and is_spf("v=spf1 -all") and is_spf("V=SPF1 -all")
    assert not is_spf("v=spf10 -all") and not is_spf("spf1 -all") and not is_spf(" v=spf1")


def test_spf_terms_keep_qualifier_and_value() -> None:
    terms, _ = parse_spf("v=spf1 ~include:a.example mx:b.example/24//64 -all")
    assert [(t.qualifier, t.name, t.value, t.cidr) for t in terms] == [
        ("~", "include", "a.example", ""), ("", "mx", "b.example", "/24//64"), ("-", "all", "", "")]


@pytest.mark.parametrize("spec, expected", [
    ("_spf.%{d}", "_spf.mail.ggdru.test"),
    ("%{d2}", "ggdru.test"),
    ("%{dr}", "test.ggdru.mail"),
    ("%{d1r}", "mail"),
    ("%{o}.x.test", "politie.test.x.test"),
    ("a%%b.%{d}", "a%b.mail.ggdru.test"),
    ("%{i}.x.test", None),
    ("%{l}.x.test", None),
])
def test_macro_expansion_of_what_is_known_without_a_client(spec: str, expected: str | None) -> None:
    assert expand(spec, "mail.ggdru.test", "politie.test") == expected


def test_dkim_tag_list() -> None:
    assert parse_tag_list(" v=DKIM1 ; k = rsa;p=AB CD ;") == {"v": "DKIM1", "k": "rsa", "p": "AB CD"}
    for bad, cause in (("v=DKIM1; v=DKIM1", "meer dan eens"), ("v=DKIM1; zonder", "geen tag=waarde"),
                       ("1x=2", "geen tag=waarde")):
        with pytest.raises(ValueError, match=cause):
            parse_tag_list(bad)


def test_dkim_key_split_over_strings_and_pkcs1_rsa_is_read() -> None:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    der = rsa.generate_private_key(65537, 1024).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    p = base64.b64encode(der).decode()
    dns = MemoryDns().txt("s._domainkey.x.test", f"v=DKIM1; p={p[:40]} {p[40:]}")
    key = parse_key("s", dns("s._domainkey.x.test", "TXT"))
    assert key.problem == "" and key.algorithm == "rsa" and key.bits == 1024


def test_dmarc_version_and_syntax() -> None:
    assert is_dmarc("v=DMARC1; p=reject") and is_dmarc("v = DMARC1;p=none") and is_dmarc("v=DMARC1")
    assert not is_dmarc("v=dmarc1; p=reject") and not is_dmarc("p=reject; v=DMARC1") and not is_dmarc("v=DMARC10")
    assert syntax_errors("v=DMARC1; p=reject; sp=none; adkim=s; aspf=r; pct=100; fo=0:1:d:s; rf=afrf; ri=86400; "
                         "rua=mailto:a@x.test!10m, mailto:b@y.test; ruf=mailto:f@x.test") == ((), ())
    errors, notes = syntax_errors("v=DMARC1; p=reject; sp=weg; ri=dag; rf=xml; zz=1; rua=https://x.test/r")
    assert any("sp=weg" in e for e in errors) and any("ri=dag" in e for e in errors)
    assert any("rf=xml" in e for e in errors)
    assert any("zz" in n for n in notes) and any("geen mailto" in n for n in notes)


@pytest.mark.parametrize("domain, org", [
    ("ggdru.test", "ggdru.test"),
    ("mail.ggdru.test", "ggdru.test"),
    ("a.b.c.politie.test", "politie.test"),
    ("test", "test"),
    ("www.example.co.uk", "example.co.uk"),
    ("co.uk", "co.uk"),
    ("mail.gemeente.nl.", "gemeente.nl"),
    ("x.y.blogspot.com", "y.blogspot.com"),
])
def test_organizational_domain_uses_the_psl_default_rule_for_unlisted_tlds(domain: str, org: str) -> None:
    assert organizational_domain(domain) == org


def test_worst_verdict_and_json() -> None:
    assert worst([Uitslag.GESLAAGD, Uitslag.INFORMATIE]) is Uitslag.GESLAAGD
    assert worst([Uitslag.WAARSCHUWING, Uitslag.NIET_TESTBAAR]) is Uitslag.NIET_TESTBAAR
    assert worst([Uitslag.NIET_TESTBAAR, Uitslag.GEFAALD]) is Uitslag.GEFAALD
    assert worst([]) is Uitslag.INFORMATIE
    assert CheckResult("B01", "x.test", ()).verdict is Uitslag.NIET_TESTBAAR
    s = SubtestResult("a.b", "B01", Uitslag.GEFAALD, "uitleg", {"records": ("x",), "n": {1, 2}})
    r = CheckResult("B01", "x.test", (s,))
    assert r.to_dict() == {"afspraak": "B01", "domein": "x.test", "uitslag": "gefaald", "subtests": [
        {"id": "a.b", "afspraak": "B01", "uitslag": "gefaald", "toelichting": "uitleg",
         "bewijs": {"records": ["x"], "n": [1, 2]}}]}
    with pytest.raises(TypeError):
        s.evidence["extra"] = 1  # read-only


# -- robustness: arbitrary record text never makes a check raise ------------------

_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x7F), max_size=120)
_spfish = st.builds(lambda body: "v=spf1 " + body, _text)
_dmarcish = st.builds(lambda body: "v=DMARC1; " + body, _text)
_dkimish = st.builds(lambda body: "v=DKIM1; " + body, _text)


@settings(max_examples=150, deadline=None)
@given(spf=st.one_of(_text, _spfish), dmarc=st.one_of(_text, _dmarcish), dkim=st.one_of(_text, _dkimish),
       included=st.one_of(_text, _spfish))
def test_no_record_text_makes_a_check_raise(spf: str, dmarc: str, dkim: str, included: str) -> None:
    dns = MemoryDns()
    dns.add("x.test", "SOA", "ns.x.test. h.x.test. 1 2 3 4 5").add("x.test", "MX", "10 mx.x.test.")
    dns.txt("x.test", spf).txt("_dmarc.x.test", dmarc).txt("s._domainkey.x.test", dkim)
    dns.txt("a.x.test", included)
    for check in (CHECKS[a] for a in MINE):
        result = check("x.test", dns, dkim_selectors=("s",))  # called directly: no safety net
        assert result.subtests and all(isinstance(s.verdict, Uitslag) for s in result.subtests)
        result.to_dict()


def test_answers_of_odd_shape_do_not_raise() -> None:
    """Records a real resolver could hand back: MX without a target, an empty
    TXT string, an unknown rcode."""
    def odd(name: str, rdtype: str) -> DnsAnswer:
        return {"MX": DnsAnswer(name, rdtype, "NOERROR", DnssecState.SECURE, ("10",)),
                "TXT": DnsAnswer(name, rdtype, "NOERROR", DnssecState.SECURE, ('""',))}.get(
            rdtype, DnsAnswer(name, rdtype, "REFUSED", DnssecState.INSECURE))
    for agreement in MINE:
        result = run_check(agreement, "x.test", odd, dkim_selectors=("s",))
        assert not any(s.id.endswith(".fout") for s in result.subtests), result.summary()
