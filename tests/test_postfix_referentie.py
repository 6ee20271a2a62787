"""Differential test: a real DANE-enforcing Postfix and our postkantoor send
the same signed melding to every meldpunt, on the healthy keten and on every
DNSSEC, DANE, STARTTLS/TLS and certificate defect of the catalogue, plus the
edge cases RFC 7672 readers disagree on. Both must reach the same conclusion
(delivered securely / not delivered, and the reason class).

The one deliberate difference is V02: where DANE does not apply (insecure
DNS, no usable TLSA) RFC 7672 lets Postfix send with unauthenticated TLS,
while the afspraken say: do not send. It is expected only where named below.

Speed: one Postfix for the module; defects that touch different meldpunten
share one simulated keten (their edits are merged), so a handful of ketens
cover every case.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
import yaml

from ketentest import defecten
from ketentest.config import parse_keten
from ketentest.defecten import Defect, Verwachting
from ketentest.model import Keten
from ketentest.referentie_mta import Conclusie, PostfixUitslag, Redenklasse, onze_conclusie, vergelijk
from ketentest.routering import route
from ketentest.synth import generate_meldingen
from simulators.referentie.postfix import ReferentiePostfix, postfix_available

pytestmark = pytest.mark.skipif(postfix_available() is not None,
                                reason=f"referentie niet beschikbaar: {postfix_available()}")

#: Catalogue defects about the secure route (by id prefix, so a new one is covered at once): DNSSEC,
#: DANE, STARTTLS/TLS and certificates, MX resolution.
ROUTE_PREFIXES = ("dnssec-", "dane-", "tls-", "starttls-", "mx-")

#: Where V02 deliberately differs from RFC 7672: defect id -> meldpunten where DANE does not apply.
V02_VERSCHIL = {
    "dnssec-meldpunt-onondertekend": {"ggd-flevoland"},
    "dnssec-geen-ds": {"ggd-flevoland"},
    "dnssec-mx-zone-onbeveiligd": {"ggd-flevoland"},
    "dane-geen-tlsa": {"ggd-flevoland"},
    "dane-alleen-usage-1": {"ggd-regio-utrecht"},
    "randgeval-alleen-misvormde-tlsa": {"meldpunt-gooi-vechtstreek"},
}

#: 64 and 128 hex digits that match no certificate.
WRONG_SHA256 = "00" * 32
WRONG_SHA512 = "00" * 64


def randgeval(ident: str, wat: str, meldpunt: str, **keten) -> Defect:
    return Defect(ident, ident, wat, keten=keten, verwacht=(Verwachting("B06", meldpunt),))


#: Edge cases where RFC 7672 readings differ, as keten edits with free records.
RANDGEVALLEN = (
    randgeval("randgeval-digest-agility", "3 1 1 klopt, 3 1 2 niet: RFC 7671 par. 9 (digest agility) laat alleen "
              "het sterkste hash-type tellen, dus geen overeenkomst", "ggd-regio-utrecht",
              **{"meldpunten.ggd-regio-utrecht.maildomein.tlsa": ["3 1 1"],
                 "meldpunten.ggd-regio-utrecht.maildomein.records": [
                     f"_25._tcp.mx1 3600 TLSA 3 1 2 {WRONG_SHA512}", f"_25._tcp.mx2 3600 TLSA 3 1 2 {WRONG_SHA512}"]}),
    randgeval("randgeval-mx-is-cname", "de voorkeurs-MX is een CNAME naar mx1 (RFC 7672 2.2.3)", "ggd-flevoland",
              **{"meldpunten.ggd-flevoland.maildomein.records": [
                  "@ 3600 MX 5 post.ggdflevoland.test.", "post 3600 CNAME mx1.ggdflevoland.test."]}),
    randgeval("randgeval-null-mx-naast-mx", "een null MX (RFC 7505) naast de echte MX", "meldpunt-gooi-vechtstreek",
              **{"meldpunten.meldpunt-gooi-vechtstreek.maildomein.records": ["@ 3600 MX 0 ."]}),
    randgeval("randgeval-misvormde-tlsa-naast-goede", "een TLSA met een te korte hash naast de goede",
              "ggd-flevoland",
              **{"meldpunten.ggd-flevoland.maildomein.records": ["_25._tcp.mx1 3600 TLSA 3 1 1 abcd"]}),
    randgeval("randgeval-alleen-misvormde-tlsa", "alleen TLSA-records met een onbekende usage en een te korte hash",
              "meldpunt-gooi-vechtstreek",
              **{"meldpunten.meldpunt-gooi-vechtstreek.maildomein.tlsa": [],
                 "meldpunten.meldpunt-gooi-vechtstreek.maildomein.records": [
                     f"_25._tcp.mx1 3600 TLSA 4 1 1 {WRONG_SHA256}", "_25._tcp.mx1 3600 TLSA 3 1 1 abcd"]}),
)

#: Cases that still disagree, waiting for a fix elsewhere: id -> reason (reported to the lead).
WACHT_OP_FIX: dict[str, str] = {}

GEZOND = Defect("gezond", "gezonde keten", "de keten zoals beschreven")


def route_defects() -> list[Defect]:
    return [d for d in defecten.catalogue().values() if d.id.startswith(ROUTE_PREFIXES)]


# --- grouping: defects on different meldpunten share one keten ---------------------------------


def footprint(defect: Defect, keten: Keten) -> frozenset[str]:
    """The deelnemers (and shared parts) a defect changes or is judged on;
    "*" is the whole keten (police side, shared zones, the healthy case)."""
    ids = {m.id for m in keten.meldpunten}
    by_zone = {d.domain.name: d.id for d in keten.deelnemers}
    out: set[str] = set()
    for path in defect.keten:
        head, _, rest = path.partition(".")
        out.add(rest.split(".")[0] if head == "meldpunten" else "zones" if head == "zones" else "*")
    for change in defect.dns:
        for value in change.values():
            name = value if isinstance(value, str) else str(value.get("naam", ""))
            owner = next((i for zone, i in by_zone.items() if name == zone or name.endswith("." + zone)), name)
            out.add(owner if owner in ids else "*")
    out |= {party if party in ids else "*" for party in defect.schakelaars}
    judged = judged_meldpunten(defect, keten)
    out |= set(judged) if len(judged) < len(ids) else {"*"}
    return frozenset(out or {"*"})


def judged_meldpunten(defect: Defect, keten: Keten) -> tuple[str, ...]:
    named = {v.deelnemer for v in (*defect.verwacht, *defect.waarschuwing) if v.deelnemer}
    own = tuple(m.id for m in keten.meldpunten if m.id in named)
    return own or tuple(m.id for m in keten.meldpunten)


def groups(cases: list[Defect], keten: Keten) -> list[list[Defect]]:
    out: list[tuple[set[str], list[Defect]]] = []
    for case in cases:
        fp = footprint(case, keten)
        for taken, members in out:
            if "*" not in fp and "*" not in taken and not (fp & taken):
                taken |= fp
                members.append(case)
                break
        else:
            out.append((set(fp), [case]))
    return [members for _, members in out]


def merged_yaml(base_yaml: str, cases: list[Defect]) -> str:
    data = yaml.safe_load(base_yaml)
    for case in cases:
        data = yaml.safe_load(case.keten_yaml(yaml.safe_dump(data, allow_unicode=True, sort_keys=False)))
    data["keten"] = "referentie+" + "+".join(c.id for c in cases)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def base_keten_yaml() -> str:
    from importlib import resources

    return resources.files("ketentest.data").joinpath("ketens", "midden-nederland.yaml").read_text(encoding="utf-8")


BASE = parse_keten(base_keten_yaml(), "midden-nederland")
ALL_CASES = [GEZOND, *route_defects(), *RANDGEVALLEN]
ACTIVE = [c for c in ALL_CASES if c.id not in WACHT_OP_FIX]
GROUPS = groups(ACTIVE, BASE)
GROUP_OF = {c.id: i for i, g in enumerate(GROUPS) for c in g}


def params():
    """Per case, in group order (so consecutive cases share a keten)."""
    out = [pytest.param(c, id=c.id) for g in GROUPS for c in g]
    out += [pytest.param(c, id=c.id, marks=pytest.mark.skip(reason=f"wacht op fix: {WACHT_OP_FIX[c.id]}"))
            for c in ALL_CASES if c.id in WACHT_OP_FIX]
    return out


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postfix():
    with ReferentiePostfix.voor_keten(BASE) as instance:
        yield instance


@dataclass
class Wereld:
    index: int = -1
    sim: object = None


@pytest.fixture(scope="module")
def wereld(internet_lab, tmp_path_factory):
    """The running keten of the current group; switching groups starts the next."""
    from simulators.defect import apply_dns, apply_switches
    from ketentest.config import load_keten

    state = Wereld()
    folder = tmp_path_factory.mktemp("referentie-ketens")

    def enter(case: Defect):
        index = GROUP_OF[case.id]
        if index != state.index:
            if state.sim is not None:
                state.sim.reset()
            members = GROUPS[index]
            path = folder / f"groep-{index}.yaml"
            path.write_text(merged_yaml(base_keten_yaml(), members), encoding="utf-8")
            keten = load_keten(path)
            internet_lab.stop()
            state.sim = internet_lab.start_sim(keten)
            for member in members:
                apply_dns(member, state.sim.internet)
                apply_switches(member, state.sim)
            state.index = index
        return state.sim

    yield enter
    internet_lab.stop()


@pytest.fixture(scope="module")
def meldingen():
    pool = generate_meldingen(BASE, 20261201, 400)
    by_meldpunt: dict[str, list] = {}
    for m in pool:
        by_meldpunt.setdefault(route(BASE, m.persoon.adres.postcode).meldpunt.id, []).append(m)
    return by_meldpunt


# --- the two senders ----------------------------------------------------------------------------------


SETTLED = ("bezorgd", "bezorgd en bevestigd", "onbestelbaar", "opnieuw proberen")


def via_postkantoor(sim, melding) -> tuple[tuple[Conclusie, Redenklasse | None], dict, bytes]:
    """Our postkantoor's first attempt, and the signed message it made."""
    submitted = sim.submit(melding.to_dict())
    assert "fout" not in submitted, submitted
    kenmerk = submitted["kenmerk"]
    sim.wait_for(kenmerk, *SETTLED, timeout=60)
    entry = sim.politie.get(f"/meldingen/{kenmerk}")
    first = entry["attempts"][0]
    trace = first["trace"]
    ours = onze_conclusie(first["outcome"], trace.get("failed") or (), "onveilig" in trace,
                          trace.get("reply") is not None)
    message = base64.b64decode(sim.politie.get(f"/meldingen/{kenmerk}/bericht")["eml_base64"])
    return ours, first, message


def judge(postfix, sim, melding, meldpunt) -> tuple:
    ours, attempt, message = via_postkantoor(sim, melding)
    theirs: PostfixUitslag = postfix.verstuur(message, sim.keten.politie.adres, meldpunt.adres)
    return vergelijk((theirs.conclusie, theirs.reden), ours), theirs, attempt


def explain(case: Defect, meldpunt_id: str, result, theirs: PostfixUitslag, attempt: dict) -> str:
    return (f"{case.id} @ {meldpunt_id}: {result.toelichting}\n  {theirs.samenvatting()}\n  "
            + "\n  ".join(theirs.regels) + f"\n  postkantoor: {attempt['outcome']}: {attempt['reason']}")


# --- the tests ---------------------------------------------------------------------------------------


def test_every_route_defect_of_the_catalogue_is_a_case():
    ids = {c.id for c in ALL_CASES}
    assert {d.id for d in route_defects()} <= ids
    assert len(route_defects()) >= 10  # DNSSEC, DANE, STARTTLS/TLS and certificate defects
    assert set(V02_VERSCHIL) <= ids, "een verwacht verschil bij een geval dat niet bestaat"


def test_cases_sharing_a_keten_touch_different_meldpunten():
    for group in GROUPS:
        seen: set[str] = set()
        for case in group:
            fp = footprint(case, BASE)
            assert not (fp & seen) and ("*" not in fp or len(group) == 1), [c.id for c in group]
            seen |= fp


@pytest.mark.parametrize("case", params())
def test_postfix_and_postkantoor_reach_the_same_conclusion(case: Defect, postfix, wereld, meldingen):
    sim = wereld(case)
    problems = []
    for meldpunt_id in judged_meldpunten(case, BASE):
        meldpunt = sim.keten.deelnemer(meldpunt_id)
        result, theirs, attempt = judge(postfix, sim, meldingen[meldpunt_id].pop(), meldpunt)
        expected_difference = meldpunt_id in V02_VERSCHIL.get(case.id, set())
        if expected_difference:
            ok = result.verwacht_verschil
        else:
            ok = result.overeen
        if not ok:
            problems.append(explain(case, meldpunt_id, result, theirs, attempt)
                            + ("\n  (hier werd het V02-verschil verwacht)" if expected_difference else ""))
    assert not problems, "\n".join(problems)


def test_the_comparison_catches_a_postkantoor_that_falls_back(postfix, wereld, meldingen):
    """The differential test can fail: a postkantoor that sends without DANE
    where Postfix refuses (certificate replaced) is a disagreement."""
    case = next(c for c in ACTIVE if c.id == "dane-certificaat-vervangen")
    sim = wereld(case)
    meldpunt_id = judged_meldpunten(case, BASE)[0]
    sim.politie.post("/schakelaars", {"alleen_veilige_route": False})
    try:
        result, theirs, attempt = judge(postfix, sim, meldingen[meldpunt_id].pop(), sim.keten.deelnemer(meldpunt_id))
    finally:
        sim.politie.post("/schakelaars", {"alleen_veilige_route": True})
    assert theirs.conclusie is Conclusie.NIET_BEZORGD and theirs.reden is Redenklasse.DANE, theirs.samenvatting()
    assert not result.overeen and not result.verwacht_verschil, result.toelichting
    assert "verschillen" in result.toelichting


def test_the_reference_touches_no_system_configuration(postfix):
    from pathlib import Path

    resolv_before = Path("/etc/resolv.conf").read_bytes()
    main_cf = Path("/etc/postfix/main.cf")
    main_cf_before = main_cf.read_bytes() if main_cf.exists() else None
    with ReferentiePostfix.voor_keten(BASE) as other:  # a second, private instance beside the module's
        workdir, proc = other.dir, other.proc
        assert (workdir / "resolv.conf").read_text().startswith(f"nameserver {BASE.dns.resolver_ip}\n")
        assert Path("/etc/resolv.conf").read_bytes() == resolv_before  # only inside its mount namespace
        assert f"smtp_bind_address = {BASE.politie.domain.senders[0].ip}" in (workdir / "conf" / "main.cf").read_text()
    assert proc.poll() is not None and not workdir.exists()  # stopped and cleaned up
    assert Path("/etc/resolv.conf").read_bytes() == resolv_before
    assert (main_cf.read_bytes() if main_cf.exists() else None) == main_cf_before


def test_a_killed_harness_leaves_no_postfix_behind(tmp_path):
    """SIGKILL of the process that started the reference: its master and
    working directory still go (awaited with a pidfd, not a poll)."""
    import os
    import select
    import signal
    import subprocess
    import sys

    script = tmp_path / "harnas.py"
    script.write_text(
        "import sys, time\n"
        "from simulators.referentie.postfix import ReferentiePostfix\n"
        "p = ReferentiePostfix('127.53.53.53', '127.0.0.1', 'x.test', 'politie.test', 'a@politie.test').__enter__()\n"
        "print(p.proc.pid, p.dir, flush=True)\n"
        "time.sleep(600)\n")
    harness = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        wrapper, workdir = harness.stdout.readline().split()
        masters = subprocess.run(["pgrep", "-P", wrapper], capture_output=True, text=True).stdout.split()
        assert masters, "geen master onder de wrapper"
        watched = [os.pidfd_open(int(pid)) for pid in (wrapper, *masters)]
    finally:
        harness.send_signal(signal.SIGKILL)
        harness.wait()
    try:
        for fd in watched:
            ready, _, _ = select.select([fd], [], [], 20)
            assert ready, "Postfix leeft nog na het doden van het harnas"
    finally:
        for fd in watched:
            os.close(fd)
    assert not os.path.exists(workdir)
