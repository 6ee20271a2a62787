"""RFC 7672 DANE matching: every usage/selector/matching combination, every
failure, a cross-check with ldns-dane, and a real TLS handshake on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import shutil
import socket
import ssl
import subprocess
import threading

import dns.rdata
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from ketentest.dane import (
    RecordStatus,
    TlsaFormatError,
    TlsaRecord,
    association_data,
    name_matches,
    peer_chain,
    screen,
    tlsa_rdata,
    tlsa_records,
    usable_records,
    verify,
)
from ketentest.model import TlsaSpec
from simulators.pki import WRONG_NAME, CertVariant, KeyType, Pki

HOST = "mx1.ggdru.test"
OTHER_HOST = "mx1.ggdflevoland.test"
ALL_SPECS = [TlsaSpec(u, s, m) for u in (2, 3) for s in (0, 1) for m in (0, 1, 2)]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@pytest.fixture(scope="module")
def foreign_pki(tmp_path_factory) -> Pki:
    """Another keten's PKI: other CA keys, so also usage 2 must not match."""
    return Pki(tmp_path_factory.mktemp("foreign-keys"), seed="andere-keten")


def spec(text: str) -> TlsaSpec:
    return TlsaSpec(*map(int, text.split()))


def record(pki: Pki, text: str, key_type: str = "ecdsa", host: str = HOST) -> str:
    """The TLSA rdata the keten publishes for a correctly configured server."""
    return tlsa_rdata(pki.server_chain(host, key_type).chain, spec(text))


def statuses(result) -> list[RecordStatus]:
    return [o.status for o in result.outcomes]


# --- association data -----------------------------------------------------

def test_association_data_definitions(pki):
    leaf = pki.server_chain(HOST).cert
    der = leaf.public_bytes(serialization.Encoding.DER)
    spki = leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert association_data(leaf, 0, 0) == der == association_data(der, 0, 0)
    assert association_data(leaf, 1, 0) == spki
    assert association_data(der, 0, 1) == hashlib.sha256(der).digest()
    assert association_data(leaf, 1, 2) == hashlib.sha512(spki).digest()
    with pytest.raises(ValueError):
        association_data(leaf, 2, 1)
    with pytest.raises(ValueError):
        association_data(leaf, 1, 3)


def test_tlsa_rdata_pins_leaf_for_ee_and_top_of_chain_for_ta(pki):
    chain = pki.server_chain(HOST).chain
    assert tlsa_rdata(chain, spec("3 1 1")).split()[3] == association_data(chain[0], 1, 1).hex().upper()
    assert tlsa_rdata(chain, spec("2 0 1")).split()[3] == association_data(chain[-1], 0, 1).hex().upper()
    assert tlsa_rdata(chain, spec("1 1 1")).startswith("1 1 1 ")  # for broken-configuration tests
    assert tlsa_rdata(chain, spec("0 0 1")).split()[3] == association_data(chain[-1], 0, 1).hex().upper()


def test_tlsa_records_for_a_server_with_ecdsa_and_rsa(pki):
    chains = [c.chain for c in pki.server_chains(HOST)]
    rrset = tlsa_records(chains, [spec("3 1 1"), spec("2 0 1")])
    assert len(rrset) == 3  # one 3 1 1 per leaf key, one shared 2 0 1 for the CA
    for creds in pki.server_chains(HOST):
        assert verify(creds.chain_der, list(rrset), HOST).matched


def test_record_text_from_dnspython_is_accepted(pki):
    # DnsAnswer.records holds dnspython's to_text(), which splits long hex.
    for text in ("3 0 0", "2 0 2"):
        ours = record(pki, text)
        theirs = dns.rdata.from_text("IN", "TLSA", ours).to_text()
        assert TlsaRecord.parse(theirs) == TlsaRecord.parse(ours)
        assert verify(pki.server_chain(HOST).chain_der, [theirs], HOST).matched


# --- every combination matches the right chain, and only that ---------------

@pytest.mark.parametrize("key_type", list(KeyType))
@pytest.mark.parametrize("tlsa", ALL_SPECS, ids=str)
def test_every_combination_matches_right_chain(pki, foreign_pki, tlsa, key_type):
    creds = pki.server_chain(HOST, key_type)
    rdata = tlsa_rdata(creds.chain, tlsa)
    result = verify(creds.chain_der, [rdata], HOST)
    assert result.matched, result.explanation
    assert result.matched_record == rdata and result.matched_usage == tlsa.usage
    assert result.depth == (0 if tlsa.usage == 3 else 1)

    # the wrong chain: another host's key (usage 3) or another CA (usage 2)
    wrong = pki.server_chain(OTHER_HOST, key_type) if tlsa.usage == 3 else foreign_pki.server_chain(HOST, key_type)
    miss = verify(wrong.chain_der, [rdata], HOST)
    assert not miss.matched and statuses(miss) == [RecordStatus.NO_MATCH]
    assert "komt met geen" in miss.explanation or "komt niet overeen" in miss.explanation


# --- each failure, shown ---------------------------------------------------

def test_certificate_replaced_without_tlsa_update(pki):
    new = pki.server_chain(HOST, variant=CertVariant.NEW_KEY)
    result = verify(new.chain_der, [record(pki, "3 1 1")], HOST)
    assert not result.matched and result.usable
    assert "vervangen" in result.explanation
    # a DANE-TA record survives the new key: the same CA issued it
    assert verify(new.chain_der, [record(pki, "2 0 1")], HOST).matched


def test_usage2_wrong_name_is_rejected_but_usage3_ignores_names(pki):
    wrong = pki.server_chain(HOST, variant=CertVariant.WRONG_NAME)
    result = verify(wrong.chain_der, [tlsa_rdata(wrong.chain, spec("2 0 1"))], HOST)
    assert not result.matched and statuses(result) == [RecordStatus.REJECTED]
    assert WRONG_NAME in result.explanation and HOST in result.explanation
    assert verify(wrong.chain_der, [tlsa_rdata(wrong.chain, spec("3 1 1"))], HOST).matched
    # another reference name (e.g. the TLSA base after CNAME expansion) may match
    assert verify(wrong.chain_der, [tlsa_rdata(wrong.chain, spec("2 0 1"))], HOST, names=[WRONG_NAME]).matched


def test_usage2_chain_not_signed_by_trust_anchor(pki):
    other = pki.server_chain(HOST, variant=CertVariant.OTHER_CA)
    result = verify(other.chain_der, [record(pki, "2 0 1")], HOST)
    assert not result.matched and statuses(result) == [RecordStatus.REJECTED]
    assert "niet ondertekend" in result.explanation
    assert result.outcomes[0].depth == 1  # the TA did match; the signature did not


def test_usage2_expired_leaf_is_rejected_usage3_is_not(pki):
    expired = pki.server_chain(HOST, variant=CertVariant.EXPIRED)
    result = verify(expired.chain_der, [record(pki, "2 0 1")], HOST)
    assert not result.matched and "verlopen" in result.explanation
    assert verify(expired.chain_der, [record(pki, "3 1 1")], HOST).matched
    # the keten clock decides: before expiry it is fine
    before = expired.cert.not_valid_after_utc - dt.timedelta(days=1)
    assert verify(expired.chain_der, [record(pki, "2 0 1")], HOST, now=before).matched
    not_yet = pki.server_chain(HOST).cert.not_valid_before_utc - dt.timedelta(days=1)
    assert "pas geldig" in verify(pki.server_chain(HOST).chain_der, [record(pki, "2 0 1")], HOST,
                                  now=not_yet).explanation


def test_self_signed_has_no_trust_anchor(pki):
    selfsigned = pki.server_chain(HOST, variant=CertVariant.SELF_SIGNED)
    result = verify(selfsigned.chain_der, [record(pki, "2 0 1")], HOST)
    assert not result.matched and "geen CA-certificaat mee" in result.explanation
    assert verify(selfsigned.chain_der, [record(pki, "3 1 1")], HOST).matched  # same key
    assert not verify(selfsigned.chain_der, [record(pki, "3 0 1")], HOST).matched  # other certificate


def test_usage2_record_of_the_leaf_is_not_a_trust_anchor(pki):
    creds = pki.server_chain(HOST)
    leaf_as_ta = "2" + tlsa_rdata(creds.chain, spec("3 1 1"))[1:]
    result = verify(creds.chain_der, [leaf_as_ta], HOST)
    assert not result.matched and "servercertificaat zelf" in result.explanation


def test_only_usage_0_and_1_is_unusable(pki):
    creds = pki.server_chain(HOST)
    records = [tlsa_rdata(creds.chain, spec("1 1 1")), tlsa_rdata(creds.chain, spec("0 0 1"))]
    result = verify(creds.chain_der, records, HOST)
    assert not result.matched and not result.usable
    assert statuses(result) == [RecordStatus.UNUSABLE, RecordStatus.UNUSABLE]
    assert len(result.unusable_records) == 2
    assert "Geen bruikbaar TLSA-record" in result.explanation and "PKIX-EE" in result.explanation
    # the same data with usage 3/2 would have matched: the usage alone decides
    assert verify(creds.chain_der, ["3" + records[0][1:], "2" + records[1][1:]], HOST).matched


@pytest.mark.parametrize("garbage", ["3 1 1 XYZ0", "3 1 1 ABC", "3 1", "drie 1 1 AB", "3 1 1 " + "AB" * 31,
                                     "3 1 2 " + "AB" * 32, "3 1 1 300 AB"])
def test_garbage_records_are_malformed_and_do_not_spoil_a_good_one(pki, garbage):
    creds = pki.server_chain(HOST)
    alone = verify(creds.chain_der, [garbage], HOST)
    assert not alone.matched and not alone.usable
    assert statuses(alone) == [RecordStatus.MALFORMED]
    both = verify(creds.chain_der, [garbage, record(pki, "3 1 1")], HOST)
    assert both.matched and statuses(both) == [RecordStatus.MALFORMED, RecordStatus.MATCHED]


def test_parse_errors_are_dutch():
    with pytest.raises(TlsaFormatError, match="geen geldige hex"):
        TlsaRecord.parse("3 1 1 GG")
    with pytest.raises(TlsaFormatError, match="te weinig velden"):
        TlsaRecord.parse("3 1 1")


def test_unknown_selector_or_matching_is_ignored(pki):
    creds = pki.server_chain(HOST)
    data = association_data(creds.cert, 1, 1).hex()
    result = verify(creds.chain_der, [f"3 2 1 {data}", f"3 1 7 {data}", f"4 1 1 {data}"], HOST)
    assert statuses(result) == [RecordStatus.IGNORED, RecordStatus.IGNORED, RecordStatus.UNUSABLE]
    assert not result.matched and not result.usable


def test_no_records_and_no_certificate(pki):
    assert "geen TLSA-records" in verify(pki.server_chain(HOST).chain_der, [], HOST).explanation
    empty = verify([], [record(pki, "3 1 1")], HOST)
    assert not empty.matched and "geen certificaat" in empty.explanation
    broken = verify([b"geen certificaat"], [record(pki, "3 1 1")], HOST)
    assert not broken.matched and "onleesbaar" in broken.explanation


def test_second_record_matches_when_first_is_stale(pki):
    # a rollover: old key's record plus the new one
    stale = tlsa_rdata(pki.server_chain(HOST, variant="new_key").chain, spec("3 1 1"))
    result = verify(pki.server_chain(HOST).chain_der, [stale, record(pki, "3 1 1")], HOST)
    assert result.matched and statuses(result) == [RecordStatus.NO_MATCH, RecordStatus.MATCHED]


# --- digest agility (RFC 7671, 9) and malformed records ----------------------

def stale(pki: Pki, text: str, key_type: str = "ecdsa") -> str:
    """A record for another key of the same host: it matches nothing presented."""
    return tlsa_rdata(pki.server_chain(HOST, key_type, "new_key").chain, spec(text))


def test_a_stronger_digest_hides_a_weaker_one_for_the_same_usage_and_selector(pki):
    """Postfix and ldns-dane: '3 1 1 <match>' + '3 1 2 <no match>' is no match."""
    presented = pki.server_chain(HOST).chain_der
    result = verify(presented, [record(pki, "3 1 1"), stale(pki, "3 1 2")], HOST)
    assert not result.matched, result.explanation
    assert statuses(result) == [RecordStatus.SUPERSEDED, RecordStatus.NO_MATCH]
    assert "RFC 7671" in result.explanation and "sterkste hash" in result.explanation
    assert result.outcomes[0].cause == "digest_superseded"
    # the stronger digest matching is enough, the weaker one is not consulted
    assert verify(presented, [stale(pki, "3 1 1"), record(pki, "3 1 2")], HOST).matched


@pytest.mark.parametrize("other", ["3 0 2", "2 1 2", "2 0 2"])
def test_agility_is_per_usage_and_selector(pki, other):
    result = verify(pki.server_chain(HOST).chain_der, [record(pki, "3 1 1"), stale(pki, other)], HOST)
    assert result.matched and RecordStatus.SUPERSEDED not in statuses(result)


def test_full_data_is_exempt_from_agility(pki):
    result = verify(pki.server_chain(HOST).chain_der, [record(pki, "3 1 0"), stale(pki, "3 1 2")], HOST)
    assert result.matched and statuses(result) == [RecordStatus.MATCHED, RecordStatus.NO_MATCH]


def test_usable_records_is_the_one_definition(pki):
    good = record(pki, "3 1 1")
    assert usable_records([good, "3 1 1 00"]) == (TlsaRecord.parse(good),)  # a short digest is not a spare
    assert usable_records(["3 1 1 00"]) == ()
    assert usable_records([good, stale(pki, "3 1 2")]) == (TlsaRecord.parse(stale(pki, "3 1 2")),)
    assert usable_records(["1 1 1 " + "AB" * 32, "3 2 1 " + "AB" * 32]) == ()
    assert [type(r).__name__ for r in screen([good, "3 1 1 00"])] == ["TlsaRecord", "RecordOutcome"]


@pytest.mark.parametrize("bad", ["3 1 0 3059301306072A8648CE3D020106082A", "3 0 0 3082", "2 0 0 00"])
def test_full_data_that_is_no_certificate_or_key_is_malformed(pki, bad):
    assert statuses(verify(pki.server_chain(HOST).chain_der, [bad], HOST)) == [RecordStatus.MALFORMED]
    assert usable_records([bad]) == ()


def test_a_server_without_its_ca_certificate_names_the_cause(pki):
    leaf_only = pki.server_chain(HOST).chain_der[:1]
    result = verify(leaf_only, [record(pki, "2 0 1")], HOST)
    assert not result.matched and result.outcomes[0].cause == "ta_not_presented"
    assert "stuurt geen CA-certificaat mee" in result.explanation


# --- names ----------------------------------------------------------------

@pytest.mark.parametrize("pattern, host, expected", [
    ("mx1.ggdru.test", "mx1.ggdru.test", True),
    ("MX1.GGDRU.TEST.", "mx1.ggdru.test", True),
    ("mx2.ggdru.test", "mx1.ggdru.test", False),
    ("*.ggdru.test", "mx1.ggdru.test", True),
    ("*.ggdru.test", "ggdru.test", False),  # one label, not zero
    ("*.ggdru.test", "a.mx1.ggdru.test", False),  # one label, not two
    ("mx*.ggdru.test", "mx1.ggdru.test", False),  # no partial-label wildcards
    ("*.test", "ggdru.test", False),  # no wildcard right under a TLD
    ("mx1.*.test", "mx1.ggdru.test", False),
    ("", "mx1.ggdru.test", False),
])
def test_name_matching(pattern, host, expected):
    assert name_matches(pattern, host) is expected


@pytest.fixture(scope="module")
def trustme_ca() -> trustme.CA:
    return trustme.CA()


def _trustme_chain(ca: trustme.CA, *names: str) -> list[bytes]:
    leaf = ca.issue_cert(*names)
    pems = [blob.bytes() for blob in leaf.cert_chain_pems] + [ca.cert_pem.bytes()]
    from cryptography import x509
    return [x509.load_pem_x509_certificate(p).public_bytes(serialization.Encoding.DER) for p in pems]


def test_wildcard_certificate_from_an_independent_ca(trustme_ca):
    chain = _trustme_chain(trustme_ca, "*.ggdru.test")
    rdata = tlsa_rdata(chain, spec("2 1 1"))
    assert verify(chain, [rdata], "mx1.ggdru.test").matched
    assert not verify(chain, [rdata], "mx1.ggdflevoland.test").matched
    assert not verify(chain, [rdata], "a.mx1.ggdru.test").matched


# --- cross-check with ldns-dane (an independent implementation) -------------

LDNS_DANE = shutil.which("ldns-dane")

# (variant of the presented chain, TLSA records as published for a correct server)
LDNS_CASES = [
    ("valid", "ecdsa", ["3 1 1"]), ("valid", "ecdsa", ["3 0 1"]), ("valid", "ecdsa", ["3 1 2"]),
    ("valid", "ecdsa", ["3 0 0"]), ("valid", "ecdsa", ["2 0 1"]), ("valid", "ecdsa", ["2 1 1"]),
    ("valid", "ecdsa", ["2 1 2"]), ("valid", "ecdsa", ["2 0 0"]), ("valid", "rsa", ["3 1 1"]),
    ("valid", "rsa", ["2 0 1"]), ("valid", "rsa", ["3 0 2"]),
    ("new_key", "ecdsa", ["3 1 1"]), ("new_key", "rsa", ["3 0 1"]), ("new_key", "ecdsa", ["2 0 1"]),
    ("wrong_name", "ecdsa", ["2 0 1"]), ("wrong_name", "ecdsa", ["3 1 1"]),
    ("expired", "ecdsa", ["2 1 1"]), ("expired", "ecdsa", ["3 1 1"]),
    ("other_ca", "ecdsa", ["2 0 1"]), ("other_ca", "ecdsa", ["3 1 1"]),
    ("self_signed", "ecdsa", ["2 0 1"]), ("self_signed", "ecdsa", ["3 1 1"]), ("self_signed", "ecdsa", ["3 0 1"]),
    ("new_key", "ecdsa", ["3 1 1", "2 0 1"]),
    ("valid", "ecdsa", ["1 1 1", "0 0 1"]),
]


@pytest.mark.skipif(LDNS_DANE is None, reason="ldns-dane (Debian ldnsutils) is not installed")
@pytest.mark.parametrize("variant, key_type, specs", LDNS_CASES, ids=lambda v: v if isinstance(v, str) else "+".join(v))
def test_agrees_with_ldns_dane(pki, tmp_path, variant, key_type, specs):
    presented = pki.server_chain(HOST, key_type, variant)
    published = [record(pki, s, key_type) for s in specs]
    chainfile, tlsafile = tmp_path / "chain.pem", tmp_path / "tlsa.zone"
    chainfile.write_bytes(presented.chain_pem)
    tlsafile.write_text("".join(f"_25._tcp.{HOST}. 3600 IN TLSA {r}\n" for r in published))
    run = subprocess.run([LDNS_DANE, "-n", "-c", str(chainfile), "-t", str(tlsafile), "verify", HOST, "25"],
                         capture_output=True, text=True, timeout=30)
    ours = verify(presented.chain_der, published, HOST)
    assert (run.returncode == 0) == ours.matched, f"ldns-dane: {run.stdout}{run.stderr}\nwij: {ours.explanation}"


# (presented: correct or new key, TLSA records: "ok" for the presented key, "oud" for another)
AGILITY_CASES = [
    [("3 1 1", "ok"), ("3 1 2", "oud")], [("3 1 1", "oud"), ("3 1 2", "ok")], [("3 1 1", "ok"), ("3 0 2", "oud")],
    [("3 1 0", "ok"), ("3 1 2", "oud")], [("3 1 1", "ok"), ("2 1 2", "oud")], [("2 0 1", "ok"), ("2 0 2", "oud")],
    [("3 1 1", "ok"), ("3 1 2", "oud"), ("3 1 2", "ok")],
]


@pytest.mark.skipif(LDNS_DANE is None, reason="ldns-dane (Debian ldnsutils) is not installed")
@pytest.mark.parametrize("case", AGILITY_CASES, ids=lambda c: "+".join(f"{s}-{w}" for s, w in c))
def test_digest_agility_agrees_with_ldns_dane(pki, tmp_path, case):
    presented = pki.server_chain(HOST)
    published = [record(pki, s) if which == "ok" else stale(pki, s) for s, which in case]
    chainfile, tlsafile = tmp_path / "chain.pem", tmp_path / "tlsa.zone"
    chainfile.write_bytes(presented.chain_pem)
    tlsafile.write_text("".join(f"_25._tcp.{HOST}. 3600 IN TLSA {r}\n" for r in published))
    run = subprocess.run([LDNS_DANE, "-n", "-c", str(chainfile), "-t", str(tlsafile), "verify", HOST, "25"],
                         capture_output=True, text=True, timeout=30)
    ours = verify(presented.chain_der, published, HOST)
    assert (run.returncode == 0) == ours.matched, f"ldns-dane: {run.stdout}{run.stderr}\nwij: {ours.explanation}"


def test_agility_cross_check_covers_both_outcomes(pki):
    outcomes = {verify(pki.server_chain(HOST).chain_der,
                       [record(pki, s) if w == "ok" else stale(pki, s) for s, w in case], HOST).matched
                for case in AGILITY_CASES}
    assert outcomes == {True, False}


def test_ldns_cross_check_covers_both_outcomes(pki):
    """Guard: the cross-check table must hold matching and failing cases."""
    outcomes = {verify(pki.server_chain(HOST, kt, v).chain_der, [record(pki, s, kt) for s in specs], HOST).matched
                for v, kt, specs in LDNS_CASES}
    assert outcomes == {True, False}


# --- a real handshake on loopback ------------------------------------------

class TlsServer:
    """A TLS server on 127.0.0.1, port 0: bound and listening before its
    thread starts, so clients never race it."""

    def __init__(self, creds) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        creds.load_into(self.context)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with self.context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)  # until the client closes
        except (OSError, ssl.SSLError) as e:
            self.error = e

    def __enter__(self) -> TlsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(timeout=10)
        self.sock.close()


def _dane_client_context() -> ssl.SSLContext:
    # DANE replaces PKIX: the client accepts any chain and lets verify() judge.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.mark.parametrize("key_type", list(KeyType))
def test_loopback_server_chain_via_peer_chain(pki, key_type):
    creds = pki.server_chain(HOST, key_type)
    published = list(tlsa_records([creds.chain], [spec("3 1 1"), spec("2 0 1")]))
    with TlsServer(creds) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            with _dane_client_context().wrap_socket(raw, server_hostname=HOST) as tls:
                chain = peer_chain(tls)
    assert server.error is None
    assert chain == creds.chain_der
    assert verify(chain, published[1:], HOST).matched  # 2 0 1 needs the intermediate from the wire
    assert verify(chain, published[:1], HOST).matched
    assert not verify(chain, [record(pki, "3 1 1", key_type, OTHER_HOST)], HOST).matched


def test_loopback_asyncio_peer_chain_and_replaced_cert(pki):
    replaced = pki.server_chain(HOST, variant=CertVariant.NEW_KEY)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    replaced.load_into(server_ctx)

    async def run() -> list[bytes]:
        async def handle(reader, writer):
            await reader.read()  # until the client closes
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=_dane_client_context(),
                                                           server_hostname=HOST)
            chain = peer_chain(writer)
            assert peer_chain(writer.get_extra_info("ssl_object")) == chain
            writer.close()
            await writer.wait_closed()
        return chain

    chain = asyncio.run(run())
    assert chain == replaced.chain_der
    result = verify(chain, [record(pki, "3 1 1")], HOST)  # S04: TLSA of the old key
    assert not result.matched and "vervangen" in result.explanation


def test_peer_chain_falls_back_to_the_leaf(pki):
    leaf = pki.server_chain(HOST).chain_der[0]

    class LeafOnly:  # no get_unverified_chain, no _sslobj
        def getpeercert(self, binary_form=False):
            return leaf

    assert peer_chain(LeafOnly()) == [leaf]
    assert verify(peer_chain(LeafOnly()), [record(pki, "3 1 1")], HOST).matched
    assert not verify(peer_chain(LeafOnly()), [record(pki, "2 0 1")], HOST).matched
