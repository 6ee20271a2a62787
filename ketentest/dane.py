"""DANE for SMTP (RFC 7672): TLSA records against a presented certificate chain.

Pure logic, no network: the caller brings the TLSA records (rdata text, as in
:attr:`ketentest.dns.DnsAnswer.records`) and the chain the server presented
(:func:`peer_chain`). Whether the TLSA RRset was DNSSEC-secure is the caller's
judgement (:mod:`ketentest.dns`); this module only matches.

Hand-written on purpose: no maintained Python library does RFC 7672 matching.
The cryptography (hashing, signature checks, X.509 parsing) is ``cryptography``'s.

Choices, per RFC 7672 / RFC 7671:

* DANE-EE(3) matches the leaf only; no name, expiry or issuer checks (3.1.1).
* DANE-TA(2) matches a CA certificate *above the leaf in the presented chain*
  (servers MUST send the TA, 3.1.2). The leaf must chain to it by signature
  through the presented certificates, every certificate below the TA must be
  within its validity period (the TA's own dates are not checked: it is the
  trust point, as with OpenSSL's DANE support), and the leaf must carry the MX
  host name (or another reference name the caller passes, 3.2.3).
* PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP (3.1.3): reported, never
  matched. Unknown selectors and matching types are ignored, and so are
  malformed records (bad hex, a digest of the wrong length, full data that
  is no certificate or public key): unusable everywhere, as OpenSSL's
  ``SSL_dane_tlsa_add`` refuses them.
* Digest agility (RFC 7671, 9): per usage and selector only the strongest
  digest present counts (SHA-512 over SHA-256, Postfix's default
  ``smtp_tls_dane_digests``); weaker digest records are superseded and never
  match. Full data (matching type 0) is exempt, as in OpenSSL.
* :func:`usable_records` is the one definition of "usable" for every caller
  (the B06 judge and the sender).
* :func:`tlsa_rdata` pins, for usage 2, the top certificate of the presented
  chain: with the simulated PKI that is the intermediate CA the server sends
  along. Pinning the root would oblige every server to send the root too.
"""

from __future__ import annotations

import _ssl
import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ketentest.model import TlsaSpec


class Usage(IntEnum):
    PKIX_TA = 0
    PKIX_EE = 1
    DANE_TA = 2
    DANE_EE = 3


class Selector(IntEnum):
    CERT = 0
    SPKI = 1


class Matching(IntEnum):
    FULL = 0
    SHA256 = 1
    SHA512 = 2


_DIGEST_LEN = {Matching.SHA256: 32, Matching.SHA512: 64}
_HEX = re.compile(r"^[0-9A-Fa-f]+$")

CertLike = x509.Certificate | bytes


class TlsaFormatError(ValueError):
    """A TLSA rdata text that cannot be read."""


@dataclass(frozen=True)
class TlsaRecord:
    usage: int
    selector: int
    matching: int
    data: bytes

    @classmethod
    def parse(cls, text: str) -> TlsaRecord:
        """Read rdata text ``"3 1 1 ABCD..."``; the hex may be split by spaces
        (dnspython does so). Raises :class:`TlsaFormatError` (Dutch message)."""
        parts = text.split()
        if len(parts) < 4:
            raise TlsaFormatError(f"te weinig velden in {text!r} (verwacht: usage selector matching data)")
        try:
            usage, selector, matching = (int(p) for p in parts[:3])
        except ValueError:
            raise TlsaFormatError(f"usage, selector en matching moeten getallen zijn in {text!r}") from None
        if not all(0 <= v <= 255 for v in (usage, selector, matching)):
            raise TlsaFormatError(f"usage, selector en matching moeten 0-255 zijn in {text!r}")
        hexdata = "".join(parts[3:])
        if not _HEX.match(hexdata) or len(hexdata) % 2:
            raise TlsaFormatError(f"certificaatgegevens zijn geen geldige hex in {text!r}")
        return cls(usage, selector, matching, bytes.fromhex(hexdata))

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.matching} {self.data.hex().upper()}"

    @property
    def short(self) -> str:
        """For messages: parameters and the first bytes of the data."""
        return f"{self.usage} {self.selector} {self.matching} {self.data.hex().upper()[:16]}…"


class RecordStatus(str, Enum):
    MATCHED = "matched"
    NO_MATCH = "no_match"  # usable, but no presented certificate has this data
    REJECTED = "rejected"  # usage 2: data matched a CA, but chain, dates or name failed
    UNUSABLE = "unusable"  # usage 0/1 (or unknown): not for SMTP
    IGNORED = "ignored"  # unknown selector or matching type
    MALFORMED = "malformed"  # not readable, or digest of the wrong length
    SUPERSEDED = "superseded"  # a stronger digest for the same usage and selector hides it (RFC 7671, 9)

    @property
    def usable(self) -> bool:
        return self in (RecordStatus.MATCHED, RecordStatus.NO_MATCH, RecordStatus.REJECTED)


@dataclass(frozen=True)
class RecordOutcome:
    record: str  # the rdata text as given
    status: RecordStatus
    reason: str  # Dutch
    depth: int | None = None  # chain position of the matched certificate (0 = leaf)
    cause: str = ""  # machine-readable detail for advice: "ta_not_presented", "digest_superseded"


@dataclass(frozen=True)
class DaneResult:
    """The verdict for one presented chain against one TLSA RRset."""

    mx_host: str
    matched: bool
    outcomes: tuple[RecordOutcome, ...]
    explanation: str  # Dutch, for officers and reports
    matched_record: str | None = None
    matched_usage: int | None = None
    depth: int | None = None  # 0: the leaf (usage 3); >0: the trust anchor (usage 2)

    @property
    def usable(self) -> bool:
        """At least one TLSA record is usable for SMTP (usage 2/3, known parameters)."""
        return any(o.status.usable for o in self.outcomes)

    @property
    def unusable_records(self) -> tuple[RecordOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status is RecordStatus.UNUSABLE)


# --- association data and record production ---------------------------------


def _der(cert: CertLike) -> bytes:
    return cert if isinstance(cert, bytes) else cert.public_bytes(serialization.Encoding.DER)


def _cert(cert: CertLike) -> x509.Certificate:
    return cert if isinstance(cert, x509.Certificate) else x509.load_der_x509_certificate(cert)


def association_data(cert: CertLike, selector: int, matching: int) -> bytes:
    """The certificate association data of ``cert`` (RFC 6698 2.1):
    selector 0 the full certificate DER, 1 the SubjectPublicKeyInfo DER;
    matching 0 as is, 1 SHA-256, 2 SHA-512."""
    if selector == Selector.CERT:
        selected = _der(cert)
    elif selector == Selector.SPKI:
        selected = _cert(cert).public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    else:
        raise ValueError(f"onbekende selector {selector}")
    if matching == Matching.FULL:
        return selected
    if matching == Matching.SHA256:
        return hashlib.sha256(selected).digest()
    if matching == Matching.SHA512:
        return hashlib.sha512(selected).digest()
    raise ValueError(f"onbekend matching type {matching}")


def tlsa_rdata(chain: Sequence[CertLike], spec: TlsaSpec) -> str:
    """TLSA rdata text for a server presenting ``chain`` (leaf first).
    Usage 3 and 1 pin the leaf; usage 2 and 0 pin the top certificate of the
    chain (see the module docstring). Usages 0/1 exist only for tests of
    broken configurations."""
    if not chain:
        raise ValueError("lege certificaatketen")
    if spec.usage in (Usage.DANE_EE, Usage.PKIX_EE):
        cert = chain[0]
    elif spec.usage in (Usage.DANE_TA, Usage.PKIX_TA):
        cert = chain[-1]
    else:
        raise ValueError(f"onbekende usage {spec.usage}")
    data = association_data(cert, spec.selector, spec.matching)
    return str(TlsaRecord(spec.usage, spec.selector, spec.matching, data))


def tlsa_records(chains: Iterable[Sequence[CertLike]], specs: Iterable[TlsaSpec]) -> tuple[str, ...]:
    """The TLSA RRset for a server offering several chains (e.g. ECDSA and
    RSA): one record per spec and chain, duplicates dropped, order kept."""
    specs = tuple(specs)
    seen: dict[str, None] = {}
    for chain in chains:
        for spec in specs:
            seen.setdefault(tlsa_rdata(chain, spec), None)
    return tuple(seen)


# --- which records count ------------------------------------------------------

#: Digest strength for agility (RFC 7671, 9); matching type 0 is exempt.
_DIGEST_RANK = {Matching.SHA256: 1, Matching.SHA512: 2}


def _screen_one(text: str) -> TlsaRecord | RecordOutcome:
    """A usable-looking record, or the outcome that rules it out (no chain needed)."""
    try:
        rec = TlsaRecord.parse(text)
    except TlsaFormatError as e:
        return RecordOutcome(text, RecordStatus.MALFORMED, f"onleesbaar: {e}")
    if rec.usage in (Usage.PKIX_TA, Usage.PKIX_EE):
        name = Usage(rec.usage).name.replace("_", "-")
        return RecordOutcome(text, RecordStatus.UNUSABLE,
                             f"usage {rec.usage} ({name}) is voor SMTP niet bruikbaar (RFC 7672, 3.1.3)")
    if rec.usage not in (Usage.DANE_TA, Usage.DANE_EE):
        return RecordOutcome(text, RecordStatus.UNUSABLE, f"onbekende usage {rec.usage}")
    if rec.selector not in (0, 1) or rec.matching not in (0, 1, 2):
        return RecordOutcome(text, RecordStatus.IGNORED,
                             f"onbekende selector {rec.selector} of matching type {rec.matching}: genegeerd")
    want = _DIGEST_LEN.get(Matching(rec.matching))
    if want is not None and len(rec.data) != want:
        return RecordOutcome(text, RecordStatus.MALFORMED,
                             f"de hash is {len(rec.data)} bytes, {Matching(rec.matching).name} hoort {want} bytes")
    if rec.matching == Matching.FULL:
        try:
            if rec.selector == Selector.CERT:
                x509.load_der_x509_certificate(rec.data)
            else:
                serialization.load_der_public_key(rec.data)
        except (ValueError, TypeError):
            what = "certificaat" if rec.selector == Selector.CERT else "publieke sleutel (SubjectPublicKeyInfo)"
            return RecordOutcome(text, RecordStatus.MALFORMED, f"de volledige gegevens zijn geen geldig {what}")
    return rec


def screen(records: Sequence[str]) -> tuple[TlsaRecord | RecordOutcome, ...]:
    """Pure: per record (same order) the parsed record when it counts, or the
    outcome that rules it out: malformed, unusable, ignored, or superseded by
    a stronger digest for the same usage and selector (RFC 7671, 9)."""
    first = [_screen_one(t) for t in records]
    best: dict[tuple[int, int], int] = {}
    for r in first:
        if isinstance(r, TlsaRecord) and r.matching in _DIGEST_RANK:
            key = (r.usage, r.selector)
            best[key] = max(best.get(key, 0), _DIGEST_RANK[Matching(r.matching)])
    out: list[TlsaRecord | RecordOutcome] = []
    for text, r in zip(records, first):
        if isinstance(r, TlsaRecord) and r.matching in _DIGEST_RANK \
                and _DIGEST_RANK[Matching(r.matching)] < best[(r.usage, r.selector)]:
            stronger = next(m for m, rank in _DIGEST_RANK.items() if rank == best[(r.usage, r.selector)])
            r = RecordOutcome(text, RecordStatus.SUPERSEDED,
                              f"genegeerd: er staat ook een {r.usage} {r.selector} {int(stronger)}-record "
                              f"({stronger.name.replace('SHA', 'SHA-')}) en verzenders gebruiken per usage en "
                              f"selector alleen de sterkste hash (RFC 7671, 9)", cause="digest_superseded")
        out.append(r)
    return tuple(out)


def usable_records(records: Sequence[str]) -> tuple[TlsaRecord, ...]:
    """Pure: the records a DANE sender uses (usage 2/3, known selector and
    matching type, well-formed, not superseded), in the given order."""
    return tuple(r for r in screen(records) if isinstance(r, TlsaRecord))


def describe_unusable(records: Sequence[str]) -> str:
    """Dutch: why none of ``records`` is usable (one clause per record)."""
    return "; ".join(f"{_short(o.record)}: {o.reason}" for o in screen(records) if isinstance(o, RecordOutcome))


# --- names ------------------------------------------------------------------


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def cert_names(cert: x509.Certificate) -> list[str]:
    """The DNS names a certificate is for: its SAN dNSNames, or, only when it
    has none, its subject CN (RFC 6125 6.4.4)."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = sans.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    if names:
        return [_norm(n) for n in names]
    return [_norm(str(a.value)) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]


def name_matches(pattern: str, hostname: str) -> bool:
    """RFC 7672 3.2.3 / RFC 6125 6.4.3: exact (case-insensitive), or ``*`` as
    the whole left-most label standing for exactly one label. Partial-label
    wildcards (``mx*.example``) and wildcards directly under a TLD are refused."""
    pattern, hostname = _norm(pattern), _norm(hostname)
    if not pattern or not hostname:
        return False
    if "*" not in pattern:
        return pattern == hostname
    first, _, rest = pattern.partition(".")
    if first != "*" or "*" in rest or rest.count(".") < 1:
        return False
    label, _, host_rest = hostname.partition(".")
    return bool(label) and host_rest == rest


# --- verification -----------------------------------------------------------


def verify(
    chain_der: Sequence[bytes],
    tlsa_records: Sequence[str],
    mx_host: str,
    *,
    names: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> DaneResult:
    """Match the presented chain (DER, leaf first) against TLSA rdata texts.

    ``names`` are further reference names for usage 2 besides ``mx_host``
    (RFC 7672 3.2.3: the TLSA base domain after CNAME expansion, the MX
    owner). ``now`` is the keten clock for usage 2 validity checks."""
    now = now or dt.datetime.now(dt.timezone.utc)
    references = [_norm(mx_host), *(_norm(n) for n in names)]

    if not tlsa_records:
        return DaneResult(mx_host, False, (), f"Er zijn geen TLSA-records voor {mx_host}: geen DANE.")
    if not chain_der:
        outcomes = tuple(RecordOutcome(r, RecordStatus.NO_MATCH, "de server presenteerde geen certificaat")
                         for r in tlsa_records)
        return DaneResult(mx_host, False, outcomes, f"De server {mx_host} presenteerde geen certificaat.")
    try:
        chain = [x509.load_der_x509_certificate(der) for der in chain_der]
    except ValueError as e:
        outcomes = tuple(RecordOutcome(r, RecordStatus.NO_MATCH, "certificaatketen onleesbaar") for r in tlsa_records)
        return DaneResult(mx_host, False, outcomes,
                          f"De certificaatketen van {mx_host} is onleesbaar ({e}).")

    outcomes = tuple(r if isinstance(r, RecordOutcome) else _judge(text, r, chain, list(chain_der), references, now)
                     for text, r in zip(tlsa_records, screen(tlsa_records)))
    for o in outcomes:
        if o.status is RecordStatus.MATCHED:
            usage = int(o.record.split()[0])
            kind = "het servercertificaat (DANE-EE)" if usage == Usage.DANE_EE else \
                f"de CA op positie {o.depth} van de keten (DANE-TA)"
            return DaneResult(mx_host, True, outcomes,
                              f"TLSA-record {TlsaRecord.parse(o.record).short} komt overeen met {kind} van {mx_host}.",
                              matched_record=o.record, matched_usage=usage, depth=o.depth)
    return DaneResult(mx_host, False, outcomes, _explain_failure(mx_host, outcomes))


def _judge(text: str, rec: TlsaRecord, chain: list[x509.Certificate], chain_der: list[bytes],
           references: list[str], now: dt.datetime) -> RecordOutcome:
    def matches(i: int) -> bool:
        return association_data(chain_der[i], rec.selector, rec.matching) == rec.data

    if rec.usage == Usage.DANE_EE:
        if matches(0):
            return RecordOutcome(text, RecordStatus.MATCHED, "komt overeen met het servercertificaat", depth=0)
        return RecordOutcome(text, RecordStatus.NO_MATCH,
                             "komt niet overeen met het servercertificaat (is het certificaat vervangen "
                             "zonder het TLSA-record bij te werken?)")

    # DANE-TA: a CA certificate above the leaf in the presented chain.
    candidates = [i for i in range(1, len(chain)) if matches(i)]
    if not candidates:
        if matches(0):
            reason = "komt overeen met het servercertificaat zelf, maar usage 2 hoort bij een CA-certificaat"
        elif len(chain) == 1:
            return RecordOutcome(text, RecordStatus.NO_MATCH,
                                 "de server stuurt geen CA-certificaat mee (alleen het servercertificaat), dus er "
                                 "is geen trust anchor om mee te vergelijken", cause="ta_not_presented")
        else:
            reason = "komt met geen enkel CA-certificaat in de gepresenteerde keten overeen"
        return RecordOutcome(text, RecordStatus.NO_MATCH, reason)
    problems = []
    for ta in candidates:
        problem = _chain_problem(chain, ta, now) or _name_problem(chain[0], references)
        if problem is None:
            return RecordOutcome(text, RecordStatus.MATCHED, f"komt overeen met de CA op positie {ta}", depth=ta)
        problems.append(problem)
    return RecordOutcome(text, RecordStatus.REJECTED, "; ".join(problems), depth=candidates[0])


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _chain_problem(chain: list[x509.Certificate], ta: int, now: dt.datetime) -> str | None:
    """Why chain[0] does not chain to chain[ta] (None: it does)."""
    for k in range(ta):
        child, issuer = chain[k], chain[k + 1]
        try:
            constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = constraints.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            return f"{_subject(issuer)} is geen CA-certificaat"
        try:
            child.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            what = "het servercertificaat" if k == 0 else _subject(child)
            return f"{what} is niet ondertekend door {_subject(issuer)} (de keten leidt niet naar de trust anchor)"
    for k in range(ta):  # every certificate below the TA must be valid now
        cert = chain[k]
        if now < cert.not_valid_before_utc:
            return f"{_subject(cert)} is pas geldig vanaf {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        if now > cert.not_valid_after_utc:
            return f"{_subject(cert)} is verlopen op {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    return None


def _name_problem(leaf: x509.Certificate, references: list[str]) -> str | None:
    names = cert_names(leaf)
    if any(name_matches(p, ref) for p in names for ref in references):
        return None
    shown = ", ".join(names) or "(geen)"
    return f"de naam in het servercertificaat ({shown}) past niet bij {', '.join(references)}"


def _explain_failure(mx_host: str, outcomes: tuple[RecordOutcome, ...]) -> str:
    details = "; ".join(f"{_short(o.record)}: {o.reason}" for o in outcomes)
    if not any(o.status.usable for o in outcomes):
        return (f"Geen bruikbaar TLSA-record voor {mx_host} (alleen usage 0/1, onbekende, onleesbare of "
                f"verdrongen records), dus geen DANE-authenticatie: {details}.")
    return f"Geen enkel TLSA-record van {mx_host} komt overeen met de gepresenteerde certificaatketen: {details}."


def _short(text: str) -> str:
    try:
        return TlsaRecord.parse(text).short
    except TlsaFormatError:
        return text if len(text) <= 24 else text[:24] + "…"


# --- the presented chain ----------------------------------------------------


def peer_chain(conn: Any) -> list[bytes]:
    """The certificate chain the peer presented (DER, leaf first), unverified.

    Takes an ``ssl.SSLSocket``, an ``ssl.SSLObject`` (asyncio), or anything
    with ``get_extra_info("ssl_object")`` (asyncio transport, StreamWriter).
    Python 3.13 has a public ``get_unverified_chain()``; on 3.11 it exists
    only on the private ``_sslobj``. Without either, only the leaf is
    returned (enough for usage 3, not for usage 2)."""
    if hasattr(conn, "get_extra_info"):
        conn = conn.get_extra_info("ssl_object")
        if conn is None:
            return []
    getter = getattr(conn, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(conn, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        chain = getter()
        if chain:
            return [c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER) for c in chain]
    leaf = conn.getpeercert(binary_form=True)
    return [leaf] if leaf else []
