"""ketentest.mail.dkim signs RSA through OpenSSL instead of dkimpy's pure-Python
arithmetic (issue 14): the signatures must be the very same bytes, and
dkimpy's own verifier must accept them."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from types import SimpleNamespace

import dkim
import dkim.crypto
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ketentest.mail import dkim as kdkim
from ketentest.mail.compose import compose_melding

PDF = b"%PDF-1.7\n% test\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


@dataclass(frozen=True)
class Key:
    domain: str
    selector: str
    private_key: bytes
    public_b64: str
    signature_algorithm: bytes = b"rsa-sha256"


def rsa_key(bits: int) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return Key("politie.test", f"s{bits}", pem, base64.b64encode(public).decode())


@pytest.fixture(scope="module", params=[1024, 2048, 3072])
def key(request) -> Key:
    return rsa_key(request.param)


def test_the_patched_name_is_the_one_dkimpy_signs_with():
    assert dkim.RSASSA_PKCS1_v1_5_sign is kdkim._rsa_sign
    assert dkim.crypto.RSASSA_PKCS1_v1_5_sign is kdkim._DKIMPY_RSA_SIGN


@pytest.mark.parametrize("name", ["sha256", "sha1"])
def test_openssl_signature_is_byte_identical_to_dkimpys(key, name):
    pk = dkim.crypto.parse_pem_private_key(key.private_key)
    for _ in range(20):
        digest = hashlib.new(name, os.urandom(64))
        assert bytes(kdkim._rsa_sign(digest, pk)) == bytes(kdkim._DKIMPY_RSA_SIGN(digest, pk))


def test_signed_message_is_identical_and_verifies_with_dkimpy(key, monkeypatch):
    message = compose_melding("MN-2026-000001", PDF, sender="postkantoor@politie.test",
                              recipient="meldpunt@ggdru.test").data
    monkeypatch.setattr(dkim, "time", SimpleNamespace(time=lambda: 1_800_000_000))  # fixed t=
    fast = kdkim.sign(message, [key])
    monkeypatch.setattr(dkim, "RSASSA_PKCS1_v1_5_sign", kdkim._DKIMPY_RSA_SIGN)
    slow = kdkim.sign(message, [key])
    assert fast == slow

    def dns(name, timeout=5):
        assert name.decode().rstrip(".") == f"{key.selector}._domainkey.{key.domain}"
        return f"v=DKIM1; k=rsa; p={key.public_b64}".encode()

    assert dkim.DKIM(fast).verify(dnsfunc=dns)
    tampered = fast.replace(b"MN-2026-000001", b"MN-2026-000002")
    try:
        ok = dkim.DKIM(tampered).verify(dnsfunc=dns)
    except dkim.ValidationError:  # dkimpy raises on a body hash mismatch
        ok = False
    assert not ok


def test_a_key_openssl_refuses_falls_back_to_dkimpy(monkeypatch):
    """Anything OpenSSL will not do goes to dkimpy's own code (and its errors)."""
    key = rsa_key(1024)
    pk = dkim.crypto.parse_pem_private_key(key.private_key)
    broken = {**pk, "coefficient": pk["coefficient"] + 1}  # inconsistent CRT value: OpenSSL refuses the key
    digest = hashlib.sha256(b"x")
    calls = []
    monkeypatch.setattr(kdkim, "_DKIMPY_RSA_SIGN", lambda d, p: calls.append(p) or b"dkimpy")
    assert kdkim._rsa_sign(digest, broken) == b"dkimpy"
    assert calls == [broken]
