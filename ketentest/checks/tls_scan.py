"""I/O for B05 and B06: talk to every MX address over SMTP + STARTTLS and
return plain, frozen records of what was seen. No verdicts here: the
``judge_*`` functions in b05_starttls / b06_dane turn these records into
results, so they can be unit-tested with hand-made records.

What does what:

* :func:`probe_smtp` -- smtplib: banner, EHLO, is STARTTLS offered? Gives a
  precise reason when a server cannot be tested (refused, timed out,
  dropped, 4xx/5xx banner), before any TLS scan is attempted.
* :func:`scan_tls` -- sslyze 6.3: versions, every cipher suite per version,
  groups, compression, renegotiation, EMS and the certificate chains (RSA
  and ECDSA: sslyze's certificate_info handshakes with ``aRSA`` and
  ``ALL:-aRSA``), all servers in one :class:`sslyze.Scanner`, in parallel.
* :func:`probe_preference` -- written by hand: sslyze 6 no longer reports
  the server's cipher order, so one TLS 1.2 handshake offers the accepted
  suites worst first and records what the server picked.
* :func:`starttls_handshake` -- smtplib + ssl: one handshake with a chosen
  cipher list, returning the presented chain (B06).
"""

from __future__ import annotations

import smtplib
import socket
import queue
import ssl
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from ketentest.dane import cert_names, name_matches, peer_chain

SMTP_PORT = 25
#: Seconds per network step (connect, each reply, a handshake).
DEFAULT_TIMEOUT = 10.0
#: The EHLO name our probes use.
EHLO_NAME = "ketentest.invalid"
#: Parallel connections per server during the sslyze scan (the scan waits on
#: round trips far more than on the CPU; 20 keeps a small server happy).
CONNECTIONS_PER_SERVER = 20
#: Most seconds the TLS scan of one domain's servers (run in parallel) may take.
SCAN_DEADLINE = 120.0

# Measuring TLS 1.0/1.1 servers is the point here; Python's deprecation notice is not.
warnings.filterwarnings("ignore", message=r"ssl\.TLSVersion\.TLSv1(_1)? is deprecated", category=DeprecationWarning,
                        module=__name__)
# sslyze's trust stores hold an old root with serial 0: noise, not a finding.
warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")


@dataclass(frozen=True)
class Target:
    """One address of one MX host."""

    host: str
    ip: str
    port: int = SMTP_PORT

    @property
    def label(self) -> str:
        return f"{self.host} ({self.ip})"


# --- plain records -----------------------------------------------------------


@dataclass(frozen=True)
class SmtpProbe:
    """What the SMTP dialogue before TLS showed."""

    target: Target
    connected: bool
    banner: str = ""  # "220 mx1... ESMTP"
    starttls: bool = False
    problem: str = ""  # Dutch: why this server cannot be tested ("" = it can)

    @property
    def testable(self) -> bool:
        return self.connected and not self.problem


@dataclass(frozen=True)
class AcceptedSuite:
    name: str  # IANA name
    openssl_name: str
    version: str  # "TLSv1.2"
    group: str | None = None  # key exchange group: "X25519", "secp256r1", "DH-2048"; None for static RSA


@dataclass(frozen=True)
class CertInfo:
    """One certificate chain the server presented (leaf first)."""

    key_type: str  # "RSA", "EC", "Ed25519", "Ed448", "DSA", "?"
    key_size: int
    curve: str | None
    signature_hashes: tuple[tuple[str, str | None], ...]  # (subject, hash name; None = EdDSA) per signed cert
    subject: str
    names: tuple[str, ...]
    name_matches: bool  # the leaf names the MX host (informational: DANE decides)
    trusted: bool | None  # a trust store (or the given CA file) validates it; None = unknown
    chain_der: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def key_text(self) -> str:
        if self.key_type == "EC":
            return f"EC {self.curve}"
        if self.key_type in ("RSA", "DSA"):
            return f"{self.key_type} {self.key_size} bits"
        return self.key_type


@dataclass(frozen=True)
class CipherPreference:
    """One TLS 1.2 handshake offering ``offered`` in that order (worst first)."""

    offered: tuple[str, ...]  # IANA names
    chosen: str | None  # IANA name; None: the handshake failed
    problem: str = ""


@dataclass(frozen=True)
class TlsScan:
    """Everything B05 judges about one server address. ``None`` means "not
    measured"; ``errors`` says why, per aspect (Dutch)."""

    target: Target
    versions: dict[str, bool] = field(default_factory=dict)  # "TLSv1.2" -> accepted
    suites: tuple[AcceptedSuite, ...] = ()
    groups: tuple[str, ...] | None = None  # supported named groups (sslyze's curve scan)
    compression: bool | None = None
    secure_renegotiation: bool | None = None
    client_renegotiation: bool | None = None
    extended_master_secret: bool | None = None
    certificates: tuple[CertInfo, ...] = ()
    preference: CipherPreference | None = None
    errors: dict[str, str] = field(default_factory=dict)  # aspect -> Dutch reason
    refused_at_once: tuple[str, ...] = ()  # legacy versions refused for a hello offering all their suites


# --- SMTP before TLS -----------------------------------------------------------


def _connect(target: Target, timeout: float, ehlo: str) -> smtplib.SMTP:
    smtp = smtplib.SMTP(timeout=timeout, local_hostname=ehlo)
    code, banner = smtp.connect(target.ip, target.port)
    if code != 220:
        smtp.close()
        raise smtplib.SMTPConnectError(code, banner)  # e.g. 421: rate limited
    smtp._host = target.host  # starttls() sends this as SNI, as a real sender would (not the IP)
    smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
    return smtp


def probe_smtp(target: Target, *, timeout: float = DEFAULT_TIMEOUT, ehlo: str = EHLO_NAME) -> SmtpProbe:
    """Connect, read the banner, EHLO; never raises."""
    where = f"{target.ip} poort {target.port}"
    try:
        smtp = smtplib.SMTP(timeout=timeout, local_hostname=ehlo)
        code, banner_bytes = smtp.connect(target.ip, target.port)
    except ConnectionRefusedError:
        return SmtpProbe(target, False, problem=f"{target.host} weigert de verbinding op {where} (er luistert niets)")
    except (socket.timeout, TimeoutError):
        return SmtpProbe(target, False, problem=f"{target.host} geeft binnen {timeout:g} s geen antwoord op {where}")
    except smtplib.SMTPServerDisconnected:
        return SmtpProbe(target, False,
                         problem=f"{target.host} verbreekt de verbinding direct, vóór de begroeting ({where})")
    except smtplib.SMTPConnectError as e:
        return _refused_banner(target, e.smtp_code, e.smtp_error)
    except OSError as e:
        return SmtpProbe(target, False, problem=f"{target.host} is niet bereikbaar op {where} ({e.strerror or e})")
    banner = f"{code} {banner_bytes.decode('utf-8', 'replace')}"
    try:
        if code != 220:
            return _refused_banner(target, code, banner_bytes)
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ecode, text = smtp.ehlo()
        if ecode != 250:
            return SmtpProbe(target, True, banner, problem=f"{target.host} weigert EHLO ({ecode} "
                             f"{text.decode('utf-8', 'replace')})")
        return SmtpProbe(target, True, banner, starttls=smtp.has_extn("starttls"))
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        return SmtpProbe(target, True, banner, problem=f"{target.host} verbreekt de verbinding na de begroeting")
    except (socket.timeout, TimeoutError):
        return SmtpProbe(target, True, banner, problem=f"{target.host} antwoordt niet binnen {timeout:g} s op EHLO")
    except OSError as e:
        return SmtpProbe(target, True, banner, problem=f"{target.host}: verbindingsfout na de begroeting ({e})")
    finally:
        _close(smtp)


def _refused_banner(target: Target, code: int, text: bytes | str) -> SmtpProbe:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    reply = f"{code} {text}".strip()
    if 400 <= code < 500:
        why = (f"{target.host} ({target.ip}) weigert tijdelijk ({reply}); de server beperkt mogelijk het aantal "
               "verbindingen (rate limiting). Test later opnieuw of laat het adres van de ketentest toe")
    elif code == -1:
        why = f"{target.host} ({target.ip}) verbreekt de verbinding vóór de begroeting"
    else:
        why = f"{target.host} ({target.ip}) neemt geen mail aan ({reply})"
    return SmtpProbe(target, True, reply, problem=why)


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except Exception:  # already gone: nothing to tidy
        smtp.close()


@dataclass(frozen=True)
class Handshake:
    target: Target
    ok: bool
    version: str = ""
    cipher: str = ""  # OpenSSL name
    chain_der: tuple[bytes, ...] = field(default=(), repr=False)
    problem: str = ""  # Dutch
    failed_at: str = ""  # "verbinding" | "starttls" | "tls" ("" = it worked)


def client_context(ciphers: str = "ALL:@SECLEVEL=0", maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
                   minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1) -> ssl.SSLContext:
    """A measuring client: accepts anything (judging is not its job)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = minimum
    ctx.maximum_version = maximum
    ctx.set_ciphers(ciphers)
    return ctx


def starttls_handshake(target: Target, context: ssl.SSLContext, *, timeout: float = DEFAULT_TIMEOUT,
                       ehlo: str = EHLO_NAME) -> Handshake:
    """EHLO, STARTTLS, handshake with ``context``; the presented chain. Never raises."""
    try:
        smtp = _connect(target, timeout, ehlo)
    except (OSError, smtplib.SMTPException) as e:
        return Handshake(target, False, problem=f"geen verbinding met {target.label} ({e})", failed_at="verbinding")
    try:
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            return Handshake(target, False, problem=f"{target.label} biedt geen STARTTLS aan", failed_at="starttls")
        smtp.starttls(context=context)
        sock = smtp.sock
        return Handshake(target, True, sock.version() or "", (sock.cipher() or ("",))[0], tuple(peer_chain(sock)))
    except ssl.SSLError as e:
        return Handshake(target, False, problem=f"TLS-handshake met {target.label} mislukt ({e.reason or e})",
                         failed_at="tls")
    except (OSError, smtplib.SMTPException) as e:
        return Handshake(target, False, problem=f"SMTP-dialoog met {target.label} mislukt ({e})",
                         failed_at="verbinding")
    finally:
        _close(smtp)


# --- cipher preference (by hand; sslyze 6 does not report it) -------------------------


def probe_preference(target: Target, offered: Sequence[AcceptedSuite], *, timeout: float = DEFAULT_TIMEOUT,
                     ehlo: str = EHLO_NAME) -> CipherPreference:
    """Offer ``offered`` (TLS 1.2 suites, in the given order) and see which one the server picks."""
    names = tuple(s.name for s in offered)
    by_openssl = {s.openssl_name: s.name for s in offered}
    try:
        ctx = client_context(":".join(s.openssl_name for s in offered) + ":@SECLEVEL=0",
                             maximum=ssl.TLSVersion.TLSv1_2)
    except ssl.SSLError:
        return CipherPreference(names, None, "deze cipher suites kan de testclient niet aanbieden")
    hs = starttls_handshake(target, ctx, timeout=timeout, ehlo=ehlo)
    if not hs.ok:
        return CipherPreference(names, None, hs.problem)
    return CipherPreference(names, by_openssl.get(hs.cipher, hs.cipher))


# --- certificates ----------------------------------------------------------------


def _key_of(cert: x509.Certificate) -> tuple[str, int, str | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return "?", 0, None


def _hash_of(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return "onbekend"
    return algorithm.name if algorithm is not None else None


def cert_info(chain: Sequence[x509.Certificate], host: str, trusted: bool | None = None) -> CertInfo:
    """Pure: a presented chain (leaf first) -> :class:`CertInfo`. Signatures of
    every certificate count, except a self-signed one above the leaf (a root)."""
    leaf = chain[0]
    key_type, size, curve = _key_of(leaf)
    signed = [c for i, c in enumerate(chain) if i == 0 or c.subject != c.issuer]
    names = tuple(cert_names(leaf))
    return CertInfo(
        key_type, size, curve,
        tuple((c.subject.rfc4514_string(), _hash_of(c)) for c in signed),
        leaf.subject.rfc4514_string(), names, any(name_matches(n, host) for n in names), trusted,
        tuple(c.public_bytes(serialization.Encoding.DER) for c in chain),
    )


# --- sslyze ------------------------------------------------------------------------------

_VERSION_COMMANDS = {
    "SSLv2": "ssl_2_0_cipher_suites", "SSLv3": "ssl_3_0_cipher_suites", "TLSv1.0": "tls_1_0_cipher_suites",
    "TLSv1.1": "tls_1_1_cipher_suites", "TLSv1.2": "tls_1_2_cipher_suites", "TLSv1.3": "tls_1_3_cipher_suites",
}
_OTHER_COMMANDS = ("tls_compression", "session_renegotiation", "tls_extended_master_secret", "elliptic_curves",
                   "certificate_info")


def _group_of(key) -> str | None:
    if key is None:
        return None
    curve = getattr(key, "curve_name", None)
    if curve:
        return curve
    return f"DH-{key.size}"


def _error_text(attempt) -> str:
    trace = attempt.error_trace
    detail = f"{trace.exc_type.__name__}: {trace}" if trace is not None else ""
    reason = attempt.error_reason.value if attempt.error_reason is not None else "fout"
    return f"sslyze kon dit niet meten ({reason}{'; ' + detail if detail else ''})"


def from_sslyze(target: Target, result, refused: frozenset[str] = frozenset()) -> TlsScan:
    """Pure: one sslyze ServerScanResult -> :class:`TlsScan`. Versions in
    ``refused`` were not enumerated: the server refused them outright."""
    from sslyze import ScanCommandAttemptStatusEnum, ServerConnectivityStatusEnum

    if result.connectivity_status is not ServerConnectivityStatusEnum.COMPLETED:
        trace = result.connectivity_error_trace
        why = str(trace) if trace is not None else "onbekende fout"
        return TlsScan(target, errors={"verbinding": f"sslyze kreeg geen TLS-verbinding met {target.label}: {why}"})
    scan = result.scan_result
    errors: dict[str, str] = {}
    versions: dict[str, bool] = {}
    suites: list[AcceptedSuite] = []
    for version, command in _VERSION_COMMANDS.items():
        if version in refused:
            versions[version] = False
            continue
        attempt = getattr(scan, command)
        if attempt.status is not ScanCommandAttemptStatusEnum.COMPLETED:
            errors[f"versie {version}"] = _error_text(attempt)
            continue
        accepted = attempt.result.accepted_cipher_suites
        versions[version] = bool(accepted)
        suites += [AcceptedSuite(a.cipher_suite.name, a.cipher_suite.openssl_name, version, _group_of(a.ephemeral_key))
                   for a in accepted]
    values: dict[str, object] = {}
    for command in _OTHER_COMMANDS:
        attempt = getattr(scan, command)
        if attempt.status is not ScanCommandAttemptStatusEnum.COMPLETED:
            errors[command] = _error_text(attempt)
        else:
            values[command] = attempt.result
    groups = None
    if "elliptic_curves" in values:
        curves = values["elliptic_curves"]
        groups = tuple(c.name for c in (curves.supported_curves or ()))
    reneg = values.get("session_renegotiation")
    certificates: list[CertInfo] = []
    if "certificate_info" in values:
        for deployment in values["certificate_info"].certificate_deployments:
            trusted = any(p.was_validation_successful for p in deployment.path_validation_results)
            certificates.append(cert_info(deployment.received_certificate_chain, target.host, trusted))
    return TlsScan(
        target, versions, tuple(suites), groups,
        compression=values["tls_compression"].supports_compression if "tls_compression" in values else None,
        secure_renegotiation=reneg.supports_secure_renegotiation if reneg else None,
        client_renegotiation=reneg.is_vulnerable_to_client_renegotiation_dos if reneg else None,
        extended_master_secret=(values["tls_extended_master_secret"].supports_ems_extension
                                if "tls_extended_master_secret" in values else None),
        certificates=tuple(certificates), errors=errors, refused_at_once=tuple(v for v in _VERSION_COMMANDS if v in refused),
    )


#: Versions sslyze tests with its legacy OpenSSL only: one hello can offer every suite it knows for them.
_LEGACY_VERSIONS = {"SSLv2": "SSL_2_0", "SSLv3": "SSL_3_0", "TLSv1.0": "TLS_1_0", "TLSv1.1": "TLS_1_1"}
#: The list sslyze enumerates for those versions, one suite per handshake (its cipher_suites.py).
_LEGACY_ALL_SUITES = "ALL:COMPLEMENTOFALL:-PSK:-SRP"


def refused_versions(location, network) -> frozenset[str]:
    """Legacy versions (SSLv2 .. TLS 1.1) that the server refuses outright.

    sslyze spends one SMTP connection and handshake per cipher suite per
    version: ~400 for these four versions, which a sound server refuses all of.
    One hello offering every one of those suites tells the same in one
    handshake: a server that supports the version with any of them must accept
    it. Only a clean refusal (sslyze's ServerRejectedTlsHandshake: an alert or a
    closed handshake) counts; a time-out, a lost connection or anything else
    leaves the version to sslyze's per-suite enumeration. sslyze has no such
    probe, hence these lines (it is what testssl.sh does first)."""
    from sslyze.errors import ServerRejectedTlsHandshake
    from sslyze.server_connectivity import (ServerConnectivityInfo, TlsVersionEnum,
                                            check_connectivity_to_server)

    try:
        info = ServerConnectivityInfo(server_location=location, network_configuration=network,
                                      tls_probing_result=check_connectivity_to_server(location, network))
    except Exception:  # noqa: BLE001 -- sslyze's own scan reports the connectivity problem
        return frozenset()
    refused = set()
    for name, enum in _LEGACY_VERSIONS.items():
        try:
            connection = info.get_preconfigured_tls_connection(override_tls_version=TlsVersionEnum[enum],
                                                               should_use_legacy_openssl=True)
        except Exception:  # noqa: BLE001 -- enumerate this version as usual
            continue
        try:
            connection.ssl_client.set_cipher_list(_LEGACY_ALL_SUITES)
            connection.connect()
        except ServerRejectedTlsHandshake:
            refused.add(name)
        except Exception:  # noqa: BLE001 -- accepted with a quirk, or unclear: enumerate per suite
            pass
        finally:
            connection.close()
    return frozenset(refused)


def scan_tls(targets: Iterable[Target], *, timeout: float = DEFAULT_TIMEOUT, ehlo: str = EHLO_NAME,
             ca_file: str | Path | None = None, connections: int = CONNECTIONS_PER_SERVER,
             deadline: float = SCAN_DEADLINE, probe: bool = True) -> dict[Target, TlsScan]:
    """Scan every target with sslyze over SMTP STARTTLS, all in parallel;
    a target without a result after ``deadline`` seconds gets an error."""
    from sslyze import (CertificateInfoExtraArgument, ProtocolWithOpportunisticTlsEnum, ScanCommand,
                        ScanCommandsExtraArguments, Scanner, ServerNetworkConfiguration, ServerNetworkLocation,
                        ServerScanRequest)

    targets = list(dict.fromkeys(targets))
    if not targets:
        return {}
    commands = {ScanCommand(c) for c in (*_VERSION_COMMANDS.values(), *_OTHER_COMMANDS)}
    extra = ScanCommandsExtraArguments(
        certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(ca_file))) if ca_file else \
        ScanCommandsExtraArguments()
    places = {t: (ServerNetworkLocation(t.host, t.port, ip_address=t.ip),
                  ServerNetworkConfiguration(t.host, tls_opportunistic_encryption=ProtocolWithOpportunisticTlsEnum.SMTP,
                                             smtp_ehlo_hostname=ehlo, network_timeout=max(1, int(timeout)),
                                             network_max_retries=1)) for t in targets}
    end = time.monotonic() + deadline  # the probe below counts too
    refused = dict(zip(targets, in_parallel(lambda t: refused_versions(*places[t]) if probe else frozenset(), targets)))
    requests = {}
    for t in targets:
        skip = {ScanCommand(_VERSION_COMMANDS[v]) for v in refused[t]}
        request = ServerScanRequest(server_location=places[t][0], network_configuration=places[t][1],
                                    scan_commands=commands - skip, scan_commands_extra_arguments=extra)
        requests[request.uuid] = (t, request)
    scanner = Scanner(per_server_concurrent_connections_limit=connections,
                      concurrent_server_scans_limit=max(1, len(targets)))
    scanner.queue_scans([r for _, r in requests.values()])
    # Collect in a daemon thread (sslyze's own threads are daemons too), so a
    # server that answers slowly cannot hold the check past the deadline.
    done: queue.Queue = queue.Queue()

    def collect() -> None:
        try:
            for r in scanner.get_results():
                done.put(r)
        except Exception as e:  # reported per target below
            done.put(e)
        done.put(None)

    threading.Thread(target=collect, name="ketentest-sslyze", daemon=True).start()
    out: dict[Target, TlsScan] = {}
    failure = ""
    while len(out) < len(targets):
        try:
            item = done.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            break
        if item is None:
            break
        if isinstance(item, Exception):
            failure = f"sslyze liep vast ({item.__class__.__name__}: {item})"
            continue
        t = requests[item.uuid][0]
        out[t] = from_sslyze(t, item, refused[t])
    for t in targets:
        if t not in out:
            why = failure or (f"de TLS-scan van {t.label} duurde langer dan {deadline:g} s en is afgebroken (de "
                              "server antwoordt te traag of beperkt het aantal verbindingen); test later opnieuw")
            out[t] = TlsScan(t, errors={"verbinding": why})
    return out


def in_parallel(func, items: Sequence, workers: int = 16) -> list:
    """``func`` over ``items`` in threads (network waits), results in order."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="ketentest-tls") as pool:
        return list(pool.map(func, items))


# --- every certificate the server offers ----------------------------------------------

_SIGALGS = {
    # TLS 1.3 picks the certificate by the client's signature algorithms.
    "ECDSA": (("SHA256", "EC"), ("SHA384", "EC"), ("SHA512", "EC")),
    "RSA": (("SHA256", "RSA_PSS"), ("SHA384", "RSA_PSS"), ("SHA512", "RSA_PSS"),
            ("SHA256", "RSA"), ("SHA384", "RSA"), ("SHA512", "RSA")),
}


def sigalgs_handshake(target: Target, key_type: str, *, timeout: float = DEFAULT_TIMEOUT,
                      ehlo: str = EHLO_NAME) -> Handshake:
    """A TLS 1.3 handshake offering only ``key_type``'s signature algorithms
    (nassl, sslyze's OpenSSL binding: Python's ssl cannot set them). Never raises."""
    from nassl import _nassl
    from nassl.ssl_client import (OpenSslDigestNidEnum, OpenSslEvpPkeyEnum, OpenSslVerifyEnum, OpenSslVersionEnum,
                                  SslClient)

    try:
        smtp = _connect(target, timeout, ehlo)
    except (OSError, smtplib.SMTPException) as e:
        return Handshake(target, False, problem=f"geen verbinding met {target.label} ({e})", failed_at="verbinding")
    client = None
    stage = "verbinding"
    try:
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            return Handshake(target, False, problem=f"{target.label} biedt geen STARTTLS aan", failed_at="starttls")
        code, reply = smtp.docmd("STARTTLS")
        if code != 220:
            return Handshake(target, False, problem=f"{target.label} weigert STARTTLS ({code} {reply.decode()})",
                             failed_at="starttls")
        stage = "tls"  # from here on, any failure is the TLS handshake's
        client = SslClient(underlying_socket=smtp.sock, ssl_version=OpenSslVersionEnum.TLSV1_3,
                           ssl_verify=OpenSslVerifyEnum.NONE, server_name_indication=target.host)
        client.set_signature_algorithms([(OpenSslDigestNidEnum[d], OpenSslEvpPkeyEnum[k])
                                         for d, k in _SIGALGS[key_type]])
        client.do_handshake()
        chain = tuple(x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
                      for pem in client.get_received_chain())
        return Handshake(target, True, "TLSv1.3", client.get_current_cipher_name(), chain)
    except (_nassl.OpenSSLError, _nassl.SslError, ValueError, OSError, smtplib.SMTPException) as e:
        if stage == "tls":
            return Handshake(target, False, problem=f"TLS 1.3-handshake ({key_type}) met {target.label} mislukt "
                             f"({e})", failed_at="tls")
        return Handshake(target, False, problem=f"SMTP-dialoog met {target.label} mislukt ({e})",
                         failed_at="verbinding")
    finally:
        if client is not None:
            try:
                client.shutdown()
            except Exception:  # the server may have closed first
                pass
        smtp.close()


#: Handshake kinds: each certificate type under TLS 1.3 (signature algorithms) and
#: under TLS <= 1.2 (cipher list), plus one unrestricted handshake as a fallback.
HANDSHAKE_KINDS: dict[str, object] = {
    "ECDSA, TLS 1.3": lambda t, **kw: sigalgs_handshake(t, "ECDSA", **kw),
    "RSA, TLS 1.3": lambda t, **kw: sigalgs_handshake(t, "RSA", **kw),
    "ECDSA, TLS 1.2-": lambda t, **kw: starttls_handshake(
        t, client_context("aECDSA:@SECLEVEL=0", maximum=ssl.TLSVersion.TLSv1_2), **kw),
    "RSA, TLS 1.2-": lambda t, **kw: starttls_handshake(
        t, client_context("aRSA:@SECLEVEL=0", maximum=ssl.TLSVersion.TLSv1_2), **kw),
    "standaard": lambda t, **kw: starttls_handshake(t, client_context(), **kw),
}


def presented_chains(target: Target, *, timeout: float = DEFAULT_TIMEOUT,
                     ehlo: str = EHLO_NAME) -> dict[str, Handshake]:
    """One handshake per kind; stops once the server cannot be reached or offers no STARTTLS."""
    results: dict[str, Handshake] = {}
    for kind, handshake in HANDSHAKE_KINDS.items():
        hs = handshake(target, timeout=timeout, ehlo=ehlo)
        results[kind] = hs
        if hs.failed_at in ("verbinding", "starttls"):
            break
    return results
