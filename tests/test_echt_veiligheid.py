"""Safety rails for real deelnemers (issue 15, ketentest.echt): the allowlist,
the rate limit, the counter, the test markers, and the choke point
ketentest.delivery.deliver, where a refused send reaches neither DNS nor a
mail server (a real SMTP sink that counts connections shows it)."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest
import yaml

from ketentest import echt
from ketentest.config import parse_keten
from ketentest.delivery import Outcome, deliver
from ketentest.dns import DnsAnswer, DnssecState
from ketentest.echt import (Guard, RateLimiter, RecipientNotAllowed, SendCounter, TooManySends, check_recipient,
                            use_keten)
from ketentest.errors import KetentestError
from ketentest.mail.compose import (TEST_HEADER, TEST_SUBJECT_PREFIX, compose_melding, compose_ontvangstbevestiging,
                                    compose_terugkoppeling, is_test_message, read_kenmerk)
from tests.test_echt_keten import ECHT_ADRES, ECHT_DOMEIN, echt_data

KENMERK = "MN-2026-000123"
PDF = b"%PDF-1.7\n% test\n%%EOF\n"


@pytest.fixture(autouse=True)
def no_shared_files(monkeypatch):
    """A test sets the shared files itself (ketentest run may have set them in this process)."""
    monkeypatch.delenv(echt.LEDGER_ENV, raising=False)
    monkeypatch.delenv(echt.VERWACHTINGEN_ENV, raising=False)


@pytest.fixture
def keten():
    data = echt_data(toegestane_adressen=[ECHT_ADRES, f"test@{ECHT_DOMEIN}"], max_per_uur=3)
    return parse_keten(yaml.safe_dump(data), "hybride.yaml")


@pytest.fixture
def gv(keten):
    return keten.deelnemer("meldpunt-gooi-vechtstreek")


# --- the allowlist -------------------------------------------------------------------------


def test_listed_real_addresses_and_simulated_addresses_are_allowed(keten, gv):
    assert check_recipient(keten, ECHT_ADRES) == gv
    assert check_recipient(keten, ECHT_ADRES.upper()) == gv
    assert check_recipient(keten, f"test@{ECHT_DOMEIN}") == gv
    assert check_recipient(keten, "meldpunt@ggdru.test") is None  # simulated
    assert check_recipient(None, "meldpunt@ggdru.test") is None


@pytest.mark.parametrize("address", [f"directeur@{ECHT_DOMEIN}", f"zorgmeldingen@post.{ECHT_DOMEIN}"])
def test_an_unlisted_address_of_a_real_deelnemer_is_refused_with_a_clear_message(keten, address):
    with pytest.raises(RecipientNotAllowed) as err:
        check_recipient(keten, address)
    e = err.value
    assert isinstance(e, KetentestError) and e.address == address and e.deelnemer.id == "meldpunt-gooi-vechtstreek"
    assert (f"mail naar {address} geweigerd: dat adres staat niet op de toegestane lijst van de echte deelnemer "
            "Meldpunt Zorg en Overlast Gooi en Vechtstreek (meldpunt-gooi-vechtstreek); er is niets verstuurd") == e.message
    assert ECHT_ADRES in e.hint and "echt.toegestane_adressen" in e.hint and "hybride.yaml" in e.hint
    assert "Wat te doen:" in str(e)


@pytest.mark.parametrize("keten_or_none", ["keten", None])
def test_a_real_address_no_allowlist_names_is_refused(keten, keten_or_none):
    k = keten if keten_or_none else None
    with pytest.raises(RecipientNotAllowed) as err:
        check_recipient(k, "iemand@gmail.com")
    assert "iemand@gmail.com geweigerd: dat is een echt adres" in err.value.message
    assert err.value.deelnemer is None and err.value.hint


def test_a_malformed_address_is_refused():
    with pytest.raises(RecipientNotAllowed):
        check_recipient(None, "geen-adres")


# --- the rate limit and the counter -------------------------------------------------------


class FakeClock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_the_rate_limit_refuses_at_once_and_frees_after_an_hour(gv):
    clock = FakeClock()
    limiter = RateLimiter(clock)
    for _ in range(3):
        limiter.take(gv)
        clock.t += 60
    with pytest.raises(TooManySends) as err:  # no wait: the refusal comes at once
        limiter.take(gv)
    e = err.value
    assert e.count == 3 and e.retry_at == 1_800_000_000.0 + 3600
    assert e.message.startswith("te veel echte verzendingen naar Meldpunt Zorg en Overlast Gooi en Vechtstreek")
    assert "de grens is 3 per uur (max_per_uur); er is niets verstuurd" in e.message and "max_per_uur" in e.hint
    assert limiter.used(gv) == 3
    clock.t = 1_800_000_000.0 + 3600  # the first send is an hour old: one slot free
    limiter.take(gv)
    with pytest.raises(TooManySends):
        limiter.take(gv)


def test_the_guard_counts_sends_refusals_and_rate_limits(keten, gv):
    guard = Guard(keten, clock=FakeClock())
    for _ in range(3):
        assert guard.admit(ECHT_ADRES) == gv
        guard.sent(gv, delivered=True)
    with pytest.raises(TooManySends):
        guard.admit(ECHT_ADRES)
    with pytest.raises(RecipientNotAllowed):
        guard.admit(f"directeur@{ECHT_DOMEIN}")
    assert guard.admit("meldpunt@ggdru.test") is None  # simulated: not counted
    [tally] = guard.counter.tallies()
    assert tally.as_dict() == {"deelnemer": "meldpunt-gooi-vechtstreek", "naam": gv.naam, "pogingen": 3,
                               "bezorgd": 3, "geweigerd": 1, "te_veel": 1}
    assert guard.counter.total() == 3
    assert "meldpunt-gooi-vechtstreek  3" in guard.counter.table()
    assert SendCounter().table() == "Geen echte verzendingen."


# --- the choke point: ketentest.delivery.deliver ------------------------------------------


class CountingSink:
    """A TCP server on 127.0.0.1 that counts connections and answers like a
    mail server that refuses service (so the client gives up at once)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.sendall(b"554 5.3.2 geen dienst\r\n")

    def close(self) -> None:
        self._stop.set()
        self.thread.join()
        self.sock.close()


class SecureResolver:
    """Answers every look-up as DNSSEC-secure and points the MX at the sink."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        self.asked.append((name, rdtype))
        records = {"MX": (f"10 mx1.{ECHT_DOMEIN}.",), "A": ("127.0.0.1",), "TLSA": ("3 1 1 " + "ab" * 32,)}
        return DnsAnswer(name, rdtype, "NOERROR", DnssecState.SECURE, records.get(rdtype, ()))


@pytest.fixture
def sink():
    s = CountingSink()
    yield s
    s.close()


def _send(rcpt: str, sink: CountingSink, resolver: SecureResolver, **kwargs):
    return deliver(PDF, "postkantoor@politie.test", rcpt, resolver=resolver, source_ip="127.0.0.1",
                   helo="postkantoor.politie.test", port=sink.port, timeout=5, **kwargs)


def test_deliver_refuses_an_unlisted_real_address_before_any_dns_or_connection(keten, sink):
    """The control first: a listed address does reach the (refusing) server."""
    resolver = SecureResolver()
    guard = Guard(keten, clock=FakeClock())
    allowed = _send(ECHT_ADRES, sink, resolver, guard=guard)
    assert sink.connections == 1 and resolver.asked, allowed.describe()
    assert allowed.outcome is Outcome.PERMANENT and allowed.hosts  # it got as far as the server's 554

    resolver.asked.clear()
    refused = _send(f"directeur@{ECHT_DOMEIN}", sink, resolver, guard=guard)
    assert refused.outcome is Outcome.PERMANENT and not refused.hosts and refused.mx is None
    assert refused.reason.startswith(f"mail naar directeur@{ECHT_DOMEIN} geweigerd")
    assert "toegestane lijst van de echte deelnemer" in refused.reason and "Wat te doen:" in refused.reason
    assert resolver.asked == [] and sink.connections == 1  # nothing looked up, nothing sent
    assert "\n" not in refused.reason and "geweigerd" in refused.describe()


def test_deliver_refuses_a_real_address_when_the_process_knows_no_keten(sink, monkeypatch):
    monkeypatch.setattr(echt, "_default", None)
    monkeypatch.setattr(echt, "_loaded", {})
    resolver = SecureResolver()
    attempt = _send("iemand@gmail.com", sink, resolver)  # the process's default guard, no keten
    assert attempt.outcome is Outcome.PERMANENT and "geen keten met een toegestane lijst" in attempt.reason
    assert resolver.asked == [] and sink.connections == 0


def test_use_keten_gives_the_default_guard_its_allowlists(keten, sink, monkeypatch):
    monkeypatch.setattr(echt, "_default", None)
    use_keten(keten)
    resolver = SecureResolver()
    assert _send(f"directeur@{ECHT_DOMEIN}", sink, resolver).outcome is Outcome.PERMANENT
    assert sink.connections == 0
    _send(ECHT_ADRES, sink, resolver)
    assert sink.connections == 1
    assert echt.default_guard().counter.total() == 1


def test_a_process_that_loaded_a_keten_with_a_real_deelnemer_is_guarded_by_it(sink, monkeypatch):
    """A party process loads its keten file and calls deliver() without a keten:
    the allowlists of that file still hold (ketentest.config remembers them)."""
    monkeypatch.setattr(echt, "_default", None)
    monkeypatch.setattr(echt, "_loaded", {})
    resolver = SecureResolver()
    assert "geen keten" in _send(ECHT_ADRES, sink, resolver).reason  # nothing loaded yet: refused
    parse_keten(yaml.safe_dump(echt_data()), "partij.yaml")
    refused = _send(f"directeur@{ECHT_DOMEIN}", sink, resolver)
    assert refused.outcome is Outcome.PERMANENT and "toegestane lijst van de echte deelnemer" in refused.reason
    assert sink.connections == 0
    _send(ECHT_ADRES, sink, resolver)
    assert sink.connections == 1
    assert "geen echte deelnemer van keten midden-nederland" in _send("iemand@gmail.com", sink, resolver).reason
    assert sink.connections == 1


def test_several_loaded_ketens_refuse_what_any_of_them_refuses(keten):
    other = echt_data(toegestane_adressen=[ECHT_ADRES])  # lists only the main address
    lenient = keten  # lists test@ too
    strict = parse_keten(yaml.safe_dump(other), "streng.yaml")
    assert echt.check_recipient_in([lenient, strict], ECHT_ADRES).id == "meldpunt-gooi-vechtstreek"
    with pytest.raises(RecipientNotAllowed) as err:
        echt.check_recipient_in([lenient, strict], f"test@{ECHT_DOMEIN}")
    assert "streng.yaml" in err.value.hint
    assert echt.check_recipient_in([lenient, strict], "meldpunt@ggdru.test") is None
    with pytest.raises(RecipientNotAllowed):
        echt.check_recipient_in([], "iemand@gmail.com")


def test_deliver_over_the_rate_limit_is_temporary_and_sends_nothing(keten, sink):
    resolver = SecureResolver()
    guard = Guard(keten, clock=FakeClock())
    for _ in range(3):
        _send(ECHT_ADRES, sink, resolver, guard=guard)
    assert sink.connections == 3
    attempt = _send(ECHT_ADRES, sink, resolver, guard=guard)
    assert attempt.outcome is Outcome.TEMPORARY and attempt.reason.startswith("te veel echte verzendingen")
    assert sink.connections == 3
    assert guard.counter.tallies()[0].te_veel == 1


def test_a_simulated_recipient_passes_the_guard_untouched(keten, sink):
    resolver = SecureResolver()
    guard = Guard(keten, clock=FakeClock())
    _send("meldpunt@ggdru.test", sink, resolver, guard=guard)
    assert sink.connections == 1 and guard.counter.tallies() == []


def test_a_delivered_melding_to_a_real_meldpunt_records_its_expectations(keten, gv, tmp_path):
    from ketentest import verwachtingen

    path = tmp_path / "verwachtingen.jsonl"
    clock = FakeClock()
    guard = Guard(keten, clock=clock, verwachtingen=path)
    melding = compose_melding(KENMERK, PDF, sender="postkantoor@politie.test", recipient=ECHT_ADRES).data
    guard.sent(gv, delivered=True, message=melding)
    receipt = compose_ontvangstbevestiging(KENMERK, sender="postkantoor@politie.test", recipient=ECHT_ADRES).data
    guard.sent(gv, delivered=True, message=receipt)  # not a melding: nothing expected back
    guard.sent(gv, delivered=False, message=melding)  # not delivered: nothing expected
    found = verwachtingen.load(path)
    assert [(v.kenmerk, v.deelnemer, v.soort.value) for v in found] == [
        (KENMERK, gv.id, "ontvangstbevestiging"), (KENMERK, gv.id, "terugkoppeling")]
    sent = dt.datetime.fromtimestamp(clock.t, dt.timezone.utc)
    assert found[0].verzonden == sent and found[0].deadline == sent + dt.timedelta(minutes=15)


# --- the markers and the synthetic data ----------------------------------------------------


def test_every_composed_message_carries_both_test_markers_and_keeps_its_kenmerk():
    for composed in (compose_melding(KENMERK, PDF, sender="a@politie.test", recipient=ECHT_ADRES),
                     compose_ontvangstbevestiging(KENMERK, sender=ECHT_ADRES, recipient="a@politie.test"),
                     compose_terugkoppeling(KENMERK, "doorgezet", sender=ECHT_ADRES, recipient="a@politie.test")):
        msg = composed.parsed()
        assert msg[TEST_HEADER] == "testmelding" and msg["Subject"].startswith(f"{TEST_SUBJECT_PREFIX} ")
        assert is_test_message(composed.data) and read_kenmerk(composed.data) == KENMERK
        assert "testbericht van de ketentest" in msg.get_body(("plain",)).get_content()
    melding = compose_melding(KENMERK, PDF, sender="a@politie.test", recipient=ECHT_ADRES).data
    without_header = melding.replace(b"X-Kenmerk: ", b"X-Oud: ")
    assert read_kenmerk(without_header) == KENMERK  # the subject's last word is still the kenmerk
    assert not is_test_message(melding.replace(b"X-Ketentest: testmelding", b"X-Ander: x"))
    assert not is_test_message(melding.replace(b"Subject: [TEST] ", b"Subject: "))


def test_synthetic_meldingen_use_test_bsns_and_their_pdf_carries_the_marker():
    from ketentest.config import load_keten
    from ketentest.meldformulier import is_test_pdf, parse, render
    from ketentest.synth import generate_meldingen, is_test_bsn

    meldingen = generate_meldingen(load_keten(), seed=15, n=3)
    assert all(is_test_bsn(m.persoon.bsn) for m in meldingen)
    pdf = render(meldingen[0])
    assert is_test_pdf(pdf) and parse(pdf) == meldingen[0]
    assert not is_test_pdf(b"%PDF-1.7\n%%EOF\n") and not is_test_pdf(pdf.replace(b"TESTMELDING", b"ANDERS_XYZ"))


# --- the shared ledger: one rate limit and one count for every process of a run -----------------


def test_the_ledger_makes_the_rate_limit_hold_across_processes(keten, gv, tmp_path):
    """Another process (a real one) sends twice; this process may send once
    more (max_per_uur 3), and the ledger counts all of it."""
    import subprocess
    import sys
    import time

    from ketentest.echt import Ledger

    ledger = tmp_path / "echte-verzendingen.jsonl"
    keten_file = tmp_path / "hybride.yaml"
    keten_file.write_text(yaml.safe_dump(echt_data(toegestane_adressen=[ECHT_ADRES], max_per_uur=3)))
    code = ("import sys; from ketentest.config import load_keten; from ketentest.echt import Guard, Ledger; "
            "k = load_keten(sys.argv[1]); g = Guard(k, ledger=Ledger(sys.argv[2])); "
            "[g.admit(sys.argv[3]) for _ in range(2)]")
    subprocess.run([sys.executable, "-c", code, str(keten_file), str(ledger), ECHT_ADRES], check=True, timeout=120)
    guard = Guard(keten, ledger=Ledger(ledger))
    assert guard.admit(ECHT_ADRES) == gv
    with pytest.raises(TooManySends) as err:
        guard.admit(ECHT_ADRES)
    assert err.value.count == 3
    with pytest.raises(RecipientNotAllowed):
        guard.admit(f"directeur@{ECHT_DOMEIN}")
    [tally] = Ledger(ledger).counter().tallies()
    assert (tally.pogingen, tally.te_veel, tally.geweigerd) == (3, 1, 1)
    assert guard.counter.tallies()[0].pogingen == 1  # this process's own share
    assert Ledger(ledger).counter(since=time.time() + 60).tallies() == []
    # a line cut off by a crash is skipped, the rest still counts
    with ledger.open("a") as f:
        f.write('{"t": 1, "wat": "pog')
    assert Ledger(ledger).counter().total() == 3


def test_the_guard_takes_the_ledger_from_the_environment(keten, tmp_path, monkeypatch):
    from ketentest.echt import LEDGER_ENV, Ledger

    monkeypatch.setenv(LEDGER_ENV, str(tmp_path / "log.jsonl"))
    guard = Guard(keten, clock=FakeClock())
    guard.admit(ECHT_ADRES)
    guard.sent(guard.admit(ECHT_ADRES), delivered=True)
    assert Ledger(tmp_path / "log.jsonl").counter().tallies()[0].as_dict() == {
        "deelnemer": "meldpunt-gooi-vechtstreek", "naam": "Meldpunt Zorg en Overlast Gooi en Vechtstreek",
        "pogingen": 2, "bezorgd": 1, "geweigerd": 0, "te_veel": 0}



def test_a_loaded_keten_does_not_rate_limit_a_real_server_under_a_reserved_tld(monkeypatch):
    """A keten merely loaded in this process (another test's, say) with a real
    meldpunt on .test (a server on this machine): its allowlist holds, the sends
    are counted, but not limited, so unrelated tests can send to it freely.
    Given explicitly, the same keten does limit."""
    monkeypatch.setattr(echt, "_loaded", {})
    data = yaml.safe_load(yaml.safe_dump(echt_data()))
    flevo = data["meldpunten"][1]
    flevo["echt"] = {"toegestane_adressen": [flevo["adres"]], "max_per_uur": 1}
    local = parse_keten(yaml.safe_dump(data), "lokaal.yaml")
    guard = Guard(clock=FakeClock())
    for _ in range(3):
        assert guard.admit(flevo["adres"]).id == "ggd-flevoland"
    assert guard.counter.tallies()[0].pogingen == 3
    with pytest.raises(RecipientNotAllowed):
        guard.admit("directeur@ggdflevoland.test")
    with pytest.raises(TooManySends):  # the real domain of the same keten stays limited (max 20 there)
        for _ in range(21):
            guard.admit(ECHT_ADRES)
    explicit = Guard(local, clock=FakeClock())
    explicit.admit(flevo["adres"])
    with pytest.raises(TooManySends):
        explicit.admit(flevo["adres"])
