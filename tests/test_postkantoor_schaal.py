"""Issue 14, the postkantoor at scale: the queue keeps due entries in a heap
and writes outside its lock, yet every state is on disk when the call that
made it returns; messages are built in worker processes, with the same
content and the same content defects as in the postkantoor's own process."""

from __future__ import annotations

import threading
from dataclasses import asdict

import pytest

from ketentest.clock import KetenClock
from ketentest.mail import verify_all
from ketentest.mail.compose import read_kenmerk
from ketentest.pdfcheck import check_pdf
from ketentest.bijlagen import beoordeel
from ketentest.synth import generate_meldingen
from simulators.politie.postkantoor import Opmaak, Switches, build_message
from simulators.politie.queue import DeliveryQueue, Outcome, Status
from simulators.store import read_json


def test_many_concurrent_submitters_each_melding_delivered_once_and_on_disk(tmp_path):
    clock = KetenClock()
    calls: dict[str, int] = {}
    lock = threading.Lock()

    def deliver(message, entry):
        with lock:
            calls[entry.kenmerk] = calls.get(entry.kenmerk, 0) + 1
        return Outcome.DELIVERED, "250 ok", {"n": 1}

    q = DeliveryQueue(tmp_path / "wachtrij", clock, deliver, workers=4).start()
    try:
        def officer(i: int) -> None:
            for j in range(50):
                entry = q.submit(f"MN-{i}-{j:03d}", "ggd", "meldpunt@ggdru.test", b"bericht")
                # On disk before submit returned.
                assert read_json(tmp_path / "wachtrij" / f"{entry.kenmerk}.json")["kenmerk"] == entry.kenmerk
                assert (tmp_path / "wachtrij" / f"{entry.kenmerk}.eml").read_bytes() == b"bericht"

        threads = [threading.Thread(target=officer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert q.wait_for(lambda: all(e.status == Status.BEZORGD.value for e in q.all()), 30)
        assert q.wait_idle(10)
        for e in q.all():
            assert q.confirm(e.kenmerk, f"<{e.kenmerk}@mp>", "meldpunt@ggdru.test")
    finally:
        q.stop()
    assert len(calls) == 400 and set(calls.values()) == {1}
    # What is on disk is the final state of each entry, as asdict() gives it.
    again = DeliveryQueue(tmp_path / "wachtrij", clock, deliver)
    assert {e.kenmerk: asdict(e) for e in again.all()} == {e.kenmerk: asdict(e) for e in q.all()}
    assert {e.status for e in again.all()} == {Status.BEZORGD_EN_BEVESTIGD.value}


def test_due_entries_go_in_order_of_their_next_attempt(tmp_path):
    clock = KetenClock()
    order: list[str] = []
    q = DeliveryQueue(tmp_path / "wachtrij", clock, lambda m, e: order.append(e.kenmerk) or (Outcome.DELIVERED, "", {}),
                      workers=1)
    now = clock.timestamp()
    for i, delay in enumerate([300, 100, 200, 0]):
        q.submit(f"MN-{i}", "ggd", "x@y.test", b"m", not_before=now + delay)
    assert q.next_due() == pytest.approx(now, abs=1)
    clock.advance(400)
    while q.run_once():
        pass
    assert order == ["MN-3", "MN-1", "MN-2", "MN-0"]
    assert q.idle() and q.next_due() is None


@pytest.fixture(scope="module")
def melding(request):
    from ketentest.config import load_keten

    keten = load_keten()
    return keten, generate_meldingen(keten, 5, 1)[0]


def _build(keten, melding, pki, opmaak: Opmaak, **switches) -> bytes:
    politie, meldpunt = keten.politie, keten.meldpunten[0]
    keys = [pki.dkim_key(politie.domain.name, spec) for spec in politie.domain.dkim]
    return opmaak.build(melding, meldpunt.adres, politie.adres, politie.naam, KetenClock().now(),
                        Switches(**switches), keys)


def test_a_worker_process_builds_the_same_signed_message(melding, pki):
    keten, m = melding
    pool = Opmaak(workers=1)
    try:
        data = _build(keten, m, pki, pool)
        with_js = _build(keten, m, pki, pool, pdf_met_javascript=True)
    finally:
        pool.close()
    here = _build(keten, m, pki, Opmaak(workers=0))
    assert read_kenmerk(data) == read_kenmerk(here) == m.kenmerk
    parts = beoordeel(data)
    assert parts.ok and check_pdf(parts.pdf, keten).ok
    assert parts.pdf == beoordeel(here).pdf  # the same meldformulier, byte for byte
    assert not check_pdf(beoordeel(with_js).pdf, keten).ok  # a content defect passes through the pool too
    checks = verify_all(data, _keys_lookup(keten, pki))
    assert len(checks) == 2 and all(c.ok for c in checks), checks


def test_an_error_in_the_worker_reaches_the_caller(melding, pki):
    keten, m = melding
    pool = Opmaak(workers=1)
    try:
        with pytest.raises(TypeError):
            pool.build(m, "x@y.test")  # missing arguments: raised in the worker, re-raised here
    finally:
        pool.close()


def _keys_lookup(keten, pki):
    from ketentest.dns import DnsAnswer, DnssecState

    politie = keten.politie
    records = {f"{spec.selector}._domainkey.{politie.domain.name}": pki.dkim_key(politie.domain.name, spec)
               for spec in politie.domain.dkim}

    def lookup(name, rdtype):
        key = records[name.rstrip(".")]
        kind = "ed25519" if key.algorithm == "ed25519" else "rsa"
        text = f"v=DKIM1; k={kind}; p={key.public_key_b64}"
        chunks = " ".join(f'"{text[i:i + 255]}"' for i in range(0, len(text), 255))  # 255-octet strings
        return DnsAnswer(name, rdtype, "NOERROR", DnssecState.SECURE, (chunks,))

    return lookup
