"""B03 DKIM: the domain publishes its DKIM key(s) (RSA >= 2048 bits or
Ed25519) and signs all outgoing mail.

The DNS part is judged here from the domain and its known selectors
(selectors cannot be listed from DNS; the keten file names them):
- ``dkim.domainkey``: ``_domainkey.<domain>`` answers NOERROR (NXDOMAIN
  fails, as in internet.nl: then no key can exist below it);
- ``dkim.sleutel_aanwezig``: each selector has exactly one valid key record;
- ``dkim.sleutel_sterkte``: RSA > 2048 bits or Ed25519 passes, exactly 2048
  warns (NCSC: phase-out), smaller fails; a key limited to SHA-1 fails.

"Signs all outgoing mail" is judged on received mail: :func:`verify_message`
verifies every DKIM signature of a message (dkimpy, keys through the
injected :class:`Lookup`), :func:`judge_signing` judges the results of one
or more messages. Pass them to :func:`check_dkim` as ``dkim_received`` to
fold them into the B03 result.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from ketentest.checks._dns import evidence, guarded, normalize_domain, untestable_result, usable, why_unusable
from ketentest.checks._records import organizational_domain, parse_tag_list
from ketentest.dns import DnsAnswer, Lookup
from ketentest.verdict import CheckResult, SubtestResult, Uitslag, worst

AGREEMENT = "B03"
SUBTESTS = ("dkim.domainkey", "dkim.sleutel_aanwezig", "dkim.sleutel_sterkte", "dkim.ondertekening")
MIN_RSA_BITS = 2048  # below: fails; exactly this: warns (NCSC phase-out); above: passes



@dataclass(frozen=True)
class DkimKey:
    """A selector's key record as found and understood."""

    selector: str
    name: str  # <selector>._domainkey.<domain>
    answer: DnsAnswer
    record: str = ""
    algorithm: str = ""  # "rsa" | "ed25519"
    bits: int = 0  # RSA modulus size; 256 for Ed25519
    hashes: tuple[str, ...] = ()  # h= (empty: any)
    testing: bool = False  # t=y
    problem: str = ""  # Dutch; why there is no usable key ("" when usable)
    untestable: bool = False  # the problem is a DNS failure, not the record

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"selector": self.selector, "naam": self.name, "record": self.record or None,
                             "antwoord": evidence(self.answer)}
        if self.algorithm:
            d.update(algoritme=self.algorithm, bits=self.bits)
        if self.hashes:
            d["h"] = list(self.hashes)
        if self.testing:
            d["testmodus"] = True
        if self.problem:
            d["probleem"] = self.problem
        return d


def parse_key(selector: str, answer: DnsAnswer) -> DkimKey:
    """Pure: understand one selector's TXT answer."""
    name = answer.qname
    if not usable(answer):
        return DkimKey(selector, name, answer, problem=why_unusable(answer), untestable=True)
    records = answer.txt_strings()
    if not records:
        why = "bestaat niet (NXDOMAIN)" if answer.rcode == "NXDOMAIN" else "heeft geen TXT-record"
        return DkimKey(selector, name, answer, problem=f"{name} {why}: geen DKIM-sleutel voor selector {selector}")
    if len(records) > 1:
        return DkimKey(selector, name, answer, problem=f"{name} heeft {len(records)} TXT-records; een selector "
                                                       "hoort precies één sleutelrecord te hebben")
    record = records[0]
    base = DkimKey(selector, name, answer, record)
    try:
        tags = parse_tag_list(record)
    except ValueError as e:
        return _replace(base, problem=f"{name}: ongeldig sleutelrecord: {e}")
    if "v" in tags and (tags["v"] != "DKIM1" or next(iter(tags)) != "v"):
        return _replace(base, problem=f"{name}: v= moet de eerste tag zijn en DKIM1 luiden (RFC 6376 3.6.1)")
    if "p" not in tags:
        return _replace(base, problem=f"{name}: de publieke sleutel (p=) ontbreekt")
    p = re.sub(r"\s+", "", tags["p"])
    if not p:
        return _replace(base, problem=f"{name}: de sleutel is ingetrokken (lege p=)")
    alg = tags.get("k", "rsa").strip().lower()
    hashes = tuple(h.strip().lower() for h in tags["h"].split(":") if h.strip()) if "h" in tags else ()
    testing = "y" in [f.strip().lower() for f in tags.get("t", "").split(":")]
    base = _replace(base, algorithm=alg, hashes=hashes, testing=testing)
    try:
        raw = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        return _replace(base, problem=f"{name}: p= is geen geldige base64")
    if alg == "rsa":
        try:
            key = load_der_public_key(raw)
        except ValueError:
            return _replace(base, problem=f"{name}: p= bevat geen leesbare RSA-sleutel")
        if not isinstance(key, rsa.RSAPublicKey):
            return _replace(base, problem=f"{name}: k=rsa maar p= bevat een ander sleuteltype")
        return _replace(base, bits=key.key_size)
    if alg == "ed25519":
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            return _replace(base, problem=f"{name}: p= is geen Ed25519-sleutel van 32 bytes (RFC 8463)")
        return _replace(base, bits=256)
    return _replace(base, problem=f"{name}: onbekend sleuteltype k={alg} (verwacht rsa of ed25519)")


def _replace(key: DkimKey, **changes: Any) -> DkimKey:
    return replace(key, **changes)


def _sub(id_: str, verdict: Uitslag, text: str, **ev: Any) -> SubtestResult:
    return SubtestResult(id_, AGREEMENT, verdict, text, ev)


def judge_domainkey(domain: str, answer: DnsAnswer, domain_soa: DnsAnswer | None = None) -> SubtestResult:
    """Pure: ``_domainkey.<domain>`` exists (NOERROR)."""
    ev = {"antwoord": evidence(answer)}
    if not usable(answer):
        return _sub("dkim.domainkey", Uitslag.NIET_TESTBAAR, f"Niet testbaar: {why_unusable(answer)}.", **ev)
    if answer.rcode == "NXDOMAIN":
        if domain_soa is not None and domain_soa.rcode == "NXDOMAIN":
            return _sub("dkim.domainkey", Uitslag.NIET_TESTBAAR,
                        f"Niet testbaar: het domein {domain} bestaat niet (NXDOMAIN).", **ev)
        return _sub("dkim.domainkey", Uitslag.GEFAALD,
                    f"_domainkey.{domain} bestaat niet (NXDOMAIN): {domain} publiceert dus geen enkele "
                    f"DKIM-sleutel. Publiceer de sleutel als TXT-record op <selector>._domainkey.{domain} en "
                    "onderteken alle uitgaande mail.", **ev)
    return _sub("dkim.domainkey", Uitslag.GESLAAGD,
                f"_domainkey.{domain} bestaat (NOERROR): er kunnen DKIM-sleutels onder staan.", **ev)


def judge_keys_present(domain: str, keys: Sequence[DkimKey]) -> SubtestResult:
    """Pure: each known selector has exactly one valid key record."""
    if not keys:
        return _sub("dkim.sleutel_aanwezig", Uitslag.NIET_TESTBAAR,
                    f"Niet testbaar: geen DKIM-selectors bekend voor {domain}; selectors zijn niet uit DNS af te "
                    "leiden. Noem ze in het ketenbestand (maildomein.dkim).")
    ev = {"sleutels": [k.to_dict() for k in keys]}
    missing = [k for k in keys if k.problem and not k.untestable]
    unknown = [k for k in keys if k.untestable]
    testing = [k for k in keys if k.testing and not k.problem]
    if missing:
        return _sub("dkim.sleutel_aanwezig", Uitslag.GEFAALD,
                    "; ".join(k.problem for k in missing)
                    + f". Publiceer voor elke selector waarmee {domain} ondertekent precies één geldig "
                    "DKIM-sleutelrecord (v=DKIM1; k=rsa|ed25519; p=…).", **ev)
    if unknown:
        return _sub("dkim.sleutel_aanwezig", Uitslag.NIET_TESTBAAR,
                    "Niet testbaar: " + "; ".join(k.problem for k in unknown) + ".", **ev)
    if testing:
        return _sub("dkim.sleutel_aanwezig", Uitslag.WAARSCHUWING,
                    "De sleutel van selector " + ", ".join(k.selector for k in testing)
                    + " staat in testmodus (t=y): ontvangers mogen een mislukte handtekening dan negeren. "
                    "Haal t=y weg zodra de ondertekening werkt.", **ev)
    return _sub("dkim.sleutel_aanwezig", Uitslag.GESLAAGD,
                f"Elke bekende selector ({', '.join(k.selector for k in keys)}) heeft één geldig sleutelrecord.", **ev)


def _strength(key: DkimKey) -> tuple[Uitslag, str]:
    if key.hashes and "sha256" not in key.hashes:
        return Uitslag.GEFAALD, (f"selector {key.selector}: h={':'.join(key.hashes)} staat alleen SHA-1 toe, "
                                 "dat ontvangers niet meer accepteren (RFC 8301); zet h=sha256 of laat h= weg")
    if key.algorithm == "ed25519":
        return Uitslag.GESLAAGD, f"selector {key.selector}: Ed25519"
    if key.bits < MIN_RSA_BITS:
        return Uitslag.GEFAALD, (f"selector {key.selector}: RSA-sleutel van {key.bits} bits is te zwak "
                                 f"(minimaal {MIN_RSA_BITS}); vervang hem door RSA 3072 of Ed25519")
    if key.bits == MIN_RSA_BITS:
        return Uitslag.WAARSCHUWING, (f"selector {key.selector}: RSA-sleutel van precies {key.bits} bits; het NCSC "
                                      "noemt die 'uitfaseren'. Plan vervanging door RSA 3072 of Ed25519")
    return Uitslag.GESLAAGD, f"selector {key.selector}: RSA {key.bits} bits"


def judge_key_strength(domain: str, keys: Sequence[DkimKey]) -> SubtestResult:
    """Pure: RSA >= 2048 (2048 warns) or Ed25519, for every usable key."""
    usable_keys = [k for k in keys if not k.problem]
    if not usable_keys:
        return _sub("dkim.sleutel_sterkte", Uitslag.NIET_TESTBAAR,
                    "Niet testbaar: er is geen bruikbare DKIM-sleutel om te beoordelen (zie dkim.sleutel_aanwezig).")
    judged = [(k, *_strength(k)) for k in usable_keys]
    overall = worst(v for _, v, _ in judged)
    ev = {"sleutels": {k.selector: {"algoritme": k.algorithm, "bits": k.bits, "uitslag": v.value}
                       for k, v, _ in judged}}
    if overall is Uitslag.GESLAAGD:
        return _sub("dkim.sleutel_sterkte", overall,
                    "Alle DKIM-sleutels zijn sterk genoeg: " + "; ".join(r for _, _, r in judged) + ".", **ev)
    return _sub("dkim.sleutel_sterkte", overall,
                "; ".join(r for _, v, r in judged if v is overall) + ".", **ev)


# -- signing, judged on received mail --------------------------------------

@dataclass(frozen=True)
class DkimSignature:
    """The verification result of one DKIM-Signature header."""

    domain: str  # d=
    selector: str  # s=
    passed: bool
    reason: str = ""  # why verification failed
    algorithm: str = ""  # a=


def verify_message(message: bytes, lookup: Lookup) -> tuple[DkimSignature, ...]:
    """I/O: verify every DKIM signature of a message (not only the first),
    fetching keys through ``lookup``. Never raises."""
    import dkim

    def dnsfunc(name: Any, timeout: float = 5) -> bytes | None:
        qname = name.decode() if isinstance(name, bytes) else str(name)
        answer = guarded(lookup)(qname, "TXT")
        strings = answer.txt_strings() if answer.records else ()
        return strings[0].encode() if strings else None

    try:
        headers, _ = dkim.rfc822_parse(message)
    except Exception as e:  # a broken message is a finding, not a crash
        return (DkimSignature("", "", False, f"bericht niet te lezen: {e}"),)
    count = sum(1 for name, _ in headers if name.lower() == b"dkim-signature")
    results = []
    for idx in range(count):
        verifier = dkim.DKIM(message)
        try:
            ok = bool(verifier.verify(idx=idx, dnsfunc=dnsfunc))
            reason = "" if ok else "handtekening klopt niet"
        except dkim.DKIMException as e:
            ok, reason = False, str(e)
        except Exception as e:
            ok, reason = False, f"{e.__class__.__name__}: {e}"
        fields = getattr(verifier, "signature_fields", {}) or {}
        get = lambda k: (fields.get(k) or b"").decode("ascii", "replace")  # noqa: E731
        results.append(DkimSignature(get(b"d").lower(), get(b"s"), ok, reason, get(b"a")))
    return tuple(results)


def _aligned(signing_domain: str, domain: str) -> bool:
    """Relaxed alignment (RFC 7489 3.1.1): same organisational domain."""
    return bool(signing_domain) and organizational_domain(signing_domain) == organizational_domain(domain)


def judge_message(domain: str, signatures: Sequence[DkimSignature]) -> tuple[Uitslag, str]:
    """Pure: one message is signed by (an aligned name of) ``domain`` with a
    signature that verifies."""
    if not signatures:
        return Uitslag.GEFAALD, "niet DKIM-ondertekend"
    own = [s for s in signatures if _aligned(s.domain, domain)]
    if any(s.passed for s in own):
        good = next(s for s in own if s.passed)
        return Uitslag.GESLAAGD, f"geldige handtekening van d={good.domain} (s={good.selector})"
    if own:
        return Uitslag.GEFAALD, "handtekening van het eigen domein faalt: " + "; ".join(
            f"d={s.domain} s={s.selector}: {s.reason or 'ongeldig'}" for s in own)
    return Uitslag.GEFAALD, "alleen ondertekend door andere domeinen (" + ", ".join(
        sorted({s.domain or '?' for s in signatures})) + f"), niet door {domain}"


def judge_signing(domain: str, received: Mapping[str, Sequence[DkimSignature]]) -> SubtestResult:
    """Pure: every received message from ``domain`` carries a valid, aligned
    DKIM signature. ``received`` maps a message label (Message-ID, kenmerk)
    to its verification results."""
    if not received:
        return _sub("dkim.ondertekening", Uitslag.NIET_TESTBAAR,
                    f"Niet testbaar: er is geen ontvangen mail van {domain} om te beoordelen.")
    judged = {label: judge_message(domain, sigs) for label, sigs in received.items()}
    ev = {"berichten": {label: {"uitslag": v.value, "reden": r,
                                "handtekeningen": [{"d": s.domain, "s": s.selector, "geldig": s.passed,
                                                    "reden": s.reason} for s in received[label]]}
                        for label, (v, r) in judged.items()}}
    bad = {label: r for label, (v, r) in judged.items() if v is not Uitslag.GESLAAGD}
    if bad:
        return _sub("dkim.ondertekening", Uitslag.GEFAALD,
                    f"{len(bad)} van {len(judged)} ontvangen berichten van {domain} zijn niet geldig ondertekend: "
                    + "; ".join(f"{label}: {r}" for label, r in bad.items())
                    + f". Laat de mailserver alle uitgaande mail ondertekenen met een sleutel onder "
                    f"_domainkey.{domain}.", **ev)
    return _sub("dkim.ondertekening", Uitslag.GESLAAGD,
                f"Alle {len(judged)} ontvangen berichten van {domain} hebben een geldige DKIM-handtekening "
                "van het eigen domein.", **ev)


def check_dkim(domain: str, lookup: Lookup, *, dkim_selectors: Sequence[str] = (),
               dkim_received: Mapping[str, Sequence[DkimSignature]] | None = None,
               **context: object) -> CheckResult:
    """B03 for ``domain``: the key records of ``dkim_selectors``, and, when
    given, the verification results of mail received from the domain."""
    domain, problem = normalize_domain(domain)
    if problem:
        return untestable_result(AGREEMENT, domain, SUBTESTS, problem)
    ask = guarded(lookup)
    dk = ask(f"_domainkey.{domain}", "TXT")
    soa = ask(domain, "SOA") if dk.rcode == "NXDOMAIN" else None
    if soa is not None and soa.rcode == "NXDOMAIN":
        # No domain, no keys: judging selectors would call a missing domain a missing key.
        missing = judge_domainkey(domain, dk, soa)
        return CheckResult(AGREEMENT, domain, (missing, *untestable_result(
            AGREEMENT, domain, SUBTESTS[1:], f"het domein {domain} bestaat niet (NXDOMAIN)").subtests))
    keys = [parse_key(s, ask(f"{s.lower()}._domainkey.{domain}", "TXT")) for s in dict.fromkeys(dkim_selectors)]
    if dkim_received is None:
        signing = _sub("dkim.ondertekening", Uitslag.INFORMATIE,
                       "Of alle uitgaande mail ondertekend is, wordt beoordeeld op ontvangen mail "
                       "(afspraak V03, zie judge_signing); deze controle kijkt alleen naar DNS.")
    else:
        signing = judge_signing(domain, dkim_received)
    return CheckResult(AGREEMENT, domain, (
        judge_domainkey(domain, dk, soa),
        judge_keys_present(domain, keys),
        judge_key_strength(domain, keys),
        signing,
    ))
