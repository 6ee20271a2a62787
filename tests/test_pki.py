"""The simulated PKI: chains, broken variants, key cache, DKIM keys."""

from __future__ import annotations

import base64
import datetime as dt
import ssl
import time

import dkim
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ketentest.config import load_keten
from ketentest.model import DkimKeySpec
from simulators.pki import WRONG_NAME, CertVariant, KeyType, Pki

HOST = "mx1.ggdru.test"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()  # the repo's key cache: RSA keys are generated once


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _sans(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


@pytest.mark.parametrize("key_type, key_class, size", [("ecdsa", ec.EllipticCurvePrivateKey, 256),
                                                       ("rsa", rsa.RSAPrivateKey, 3072)])
def test_valid_chain_leaf_intermediate_root(pki, key_type, key_class, size):
    creds = pki.server_chain(HOST, key_type)
    leaf, inter = creds.chain
    assert _sans(leaf) == [HOST]
    leaf.verify_directly_issued_by(inter)
    inter.verify_directly_issued_by(pki.root_cert)
    pki.root_cert.verify_directly_issued_by(pki.root_cert)
    key = serialization.load_pem_private_key(creds.key_pem, None)
    assert isinstance(key, key_class) and key.key_size == size
    assert _spki(leaf) == key.public_key().public_bytes(serialization.Encoding.DER,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value


def test_server_offers_both_key_types_under_one_ca(pki):
    ecdsa_creds, rsa_creds = pki.server_chains(HOST)
    assert (ecdsa_creds.key_type, rsa_creds.key_type) == (KeyType.ECDSA, KeyType.RSA)
    assert _spki(ecdsa_creds.cert) != _spki(rsa_creds.cert)
    assert ecdsa_creds.chain[1] == rsa_creds.chain[1] == pki.intermediate_cert


def test_reproducible_across_instances_and_seed_dependent(pki, tmp_path):
    again = Pki(pki.cache_dir)
    assert again.server_chain(HOST, "rsa").chain_pem == pki.server_chain(HOST, "rsa").chain_pem
    assert again.server_chain(HOST).chain_pem == pki.server_chain(HOST).chain_pem
    other = Pki(tmp_path, seed="andere-keten")
    assert _spki(other.server_chain(HOST).cert) != _spki(pki.server_chain(HOST).cert)
    assert _spki(other.intermediate_cert) != _spki(pki.intermediate_cert)


def test_rsa_keys_are_cached_on_disk(tmp_path):
    spec = DkimKeySpec("s1", "rsa", 2048)
    first = Pki(tmp_path / "a").dkim_key("x.test", spec)
    assert list((tmp_path / "a").glob("*.pem"))
    assert Pki(tmp_path / "a").dkim_key("x.test", spec).private_key == first.private_key
    # another cache dir is another key: the cache, not the seed, holds RSA keys
    assert Pki(tmp_path / "b").dkim_key("x.test", spec).private_key != first.private_key


def test_expired_variant(pki):
    leaf = pki.server_chain(HOST, variant=CertVariant.EXPIRED).cert
    assert leaf.not_valid_after_utc < pki.valid_from < dt.datetime.now(dt.timezone.utc)
    assert pki.server_chain(HOST).cert.not_valid_after_utc > dt.datetime.now(dt.timezone.utc)


def test_wrong_name_variant(pki):
    assert _sans(pki.server_chain(HOST, variant="wrong_name").cert) == [WRONG_NAME]


def test_self_signed_variant_keeps_key_but_has_no_chain(pki):
    creds = pki.server_chain(HOST, variant=CertVariant.SELF_SIGNED)
    assert len(creds.chain) == 1
    creds.cert.verify_directly_issued_by(creds.cert)
    assert _spki(creds.cert) == _spki(pki.server_chain(HOST).cert)
    with pytest.raises((ValueError, InvalidSignature)):
        creds.cert.verify_directly_issued_by(pki.intermediate_cert)


@pytest.mark.parametrize("key_type", list(KeyType))
def test_new_key_variant_replaces_key_same_ca(pki, key_type):
    new = pki.server_chain(HOST, key_type, CertVariant.NEW_KEY)
    assert _spki(new.cert) != _spki(pki.server_chain(HOST, key_type).cert)
    new.cert.verify_directly_issued_by(pki.intermediate_cert)
    assert _sans(new.cert) == [HOST]


def test_other_ca_variant_is_not_signed_by_presented_intermediate(pki):
    creds = pki.server_chain(HOST, variant=CertVariant.OTHER_CA)
    assert creds.chain[1] == pki.intermediate_cert
    assert creds.cert.issuer == pki.intermediate_cert.subject  # looks right by name...
    with pytest.raises(InvalidSignature):  # ...but the signature says otherwise
        creds.cert.verify_directly_issued_by(creds.chain[1])


@pytest.mark.parametrize("key_type", list(KeyType))
def test_credentials_load_into_ssl_context(pki, tmp_path, key_type):
    creds = pki.server_chain(HOST, key_type)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    creds.load_into(ctx)
    certfile, keyfile = creds.write_pem(tmp_path)
    assert certfile.read_bytes().count(b"BEGIN CERTIFICATE") == 2
    assert keyfile.stat().st_mode & 0o077 == 0
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile)


def test_dkim_rsa_key_signs_and_verifies_with_dkimpy(pki):
    key = pki.dkim_key("ggdru.test", DkimKeySpec("ggd2026", "rsa", 3072))
    assert key.txt_value.startswith("v=DKIM1; k=rsa; p=")
    assert key.record_name == "ggd2026._domainkey.ggdru.test"
    assert all(len(s.encode()) <= 255 for s in key.txt_strings) and len(key.txt_strings) > 1
    assert "".join(key.txt_strings) == key.txt_value
    assert key.txt_rdata.startswith('"v=DKIM1;') and key.txt_rdata.count('" "') == len(key.txt_strings) - 1
    public = serialization.load_der_public_key(base64.b64decode(key.public_key_b64))
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 3072

    msg = b"From: meldpunt@ggdru.test\r\nTo: postkantoor@politie.test\r\nSubject: Kenmerk X\r\n\r\nTekst\r\n"
    signed = dkim.sign(msg, key.selector.encode(), b"ggdru.test", key.private_key,
                       signature_algorithm=key.signature_algorithm) + msg

    def dnsfunc(name, timeout=5):
        return key.txt_value.encode() if name == (key.record_name + ".").encode() else None
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    # and fails with another key in DNS
    other = pki.dkim_key("ggdru.test", DkimKeySpec("ander", "rsa", 3072))
    assert not dkim.verify(signed, dnsfunc=lambda name, timeout=5: other.txt_value.encode())


def test_dkim_ed25519_key_format(pki):
    key = pki.dkim_key("politie.test", DkimKeySpec("pol2026e", "ed25519"))
    assert key.txt_value.startswith("v=DKIM1; k=ed25519; p=") and len(key.txt_strings) == 1
    assert key.signature_algorithm == b"ed25519-sha256"
    private = ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(key.private_key))
    raw_pub = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.b64decode(key.public_key_b64) == raw_pub  # RFC 8463: p= is the raw 32-byte key
    assert Pki(pki.cache_dir).dkim_key("politie.test", DkimKeySpec("pol2026e", "ed25519")) == key


def test_dkim_ed25519_signs_with_dkimpy(pki):
    pytest.importorskip("nacl", reason="dkimpy signs Ed25519 only with PyNaCl installed")
    key = pki.dkim_key("politie.test", DkimKeySpec("pol2026e", "ed25519"))
    msg = b"From: postkantoor@politie.test\r\nTo: meldpunt@ggdru.test\r\nSubject: Kenmerk X\r\n\r\nTekst\r\n"
    signed = dkim.sign(msg, b"pol2026e", b"politie.test", key.private_key,
                       signature_algorithm=key.signature_algorithm) + msg
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: key.txt_value.encode())


def test_unknown_dkim_algorithm_is_refused(pki):
    with pytest.raises(ValueError, match="onbekend DKIM-sleuteltype"):
        pki.dkim_key("x.test", DkimKeySpec("s", "dsa", 1024))


def test_default_keten_material_is_fast_when_cached(pki):
    keten = load_keten()

    def produce(p: Pki) -> int:
        n = 0
        for d in keten.deelnemers:
            for mx in d.domain.mx:
                n += len(p.server_chains(mx.name))
            for spec in d.domain.dkim:
                p.dkim_key(d.domain.name, spec)
                n += 1
        return n

    produce(Pki(pki.cache_dir))  # fill the cache (slow only the very first time)
    start = time.perf_counter()
    n = produce(Pki(pki.cache_dir))
    elapsed = time.perf_counter() - start
    assert n == 16
    assert elapsed < 0.5, f"alle sleutels en certificaten van de standaardketen kostten {elapsed:.2f} s"


def _make_key(cache_dir: str) -> bytes:
    return Pki(cache_dir).dkim_key("x.test", DkimKeySpec("s1", "rsa", 2048)).private_key


def test_parallel_processes_share_one_cached_rsa_key(tmp_path):
    # xdist workers and simulator processes start together on an empty cache
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=3) as pool:
        keys = list(pool.map(_make_key, [str(tmp_path)] * 3))
    assert len(set(keys)) == 1


def test_one_server_offers_both_key_types(pki):
    """Both chains in one SSLContext: OpenSSL picks by what the client accepts."""
    import socket
    import threading

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for creds in pki.server_chains(HOST):
        creds.load_into(server_ctx)
    expected = {kt: pki.server_chain(HOST, kt).cert.public_bytes(serialization.Encoding.DER) for kt in KeyType}
    for key_type, ciphers in ((KeyType.ECDSA, "ECDHE-ECDSA-AES128-GCM-SHA256"),
                              (KeyType.RSA, "ECDHE-RSA-AES128-GCM-SHA256")):
        listener = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.check_hostname, client_ctx.verify_mode = False, ssl.CERT_NONE
        client_ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.2: the cipher suite names the key type
        client_ctx.set_ciphers(ciphers)
        with socket.create_connection(listener.getsockname()) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            assert tls.getpeercert(binary_form=True) == expected[key_type]
        thread.join(timeout=10)
        listener.close()
