"""NCSC TLS ratings as table values (ICT-beveiligingsrichtlijnen voor TLS),
for the B05 STARTTLS check. Pure data and lookups, no I/O.

A cipher suite is rated by its parts: key exchange, authentication, bulk
cipher and MAC, each looked up in a table; the suite gets the worst of them
(the weakest part decides). Our stance, per docs/afspraken.md and
references.md: CBC suites and static RSA key exchange are "uitfaseren" at
best, even where NCSC's own table is milder for CBC.

Suite names are IANA names (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``), as
sslyze reports them.
"""

from __future__ import annotations

import re
from enum import Enum


class Rating(str, Enum):
    GOED = "goed"
    VOLDOENDE = "voldoende"
    UITFASEREN = "uitfaseren"
    ONVOLDOENDE = "onvoldoende"

    @property
    def rank(self) -> int:
        """0 best ... 3 worst."""
        return _ORDER.index(self)


_ORDER = [Rating.GOED, Rating.VOLDOENDE, Rating.UITFASEREN, Rating.ONVOLDOENDE]


def worst_rating(ratings) -> Rating:
    return max(ratings, key=lambda r: r.rank, default=Rating.GOED)


G, V, U, O = Rating.GOED, Rating.VOLDOENDE, Rating.UITFASEREN, Rating.ONVOLDOENDE

#: TLS protocol versions. B05 itself allows only 1.3 and 1.2 (<= 1.1 fails).
TLS_VERSIONS: dict[str, Rating] = {
    "TLSv1.3": G, "TLSv1.2": V, "TLSv1.1": U, "TLSv1.0": U, "SSLv3": O, "SSLv2": O,
}

#: Key exchange part of a TLS <= 1.2 suite name (between TLS_ and _WITH_).
KEY_EXCHANGE: dict[str, Rating] = {
    "ECDHE_ECDSA": G, "ECDHE_RSA": G,
    "DHE_RSA": V, "DHE_DSS": O,  # DHE: the group decides further (see GROUPS / dh_rating)
    "RSA": U,  # static RSA: no forward secrecy
    "ECDHE_PSK": O, "DHE_PSK": O, "RSA_PSK": O, "PSK": O,
    "ECDH_ECDSA": O, "ECDH_RSA": O, "DH_RSA": O, "DH_DSS": O,  # static (EC)DH
    "ECDH_anon": O, "DH_anon": O,  # no authentication
    "SRP_SHA": O, "SRP_SHA_RSA": O, "SRP_SHA_DSS": O, "KRB5": O,
    "RSA_EXPORT": O, "RSA_EXPORT1024": O, "DHE_RSA_EXPORT": O, "DHE_DSS_EXPORT": O, "DH_anon_EXPORT": O,
    "ECCPWD": O, "GOSTR341112_256": O,
}

#: Bulk cipher (and mode) part, matched as a prefix of the part after _WITH_.
BULK: dict[str, Rating] = {
    "AES_256_GCM": G, "AES_128_GCM": G, "CHACHA20_POLY1305": G,
    "AES_256_CCM_8": O, "AES_128_CCM_8": O,
    "AES_256_CCM": V, "AES_128_CCM": V,
    "AES_256_CBC": U, "AES_128_CBC": U,  # CBC: uitfaseren at best
    "3DES_EDE_CBC": U,
    "CAMELLIA_256_GCM": O, "CAMELLIA_128_GCM": O, "CAMELLIA_256_CBC": O, "CAMELLIA_128_CBC": O,
    "ARIA_256_GCM": O, "ARIA_128_GCM": O, "ARIA_256_CBC": O, "ARIA_128_CBC": O,
    "SEED_CBC": O, "IDEA_CBC": O, "DES_CBC": O, "DES40_CBC": O, "DES_CBC_40": O,
    "RC4_128": O, "RC4_40": O, "RC2_CBC_40": O, "NULL": O,
}

#: MAC / PRF hash (last part of the name).
MAC: dict[str, Rating] = {"SHA384": G, "SHA256": G, "SHA": U, "MD5": O}

#: TLS 1.3 suites (fixed names).
TLS13_SUITES: dict[str, Rating] = {
    "TLS_AES_256_GCM_SHA384": G, "TLS_CHACHA20_POLY1305_SHA256": G, "TLS_AES_128_GCM_SHA256": G,
    "TLS_AES_128_CCM_SHA256": V, "TLS_AES_128_CCM_8_SHA256": O,
}

#: Key exchange groups (sslyze's curve names and IANA group names).
GROUPS: dict[str, Rating] = {
    "X25519": G, "X448": G, "secp256r1": G, "prime256v1": G, "secp384r1": G, "secp521r1": G,
    "X25519MLKEM768": G, "SecP256r1MLKEM768": G,  # hybrid post-quantum groups
    "ffdhe4096": U, "ffdhe3072": U, "ffdhe6144": U, "ffdhe8192": U,
    "ffdhe2048": O,
}

#: Finite-field DH with a custom group: at least 3072 bits is "uitfaseren", less "onvoldoende".
DH_MIN_BITS = 3072

#: Certificate public keys.
RSA_GOOD_BITS = 3072
RSA_PHASE_OUT_BITS = 2048
EC_CURVES: dict[str, Rating] = {"secp256r1": G, "prime256v1": G, "secp384r1": G, "secp521r1": G}
EDDSA: dict[str, Rating] = {"Ed25519": G, "Ed448": G}

#: Hash algorithm of a certificate signature (None: EdDSA, which hashes internally).
SIGNATURE_HASHES: dict[str | None, Rating] = {
    "sha512": G, "sha384": G, "sha256": G, None: G,
    "sha224": O, "sha1": O, "md5": O, "md2": O,
}

_SUITE = re.compile(r"^(?:TLS|SSL)_(?P<kx>.+?)_WITH_(?P<rest>.+)$")


def suite_rating(name: str) -> tuple[Rating, str]:
    """Pure: an IANA suite name -> its rating and the weakest part (Dutch)."""
    if name in TLS13_SUITES:
        return TLS13_SUITES[name], "TLS 1.3-suite"
    m = _SUITE.match(name)
    if not m:
        return O, f"onbekende cipher suite {name}"
    kx, rest = m["kx"], m["rest"]
    parts: list[tuple[Rating, str]] = [(KEY_EXCHANGE.get(kx, O), f"sleuteluitwisseling {kx}")]
    bulk = next((b for b in sorted(BULK, key=len, reverse=True) if rest.startswith(b)), None)
    parts.append((BULK[bulk], f"versleuteling {bulk}") if bulk else (O, f"onbekende versleuteling {rest}"))
    mac = rest.rsplit("_", 1)[-1]
    if bulk is None or not bulk.endswith(("GCM", "POLY1305", "CCM", "CCM_8")):
        parts.append((MAC.get(mac, O), f"MAC {mac}"))
    if kx == "RSA":
        parts.append((U, "statische RSA-sleuteluitwisseling (geen forward secrecy)"))
    worst = max(parts, key=lambda p: p[0].rank)
    return worst


def group_rating(group: str) -> Rating:
    """Pure: a named key exchange group; "DH-<bits>" for a custom DH group."""
    if group in GROUPS:
        return GROUPS[group]
    if group.startswith("DH-"):
        return dh_rating(int(group[3:]))
    return O


def dh_rating(bits: int) -> Rating:
    return U if bits >= DH_MIN_BITS else O


def cert_key_rating(key_type: str, size: int = 0, curve: str | None = None) -> Rating:
    """Pure: a certificate's public key ("RSA", "EC", "Ed25519", "Ed448", "DSA")."""
    if key_type == "RSA":
        return G if size >= RSA_GOOD_BITS else U if size >= RSA_PHASE_OUT_BITS else O
    if key_type == "EC":
        return EC_CURVES.get(curve or "", O)
    return EDDSA.get(key_type, O)


def signature_rating(hash_name: str | None) -> Rating:
    return SIGNATURE_HASHES.get(hash_name.lower() if hash_name else None, O)


def version_rating(version: str) -> Rating:
    return TLS_VERSIONS.get(version, O)
