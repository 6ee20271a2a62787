"""Every world a defect or scenario makes, written down in a keten file
(issue 11, point 6): the keys parse with clear Dutch errors, the simulators
honour them at start-up, and ``ketentest check --keten FILE`` judges each
world in tests/data/ketens/ with the expected verdict."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from pathlib import Path

import pytest

from ketentest.checks.runner import check_keten
from ketentest.cli import main
from ketentest.config import load_keten, parse_keten
from ketentest.errors import KetenConfigError
from ketentest.model import Certificaat, DsState, MxHost, Signatures, Signing
from ketentest.policy import PROFILES, TLS10_BESIDE_12_13, server_context
from ketentest.verdict import Uitslag
from simulators.dns.zones import SigningState
from simulators.mailserver.switches import Switches
from simulators.pki import CertVariant, Pki

WORLDS = Path(__file__).parent / "data" / "ketens"
G, W, F = Uitslag.GESLAAGD, Uitslag.WAARSCHUWING, Uitslag.GEFAALD
NOT_PASSED = {W, F}

#: world file -> {agreement: the meldpunt's expected verdict (or set of acceptable verdicts)}
EXPECTED: dict[str, dict[str, Uitslag | set[Uitslag]]] = {
    "gezond": {"B01": G, "B05": G, "B06": G},
    "dnssec-onondertekend": {"B01": F},
    "dnssec-geen-ds": {"B01": F},
    "dnssec-ds-kapot": {"B01": F},
    "dnssec-handtekeningen-verlopen": {"B01": F},
    "dnssec-handtekeningen-nog-niet-geldig": {"B01": F},
    "dnssec-algoritme-8": {"B01": G},
    "dnssec-algoritme-13": {"B01": G},
    "dnssec-algoritme-15": {"B01": G},
    # RFC 8624: RSASHA1 NOT RECOMMENDED for signing; Unbound 1.17 still validates it as secure.
    "dnssec-algoritme-5": {"B01": NOT_PASSED},
    "dnssec-algoritme-7": {"B01": NOT_PASSED},
    # RFC 7672 3.1.1: usage 3 ignores expiry and name; usage 2 does not.
    "certificaat-verlopen-3-1-1": {"B06": G},
    "certificaat-verlopen-2-0-1": {"B06": F},
    "certificaat-verkeerde-naam-3-1-1": {"B06": G},
    "certificaat-verkeerde-naam-2-0-1": {"B06": F},
    "certificaat-zelfondertekend-2-0-1": {"B06": F},
    "certificaat-alleen-blad-2-0-1": {"B06": F},
    "certificaat-alleen-blad-3-1-1": {"B06": {G, W}},  # W: a single TLSA, no rollover
    "certificaat-vervangen": {"B06": F},
    "tls-alleen-tls1.1": {"B05": F},
    "tls-1.0-naast-1.2-1.3": {"B05": F},
    "tls-alleen-cbc": {"B05": W},
    "geen-starttls": {"B05": F, "B06": F},
}
#: Why the world fails: a word the failing sub-test's explanation must carry.
REASON = {
    "dnssec-geen-ds": "onbeveiligd",
    "dnssec-onondertekend": "onbeveiligd",
    "dnssec-ds-kapot": "bogus",
    "dnssec-handtekeningen-verlopen": "bogus",
    "dnssec-handtekeningen-nog-niet-geldig": "bogus",
    "tls-alleen-tls1.1": "TLS 1.1",
    "tls-1.0-naast-1.2-1.3": "TLS 1.0",
}


def as_set(expected: Uitslag | set[Uitslag]) -> set[Uitslag]:
    return expected if isinstance(expected, set) else {expected}


@pytest.fixture
def free_machine(internet_lab):
    """The check starts its own simulated keten: stop the session's one first."""
    internet_lab.stop()
    yield


# --- the keten keys ------------------------------------------------------------------

BASE = (WORLDS / "gezond.yaml").read_text(encoding="utf-8")


def meldpunt_with(extra: str, mx: str = "[{host: mx1.meldpunt.test, ip: 127.60.2.25}]") -> str:
    """The healthy world with lines added to (and the MX list of) the meldpunt's maildomein."""
    text = BASE.replace("      mx: [{host: mx1.meldpunt.test, ip: 127.60.2.25}]\n", f"      mx: {mx}\n")
    return text.replace("      dns: 127.53.2.1\n", f"      dns: 127.53.2.1\n{extra}")


def test_every_world_file_is_a_valid_keten_and_has_an_expectation():
    files = {p.stem for p in WORLDS.glob("*.yaml")}
    assert files == set(EXPECTED)
    for name in files:
        keten = load_keten(WORLDS / f"{name}.yaml")
        assert keten.naam == f"wereld-{name}"


def test_dnssec_mapping_and_the_old_boolean():
    d = parse_keten(meldpunt_with("      dnssec: {algoritme: 15, ds_in_ouder: false, handtekeningen: verlopen}\n"))
    dom = d.deelnemer("meldpunt").domain
    assert dom.dnssec and dom.signing == Signing(15, DsState.ABSENT, Signatures.EXPIRED)
    assert dom.zone.signing == dom.signing
    assert parse_keten(meldpunt_with("      dnssec: {ds_in_ouder: kapot}\n")).meldpunten[0].domain.signing.ds is DsState.BROKEN
    off = parse_keten(meldpunt_with("      dnssec: false\n")).meldpunten[0].domain
    assert not off.dnssec and off.signing == Signing()
    assert parse_keten(BASE).meldpunten[0].domain.signing == Signing()


@pytest.mark.parametrize("extra, key, problem", [
    ("      dnssec: {algoritme: 3}\n", "maildomein.dnssec.algoritme", "onbekend(e) DNSSEC-algoritme 3"),
    ("      dnssec: {algoritme: true}\n", "maildomein.dnssec.algoritme", "DNSSEC-algoritme True"),
    ("      dnssec: {ds_in_ouder: misschien}\n", "maildomein.dnssec.ds_in_ouder", "'misschien'"),
    ("      dnssec: {handtekeningen: oud}\n", "maildomein.dnssec.handtekeningen", "'oud'"),
    ("      dnssec: {sleutel: 13}\n", "maildomein.dnssec.sleutel", "onbekende sleutel"),
    ("      dnssec: ja\n", "maildomein.dnssec", "verwacht true of false, of een mapping"),
    ("      certificaat: kapot\n", "maildomein.certificaat", "onbekend(e) certificaat 'kapot'"),
    ("      tls: ssl3\n", "maildomein.tls", "onbekend(e) TLS-profiel 'ssl3'"),
    ("      starttls: nee\n", "maildomein.starttls", "true of false"),
])
def test_a_bad_world_key_is_one_clear_dutch_error(extra, key, problem):
    with pytest.raises(KetenConfigError) as e:
        parse_keten(meldpunt_with(extra), "wereld.yaml")
    text = str(e.value)
    assert key in text and problem in text, text
    assert "\n" in text or "kies uit" in text or "verwacht" in text  # says what to do


def test_an_mx_key_per_host_overrides_the_maildomein_default():
    mx = ("\n        - {host: mx1.meldpunt.test, ip: 127.60.2.25}"
          "\n        - {host: mx2.meldpunt.test, ip: 127.60.2.26, tls: alleen-tls1.1, certificaat: geldig,"
          " starttls: true}")
    keten = parse_keten(meldpunt_with("      tls: alleen-cbc\n      certificaat: verlopen\n      starttls: false\n", mx))
    mx1, mx2 = keten.meldpunten[0].domain.mx
    assert (mx1.tls, mx1.certificate, mx1.starttls) == ("alleen-cbc", Certificaat.EXPIRED, False)
    assert (mx2.tls, mx2.certificate, mx2.starttls) == ("alleen-tls1.1", Certificaat.VALID, True)
    with pytest.raises(KetenConfigError, match=r"mx\[1\]\.tls: onbekend\(e\) TLS-profiel 'tls9'"):
        parse_keten(meldpunt_with("", mx.replace("alleen-tls1.1", "tls9")))


# --- the simulators honour them ---------------------------------------------------------

def test_every_certificaat_word_has_a_pki_variant():
    assert {CertVariant.of(c) for c in Certificaat} <= set(CertVariant)
    assert CertVariant.of("alleen-blad") is CertVariant.LEAF_ONLY


def test_leaf_only_is_the_valid_leaf_without_its_intermediate():
    pki = Pki()
    valid = pki.server_chain("mx1.meldpunt.test", "ecdsa")
    leaf = pki.server_chain("mx1.meldpunt.test", "ecdsa", CertVariant.LEAF_ONLY)
    assert len(valid.chain) == 2 and leaf.chain == valid.chain[:1] and leaf.key_pem == valid.key_pem


def test_the_mail_server_offers_what_the_keten_says_until_a_switch_overrides():
    host = MxHost("mx1.x.test", "127.0.0.1", tls="alleen-tls1.1", certificate=Certificaat.WRONG_NAME, starttls=True)
    offer = Switches().offer(host)
    assert (offer.starttls, offer.profile.name, offer.variant) == (True, "alleen-tls1.1", CertVariant.WRONG_NAME)
    forced = Switches(tls_profile="alleen-cbc", cert_variant="replaced", offer_starttls=False).offer(host)
    assert (forced.starttls, forced.profile.name, forced.variant) == (False, "alleen-cbc", CertVariant.REPLACED)
    assert not Switches().offer(MxHost("mx1.x.test", "127.0.0.1", starttls=False)).starttls


def test_signing_state_from_the_keten():
    assert SigningState.from_keten(True) == SigningState()
    island = SigningState.from_keten(True, Signing(8, DsState.ABSENT))
    assert island.algorithm == 8 and not island.ds_published and not island.ds_broken
    assert SigningState.from_keten(True, Signing(ds=DsState.BROKEN)).ds_broken
    expired = SigningState.from_keten(True, Signing(signatures=Signatures.EXPIRED))
    assert expired.inception < expired.expiration < 0
    future = SigningState.from_keten(True, Signing(signatures=Signatures.NOT_YET_VALID))
    assert 0 < future.inception < future.expiration
    assert not SigningState.from_keten(False).signed


def _handshake(server_ctx: ssl.SSLContext, version: ssl.TLSVersion) -> str | None:
    """One TLS handshake over a socket pair, the client pinned to ``version``;
    the negotiated version, or None when the server refuses."""
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE
    client_ctx.minimum_version = client_ctx.maximum_version = version
    client_ctx.set_ciphers("ALL:@SECLEVEL=0")
    a, b = socket.socketpair()
    result: list[str | None] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(b, server_side=True) as s:
                s.recv(1)
        except (ssl.SSLError, OSError):
            pass

    t = threading.Thread(target=serve)
    t.start()
    try:
        with client_ctx.wrap_socket(a) as c:
            result.append(c.version())
            c.sendall(b"x")
    except (ssl.SSLError, OSError):
        result.append(None)
    finally:
        b.close()
        t.join(5)
    return result[0]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls10_beside_12_13_accepts_10_12_13_but_not_11():
    ctx = server_context(TLS10_BESIDE_12_13)
    Pki().server_chain("mx1.meldpunt.test", "ecdsa").load_into(ctx)
    got = {v.name: _handshake(ctx, v) for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1,
                                                 ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)}
    assert got == {"TLSv1": "TLSv1", "TLSv1_1": None, "TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}
    only11 = server_context(PROFILES["alleen-tls1.1"])
    Pki().server_chain("mx1.meldpunt.test", "ecdsa").load_into(only11)
    assert _handshake(only11, ssl.TLSVersion.TLSv1_1) == "TLSv1.1"
    assert _handshake(only11, ssl.TLSVersion.TLSv1_2) is None


# --- each world judged by the check ---------------------------------------------------------

@pytest.mark.dns
@pytest.mark.parametrize("world", sorted(EXPECTED))
def test_check_judges_the_world(world, free_machine):
    expected = EXPECTED[world]
    keten = load_keten(WORLDS / f"{world}.yaml")
    run = check_keten(keten, ["meldpunt.test"], list(expected))
    report = run.report("meldpunt.test")
    for agreement, verdict in expected.items():
        result = report.result(agreement)
        assert result.verdict in as_set(verdict), result.summary()
        if world in REASON and result.verdict is F:
            assert any(REASON[world] in s.explanation for s in result.problems), result.summary()


@pytest.mark.dns
def test_the_cli_judges_a_world_file_as_json(free_machine, capsys):
    code = main(["check", "--keten", str(WORLDS / "geen-starttls.yaml"), "--json", "--stil", "--afspraken", "B05,B06"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert code == 1 and data["keten"] == "wereld-geen-starttls"
    verdicts = {d["domein"]: {a["afspraak"]: a["uitslag"] for a in d["afspraken"]} for d in data["domeinen"]}
    assert verdicts == {"politie.test": {"B05": "geslaagd", "B06": "geslaagd"},
                        "meldpunt.test": {"B05": "gefaald", "B06": "gefaald"}}


@pytest.mark.dns
def test_the_cli_applies_a_catalogue_defect(free_machine, capsys):
    code = main(["check", "--defect", "tls-geen-starttls", "--json", "--afspraken", "B05", "ggdflevoland.test",
                 "ggdru.test"])
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert code == 1 and data["keten"] == "midden-nederland+tls-geen-starttls"
    assert [(d["domein"], d["uitslag"]) for d in data["domeinen"]] == [("ggdflevoland.test", "gefaald"),
                                                                       ("ggdru.test", "geslaagd")]
    assert "let op" not in err  # a keten-only defect: nothing left out


def test_the_cli_names_an_unknown_defect(capsys):
    assert main(["check", "--defect", "bestaat-niet"]) == 2
    err = capsys.readouterr().err
    assert "onbekend defect" in err and "tls-geen-starttls" in err


def test_a_runtime_defect_is_flagged_as_partly_applied(capsys):
    from ketentest.defecten import keten_for_check

    import io

    warn = io.StringIO()
    keten = keten_for_check(None, "starttls-gestript", warn=warn)
    assert keten.naam == "midden-nederland"  # nothing in the keten file to change
    assert "alleen de wijzigingen in het ketenbestand" in warn.getvalue()
