"""The NCSC TLS profile as a value: what our simulated servers and clients
offer, and what a variant offers when a scenario breaks it on purpose.

NCSC "ICT-beveiligingsrichtlijnen voor TLS": TLS 1.3 goed, 1.2 voldoende;
ECDHE with AES-GCM or ChaCha20-Poly1305 goed. Python's default server context
accepts CBC suites under TLS 1.2, so every context here is built explicitly.
"""

from __future__ import annotations

import ssl
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


@dataclass(frozen=True)
class TlsProfile:
    name: str
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    ciphers: str = GOOD_TLS12_CIPHERS
    # OpenSSL security level; 0 is needed to offer TLS 1.0/1.1 at all.
    seclevel: int = 2

    def openssl_ciphers(self) -> str:
        return f"{self.ciphers}:@SECLEVEL={self.seclevel}"


NCSC_GOED = TlsProfile("ncsc-goed")
ONLY_TLS10_11 = TlsProfile("alleen-tls1.0-1.1", ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1,
                           "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA", 0)
ONLY_CBC = TlsProfile("alleen-cbc", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, CBC_TLS12_CIPHERS)

PROFILES = {p.name: p for p in (NCSC_GOED, ONLY_TLS10_11, ONLY_CBC)}


def server_context(profile: TlsProfile = NCSC_GOED) -> ssl.SSLContext:
    """A server context per profile; load certificates into it afterwards."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = profile.minimum
    ctx.maximum_version = profile.maximum
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
