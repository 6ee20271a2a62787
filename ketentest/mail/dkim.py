"""DKIM signing (and verification, for checks and tests) with dkimpy.

A domain signs with every selector it has (e.g. RSA and Ed25519, RFC 8463):
each key adds one DKIM-Signature over the same message. relaxed/relaxed
canonicalisation. Every header the chain relies on (:data:`CHAIN_HEADERS`:
From, To, Subject, Date, Message-ID, X-Kenmerk, X-Berichtsoort, the reply
and status headers) is over-signed: listed once more than present, so nobody
can put a second instance in front of it unnoticed (RFC 6376 8.15). A
verifier takes the *last* instance and a reader often the *first*; without
over-signing, an added ``X-Kenmerk`` relabels a genuinely signed message.

Ed25519 in dkimpy needs PyNaCl. RSA signatures come from OpenSSL (through
``cryptography``) instead of dkimpy's pure-Python arithmetic: the same bytes,
about 20 times faster (see :func:`_rsa_sign`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import dkim
import dkim.crypto
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ketentest.dns import DnsAnswer, Lookup
from ketentest.errors import InfrastructureError
from ketentest.mail.compose import CHAIN_HEADERS

try:  # dkimpy signs and verifies Ed25519 (RFC 8463) only with PyNaCl
    import nacl.signing  # noqa: F401

    _HAVE_NACL = True
except ImportError:
    _HAVE_NACL = False

#: Signed when present (lower case, RFC 6376 5.4.1 and the MIME headers).
SIGNED_HEADERS = (
    "from", "to", "cc", "subject", "date", "message-id", "reply-to", "in-reply-to", "references",
    "mime-version", "content-type", "content-transfer-encoding", "x-kenmerk", "x-berichtsoort",
    "x-terugkoppeling-status",
)
#: Signed one extra time, so adding another instance breaks the signature.
OVERSIGNED_HEADERS = CHAIN_HEADERS


class SigningKey(Protocol):
    """What a signer needs; ``simulators.pki.DkimKey`` has exactly this."""

    domain: str
    selector: str
    private_key: bytes  # PKCS#1 PEM (rsa) or base64 of the raw 32 bytes (ed25519)

    @property
    def signature_algorithm(self) -> bytes: ...  # b"rsa-sha256" | b"ed25519-sha256"


def sign(message: bytes, keys: Sequence[SigningKey], *, oversign: bool = True) -> bytes:
    """The message with one DKIM-Signature per key prepended (first key on top).
    ``oversign=False`` signs each header only as often as it occurs: a defect
    (V03 catches it), kept so the harness can show what it allows."""
    if not keys:
        raise ValueError("geen DKIM-sleutels om mee te ondertekenen")
    include = _include_headers(message, oversign)
    signatures = []
    for key in keys:
        if key.signature_algorithm == b"ed25519-sha256" and not _HAVE_NACL:
            raise InfrastructureError(
                f"DKIM-sleutel {key.selector}._domainkey.{key.domain} is Ed25519, maar PyNaCl ontbreekt",
                "installeer dkimpy met Ed25519-ondersteuning: pip install 'dkimpy[ed25519]'")
        signatures.append(dkim.sign(
            message,
            key.selector.encode(),
            key.domain.encode(),
            key.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=key.signature_algorithm,
            include_headers=include,
            linesep=b"\r\n",
        ))
    return b"".join(signatures) + message


# --- RSA signing through OpenSSL ----------------------------------------------------
# dkimpy signs RSA with Python's big-int pow (dkim/crypto.py): ~33 ms per
# signature with a 3072-bit key, three per melding in the keten. PKCS#1 v1.5
# signatures are deterministic, so OpenSSL gives the very same bytes in ~1 ms.
# dkimpy's signer calls the module-level name ``dkim.RSASSA_PKCS1_v1_5_sign``;
# only that name is replaced. Anything OpenSSL refuses (an odd key, an unknown
# hash) goes to dkimpy's own code, which raises its own errors. Verifying stays
# dkimpy's (public exponent 65537: cheap).

_DKIMPY_RSA_SIGN = dkim.crypto.RSASSA_PKCS1_v1_5_sign
_HASHES = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}
_OPENSSL_KEYS: dict[tuple[int, int], rsa.RSAPrivateKey] = {}


def _rsa_sign(digest, private_key: dict) -> bytes:
    """RSASSA-PKCS1-v1_5 of dkimpy's hash object with dkimpy's parsed key."""
    algorithm = _HASHES.get(digest.name.lower())
    if algorithm is None:
        return _DKIMPY_RSA_SIGN(digest, private_key)
    ident = (private_key["modulus"], private_key["privateExponent"])
    try:
        key = _OPENSSL_KEYS.get(ident)
        if key is None:
            pk = private_key
            key = rsa.RSAPrivateNumbers(
                p=pk["prime1"], q=pk["prime2"], d=pk["privateExponent"], dmp1=pk["exponent1"],
                dmq1=pk["exponent2"], iqmp=pk["coefficient"],
                public_numbers=rsa.RSAPublicNumbers(pk["publicExponent"], pk["modulus"])).private_key()
            _OPENSSL_KEYS[ident] = key
        return key.sign(digest.digest(), padding.PKCS1v15(), Prehashed(algorithm()))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return _DKIMPY_RSA_SIGN(digest, private_key)


dkim.RSASSA_PKCS1_v1_5_sign = _rsa_sign


def _include_headers(message: bytes, oversign: bool = True) -> list[bytes]:
    counts = Counter(name.lower().decode() for name, _ in dkim.DKIM(message).headers)
    include = [h for h in SIGNED_HEADERS for _ in range(counts[h])]
    if oversign:
        include += [h for h in OVERSIGNED_HEADERS if counts[h]]
    return [h.encode() for h in include]


def signed_header_names(signature_value: str | bytes) -> list[str]:
    """The ``h=`` list of one DKIM-Signature value, lower case, in order
    (empty when the value does not parse)."""
    raw = signature_value.encode() if isinstance(signature_value, str) else signature_value
    try:
        tags = dkim.parse_tag_value(b"".join(raw.split()))
    except (dkim.InvalidTagValueList, ValueError):
        return []
    return [h.strip().lower() for h in tags.get(b"h", b"").decode("ascii", "replace").split(":") if h.strip()]


def unprotected_headers(present: Counter, signed: Sequence[str]) -> list[str]:
    """Chain headers of a message (``present``: lower-case name -> count) that
    a signature over ``signed`` (its h= list) does not over-sign, so one more
    instance could be added without breaking it. Empty: all protected."""
    listed = Counter(h.lower() for h in signed)
    return [h for h in CHAIN_HEADERS if present[h] and listed[h] <= present[h]]


# --- verification -------------------------------------------------------------


@dataclass(frozen=True)
class DkimCheck:
    """The verdict on one DKIM-Signature of a message."""

    domain: str
    selector: str
    algorithm: str
    ok: bool
    reason: str  # Dutch
    key_answer: DnsAnswer | None = None  # the TXT look-up of the key, with its DNSSEC state


def dnsfunc(lookup: Lookup, answers: dict[str, DnsAnswer] | None = None) -> Callable[..., bytes | None]:
    """A dkimpy ``dnsfunc`` that asks the keten's validating resolver (not the
    system's). Records each answer in ``answers`` (by name) for reports."""

    def txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        qname = (name.decode() if isinstance(name, bytes) else name).rstrip(".")
        answer = lookup(qname, "TXT")
        if answers is not None:
            answers[qname.lower()] = answer
        strings = answer.txt_strings()
        return strings[0].encode() if strings else None

    return txt


def verify_all(message: bytes, lookup: Lookup) -> tuple[DkimCheck, ...]:
    """Verify every DKIM-Signature (not only the first), keys looked up via ``lookup``."""
    checker = dkim.DKIM(message)
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    out = []
    for idx in range(count):
        answers: dict[str, DnsAnswer] = {}
        checker = dkim.DKIM(message)
        try:
            ok = checker.verify(idx=idx, dnsfunc=dnsfunc(lookup, answers))
            reason = "handtekening klopt" if ok else "handtekening klopt niet"
        except dkim.DKIMException as e:
            ok, reason = False, f"handtekening onbruikbaar: {e}"
        tags = _tags(checker, idx)
        domain, selector = tags.get("d", ""), tags.get("s", "")
        key_answer = answers.get(f"{selector}._domainkey.{domain}".lower())
        if not ok and key_answer is not None and not key_answer.records:
            reason = f"sleutel niet gevonden: {key_answer.describe()}"
        out.append(DkimCheck(domain, selector, tags.get("a", ""), bool(ok), reason, key_answer))
    return tuple(out)


def _tags(checker: dkim.DKIM, idx: int) -> dict[str, str]:
    sigs = [value for name, value in checker.headers if name.lower() == b"dkim-signature"]
    try:
        parsed = dkim.parse_tag_value(sigs[idx])
    except (dkim.InvalidTagValueList, IndexError):
        return {}
    return {k.decode(): v.decode(errors="replace") for k, v in parsed.items()}
