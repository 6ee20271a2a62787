"""The 'replaced certificate' fault (S04): a new key from another CA matches
none of the TLSA records published for the healthy server, where a new key
from the same CA still matches DANE-TA (2 0 1) — which is correct DANE."""

from __future__ import annotations

from ketentest.dane import tlsa_rdata, verify
from ketentest.model import TlsaSpec
from simulators.pki import CertVariant

SPECS = (TlsaSpec(3, 1, 1), TlsaSpec(2, 0, 1))
HOST = "mx1.ggdru.test"


def published(pki) -> list[str]:
    return sorted({tlsa_rdata(c.chain_der, s) for c in pki.server_chains(HOST) for s in SPECS})


def test_replaced_certificate_matches_no_tlsa(pki):
    for creds in pki.server_chains(HOST, CertVariant.REPLACED):
        result = verify(creds.chain_der, published(pki), HOST)
        assert not result.matched, result.explanation


def test_new_key_from_same_ca_still_matches_dane_ta(pki):
    for creds in pki.server_chains(HOST, CertVariant.NEW_KEY):
        result = verify(creds.chain_der, published(pki), HOST)
        assert result.matched and result.matched_usage == 2, result.explanation


def test_valid_chain_matches(pki):
    for creds in pki.server_chains(HOST):
        assert verify(creds.chain_der, published(pki), HOST).matched
