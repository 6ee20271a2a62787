"""The NCSC TLS profile as a value: what our simulated servers and clients
offer, and what a variant offers when a scenario breaks it on purpose.

NCSC "ICT-beveiligingsrichtlijnen voor TLS": TLS 1.3 goed, 1.2 voldoende;
ECDHE with AES-GCM or ChaCha20-Poly1305 goed. Python's default server context
accepts CBC suites under TLS 1.2, so every context here is built explicitly.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass

#: TLS 1.2 suites NCSC rates "goed" (TLS 1.3 suites are all AEAD and fine).
GOOD_TLS12_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
])
#: CBC suites only ("uitfaseren"): a deliberately weakened server.
CBC_TLS12_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
])
#: The SHA-1 CBC suites TLS 1.0 and 1.1 need (only offered at security level 0).
LEGACY_CIPHERS = "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"


@dataclass(frozen=True)
class TlsProfile:
    name: str
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    ciphers: str = GOOD_TLS12_CIPHERS
    # OpenSSL security level; 0 is needed to offer TLS 1.0/1.1 at all.
    seclevel: int = 2
    #: Leave TLS 1.1 out between minimum and maximum (OpenSSL's OP_NO_TLSv1_1).
    skip_tls11: bool = False
    #: Dutch, for the keten file's documentation and reports.
    beschrijving: str = ""

    def openssl_ciphers(self) -> str:
        return f"{self.ciphers}:@SECLEVEL={self.seclevel}"


NCSC_GOED = TlsProfile("ncsc-goed", beschrijving="TLS 1.3 en 1.2, alleen NCSC-goede suites (ECDHE met AES-GCM of ChaCha20)")
ONLY_TLS10_11 = TlsProfile("alleen-tls1.0-1.1", ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, LEGACY_CIPHERS, 0,
                           beschrijving="alleen TLS 1.0 en 1.1 (B05 faalt)")
ONLY_TLS11 = TlsProfile("alleen-tls1.1", ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1, LEGACY_CIPHERS, 0,
                        beschrijving="alleen TLS 1.1 (B05 faalt)")
TLS10_BESIDE_12_13 = TlsProfile("tls1.0-naast-1.2-1.3", ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3,
                                f"{GOOD_TLS12_CIPHERS}:{LEGACY_CIPHERS}", 0, skip_tls11=True,
                                beschrijving="TLS 1.3 en 1.2, maar ook nog TLS 1.0 (B05 faalt)")
ONLY_CBC = TlsProfile("alleen-cbc", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, CBC_TLS12_CIPHERS,
                      beschrijving="alleen TLS 1.2 met CBC-suites (uitfaseren: B05 waarschuwt)")
ONLY_TLS12 = TlsProfile("alleen-tls1.2", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                        beschrijving="alleen TLS 1.2 met NCSC-goede suites (voldoende: B05 slaagt)")
ONLY_TLS13 = TlsProfile("alleen-tls1.3", ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3,
                        beschrijving="alleen TLS 1.3 (goed: B05 slaagt)")

#: Every profile by name: the values of ``tls`` in the keten file, and of the ``tls_profile`` switch.
PROFILES = {p.name: p for p in (NCSC_GOED, ONLY_TLS10_11, ONLY_TLS11, TLS10_BESIDE_12_13, ONLY_CBC, ONLY_TLS12,
                                ONLY_TLS13)}


#: The DNSSEC algorithms a simulated zone can be signed with (keten key
#: ``dnssec.algoritme``), by IANA number. Whether a checked zone's algorithm is
#: acceptable (RFC 8624) is B01's judgement, not this table's.
DNSSEC_ALGORITHMS = {5: "RSASHA1", 7: "RSASHA1-NSEC3-SHA1", 8: "RSASHA256", 10: "RSASHA512",
                     13: "ECDSAP256SHA256", 14: "ECDSAP384SHA384", 15: "ED25519", 16: "ED448"}


def server_context(profile: TlsProfile = NCSC_GOED) -> ssl.SSLContext:
    """A server context per profile; load certificates into it afterwards."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated; offering them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = profile.minimum
        ctx.maximum_version = profile.maximum
        if profile.skip_tls11:
            ctx.options |= ssl.OP_NO_TLSv1_1
    ctx.set_ciphers(profile.openssl_ciphers())
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    return ctx


def client_context() -> ssl.SSLContext:
    """What every sender in the keten uses: TLS 1.2+, NCSC-good suites first,
    and ECDHE-CBC suites still accepted ("uitfaseren": B05 warns about a
    server that only has those, but a melding may still travel).

    No PKIX verification here: for SMTP, DANE (RFC 7672) decides, checked on
    the presented chain by ketentest.dane before MAIL FROM.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(f"{GOOD_TLS12_CIPHERS}:{CBC_TLS12_CIPHERS}:@SECLEVEL=2")
    ctx.options |= ssl.OP_NO_COMPRESSION
    return ctx
