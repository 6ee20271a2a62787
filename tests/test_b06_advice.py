"""B06's pure judgement on hand-made chains: the advice follows the cause
(issue 11, point 9). A server that leaves out its CA certificate is told to
send it, not to change a correct TLSA record."""

from __future__ import annotations

import pytest

from ketentest.checks._dns import parse_mx
from ketentest.checks.b06_dane import FIX_MISMATCH, FIX_SEND_CHAIN, PresentedChains, judge_dane
from ketentest.checks.tls_scan import Handshake, Target
from ketentest.dane import tlsa_rdata
from ketentest.dns import DnsAnswer, DnssecState
from ketentest.model import TlsaSpec
from ketentest.mx import TlsaLookup
from ketentest.verdict import Uitslag
from simulators.pki import Pki

HOST, IP = "mx1.ggdru.test", "127.60.2.25"
S = DnssecState.SECURE
MX = DnsAnswer("ggdru.test", "MX", "NOERROR", S, (f"10 {HOST}.",))
A = {HOST: DnsAnswer(HOST, "A", "NOERROR", S, (IP,))}


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def judge(records: list[str], chain: tuple[bytes, ...]):
    owner = f"_25._tcp.{HOST}"
    look = TlsaLookup(HOST, owner, DnsAnswer(owner, "TLSA", "NOERROR", S, tuple(records)), HOST)
    target = Target(HOST, IP)
    presented = PresentedChains(target, True, {"tls13-ecdsa": Handshake(target, True, "TLSv1.3", "X", chain)})
    return judge_dane(parse_mx("ggdru.test", MX), {HOST: look}, A, [presented])


def test_leaf_without_its_ca_and_only_a_2_0_1_record_asks_for_the_chain(pki) -> None:
    creds = pki.server_chain(HOST)
    result = judge([tlsa_rdata(creds.chain_der, TlsaSpec(2, 0, 1))], tuple(creds.chain_der[:1]))
    match = result.subtest("dane.overeenkomst")
    assert match.verdict is Uitslag.GEFAALD
    assert FIX_SEND_CHAIN in match.explanation and FIX_MISMATCH not in match.explanation, match.explanation
    assert "stuurt geen CA-certificaat mee" in match.explanation
    # the whole chain presented: the same record matches
    assert judge([tlsa_rdata(creds.chain_der, TlsaSpec(2, 0, 1))], tuple(creds.chain_der)).subtest(
        "dane.overeenkomst").verdict is Uitslag.GESLAAGD


def test_a_stale_record_still_gets_the_update_advice(pki) -> None:
    stale = tlsa_rdata(pki.server_chain(HOST, variant="new_key").chain_der, TlsaSpec(3, 1, 1))
    match = judge([stale], tuple(pki.server_chain(HOST).chain_der)).subtest("dane.overeenkomst")
    assert match.verdict is Uitslag.GEFAALD and FIX_MISMATCH in match.explanation
    assert FIX_SEND_CHAIN not in match.explanation


def test_rollover_advice_for_a_lone_2_x_x_record_does_not_suggest_another_one(pki) -> None:
    creds = pki.server_chain(HOST)
    result = judge([tlsa_rdata(creds.chain_der, TlsaSpec(2, 0, 1))], tuple(creds.chain_der))
    rollover = result.subtest("dane.rollover")
    assert rollover.verdict is Uitslag.WAARSCHUWING
    assert "(2 x x) voor de uitgevende CA" not in rollover.explanation and "3 1 1" in rollover.explanation
    lone_ee = judge([tlsa_rdata(creds.chain_der, TlsaSpec(3, 1, 1))], tuple(creds.chain_der))
    assert "2 x x" in lone_ee.subtest("dane.rollover").explanation


def test_a_lone_malformed_record_fails_once_not_twice() -> None:
    result = judge(["3 1 1 00"], ())
    assert result.subtest("dane.tlsa").verdict is Uitslag.GEFAALD
    assert "32 bytes" in result.subtest("dane.tlsa").explanation
    assert result.subtest("dane.overeenkomst").verdict is Uitslag.NIET_TESTBAAR
