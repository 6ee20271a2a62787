"""The postkantoor's queue on the keten clock: retries with back-off, exactly
one final state, officer notified, nothing lost across a restart.

Delivery itself is exercised for real in the end-to-end tests; here a
scripted deliver function plays the meldpunt, so each rule is shown alone.
"""

from __future__ import annotations

import pytest

from ketentest.clock import KetenClock
from simulators.politie.queue import BACKOFF, DeliveryQueue, Outcome, Status


class Script:
    """Answers the queue's attempts from a list of outcomes, then 'delivered'."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.delivered = 0

    def __call__(self, message: bytes, entry):
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else Outcome.DELIVERED
        if outcome is Outcome.DELIVERED:
            self.delivered += 1
        return outcome, {Outcome.TEMPORARY: "451 4.3.0 probeer later", Outcome.PERMANENT: "550 5.1.1 onbekend",
                         Outcome.NO_SECURE_ROUTE: "TLSA past niet", Outcome.DELIVERED: "250 ok"}[outcome], {}


@pytest.fixture
def clock():
    return KetenClock()


def make(tmp_path, clock, script, hours=24):
    return DeliveryQueue(tmp_path / "wachtrij", clock, script, retry_hours=hours).start()


def status(q, kenmerk):
    return Status(q.get(kenmerk).status)


def test_temporary_failures_are_retried_then_delivered_exactly_once(tmp_path, clock):
    script = Script(Outcome.TEMPORARY, Outcome.TEMPORARY, Outcome.TEMPORARY)
    q = make(tmp_path, clock, script)
    try:
        q.submit("MN-1", "ggd", "meldpunt@ggdru.test", b"bericht")
        for attempt in range(3):
            assert q.wait_for(lambda: len(q.get("MN-1").attempts) == attempt + 1, 10)
            assert status(q, "MN-1") is Status.OPNIEUW
            # Not retried before the back-off has passed on the keten clock.
            entry = q.get("MN-1")
            assert entry.next_attempt - entry.attempts[-1].at == pytest.approx(BACKOFF[attempt], abs=1)
            clock.advance(BACKOFF[attempt])
        assert q.wait_for(lambda: status(q, "MN-1") is Status.BEZORGD, 10)
        assert script.delivered == 1 and script.calls == 4
    finally:
        q.stop()


def test_permanent_failure_is_onbestelbaar_and_the_officer_is_told(tmp_path, clock):
    q = make(tmp_path, clock, Script(Outcome.PERMANENT))
    try:
        q.submit("MN-2", "ggd", "meldpunt@ggdru.test", b"x")
        assert q.wait_for(lambda: status(q, "MN-2") is Status.ONBESTELBAAR, 10)
        entry = q.get("MN-2")
        assert len(entry.attempts) == 1  # nothing retried forever
        assert entry.officer_notified_at is not None and "alternatieve route" in entry.officer_notice
        assert "550" in entry.reason
    finally:
        q.stop()


def test_no_secure_route_is_never_retried(tmp_path, clock):
    script = Script(Outcome.NO_SECURE_ROUTE)
    q = make(tmp_path, clock, script)
    try:
        q.submit("MN-3", "ggd", "meldpunt@ggdru.test", b"x")
        assert q.wait_for(lambda: status(q, "MN-3") is Status.ONBESTELBAAR, 10)
        clock.advance(48 * 3600)
        assert script.calls == 1 and "TLSA" in q.get("MN-3").reason
    finally:
        q.stop()


def test_retry_period_ends_in_onbestelbaar_after_24_hours(tmp_path, clock):
    script = Script(*[Outcome.TEMPORARY] * 1000)
    q = make(tmp_path, clock, script)
    try:
        q.submit("MN-4", "ggd", "meldpunt@ggdru.test", b"x")
        while not q.get("MN-4").attempts:
            assert q.wait_for(lambda: bool(q.get("MN-4").attempts), 10)
        start = q.get("MN-4").submitted
        while Status(q.get("MN-4").status) is not Status.ONBESTELBAAR:
            n = len(q.get("MN-4").attempts)
            clock.advance(2 * 3600)
            assert q.wait_for(lambda: len(q.get("MN-4").attempts) > n, 10)
        entry = q.get("MN-4")
        assert entry.attempts[-1].at - start >= 24 * 3600  # retried for at least 24 hours
        assert "herhaalperiode van 24 uur verstreken" in entry.reason and entry.officer_notified_at
    finally:
        q.stop()


def test_a_resent_kenmerk_is_one_melding(tmp_path, clock):
    script = Script()
    q = make(tmp_path, clock, script)
    try:
        q.submit("MN-5", "ggd", "meldpunt@ggdru.test", b"x")
        q.submit("MN-5", "ggd", "meldpunt@ggdru.test", b"x")
        assert q.wait_for(lambda: status(q, "MN-5") is Status.BEZORGD, 10)
        assert len(q.all()) == 1 and script.delivered == 1
    finally:
        q.stop()


def test_confirmation_makes_the_final_state(tmp_path, clock):
    q = make(tmp_path, clock, Script())
    try:
        assert not q.confirm("MN-6")  # unknown kenmerk
        q.submit("MN-6", "ggd", "meldpunt@ggdru.test", b"x")
        assert q.wait_for(lambda: status(q, "MN-6") is Status.BEZORGD, 10)
        assert q.confirm("MN-6") and status(q, "MN-6") is Status.BEZORGD_EN_BEVESTIGD
        assert status(q, "MN-6").final
    finally:
        q.stop()


def test_a_receipt_counts_at_the_moment_our_mx_accepted_it(tmp_path, clock):
    """The application handles a receipt beside the 250; on a busy machine the
    harness may move the keten clock on before that. The confirmation time is
    the MX's acceptance time, so V07 does not see a 1-minute reply as late."""
    q = make(tmp_path, clock, Script())
    try:
        q.submit("MN-7", "ggd", "meldpunt@ggdru.test", b"x")
        assert q.wait_for(lambda: status(q, "MN-7") is Status.BEZORGD, 10)
        accepted = clock.timestamp() + 60
        clock.advance(15 * 60)  # the harness jumped before the callback ran
        assert q.confirm("MN-7", "<b@ggdru.test>", "meldpunt@ggdru.test", at=accepted)
        assert q.terugkoppeling("MN-7", "in behandeling", at=accepted + 1)
        entry = q.get("MN-7")
        assert entry.confirmed_at == accepted and entry.bevestigingen[0]["at"] == accepted
        assert entry.terugkoppelingen[0]["at"] == accepted + 1
    finally:
        q.stop()


def test_queue_survives_a_restart(tmp_path, clock):
    q = make(tmp_path, clock, Script(*[Outcome.TEMPORARY] * 5))
    q.submit("MN-7", "ggd", "meldpunt@ggdru.test", b"bewaard")
    assert q.wait_for(lambda: len(q.get("MN-7").attempts) == 1, 10)
    q.stop()
    script = Script()
    q2 = DeliveryQueue(tmp_path / "wachtrij", clock, script).start()
    try:
        assert q2.message("MN-7") == b"bewaard"
        clock.advance(BACKOFF[0])
        assert q2.wait_for(lambda: status(q2, "MN-7") is Status.BEZORGD, 10)
        assert len(q2.get("MN-7").attempts) == 2 and script.delivered == 1
    finally:
        q2.stop()


def test_a_confirmation_that_overtakes_the_bookkeeping_is_kept(tmp_path, clock):
    q = None

    def deliver_and_confirm_at_once(message, entry):
        assert q.confirm(entry.kenmerk)  # the meldpunt answered before we recorded the 250
        return Outcome.DELIVERED, "250 ok", {}

    q = make(tmp_path, clock, deliver_and_confirm_at_once)
    try:
        q.submit("MN-8", "ggd", "meldpunt@ggdru.test", b"x")
        assert q.wait_for(lambda: status(q, "MN-8") is Status.BEZORGD_EN_BEVESTIGD, 10)
    finally:
        q.stop()


def test_many_meldingen_each_end_in_one_final_state(tmp_path, clock):
    import random

    rng = random.Random(7)
    outcomes = {}

    def flaky(message, entry):
        outcome = rng.choice([Outcome.DELIVERED, Outcome.TEMPORARY, Outcome.TEMPORARY, Outcome.PERMANENT])
        outcomes.setdefault(entry.kenmerk, []).append(outcome)
        return outcome, outcome.value, {}

    q = make(tmp_path, clock, flaky)
    try:
        for i in range(200):
            q.submit(f"MN-{i:03d}", "ggd", "meldpunt@ggdru.test", b"x")
        while not all(Status(e.status) in (Status.BEZORGD, Status.ONBESTELBAAR) for e in q.all()):
            assert q.wait_idle(10)
            clock.advance(3600)
        for kenmerk, seen in outcomes.items():
            assert seen.count(Outcome.DELIVERED) <= 1 and seen.count(Outcome.PERMANENT) <= 1
            final = Status(q.get(kenmerk).status)
            assert (final is Status.BEZORGD) == (Outcome.DELIVERED in seen)
        assert len(outcomes) == 200
    finally:
        q.stop()
