"""A real meldpunt in the keten (issue 15): Debian's Postfix, Dovecot, OpenDKIM
and rspamd in place of the simulated meldpunt of Gooi en Vechtstreek, while
the police stay simulated. The police deliver a synthetic melding over
DANE-authenticated STARTTLS; rspamd records SPF, DKIM and DMARC in the
meldpunt's own Authentication-Results; the message is fetched over IMAPS
from Dovecot; the meldpunt's back office answers with an
ontvangstbevestiging that OpenDKIM signs and Postfix delivers over DANE to
the police, who match it to the kenmerk. Judged with the project's own V02,
V03 and V07 checks, so the verdicts are the ones the reports give; the
harness's own SPF/DKIM/DMARC verdict (ketentest.mail.auth) must agree.

Negative controls: without OpenDKIM the reply goes out unsigned, the police
quarantine it, and V07 fails once the 15 minutes are over on the keten
clock; with a certificate the TLSA records do not describe, B06 fails and
the police send nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

import pytest
import yaml

from ketentest.checks._vbase import parse_message
from ketentest.checks.b06_dane import check_dane
from ketentest.checks.v02_veilig_transport import check_v02
from ketentest.checks.v03_afzenderauthenticatie import check_v03
from ketentest.checks.v07_ontvangstbevestiging import check_v07
from ketentest.clock import UTC
from ketentest.config import builtin_keten_text, load_keten
from ketentest.echt import LEDGER_ENV, Ledger
from ketentest.imap import ImapFout, haal_op, wachtwoord_uit
from ketentest.model import Keten
from ketentest.synth import MeldingPool
from ketentest.verdict import CheckResult, Uitslag
from ketentest.verzending import Verzending
from simulators.keten import EchteDeelnemer, KetenSimulatie
from simulators.partijen import CONTAINER_PATHS, keten_parties
from simulators.pki import CertVariant
from simulators.referentie.meldpunt import EchtMeldpunt, authenticatie, meldpunt_available

pytestmark = pytest.mark.skipif(meldpunt_available() is not None,
                                reason=f"echt meldpunt niet beschikbaar: {meldpunt_available()}")

G, F = Uitslag.GESLAAGD, Uitslag.GEFAALD
#: One MX and an RSA DKIM key (what Debian's OpenDKIM signs with).
ECHT = "meldpunt-gooi-vechtstreek"
WACHT = 60.0  # seconds for one real event (a delivery, a reply); generous for a loaded machine


@pytest.fixture(scope="module")
def echte_keten(tmp_path_factory, pki) -> Keten:
    """The pilot keten with the Gooi en Vechtstreek meldpunt real, written as a coordinator
    would: a keten file with an ``echt:`` block (its inbox on the allowlist, its mailbox
    over IMAPS). The police process loads the same file, so its allowlist guards them too."""
    folder = tmp_path_factory.mktemp("echte-keten")
    (folder / "imap-wachtwoord.txt").write_text(secrets.token_urlsafe(18) + "\n")
    (folder / "imap-wachtwoord.txt").chmod(0o600)
    (folder / "keten-ca.pem").write_bytes(pki.ca_pem)
    data = yaml.safe_load(builtin_keten_text("midden-nederland"))
    data["keten"] = "midden-nederland-echt-meldpunt"
    mp = next(m for m in data["meldpunten"] if m["id"] == ECHT)
    mx = mp["maildomein"]["mx"][0]
    mp["echt"] = {"toegestane_adressen": [mp["adres"]], "max_per_uur": 60,
                  "imap": {"host": mx["host"], "ip": mx["ip"], "poort": 993, "gebruiker": mp["adres"],
                           "wachtwoord_bestand": "imap-wachtwoord.txt", "ca_bestand": "keten-ca.pem"}}
    (folder / "keten.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    keten = load_keten(str(folder / "keten.yaml"))
    echt = keten.deelnemer(ECHT).echt
    assert echt is not None and echt.toegestane_adressen == {keten.deelnemer(ECHT).adres}, echt
    return keten


def echt_meldpunt(keten: Keten, pki, **kwargs) -> EchtMeldpunt:
    """The real meldpunt with the mailbox password the keten's IMAP access names."""
    return EchtMeldpunt(keten, keten.deelnemer(ECHT), pki,
                        wachtwoord=wachtwoord_uit(keten.deelnemer(ECHT).echt.imap), **kwargs)


@pytest.fixture(scope="module")
def verzendlog(tmp_path_factory) -> Ledger:
    """The shared log of real sends that the police process writes (ketentest.echt)."""
    return Ledger(tmp_path_factory.mktemp("echt-verzendingen") / "verzendingen.jsonl")


@pytest.fixture(scope="module")
def sim(internet_lab, echte_keten, verzendlog, tmp_path_factory) -> KetenSimulatie:
    """The keten with its real meldpunt. The simulated internet is also the stand-in for the
    real internet: the harness looks the real meldpunt up through its live Unbound, started
    with the stand-in's root hints and trust anchor (simulators/standin.py), exactly as it
    would from the real root."""
    from simulators.keten import ROOT_HINTS_ENV, TRUST_ANCHOR_ENV
    from simulators.standin import write_stand_in

    internet_lab.stop()  # one keten per network namespace: start ours from scratch
    env = pytest.MonkeyPatch()
    env.setenv(LEDGER_ENV, str(verzendlog.path))  # the police process inherits it
    try:
        files = write_stand_in(internet_lab.start(echte_keten), tmp_path_factory.mktemp("standin"))
        env.setenv(ROOT_HINTS_ENV, str(files.root_hints))
        env.setenv(TRUST_ANCHOR_ENV, str(files.trust_anchor))
        simulation = internet_lab.start_sim(echte_keten)
        yield simulation
    finally:
        internet_lab.stop()
        env.undo()


@pytest.fixture(scope="module")
def pool(echte_keten) -> MeldingPool:
    return MeldingPool(echte_keten, 20261202, 80)


def verstuur(sim: KetenSimulatie, melding) -> dict:
    """Hand the melding to the simulated postkantoor and run the keten clock
    until it is delivered (or not); returns the police's queue entry."""
    submitted = sim.submit(melding.to_dict())
    assert "fout" not in submitted, submitted
    kenmerk = submitted["kenmerk"]
    assert submitted["meldpunt"] == ECHT, submitted
    settled = {"bezorgd", "onbestelbaar", "bezorgd en bevestigd"}
    sim.run_until(sim.now() + 3600, stop=lambda: sim.politie.get(f"/meldingen/{kenmerk}")["status"] in settled)
    return sim.wait_for(kenmerk, *settled, timeout=WACHT)


def summary(*results: CheckResult) -> str:
    return "\n".join(r.summary() for r in results)


def verdict_of(r: CheckResult, name: str) -> Uitslag:
    return r.subtest(f"{r.agreement.lower()}.{name}").verdict


def test_the_echt_meldpunt_has_no_simulator(sim, echte_keten) -> None:
    assert ECHT not in sim.meldpunten
    assert set(sim.meldpunten) == {m.id for m in echte_keten.meldpunten if m.simulated}
    with pytest.raises(EchteDeelnemer, match="echte deelnemer"):
        sim.meldpunt(ECHT)
    with pytest.raises(EchteDeelnemer):
        sim.party(ECHT)


def test_the_real_meldpunt_is_looked_up_through_the_live_resolver(sim, echte_keten) -> None:
    """A hybrid keten splits look-ups: the real deelnemer's domain through the live Unbound
    (the stand-in root here, the real root in a real run), the simulated ones through the
    keten's own Unbound; the checks the features run use the same split."""
    from ketentest.checks.runner import LIVE_RESOLVER_IP
    from ketentest.dns import DnssecState, SplitResolver

    echt_domein = echte_keten.deelnemer(ECHT).domain.name
    assert sim.live is not None and sim.live.started and sim.live.preflight() == "", sim.live
    assert isinstance(sim.resolver, SplitResolver)
    assert sim.resolver.for_name(f"mx1.{echt_domein}").address == LIVE_RESOLVER_IP
    assert sim.resolver.for_name(echte_keten.politie.domain.name).address == echte_keten.dns.resolver_ip
    assert sim.resolver.for_name("x" + echt_domein).address == echte_keten.dns.resolver_ip  # label-wise
    answer = sim.live.resolver.lookup(echt_domein, "MX")
    assert answer.state is DnssecState.SECURE and answer.records, answer  # validated from the stand-in root
    assert sim.politie.get("/status") is not None  # the police process started with the split (env)


def test_keten_parties_leave_out_the_echt_deelnemer(echte_keten) -> None:
    """The process backend, the container backend and the compose file all start from this list."""
    names = [p.name for p in keten_parties(echte_keten, CONTAINER_PATHS)]
    assert ECHT not in names
    assert names == ["dns", "resolver", echte_keten.politie.id,
                     *(m.id for m in echte_keten.meldpunten if m.id != ECHT)]


def test_police_deliver_to_a_real_postfix_and_its_reply_is_judged(sim, echte_keten, pki, pool, verzendlog) -> None:
    keten = echte_keten
    melding = pool.voor(ECHT)
    with echt_meldpunt(keten, pki) as echt:
        state = verstuur(sim, melding)
        kenmerk = melding.kenmerk
        assert state["status"] in ("bezorgd", "bezorgd en bevestigd"), state
        # The reply: the back office composed it, OpenDKIM signed it, Postfix sent it over DANE.
        state = sim.wait_for(kenmerk, "bezorgd en bevestigd", timeout=WACHT)
        assert state["status"] == "bezorgd en bevestigd", state
        entry = sim.politie.get(f"/meldingen/{kenmerk}")
        uitgaand = echt.uitgaand(kenmerk, entry["confirmed_at"], timeout=WACHT)
        berichten = echt.berichten(kenmerk)
        toegang = keten.deelnemer(ECHT).echt.imap  # the keten's own IMAP access sees the same message
        assert [m.eml for m in haal_op(toegang, wachtwoord_uit(toegang))] == [b.eml for b in berichten]
        with pytest.raises(ImapFout, match="meer dan de grens van 1000"):
            haal_op(echt.imap, echt.wachtwoord, max_bytes=1000)  # sizes are bounded before fetching

    assert len(berichten) == 1, [b.sleutel for b in berichten]
    v = Verzending(melding, None, ECHT, entry, None, berichten, (uitgaand,), dataclasses.asdict(keten.aannames),
                   sim.now())
    now = dt.datetime.fromtimestamp(sim.now(), UTC)
    v02, v03, v07 = check_v02(v, keten, now=now), check_v03(v, keten, now=now), check_v07(v, keten, now=now)

    # V02: the police's own trace shows DANE-authenticated STARTTLS to the real Postfix.
    assert v02.verdict is G, v02.summary()
    host = next(h for a in entry["attempts"] for h in (a.get("trace") or {}).get("hosts") or []
                if h.get("outcome") == "delivered")
    assert host["ip"] == keten.deelnemer(ECHT).domain.mx[0].ip and host["dane"]["matched"], host
    # V03: the police's DKIM signature verifies, SPF and DMARC pass (aligned), stored in the inbox;
    # the Authentication-Results it judges is the one the real meldpunt (rspamd) wrote.
    assert v03.verdict is G, v03.summary()
    b = berichten[0]
    own = parse_message(b.eml).get_all("Authentication-Results")
    assert own and str(own[0]).split(";")[0].strip() == keten.deelnemer(ECHT).domain.mx[0].name, own
    # The harness's own verdict (ketentest.mail.auth) on the same message agrees.
    auth, *_ = authenticatie(b.eml, keten, keten.deelnemer(ECHT))
    assert auth.spf.passed and auth.dmarc.passed, auth.header
    assert any(r.passed and r.domain == keten.politie.domain.name for r in auth.dkim), auth.header
    assert b.client_ip == keten.politie.domain.senders[0].ip and b.tls_versie in ("TLSv1.3", "TLSv1.2"), b
    assert b.sleutel in str(host.get("reply")), host  # the real Postfix's 250 named the queue ID it stored
    # V07: matched to the kenmerk by the police, in time on the keten clock, over DANE.
    assert v07.verdict is G, v07.summary()
    assert verdict_of(v07, "veilige_route") is G, v07.summary()
    reply_host = uitgaand["attempts"][0]["trace"]["hosts"][0]
    assert reply_host["tls"]["version"] in ("TLSv1.3", "TLSv1.2"), uitgaand
    said = [c["text"] for c in reply_host["transcript"]]  # Postfix's own commands, as it logged them
    assert said[0].startswith("EHLO ") and said[1] == "STARTTLS" and said[2].startswith("EHLO ") \
        and said[3].startswith("MAIL FROM:<meldpunt@regiogv.test>"), said
    assert entry["bevestigingen"], entry  # the police counted the reply as genuine (its DKIM is OpenDKIM's)
    # The police's allowlist guard let the send through and counted it as a real send.
    tally = next(t for t in verzendlog.counter().tallies() if t.deelnemer == ECHT)
    assert tally.pogingen >= 1 and tally.bezorgd >= 1 and tally.geweigerd == 0, tally


def test_without_opendkim_the_unsigned_reply_fails_v07(sim, echte_keten, pki, pool) -> None:
    keten = echte_keten
    melding = pool.voor(ECHT)
    with echt_meldpunt(keten, pki, opendkim=False) as echt:
        state = verstuur(sim, melding)
        kenmerk = melding.kenmerk
        assert state["status"] == "bezorgd", state
        uitgaand = echt.uitgaand(kenmerk, None, timeout=WACHT)  # the reply left, unsigned
        assert uitgaand["status"] == "bezorgd", uitgaand
        # The police's MX took it and filed it in quarantine: not from the meldpunt (no aligned DKIM).
        sim.politie.get("/quarantaine/wacht", aantal="1", timeout=str(WACHT))
        quarantined = [q for q in sim.politie.get("/quarantaine") if kenmerk in q.get("kenmerken", [])]
        assert quarantined, sim.politie.get("/quarantaine")
        assert "geen geldige DKIM-handtekening van regiogv.test" in quarantined[0]["reden"], quarantined
        berichten = echt.berichten(kenmerk)
    entry = sim.politie.get(f"/meldingen/{kenmerk}")
    sim.run_until(entry["delivered_at"] + keten.aannames.bevestiging_minuten * 60 + 1)
    entry = sim.politie.get(f"/meldingen/{kenmerk}")
    assert entry["status"] == "bezorgd" and entry["confirmed_at"] is None, entry
    v = Verzending(melding, None, ECHT, entry, None, berichten, (uitgaand,), dataclasses.asdict(keten.aannames),
                   sim.now())
    now = dt.datetime.fromtimestamp(sim.now(), UTC)
    v02, v03, v07 = check_v02(v, keten, now=now), check_v03(v, keten, now=now), check_v07(v, keten, now=now)
    assert verdict_of(v07, "ontvangen") is F, v07.summary()
    assert v02.verdict is G and v03.verdict is G, summary(v02, v03)  # the melding itself went fine


def test_a_certificate_the_tlsa_does_not_describe_stops_the_police_and_fails_b06(sim, echte_keten, pki, pool) -> None:
    """The real Postfix presents a new key from another CA while the TLSA records still name the old ones
    (S04): the police find no secure route and send nothing (V02 holds: they refused),
    and B06 fails for the real meldpunt's domain."""
    keten = echte_keten
    domain = keten.deelnemer(ECHT).domain.name
    melding = pool.voor(ECHT)
    with echt_meldpunt(keten, pki, certificaat=CertVariant.REPLACED) as echt:
        b06 = check_dane(domain, sim.resolver)
        state = verstuur(sim, melding)
        berichten = haal_op(echt.imap, echt.wachtwoord)
    assert b06.verdict is F and b06.subtest("dane.overeenkomst").verdict is F, b06.summary()
    assert state["status"] != "bezorgd" and state["delivered_at"] is None, state
    assert not berichten, [b.uid for b in berichten]
    entry = sim.politie.get(f"/meldingen/{melding.kenmerk}")
    v = Verzending(melding, None, ECHT, entry, None, (), (), dataclasses.asdict(keten.aannames), sim.now())
    v02 = check_v02(v, keten, now=dt.datetime.fromtimestamp(sim.now(), UTC))
    assert verdict_of(v02, "geen_veilige_route") is G, v02.summary()
    assert "dane" in str(entry["attempts"][-1]["trace"].get("failed")).lower(), entry["attempts"][-1]


def test_imaps_with_the_keten_access_trusts_only_its_ca(sim, echte_keten, pki) -> None:
    """The keten's ``echt.imap`` (host name, address, CA file, password file) reads the
    real mailbox; without its CA the certificate is refused (the system's store does not
    know the keten's PKI), and a wrong password is a clear refusal."""
    toegang = echte_keten.deelnemer(ECHT).echt.imap
    with echt_meldpunt(echte_keten, pki):
        with pytest.raises(ImapFout, match="certificaat is niet te vertrouwen"):
            haal_op(dataclasses.replace(toegang, ca_bestand=None), wachtwoord_uit(toegang))
        assert haal_op(toegang, wachtwoord_uit(toegang)) == []  # nothing delivered yet: an empty inbox
        # Last: after a failed login Dovecot slows further logins from this address down.
        with pytest.raises(ImapFout, match="inloggen geweigerd"):
            haal_op(toegang, "fout-wachtwoord")


def test_nothing_outlives_a_killed_harness(sim, echte_keten) -> None:
    """SIGKILL the process that started the real meldpunt: rspamd, Dovecot and
    OpenDKIM get their parent-death signal, Postfix's wrapper sees its stdin close;
    all stop and the instance directory goes. (``sim``: the keten of this
    module runs, so no simulated meldpunt holds the real one's address.)"""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from simulators.wachten import StartupDeadline

    repo = Path(__file__).resolve().parents[1]
    mx = echte_keten.deelnemer(ECHT).domain.mx[0]
    code = (f"import sys; sys.path.insert(0, {str(repo)!r})\n"
            "from ketentest.config import load_keten\n"
            "from simulators.pki import Pki\n"
            "from simulators.referentie.meldpunt import EchtMeldpunt\n"
            "keten = load_keten('midden-nederland')\n"
            f"mp = EchtMeldpunt(keten, keten.deelnemer({ECHT!r}), Pki()).__enter__()\n"
            "print(mp.dir, *[p.pid for p in mp.procs.values()], flush=True)\n"
            "sys.stdin.read()\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().split()
        assert line, "het echte meldpunt kwam niet op in het kindproces"
        workdir, pids = Path(line[0]), [int(p) for p in line[1:]]
        assert workdir.is_dir() and len(pids) == 4  # rspamd, OpenDKIM, Dovecot, Postfix's wrapper
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

        def alive() -> list[str]:
            left = [f"proces {p}" for p in pids if Path(f"/proc/{p}").exists()
                    and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"]
            for port in (25, 993):
                with socket.socket() as s:
                    s.settimeout(1)
                    if s.connect_ex((mx.ip, port)) == 0:
                        left.append(f"poort {port}")
            return left + ([f"map {workdir}"] if workdir.exists() else [])

        deadline, pause = StartupDeadline(15.0), 0.01
        while alive() and deadline.left() > 0:
            time.sleep(pause)  # polling for processes to go: there is no event to wait on
            pause = min(pause * 2, 0.5)
        assert not alive(), f"na {deadline.describe()} draait nog: {alive()}"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_live_resolver_that_cannot_validate_the_real_meldpunt_stops_the_police(
        sim, internet_lab, echte_keten, pool, tmp_path, monkeypatch) -> None:
    """The control for the split: the live Unbound trusts a root key the stand-in root does not
    have, so the real meldpunt's domain is bogus through it, while the keten's own Unbound (which
    serves the same zone) still calls it secure. The police find no secure route and send nothing:
    they really look the real meldpunt up through the live resolver. Last in this module: it
    replaces the module's keten."""
    from ketentest.dns import DnssecState
    from simulators.keten import ROOT_HINTS_ENV, TRUST_ANCHOR_ENV
    from simulators.standin import write_stand_in
    from tests.test_live_standin import wrong_anchor

    internet_lab.stop()
    internet = internet_lab.start(echte_keten)
    files = write_stand_in(internet, tmp_path / "standin")
    monkeypatch.setenv(ROOT_HINTS_ENV, str(files.root_hints))
    monkeypatch.setenv(TRUST_ANCHOR_ENV, str(wrong_anchor(tmp_path / "ander.key")))
    broken = internet_lab.start_sim(echte_keten)
    domain = echte_keten.deelnemer(ECHT).domain.name
    assert internet.resolver.lookup(domain, "MX").state is DnssecState.SECURE  # the keten's own Unbound
    assert broken.resolver.lookup(domain, "MX").state is DnssecState.BOGUS  # the live one, as the police use it
    assert broken.live.preflight(), "de live resolver met het verkeerde anker zou de root niet moeten valideren"
    melding = pool.voor(ECHT)
    state = verstuur(broken, melding)
    assert state["status"] != "bezorgd" and state["delivered_at"] is None, state
    failed = str(broken.politie.get(f"/meldingen/{melding.kenmerk}")["attempts"][-1]["trace"])
    assert "bogus" in failed.lower() or "ongeldig" in failed.lower(), failed
