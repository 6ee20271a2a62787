"""B01-B04 against the simulated DNS internet (signed zones, a real Unbound):
the default keten passes; keten variants and injected DNS defects fail
exactly the sub-test they break, with the cause in the explanation."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pytest
import yaml

from ketentest.checks import CHECKS, check_deelnemer, run_checks
from ketentest.config import load_keten, parse_keten
from ketentest.dns import Resolver
from ketentest.model import Keten
from ketentest.verdict import CheckResult, Uitslag

pytestmark = pytest.mark.dns

B = ("B01", "B02", "B03", "B04")
BAD = (Uitslag.GEFAALD, Uitslag.WAARSCHUWING)
F, W = Uitslag.GEFAALD, Uitslag.WAARSCHUWING


def bad(results: tuple[CheckResult, ...]) -> dict[str, Uitslag]:
    return {s.id: s.verdict for r in results for s in r.with_verdict(*BAD)}


def summary(results: tuple[CheckResult, ...]) -> str:
    return "\n".join(r.summary() for r in results)


# -- the default keten ------------------------------------------------------------

@pytest.fixture
def default_net(internet_lab):
    net = internet_lab.start(load_keten())
    yield net
    net.reset()


def test_every_deelnemer_of_the_default_keten_passes_b01_to_b04(default_net) -> None:
    assert set(B) <= set(CHECKS)
    for deelnemer in default_net.keten.deelnemers:
        results = check_deelnemer(deelnemer, default_net.resolver, B)
        assert [r.verdict for r in results] == [Uitslag.GESLAAGD] * 4, summary(results)


# -- keten variants: each deelnemer broken in its own way ---------------------------

@dataclass(frozen=True)
class Case:
    change: dict  # keys of the deelnemer's maildomein to replace
    expect: dict[str, Uitslag]  # the sub-tests that fail or warn, and how
    words: tuple[str, ...] = ()  # the cause, named in the first expected sub-test


SPF_11 = "v=spf1 " + " ".join(f"include:_i{i}.politie.test" for i in range(11)) + " -all"

#: One keten per row, so one simulated internet covers four broken deelnemers.
VARIANTS: dict[str, dict[str, Case]] = {
    "waarschuwingen": {
        "politie-mn": Case({"spf": "v=spf1 ip4:127.60.1.10 ~all"}, {"spf.all": W}, ("~all",)),
        "ggd-regio-utrecht": Case({"dmarc": "v=DMARC1; p=quarantine"}, {"dmarc.beleid": W}, ("quarantine",)),
        "ggd-flevoland": Case({"dkim": [{"selector": "fl2026r", "type": "rsa", "bits": 2048}]},
                              {"dkim.sleutel_sterkte": W}, ("precies 2048",)),
        "meldpunt-gooi-vechtstreek": Case({"dnssec": False}, {"dnssec.domein": F, "dnssec.mx": F},
                                          ("insecure", "DS-record")),
    },
    "ontbrekend": {
        "politie-mn": Case({"spf": None}, {"spf.record": F}, ("geen SPF-record",)),
        "ggd-regio-utrecht": Case({"dmarc": "v=DMARC1; p=none"}, {"dmarc.beleid": F}, ("p=none",)),
        "ggd-flevoland": Case({"dkim": [{"selector": "fl2026r", "type": "rsa", "bits": 1024}]},
                              {"dkim.sleutel_sterkte": F}, ("1024 bits",)),
        "meldpunt-gooi-vechtstreek": Case({"dkim": []}, {"dkim.domainkey": F}, ("NXDOMAIN",)),
    },
    "grenzen": {
        "politie-mn": Case({"spf": SPF_11, "records": [f"_i{i} TXT \"v=spf1 ip4:127.70.0.{i + 1} -all\""
                                                       for i in range(11)]},
                           {"spf.aantal_lookups": F}, ("11 DNS-lookups",)),
        "ggd-regio-utrecht": Case({"dmarc": None}, {"dmarc.record": F}, ("geen DMARC-record",)),
        "ggd-flevoland": Case({"spf": "v=spf1 a:weg1.ggdflevoland.test a:weg2.ggdflevoland.test "
                                      "exists:weg3.ggdflevoland.test ip4:127.60.3.10 -all"},
                              {"spf.void_lookups": F}, ("3 termen",)),
        "meldpunt-gooi-vechtstreek": Case({"dmarc": "v=DMARC1; p=reject; adkim=x"}, {"dmarc.syntax": F}, ("adkim=x",)),
    },
    "fouten": {
        "politie-mn": Case({"spf": "v=spf1 ip4:127.60.1.10 +all"}, {"spf.all": F}, ("+all",)),
        "ggd-regio-utrecht": Case({"spf": "v=spf1 ip4:999.60.2.10 -all"}, {"spf.syntax": F}, ("999.60.2.10",)),
        "ggd-flevoland": Case({"spf": "v=spf1 include:_spf.ggdflevoland.test -all",
                               "records": ["_spf A 127.60.3.99"]},
                              {"spf.verwijzingen": F}, ("_spf.ggdflevoland.test", "geen v=spf1")),
        "meldpunt-gooi-vechtstreek": Case({"records": ["_dmarc TXT \"v=DMARC1; p=none\""]},
                                          {"dmarc.record": F}, ("2 v=DMARC1-records",)),
    },
}


def variant_keten(name: str) -> Keten:
    text = resources.files("ketentest.data").joinpath("ketens", "midden-nederland.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["keten"] = f"midden-nederland-{name}"
    for d in [data["politie"], *data["meldpunten"]]:
        case = VARIANTS[name].get(d["id"])
        if case is not None:
            d["maildomein"].update(case.change)
    return parse_keten(yaml.safe_dump(data, allow_unicode=True), f"variant:{name}")


@pytest.fixture(scope="module")
def variant_ketens() -> dict[str, Keten]:
    return {name: variant_keten(name) for name in VARIANTS}


CASES = [(v, d) for v, cases in VARIANTS.items() for d in cases]


@pytest.mark.parametrize("variant, deelnemer_id", CASES, ids=[f"{v}-{d}" for v, d in CASES])
def test_broken_variant_fails_exactly_its_subtest(internet_lab, variant_ketens, variant: str, deelnemer_id: str) -> None:
    keten = variant_ketens[variant]
    net = internet_lab.start(keten)
    case = VARIANTS[variant][deelnemer_id]
    results = check_deelnemer(keten.deelnemer(deelnemer_id), net.resolver, B)
    assert bad(results) == case.expect, summary(results)
    first = next(s for r in results for s in r.subtests if s.id == next(iter(case.expect)))
    for word in case.words:
        assert word.lower() in first.explanation.lower(), first.explanation


def test_other_deelnemers_of_a_variant_are_unaffected(internet_lab, variant_ketens) -> None:
    """The variant keten breaks only what it says: the politie of the
    "waarschuwingen" variant warns on SPF and nothing else fails anywhere else."""
    keten = variant_ketens["waarschuwingen"]
    net = internet_lab.start(keten)
    per = {d.id: bad(check_deelnemer(d, net.resolver, B)) for d in keten.deelnemers}
    assert per == {d: dict(c.expect) for d, c in VARIANTS["waarschuwingen"].items()}


# -- DNS defects injected at run time ----------------------------------------------

def test_expired_signatures_fail_b01_with_the_ede_and_leave_the_rest_untestable(default_net) -> None:
    default_net.zones.expire_signatures("ggdflevoland.test")
    default_net.changed()
    results = check_deelnemer(default_net.keten.deelnemer("ggd-flevoland"), default_net.resolver, B)
    assert bad(results) == {"dnssec.domein": F, "dnssec.mx": F}, summary(results)
    b01 = results[0].subtest("dnssec.domein")
    assert "bogus" in b01.explanation and "EDE" in b01.explanation and "onderteken de zone opnieuw" in b01.explanation
    assert [r.verdict for r in results[1:]] == [Uitslag.NIET_TESTBAAR] * 3, summary(results)


def test_broken_ds_is_bogus_with_ede_9(default_net) -> None:
    default_net.zones.break_ds("regiogv.test")
    default_net.changed()
    result = check_deelnemer(default_net.keten.deelnemer("meldpunt-gooi-vechtstreek"), default_net.resolver, ["B01"])[0]
    assert result.subtest("dnssec.domein").verdict is F
    assert "EDE 9" in result.subtest("dnssec.domein").explanation, result.summary()


def test_removed_dkim_key_fails_key_presence(default_net) -> None:
    default_net.zones.remove("fl2026._domainkey.ggdflevoland.test", "TXT")
    default_net.changed()
    results = check_deelnemer(default_net.keten.deelnemer("ggd-flevoland"), default_net.resolver, B)
    assert bad(results) == {"dkim.sleutel_aanwezig": F}, summary(results)
    assert "selector fl2026" in results[2].subtest("dkim.sleutel_aanwezig").explanation


def test_null_mx_is_untestable_for_mx_names(default_net) -> None:
    default_net.zones.replace("regiogv.test", "MX", ["0 ."])
    default_net.changed()
    result = run_checks("regiogv.test", default_net.resolver, ["B01"])[0]
    assert result.subtest("dnssec.domein").verdict is Uitslag.GESLAAGD
    assert result.subtest("dnssec.mx").verdict is Uitslag.NIET_TESTBAAR
    assert "null MX" in result.subtest("dnssec.mx").explanation


def test_fifty_mx_records_are_counted_and_the_first_ten_tested(default_net) -> None:
    default_net.zones.replace("ggdru.test", "MX", [f"{i} mx{i:02d}.ggdru.test." for i in range(50)])
    default_net.zones.replace("mx00.ggdru.test", "A", ["127.60.2.25"])
    default_net.changed()
    result = run_checks("ggdru.test", default_net.resolver, ["B01"])[0]
    count = result.subtest("dnssec.mx_aantal")
    assert count.verdict is Uitslag.NIET_TESTBAAR and "50 MX-namen" in count.explanation
    mx = result.subtest("dnssec.mx")  # mx01..mx09 do not exist: proven absent, not testable
    assert mx.evidence["hosts"]["mx00.ggdru.test"]["uitslag"] == "geslaagd"
    assert len(mx.evidence["hosts"]) == 10 and "bestaat niet" in mx.explanation


def test_nonexistent_domain_is_untestable_everywhere(default_net) -> None:
    results = run_checks("bestaatniet.test", default_net.resolver, B)
    assert [r.verdict for r in results] == [Uitslag.NIET_TESTBAAR] * 4, summary(results)
    assert all("bestaat niet" in r.summary() for r in results)


def test_resolver_that_does_not_answer_is_untestable_not_an_exception(keten) -> None:
    silent = Resolver("127.0.0.1", port=9, timeout=0.05)  # discard port: no DNS server
    results = check_deelnemer(keten.politie, silent, B)
    assert [r.verdict for r in results] == [Uitslag.NIET_TESTBAAR] * 4, summary(results)
    assert "antwoordt niet" in summary(results)


# -- cross-check: pyspf, an independent SPF evaluator, through the same Unbound -------

SPF_CROSS = [
    # (variant or None for the default keten, deelnemer, client ip, pyspf result, our failing sub-test)
    (None, "politie-mn", "127.60.1.10", "pass", None),
    (None, "ggd-flevoland", "192.0.2.1", "fail", None),
    ("grenzen", "politie-mn", "127.60.1.10", "permerror", "spf.aantal_lookups"),
    ("grenzen", "ggd-flevoland", "127.60.3.10", "permerror", "spf.void_lookups"),
    ("fouten", "ggd-regio-utrecht", "127.60.2.10", "permerror", "spf.syntax"),
    ("fouten", "ggd-flevoland", "127.60.3.10", "permerror", "spf.verwijzingen"),
    ("ontbrekend", "politie-mn", "127.60.1.10", "none", "spf.record"),
    ("waarschuwingen", "politie-mn", "192.0.2.1", "softfail", "spf.all"),
    ("fouten", "politie-mn", "192.0.2.1", "pass", "spf.all"),  # +all: anyone passes
]


@pytest.mark.parametrize("variant, deelnemer_id, ip, expected, subtest", SPF_CROSS,
                         ids=[f"{v or 'standaard'}-{d}-{e}" for v, d, _, e, _ in SPF_CROSS])
def test_pyspf_agrees_with_b02(internet_lab, variant_ketens, monkeypatch, variant, deelnemer_id, ip, expected,
                               subtest) -> None:
    """pyspf queries dnspython's default resolver; pointed at the keten's
    Unbound for this test only, it must reach the verdict our static walk
    predicts for that record."""
    import dns.resolver
    import spf

    keten = variant_ketens[variant] if variant else load_keten()
    net = internet_lab.start(keten)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = [keten.dns.resolver_ip], 53, 5.0
    monkeypatch.setattr(dns.resolver, "default_resolver", resolver)
    domain = keten.deelnemer(deelnemer_id).domain.name
    result, _explanation = spf.check2(i=ip, s=f"test@{domain}", h=f"uit.{domain}")
    assert result == expected, _explanation
    ours = check_deelnemer(keten.deelnemer(deelnemer_id), net.resolver, ["B02"])[0]
    assert set(bad((ours,))) == ({subtest} if subtest else set()), ours.summary()


# -- "signs all outgoing mail": verification through the keten's DNS --------------

def test_signing_judged_from_messages_verified_against_the_simulated_dns(default_net, pki) -> None:
    import dkim

    politie = default_net.keten.politie
    key = pki.dkim_key(politie.domain.name, next(k for k in politie.domain.dkim if k.algorithm == "rsa"))
    message = (b"From: " + politie.adres.encode() + b"\r\nTo: meldpunt@ggdru.test\r\nSubject: Melding MN-7\r\n"
               b"Message-ID: <7@politie.test>\r\n\r\nZie bijlage.\r\n")
    signed = dkim.sign(message, key.selector.encode(), key.domain.encode(), key.private_key,
                       include_headers=[b"from", b"to", b"subject", b"message-id"]) + message
    from ketentest.checks.b03_dkim import verify_message

    received = {"<7@politie.test>": verify_message(signed, default_net.resolver),
                "<8@politie.test>": verify_message(signed.replace(b"MN-7", b"MN-8"), default_net.resolver)}
    assert [s.passed for s in received["<7@politie.test>"]] == [True]
    results = check_deelnemer(politie, default_net.resolver, ["B03"], dkim_received=received)
    assert bad(results) == {"dkim.ondertekening": F}, summary(results)
    assert "1 van 2" in results[0].subtest("dkim.ondertekening").explanation
