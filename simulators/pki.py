"""The simulated PKI and key material of the simulated parties.

One root CA and one intermediate CA issue a server certificate chain per mail
host name, with an ECDSA P-256 or an RSA 3072 key (a server may offer both).
Certificates can be issued "broken" on purpose for fault injection
(:class:`CertVariant`). DKIM keys come from here too (:meth:`Pki.dkim_key`).

Everything is reproducible from ``seed``: ECDSA and Ed25519 keys are derived
from it, certificates use fixed serial numbers and validity dates and
deterministic ECDSA signatures (RFC 6979). RSA keys cannot be derived cheaply,
so they are generated once and cached on disk (``cache_dir``). Two processes
with the same seed and cache dir therefore present byte-identical
certificates, so a TLSA record computed in the DNS simulator matches the chain
an SMTP simulator presents, also with selector 0 (full certificate).

Built on ``cryptography``'s X.509 builder rather than trustme: trustme makes
fresh random keys (RSA only 2048 bits) that can be neither cached nor derived.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import os
import re
import ssl
import tempfile
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ketentest.model import Certificaat, DkimKeySpec

#: Default key cache, relative to the repository root (git-ignored).
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / ".ketentest-cache" / "keys"
DEFAULT_SEED = "ketentest"
#: Fixed validity, so certificates are reproducible across processes and runs.
DEFAULT_VALID_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
DEFAULT_VALID_UNTIL = dt.datetime(2045, 1, 1, tzinfo=dt.timezone.utc)
#: SAN of a certificate issued with :attr:`CertVariant.WRONG_NAME`.
WRONG_NAME = "verkeerde-naam.invalid"
SERVER_RSA_BITS = 3072
ORGANIZATION = "Ketentest (gesimuleerd)"


class KeyType(str, Enum):
    ECDSA = "ecdsa"  # P-256
    RSA = "rsa"  # 3072 bits


class CertVariant(str, Enum):
    """How a server certificate is issued; all but VALID are faults."""

    VALID = "valid"
    EXPIRED = "expired"  # validity ended before the PKI's valid_from
    WRONG_NAME = "wrong_name"  # SAN is WRONG_NAME instead of the host name
    SELF_SIGNED = "self_signed"  # same key, signed by itself, no CA chain
    NEW_KEY = "new_key"  # certificate replaced with a fresh key (TLSA 3 1 x no longer matches)
    OTHER_CA = "other_ca"  # issued by another CA, but presented with our intermediate
    REPLACED = "replaced"  # a new key from another CA (changed provider): no TLSA of ours matches
    LEAF_ONLY = "leaf_only"  # the valid leaf, sent without its intermediate

    @property
    def dutch(self) -> str:
        return {
            "valid": "geldig",
            "expired": "verlopen",
            "wrong_name": "verkeerde naam",
            "self_signed": "zelfondertekend",
            "new_key": "vervangen door een nieuwe sleutel",
            "other_ca": "uitgegeven door een andere CA",
            "replaced": "vervangen door een nieuwe sleutel van een andere CA",
            "leaf_only": "zonder tussencertificaat",
        }[self.value]

    @classmethod
    def of(cls, certificaat: Certificaat | str) -> "CertVariant":
        """The variant a keten file's ``certificaat`` asks for."""
        return _KETEN_VARIANTS[Certificaat(certificaat)]


_KETEN_VARIANTS = {
    Certificaat.VALID: CertVariant.VALID, Certificaat.EXPIRED: CertVariant.EXPIRED,
    Certificaat.WRONG_NAME: CertVariant.WRONG_NAME, Certificaat.SELF_SIGNED: CertVariant.SELF_SIGNED,
    Certificaat.LEAF_ONLY: CertVariant.LEAF_ONLY, Certificaat.NEW_KEY: CertVariant.NEW_KEY,
    Certificaat.OTHER_CA: CertVariant.OTHER_CA, Certificaat.REPLACED: CertVariant.REPLACED,
}


@dataclass(frozen=True)
class ServerCredentials:
    """A server's certificate chain and private key, ready for ``ssl``."""

    host: str
    key_type: KeyType
    variant: CertVariant
    chain: tuple[x509.Certificate, ...]  # [leaf, intermediate], or [leaf] if self-signed or leaf-only
    key_pem: bytes  # PKCS#8, unencrypted

    @property
    def cert(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def chain_der(self) -> list[bytes]:
        return [c.public_bytes(serialization.Encoding.DER) for c in self.chain]

    @property
    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def write_pem(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``<host>-<type>-<variant>.crt`` (leaf first, then the chain)
        and ``.key`` into ``directory``; returns (certfile, keyfile)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{self.host}-{self.key_type.value}-{self.variant.value}"
        certfile, keyfile = directory / f"{stem}.crt", directory / f"{stem}.key"
        certfile.write_bytes(self.chain_pem)
        _write_private(keyfile, self.key_pem)
        return certfile, keyfile

    def load_into(self, context: ssl.SSLContext) -> None:
        """``context.load_cert_chain`` needs files: write them to a temporary
        directory, load, and remove them again."""
        with tempfile.TemporaryDirectory(prefix="ketentest-tls-") as tmp:
            certfile, keyfile = self.write_pem(tmp)
            context.load_cert_chain(certfile, keyfile)


@dataclass(frozen=True)
class DkimKey:
    """A DKIM key pair with what the signer and the zone need."""

    domain: str
    selector: str
    algorithm: str  # "rsa" | "ed25519"
    bits: int  # RSA modulus size; 0 for ed25519
    private_key: bytes  # for dkim.sign(privkey=...): PKCS#1 PEM (rsa) or base64 raw 32 bytes (ed25519)
    public_key_b64: str  # the p= value: SPKI DER (rsa, RFC 6376) or raw 32 bytes (ed25519, RFC 8463)

    @property
    def signature_algorithm(self) -> bytes:
        """For dkim.sign(signature_algorithm=...); dkimpy's default is rsa-sha256.
        Ed25519 signing in dkimpy needs PyNaCl."""
        return b"ed25519-sha256" if self.algorithm == "ed25519" else b"rsa-sha256"

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def txt_value(self) -> str:
        return f"v=DKIM1; k={self.algorithm}; p={self.public_key_b64}"

    @property
    def txt_strings(self) -> tuple[str, ...]:
        """The TXT value split into character-strings of at most 255 bytes."""
        value = self.txt_value
        return tuple(value[i:i + 255] for i in range(0, len(value), 255))

    @property
    def txt_rdata(self) -> str:
        """Zone-file rdata: the strings quoted and space-separated."""
        return " ".join(f'"{s}"' for s in self.txt_strings)


class Pki:
    """The simulated PKI of one keten. No work happens in the constructor:
    keys and certificates are made on first use and memoised."""

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        seed: str = DEFAULT_SEED,
        valid_from: dt.datetime = DEFAULT_VALID_FROM,
        valid_until: dt.datetime = DEFAULT_VALID_UNTIL,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
        self.seed = seed
        self.valid_from = valid_from
        self.valid_until = valid_until
        self._keys: dict[tuple[str, str, str, int], object] = {}
        self._servers: dict[tuple[str, KeyType, CertVariant], ServerCredentials] = {}
        self._dkim: dict[tuple[str, DkimKeySpec], DkimKey] = {}

    # --- CAs -------------------------------------------------------------

    @cached_property
    def root_cert(self) -> x509.Certificate:
        key = self._key("ca", "root", "ecdsa", 256)
        name = _name(f"Ketentest Root CA ({self.seed})")
        builder = (
            self._builder(name, name, key.public_key(), "root")
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        return _sign(builder, key)

    @cached_property
    def intermediate_cert(self) -> x509.Certificate:
        return self._intermediate("intermediate", f"Ketentest Mail CA ({self.seed})")

    @property
    def ca_pem(self) -> bytes:
        """The root CA certificate (PEM), e.g. for a PKIX trust store."""
        return self.root_cert.public_bytes(serialization.Encoding.PEM)

    @cached_property
    def _other_intermediate(self) -> x509.Certificate:
        # Same subject as the real intermediate, different key: a leaf it
        # issues looks right by name but does not verify against ours.
        return self._intermediate("other-intermediate", f"Ketentest Mail CA ({self.seed})")

    def _intermediate(self, label: str, cn: str) -> x509.Certificate:
        key = self._key("ca", label, "ecdsa", 256)
        root_key = self._key("ca", "root", "ecdsa", 256)
        builder = (
            self._builder(_name(cn), self.root_cert.subject, key.public_key(), label)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        )
        return _sign(builder, root_key)

    # --- servers ---------------------------------------------------------

    def server_chain(
        self,
        host: str,
        key_type: KeyType | str = KeyType.ECDSA,
        variant: CertVariant | str = CertVariant.VALID,
    ) -> ServerCredentials:
        """The certificate chain and key a mail host presents."""
        host = host.rstrip(".").lower()
        key_type, variant = KeyType(key_type), CertVariant(variant)
        memo = (host, key_type, variant)
        if memo not in self._servers:
            self._servers[memo] = self._issue_server(host, key_type, variant)
        return self._servers[memo]

    def server_chains(self, host: str, variant: CertVariant | str = CertVariant.VALID) -> tuple[ServerCredentials, ...]:
        """Both chains (ECDSA and RSA) of a server that offers both."""
        return tuple(self.server_chain(host, kt, variant) for kt in KeyType)

    def _issue_server(self, host: str, key_type: KeyType, variant: CertVariant) -> ServerCredentials:
        if variant is CertVariant.LEAF_ONLY:
            # The very same leaf as VALID, so every TLSA of the healthy world still describes it.
            valid = self.server_chain(host, key_type, CertVariant.VALID)
            return ServerCredentials(host, key_type, variant, valid.chain[:1], valid.key_pem)
        purpose = "server-new" if variant in (CertVariant.NEW_KEY, CertVariant.REPLACED) else "server"
        bits = SERVER_RSA_BITS if key_type is KeyType.RSA else 256
        key = self._key(purpose, host, key_type.value, bits)
        san = WRONG_NAME if variant is CertVariant.WRONG_NAME else host
        subject = _name(san)
        not_before, not_after = self.valid_from, self.valid_until
        if variant is CertVariant.EXPIRED:
            not_before, not_after = self.valid_from - dt.timedelta(days=400), self.valid_from - dt.timedelta(days=1)

        if variant is CertVariant.SELF_SIGNED:
            issuer_cert, issuer_key, issuer_name = None, key, subject
        elif variant in (CertVariant.OTHER_CA, CertVariant.REPLACED):
            issuer_cert = self._other_intermediate
            issuer_key, issuer_name = self._key("ca", "other-intermediate", "ecdsa", 256), issuer_cert.subject
        else:
            issuer_cert = self.intermediate_cert
            issuer_key, issuer_name = self._key("ca", "intermediate", "ecdsa", 256), issuer_cert.subject

        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=key_type is KeyType.RSA, data_encipherment=False, key_agreement=False,
            key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        )
        builder = (
            self._builder(subject, issuer_name, key.public_key(), f"{purpose}/{host}/{key_type.value}/{variant.value}",
                          not_before, not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                           critical=False)
        )
        leaf = _sign(builder, issuer_key)
        # OTHER_CA: the server sends *our* intermediate along (stale chain file);
        # REPLACED: the new provider's own chain.
        if issuer_cert is None:
            chain = (leaf,)
        else:
            chain = (leaf, issuer_cert if variant is CertVariant.REPLACED else self.intermediate_cert)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return ServerCredentials(host, key_type, variant, chain, key_pem)

    # --- DKIM ------------------------------------------------------------

    def dkim_key(self, domain: str, spec: DkimKeySpec) -> DkimKey:
        """The DKIM key of ``domain`` for one selector (RSA of spec.bits, or Ed25519)."""
        domain = domain.rstrip(".").lower()
        memo = (domain, spec)
        if memo in self._dkim:
            return self._dkim[memo]
        name = f"{spec.selector}._domainkey.{domain}"
        if spec.algorithm == "ed25519":
            key = self._key("dkim", name, "ed25519", 0)
            raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
            pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            result = DkimKey(domain, spec.selector, "ed25519", 0, base64.b64encode(raw), base64.b64encode(pub).decode())
        elif spec.algorithm == "rsa":
            key = self._key("dkim", name, "rsa", spec.bits)
            priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())
            pub = key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
            result = DkimKey(domain, spec.selector, "rsa", spec.bits, priv, base64.b64encode(pub).decode())
        else:
            raise ValueError(f"onbekend DKIM-sleuteltype {spec.algorithm!r} (verwacht: rsa of ed25519)")
        self._dkim[memo] = result
        return result

    # --- keys ------------------------------------------------------------

    def _key(self, purpose: str, name: str, key_type: str, bits: int):
        """One private key per (purpose, name, type, bits): derived from the
        seed for ECDSA/Ed25519, generated once and cached on disk for RSA."""
        memo = (purpose, name, key_type, bits)
        if memo not in self._keys:
            material = _derive(self.seed, *memo)
            if key_type == "ecdsa":
                order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 group order
                scalar = int.from_bytes(hashlib.sha512(material).digest(), "big") % (order - 1) + 1
                key = ec.derive_private_key(scalar, ec.SECP256R1())
            elif key_type == "ed25519":
                key = ed25519.Ed25519PrivateKey.from_private_bytes(material)
            elif key_type == "rsa":
                key = self._cached_rsa(purpose, name, bits)
            else:
                raise ValueError(f"onbekend sleuteltype {key_type!r}")
            self._keys[memo] = key
        return self._keys[memo]

    def _cached_rsa(self, purpose: str, name: str, bits: int) -> rsa.RSAPrivateKey:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", f"{self.seed}--{purpose}--{name}--rsa-{bits}")
        path = self.cache_dir / f"{safe}.pem"
        if not path.exists():
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            # Lock per key: parallel processes (xdist, simulators) must end up
            # with the same key, not each with their own.
            with open(self.cache_dir / f"{safe}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not path.exists():
                    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
                    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
                    tmp = path.with_suffix(f".tmp{os.getpid()}")
                    _write_private(tmp, pem)
                    os.replace(tmp, path)
        # Skip the slow RSA consistency check: the file is our own cache.
        key = serialization.load_pem_private_key(path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True)
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != bits:
            raise ValueError(f"sleutelcache {path} bevat geen RSA-sleutel van {bits} bits; verwijder het bestand")
        return key

    def _builder(self, subject: x509.Name, issuer: x509.Name, public_key, label: str,
                 not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> x509.CertificateBuilder:
        # Serial derived from seed and label: reproducible, positive, < 2^159.
        serial = int.from_bytes(_derive(self.seed, "serial", label, "", 0)[:19], "big") | 1
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(not_before or self.valid_from)
            .not_valid_after(not_after or self.valid_until)
        )


def _derive(seed: str, purpose: str, name: str, key_type: str, bits: int) -> bytes:
    return hashlib.sha256(f"ketentest-pki\0{seed}\0{purpose}\0{name}\0{key_type}\0{bits}".encode()).digest()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                         encipher_only=False, decipher_only=False)


def _sign(builder: x509.CertificateBuilder, key) -> x509.Certificate:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    return builder.sign(key, hashes.SHA256())  # RSA PKCS#1 v1.5: deterministic


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
