"""B02 SPF: exactly one valid ``v=spf1`` record, at most 10 DNS-querying
terms and 2 void look-ups over the whole tree, ending in ``-all``.

Two halves, kept apart:
- :func:`walk_spf` does the I/O: it follows include and redirect through the
  injected :class:`Lookup` and builds a tree of :class:`SpfNode`. We walk the
  tree ourselves instead of using pyspf, because pyspf queries through the
  system resolver (not the keten's Unbound) and mixes parsing with
  evaluation for one client IP; a static check needs the worst case.
- :func:`parse_spf` (RFC 7208 section 12 ABNF) and the ``judge_*`` functions
  are pure.

Counting (RFC 7208 4.6.4), done properly where internet.nl does not: every
``include``, ``a``, ``mx``, ``ptr``, ``exists`` and an effective ``redirect``
counts one, in the top record and in every record it reaches; ``ip4``,
``ip6``, ``all`` and ``exp`` count nothing. A *void* look-up is a counted
term whose query answers NXDOMAIN or no data (for ``a``: neither A nor AAAA).
Every branch is walked (worst case: no mechanism matches early).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from ketentest.checks._dns import (GuardedLookup, evidence, guarded, normalize_domain, untestable_result, usable,
                                   why_unusable)
from ketentest.dns import DnsAnswer, Lookup
from ketentest.verdict import CheckResult, SubtestResult, Uitslag

AGREEMENT = "B02"
SUBTESTS = ("spf.record", "spf.syntax", "spf.verwijzingen", "spf.aantal_lookups", "spf.void_lookups", "spf.all")
MAX_DNS_TERMS = 10
MAX_VOID = 2
MAX_MX_NAMES = 10  # RFC 7208 4.6.4: an mx mechanism may name at most 10 hosts
MAX_RECORDS = 60  # walk guard: stop following after this many records

DNS_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")

_SPF_VERSION = re.compile(r"^v=spf1(?: |$)", re.IGNORECASE)
_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9\-_.]*)=(.*)$")
_DIRECTIVE = re.compile(r"^([+\-~?]?)([A-Za-z0-9]+)(.*)$")
_MACRO_EXPAND = re.compile(r"%\{([A-Za-z])(\d*)(r?)([.\-+,/_=]*)\}|%%|%_|%-", re.IGNORECASE)
_TOPLABEL = re.compile(r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$")
_CIDR4 = r"/(0|[1-9][0-9]?)"
_CIDR6 = r"/(0|[1-9][0-9]{0,2})"
_DUAL_CIDR = re.compile(rf"^(?:{_CIDR4})?(?:/{_CIDR6})?$")
_MACRO_LETTERS = set("slodiphv")  # c, r, t only in exp (RFC 7208 7.2)
_STATIC_LETTERS = set("do")  # known without a client: the domain and the sender domain


def is_spf(text: str) -> bool:
    return bool(_SPF_VERSION.match(text))


@dataclass(frozen=True)
class SpfTerm:
    """One term of a record: a mechanism with its qualifier, or a modifier."""

    text: str
    name: str  # lower-case mechanism or modifier name
    qualifier: str = ""  # "+", "-", "~", "?" for mechanisms (explicit "+" kept; "" means default +)
    value: str = ""  # domain-spec or network (without the cidr)
    cidr: str = ""
    modifier: bool = False
    error: str = ""  # Dutch syntax error, "" when valid

    @property
    def counts(self) -> bool:
        return self.name in DNS_TERMS and not self.error


def _domain_spec_error(spec: str) -> str:
    """Pure: "" if ``spec`` is a valid RFC 7208 domain-spec, else the reason."""
    if not spec:
        return "lege domeinnaam"
    pos = 0
    last_macro_end = -1
    for m in _MACRO_EXPAND.finditer(spec):
        literal = spec[pos:m.start()]
        if "%" in literal:
            return f"ongeldige macro in {spec!r}"
        letter = (m.group(1) or "").lower()
        if letter in ("c", "r", "t"):
            return f"macroletter %{{{m.group(1)}}} mag alleen in exp= (in {spec!r})"
        if letter and letter not in _MACRO_LETTERS:
            return f"onbekende macroletter %{{{m.group(1)}}} in {spec!r}"
        pos = m.end()
        last_macro_end = m.end() if m.group(1) else last_macro_end
    if "%" in spec[pos:]:
        return f"ongeldige macro in {spec!r}"
    if any(not 0x21 <= ord(c) <= 0x7E for c in spec):
        return f"ongeldig teken in {spec!r}"
    if last_macro_end == len(spec):
        return ""  # domain-end is a macro-expand
    body = spec[:-1] if spec.endswith(".") else spec
    head, dot, top = body.rpartition(".")
    if not dot or not head:
        return f"{spec!r} is geen volledige domeinnaam (verwacht minstens twee labels, zoals voorbeeld.nl)"
    if not _TOPLABEL.match(top):
        return f"{spec!r} eindigt niet op een geldig topdomeinlabel"
    if any(len(label) > 63 for label in body.split(".")) or len(body) > 253:
        return f"{spec!r} is te lang voor een domeinnaam"
    return ""


def _parse_term(text: str) -> SpfTerm:
    mod = _MODIFIER.match(text)
    if mod:
        name, value = mod.group(1).lower(), mod.group(2)
        if name in ("redirect", "exp"):
            err = _domain_spec_error(value)
            return SpfTerm(text, name, value=value, modifier=True, error=f"{name}=: {err}" if err else "")
        bad = "%" in _MACRO_EXPAND.sub("", value) or any(not 0x21 <= ord(c) <= 0x7E for c in value)
        return SpfTerm(text, name, value=value, modifier=True,
                       error=f"onbekende modifier {name}= heeft een ongeldige waarde" if bad else "")
    d = _DIRECTIVE.match(text)
    if not d:
        return SpfTerm(text, "?", error=f"{text!r} is geen mechanisme of modifier")
    qualifier, name, rest = d.group(1), d.group(2).lower(), d.group(3)
    if name not in MECHANISMS:
        return SpfTerm(text, name, qualifier, error=f"onbekend mechanisme {name!r} in {text!r}")
    value, cidr = "", ""
    if rest.startswith(":"):
        spec = rest[1:]
        if name in ("a", "mx"):
            m = re.match(r"^(.*?)((?:/[0-9]+)?(?://[0-9]+)?)$", spec)
            spec, cidr = (m.group(1), m.group(2)) if m else (spec, "")
        elif name in ("ip4", "ip6"):
            spec, slash, bits = spec.partition("/")
            cidr = slash + bits
        value = spec
    elif rest.startswith("/") and name in ("a", "mx"):
        cidr = rest
    elif rest:
        return SpfTerm(text, name, qualifier, error=f"onverwachte tekst na {name!r} in {text!r}")
    err = ""
    if name == "all" and (value or cidr):
        err = "all heeft geen argument"
    elif name in ("include", "exists") and not value:
        err = f"{name} vereist een domeinnaam ({name}:voorbeeld.nl)"
    elif name in ("include", "exists", "a", "mx", "ptr") and (value or rest.startswith(":")):
        e = _domain_spec_error(value)
        err = f"{name}: {e}" if e else ""
    if not err and name in ("a", "mx") and cidr and not _DUAL_CIDR.match(cidr):
        err = f"ongeldige prefixlengte {cidr!r} in {text!r}"
    if not err and name in ("a", "mx") and cidr:
        m = _DUAL_CIDR.match(cidr)
        if (m.group(1) and int(m.group(1)) > 32) or (m.group(2) and int(m.group(2)) > 128):
            err = f"prefixlengte buiten bereik in {text!r}"
    if name == "ptr" and cidr:
        err = "ptr heeft geen prefixlengte"
    if name in ("ip4", "ip6"):
        err = _network_error(name, value, cidr, text)
    return SpfTerm(text, name, qualifier, value, cidr, error=err)


def _network_error(name: str, value: str, cidr: str, text: str) -> str:
    if not value:
        return f"{name} vereist een adres ({name}:192.0.2.0/24)"
    try:
        addr = ipaddress.IPv4Address(value) if name == "ip4" else ipaddress.IPv6Address(value)
    except ValueError:
        return f"{value!r} is geen geldig {'IPv4' if name == 'ip4' else 'IPv6'}-adres in {text!r}"
    del addr
    if cidr:
        limit = 32 if name == "ip4" else 128
        bits = cidr[1:]
        if not re.fullmatch(r"0|[1-9][0-9]*", bits) or int(bits) > limit:
            return f"ongeldige prefixlengte {cidr!r} in {text!r} (0-{limit})"
    return ""


def parse_spf(record: str) -> tuple[tuple[SpfTerm, ...], tuple[str, ...]]:
    """Pure: the terms of an SPF record and its syntax errors (Dutch)."""
    errors: list[str] = []
    if not is_spf(record):
        return (), ("het record begint niet met 'v=spf1'",)
    if any(ord(c) > 0x7E or (ord(c) < 0x20) for c in record):
        errors.append("het record bevat tekens buiten US-ASCII")
    body = record[6:]
    terms = tuple(_parse_term(t) for t in body.split(" ") if t)
    errors += [t.error for t in terms if t.error]
    for modifier in ("redirect", "exp"):
        if sum(1 for t in terms if t.modifier and t.name == modifier) > 1:
            errors.append(f"de modifier {modifier}= komt meer dan eens voor (RFC 7208 6)")
    return terms, tuple(errors)


def expand(spec: str, domain: str, sender_domain: str) -> str | None:
    """Expand the macros that are known without a client (%{d}, %{o});
    None if the spec needs the client's address, name or local part."""
    out: list[str] = []
    pos = 0
    for m in _MACRO_EXPAND.finditer(spec):
        out.append(spec[pos:m.start()])
        pos = m.end()
        token = m.group(0)
        if token == "%%":
            out.append("%")
        elif token == "%_":
            out.append(" ")
        elif token == "%-":
            out.append("%20")
        else:
            letter, digits, rev, delims = m.group(1).lower(), m.group(2), m.group(3), m.group(4) or "."
            if letter not in _STATIC_LETTERS:
                return None
            value = domain if letter == "d" else sender_domain
            parts = re.split("[" + re.escape(delims) + "]", value)
            if rev:
                parts.reverse()
            if digits and int(digits) > 0:
                parts = parts[-int(digits):]
            out.append(".".join(parts))
    out.append(spec[pos:])
    return "".join(out).rstrip(".").lower()


@dataclass(frozen=True)
class SpfNode:
    """One record in the look-up tree, and what following it found."""

    domain: str
    via: str  # "record" (the mail domain), "include" or "redirect"
    answer: DnsAnswer | None = None
    records: tuple[str, ...] = ()  # the v=spf1 strings found at the name
    terms: tuple[SpfTerm, ...] = ()
    syntax_errors: tuple[str, ...] = ()
    problem: str = ""  # Dutch; why this node gives no usable record
    problem_kind: str = ""  # geen | meerdere | dns | nxdomain | lus | macro | grens
    void: tuple[str, ...] = ()  # counted terms whose look-up was void
    mx_overflow: tuple[str, ...] = ()  # mx terms naming more than 10 hosts
    lookup_errors: tuple[str, ...] = ()  # Dutch: term look-ups without a definite answer
    children: tuple["SpfNode", ...] = ()

    @property
    def record(self) -> str | None:
        return self.records[0] if len(self.records) == 1 else None

    @property
    def effective_terms(self) -> tuple[SpfTerm, ...]:
        """Terms that are evaluated: redirect is ignored when there is an all."""
        has_all = any(t.name == "all" and not t.modifier for t in self.terms)
        return tuple(t for t in self.terms if not (has_all and t.modifier and t.name == "redirect"))

    @property
    def dns_terms(self) -> int:
        return sum(1 for t in self.effective_terms if t.counts)

    def nodes(self) -> tuple["SpfNode", ...]:
        """This node and every node below it, depth first."""
        return (self,) + tuple(n for c in self.children for n in c.nodes())

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"domein": self.domain, "via": self.via, "record": self.record,
                             "dns_termen": self.dns_terms}
        if len(self.records) > 1:
            d["records"] = list(self.records)
        for key, value in (("syntaxfouten", self.syntax_errors), ("void", self.void),
                           ("mx_te_veel_namen", self.mx_overflow), ("dns_fouten", self.lookup_errors)):
            if value:
                d[key] = list(value)
        if self.problem:
            d["probleem"] = self.problem
        if self.answer is not None and not usable(self.answer):
            d["antwoord"] = evidence(self.answer)
        if self.children:
            d["verwijzingen"] = [c.to_dict() for c in self.children]
        return d


class _Walker:
    def __init__(self, ask: GuardedLookup, sender_domain: str) -> None:
        self.ask = ask
        self.sender_domain = sender_domain
        self.visited = 0

    def _void(self, answers: tuple[DnsAnswer, ...]) -> bool | None:
        """True if every answer is NXDOMAIN/no data, None if any is unusable."""
        if any(not usable(a) for a in answers):
            return None
        return all(not a.records for a in answers)

    def walk(self, domain: str, via: str, path: tuple[str, ...]) -> SpfNode:
        self.visited += 1
        if self.visited > MAX_RECORDS:
            return SpfNode(domain, via, problem_kind="grens",
                           problem=f"meer dan {MAX_RECORDS} SPF-records in de boom; niet verder gevolgd")
        answer = self.ask(domain, "TXT")
        if not usable(answer):
            return SpfNode(domain, via, answer, problem_kind="dns", problem=why_unusable(answer))
        if answer.rcode == "NXDOMAIN":
            return SpfNode(domain, via, answer, problem_kind="nxdomain", problem=f"{domain} bestaat niet (NXDOMAIN)")
        records = tuple(s for s in answer.txt_strings() if is_spf(s))
        if not records:
            return SpfNode(domain, via, answer, problem_kind="geen", problem=f"{domain} heeft geen v=spf1-record")
        if len(records) > 1:
            return SpfNode(domain, via, answer, records, problem_kind="meerdere",
                           problem=f"{domain} heeft {len(records)} v=spf1-records (RFC 7208 4.5: permerror)")
        terms, errors = parse_spf(records[0])
        node = SpfNode(domain, via, answer, records, terms, errors)
        void: list[str] = []
        overflow: list[str] = []
        lookup_errors: list[str] = []
        children: list[SpfNode] = []
        for term in node.effective_terms:
            if not term.counts:
                continue
            spec = term.value or (domain if term.name in ("a", "mx") else "")
            target = expand(spec, domain, self.sender_domain) if spec else None
            if term.name in ("include", "redirect"):
                if target is None:
                    children.append(SpfNode(spec, term.name, problem_kind="macro",
                                            problem=f"{term.text}: hangt af van de afzender (macro); niet gevolgd"))
                elif target in path + (domain,):
                    children.append(SpfNode(target, term.name, problem_kind="lus",
                                            problem=f"{term.text}: lus, {target} verwijst (via) terug naar zichzelf"))
                else:
                    child = self.walk(target, term.name, path + (domain,))
                    if child.problem_kind in ("nxdomain", "geen") and child.answer is not None and not child.answer.records:
                        void.append(term.text)
                    children.append(child)
            elif term.name == "ptr" or target is None:
                continue  # needs the client's address: counted, not resolved
            else:
                # a: void only if neither address family answers (we have no client);
                # exists: always an A query (RFC 7208 5.7); mx: the MX query.
                rdtypes = {"a": ("A", "AAAA"), "exists": ("A",), "mx": ("MX",)}[term.name]
                answers = tuple(self.ask(target, t) for t in rdtypes)
                is_void = self._void(answers)
                if is_void is None:
                    lookup_errors += [why_unusable(a) for a in answers if not usable(a)]
                elif is_void:
                    void.append(term.text)
                if term.name == "mx" and answers[0].records and len(answers[0].records) > MAX_MX_NAMES:
                    overflow.append(f"{term.text}: {len(answers[0].records)} MX-namen")
        return SpfNode(domain, via, answer, records, terms, errors, void=tuple(void), mx_overflow=tuple(overflow),
                       lookup_errors=tuple(lookup_errors), children=tuple(children))


def walk_spf(domain: str, lookup: Lookup) -> SpfNode:
    """I/O: the SPF tree of ``domain``, following include and redirect."""
    domain = domain.lower().rstrip(".")
    return _Walker(guarded(lookup), domain).walk(domain, "record", ())


# -- judgement (pure) ------------------------------------------------------

def _sub(id_: str, verdict: Uitslag, text: str, **ev: Any) -> SubtestResult:
    return SubtestResult(id_, AGREEMENT, verdict, text, ev)


def _no_record(id_: str, tree: SpfNode) -> SubtestResult | None:
    if tree.record is None:
        return _sub(id_, Uitslag.NIET_TESTBAAR, "Niet testbaar: er is geen bruikbaar SPF-record (zie spf.record).")
    return None


def judge_record(tree: SpfNode) -> SubtestResult:
    ev = {"antwoord": evidence(tree.answer)} if tree.answer else {}
    d = tree.domain
    if tree.problem_kind == "dns":
        return _sub("spf.record", Uitslag.NIET_TESTBAAR, f"Niet testbaar: {tree.problem}.", **ev)
    if tree.problem_kind == "nxdomain":
        return _sub("spf.record", Uitslag.NIET_TESTBAAR, f"Niet testbaar: het domein {d} bestaat niet (NXDOMAIN).", **ev)
    if tree.problem_kind == "geen":
        return _sub("spf.record", Uitslag.GEFAALD,
                    f"{d} publiceert geen SPF-record (TXT 'v=spf1 …'). Publiceer precies één record dat de "
                    "verzendende servers noemt en eindigt op -all, bijvoorbeeld 'v=spf1 ip4:192.0.2.10 -all'.", **ev)
    if tree.problem_kind == "meerdere":
        return _sub("spf.record", Uitslag.GEFAALD,
                    f"{d} publiceert {len(tree.records)} SPF-records; dan is SPF ongeldig (permerror, RFC 7208 4.5). "
                    "Voeg ze samen tot één v=spf1-record.", records=list(tree.records), **ev)
    return _sub("spf.record", Uitslag.GESLAAGD, f"{d} publiceert precies één SPF-record.", record=tree.record, **ev)


def judge_syntax(tree: SpfNode) -> SubtestResult:
    if (r := _no_record("spf.syntax", tree)) is not None:
        return r
    errors = [f"{n.domain}: {e}" for n in tree.nodes() for e in n.syntax_errors]
    if errors:
        return _sub("spf.syntax", Uitslag.GEFAALD,
                    "Syntaxfout in SPF (RFC 7208), ontvangers geven permerror: " + "; ".join(errors)
                    + ". Herstel het record volgens RFC 7208 sectie 12.", fouten=errors)
    note = ""
    if any(t.name == "ptr" for n in tree.nodes() for t in n.terms):
        note = " Let op: het ptr-mechanisme wordt afgeraden (RFC 7208 5.5); gebruik ip4/ip6."
    return _sub("spf.syntax", Uitslag.GESLAAGD, "Alle SPF-records in de boom zijn syntactisch geldig." + note)


def judge_references(tree: SpfNode) -> SubtestResult:
    if (r := _no_record("spf.verwijzingen", tree)) is not None:
        return r
    below = [n for n in tree.nodes()[1:] if n.problem]
    failing = [n for n in below if n.problem_kind in ("geen", "meerdere", "nxdomain", "lus", "grens")]
    untestable = [n for n in below if n.problem_kind in ("dns", "macro")]
    ev = {"boom": tree.to_dict()}
    if failing:
        return _sub("spf.verwijzingen", Uitslag.GEFAALD,
                    "Een include of redirect verwijst naar een domein zonder bruikbaar SPF-record, wat bij "
                    "ontvangers permerror geeft: " + "; ".join(n.problem for n in failing)
                    + ". Corrigeer of verwijder die verwijzing.", **ev)
    if untestable:
        return _sub("spf.verwijzingen", Uitslag.NIET_TESTBAAR,
                    "Niet testbaar: " + "; ".join(n.problem for n in untestable) + ".", **ev)
    count = len(tree.nodes()) - 1
    return _sub("spf.verwijzingen", Uitslag.GESLAAGD,
                f"Alle {count} include/redirect-verwijzingen leiden naar precies één SPF-record." if count
                else "Het SPF-record bevat geen include of redirect.", **ev)


def judge_lookups(tree: SpfNode) -> SubtestResult:
    if (r := _no_record("spf.aantal_lookups", tree)) is not None:
        return r
    per_domain = [(n.domain, n.dns_terms) for n in tree.nodes() if n.record is not None]
    total = sum(c for _, c in per_domain)
    overflow = [o for n in tree.nodes() for o in n.mx_overflow]
    ev = {"totaal": total, "grens": MAX_DNS_TERMS, "per_record": [f"{d}: {c}" for d, c in per_domain],
          "boom": tree.to_dict()}
    breakdown = ", ".join(f"{d}: {c}" for d, c in per_domain)
    if total > MAX_DNS_TERMS:
        return _sub("spf.aantal_lookups", Uitslag.GEFAALD,
                    f"Het SPF-record van {tree.domain} vraagt {total} DNS-lookups (include, a, mx, ptr, exists, "
                    f"redirect) over de hele boom ({breakdown}); de grens is {MAX_DNS_TERMS} (RFC 7208 4.6.4), "
                    "daarboven geven ontvangers permerror. Vervang include/a/mx door ip4/ip6 of verwijder "
                    "overbodige includes.", **ev)
    if overflow:
        return _sub("spf.aantal_lookups", Uitslag.GEFAALD,
                    "Een mx-mechanisme noemt meer dan 10 mailservers (RFC 7208 4.6.4: permerror): "
                    + "; ".join(overflow) + ". Gebruik ip4/ip6 in plaats van mx.", **ev)
    partial = any(n.problem_kind in ("dns", "macro") for n in tree.nodes())
    at_least = "ten minste " if partial else ""
    return _sub("spf.aantal_lookups", Uitslag.GESLAAGD,
                f"{at_least}{total} van de maximaal {MAX_DNS_TERMS} DNS-lookups ({breakdown}).", **ev)


def judge_void(tree: SpfNode) -> SubtestResult:
    if (r := _no_record("spf.void_lookups", tree)) is not None:
        return r
    void = [f"{n.domain}: {v}" for n in tree.nodes() for v in n.void]
    unknown = [e for n in tree.nodes() for e in n.lookup_errors]
    ev = {"void": void, "grens": MAX_VOID, "dns_fouten": unknown}
    if len(void) <= MAX_VOID and unknown:
        return _sub("spf.void_lookups", Uitslag.NIET_TESTBAAR,
                    f"Niet testbaar: {len(void)} lege DNS-lookups gevonden, maar niet elke term gaf een antwoord "
                    f"(ontvangers krijgen dan temperror): {'; '.join(unknown)}.", **ev)
    if len(void) > MAX_VOID:
        return _sub("spf.void_lookups", Uitslag.GEFAALD,
                    f"{len(void)} termen in de SPF-boom van {tree.domain} leveren een lege DNS-lookup op "
                    f"(NXDOMAIN of geen gegevens): {'; '.join(void)}; de grens is {MAX_VOID} (RFC 7208 4.6.4), "
                    "daarboven geven ontvangers permerror. Verwijder termen die naar niet-bestaande namen wijzen.",
                    **ev)
    note = f" ({'; '.join(void)})" if void else ""
    return _sub("spf.void_lookups", Uitslag.GESLAAGD,
                f"{len(void)} van de maximaal {MAX_VOID} lege DNS-lookups{note}.", **ev)


def judge_all(tree: SpfNode) -> SubtestResult:
    """The qualifier of ``all`` in the record that ends evaluation (following
    redirect when the record has no ``all``)."""
    if (r := _no_record("spf.all", tree)) is not None:
        return r
    node, chain = tree, [tree.domain]
    while node.record is not None and not any(t.name == "all" for t in node.terms):
        redirect = next((c for c in node.children if c.via == "redirect"), None)
        if redirect is None:
            break
        node = redirect
        chain.append(node.domain)
    where = " via redirect " + " -> ".join(chain) if len(chain) > 1 else ""
    if node.record is None:
        return _sub("spf.all", Uitslag.NIET_TESTBAAR,
                    f"Niet testbaar: de redirect naar {node.domain} levert geen bruikbaar record ({node.problem}).")
    all_terms = [(i, t) for i, t in enumerate(node.terms) if t.name == "all" and not t.modifier]
    ev = {"record": node.record, "domein": node.domain}
    fix = "Eindig het SPF-record op -all, zodat ontvangers mail van andere servers weigeren."
    if not all_terms:
        return _sub("spf.all", Uitslag.GEFAALD,
                    f"Het SPF-record{where} eindigt niet op een all-mechanisme; dan is de uitkomst voor andere "
                    f"servers 'neutral' (?all) en beschermt SPF niets. {fix}", **ev)
    index, term = all_terms[0]
    qualifier = term.qualifier or "+"
    after = [t.text for t in node.terms[index + 1:] if not t.modifier]
    note = (f" Let op: de termen na all ({' '.join(after)}) worden nooit geëvalueerd." if after else "")
    ev["all"] = term.text
    if qualifier == "-":
        return _sub("spf.all", Uitslag.GESLAAGD, f"Het SPF-record{where} eindigt op -all (hard fail).{note}", **ev)
    if qualifier == "~":
        return _sub("spf.all", Uitslag.WAARSCHUWING,
                    f"Het SPF-record{where} eindigt op ~all (softfail): mail van andere servers wordt niet "
                    f"geweigerd, alleen gemarkeerd. {fix}{note}", **ev)
    meaning = "iedereen mag namens het domein mailen" if qualifier == "+" else "de uitkomst is 'neutral'"
    return _sub("spf.all", Uitslag.GEFAALD,
                f"Het SPF-record{where} eindigt op {term.text} ({qualifier}all): {meaning}. {fix}{note}", **ev)


def judge_spf(tree: SpfNode) -> CheckResult:
    """Pure: every B02 sub-test from the tree."""
    return CheckResult(AGREEMENT, tree.domain, (
        judge_record(tree), judge_syntax(tree), judge_references(tree),
        judge_lookups(tree), judge_void(tree), judge_all(tree),
    ))


def check_spf(domain: str, lookup: Lookup, **context: object) -> CheckResult:
    """B02 for ``domain``: walk the tree (I/O), then judge it (pure)."""
    domain, problem = normalize_domain(domain)
    if problem:
        return untestable_result(AGREEMENT, domain, SUBTESTS, problem)
    return judge_spf(walk_spf(domain, lookup))
